"""The knowledge summary (catalogue entry `knowledge_summary`): per primary category and setup, how many items
have knowledge, which failed and why, the grounding rate, and the measured generation speed (from the latency the calls recorded when they
were made, so a replay from the cache reports the speed of the original generation, not of the replay)."""
from __future__ import annotations

import json
import os
from collections import Counter

import pandas as pd


def _entries(row) -> list[dict]:
    out = []
    for col in ("user_demand", "product_attribute"):
        v = row[col]
        if isinstance(v, str) and v:
            out += json.loads(v)
    return out


def setup_figures(df: pd.DataFrame) -> dict:
    ok = df[df["status"] == "ok"]
    failed = df[df["status"] != "ok"]
    entries = [e for _, r in ok.iterrows() for e in _entries(r)]
    grounded = sum(bool(e.get("grounded")) for e in entries)
    timed = df[pd.to_numeric(df["latency_s"], errors="coerce").fillna(0) > 0]
    secs = float(timed["latency_s"].sum()) if len(timed) else 0.0
    toks = float(pd.to_numeric(timed["completion_tokens"], errors="coerce").fillna(0).sum()) if len(timed) else 0.0
    reasons = Counter(str(r)[:160] for r in failed["failure_reason"])
    return {"items_ok": int(len(ok)), "items_failed": int(len(failed)),
            "failure_reasons": dict(reasons.most_common(10)),
            "entries": len(entries), "grounded_entries": int(grounded),
            "grounding_rate": round(grounded / len(entries), 4) if entries else None,
            "items_per_hour": round(3600 * len(timed) / secs, 1) if secs else None,
            "generated_tokens_per_s": round(toks / secs, 2) if secs else None,
            "mean_attempts": round(float(pd.to_numeric(df["attempts"], errors="coerce").mean()), 3) if len(df) else None}


def knowledge_summary(df: pd.DataFrame, calls_path: str | os.PathLike | None = None, items_total: dict | None = None) -> dict:
    out: dict = {"categories": {}, "setups": {}}
    for setup, g in df.groupby("setup"):
        out["setups"][setup] = setup_figures(g)
    for (cat, setup), g in df.groupby(["primary_category", "setup"]):
        c = out["categories"].setdefault(cat, {})
        c[setup] = setup_figures(g)
        if items_total and cat in items_total:
            c[setup]["items_total"] = int(items_total[cat])
    from ..llm.cache import read_call_log
    # no log yet (a run that made no call) counts as zero calls: the catalogue declares call_log always present
    recs = read_call_log(calls_path) if calls_path is not None else []
    out["call_log"] = {"calls": len(recs), "by_status": dict(Counter(r.get("status") for r in recs)),
                       "by_agent": dict(Counter(r.get("agent") for r in recs))}
    return out
