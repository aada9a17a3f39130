"""Compression-based modelling (ReaSeq Sec. 2.2.2): M learnable interest anchors.

Stage 1, cross-attention compression (the anchors attend over the FULL sequence, so every history item
gets gradient -- the paper's answer to the GSU's gradient isolation):
    Q_anchor = W_Q^anchor A,  K_seq = W_K^seq [x_b1; ...; x_bT],  V_seq = W_V^seq [...]
    A~ = MultiHeadAttn(Q_anchor, K_seq, V_seq) in R^{M x d}
Stage 2, target-aware extraction:
    Q_target = W_Q^target x_target,  K_anchor = W_K^anchor A~,  V_anchor = W_V^anchor A~
    h_u^a = MultiHeadAttn(Q_target, K_anchor, V_anchor) in R^d
A = {a_1..a_M} is initialised randomly and learned end-to-end. Padding positions of the sequence are
masked out of stage 1.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import multi_head_attention


class InterestAnchorCompression(nn.Module):
    def __init__(self, x_dim: int, d_model: int = 32, n_anchors: int = 4, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.interest_anchors = nn.Parameter(torch.randn(n_anchors, d_model) * d_model ** -0.5)   # A
        self.w_q_anchor = nn.Linear(d_model, d_model, bias=False)
        self.w_k_seq = nn.Linear(x_dim, d_model, bias=False)
        self.w_v_seq = nn.Linear(x_dim, d_model, bias=False)
        self.w_q_target = nn.Linear(x_dim, d_model, bias=False)
        self.w_k_anchor = nn.Linear(d_model, d_model, bias=False)
        self.w_v_anchor = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model)

    def compress(self, x_seq: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Stage 1: x_seq [B, T, x_dim], valid [B, T] -> compressed anchors A~ [B, M, d]."""
        b = x_seq.shape[0]
        q = self.w_q_anchor(self.interest_anchors).unsqueeze(0).expand(b, -1, -1)
        return multi_head_attention(q, self.w_k_seq(x_seq), self.w_v_seq(x_seq), valid, self.heads)

    def forward(self, x_target: torch.Tensor, x_seq: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """h_u^a [B, d] (zero for a user with an empty sequence)."""
        anchors = self.compress(x_seq, valid)                                          # A~
        anchor_valid = valid.any(1, keepdim=True).expand(-1, anchors.shape[1])
        h = multi_head_attention(self.w_q_target(x_target).unsqueeze(1), self.w_k_anchor(anchors),
                                 self.w_v_anchor(anchors), anchor_valid, self.heads).squeeze(1)
        return self.out(h) * valid.any(1, keepdim=True)
