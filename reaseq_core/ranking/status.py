"""`reaseq status` for ranking: per variant AUC/GAUC mean +- std overall / hot / cold and the seeds;
the ESU dedup speed ratio and the ranking throughput headline from the benchmarks."""
from __future__ import annotations

from .. import catalogue as cat
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
    for art in (cat.TABLE3_ABLATION, cat.TABLE4_REPRESENTATION):
        if store.exists(dataset, art):
            t = store.read(dataset, art)
            out[art.key] = {"seeds": t["seeds"], "variants": _variants(t)}
            if art is cat.TABLE4_REPRESENTATION:
                out[art.key]["notes"] = t["notes"]
    for art in (cat.BENCH_ESU_DEDUP, cat.BENCH_RANKING):
        if store.exists(dataset, art):
            out[art.key] = store.read(dataset, art)["headline"]
    return out or None
