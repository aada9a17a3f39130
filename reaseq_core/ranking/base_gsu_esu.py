"""Base model of Tables 3-4: a GSU-ESU ranker whose GSU is a category rule (ReaSeq Sec. 4.1.2).

"The baseline configuration utilizes a two-stage GSU-ESU paradigm, where the General Search Unit (GSU)
relies on simple category-based retrieval rules" (SIM-style hard search):
    S_GSU = the K most recent history items whose category equals the target's category
The Exact Search Unit is the target attention of Eq. 2-3, used by every variant:
    Q = W_Q x_target,  K = W_K [x_b1; ...; x_bN],  V = W_V [x_b1; ...; x_bN],   h_u^b = MultiHeadAttn(Q, K, V)
A target with no same-category history gets h_u^b = 0 (nothing retrieved), not attention over padding.
The full Base model is `reaseq_ranker.ReaSeqRanker(gsu="category")` with no compression and no SIDs.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import multi_head_attention
from .data import PAD


def category_gsu(history: torch.Tensor, target: torch.Tensor, item_category: torch.Tensor,
                 k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(selected rows [B, k], valid [B, k]): the k most recent history items in the target's category.

    History is right-aligned (most recent last), so 'most recent' = largest column index; non-matching
    and padding positions score -inf before top-K and come back marked invalid.
    """
    k = min(k, history.shape[1])
    match = (item_category[history] == item_category[target].unsqueeze(1)) & (history != PAD)
    match &= item_category[history] != 0                       # unknown category matches nothing
    recency = torch.arange(history.shape[1], dtype=torch.float32).expand(history.shape)
    score = recency.masked_fill(~match, float("-inf"))
    top, idx = score.topk(k, dim=1)
    return history.gather(1, idx), torch.isfinite(top)


class TargetAttentionESU(nn.Module):
    """Exact Search Unit: multi-head target attention over the GSU's items (Eq. 2-3)."""

    def __init__(self, x_dim: int, d_model: int = 32, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.w_q = nn.Linear(x_dim, d_model, bias=False)
        self.w_k = nn.Linear(x_dim, d_model, bias=False)
        self.w_v = nn.Linear(x_dim, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model)

    def attend(self, x_target: torch.Tensor, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Attention given already-projected keys/values [B, N, d_model]."""
        h = multi_head_attention(self.w_q(x_target).unsqueeze(1), k, v, valid, self.heads).squeeze(1)
        return self.out(h) * valid.any(1, keepdim=True)        # nothing retrieved -> h_u^b = 0

    def forward(self, x_target: torch.Tensor, x_hist: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """x_target [B, x_dim], x_hist [B, N, x_dim], valid [B, N] -> h_u^b [B, d_model]."""
        return self.attend(x_target, self.w_k(x_hist), self.w_v(x_hist), valid)
