"""Retrieval-based modelling (ReaSeq Sec. 2.2.1): semantic GSU top-N + ESU, and its batch serving path.

GSU, Eq. 1:   S_GSU = TopK({ sim(h_target, h_bt) }_{t=1..T}, N),   sim = cosine of item vectors
              (title or knowledge vectors; padding positions are scored -inf BEFORE the top-K, so a short
              history never "retrieves" padding -- those slots come back marked invalid).
ESU, Eq. 2-3: multi-head target attention over x_i = [sum_l e_i^(l); f_i] of the retrieved items
              (`base_gsu_esu.TargetAttentionESU`).

Serving optimisation ("System Deployment and Optimization"): for one request (one user, C candidates)
the retrieved Top-K lists of all candidates are merged and de-duplicated; x_i and the K / V projections
are computed once per unique history item; a gather index maps every candidate's slots onto the
batch-wide K / V tensors (Batch Gather). `esu_dedup_gather` implements it, `esu_naive` is the
per-candidate reference; tests/test_ranking_models.py proves they give the same scores and
bench/bench_esu_dedup.py measures the speed-up.
"""
from __future__ import annotations

import torch

from .base_gsu_esu import TargetAttentionESU
from .data import PAD


def semantic_gsu_topk(history: torch.Tensor, target: torch.Tensor, unit_vectors: torch.Tensor,
                      k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(selected rows [B, k], valid [B, k]) by cosine between target and history vectors (Eq. 1).

    unit_vectors: [R, d] L2-normalised rows of the item table (row 0 = padding), so cosine = dot product.
    """
    k = min(k, history.shape[1])
    sim = torch.einsum("bld,bd->bl", unit_vectors[history], unit_vectors[target])
    sim = sim.masked_fill(history == PAD, float("-inf"))        # padding can never be retrieved
    top, idx = sim.topk(k, dim=1)
    return history.gather(1, idx), torch.isfinite(top)


def esu_naive(esu: TargetAttentionESU, encoder, target_rows: torch.Tensor, gsu_rows: torch.Tensor,
              valid: torch.Tensor) -> torch.Tensor:
    """Reference path: every candidate encodes and projects its own K retrieved items ([C, K] work)."""
    x_hist = encoder(gsu_rows)                                   # [C, K, x_dim]
    return esu(encoder(target_rows), x_hist, valid)


def esu_dedup_gather(esu: TargetAttentionESU, encoder, target_rows: torch.Tensor, gsu_rows: torch.Tensor,
                     valid: torch.Tensor) -> torch.Tensor:
    """Serving path: merge + dedup the retrieved items of all candidates, project K/V once, gather."""
    unique_rows, gather_index = torch.unique(gsu_rows, return_inverse=True)   # gather_index: [C, K]
    x_unique = encoder(unique_rows)                              # [U, x_dim], U << C * K at real overlap
    # K and V projected once per unique item, side by side so one Batch Gather fetches both
    kv_unique = torch.cat([esu.w_k(x_unique), esu.w_v(x_unique)], -1)          # [U, 2 d_model]
    kv = kv_unique.index_select(0, gather_index.reshape(-1)).view(*gather_index.shape, -1)
    k, v = kv.chunk(2, dim=-1)
    return esu.attend(encoder(target_rows), k, v, valid)
