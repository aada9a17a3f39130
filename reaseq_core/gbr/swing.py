"""Swing item-to-item similarity (Yang et al. 2020, "Large Scale Product Graph Construction for
Recommendation in E-commerce"), one of the off-the-shelf recommenders the paper names for the model-based
filter of section 3.1.

    swing(i, j) = sum over unordered user pairs {u, v} with u != v, both in U_i ∩ U_j, of
                  w_u * w_v / (alpha + |I_u ∩ I_v|),        w_u = (|I_u| + user_offset) ** -beta

U_i = users who interacted with item i (capped at `max_users_per_item`, sampled with a seed, so popular
items stay cheap); I_u = items of user u. Two users who share *only* i and j are strong evidence that i and
j belong together; users who share many items (a "swing" that is everywhere) count less.

Vectorised per item: with R the binary user x item matrix and C = R R^T (user overlaps), for the users
U of item i and the items L they touched, swing(i, L) = 1/2 * colsum((W @ R[U, L]) * R[U, L]) where
W[u, v] = w_u w_v / (alpha + C[u, v]) with a zero diagonal.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm


@dataclass
class SwingConfig:
    alpha: float = 1.0
    beta: float = 0.5
    user_offset: float = 5.0
    max_users_per_item: int = 200
    top_k: int = 200          # neighbours kept per item
    seed: int = 0


@dataclass
class SwingModel:
    """Top-k Swing neighbours of every item as a sparse row matrix (row i = similarities of item i)."""
    item_ids: np.ndarray
    similarity: sp.csr_matrix
    config: SwingConfig

    def rank_of(self, from_idx: np.ndarray, to_idx: np.ndarray) -> np.ndarray:
        """1-based rank of item `to` among the neighbours of item `from`.

        An item with no Swing similarity to `from` (never co-occurs with it in another user's history)
        gets the worst rank, the catalogue size: under collaborative coherence it is implausible.
        """
        n = len(self.item_ids)
        out = np.full(len(from_idx), n, dtype=np.int64)
        S = self.similarity
        for k, (a, b) in enumerate(zip(from_idx, to_idx)):
            row = S.data[S.indptr[a]:S.indptr[a + 1]]
            cols = S.indices[S.indptr[a]:S.indptr[a + 1]]
            hit = np.nonzero(cols == b)[0]
            if hit.size:
                out[k] = 1 + int((row > row[hit[0]]).sum())
        return out


def interaction_matrix(interactions: pd.DataFrame, item_ids: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary user x item CSR matrix (repeats collapse to 1) and the user ids of its rows."""
    index = pd.Index(item_ids)
    cols = index.get_indexer(interactions["item_id"])
    if (cols < 0).any():
        bad = interactions["item_id"].to_numpy()[cols < 0][0]
        raise ValueError(f"interactions: item_id {bad!r} is not in the item table")
    users, rows = np.unique(interactions["user_id"].to_numpy(), return_inverse=True)
    R = sp.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(len(users), len(item_ids)))
    R.data[:] = 1.0
    R.sum_duplicates()
    R.data[:] = 1.0
    return R, users


def fit_swing(interactions: pd.DataFrame, item_ids: np.ndarray, config: SwingConfig | None = None,
              show_progress: bool = True) -> SwingModel:
    cfg = config or SwingConfig()
    rng = np.random.default_rng(cfg.seed)
    R, _ = interaction_matrix(interactions, item_ids)
    n_items = R.shape[1]
    items_per_user = np.asarray(R.sum(1)).ravel()
    w = (items_per_user + cfg.user_offset) ** (-cfg.beta)
    C = (R @ R.T).tocsr()                       # |I_u ∩ I_v|
    Rc = R.tocsc()
    rows, cols, vals = [], [], []
    for i in tqdm(range(n_items), desc="swing", disable=not show_progress, mininterval=2):
        U = Rc.indices[Rc.indptr[i]:Rc.indptr[i + 1]]
        if len(U) > cfg.max_users_per_item:
            U = np.sort(rng.choice(U, cfg.max_users_per_item, replace=False))
        if len(U) < 2:
            continue
        sub = R[U]
        L = np.unique(sub.indices)
        L = L[L != i]
        if L.size == 0:
            continue
        M = sub[:, L].toarray()                                  # [|U|, |L|]
        W = np.outer(w[U], w[U]) / (cfg.alpha + C[U][:, U].toarray())
        np.fill_diagonal(W, 0.0)
        s = 0.5 * ((W @ M) * M).sum(0)                           # unordered pairs {u, v}
        keep = np.nonzero(s > 0)[0]
        if keep.size > cfg.top_k:
            keep = keep[np.argpartition(-s[keep], cfg.top_k - 1)[:cfg.top_k]]
        rows.append(np.full(keep.size, i))
        cols.append(L[keep])
        vals.append(s[keep])
    if rows:
        S = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_items, n_items))
    else:
        S = sp.csr_matrix((n_items, n_items))
    S.sort_indices()
    return SwingModel(np.asarray(item_ids), S, cfg)
