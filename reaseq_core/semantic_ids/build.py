"""`reaseq sid build`: train the RQ-VAE on item vectors, extract SIDs, compare with residual k-means.

Artifacts (semantic_ids/):
- sids.parquet      item_id, sid_1..sid_L (0-based codes), sid ("a-b-c"), collision_suffix
- sid_report.json   {"rqvae": report, "residual_kmeans": report, "config", "training": loss curves,
                     "vectors": "title"|"knowledge", "coverage"} with per-level usage / perplexity, unique
                     share of full SIDs, largest bucket and reconstruction error (mean squared L2 in the
                     item-vector space) for both tokenizers
- rqvae.pt          the trained tokenizer (state dict + config)
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..store import ArtifactStore
from .extraction import assign_sids, sid_report
from .residual_kmeans import residual_kmeans
from .rqvae import RQVAEConfig, train_rqvae


def load_item_vectors(dataset_name: str, store: ArtifactStore, vectors: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(item_ids, vectors, coverage) for 'title' (every item) or 'knowledge' (items with knowledge; the
    rest keep their title vector so every item still gets a SID -- coverage says how many are which)."""
    from ..representation.title_vectors import load_title_vectors
    ids, title = load_title_vectors(dataset_name, store)
    if vectors == "title":
        return ids, title, {"title": int(len(ids)), "knowledge": 0}
    if vectors != "knowledge":
        raise ValueError(f"vectors must be 'title' or 'knowledge', not {vectors!r}")
    z = store.read_numpy(dataset_name, "representation", "knowledge_vectors.npz")
    kv = z["vectors"].astype(np.float32)
    kv /= np.clip(np.linalg.norm(kv, axis=1, keepdims=True), 1e-12, None)
    pos = {iid: i for i, iid in enumerate(ids.astype(str))}
    out = title.copy()
    n = 0
    for iid, v in zip(z["item_ids"].astype(str), kv):
        if iid in pos:
            out[pos[iid]] = v
            n += 1
    return ids, out, {"title": int(len(ids) - n), "knowledge": n}


def build_sids(dataset_name: str = "beauty", store: ArtifactStore | None = None, *, vectors: str = "title",
               cfg: RQVAEConfig | None = None, show_progress: bool = True, write: bool = True,
               prefix: str = "") -> dict:
    """Train, extract, report; `prefix` ("small_") keeps smoke runs from overwriting the full artifacts."""
    store = store or ArtifactStore()
    cfg = cfg or RQVAEConfig()
    t0 = time.perf_counter()
    ids, vecs, coverage = load_item_vectors(dataset_name, store, vectors)
    model, hist = train_rqvae(vecs, cfg, show_progress=show_progress)
    codes, recon = model.encode_ids(torch.as_tensor(vecs))
    err = ((vecs - recon) ** 2).sum(1)
    sids = assign_sids(ids, codes, err, cfg.codebook_size)
    rq = sid_report(codes, cfg.codebook_size, float(err.mean()), sids)
    rq["train_wall_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    km_codes, km_recon, _ = residual_kmeans(vecs, cfg.levels, cfg.codebook_size, seed=cfg.seed)
    km_err = ((vecs - km_recon) ** 2).sum(1)
    km = sid_report(km_codes, cfg.codebook_size, float(km_err.mean()),
                    assign_sids(ids, km_codes, km_err, cfg.codebook_size))
    km["wall_s"] = time.perf_counter() - t1
    report = {"vectors": vectors, "coverage": coverage, "config": cfg.as_dict(), "rqvae": rq,
              "residual_kmeans": km, "vector_mean_sq_norm": float((vecs ** 2).sum(1).mean()),
              "training": {"loss": hist["loss"], "recon": hist["recon"], "commit": hist["commit"],
                           "dead_code_restarts": hist["restarts"]},
              "notes": "reconstruction error = mean over items of ||h - h_tilde||^2 in the item-vector space "
                       "(RQ-VAE: through the decoder; residual k-means: sum of the chosen centroids)"}
    if write:
        prov = {"vectors": vectors, "method": "rqvae", "config": cfg.as_dict(), "seeds": [cfg.seed]}
        store.write_parquet(dataset_name, "semantic_ids", f"{prefix}sids.parquet", sids, prov)
        store.write_json(dataset_name, "semantic_ids", f"{prefix}sid_report.json", report, prov)
        store.write_torch(dataset_name, "semantic_ids", f"{prefix}rqvae.pt",
                          {"state_dict": model.state_dict(), "config": cfg.as_dict()}, prov)
    return {"sids": sids, "report": report, "model": model}
