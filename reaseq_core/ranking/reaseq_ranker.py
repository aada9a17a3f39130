"""The reasoning-enhanced CTR ranker of ReaSeq Sec. 2.2: dual path (Eq. 4), trained with BCE (Eq. 5).

    h_u^b  = ESU(GSU(B_u, target))                   retrieval path (Sec. 2.2.1; GSU = category rule in
                                                     the Base model, semantic top-N in "Retrieval")
    h_u^a  = InterestAnchors(B_u, target)            compression path (Sec. 2.2.2), when enabled
    h_final = [h_u^b, h_u^a];   y_hat = MLP([h_final; x_target; f_u; f^c])          (Eq. 4)
    L_CTR  = BCE(y, y_hat)                                                            (Eq. 5, in train.py)
with x_i = [sum_l e_i^(l); f_i] (features.ItemEncoder; "+SID" adds the semantic-ID sum).

The Table 3 / Table 4 variants are configurations of this one model (VARIANTS). During training, x_i is
computed once per distinct table row of the batch and gathered -- the same dedup idea as the serving path.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..representation.item_space import l2_normalise
from .base_gsu_esu import TargetAttentionESU, category_gsu
from .compression import InterestAnchorCompression
from .data import PAD
from .features import ItemEncoder, ItemFeatureTable
from .retrieval import semantic_gsu_topk

# name -> configuration; "vectors" = item vectors appended to f_i (Table 4 arms); "space" = the item vectors
# of the semantic GSU and the SIDs: title vectors, or knowledge vectors where items have them (the paper's MAKR)
VARIANTS = {
    "Base": dict(gsu="category", compression=False, use_sid=False, vectors=None),
    "Retrieval": dict(gsu="semantic", compression=False, use_sid=False, vectors=None),
    "Compression": dict(gsu="category", compression=True, use_sid=False, vectors=None),
    "Compression+SID": dict(gsu="category", compression=True, use_sid=True, vectors=None),
    "Retrieval+Compression+SID": dict(gsu="semantic", compression=True, use_sid=True, vectors=None),
    "Base+title vectors": dict(gsu="category", compression=False, use_sid=False, vectors="title"),
    "Base+knowledge vectors": dict(gsu="category", compression=False, use_sid=False, vectors="knowledge"),
    "Retrieval (knowledge)": dict(gsu="semantic", compression=False, use_sid=False, vectors=None, space="knowledge"),
    "Retrieval+Compression+SID (knowledge)": dict(gsu="semantic", compression=True, use_sid=True, vectors=None,
                                                  space="knowledge"),
}


def gsu_key(gsu: str, space: str = "title") -> str:
    """Name of a precomputed GSU result in the batch: gsu_category, gsu_semantic (title vectors),
    gsu_semantic_knowledge (knowledge vectors)."""
    return f"gsu_{gsu}" if space == "title" or gsu == "category" else f"gsu_{gsu}_{space}"


class ReaSeqRanker(nn.Module):
    def __init__(self, feats: ItemFeatureTable, gsu_vectors: np.ndarray, *, gsu: str = "category",
                 compression: bool = False, use_sid: bool = False, feature_vectors: np.ndarray | None = None,
                 gsu_k: int = 10, n_anchors: int = 4, d_model: int = 32, heads: int = 2,
                 mlp_hidden: tuple[int, ...] = (64, 32), n_user_context: int = 2, space: str = "title"):
        super().__init__()
        if gsu not in ("category", "semantic"):
            raise ValueError(f"gsu must be 'category' or 'semantic', not {gsu!r}")
        self.gsu, self.gsu_k = gsu, gsu_k
        self.gsu_key = gsu_key(gsu, space)
        self.encoder = ItemEncoder(feats, vectors=feature_vectors, use_sid=use_sid)
        if gsu == "category":
            self.register_buffer("item_category", torch.as_tensor(feats.categorical["primary_category"]))
        else:
            # cosine = dot of unit vectors
            self.register_buffer("unit_vectors", torch.as_tensor(l2_normalise(gsu_vectors)))
        self.esu = TargetAttentionESU(self.encoder.dim, d_model, heads)
        self.compression = InterestAnchorCompression(self.encoder.dim, d_model, n_anchors, heads) if compression else None
        in_dim = d_model * (2 if compression else 1) + self.encoder.dim + n_user_context
        layers, prev = [], in_dim
        for h in mlp_hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        self.head = nn.Sequential(*layers, nn.Linear(prev, 1))

    def retrieve(self, history: torch.Tensor, target: torch.Tensor, batch: dict | None = None):
        """GSU rows/valid; taken from the batch when precomputed (the GSU has no parameters, so it runs
        once per sample like the paper's separate Top-K Retrieval Service -- see precompute_gsu)."""
        if batch is not None and f"{self.gsu_key}_rows" in batch:
            rows, valid = batch[f"{self.gsu_key}_rows"], batch[f"{self.gsu_key}_valid"]
            return rows[:, : self.gsu_k], valid[:, : self.gsu_k]
        if self.gsu == "category":
            return category_gsu(history, target, self.item_category, self.gsu_k)
        return semantic_gsu_topk(history, target, self.unit_vectors, self.gsu_k)

    def forward(self, batch: dict) -> torch.Tensor:
        history, target = batch["history"], batch["target"]
        gsu_rows, gsu_valid = self.retrieve(history, target, batch)
        # encode each distinct row of the batch once, then gather
        wanted = [target, gsu_rows.reshape(-1)] + ([history.reshape(-1)] if self.compression is not None else [])
        rows, inverse = torch.unique(torch.cat(wanted), return_inverse=True)
        x = self.encoder(rows)[inverse]
        b = target.shape[0]
        x_target = x[:b]
        x_gsu = x[b: b + gsu_rows.numel()].view(*gsu_rows.shape, -1)
        parts = [self.esu(x_target, x_gsu, gsu_valid)]                               # h_u^b
        if self.compression is not None:
            x_seq = x[b + gsu_rows.numel():].view(*history.shape, -1)
            parts.append(self.compression(x_target, x_seq, history != PAD))           # h_u^a
        parts += [x_target, batch["user_context"]]                                     # x_target; f_u; f^c
        return self.head(torch.cat(parts, -1)).squeeze(-1)


def precompute_gsu(data, feats: ItemFeatureTable, k: int = 10, chunk: int = 2048,
                   spaces: dict[str, np.ndarray] | None = None) -> None:
    """Run the GSUs once for every sample (same functions as the model) and store the results in
    data.sample_features as gsu_category_*, gsu_semantic_* (title vectors, data.table) and, for each extra
    vector table in `spaces` (name -> [R, d] on the table rows), gsu_semantic_<name>_*."""
    category = torch.as_tensor(feats.categorical["primary_category"])
    units = {gsu_key("semantic"): torch.as_tensor(l2_normalise(data.table))}
    for name, table in (spaces or {}).items():
        units[gsu_key("semantic", name)] = torch.as_tensor(l2_normalise(table))
    out = {f"{g}_{w}": [] for g in ["gsu_category", *units] for w in ("rows", "valid")}
    for s in range(0, len(data.target), chunk):
        h = torch.as_tensor(data.history[s:s + chunk, : data.max_len])
        t = torch.as_tensor(data.target[s:s + chunk])
        results = [("gsu_category", category_gsu(h, t, category, k))]
        results += [(key, semantic_gsu_topk(h, t, unit, k)) for key, unit in units.items()]
        for g, (rows, valid) in results:
            out[f"{g}_rows"].append(rows.numpy())
            out[f"{g}_valid"].append(valid.numpy())
    for name, parts in out.items():
        data.sample_features[name] = np.concatenate(parts)
