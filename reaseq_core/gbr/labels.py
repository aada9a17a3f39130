"""Self-supervised labels and training sequences (paper section 3.2.1).

Delta p_t = p(b_{t+1} | b_1..b_t) - p(b_{t+1} | b_1..b_{t-1}) under the sequential model (SASRec): how
much b_t helps predict what came next. P_L = {t : Delta p_t > tau_coh}: observed items that are critical
for collaborative coherence; replacing them by [FILL] gives a gap whose true content is known.
P_U = the gaps flagged by beyond-log location (section 3.1): [FILL] tokens inserted *between* b_t and
b_{t+1}, whose content is never known.

Token kinds of a training sequence:
    PAD      padding (never masked, attended to, or scored)
    ITEM     an observed item b_i
    LABELED  a P_L position: the observed item, which dynamic masking may turn into [MASK] (ground truth kept)
    FILL     a P_U position: always the [FILL] token
Delta p_t is undefined for the first item (no context without it) and for the last (no next item), so
those are never in P_L. A gap flagged for P_U is not used for P_L at the same time: a flagged gap says
b_{t+1} is implausible after b_t, the opposite of b_t being critical for predicting it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PAD, ITEM, LABELED, FILL = 0, 1, 2, 3


@dataclass
class LabelConfig:
    tau_coh: float = 0.001
    # when set, tau_coh is this quantile of the defined Delta p values instead (small smoke runs, whose
    # barely trained SASRec gives tiny probabilities)
    tau_coh_quantile: float | None = None

    def threshold(self, dp: pd.Series) -> float:
        if self.tau_coh_quantile is None:
            return self.tau_coh
        return float(dp.dropna().quantile(self.tau_coh_quantile))


def delta_p(p_next: np.ndarray, p_skip: np.ndarray) -> np.ndarray:
    """Delta p per gap t from p(b_{t+1} | b_1..b_t) and p(b_{t+1} | b_1..b_{t-1}); NaN where undefined."""
    return np.asarray(p_next, dtype=np.float64) - np.asarray(p_skip, dtype=np.float64)


def assign_roles(flagged: pd.Series, dp: pd.Series, tau_coh: float) -> pd.Series:
    """Role of each gap row: 'P_U' (flagged), 'P_L' (its item_from has Delta p > tau_coh), else 'none'."""
    role = np.where(flagged, "P_U", np.where(dp.fillna(-np.inf) > tau_coh, "P_L", "none"))
    return pd.Series(role, index=flagged.index)


@dataclass
class Corpus:
    """Token arrays of every GBR user's sequence for one location variant."""
    users: np.ndarray          # [N] user ids
    tokens: np.ndarray         # [N, S] item index (1-based; 0 at PAD and FILL)
    kinds: np.ndarray          # [N, S] PAD / ITEM / LABELED / FILL
    fill_gap: np.ndarray       # [N, S] for FILL tokens the gap t they sit in (after b_t), else -1

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_fill(self) -> int:
        return int((self.kinds == FILL).sum())

    @property
    def n_items(self) -> int:
        return int(((self.kinds == ITEM) | (self.kinds == LABELED)).sum())

    def subset(self, idx: np.ndarray) -> "Corpus":
        return Corpus(self.users[idx], self.tokens[idx], self.kinds[idx], self.fill_gap[idx])


def build_corpus(seq: pd.DataFrame, gaps: pd.DataFrame, item_index: dict, inference: bool = False) -> Corpus:
    """Training (or inference) sequences: b_1 .. b_t [FILL] b_{t+1} .. with [FILL] after every P_U gap.

    seq: one row per event (user_id, t, item_id); gaps: one row per gap (user_id, t, role) for one variant.
    inference=True keeps P_L items as plain observed items (section 3.2.3, Step 1).
    """
    role = {(u, t): r for u, t, r in zip(gaps["user_id"], gaps["t"], gaps["role"])}
    users, rows = [], []
    for u, grp in seq.groupby("user_id", sort=True):
        toks, kinds, fgap = [], [], []
        for t, item in zip(grp["t"].to_numpy(), grp["item_id"].to_numpy()):
            r = role.get((u, int(t)), "none")
            idx = item_index.get(item)
            if idx is None:
                raise ValueError(f"sequence of user {u!r}: item_id {item!r} is not in the item-vector table")
            toks.append(idx)
            kinds.append(LABELED if (r == "P_L" and not inference) else ITEM)
            fgap.append(-1)
            if r == "P_U":
                toks.append(0)
                kinds.append(FILL)
                fgap.append(int(t))
        users.append(u)
        rows.append((toks, kinds, fgap))
    S = max(len(r[0]) for r in rows)
    tokens = np.zeros((len(rows), S), dtype=np.int64)
    kinds = np.zeros((len(rows), S), dtype=np.int8)
    fill_gap = np.full((len(rows), S), -1, dtype=np.int32)
    for i, (tk, kd, fg) in enumerate(rows):
        tokens[i, :len(tk)] = tk
        kinds[i, :len(kd)] = kd
        fill_gap[i, :len(fg)] = fg
    return Corpus(np.asarray(users), tokens, kinds, fill_gap)


def strip_fills(corpus: Corpus) -> Corpus:
    """The same sequences without their [FILL] tokens (the masked-item-model reference of Table 5, which
    never sees a fill); observed items keep their order and kinds."""
    S = int(((corpus.kinds != PAD) & (corpus.kinds != FILL)).sum(1).max()) if len(corpus) else 0
    tokens = np.zeros((len(corpus), S), dtype=corpus.tokens.dtype)
    kinds = np.zeros((len(corpus), S), dtype=corpus.kinds.dtype)
    for i in range(len(corpus)):
        keep = (corpus.kinds[i] != PAD) & (corpus.kinds[i] != FILL)
        n = int(keep.sum())
        tokens[i, :n], kinds[i, :n] = corpus.tokens[i][keep], corpus.kinds[i][keep]
    return Corpus(corpus.users.copy(), tokens, kinds, np.full((len(corpus), S), -1, dtype=np.int32))
