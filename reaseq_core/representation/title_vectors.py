"""Baseline item vectors: Phi(title + brand + category path) for every item.

Artifact: representation/title_vectors.npz with arrays `item_ids` (str) and `vectors` (float32 [n, 384],
L2-normalised), in the order of the dataset's items table. Every item has one, so ranking and GBR can
run before any knowledge exists.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..store import ArtifactStore
from .encoder import MODEL_NAME, EmbeddingCache, encode

ARTIFACT = "title_vectors.npz"


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
    cache = EmbeddingCache(store.path(dataset.name, "representation", "embedding_cache.sqlite"))
    vecs = encode(texts, cache=cache, show_progress=show_progress)
    arrays = {"item_ids": items["item_id"].to_numpy().astype(str), "vectors": vecs}
    store.write_numpy(dataset.name, "representation", ARTIFACT, arrays,
                      {"encoder": MODEL_NAME, "text": "title + brand + category path", "dim": int(vecs.shape[1]),
                       "items": int(len(items))})
    return arrays


def load_title_vectors(dataset_name: str, store: ArtifactStore | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(item_ids, vectors); MissingArtifact names `reaseq represent build` when absent."""
    z = (store or ArtifactStore()).read_numpy(dataset_name, "representation", ARTIFACT)
    return z["item_ids"], z["vectors"]
