"""`reaseq status`: what every stage has produced, per dataset, with provenance and headline figures.

Each stage may contribute a reporter `status(store, dataset) -> dict | None` registered in STAGE_REPORTERS
("module:function"); a stage without one (or whose module is absent) is reported from its stored artifacts
alone. A stage that has produced nothing reports {"exists": false, "command": <the command that produces
it>}. Every command printed runs as printed: the knowledge stage's names a real category of the dataset
(the one with the most interactions and no knowledge yet), and `test_cli_foundation` parses each one with
the real `reaseq` argument parser.
"""
from __future__ import annotations

import importlib
import shlex

from . import catalogue as cat
from .errors import ReaSeqError
from .store import ArtifactStore

STAGE_REPORTERS = {
    "data": "reaseq_core.status:data_status",
    "knowledge": "reaseq_core.knowledge.status:status",
    "representation": "reaseq_core.representation.status:status",
    "semantic_ids": "reaseq_core.semantic_ids.status:status",
    "ranking": "reaseq_core.ranking.status:status",
    "gbr": "reaseq_core.gbr.status:status",
    "viz": "reaseq_core.status:viz_status",
    "bench": "reaseq_core.status:bench_status",
}

# The catalogue describes the review stage as controls in the workbench; the command that opens them is this.
RUNNABLE_COMMANDS = {"review": "reaseq app --dataset {dataset}"}


def data_status(store: ArtifactStore, dataset: str) -> dict | None:
    if not store.exists(dataset, cat.DATASET_CARD):
        return None
    card = store.read(dataset, cat.DATASET_CARD)
    return {"users": card["counts"]["users"], "items": card["counts"]["items"],
            "interactions": card["counts"]["interactions"], "content_hash": card["content_hash"],
            "demand_expressions": card["counts"]["demand_expressions"]}


def viz_status(store: ArtifactStore, dataset: str) -> dict | None:
    """The stored UMAP projections: how many, and the points of each (from its provenance)."""
    found = [a for a in store.list(dataset, "viz") if a.entry is cat.UMAP]
    if not found:
        return None
    return {"umap_projections": len(found),
            "points": {a.name: a.provenance.get("points") for a in found}}


def bench_status(store: ArtifactStore, dataset: str) -> dict | None:
    """Every catalogued benchmark recorded for this dataset: its key -> its headline figures."""
    out = {a.key: store.read(dataset, a)["headline"] for a in cat.BENCHES if store.exists(dataset, a)}
    return out or None


def _reporter(stage: str):
    if stage not in STAGE_REPORTERS:
        return None
    mod_name, fn = STAGE_REPORTERS[stage].split(":")
    try:
        return getattr(importlib.import_module(mod_name), fn)
    except ModuleNotFoundError as e:
        if e.name and mod_name.startswith(e.name):  # the stage's package is absent from this build
            return None
        raise


# ---- runnable commands -------------------------------------------------------------------------------
def knowledge_category_order(store: ArtifactStore, dataset: str) -> list[tuple[str, int, bool]]:
    """(primary category, interactions, has knowledge) for every primary category, most interactions first.

    Needs the data stage (MissingArtifact otherwise); 'has knowledge' comes from the item knowledge table."""
    items = store.read(dataset, cat.ITEMS)
    inter = store.read(dataset, cat.INTERACTIONS)
    prim = inter["item_id"].map(dict(zip(items["item_id"], items["primary_category"])))
    counts = prim.value_counts()
    done: set[str] = set()
    if store.exists(dataset, cat.ITEM_KNOWLEDGE):
        done = set(store.read(dataset, cat.ITEM_KNOWLEDGE)["primary_category"].dropna())
    # ties by name, so the suggestion is the same on every run
    order = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [(str(c), int(n), str(c) in done) for c, n in order]


def knowledge_build_command(dataset: str, category: str) -> str:
    """`reaseq knowledge build` for one primary category (quoted for the shell: 'Bath & Body')."""
    return cat.ITEM_KNOWLEDGE.producing_command(dataset).replace("CATEGORY", shlex.quote(category))


def knowledge_command(store: ArtifactStore, dataset: str, *, only_new: bool = True) -> str | None:
    """The next knowledge build: the category with the most interactions and no knowledge yet (None when
    every category has knowledge; with only_new=False the category with the most interactions). Without the
    data stage, its ingest command comes first."""
    if not (store.exists(dataset, cat.ITEMS) and store.exists(dataset, cat.INTERACTIONS)):
        return cat.ITEMS.producing_command(dataset)
    order = knowledge_category_order(store, dataset)
    todo = [c for c, _, has in order if not (has and only_new)]
    if not todo:
        return None
    return knowledge_build_command(dataset, todo[0])


def stage_command(store: ArtifactStore, dataset: str, stage: str) -> str:
    """The command that produces a stage's artifacts, as it runs from the repository root."""
    if stage == "knowledge":
        return knowledge_command(store, dataset) or knowledge_command(store, dataset, only_new=False)
    return RUNNABLE_COMMANDS.get(stage, cat.STAGE_COMMANDS[stage]).format(dataset=dataset)


def collect_status(store: ArtifactStore, datasets: list[str] | None = None) -> dict:
    report = {"artifact_root": str(store.root), "datasets": {}}
    for ds in datasets or store.datasets():
        stages = {}
        for stage in cat.STAGES:
            fn = _reporter(stage)
            arts = store.list(ds, stage)
            entry: dict = {"artifacts": [{"name": a.name, "bytes": a.size_bytes,
                                          "created": a.provenance.get("created"),
                                          "code_version": a.provenance.get("code_version"),
                                          "catalogued": a.entry is not None} for a in arts]}
            figures = None
            if fn is not None:
                try:
                    figures = fn(store, ds)
                except ReaSeqError as e:  # a stored artifact lacks its declared shape: say which, per stage
                    entry["error"] = str(e)
            entry["exists"] = bool(arts) and (fn is None or figures is not None)
            if figures is not None:
                entry["figures"] = figures
            if not entry["exists"]:
                entry["command"] = stage_command(store, ds, stage)
            elif stage == "knowledge":
                nxt = knowledge_command(store, ds)
                if nxt:
                    entry["next"] = nxt
            stages[stage] = entry
        report["datasets"][ds] = stages
    return report


def printed_commands(report: dict) -> list[str]:
    """Every command a status report tells the user to run (what `format_status` prints)."""
    return [e[k] for stages in report["datasets"].values() for e in stages.values()
            for k in ("command", "next") if e.get(k)]


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
        lines.append(f"no dataset ingested yet: run `{cat.ITEMS.producing_command('beauty')}`")
    for ds, stages in report["datasets"].items():
        lines.append(f"\n== {ds} ==")
        for stage, e in stages.items():
            mark = "ok " if e["exists"] else "-- "
            lines.append(f"{mark}{stage:<15} " + (f"{len(e['artifacts'])} artifact(s)" if e["exists"]
                                                  else f"not produced: run `{e['command']}`"))
            if e.get("error"):
                lines.append(f"      error: {e['error']}")
            for k, v in (e.get("figures") or {}).items():
                lines.append(f"      {k}: {_fmt(v)}")
            if e.get("next"):
                lines.append(f"      next: run `{e['next']}`")
    return "\n".join(lines)
