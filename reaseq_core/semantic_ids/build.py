"""`reaseq sid build`: train the RQ-VAE on item vectors, extract SIDs, compare with residual k-means.

Artifacts (semantic_ids/):
- sids.parquet      item_id, sid_1..sid_L (0-based codes), sid ("a-b-c"), collision_suffix
- sid_report.json   {"rqvae": report, "residual_kmeans": report, "config", "training": loss curves,
                     "vectors": "title"|"knowledge", "coverage"} with per-level usage / perplexity, unique
                     share of full SIDs, largest bucket and reconstruction error (mean squared L2 in the
                     item-vector space) for both tokenizers
- rqvae.pt          the trained tokenizer (state dict + config)
- knowledge_*       the same three from knowledge vectors (`--vectors knowledge`), beside the title ones
- sid_table.json    result table: both tokenizers x the vector sources built so far (Results page)
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..results import ResultTable, write_table
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
               prefix: str | None = None) -> dict:
    """Train, extract, report. SIDs from knowledge vectors are written as knowledge_* beside the title
    ones (the ranker keeps reading sids.parquet); `prefix` ("small_") keeps smoke runs apart from both."""
    if prefix is None:
        prefix = "knowledge_" if vectors == "knowledge" else ""
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
        if prefix in ("", "knowledge_"):
            write_sid_table(dataset_name, store)
    return {"sids": sids, "report": report, "model": model}


SOURCES = {"title": "sid_report.json", "knowledge": "knowledge_sid_report.json"}


def sid_table(dataset_name: str, store: ArtifactStore) -> ResultTable | None:
    """Both tokenizers x every vector source whose report exists, as one result table."""
    reports = {src: store.read_json(dataset_name, "semantic_ids", name)
               for src, name in SOURCES.items() if store.exists(dataset_name, "semantic_ids", name)}
    if not reports:
        return None
    rows, levels = [], 0
    for src, rep in reports.items():
        for method, label in (("rqvae", "RQ-VAE"), ("residual_kmeans", "residual k-means (no training)")):
            r = rep[method]
            row = {"vectors": src, "tokenizer": label, "items": r["n_items"],
                   "items_with_knowledge": rep["coverage"]["knowledge"], "unique_share": r["unique_share"],
                   "largest_bucket": r["largest_bucket"], "recon_mse": r["recon_mse"]}
            for lv in r["levels"]:
                row[f"L{lv['level']}_usage"] = lv["usage"]
                row[f"L{lv['level']}_perplexity"] = lv["perplexity"]
            levels = max(levels, len(r["levels"]))
            rows.append(row)
    cfg = next(iter(reports.values()))["config"]
    card = store.read_json(dataset_name, "data", "dataset_card.json") if store.exists(
        dataset_name, "data", "dataset_card.json") else {}
    cols = ["vectors", "tokenizer", "items", "items_with_knowledge", "unique_share", "largest_bucket", "recon_mse"]
    cols += [f"L{i}_{m}" for i in range(1, levels + 1) for m in ("usage", "perplexity")]
    deviations = [f"codebooks {cfg['levels']} x {cfg['codebook_size']}, latent {cfg['latent_dim']}, "
                  f"beta {cfg['beta']}, {cfg['epochs']} epochs on one CPU thread (the paper does not state its sizes)",
                  "item vectors h are title vectors Phi(title + brand + category) for every item; the "
                  "'knowledge' rows tokenise the same catalogue with MAKR vectors substituted where an item has "
                  "knowledge (items_with_knowledge); every other item keeps its title vector"]
    notes = "; ".join(f"{src}: {rep['coverage']['knowledge']} of {rep['rqvae']['n_items']} items from knowledge vectors"
                      for src, rep in reports.items())
    return ResultTable(
        name="sid_table", title="Semantic IDs (appendix C): RQ-VAE vs residual k-means",
        dataset=dataset_name, dataset_hash=card.get("content_hash", ""),
        split="all items (the tokenizer is unsupervised; no held-out split)",
        protocol="every catalogue item tokenised; usage = share of codes used per level, perplexity = exp(entropy) "
                 "of the code distribution per level, unique share = items whose full SID is unique before the "
                 "collision suffix, largest bucket = most items sharing one full SID, recon_mse = mean ||h - h~||^2",
        seeds=[int(cfg["seed"])], deviations=deviations, columns=cols, rows=rows, notes=notes)


def write_sid_table(dataset_name: str, store: ArtifactStore) -> ResultTable | None:
    table = sid_table(dataset_name, store)
    if table is not None:
        write_table(store, "semantic_ids", table)
    return table
