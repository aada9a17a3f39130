"""Leave-one-out, hot/cold segments and CTR sampling on real Beauty sequences."""
from __future__ import annotations

import numpy as np

from reaseq_core.data.splits import ctr_samples, leave_one_out, user_segments


def test_leave_one_out(beauty):
    sp = leave_one_out(beauty.interactions)
    assert len(sp["test"]) == len(sp["valid"]) == 22363
    assert len(sp["train"]) == 198502 - 2 * 22363
    last = beauty.interactions.groupby("user_id").tail(1).set_index("user_id")["item_id"]
    assert (sp["test"].set_index("user_id")["item_id"] == last.loc[sp["test"]["user_id"]].values).all()


def test_user_segments(beauty):
    seg, info = user_segments(beauty.interactions)
    assert info["cold_max_len"] == 5  # 5-core: the least active third are the length-5 users
    assert seg.loc[seg["segment"] == "cold", "seq_len"].max() == 5
    assert seg.loc[seg["segment"] == "hot", "seq_len"].min() == 6
    assert 0.2 < info["cold_share"] < 0.5


def test_ctr_negatives_are_never_seen_items(beauty):
    users = beauty.interactions["user_id"].unique()[:500]
    inter = beauty.interactions[beauty.interactions["user_id"].isin(users)]
    s = ctr_samples(inter, beauty.items["item_id"].to_numpy(), neg_ratio=2, seed=3)
    pos, neg = s[s.label == 1], s[s.label == 0]
    assert len(neg) == 2 * len(pos) and len(pos) == len(inter) - len(users)
    seen = inter.groupby("user_id")["item_id"].agg(set)
    assert not any(t in seen[u] for u, t in zip(neg["user_id"], neg["target_item"]))
    assert set(s["split"]) == {"train", "valid", "test"}
    again = ctr_samples(inter, beauty.items["item_id"].to_numpy(), neg_ratio=2, seed=3)
    assert np.array_equal(again["target_item"].to_numpy(), s["target_item"].to_numpy())
