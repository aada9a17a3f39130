"""HR@k and SM-HR@k: the representation metrics of the paper's Tables 1 and 2 (section 4.1.1).

HR@k (Table 1): for a user with history items x_1..x_N and target y, retrieve the top-k cosine
neighbours of every x_n from the item pool; the user is a hit when y is in the union of those N*k
items. HR@k = share of users that hit.

SM-HR@k (Table 2): for a query item q, retrieve its top-k neighbours (q itself excluded); a hit when
one of them shares q's product-line id. SM-HR@k = share of queries that hit.

Macro recall = the mean of the metric over the k list, after capping the list by the pool size
(PROTOCOLS.md). Neighbours come from faiss exact inner-product search (IndexFlatIP) on L2-normalised
vectors, i.e. exact cosine. A history item is never its own neighbour (it is excluded like the SM-HR
query), so a target that repeats a history item is found only through the other history items.
"""
from __future__ import annotations

import numpy as np

from .item_space import l2_normalise

HR_KS = (30, 50, 100, 200, 500, 1000, 2000)        # Table 1
SM_HR_KS = (1, 5, 10, 30, 50, 100, 200)            # Table 2


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalised (item_space's one normaliser), C-contiguous for faiss."""
    return np.ascontiguousarray(l2_normalise(vectors))


def capped_ks(ks, pool_size: int) -> list[int]:
    """The k values a pool of `pool_size` items can answer: a query sees pool_size - 1 other items."""
    return [k for k in ks if k <= pool_size - 1]


def neighbours_excluding_self(vectors: np.ndarray, queries: np.ndarray, k: int, batch: int = 2048) -> np.ndarray:
    """Indices [len(queries), k] of each query row's top-k cosine neighbours in `vectors`, itself excluded.

    `queries` are row indices into `vectors`. Exact search (faiss IndexFlatIP on normalised vectors).
    """
    import faiss
    v = normalise(vectors)
    n = v.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k={k} needs 1 <= k <= pool size - 1 = {n - 1}")
    index = faiss.IndexFlatIP(v.shape[1])
    index.add(v)
    queries = np.asarray(queries, dtype=np.int64)
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), batch):
        q = queries[s:s + batch]
        _, nn = index.search(v[q], k + 1)
        for r, (qi, row) in enumerate(zip(q, nn)):
            # drop the query itself wherever ties placed it; if ties pushed it out, drop the last
            keep = row[row != qi]
            out[s + r] = keep[:k]
    return out


def first_hit_rank(neighbours: np.ndarray, is_hit: np.ndarray) -> np.ndarray:
    """Per row, the 0-based rank of the first hit among its neighbours, or a value >= row length if none."""
    width = neighbours.shape[1]
    any_hit = is_hit.any(axis=1)
    return np.where(any_hit, is_hit.argmax(axis=1), width)


def hr_hits(vectors: np.ndarray, histories: list[np.ndarray], targets: np.ndarray, ks) -> np.ndarray:
    """Boolean [n_users, len(ks)]: does the union of top-k neighbours of the user's history hold the target?

    histories[u] = row indices (into `vectors`) of user u's history items; targets[u] = the target's row.
    """
    ks = list(ks)
    if not ks:
        return np.zeros((len(targets), 0), dtype=bool)
    kmax = max(ks)
    queries = np.unique(np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])) if histories else \
        np.zeros(0, np.int64)
    nn = neighbours_excluding_self(vectors, queries, kmax) if len(queries) else np.zeros((0, kmax), np.int64)
    row_of = {int(q): r for r, q in enumerate(queries)}
    best = np.full(len(targets), kmax, dtype=np.int64)    # best (smallest) rank of the target over the history
    for u, (hist, y) in enumerate(zip(histories, targets)):
        rows = nn[[row_of[int(h)] for h in hist]]
        best[u] = first_hit_rank(rows, rows == y).min()
    return best[:, None] < np.asarray(ks)[None, :]


def sm_hr_hits(vectors: np.ndarray, lines: np.ndarray, queries: np.ndarray, ks) -> np.ndarray:
    """Boolean [n_queries, len(ks)]: does a top-k neighbour of the query share its product line?"""
    ks = list(ks)
    if not ks:
        return np.zeros((len(queries), 0), dtype=bool)
    lines = np.asarray(lines, dtype=object)
    nn = neighbours_excluding_self(vectors, queries, max(ks))
    same = lines[nn] == lines[np.asarray(queries)][:, None]
    rank = first_hit_rank(nn, same)
    return rank[:, None] < np.asarray(ks)[None, :]


def rates(hits: np.ndarray, ks) -> dict[str, float]:
    """{'@k': hit rate} for every k, plus 'macro' = their mean (fractions, not percent)."""
    r = {f"@{k}": float(hits[:, j].mean()) if len(hits) else float("nan") for j, k in enumerate(ks)}
    r["macro"] = float(np.mean([r[f"@{k}"] for k in ks])) if ks else float("nan")
    return r


def bootstrap_std(scores: np.ndarray, samples: np.ndarray, chunk: int = 100) -> np.ndarray:
    """Std over bootstrap resamples of each column's mean.

    `scores` is [n, c] (per user or query: hit per k, macro score, or a paired difference between arms);
    `samples` is [B, n] row indices. Sharing `samples` across the arms of one pool pairs the resamples.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    if len(scores) < 2 or len(samples) < 2:
        return np.full(scores.shape[1], np.nan)
    means = np.concatenate([scores[samples[s:s + chunk]].mean(axis=1) for s in range(0, len(samples), chunk)])
    return means.std(axis=0, ddof=1)
