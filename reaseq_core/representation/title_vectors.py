"""Baseline item vectors: Phi(title + brand + category path) for every item.

Artifact: catalogue entry `title_vectors`, arrays `item_ids` (str) and `vectors` (float32 [n, 384],
L2-normalised), in the order of the dataset's items table. Every item has one, so ranking and GBR can
run before any knowledge exists. Consumers read it through `item_space.load_item_space(dataset, "title")`.
"""
from __future__ import annotations

import pandas as pd

from .. import catalogue as cat
from ..store import ArtifactStore
from .encoder import MODEL_NAME, embedding_cache, encode


def _text(value) -> str:
    """Missing fields come back from parquet as None or NaN; both mean 'no text'."""
    return value.strip() if isinstance(value, str) else ""


def title_text(row) -> str:
    parts = [_text(row.get("title"))]
    if _text(row.get("brand")):
        parts.append(f"Brand: {_text(row.get('brand'))}")
    if len(row["category_path"]):
        parts.append("Category: " + " > ".join(row["category_path"]))
    return ". ".join(p for p in parts if p)


def build_title_vectors(dataset, store: ArtifactStore | None = None, show_progress: bool = True) -> dict:
    """Encode every item of `dataset` (a data.Dataset) and write the artifact; returns the arrays."""
    store = store or ArtifactStore()
    items: pd.DataFrame = dataset.items
    texts = [title_text(r) for r in items.to_dict("records")]
    vecs = encode(texts, cache=embedding_cache(store, dataset.name), show_progress=show_progress)
    arrays = {"item_ids": items["item_id"].to_numpy().astype(str), "vectors": vecs}
    store.write(dataset.name, cat.TITLE_VECTORS, arrays,
                {"encoder": MODEL_NAME, "text": "title + brand + category path", "dim": int(vecs.shape[1]),
                 "items": int(len(items)), "normalised": True})
    return arrays

