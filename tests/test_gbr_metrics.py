"""Hand-computed checks of the GBR metrics and losses (Recall/NDCG, IB-PPL, IB-ACC, Eq. 6-9)."""
import math

import numpy as np
import pytest
import torch

from reaseq_core.gbr.labels import FILL, ITEM, LABELED, PAD
from reaseq_core.gbr.llada import LLaDAConfig, loss_fn
from reaseq_core.gbr.metrics import (aggregate_ib, ib_metrics_batch, recall_ndcg_at_k,
                                     sample_negative_tokens)


def test_recall_ndcg_hand_computed():
    m = recall_ndcg_at_k(np.array([1, 3, 12]), ks=(5, 20))
    assert m["recall@5"] == pytest.approx(2 / 3)
    # NDCG: 1/log2(1+1) = 1, 1/log2(3+1) = 0.5, rank 12 is outside @5
    assert m["ndcg@5"] == pytest.approx((1 + 0.5) / 3)
    assert m["recall@20"] == pytest.approx(1.0)
    assert m["ndcg@20"] == pytest.approx((1 + 0.5 + 1 / math.log2(13)) / 3)
    with pytest.raises(ValueError):
        recall_ndcg_at_k(np.array([0, 2]))


E1, E2, E3 = [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]


def _toy_batch():
    """Sample 0: [MASK a] (pred e1, truth e1), [MASK b] (pred e2, truth e2), [FILL] (pred (.6,.8,0)), item e1.
    Sample 1: [MASK c] (pred e1, truth e3), item e3, padding. Negatives: sample 0 gives e1, sample 1 gives e3."""
    pred = torch.tensor([[E1, E2, [0.6, 0.8, 0], E1], [E1, E3, E3, E3]])
    targets = torch.tensor([[E1, E2, [0, 0, 0], E1], [E3, E3, [0, 0, 0], [0, 0, 0]]])
    kinds = torch.tensor([[LABELED, LABELED, FILL, ITEM], [LABELED, ITEM, PAD, PAD]])
    mask = kinds == LABELED
    negatives = torch.tensor([E1, E3])
    return pred, targets, kinds, mask, negatives


def test_ib_metrics_hand_computed():
    pred, targets, kinds, mask, negatives = _toy_batch()
    m = ib_metrics_batch(pred, targets, mask, kinds == FILL, negatives, temperature=1.0)
    # sample 0, each [MASK]: positive cos 1, its one negative (e3, from sample 1) cos 0 -> PPL = 1 + e^-1
    # sample 1, [MASK]: positive cos 0, negative (e1, from sample 0) cos 1 -> PPL = 1 + e, wrong
    assert m["ppl_mask"] == pytest.approx([1 + math.exp(-1), 1 + math.e], rel=1e-5)
    assert list(m["acc_mask"]) == [1.0, 0.0]
    # [FILL] of sample 0: closest [MASK] truth is e2 (cos .8 > .6); negative e3 cos 0 -> PPL = 1 + e^-0.8
    assert m["ppl_fill"][0] == pytest.approx(1 + math.exp(-0.8), rel=1e-5)
    assert m["acc_fill"][0] == 1.0
    assert math.isnan(m["ppl_fill"][1])           # sample 1 has no [FILL]
    agg = aggregate_ib([m])
    assert agg["ppl_mask"] == pytest.approx((1 + math.exp(-1) + 1 + math.e) / 2, rel=1e-5)
    assert agg["acc_mask"] == 0.5 and agg["samples_mask"] == 2 and agg["samples_fill"] == 1
    # the temperature divides the cosine: sample 1 at tau = 0.5 -> PPL = 1 + e^2
    m2 = ib_metrics_batch(pred, targets, mask, kinds == FILL, negatives, temperature=0.5)
    assert m2["ppl_mask"][1] == pytest.approx(1 + math.exp(2), rel=1e-5)


def test_fill_without_mask_in_its_sample_is_not_scored():
    pred, targets, kinds, mask, negatives = _toy_batch()
    mask = mask.clone()
    mask[0] = False                                 # sample 0 keeps its fill but has no [MASK] now
    m = ib_metrics_batch(pred, targets, mask, kinds == FILL, negatives, temperature=1.0)
    assert math.isnan(m["ppl_fill"][0]) and math.isnan(m["ppl_mask"][0])
    assert m["ppl_mask"][1] == pytest.approx(1 + math.e, rel=1e-5)


def test_losses_hand_computed():
    pred, targets, kinds, mask, negatives = _toy_batch()
    t = torch.tensor([0.5, 1.0])
    # Eq. 6-7, tau = 1: sample 0 = 2 * log(1 + e^-1) / (t=0.5 * |P_L|=2); sample 1 = log(1 + e) / (1 * 1)
    cfg = LLaDAConfig(loss="infonce", temperature=1.0)
    expected = (2 * math.log(1 + math.exp(-1)) / 1.0 + math.log(1 + math.e)) / 2
    assert float(loss_fn(cfg, pred, targets, mask, kinds, t, negatives)) == pytest.approx(expected, rel=1e-5)
    # point-wise: cosine distances 0, 0, 1; Euclidean distances 0, 0, sqrt(2)
    assert float(loss_fn(LLaDAConfig(loss="cos"), pred, targets, mask, kinds, t, negatives)) == pytest.approx(1 / 3)
    assert float(loss_fn(LLaDAConfig(loss="mse"), pred, targets, mask, kinds, t, negatives)) == \
        pytest.approx(math.sqrt(2) / 3, rel=1e-5)


def test_negative_sampling_draws_only_item_tokens_uniformly():
    kinds = torch.tensor([[ITEM, FILL, LABELED, PAD, PAD], [PAD, PAD, PAD, PAD, PAD], [FILL, ITEM, ITEM, ITEM, PAD]])
    kinds[1, 0] = ITEM
    eligible = (kinds == ITEM) | (kinds == LABELED)
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_negative_tokens(eligible, gen) for _ in range(3000)])
    assert eligible.gather(1, draws.T).all()        # never padding or [FILL]
    counts = torch.bincount(draws[:, 2], minlength=5).float() / 3000
    assert counts[1:4].tolist() == pytest.approx([1 / 3] * 3, abs=0.04)
    with pytest.raises(ValueError):
        sample_negative_tokens(torch.zeros(2, 3, dtype=torch.bool))
