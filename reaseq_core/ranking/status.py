"""`reaseq status` for ranking: per variant AUC/GAUC mean +- std overall / hot / cold and the seeds;
the ESU dedup speed ratio and the ablation-suite wall time from bench/."""
from __future__ import annotations

from ..store import ArtifactStore

SEGMENTS = ("overall", "hot", "cold")


def _variants(table: dict) -> dict:
    out = {}
    for r in table["rows"]:
        out[r["method"]] = {f"{s}_{m}": f"{r[f'{s}_{m}']:.4f} ± {r[f'{s}_{m}_std']:.4f}"
                            for s in SEGMENTS for m in ("auc", "gauc")}
    return out


def status(store: ArtifactStore, dataset: str) -> dict | None:
    out: dict = {}
    for name in ("table3_ablation", "table4_representation"):
        if store.exists(dataset, "ranking", f"{name}.json"):
            t = store.read_json(dataset, "ranking", f"{name}.json")
            out[name] = {"seeds": t["seeds"], "variants": _variants(t)}
            if name == "table4_representation":
                out[name]["notes"] = t["notes"]
    for bench in ("esu_dedup", "ranking_throughput"):
        if store.exists(dataset, "bench", f"{bench}.json"):
            out[f"bench_{bench}"] = store.read_json(dataset, "bench", f"{bench}.json").get("headline", {})
    return out or None
