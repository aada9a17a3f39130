"""Metrics of generative behaviour reasoning (paper section 4.2.1, Eq. 8-9) and of the sequential
recommender (Recall@k / NDCG@k, full ranking, leave-one-out; ../shared/guide/PROTOCOLS.md).

IB-PPL and IB-ACC score a predicted representation h against its positive y+ and K in-batch negatives,
K = batch_size - 1: for every sample, one real item token is drawn at random from *every other* sample in
the batch. Logits are cos(h, y) / temperature, the same form as the training loss Eq. 7 (the paper's
reported IB-PPL values, e.g. 5.87 with K = 3199, are only reachable with the temperature; without it
exp(cos) is bounded to [e^-1, e] and the floor would be ~K / e^2).

- [MASK] tokens: the positive is the ground-truth item behind the [MASK].
- [FILL] tokens: there is no ground truth; the positive is the ground truth of the [MASK] token in the
  same sequence that is closest (cosine) to the fill's prediction. Samples without a [MASK] have no
  [FILL] value.
Per sample: IB-PPL = exp(mean over its tokens of -log p), IB-ACC = mean over its tokens of 1{positive
beats every negative}; the dataset value is the arithmetic mean over samples.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


# ---- sequential recommendation ---------------------------------------------------------------
def recall_ndcg_at_k(ranks: np.ndarray, ks=(5, 10, 20)) -> dict:
    """Leave-one-out metrics from the 1-based rank of each user's held-out item.

    Recall@k = share of users whose item ranks <= k; NDCG@k = mean of 1/log2(rank + 1) over those users
    (one relevant item, so the ideal DCG is 1).
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("no ranks to score")
    if (ranks < 1).any():
        raise ValueError("ranks are 1-based; got a rank < 1")
    out = {}
    for k in ks:
        hit = ranks <= k
        out[f"recall@{k}"] = float(hit.mean())
        out[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0).mean())
    return out


