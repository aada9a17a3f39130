"""UMAP projection of real item tokens and [FILL] tokens, computed once per input and kept in the store.

Artifact: gbr/umap_<hash>.parquet, where <hash> is a sha256 over the input (point ids, vectors rounded to
1e-4 so a bit-level re-encode does not change it, and the UMAP parameters). Columns:
    point_id     item id, or fill id for [FILL] tokens
    token_type   "item" | "fill"
    x, y         UMAP coordinates (for display only)
    nn_ids       the 10 nearest real items by exact cosine in the ORIGINAL space (not the projection)
    nn_sims      their cosine similarities
Its provenance names the inputs (which vector artifacts, their creation stamps, the item space, counts) and
the parameters. This mirrors the paper's Figure 6.b (token representations of real items and [FILL]s).
Every point of the input is projected: nothing is downsampled.
"""
from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pandas as pd

from ..store import ArtifactStore
from .neighbours import exact_cosine_neighbours

UMAP_PARAMS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "random_state": 42}
NEIGHBOURS_K = 10


def input_hash(point_ids, vectors: np.ndarray, params: dict) -> str:
    h = hashlib.sha256()
    h.update("\x00".join(map(str, point_ids)).encode("utf-8"))
    h.update(np.round(np.asarray(vectors, dtype=np.float64), 4).astype(np.float32).tobytes())
    h.update(json.dumps(params, sort_keys=True).encode("utf-8"))
    return h.hexdigest()[:12]


def project(store: ArtifactStore, dataset: str, point_ids, token_types, vectors: np.ndarray,
            pool_ids, pool_vectors: np.ndarray, inputs: dict, params: dict | None = None,
            force: bool = False) -> tuple[pd.DataFrame, str]:
    """UMAP of `vectors` (one row per point) with exact-cosine neighbours among the pool items.

    Returns (frame, artifact name). Reads the stored projection when one exists for this exact input.
    """
    params = {**UMAP_PARAMS, **(params or {})}
    point_ids = np.asarray(point_ids).astype(str)
    name = f"umap_{input_hash(point_ids, vectors, params)}.parquet"
    if store.exists(dataset, "gbr", name) and not force:
        return store.read_parquet(dataset, "gbr", name), name
    import umap  # slow import (numba compiles on first use): only when a projection must be computed

    t0 = time.perf_counter()
    n_neighbors = min(params["n_neighbors"], max(2, len(point_ids) - 1))
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=params["min_dist"],
                        metric=params["metric"], random_state=params["random_state"])
    xy = reducer.fit_transform(np.asarray(vectors, dtype=np.float32))
    fit_s = time.perf_counter() - t0
    types = np.asarray(token_types).astype(str)
    exclude = [pid if t == "item" else None for pid, t in zip(point_ids, types)]
    nn = exact_cosine_neighbours(vectors, pool_ids, pool_vectors, k=NEIGHBOURS_K, exclude_ids=exclude)
    df = pd.DataFrame({"point_id": point_ids, "token_type": types,
                       "x": xy[:, 0].astype(np.float32), "y": xy[:, 1].astype(np.float32),
                       "nn_ids": [[i for i, _ in row] for row in nn],
                       "nn_sims": [[round(s, 5) for _, s in row] for row in nn]})
    store.write_parquet(dataset, "gbr", name, df, {
        "config": {"umap": {**params, "n_neighbors": n_neighbors}, "neighbours": f"top-{NEIGHBOURS_K} exact cosine "
                   "in the original space among the pool items"},
        "inputs": inputs, "points": int(len(df)),
        "points_by_type": {k: int(v) for k, v in pd.Series(types).value_counts().items()},
        "fit_seconds": round(fit_s, 1)})
    return df, name


def embedding_inputs(store: ArtifactStore, dataset: str) -> dict:
    """The vectors the Embeddings view projects: every real item of the item space GBR used, plus every
    [FILL] token of gbr/fill_vectors.npz when it exists (title space and items only otherwise)."""
    inputs: dict = {}
    fill_ids = np.array([], dtype=str)
    fill_vecs = None
    space = "title"
    if store.exists(dataset, "gbr", "fill_vectors.npz"):
        z = store.read_numpy(dataset, "gbr", "fill_vectors.npz")
        fill_ids, fill_vecs = z["fill_ids"].astype(str), z["vectors"]
        space = str(z["item_space"]) if "item_space" in z else "title"
        inputs["fill_vectors.npz"] = store.provenance(dataset, "gbr", "fill_vectors.npz").get("created")
    item_art = {"title": "title_vectors.npz", "knowledge": "knowledge_vectors.npz"}[space]
    z = store.read_numpy(dataset, "representation", item_art)  # MissingArtifact names the command
    item_ids, item_vecs = z["item_ids"].astype(str), z["vectors"]
    inputs[item_art] = store.provenance(dataset, "representation", item_art).get("created")
    inputs["item_space"] = space
    point_ids = np.concatenate([item_ids, fill_ids])
    types = np.array(["item"] * len(item_ids) + ["fill"] * len(fill_ids))
    vectors = item_vecs if fill_vecs is None else np.vstack([item_vecs, fill_vecs.astype(item_vecs.dtype)])
    return {"point_ids": point_ids, "token_types": types, "vectors": vectors, "pool_ids": item_ids,
            "pool_vectors": item_vecs, "inputs": inputs}


def build_embedding_projection(store: ArtifactStore, dataset: str, force: bool = False) -> tuple[pd.DataFrame, str]:
    x = embedding_inputs(store, dataset)
    return project(store, dataset, x["point_ids"], x["token_types"], x["vectors"], x["pool_ids"],
                   x["pool_vectors"], x["inputs"], force=force)


def current_projection_name(store: ArtifactStore, dataset: str) -> str:
    """The artifact name the current inputs map to (needs the vectors; MissingArtifact if they are absent)."""
    x = embedding_inputs(store, dataset)
    return f"umap_{input_hash(x['point_ids'], x['vectors'], UMAP_PARAMS)}.parquet"


def latest_projection(store: ArtifactStore, dataset: str) -> str | None:
    """Name of the most recently written gbr/umap_*.parquet, or None."""
    found = [a for a in store.list(dataset, "gbr") if a.name.startswith("umap_") and a.name.endswith(".parquet")]
    if not found:
        return None
    return max(found, key=lambda a: (a.provenance.get("created") or "", a.path.stat().st_mtime)).name
