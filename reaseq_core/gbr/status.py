"""`reaseq status` figures of the GBR stage: SASRec Recall/NDCG, [FILL] ratios, Table 5 and Table 6 headlines."""
from __future__ import annotations

from .. import catalogue as cat
from ..store import ArtifactStore


def status(store: ArtifactStore, dataset: str) -> dict | None:
    out: dict = {}
    if store.exists(dataset, cat.SASREC_METRICS):
        m = store.read(dataset, cat.SASREC_METRICS)
        out["sasrec_test"] = {k: round(v, 4) for k, v in m["test"].items()}
        out["sasrec_reference"] = {k: v for k, v in m["reference"].items() if k != "source"}
        if m.get("seed_runs"):   # the kept seed among those trained (best validation NDCG@10)
            out["sasrec_seed"] = {"kept": m["config"]["seed"], "trained": [r["seed"] for r in m["seed_runs"]]}
    if store.exists(dataset, cat.LOCATION_SUMMARY):
        s = store.read(dataset, cat.LOCATION_SUMMARY)
        out["fill_ratio"] = {v: round(x["fill_ratio"], 4) for v, x in s["variants"].items()}
    if store.exists(dataset, cat.TABLE5):
        t = store.read(dataset, cat.TABLE5)
        out["table5"] = {r["model"]: {"ib_ppl_mask": round(r["ib_ppl_mask"], 2),
                                      "ib_acc_mask_pct": round(r["ib_acc_mask_pct"], 2),
                                      "ib_ppl_fill": round(r["ib_ppl_fill"], 2),
                                      "ib_acc_fill_pct": round(r["ib_acc_fill_pct"], 2)} for r in t["rows"]}
    if store.exists(dataset, cat.TABLE6):
        t = store.read(dataset, cat.TABLE6)
        out["table6"] = {r["method"]: {"auc": round(r["overall_auc"], 4), "gauc": round(r["overall_gauc"], 4),
                                       "cold_gauc": round(r["cold_gauc"], 4)} for r in t["rows"]}
    return out or None
