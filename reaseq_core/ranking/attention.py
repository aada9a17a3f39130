"""Masked multi-head attention shared by the ESU (paper Eq. 2-3) and the interest anchors (Sec. 2.2.2).

Queries, keys and values arrive already projected (W_Q, W_K, W_V live in the modules that own them, so
the ESU can project K/V once per unique item in its serving path). Masked keys get a logit of -inf
before the softmax; a query whose keys are all masked returns a zero vector instead of NaN.
"""
from __future__ import annotations

import torch


def multi_head_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor,
                         heads: int) -> torch.Tensor:
    """q [B, Lq, D], k / v [B, Lk, D], valid [B, Lk] bool -> [B, Lq, D] (heads concatenated)."""
    b, lq, dim = q.shape
    lk = k.shape[1]
    if dim % heads:
        raise ValueError(f"model dim {dim} is not divisible by {heads} heads")
    hd = dim // heads
    qh = q.view(b, lq, heads, hd).transpose(1, 2)                  # [B, H, Lq, hd]
    kh = k.view(b, lk, heads, hd).transpose(1, 2)
    vh = v.view(b, lk, heads, hd).transpose(1, 2)
    logits = qh @ kh.transpose(-1, -2) / hd ** 0.5                  # [B, H, Lq, Lk]
    logits = logits.masked_fill(~valid[:, None, None, :], float("-inf"))
    any_valid = valid.any(1)[:, None, None, None]
    # a fully masked row would softmax to NaN: give it zeros, then zero its output
    weights = torch.softmax(logits.masked_fill(~any_valid, 0.0), dim=-1) * any_valid
    return (weights @ vh).transpose(1, 2).reshape(b, lq, dim)
