"""Item, user-profile and context features of the ranking models, and the item encoder x_i.

Paper Sec. 2.2.1 / 2.2.2:  x_i = [ sum_{l=1..L} e_i^(l) ; f_i ]
- e_i^(l): embedding of the item's l-th semantic ID from a re-initialised codebook C~^(l) (learned here
  from scratch, one table per level), used when the variant has "+SID".
- f_i: other item features -- item-id, brand, primary and leaf category embeddings, and dense
  log-price, log-popularity (train split only, so no test event leaks in), log-sales-rank with
  missing-value flags. A variant "+ item vectors" (Table 4) appends W_h h_i, h_i the title or knowledge
  vector of the item.
- f_u (user profile): log(1 + history length at the sample) -- known at serving time.
- f^c (context): log(1 + days since the user's previous event).
Row 0 of every table is padding; rows after the catalogue (GBR fills) get 'unknown' features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import catalogue
from .data import CTRData

CATEGORICAL = ("item", "brand", "primary_category", "leaf_category")


@dataclass
class ItemFeatureTable:
    categorical: dict            # name -> int64 [R] (0 = padding / unknown)
    vocab: dict                  # name -> vocabulary size (incl. 0)
    dense: np.ndarray            # float32 [R, n_dense]
    dense_names: list
    sid: np.ndarray | None       # int64 [R, L] (code + 1; 0 = padding) or None
    sid_vocab: int


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Category -> 1..V (0 reserved for padding/unknown/missing)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return (codes + 1).astype(np.int64), len(uniques) + 1


def _standardise(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if not ok.any():
        return np.zeros_like(x)
    mu, sd = x[ok].mean(), x[ok].std() or 1.0
    return np.where(ok, (x - mu) / sd, 0.0)


def build_item_features(dataset, data: CTRData, sids: pd.DataFrame | None = None) -> ItemFeatureTable:
    """Feature rows aligned with `data.table` (row r = item data.item_ids[r - 1])."""
    n_rows = len(data.table)
    items = dataset.items.set_index("item_id").reindex(data.item_ids)
    cat, vocab = {}, {}
    cat["item"], vocab["item"] = np.arange(n_rows, dtype=np.int64), n_rows
    for name, col in [("brand", "brand"), ("primary_category", "primary_category"), ("leaf_category", "leaf_category")]:
        codes, v = _codes(items[col].reset_index(drop=True))
        cat[name], vocab[name] = np.zeros(n_rows, np.int64), v
        cat[name][1:1 + len(codes)] = codes
    cat["item"][1 + len(data.item_ids):] = 0           # fills have no item id

    inter = dataset.interactions
    n = inter.groupby("user_id")["position"].transform("max") + 1
    train_events = inter[inter["position"] < n - 2]
    pop = train_events["item_id"].value_counts().reindex(data.item_ids).fillna(0).to_numpy(float)
    price = items["price"].to_numpy(float)
    rank = items["sales_rank"].to_numpy(float)
    cols = [_standardise(np.log1p(pop)), _standardise(np.log1p(price)), np.isfinite(price).astype(float),
            _standardise(np.log1p(rank)), np.isfinite(rank).astype(float)]
    dense = np.zeros((n_rows, len(cols)), np.float32)
    dense[1:1 + len(data.item_ids)] = np.stack(cols, 1)
    names = ["log_popularity_train", "log_price", "has_price", "log_sales_rank", "has_sales_rank"]

    sid_arr, sid_vocab = None, 0
    if sids is not None:
        level_cols = sorted([c for c in sids.columns if c.startswith("sid_")], key=lambda c: int(c[4:]))
        s = sids.set_index("item_id").reindex(data.item_ids)
        if s[level_cols].isna().any().any():
            missing = s.index[s[level_cols].isna().any(axis=1)][:3].tolist()
            raise ValueError(f"the semantic IDs ({catalogue.SIDS.stage}/{catalogue.SIDS.filename}) lack items used by the "
                             f"ranker, e.g. {missing}")
        sid_arr = np.zeros((n_rows, len(level_cols)), np.int64)
        sid_arr[1:1 + len(data.item_ids)] = s[level_cols].to_numpy(np.int64) + 1
        sid_vocab = int(sid_arr.max()) + 1
    return ItemFeatureTable(cat, vocab, dense, names, sid_arr, sid_vocab)


def add_user_context_features(dataset, data: CTRData) -> None:
    """data.sample_features["user_context"] = float32 [N, 2]: f_u = log1p(history length),
    f^c = log1p(days since the previous event)."""
    inter = dataset.interactions[["user_id", "position", "timestamp"]]
    s = data.samples[["user_id", "position"]]
    t_now = s.merge(inter, on=["user_id", "position"], how="left")["timestamp"].to_numpy(float)
    prev = inter.assign(position=inter["position"] + 1)
    t_prev = s.merge(prev, on=["user_id", "position"], how="left")["timestamp"].to_numpy(float)
    gap_days = np.clip((t_now - t_prev) / 86400.0, 0, None)
    feats = np.stack([np.log1p(s["position"].to_numpy(float)), np.log1p(np.nan_to_num(gap_days))], 1)
    data.sample_features["user_context"] = feats.astype(np.float32)


class ItemEncoder(nn.Module):
    """x_i = [sum_l e_i^(l) ; f_i (; W_h h_i)] for table rows; row 0 (padding) is masked by the callers."""

    def __init__(self, feats: ItemFeatureTable, vectors: np.ndarray | None = None, use_sid: bool = False,
                 id_dim: int = 16, cat_dim: int = 8, sid_dim: int = 16, dense_dim: int = 8, vec_dim: int = 16):
        super().__init__()
        for name in CATEGORICAL:
            self.register_buffer(f"cat_{name}", torch.as_tensor(feats.categorical[name]))
        self.register_buffer("dense", torch.as_tensor(feats.dense))
        self.embeddings = nn.ModuleDict({name: nn.Embedding(feats.vocab[name], id_dim if name == "item" else cat_dim,
                                                            padding_idx=0) for name in CATEGORICAL})
        self.dense_proj = nn.Linear(feats.dense.shape[1], dense_dim)
        self.use_sid = use_sid
        dim = id_dim + cat_dim * (len(CATEGORICAL) - 1) + dense_dim
        if use_sid:
            if feats.sid is None:
                raise ValueError("use_sid=True but no semantic IDs were given")
            self.register_buffer("sid", torch.as_tensor(feats.sid))
            # one re-initialised codebook C~^(l) per level (the RQ-VAE's own codes are not reused)
            self.sid_embeddings = nn.ModuleList([nn.Embedding(feats.sid_vocab, sid_dim, padding_idx=0)
                                                 for _ in range(feats.sid.shape[1])])
            dim += sid_dim
        self.use_vectors = vectors is not None
        if self.use_vectors:
            self.register_buffer("vectors", torch.as_tensor(vectors, dtype=torch.float32))
            self.vec_proj = nn.Linear(self.vectors.shape[1], vec_dim)
            dim += vec_dim
        self.dim = dim

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.use_sid:
            codes = self.sid[rows]
            parts.append(sum(emb(codes[..., l]) for l, emb in enumerate(self.sid_embeddings)))
        parts += [self.embeddings[name](getattr(self, f"cat_{name}")[rows]) for name in CATEGORICAL]
        parts.append(self.dense_proj(self.dense[rows]))
        if self.use_vectors:
            parts.append(self.vec_proj(self.vectors[rows]))
        return torch.cat(parts, -1)
