"""UMAP projection of real item tokens and [FILL] tokens, computed once per input and kept in the store.

Artifact: cat.UMAP (stage "viz", file umap_<key>). Columns:
    point_id     item id, or fill id for [FILL] tokens
    token_type   "item" | "fill"
    x, y         UMAP coordinates (for display only)
    nn_ids       the 10 nearest real items by exact cosine in the ORIGINAL space (not the projection)
    nn_sims      their cosine similarities
This mirrors the paper's Figure 6.b (token representations of real items and [FILL]s). Every point of the
input is projected: nothing is downsampled.

The key names the inputs by facts that a fresh machine reproduces, never by when a file was written:
  - the dataset's content hash (data stage card),
  - the item space GBR used (from the fill vectors) and, per vector artifact it reads, the encoder and the
    item count from that artifact's provenance (re-encoding the same items with the same encoder at set-up
    gives the same key),
  - a sha256 of the fill vectors' arrays (the committed case-view fills; None when GBR has not run),
  - the UMAP parameters and the neighbour count.
`key = sha256(json(inputs, sorted keys))[:12]`; the inputs are stored in the projection's provenance
("inputs"), so `stale_inputs` can say which of them changed.
"""
from __future__ import annotations

import hashlib
import json
import re
import time

import numpy as np
import pandas as pd

from .. import catalogue as cat
from ..catalogue import ArtifactShapeError
from ..representation.item_space import load_item_space
from ..store import ArtifactStore
from .neighbours import exact_cosine_neighbours

UMAP_PARAMS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "random_state": 42}
NEIGHBOURS_K = 10
KEY_LENGTH = 12
VECTOR_FACTS = ("encoder", "items")          # provenance fields of a vector artifact that enter the key
SPACE_ARTIFACTS = {"title": (cat.TITLE_VECTORS,), "knowledge": (cat.TITLE_VECTORS, cat.KNOWLEDGE_VECTORS)}


