"""`reaseq status` for semantic IDs: per-level usage, unique share of full SIDs, largest bucket."""
from __future__ import annotations

from .. import catalogue as cat
from ..store import ArtifactStore


def status(store: ArtifactStore, dataset: str) -> dict | None:
    if not store.exists(dataset, cat.SID_REPORT):       # the stage has not run: nothing to report
        return None
    out = _summary(store.read(dataset, cat.SID_REPORT))
    if store.exists(dataset, cat.KNOWLEDGE_SID_REPORT):   # knowledge SIDs are optional
        out["from_knowledge_vectors"] = _summary(store.read(dataset, cat.KNOWLEDGE_SID_REPORT))
    return out


def _summary(rep: dict) -> dict:
    out = {"vectors": rep["vectors"], "coverage": rep["coverage"]}
    for name in ("rqvae", "residual_kmeans"):
        r = rep[name]
        out[name] = {"usage_per_level": [round(x["usage"], 4) for x in r["levels"]],
                     "perplexity_per_level": [round(x["perplexity"], 1) for x in r["levels"]],
                     "unique_share": round(r["unique_share"], 4), "largest_bucket": r["largest_bucket"],
                     "recon_mse": round(r["recon_mse"], 5)}
    return out
