"""Exact cosine nearest neighbours in the original embedding space.

The workbench shows neighbours of an item or a [FILL] token (paper Section 4.2, Figure 6: "retrieve the
top-one real items from the item pool based on cosine similarity"). They are computed here, by brute force
on the original vectors: a 2-D projection distorts distances, so it is never used for neighbours.
"""
from __future__ import annotations

import numpy as np

from ..representation.item_space import l2_normalise


def exact_cosine_neighbours(queries: np.ndarray, pool_ids, pool_vectors: np.ndarray, k: int = 10,
                            exclude_ids=None, batch: int = 2048) -> list[list[tuple[str, float]]]:
    """For each query row, the k pool items of highest cosine similarity, best first, as (item_id, cosine).

    exclude_ids: optional sequence (one per query, or None) of an item id that must not be returned for
    that query (an item is not its own neighbour).
    """
    pool_ids = np.asarray(pool_ids).astype(str)
    q = l2_normalise(np.atleast_2d(queries))
    p = l2_normalise(pool_vectors)
    if q.shape[1] != p.shape[1]:
        raise ValueError(f"query dim {q.shape[1]} != pool dim {p.shape[1]}: vectors from different spaces")
    index = {iid: i for i, iid in enumerate(pool_ids)}
    kk = min(k + 1, len(pool_ids))
    out: list[list[tuple[str, float]]] = []
    for start in range(0, len(q), batch):
        sims = q[start:start + batch] @ p.T
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        for r in range(sims.shape[0]):
            cand = top[r][np.argsort(-sims[r, top[r]], kind="stable")]
            ex = exclude_ids[start + r] if exclude_ids is not None else None
            ex_idx = index.get(str(ex)) if ex is not None else None
            row = [(str(pool_ids[j]), float(sims[r, j])) for j in cand if j != ex_idx][:k]
            out.append(row)
    return out
