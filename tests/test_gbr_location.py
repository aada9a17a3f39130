"""Beyond-log location rules, self-supervised labels and Swing on tiny hand-made sequences."""
import numpy as np
import pandas as pd
import pytest

from reaseq_core.gbr.labels import FILL, ITEM, LABELED, PAD, assign_roles, build_corpus, delta_p
from reaseq_core.gbr.location import (candidate_gaps, fill_ratio, gbr_sequences, locate, rule_stage,
                                      select_gbr_users, stage_summary)
from reaseq_core.gbr.swing import SwingConfig, fit_swing

DAY = 86400


def _seq():
    # user a: A(Skin, day 0) -> B(Skin, day 40) -> C(Hair, day 41) -> D(None, day 100)
    # user b: A(Skin, day 0) -> C(Hair, day 1)
    return pd.DataFrame({
        "user_id": ["a", "a", "a", "a", "b", "b"], "t": [0, 1, 2, 3, 0, 1],
        "item_id": ["A", "B", "C", "D", "A", "C"],
        "timestamp": [0, 40 * DAY, 41 * DAY, 100 * DAY, 0, 1 * DAY],
        "category": ["Skin", "Skin", "Hair", None, "Skin", "Hair"]})


def test_rule_stage_on_hand_made_sequences():
    g = candidate_gaps(_seq(), tau_time_days=30)
    assert list(zip(g["user_id"], g["t"])) == [("a", 0), ("a", 1), ("a", 2), ("b", 0)]
    assert g["gap_days"].tolist() == [40, 1, 59, 1]
    assert g["td"].tolist() == [True, False, True, False]
    # unknown category on either side is no evidence of a category change
    assert g["cd"].tolist() == [False, True, False, True]
    assert rule_stage(g, "TDUCD").tolist() == [True, True, True, True]
    g["model_rank"] = [10, 500, 500, 3]
    assert locate(g, "TD", 50).tolist() == [False, False, True, False]
    assert locate(g, "CD", 50).tolist() == [False, True, False, False]
    assert locate(g, "TDUCD", 50).tolist() == [False, True, True, False]
    s = stage_summary(g, "TDUCD", 50, n_items=6)
    assert (s["gaps"], s["after_rule"], s["after_model"]) == (4, 4, 2)
    assert s["fill_ratio"] == pytest.approx(2 / 8)
    with pytest.raises(ValueError):
        rule_stage(g, "XX")


def test_labels_roles_and_training_sequences():
    seq = _seq()
    g = candidate_gaps(seq, 30)
    g["model_rank"] = [10, 500, 500, 3]
    flagged = locate(g, "CD", 50)                      # gap (a, 1) is P_U
    # Delta p per gap from p(next | up to t) and p(next | up to t-1)
    dp = pd.Series(delta_p([0.2, 0.3, 0.1, 0.5], [np.nan, 0.25, 0.01, np.nan]))
    assert dp.iloc[1] == pytest.approx(0.05) and dp.iloc[2] == pytest.approx(0.09)
    g["role"] = assign_roles(flagged, dp, tau_coh=0.08)
    # gap (a,2): Delta p 0.09 > 0.08 -> item C of user a is P_L; gap (a,1) flagged -> P_U; NaN never P_L
    assert g["role"].tolist() == ["none", "P_U", "P_L", "none"]
    idx = {k: i + 1 for i, k in enumerate("ABCD")}
    c = build_corpus(seq, g, idx)
    assert list(c.users) == ["a", "b"]
    # user a: A B [FILL] C(labelled) D ; user b: A C PAD PAD PAD
    assert c.tokens.tolist() == [[1, 2, 0, 3, 4], [1, 3, 0, 0, 0]]
    assert c.kinds.tolist() == [[ITEM, ITEM, FILL, LABELED, ITEM], [ITEM, ITEM, PAD, PAD, PAD]]
    assert c.fill_gap[0, 2] == 1
    assert (c.n_fill, c.n_items) == (1, 6)
    assert fill_ratio(c.n_fill, c.n_items) == pytest.approx(1 / 7)
    inf = build_corpus(seq, g, idx, inference=True)    # P_L items stay observed at inference
    assert inf.kinds.tolist()[0] == [ITEM, ITEM, FILL, ITEM, ITEM]


def test_gbr_sequences_hold_out_last_two_and_user_group():
    inter = pd.DataFrame({"user_id": ["u"] * 6 + ["v"] * 5, "item_id": list("ABCDEF") + list("ABCDE"),
                          "timestamp": list(range(6)) + list(range(5)), "position": list(range(6)) + list(range(5))})
    items = pd.DataFrame({"item_id": list("ABCDEF"), "primary_category": ["x"] * 6})
    s = gbr_sequences(inter, items, ["u", "v"], max_len=3)
    assert s[s.user_id == "u"]["item_id"].tolist() == ["B", "C", "D"]    # drop E, F; keep last 3
    assert s[s.user_id == "u"]["t"].tolist() == [0, 1, 2]
    assert s[s.user_id == "v"]["item_id"].tolist() == ["A", "B", "C"]
    rng = np.random.default_rng(0)
    rows = []
    for k in range(30):
        n = 5 if k < 10 else int(rng.integers(6, 20))
        rows += [(f"u{k}", f"i{j}", j, j) for j in range(n)]
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "position"])
    users, info = select_gbr_users(inter, seed=0)
    assert info["cold_users"] == 10 and info["hot_users_sampled"] == 10 and len(users) == 20
    assert (users["segment"] == "cold").sum() == 10


def test_swing_hand_computed():
    # u1 {A,B}, u2 {A,B,C}, u3 {B,C}, u4 {A,B,D}; alpha = 1, no user weighting (beta = 0)
    inter = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u2", "u3", "u3", "u4", "u4", "u4"],
                          "item_id": ["A", "B", "A", "B", "C", "B", "C", "A", "B", "D"]})
    m = fit_swing(inter, np.array(list("ABCD")), SwingConfig(alpha=1.0, beta=0.0), show_progress=False)
    S = m.similarity.toarray()
    # (A,B): users u1,u2,u4; every pair shares exactly {A,B} -> 3 pairs * 1/(1+2) = 1
    assert S[0, 1] == pytest.approx(1.0) and S[1, 0] == pytest.approx(1.0)
    # (B,C): users u2,u3 share {B,C} -> 1/3 ; (A,C), (A,D): a single common user -> 0
    assert S[1, 2] == pytest.approx(1 / 3)
    assert S[0, 2] == 0 and S[0, 3] == 0 and np.diag(S).sum() == 0
    # user weights w_u = (|I_u| + offset)^-beta: (B,C) = w_u2 w_u3 / 3 with |I|=3, 2 and offset 0
    m2 = fit_swing(inter, np.array(list("ABCD")), SwingConfig(alpha=1.0, beta=0.5, user_offset=0.0),
                   show_progress=False)
    assert m2.similarity[1, 2] == pytest.approx((3 ** -0.5) * (2 ** -0.5) / 3)
    # ranks: from B, A (1.0) ranks first, C (1/3) second; from A, C never co-occurs -> worst rank (4)
    assert m.rank_of(np.array([1, 1, 0]), np.array([0, 2, 2])).tolist() == [1, 2, 4]
