"""Semantic-ID extraction with a bounded rule for items that collide on the full ID, and the SID report.

Collision rule: items sharing all L codes get a suffix 0, 1, 2, ... ordered by how close their vector's
reconstruction is to the original (closest keeps 0), then by item id. The suffix is bounded by the
codebook size K (as TIGER's extra token is): in a bucket larger than K, items beyond the K-th share the
last suffix K-1 and are counted in the report as `still_colliding`, never silently dropped.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def assign_sids(item_ids, codes: np.ndarray, recon_error: np.ndarray, codebook_size: int) -> pd.DataFrame:
    """Frame item_id, sid_1..sid_L, sid ("a-b-c"), collision_suffix."""
    codes = np.asarray(codes, dtype=np.int64)
    df = pd.DataFrame(codes, columns=[f"sid_{l + 1}" for l in range(codes.shape[1])])
    df.insert(0, "item_id", np.asarray(item_ids).astype(str))
    df["sid"] = ["-".join(map(str, row)) for row in codes]
    df["_err"] = np.asarray(recon_error, dtype=float)
    order = df.sort_values(["sid", "_err", "item_id"], kind="stable")
    rank = order.groupby("sid").cumcount()
    df["collision_suffix"] = np.minimum(rank.reindex(df.index).to_numpy(), codebook_size - 1).astype(np.int64)
    return df.drop(columns="_err")


def sid_report(codes: np.ndarray, codebook_size: int, recon_mse: float, sids: pd.DataFrame | None = None) -> dict:
    """Per-level usage (share of the K codes used) and perplexity (exp entropy of code frequencies);
    share of items with a unique full SID; largest bucket; reconstruction error (mean squared L2)."""
    codes = np.asarray(codes)
    levels = []
    for l in range(codes.shape[1]):
        counts = np.bincount(codes[:, l], minlength=codebook_size)
        p = counts[counts > 0] / counts.sum()
        levels.append({"level": l + 1, "codes_used": int((counts > 0).sum()),
                       "usage": float((counts > 0).mean()), "perplexity": float(np.exp(-(p * np.log(p)).sum()))})
    _, inverse, bucket = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    per_item_bucket = bucket[inverse.ravel()]
    out = {"levels": levels, "n_items": int(len(codes)), "distinct_full_ids": int(len(bucket)),
           "unique_share": float((per_item_bucket == 1).mean()), "largest_bucket": int(bucket.max()),
           "recon_mse": float(recon_mse)}
    if sids is not None:
        full = sids["sid"] + "/" + sids["collision_suffix"].astype(str)
        out["still_colliding"] = int(full.duplicated(keep=False).sum())
    return out
