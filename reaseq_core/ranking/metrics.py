"""CTR metrics: AUC and GAUC (DIN's definition), overall and per user segment (hot / cold).

- AUC: the probability that a random positive scores above a random negative, ties counting 1/2
  (Mann-Whitney U with mid-ranks; the same value as sklearn's roc_auc_score).
- GAUC (Zhou et al., 2018, "Deep Interest Network", Eq. 8): the impression-weighted mean of per-user AUC,
      GAUC = sum_u w_u * AUC_u / sum_u w_u,   w_u = number of the user's impressions (samples),
  where users whose samples all carry one label are skipped (their AUC is undefined).

The segment split (hot / cold-start users) comes from `reaseq_core.data.splits.user_segments`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def auc(labels, scores) -> float:
    """Area under the ROC curve; NaN when the labels hold one class only (undefined, never guessed)."""
    y = np.asarray(labels).astype(float).ravel()
    s = np.asarray(scores).astype(float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"auc: labels has {y.size} values but scores has {s.size}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("auc: labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise ValueError("auc: scores contain NaN or infinity")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)                      # mid-ranks: a tie between a positive and a negative counts 1/2
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def gauc(user_ids, labels, scores) -> float:
    """Impression-weighted mean of per-user AUC; users with one label class are skipped (DIN, Eq. 8)."""
    df = pd.DataFrame({"u": np.asarray(user_ids), "y": np.asarray(labels).astype(float),
                       "s": np.asarray(scores).astype(float)})
    if not np.isfinite(df["s"]).all():
        raise ValueError("gauc: scores contain NaN or infinity")
    total, weight = 0.0, 0
    for _, g in df.groupby("u", sort=False):
        n_pos = int(g["y"].sum())
        if n_pos == 0 or n_pos == len(g):
            continue
        total += len(g) * auc(g["y"].to_numpy(), g["s"].to_numpy())
        weight += len(g)
    return float(total / weight) if weight else float("nan")


def segment_metrics(frame: pd.DataFrame) -> dict:
    """{"overall": {"auc","gauc","n"}, "hot": {...}, "cold": {...}} from columns user_id, label, score, segment.

    A segment with no samples reports NaN metrics and n = 0 rather than disappearing.
    """
    missing = {"user_id", "label", "score", "segment"} - set(frame.columns)
    if missing:
        raise ValueError(f"segment_metrics: frame lacks column(s) {sorted(missing)}")
    out = {}
    for name, part in [("overall", frame), ("hot", frame[frame["segment"] == "hot"]),
                       ("cold", frame[frame["segment"] == "cold"])]:
        if len(part) == 0:
            out[name] = {"auc": float("nan"), "gauc": float("nan"), "n": 0}
            continue
        out[name] = {"auc": auc(part["label"], part["score"]),
                     "gauc": gauc(part["user_id"], part["label"], part["score"]), "n": int(len(part))}
    return out
