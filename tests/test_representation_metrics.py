"""HR@k and SM-HR@k against values computed by hand on five 2-D items (paper 4.1.1, PROTOCOLS.md).

Items are unit vectors at angles 0, 10, 30, 100 and 180 degrees, so cosine order = angle order:
    item 0: 1 (10 deg), 2 (30), 3 (100), 4 (180)
    item 1: 0 (10), 2 (20), 3 (90), 4 (170)
    item 2: 1 (20), 0 (30), 3 (70), 4 (150)
    item 3: 2 (70), 4 (80), 1 (90), 0 (100)
    item 4: 3 (80), 2 (150), 1 (170), 0 (180)
"""
from __future__ import annotations

import numpy as np
import pytest

from reaseq_core.representation import retrieval_metrics as rm

ANGLES = np.deg2rad([0, 10, 30, 100, 180])
V = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1).astype(np.float32)


def test_neighbours_follow_the_angles_and_exclude_the_query():
    nn = rm.neighbours_excluding_self(V, np.arange(5), 4)
    assert nn.tolist() == [[1, 2, 3, 4], [0, 2, 3, 4], [1, 0, 3, 4], [2, 4, 1, 0], [3, 2, 1, 0]]


def test_exact_duplicate_is_a_neighbour_but_the_query_never_is():
    v = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)   # items 0 and 1 tie at cosine 1
    nn = rm.neighbours_excluding_self(v, np.array([0, 1]), 2)
    assert nn.tolist() == [[1, 2], [0, 2]]


def test_hr_at_k_by_hand():
    # user A: history {0}, target 2 -> rank 1 in item 0's list       -> hit from k=2
    # user B: history {0, 4}, target 3 -> rank 2 (item 0), 0 (item 4) -> hit from k=1
    # user C: history {1}, target 4 -> rank 3                         -> hit only from k=4
    # user D: history {3, 2}, target 0 -> rank 3 (item 3), 1 (item 2) -> hit from k=2
    hists = [np.array([0]), np.array([0, 4]), np.array([1]), np.array([3, 2])]
    targets = np.array([2, 3, 4, 0])
    hits = rm.hr_hits(V, hists, targets, [1, 2, 3])
    assert hits.tolist() == [[False, True, True], [True, True, True], [False, False, False], [False, True, True]]
    r = rm.rates(hits, [1, 2, 3])
    assert r["@1"] == pytest.approx(0.25) and r["@2"] == pytest.approx(0.75) and r["@3"] == pytest.approx(0.75)
    assert r["macro"] == pytest.approx((0.25 + 0.75 + 0.75) / 3)


def test_hr_target_equal_to_history_item_is_not_found_through_itself():
    assert rm.hr_hits(V, [np.array([0])], np.array([0]), [1, 2, 3, 4]).tolist() == [[False] * 4]
    # ...but through another history item it is: item 0 is item 1's nearest neighbour
    assert rm.hr_hits(V, [np.array([0, 1])], np.array([0]), [1]).tolist() == [[True]]


def test_sm_hr_at_k_by_hand():
    # lines: {0, 1} = a, {2} = b, {3, 4} = c; queries = items with a sibling = 0, 1, 3, 4
    # q0 -> 1 at rank 0; q1 -> 0 at rank 0; q3 -> 2, 4: sibling at rank 1; q4 -> 3 at rank 0
    lines = np.array(["a", "a", "b", "c", "c"], dtype=object)
    hits = rm.sm_hr_hits(V, lines, np.array([0, 1, 3, 4]), [1, 2])
    assert hits.tolist() == [[True, True], [True, True], [False, True], [True, True]]
    r = rm.rates(hits, [1, 2])
    assert r["@1"] == pytest.approx(0.75) and r["@2"] == pytest.approx(1.0)
    assert r["macro"] == pytest.approx(0.875)


def test_k_list_is_capped_by_pool_size():
    assert rm.capped_ks(rm.HR_KS, 12101) == [30, 50, 100, 200, 500, 1000, 2000]
    assert rm.capped_ks(rm.HR_KS, 600) == [30, 50, 100, 200, 500]
    assert rm.capped_ks(rm.SM_HR_KS, 51) == [1, 5, 10, 30, 50]
    assert rm.capped_ks(rm.SM_HR_KS, 50) == [1, 5, 10, 30]
    with pytest.raises(ValueError):
        rm.neighbours_excluding_self(V, np.arange(5), 5)


def test_cosine_not_inner_product():
    # an unnormalised long vector must not win by its length
    v = np.array([[1, 0], [10, 10], [1, 0.1]], dtype=np.float32)
    assert rm.neighbours_excluding_self(v, np.array([0]), 1).tolist() == [[2]]


def test_bootstrap_std():
    samples = np.random.default_rng(0).integers(0, 4, size=(2000, 4))
    assert rm.bootstrap_std(np.ones((4, 2)), samples).tolist() == [0.0, 0.0]
    # a 0/1 column with mean 1/2 over n = 4: std of the bootstrap mean ~ sqrt(0.25 / 4) = 0.25
    assert rm.bootstrap_std(np.array([0, 0, 1, 1.0]), samples)[0] == pytest.approx(0.25, abs=0.02)
    assert np.isnan(rm.bootstrap_std(np.array([[1.0]]), samples[:, :1])).all()
