"""Beyond-log behaviour location (paper section 3.1): *where* did a user probably do something the log
does not show?

Stage 1, rules (coarse): a gap (t, t+1) between consecutive behaviours is a candidate when
  - TD, temporal discontinuity:  timestamp(b_{t+1}) - timestamp(b_t) > tau_time   (Assumption 1), in days
    because Beauty timestamps have day resolution;
  - CD, category discontinuity:  category(b_t) != category(b_{t+1})               (Assumption 2), with the
    second level of the Amazon path (Skin Care, Hair Care, ...) as the paper's "primary category";
  - TDUCD: the union of the two (the paper's Table 5 hybrid).
Stage 2, model (fine): keep a candidate when the next item ranks worse than N under a sequential
recommender, rank(b_{t+1} | b_t, B^{<t}) > N (Assumption 3, collaborative coherence).

The GBR user group follows section 4.2.1: the least active third of users plus an equal random sample of
the rest. Each user's GBR sequence is the leave-one-out *training* part of the log (the last two events
are held out, as for SASRec), truncated to its last `max_len` events, so nothing GBR produces ever saw a
validation or test event of the CTR and sequential-recommendation protocols.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..data.splits import user_segments

VARIANTS = ("TD", "CD", "TDUCD")


@dataclass
class LocationConfig:
    tau_time_days: float = 30.0      # TD threshold
    rank_threshold: int = 50         # N of the model-based filter
    max_len: int = 50                # events per GBR sequence (the SASRec window)
    user_seed: int = 0               # sample of active users added to the least active third

    def as_dict(self) -> dict:
        return asdict(self)


def select_gbr_users(interactions: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The least active third (cold) + an equal-size random sample of the other users (hot).

    Returns (frame user_id, seq_len, segment) and a description of the rule with the counts.
    """
    segs, info = user_segments(interactions)
    cold = segs[segs["segment"] == "cold"]
    hot = segs[segs["segment"] == "hot"]
    n = min(len(cold), len(hot))
    hot_sample = hot.sample(n=n, random_state=seed)
    users = pd.concat([cold, hot_sample]).sort_values("user_id").reset_index(drop=True)
    rule = (f"{info['rule']}; GBR users = all {len(cold):,} cold users + {n:,} hot users sampled at random "
            f"(seed {seed}) = {len(users):,} users (paper section 4.2.1)")
    return users, {**info, "rule": rule, "cold_users": int(len(cold)), "hot_users_sampled": int(n),
                   "users": int(len(users))}


def gbr_sequences(interactions: pd.DataFrame, items: pd.DataFrame, users: pd.Series | np.ndarray,
                  max_len: int = 50) -> pd.DataFrame:
    """One row per event of each GBR user's sequence: user_id, t (0-based), item_id, timestamp, category.

    The sequence is the leave-one-out training part (all but the last two events), last `max_len` kept.
    """
    inter = interactions[interactions["user_id"].isin(set(users))]
    n = inter.groupby("user_id")["position"].transform("max") + 1
    seq = inter[inter["position"] < n - 2].copy()
    length = seq.groupby("user_id")["position"].transform("max") + 1
    seq = seq[seq["position"] >= length - max_len].copy()
    seq["t"] = seq["position"] - seq.groupby("user_id")["position"].transform("min")
    cat = items.set_index("item_id")["primary_category"]
    seq["category"] = seq["item_id"].map(cat)
    return seq[["user_id", "t", "item_id", "timestamp", "category"]].sort_values(["user_id", "t"]) \
        .reset_index(drop=True)


def candidate_gaps(seq: pd.DataFrame, tau_time_days: float) -> pd.DataFrame:
    """Every gap (t, t+1) of every sequence with its rule flags td / cd.

    A gap whose category is unknown on either side is not a category discontinuity (no evidence).
    """
    nxt = seq.groupby("user_id").shift(-1)
    ok = nxt["item_id"].notna()
    g = pd.DataFrame({"user_id": seq["user_id"][ok].to_numpy(), "t": seq["t"][ok].to_numpy(),
                      "item_from": seq["item_id"][ok].to_numpy(), "item_to": nxt["item_id"][ok].to_numpy(),
                      "ts_from": seq["timestamp"][ok].to_numpy(),
                      "ts_to": nxt["timestamp"][ok].to_numpy().astype(np.int64),
                      "cat_from": seq["category"][ok].to_numpy(), "cat_to": nxt["category"][ok].to_numpy()})
    g["gap_days"] = (g["ts_to"] - g["ts_from"]) / 86400.0
    g["td"] = g["gap_days"] > tau_time_days
    known = g["cat_from"].notna() & g["cat_to"].notna()
    g["cd"] = known & (g["cat_from"] != g["cat_to"])
    return g


def rule_stage(gaps: pd.DataFrame, variant: str) -> pd.Series:
    if variant == "TD":
        return gaps["td"]
    if variant == "CD":
        return gaps["cd"]
    if variant == "TDUCD":
        return gaps["td"] | gaps["cd"]
    raise ValueError(f"unknown location variant {variant!r}; expected one of {', '.join(VARIANTS)}")


def locate(gaps: pd.DataFrame, variant: str, rank_threshold: int) -> pd.Series:
    """Rule stage then model stage: flagged = rule(variant) & (model_rank > N)."""
    if "model_rank" not in gaps:
        raise ValueError("gaps need a 'model_rank' column (rank of item_to under the sequential model)")
    return rule_stage(gaps, variant) & (gaps["model_rank"] > rank_threshold)


def fill_ratio(n_fills: int, n_items: int) -> float:
    """[FILL] ratio = fills / (observed items + fills) over all GBR sequences."""
    return n_fills / (n_items + n_fills) if n_items + n_fills else 0.0


def stage_summary(gaps: pd.DataFrame, variant: str, rank_threshold: int, n_items: int,
                  alt_rank: pd.Series | None = None) -> dict:
    """How each stage narrows the candidate gaps, and the resulting [FILL] ratio."""
    rule = rule_stage(gaps, variant)
    flagged = rule & (gaps["model_rank"] > rank_threshold)
    out = {"gaps": int(len(gaps)), "after_rule": int(rule.sum()), "after_model": int(flagged.sum()),
           "rule_share": float(rule.mean()) if len(gaps) else 0.0,
           "model_keeps_share_of_rule": float(flagged.sum() / max(rule.sum(), 1)),
           "fill_ratio": fill_ratio(int(flagged.sum()), n_items),
           "users_with_fill": int(gaps.loc[flagged, "user_id"].nunique())}
    if alt_rank is not None:
        out["after_model_swing"] = int((rule & (alt_rank > rank_threshold)).sum())
    return out