# ---- in-batch negatives ------------------------------------------------------------------------
def sample_negative_tokens(item_tokens: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Index of one random real item token per sample. item_tokens: bool [B, S]; returns long [B].

    Padding, [FILL] and [MASK] positions are never chosen (item_tokens is False there). A sample with no
    item token is an error: it could not provide a negative.
    """
    counts = item_tokens.sum(1)
    if (counts == 0).any():
        raise ValueError(f"sample {int((counts == 0).nonzero()[0])} has no item token to draw a negative from")
    u = torch.rand(item_tokens.shape[0], generator=generator)
    k = (u * counts).long().clamp(max=counts - 1)          # which of the sample's item tokens
    cum = item_tokens.long().cumsum(1) - 1                  # rank of each item token within its sample
    hit = item_tokens & (cum == k[:, None])
    return hit.float().argmax(1)


def in_batch_logits(h: torch.Tensor, positive: torch.Tensor, sample_of: torch.Tensor,
                    negatives: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits [M, 1 + K]: column 0 the positive, then the negatives of every *other* sample.

    h, positive: [M, d] (one row per scored token); sample_of: long [M], the sample each token belongs to;
    negatives: [B, d], one item vector drawn from every sample of the batch.
    """
    hn = F.normalize(h, dim=-1)
    pos = (hn * F.normalize(positive, dim=-1)).sum(-1, keepdim=True)
    neg = hn @ F.normalize(negatives, dim=-1).T                    # [M, B]
    own = F.one_hot(sample_of, negatives.shape[0]).bool()
    # drop the token's own sample: K = B - 1 negatives per token
    neg = neg[~own].view(h.shape[0], negatives.shape[0] - 1)
    return torch.cat([pos, neg], 1) / temperature


def closest_mask_target(h_fill: torch.Tensor, fill_sample: torch.Tensor, mask_targets: torch.Tensor,
                        mask_sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each [FILL] prediction, the [MASK] ground truth of the same sample with the highest cosine.

    Returns (positives [F, d], has_positive bool [F]); a fill whose sample has no [MASK] has none.
    """
    if h_fill.shape[0] == 0:
        return h_fill.new_zeros(0, mask_targets.shape[1]), torch.zeros(0, dtype=torch.bool)
    sim = F.normalize(h_fill, dim=-1) @ F.normalize(mask_targets, dim=-1).T if mask_targets.shape[0] else \
        h_fill.new_zeros(h_fill.shape[0], 0)
    same = fill_sample[:, None] == mask_sample[None, :]
    sim = sim.masked_fill(~same, -math.inf)
    has = same.any(1)
    idx = sim.argmax(1) if sim.shape[1] else torch.zeros(h_fill.shape[0], dtype=torch.long)
    pos = mask_targets[idx] if mask_targets.shape[0] else h_fill.new_zeros(h_fill.shape[0], h_fill.shape[1])
    return pos, has


def per_sample_ib(logits: torch.Tensor, sample_of: torch.Tensor, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(IB-PPL, IB-ACC) per sample from token logits (positive in column 0); NaN for samples without tokens.

    IB-PPL (Eq. 8) = exp(-mean log p(positive)); IB-ACC (Eq. 9) = mean 1{positive beats every negative}.
    """
    nll = -(logits[:, 0] - torch.logsumexp(logits, 1))
    correct = (logits[:, 0:1] > logits[:, 1:]).all(1).float() if logits.shape[1] > 1 else \
        torch.ones(logits.shape[0])
    count = torch.zeros(batch_size).index_add_(0, sample_of, torch.ones_like(nll))
    nll_sum = torch.zeros(batch_size).index_add_(0, sample_of, nll)
    acc_sum = torch.zeros(batch_size).index_add_(0, sample_of, correct)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = count.numpy().astype(np.float64)
        ppl = np.where(c > 0, np.exp(nll_sum.numpy() / np.maximum(c, 1)), np.nan)
        acc = np.where(c > 0, acc_sum.numpy() / np.maximum(c, 1), np.nan)
    return ppl, acc


@torch.no_grad()
def ib_metrics_batch(pred: torch.Tensor, targets: torch.Tensor, mask_tokens: torch.Tensor,
                     fill_tokens: torch.Tensor, negatives: torch.Tensor, temperature: float) -> dict:
    """Per-sample IB-PPL / IB-ACC on [MASK] and on [FILL] tokens of one batch (Eq. 8-9).

    pred: [B, S, d] predicted representations; targets: [B, S, d] ground-truth item vectors (used at
    [MASK] positions); mask_tokens / fill_tokens: bool [B, S]; negatives: [B, d], the item token drawn
    from every sample (see sample_negative_tokens). Returns numpy arrays of length B (NaN = no token).
    """
    B = pred.shape[0]
    mb, ms = mask_tokens.nonzero(as_tuple=True)
    logits_m = in_batch_logits(pred[mb, ms], targets[mb, ms], mb, negatives, temperature)
    ppl_m, acc_m = per_sample_ib(logits_m, mb, B)
    fb, fs = fill_tokens.nonzero(as_tuple=True)
    pos_f, has = closest_mask_target(pred[fb, fs], fb, targets[mb, ms], mb)
    logits_f = in_batch_logits(pred[fb, fs][has], pos_f[has], fb[has], negatives, temperature)
    ppl_f, acc_f = per_sample_ib(logits_f, fb[has], B)
    return {"ppl_mask": ppl_m, "acc_mask": acc_m, "ppl_fill": ppl_f, "acc_fill": acc_f}


def aggregate_ib(parts: list[dict]) -> dict:
    """Dataset values: arithmetic mean over samples (those that have the token kind), and their counts."""
    out = {}
    for key in ("ppl_mask", "acc_mask", "ppl_fill", "acc_fill"):
        v = np.concatenate([p[key] for p in parts]) if parts else np.array([])
        v = v[~np.isnan(v)]
        out[key] = float(v.mean()) if v.size else float("nan")
        out[f"samples_{key.split('_')[1]}"] = int(v.size)
    return out
