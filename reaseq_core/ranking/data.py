"""CTR data for the ranking models: samples, behaviour histories as index matrices, the item-vector table.

Protocol (../shared/guide/PROTOCOLS.md, CTR):
- Samples come from `reaseq_core.data.splits.ctr_samples`: positives are real next events, each with
  `neg_ratio` negatives drawn uniformly from the catalogue minus the items the user ever touched. Targets
  b_2..b_{T-2} train, b_{T-1} validates, b_T tests; the history of a sample is the user's events strictly
  before it (position < sample position), so no model ever sees the future of its target.
- The sample draw uses its own seed (`sample_seed`, default 0) so every model and every training seed is
  scored on the very same test samples (paired comparisons); training seeds change initialisation and order.
- Users are 'hot' / 'cold' by `reaseq_core.data.splits.user_segments` (least active third = cold).

Layout. Row 0 of the vector table is padding (a zero vector, never attended to: every model masks it);
rows 1..n_items are the items in `item_ids` order; rows after that are extra history vectors (GBR fills)
when given. A history is the last `max_len` real events, right-aligned (padding on the left), followed by
the user's extra vectors (padded to the longest extra list) -- the real-event part is identical with and
without extras, so the two arms of a comparison differ only by the extras. Extras are keyed by user (the
same extras for every sample of the user) or by (user, sample position) (each sample its own extras, e.g.
GBR fills inferred only from the events before that sample; a sample with no key gets none).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.splits import ctr_samples, user_segments

PAD = 0


@dataclass
class CTRData:
    """Everything a ranking model needs, as aligned numpy arrays (one row per sample)."""
    samples: pd.DataFrame        # user_id, target_item, label, split, position, segment
    history: np.ndarray          # int64 [N, max_len + n_extra]; indices into `table`, 0 = padding
    target: np.ndarray           # int64 [N]; index of the target item in `table`
    table: np.ndarray            # float32 [1 + n_items + n_extra_vectors, d]; row 0 = padding
    item_ids: np.ndarray         # str [n_items]; table row i + 1 is item_ids[i]
    max_len: int
    n_extra: int                 # width of the extra-history block (0 when none)
    segment_rule: str
    protocol: dict = field(default_factory=dict)
    # per-sample feature arrays (aligned with `samples`) added by features.py for models that use them
    sample_features: dict = field(default_factory=dict)

    def split_index(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.samples["split"].to_numpy() == split)

    def history_items(self) -> np.ndarray:
        """The real-event part of the history (without extras), for models that need item identity."""
        return self.history[:, : self.max_len]


def _history_windows(interactions: pd.DataFrame, item_row: dict, samples: pd.DataFrame, max_len: int) -> np.ndarray:
    """For each sample, the table rows of its user's last `max_len` events before its position.

    Every user's sequence is stored after `max_len` padding slots in one flat array, so the window of
    a sample at position p is flat[start_u + p : start_u + p + max_len] -- one fancy-index, no Python loop.
    """
    users = interactions["user_id"].to_numpy()
    rows = interactions["item_id"].map(item_row).to_numpy()
    change = np.r_[True, users[1:] != users[:-1]]
    first = np.flatnonzero(change)
    lengths = np.diff(np.r_[first, len(users)])
    # flat layout: [pad*max_len, seq_u1, pad*max_len, seq_u2, ...]
    starts = first + max_len * np.arange(1, len(first) + 1)       # where each user's sequence begins
    flat = np.zeros(len(users) + max_len * len(first), dtype=np.int64)
    flat[np.repeat(starts, lengths) + (np.arange(len(users)) - np.repeat(first, lengths))] = rows
    user_start = dict(zip(users[first], starts))
    begin = samples["user_id"].map(user_start).to_numpy() + samples["position"].to_numpy() - max_len
    return flat[begin[:, None] + np.arange(max_len)[None, :]]


def build_ctr_data(dataset, item_ids, item_vectors, *, neg_ratio: int = 1, sample_seed: int = 0,
                   max_len: int = 50, extra_history: dict | None = None, users=None) -> CTRData:
    """Samples + index matrices for `dataset` (a data.Dataset).

    item_ids / item_vectors: the item-vector space (must cover every item the interactions mention).
    extra_history: user_id -> array [k, d] appended after each history of that user, or
    (user_id, position) -> array [k, d] appended to that sample's history only (see module doc).
    users: optional subset of user ids (small runs); samples and segments are still computed on all users
    so the hot/cold cut does not move with the subset.
    """
    inter = dataset.interactions
    item_ids = np.asarray(item_ids).astype(str)
    vectors = np.asarray(item_vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(item_ids):
        raise ValueError(f"item_vectors must be [n_items, d] aligned with item_ids; got {vectors.shape} "
                         f"for {len(item_ids)} ids")
    if len(set(item_ids)) != len(item_ids):
        raise ValueError("item_ids contains duplicates")
    item_row = {iid: i + 1 for i, iid in enumerate(item_ids)}
    missing = set(inter["item_id"].unique()) - item_row.keys()
    if missing:
        raise ValueError(f"{len(missing)} item(s) of dataset '{dataset.name}' have no vector, e.g. "
                         f"{sorted(missing)[:3]}; pass vectors for every interacted item")

    segments, seg_info = user_segments(inter)
    catalogue = dataset.items["item_id"].to_numpy()
    samples = ctr_samples(inter, catalogue, neg_ratio=neg_ratio, seed=sample_seed)
    if users is not None:
        keep_users = set(users)
        inter = inter[inter["user_id"].isin(keep_users)].reset_index(drop=True)
        samples = samples[samples["user_id"].isin(keep_users)].reset_index(drop=True)
    samples = samples.merge(segments[["user_id", "segment"]], on="user_id", how="left", validate="m:1")

    history = _history_windows(inter, item_row, samples, max_len)
    target = samples["target_item"].map(item_row).to_numpy().astype(np.int64)

    d = vectors.shape[1]
    table_parts = [np.zeros((1, d), np.float32), vectors]
    n_extra = 0
    extra_users = extra_samples = 0
    if extra_history:
        n_extra = max((len(np.asarray(v)) for v in extra_history.values()), default=0)
        next_row = 1 + len(item_ids)
        user_extra_rows = {}
        for u, vecs in extra_history.items():
            vecs = np.asarray(vecs, dtype=np.float32).reshape(-1, d) if len(vecs) else np.zeros((0, d), np.float32)
            if vecs.shape[1] != d:
                raise ValueError(f"extra_history[{u!r}] has dim {vecs.shape[1]}, item vectors have {d}")
            rows = np.zeros(n_extra, dtype=np.int64)
            rows[: len(vecs)] = np.arange(next_row, next_row + len(vecs))
            next_row += len(vecs)
            table_parts.append(vecs)
            user_extra_rows[u] = rows
        # row 0 of `per_user` = keys without extras (all padding)
        per_user = np.zeros((len(user_extra_rows) + 1, n_extra), dtype=np.int64)
        slot = {}
        for j, (u, rows) in enumerate(user_extra_rows.items(), start=1):
            per_user[j], slot[u] = rows, j
        if isinstance(next(iter(slot)), tuple):          # per sample: (user_id, position)
            sample_slot = np.fromiter((slot.get(k, 0) for k in zip(samples["user_id"], samples["position"])),
                                      dtype=np.int64, count=len(samples))
        else:
            sample_slot = samples["user_id"].map(slot).fillna(0).to_numpy().astype(np.int64)
        extra_block = per_user[sample_slot]
        extra_users = int(samples.loc[sample_slot > 0, "user_id"].nunique())
        extra_samples = int((sample_slot > 0).sum())
        history = np.concatenate([history, extra_block], axis=1)
    table = np.concatenate(table_parts, axis=0)

    protocol = {"neg_ratio": neg_ratio, "sampler": "uniform over the catalogue minus the user's items",
                "sample_seed": sample_seed, "max_len": max_len,
                "split": "per user: targets b_2..b_{T-2} train, b_{T-1} valid, b_T test; history = events before",
                "segments": seg_info["rule"], "n_samples": int(len(samples)),
                "n_users": int(samples["user_id"].nunique()),
                "n_test": int((samples["split"] == "test").sum()),
                "extra_history": {"width": n_extra, "users_with_extra": extra_users,
                                  "samples_with_extra": extra_samples}}
    return CTRData(samples=samples, history=history, target=target, table=table, item_ids=item_ids,
                   max_len=max_len, n_extra=n_extra, segment_rule=seg_info["rule"], protocol=protocol)
