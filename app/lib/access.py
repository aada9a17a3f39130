"""Cached reads of the artifact store for the workbench, by catalogue entry.

Pages name an artifact by its entry in `reaseq_core.catalogue` (`access.read(dataset, cat.TAXONOMY)`),
never by a file name, and every read goes through `ArtifactStore.read`, which checks the shape the catalogue
declares: an artifact whose shape changed fails a test, instead of a page. Where a page relies on columns
beyond the declared ones it says so (`read(..., columns=[...])`), so that reliance is checked the same way.

The cache key holds the artifact's modification time, so an artifact that a stage rewrites (or one that
appears while the app runs) is read afresh on the next rerun, and an unchanged one is read once. A missing
artifact raises MissingArtifact (which names the command that produces it); the pages turn that into a
message.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from reaseq_core import catalogue as cat
from reaseq_core.catalogue import Artifact, ArtifactShapeError
from reaseq_core.errors import MissingArtifact
from reaseq_core.representation.item_space import ItemSpace, load_item_space
from reaseq_core.results import ResultTable, list_tables
from reaseq_core.store import ArtifactStore

READABLE = ("parquet", "json", "npz")   # kinds `read` returns; the call log and prompt texts have their own readers


def store() -> ArtifactStore:
    """The store at $REASEQ_HOME (or data/artifacts); cheap, so made per call."""
    return ArtifactStore()


def _stamp(s: ArtifactStore, dataset: str, art: Artifact, run: str | None = None, **params) -> int:
    return s.require(dataset, art, run=run, **params).stat().st_mtime_ns


def exists(dataset: str, art: Artifact, run: str | None = None, **params) -> bool:
    return store().exists(dataset, art, run=run, **params)


def missing(dataset: str, art: Artifact, **params) -> MissingArtifact:
    """The MissingArtifact the store would raise for this artifact (to show without reading)."""
    return MissingArtifact(f"{art.stage} artifact '{art.name(**params)}' for dataset '{dataset}'",
                           art.producing_command(dataset))


@st.cache_data(show_spinner=False, max_entries=64)
def _read(root: str, dataset: str, key: str, run: str | None, params: tuple, stamp: int):
    return ArtifactStore(root).read(dataset, cat.get(key), run=run, **dict(params))


def read(dataset: str, art: Artifact, run: str | None = None, need: tuple | list = (), **params):
    """The artifact as the store reads it (DataFrame, JSON value, dict of arrays), shape-checked.

    need: parquet columns (or JSON top-level keys) the page relies on beyond the catalogue's declared shape;
    ArtifactShapeError names the file and the missing ones."""
    if art.kind not in READABLE:
        raise ValueError(f"{art.key} is a {art.kind} artifact: the workbench reads it through its own reader")
    s = store()
    obj = _read(str(s.root), dataset, art.key, run, tuple(sorted(params.items())),
                _stamp(s, dataset, art, run, **params))
    have = obj.columns if isinstance(obj, pd.DataFrame) else obj
    lacking = [c for c in need if c not in have]
    if lacking:
        what = "columns" if isinstance(obj, pd.DataFrame) else "keys"
        raise ArtifactShapeError(f"{s.path(dataset, art, run=run, **params)}: {what} {lacking} are missing, "
                                 "which the workbench needs beyond the catalogue's declared shape")
    return obj


def provenance(dataset: str, art: Artifact, run: str | None = None, **params) -> dict:
    return store().provenance(dataset, art, run=run, **params)


# ---- result tables ---------------------------------------------------------------------------------
def result_tables(dataset: str) -> list[Artifact]:
    """The catalogue's result tables stored for the dataset's full run (a smoke run is never listed here)."""
    return list_tables(store(), dataset)


def table(dataset: str, art: Artifact) -> ResultTable:
    return ResultTable(**read(dataset, art))


# ---- the dataset's own tables ---------------------------------------------------------------------
CARD_KEYS = ("sequence_length", "gap_days")   # the Home page's histograms, beyond the declared keys


def card(dataset: str) -> dict:
    try:
        return read(dataset, cat.DATASET_CARD, need=CARD_KEYS)
    except MissingArtifact:
        raise MissingArtifact(f"dataset '{dataset}'", cat.DATASET_CARD.producing_command(dataset)) from None


def _attributes(text, item_id: str) -> dict:
    """The attributes column holds JSON text of an object (None where the item has none)."""
    if text is None:
        return {}
    try:
        val = json.loads(text)
    except ValueError as e:
        raise ArtifactShapeError(f"items table, item {item_id}, column 'attributes': not JSON ({e})") from None
    if not isinstance(val, dict):
        raise ArtifactShapeError(f"items table, item {item_id}, column 'attributes': {type(val).__name__}, "
                                 "expected a JSON object")
    return val


@st.cache_data(show_spinner=False, max_entries=8)
def _items(root: str, dataset: str, stamp: int) -> pd.DataFrame:
    df = ArtifactStore(root).read(dataset, cat.ITEMS)
    df["category_path"] = df["category_path"].map(list)
    df["attributes"] = [_attributes(t, i) for t, i in zip(df["attributes"], df["item_id"])]
    return df


def items(dataset: str) -> pd.DataFrame:
    """The canonical items table (see reaseq_core/data/schema.py), attributes parsed."""
    s = store()
    return _items(str(s.root), dataset, _stamp(s, dataset, cat.ITEMS))


@st.cache_data(show_spinner=False, max_entries=64)
def _known_words(root: str, dataset: str, stamp: int, category: str) -> set[str] | None:
    from reaseq_core.knowledge.summary import category_known_words
    return category_known_words(_items(root, dataset, stamp), category)


def known_words(dataset: str, category: str) -> set[str] | None:
    """The dictionary the taxonomy rule check reads for a primary category (summary.category_known_words),
    computed once per version of the items table rather than at every rerun of a page."""
    s = store()
    return _known_words(str(s.root), dataset, _stamp(s, dataset, cat.ITEMS), category)


@st.cache_data(show_spinner=False, max_entries=8)
def _item_lookup(root: str, dataset: str, stamp: int) -> dict:
    df = ArtifactStore(root).read(dataset, cat.ITEMS)
    df = df[["item_id", "title", "brand", "primary_category", "leaf_category", "price"]]
    df = df.astype(object).where(df.notna(), None)     # a missing title or brand is None, never NaN
    return {r["item_id"]: {"title": r["title"], "brand": r["brand"], "category": r["primary_category"],
                           "leaf": r["leaf_category"], "price": r["price"]}
            for r in df.to_dict("records")}


def item_lookup(dataset: str) -> dict:
    """item_id -> {title, brand, category, leaf, price}; empty when the data stage is missing (the pages that
    use it then show ids, and say so)."""
    s = store()
    if not s.exists(dataset, cat.ITEMS):
        return {}
    return _item_lookup(str(s.root), dataset, _stamp(s, dataset, cat.ITEMS))


# ---- knowledge ------------------------------------------------------------------------------------
@st.cache_data(show_spinner="Classifying the stored knowledge entries…", max_entries=4)
def _item_knowledge(root: str, dataset: str, stamps: tuple) -> pd.DataFrame:
    from reaseq_core.knowledge.report import regrounded
    s = ArtifactStore(root)
    return regrounded(s.read(dataset, cat.ITEM_KNOWLEDGE), s.read(dataset, cat.ITEMS))


def item_knowledge(dataset: str) -> pd.DataFrame:
    """The item_knowledge artifact with grounding in today's meaning, whatever the age of its rows: every entry
    re-classified against its item's fields (supported / beyond / contradicted, `grounded` = supported, with the
    note why), `grounding_rate` = the row's share of supported entries, and per-row counts `supported`, `beyond`,
    `contradicted` (reaseq_core.knowledge.report.regrounded). Pages that show grounding read knowledge here,
    never the flags and rates stored with old rows."""
    s = store()
    return _item_knowledge(str(s.root), dataset, (_stamp(s, dataset, cat.ITEM_KNOWLEDGE),
                                                  _stamp(s, dataset, cat.ITEMS)))


def parse_entries(text, where: str) -> list[dict]:
    """The user_demand / product_attribute column: JSON text of a list of entries; None (or NaN) for a row
    whose generation failed. `where` names the row for the error when the text is not such a list."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    if isinstance(text, (list, tuple, np.ndarray)):  # list-typed columns (parquet list<struct>) are accepted too
        return [dict(e) for e in text]
    try:
        val = json.loads(text)
    except (TypeError, ValueError) as e:
        raise ArtifactShapeError(f"{where}: not JSON ({e})") from None
    if not isinstance(val, list):
        raise ArtifactShapeError(f"{where}: {type(val).__name__}, expected a JSON list of entries")
    return val


