"""`reaseq status`: what every stage has produced, per dataset, with provenance and headline figures.

Each stage contributes a reporter `status(store, dataset) -> dict | None` registered in STAGE_REPORTERS
("module:function"); a stage whose module is absent or has produced nothing reports
{"exists": false, "command": <the command that produces it>}.
"""
from __future__ import annotations

import importlib
import json

from .store import STAGE_COMMANDS, STAGES, ArtifactStore

STAGE_REPORTERS = {
    "data": "reaseq_core.status:data_status",
    "knowledge": "reaseq_core.knowledge.status:status",
    "representation": "reaseq_core.representation.status:status",
    "semantic_ids": "reaseq_core.semantic_ids.status:status",
    "ranking": "reaseq_core.ranking.status:status",
    "gbr": "reaseq_core.gbr.status:status",
    "bench": "reaseq_core.status:bench_status",
}


def data_status(store: ArtifactStore, dataset: str) -> dict | None:
    if not store.exists(dataset, "data", "dataset_card.json"):
        return None
    card = store.read_json(dataset, "data", "dataset_card.json")
    return {"users": card["counts"]["users"], "items": card["counts"]["items"],
            "interactions": card["counts"]["interactions"], "content_hash": card["content_hash"],
            "demand_expressions": card["counts"]["demand_expressions"]}


def bench_status(store: ArtifactStore, dataset: str) -> dict | None:
    """Every bench/*.json result recorded for this dataset: name -> its headline figures."""
    out = {}
    for info in store.list(dataset, "bench"):
        if info.name.endswith(".json"):
            with open(info.path, encoding="utf-8") as fh:
                out[info.name[:-5]] = json.load(fh).get("headline", {})
    return out or None


def _reporter(stage: str):
    mod_name, fn = STAGE_REPORTERS[stage].split(":")
    try:
        return getattr(importlib.import_module(mod_name), fn)
    except ModuleNotFoundError as e:
        if e.name and mod_name.startswith(e.name):
            return None
        raise


def collect_status(store: ArtifactStore, datasets: list[str] | None = None) -> dict:
    report = {"artifact_root": str(store.root), "datasets": {}}
    for ds in datasets or store.datasets():
        stages = {}
        for stage in STAGES:
            fn = _reporter(stage)
            figures = fn(store, ds) if fn else None
            arts = store.list(ds, stage)
            entry = {"exists": bool(arts) and figures is not None,
                     "artifacts": [{"name": a.name, "bytes": a.size_bytes,
                                    "created": a.provenance.get("created"),
                                    "code_version": a.provenance.get("code_version")} for a in arts]}
            if figures is not None:
                entry["figures"] = figures
            if not entry["exists"]:
                entry["command"] = STAGE_COMMANDS[stage].format(dataset=ds)
            stages[stage] = entry
        report["datasets"][ds] = stages
    return report


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v[:8]) + (", ..." if len(v) > 8 else "") + "]"
    return str(v)


def format_status(report: dict) -> str:
    lines = [f"artifact root: {report['artifact_root']}"]
    if not report["datasets"]:
        lines.append("no dataset ingested yet: run `reaseq data ingest --dataset beauty`")
    for ds, stages in report["datasets"].items():
        lines.append(f"\n== {ds} ==")
        for stage, e in stages.items():
            mark = "ok " if e["exists"] else "-- "
            lines.append(f"{mark}{stage:<15} " + (f"{len(e['artifacts'])} artifact(s)" if e["exists"]
                                                  else f"not produced: run `{e['command']}`"))
            for k, v in (e.get("figures") or {}).items():
                lines.append(f"      {k}: {_fmt(v)}")
    return "\n".join(lines)
