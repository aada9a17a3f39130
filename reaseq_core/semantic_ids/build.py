"""`reaseq sid build`: train the RQ-VAE on item vectors, extract SIDs, compare with residual k-means.

Artifacts (catalogue entries of the semantic_ids stage), per vector source:
- title vectors:     `sids`, `sid_report`, `rqvae`
- knowledge vectors: `knowledge_sids`, `knowledge_sid_report`, `knowledge_rqvae` (beside the title ones: the
                     ranker keeps reading `sids`)
  sids: item_id, sid_1..sid_L (0-based codes), sid ("a-b-c"), collision_suffix
  report: {"rqvae": report, "residual_kmeans": report, "config", "training": loss curves, "vectors",
           "coverage"} with per-level usage / perplexity, unique share of full SIDs, largest bucket and
           reconstruction error (mean squared L2 in the item-vector space) for both tokenizers
  rqvae: the trained tokenizer (state dict + config)
- `sid_table`: result table, both tokenizers x the vector sources built so far (Results page)

Item vectors come from `item_space.load_item_space` (knowledge: items without knowledge keep their title
vector, and the report's coverage says how many are which). A small run (`run=cat.SMALL_RUN`) writes every
one of these under the run, beside the full ones.
"""
from __future__ import annotations

import time

import torch

from .. import catalogue as cat
from ..representation.item_space import SPACES, load_item_space
from ..results import ResultTable, write_table
from ..store import ArtifactStore
from . import report as words
from .extraction import assign_sids, sid_report
from .residual_kmeans import residual_kmeans
from .rqvae import RQVAEConfig, train_rqvae

# vector source -> (sids, report, weights): the split between the two sources is by catalogue entry
OUTPUTS = {"title": (cat.SIDS, cat.SID_REPORT, cat.RQVAE),
           "knowledge": (cat.KNOWLEDGE_SIDS, cat.KNOWLEDGE_SID_REPORT, cat.KNOWLEDGE_RQVAE)}


def build_sids(dataset_name: str = "beauty", store: ArtifactStore | None = None, *, vectors: str = "title",
               cfg: RQVAEConfig | None = None, show_progress: bool = True, write: bool = True,
               run: str | None = None) -> dict:
    """Train, extract, report; write the source's three artifacts and the SID table under `run`."""
    if vectors not in SPACES:
        raise ValueError(f"vectors must be one of {SPACES}, not {vectors!r}")
    store = store or ArtifactStore()
    cfg = cfg or RQVAEConfig()
    t0 = time.perf_counter()
    space = load_item_space(dataset_name, vectors, store)
    ids, vecs = space.item_ids, space.vectors
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
    report = {"vectors": vectors, "coverage": space.coverage(), "config": cfg.as_dict(), "rqvae": rq,
              "residual_kmeans": km, "vector_mean_sq_norm": float((vecs ** 2).sum(1).mean()),
              "training": {"loss": hist["loss"], "recon": hist["recon"], "commit": hist["commit"],
                           "dead_code_restarts": hist["restarts"]},
              "notes": words.REPORT_NOTE}
    if write:
        sids_art, report_art, weights_art = OUTPUTS[vectors]
        prov = {"vectors": vectors, "coverage": space.coverage(), "method": "rqvae", "config": cfg.as_dict(),
                "seeds": [cfg.seed]}
        store.write(dataset_name, sids_art, sids, prov, run=run)
        store.write(dataset_name, report_art, report, prov, run=run)
        store.write(dataset_name, weights_art, {"state_dict": model.state_dict(), "config": cfg.as_dict()}, prov,
                    run=run)
        write_sid_table(dataset_name, store, run=run)
    return {"sids": sids, "report": report, "model": model}


def sid_table(dataset_name: str, store: ArtifactStore, run: str | None = None) -> ResultTable | None:
    """Both tokenizers x every vector source whose report exists in `run`, as one result table."""
    reports = {src: store.read(dataset_name, report_art, run=run)
               for src, (_, report_art, _) in OUTPUTS.items() if store.exists(dataset_name, report_art, run=run)}
    if not reports:
        return None
    rows, levels = [], 0
    for src, rep in reports.items():
        for method, label in words.TOKENIZERS:
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
    card = store.read(dataset_name, cat.DATASET_CARD)      # the item vectors came from this dataset: it exists
    cols = ["vectors", "tokenizer", "items", "items_with_knowledge", "unique_share", "largest_bucket", "recon_mse"]
    cols += [f"L{i}_{m}" for i in range(1, levels + 1) for m in ("usage", "perplexity")]
    return ResultTable(
        name=cat.SID_TABLE.key, title=words.TITLE, dataset=dataset_name, dataset_hash=card["content_hash"],
        split=words.SPLIT, protocol=words.PROTOCOL, seeds=[int(cfg["seed"])], deviations=words.deviations(cfg),
        columns=cols, rows=rows, notes=words.notes(reports))


def write_sid_table(dataset_name: str, store: ArtifactStore, run: str | None = None) -> ResultTable | None:
    table = sid_table(dataset_name, store, run=run)
    if table is not None:
        write_table(store, cat.SID_TABLE, table, run=run)
    return table