CALL_COLUMNS = ["created", "agent", "status", "backend", "model", "latency_s", "prompt_tokens",
                "completion_tokens", "error", "prompt", "response", "key", "params", "model_hash", "template_hash"]


def read_call_log(path: Path) -> tuple[list[dict], int]:
    """The records of an append-only call log and the number of bytes of a partial last line.

    A last line without its newline is a write cut short by a kill: the LLM cache drops it on its next
    append, so it is skipped here and its size returned (the page states it). Any other line that is not
    JSON is an error naming the file and line."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    rows = []
    for n, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            raise ArtifactShapeError(f"{path}, line {n}: not JSON ({e})") from None
    return rows, len(data) - end


@st.cache_data(show_spinner=False, max_entries=8)
def _call_log(root: str, dataset: str, stamp: int) -> tuple[pd.DataFrame, int]:
    rows, partial = read_call_log(ArtifactStore(root).require(dataset, cat.LLM_CALLS))
    df = pd.DataFrame(rows)
    for c in CALL_COLUMNS:  # records of older cache versions lack some fields
        if c not in df.columns:
            df[c] = None
    return df[CALL_COLUMNS + [c for c in df.columns if c not in CALL_COLUMNS]], partial


def call_log(dataset: str) -> tuple[pd.DataFrame, int]:
    """(every complete call of the knowledge stage's LLM log, bytes of a partial last line)."""
    s = store()
    return _call_log(str(s.root), dataset, _stamp(s, dataset, cat.LLM_CALLS))


def prompt_versions(dataset: str, agent: str) -> dict[str, str]:
    """sha12 -> text of every saved prompt-template version of an agent, newest first."""
    s = store()
    found = []
    for info in s.list(dataset, cat.PROMPT_VERSION.stage):
        if info.entry is not cat.PROMPT_VERSION:
            continue
        sha = Path(info.name).stem
        if s.path(dataset, cat.PROMPT_VERSION, agent=agent, sha12=sha) == info.path:  # this agent's version
            found.append((info.path.stat().st_mtime, sha, info.path))
    return {sha: s.read(dataset, cat.PROMPT_VERSION, agent=agent, sha12=sha)
            for _, sha, _ in sorted(found, reverse=True)}


# ---- item vectors ---------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4)
def _item_space(root: str, dataset: str, space: str, stamps: tuple) -> ItemSpace:
    return load_item_space(dataset, space, ArtifactStore(root))


def item_space(dataset: str, space: str) -> ItemSpace:
    """The item vectors of 'title' or 'knowledge' space, loaded the one way every stage loads them
    (reaseq_core.representation.item_space: L2-normalised; items without knowledge keep their title vector)."""
    s = store()
    arts = [cat.TITLE_VECTORS] + ([cat.KNOWLEDGE_VECTORS] if space == "knowledge" else [])
    return _item_space(str(s.root), dataset, space, tuple(_stamp(s, dataset, a) for a in arts))