def array_digest(arrays: dict) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes (independent of the file's zip metadata)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}".encode("utf-8"))
        h.update(a.tobytes())
    return h.hexdigest()


def inputs_key(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()[:KEY_LENGTH]


def _vector_facts(store: ArtifactStore, dataset: str, art: cat.Artifact) -> dict:
    path = store.require(dataset, art)               # MissingArtifact names the command that makes it
    prov = store.provenance(dataset, art)
    missing = [f for f in VECTOR_FACTS if f not in prov]
    if missing:
        raise ArtifactShapeError(f"{path}, provenance: field(s) {missing} missing; the UMAP key needs "
                                 f"them (re-run `{art.producing_command(dataset)}`)")
    return {f: prov[f] for f in VECTOR_FACTS}


def projection_inputs(store: ArtifactStore, dataset: str) -> dict:
    """The reproducible facts the projection of `dataset` depends on (see the module docstring)."""
    card = store.read(dataset, cat.DATASET_CARD)
    fills = store.read(dataset, cat.FILL_VECTORS) if store.exists(dataset, cat.FILL_VECTORS) else None
    space = str(fills["item_space"]) if fills is not None else "title"
    if space not in SPACE_ARTIFACTS:
        raise ArtifactShapeError(f"{store.path(dataset, cat.FILL_VECTORS)}, array 'item_space': {space!r} is not "
                                 f"one of {sorted(SPACE_ARTIFACTS)}")
    return {"dataset_hash": card["content_hash"], "item_space": space,
            "vectors": {a.key: _vector_facts(store, dataset, a) for a in SPACE_ARTIFACTS[space]},
            "fill_vectors": array_digest(fills) if fills is not None else None,
            "config": {"umap": UMAP_PARAMS, "neighbours_k": NEIGHBOURS_K}}


def current_projection_key(store: ArtifactStore, dataset: str) -> str:
    """The key the current inputs map to (MissingArtifact when an input is absent)."""
    return inputs_key(projection_inputs(store, dataset))


def embedding_inputs(store: ArtifactStore, dataset: str) -> dict:
    """The vectors the Embeddings view projects: every real item of the item space GBR used, plus every
    [FILL] token of cat.FILL_VECTORS when it exists (title space and items only otherwise)."""
    inputs = projection_inputs(store, dataset)
    space = load_item_space(dataset, inputs["item_space"], store)
    fill_ids, fill_vecs = np.array([], dtype=str), np.zeros((0, space.vectors.shape[1]), np.float32)
    if inputs["fill_vectors"] is not None:
        z = store.read(dataset, cat.FILL_VECTORS)
        fill_ids, fill_vecs = z["fill_ids"].astype(str), z["vectors"].astype(np.float32)
    return {"point_ids": np.concatenate([space.item_ids, fill_ids]),
            "token_types": np.array(["item"] * len(space.item_ids) + ["fill"] * len(fill_ids)),
            "vectors": np.vstack([space.vectors, fill_vecs]), "pool_ids": space.item_ids,
            "pool_vectors": space.vectors, "inputs": inputs, "coverage": space.coverage()}


def compute_projection(point_ids, token_types, vectors: np.ndarray, pool_ids, pool_vectors: np.ndarray,
                       params: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """UMAP of `vectors` (one row per point) with exact-cosine neighbours among the pool items.
    Returns (frame, run facts: the UMAP parameters used and the fit time)."""
    import umap  # slow import (numba compiles on first use): only when a projection must be computed

    params = {**UMAP_PARAMS, **(params or {})}
    point_ids = np.asarray(point_ids).astype(str)
    t0 = time.perf_counter()
    # UMAP needs fewer neighbours than points (tiny fixture stores)
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
    return df, {"umap": {**params, "n_neighbors": n_neighbors}, "fit_seconds": round(fit_s, 1)}


def build_embedding_projection(store: ArtifactStore, dataset: str, force: bool = False) -> tuple[pd.DataFrame, str]:
    """The projection of the current inputs: read when stored under their key, else computed and written.
    Returns (frame, key)."""
    x = embedding_inputs(store, dataset)
    key = inputs_key(x["inputs"])
    if store.exists(dataset, cat.UMAP, inputs=key) and not force:
        return store.read(dataset, cat.UMAP, inputs=key), key
    df, facts = compute_projection(x["point_ids"], x["token_types"], x["vectors"], x["pool_ids"], x["pool_vectors"])
    store.write(dataset, cat.UMAP, df, {
        "inputs_key": key, "inputs": x["inputs"], "item_space_coverage": x["coverage"],
        "config": {"umap": facts["umap"], "neighbours": f"top-{NEIGHBOURS_K} exact cosine in the original space "
                   "among the pool items"},
        "points": int(len(df)), "points_by_type": {k: int(v) for k, v in df["token_type"].value_counts().items()},
        "fit_seconds": facts["fit_seconds"]}, inputs=key)
    return df, key


def _key_of(filename: str) -> str:
    prefix, suffix = cat.UMAP.filename.split("{inputs}")
    m = re.fullmatch(re.escape(prefix) + r"(.+)" + re.escape(suffix), filename)
    if m is None:
        raise ValueError(f"{filename} is not a UMAP projection file ({cat.UMAP.filename})")
    return m.group(1)


def latest_projection(store: ArtifactStore, dataset: str) -> str | None:
    """Key of the most recently written projection of `dataset` (read it with `read_projection`), or None."""
    found = [a for a in store.list(dataset, cat.UMAP.stage) if a.entry is cat.UMAP]
    if not found:
        return None
    newest = max(found, key=lambda a: (a.provenance.get("created") or "", a.path.stat().st_mtime))
    return _key_of(newest.name)


def read_projection(store: ArtifactStore, dataset: str, key: str) -> tuple[pd.DataFrame, dict]:
    """(frame, provenance) of the projection stored under `key`."""
    return store.read(dataset, cat.UMAP, inputs=key), store.provenance(dataset, cat.UMAP, inputs=key)


def stale_inputs(store: ArtifactStore, dataset: str, key: str) -> list[str]:
    """Which inputs changed since the projection `key` was made (empty: it is current). Compares the stored
    inputs with the current ones field by field; MissingArtifact when a current input is absent."""
    if key == current_projection_key(store, dataset):
        return []
    stored = store.provenance(dataset, cat.UMAP, inputs=key).get("inputs") or {}
    now = projection_inputs(store, dataset)
    return sorted(f for f in set(now) | set(stored) if now.get(f) != stored.get(f)) or ["inputs key"]
