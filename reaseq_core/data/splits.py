"""Splits and user segments (../shared/guide/PROTOCOLS.md), shared by every stage.

- Sequential recommendation: leave-one-out per user (last event test, second last validation).
- CTR: the same time order: for a user with events b_1..b_T, the test target is b_T, the validation
  target b_{T-1}, training targets b_2..b_{T-2}; each target's history is the events before it only.
  Positives are real next events; each positive gets `neg_ratio` negatives drawn uniformly from the
  items the user never interacted with (the DIN recipe on Amazon data).
- Hot / cold-start users: 'cold' = the least active third by sequence length (the length cut whose share of
  users is closest to 1/3; on Beauty: length 5, 32.0% of users), 'hot' = the rest; the rule is returned so
  tables can state it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def leave_one_out(interactions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{'train','valid','test'} frames of interactions; valid/test hold one row per user."""
    n = interactions.groupby("user_id")["position"].transform("max") + 1
    pos = interactions["position"]
    return {"train": interactions[pos < n - 2].reset_index(drop=True),
            "valid": interactions[pos == n - 2].reset_index(drop=True),
            "test": interactions[pos == n - 1].reset_index(drop=True)}


def user_segments(interactions: pd.DataFrame, cold_fraction: float = 1 / 3) -> tuple[pd.DataFrame, dict]:
    """(frame user_id, seq_len, segment), {'cold_max_len', 'cold_share', 'rule'}."""
    lens = interactions.groupby("user_id").size().rename("seq_len").reset_index()
    # The length cut whose cold share is closest to cold_fraction (lengths tie heavily in a 5-core).
    share = lens["seq_len"].value_counts(normalize=True).sort_index().cumsum()
    cut = int((share - cold_fraction).abs().idxmin())
    lens["segment"] = np.where(lens["seq_len"] <= cut, "cold", "hot")
    info = {"cold_max_len": cut, "cold_share": round(float((lens["segment"] == "cold").mean()), 4),
            "rule": f"cold = sequence length <= {cut} (the least active ~{cold_fraction:.0%} of users); hot = rest"}
    return lens, info


def ctr_samples(interactions: pd.DataFrame, item_ids: np.ndarray | list, neg_ratio: int = 1, seed: int = 0,
                min_history: int = 1) -> pd.DataFrame:
    """CTR examples: user_id, target_item, label, split, position (history = the user's events before it).

    Negatives are sampled per positive, uniformly over `item_ids` minus everything the user interacted with.
    """
    rng = np.random.default_rng(seed)
    item_ids = np.asarray(item_ids)
    n_items = len(item_ids)
    n = interactions.groupby("user_id")["position"].transform("max") + 1
    pos = interactions["position"].to_numpy()
    split = np.where(pos == n - 1, "test", np.where(pos == n - 2, "valid", "train"))
    keep = pos >= min_history
    positives = pd.DataFrame({"user_id": interactions["user_id"].to_numpy()[keep],
                              "target_item": interactions["item_id"].to_numpy()[keep],
                              "position": pos[keep], "split": split[keep], "label": 1})
    seen = interactions.groupby("user_id")["item_id"].agg(set).to_dict()
    neg_rows = []
    for u, p, s in zip(positives["user_id"], positives["position"], positives["split"]):
        user_seen = seen[u]
        got = 0
        while got < neg_ratio:
            cand = item_ids[rng.integers(n_items)]
            if cand not in user_seen:
                neg_rows.append((u, cand, p, s, 0))
                got += 1
    negatives = pd.DataFrame(neg_rows, columns=["user_id", "target_item", "position", "split", "label"])
    out = pd.concat([positives, negatives], ignore_index=True)
    return out.sort_values(["user_id", "position", "label"], ascending=[True, True, False],
                           kind="stable").reset_index(drop=True)
