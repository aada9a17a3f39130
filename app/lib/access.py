"""Cached reads of the artifact store for the workbench.

Every read goes through `reaseq_core.store.ArtifactStore`. The cache key holds the artifact's
modification time, so an artifact that a stage rewrites (or one that appears while the app runs) is read
afresh on the next rerun, and an unchanged one is read once. A missing artifact raises MissingArtifact
(which names the `reaseq` command that produces it); the pages turn that into a message.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import streamlit as st

from reaseq_core.errors import MissingArtifact
from reaseq_core.results import list_tables
from reaseq_core.store import STAGE_COMMANDS, STAGES, ArtifactStore


def store() -> ArtifactStore:
    """The store at $REASEQ_HOME (or data/artifacts); cheap, so made per call."""
    return ArtifactStore()


def _stamp(s: ArtifactStore, dataset: str, stage: str, name: str) -> int:
    p = s.require(dataset, stage, name)
    return p.stat().st_mtime_ns


def exists(dataset: str, stage: str, name: str) -> bool:
    return store().exists(dataset, stage, name)


def missing(dataset: str, stage: str, name: str) -> MissingArtifact:
    """The MissingArtifact the store would raise for this artifact (to show without reading)."""
    return MissingArtifact(f"{stage} artifact '{name}' for dataset '{dataset}'",
                           STAGE_COMMANDS[stage].format(dataset=dataset))


@st.cache_data(show_spinner=False, max_entries=64)
def _json(root: str, dataset: str, stage: str, name: str, stamp: int):
    return ArtifactStore(root).read_json(dataset, stage, name)


@st.cache_data(show_spinner=False, max_entries=32)
def _parquet(root: str, dataset: str, stage: str, name: str, stamp: int) -> pd.DataFrame:
    return ArtifactStore(root).read_parquet(dataset, stage, name)


@st.cache_data(show_spinner=False, max_entries=16)
def _numpy(root: str, dataset: str, stage: str, name: str, stamp: int) -> dict:
    return ArtifactStore(root).read_numpy(dataset, stage, name)


def read_json(dataset: str, stage: str, name: str):
    s = store()
    return _json(str(s.root), dataset, stage, name, _stamp(s, dataset, stage, name))


def read_parquet(dataset: str, stage: str, name: str) -> pd.DataFrame:
    s = store()
    return _parquet(str(s.root), dataset, stage, name, _stamp(s, dataset, stage, name))


def read_numpy(dataset: str, stage: str, name: str) -> dict:
    s = store()
    return _numpy(str(s.root), dataset, stage, name, _stamp(s, dataset, stage, name))


def provenance(dataset: str, stage: str, name: str) -> dict:
    return store().provenance(dataset, stage, name)


# ---- result tables ---------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=8)
def _result_tables(root: str, dataset: str, stamp: tuple) -> list[tuple[str, str]]:
    return list_tables(ArtifactStore(root), dataset)


def result_tables(dataset: str) -> list[tuple[str, str]]:
    """(stage, name) of every result table of the dataset; the JSON files are parsed again only when one of
    them is added, removed or rewritten (the cache key is their names and modification times)."""
    s = store()
    stamp = tuple((stage, p.name, p.stat().st_mtime_ns) for stage in STAGES
                  for p in sorted(s.stage_dir(dataset, stage).glob("*.json")) if not p.name.endswith(".prov.json"))
    return _result_tables(str(s.root), dataset, stamp)


# ---- the dataset's own tables ---------------------------------------------------------------------
def card(dataset: str) -> dict:
    try:
        return read_json(dataset, "data", "dataset_card.json")
    except MissingArtifact:
        raise MissingArtifact(f"dataset '{dataset}'", STAGE_COMMANDS["data"].format(dataset=dataset)) from None


@st.cache_data(show_spinner=False, max_entries=8)
def _items(root: str, dataset: str, stamp: int) -> pd.DataFrame:
    df = ArtifactStore(root).read_parquet(dataset, "data", "items.parquet")
    df["category_path"] = df["category_path"].map(list)
    df["attributes"] = df["attributes"].map(lambda s: json.loads(s) if isinstance(s, str) else (s or {}))
    return df


def items(dataset: str) -> pd.DataFrame:
    """The canonical items table (see reaseq_core/data/schema.py)."""
    s = store()
    return _items(str(s.root), dataset, _stamp(s, dataset, "data", "items.parquet"))


def items_or_none(dataset: str) -> pd.DataFrame | None:
    try:
        return items(dataset)
    except MissingArtifact:
        return None


@st.cache_data(show_spinner=False, max_entries=8)
def _item_lookup(root: str, dataset: str, stamp: int) -> dict:
    df = _items(root, dataset, stamp)
    return {r["item_id"]: {"title": r["title"], "brand": r["brand"], "category": r["primary_category"],
                           "leaf": r["leaf_category"], "price": r["price"]}
            for r in df[["item_id", "title", "brand", "primary_category", "leaf_category", "price"]]
            .to_dict("records")}


def item_lookup(dataset: str) -> dict:
    """item_id -> {title, brand, category, leaf, price}; empty when the data stage is missing."""
    s = store()
    try:
        stamp = _stamp(s, dataset, "data", "items.parquet")
    except MissingArtifact:
        return {}
    return _item_lookup(str(s.root), dataset, stamp)


# ---- knowledge ------------------------------------------------------------------------------------
def parse_entries(text) -> list[dict]:
    """The user_demand / product_attribute column: JSON text of a list of entries (tolerates None/NaN)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    if isinstance(text, (list, tuple, np.ndarray)):  # list-typed columns (parquet list<struct>) are accepted too
        return [dict(e) for e in text]
    try:
        val = json.loads(text)
    except (TypeError, ValueError):
        return []
    return val if isinstance(val, list) else []


@st.cache_data(show_spinner=False, max_entries=8)
def _call_log(root: str, dataset: str, stamp: int) -> pd.DataFrame:
    path = ArtifactStore(root).require(dataset, "knowledge", "llm_calls.jsonl")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a partial last line after a kill is ignored, as the writer's loader does
    cols = ["created", "agent", "status", "backend", "model", "latency_s", "prompt_tokens",
            "completion_tokens", "error", "prompt", "response", "key", "params", "model_hash"]
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df.columns:
            df[c] = None
    return df[cols + [c for c in df.columns if c not in cols]]


def call_log(dataset: str) -> pd.DataFrame:
    s = store()
    return _call_log(str(s.root), dataset, _stamp(s, dataset, "knowledge", "llm_calls.jsonl"))


def vectors(dataset: str, space: str) -> tuple[np.ndarray, np.ndarray]:
    """(item_ids, vectors) of the item space a stage used: 'title' or 'knowledge'."""
    name = {"title": "title_vectors.npz", "knowledge": "knowledge_vectors.npz"}[space]
    z = read_numpy(dataset, "representation", name)
    return z["item_ids"].astype(str), z["vectors"]
