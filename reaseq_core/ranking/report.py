"""Tables 3-4 analogues as ResultTables: their protocol and deviation text, and the paper's own figures.

Table 3 (paper Sec. 4.1.2): integration schemes against Base. Table 4: Base + title vectors vs Base +
knowledge (MAKR) vectors, on the test samples whose target item has knowledge. Rows are mean +- std over
seeds; deltas vs Base are paired per seed (same seed, same test samples), in percentage points as the
paper reports them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import catalogue as cat
from ..results import ResultTable
from .train import METRICS, SEGMENTS

TABLE3_VARIANTS = ["Base", "Retrieval", "Compression", "Compression+SID", "Retrieval+Compression+SID"]
TABLE4_VARIANTS = ["Base+title vectors", "Base+knowledge vectors"]
# Table 3's semantic paths on the paper's MAKR vectors: the semantic GSU (and the SIDs) over knowledge vectors
# where items have them, title vectors elsewhere
TABLE3_KNOWLEDGE_VARIANTS = ["Retrieval (knowledge)", "Retrieval+Compression+SID (knowledge)"]
KNOWLEDGE_SID_ARM = TABLE3_KNOWLEDGE_VARIANTS[1]   # the one that also needs the knowledge-vector SIDs

PAPER_COLUMNS = ["overall_auc", "overall_gauc", "hot_auc", "hot_gauc", "cold_auc", "cold_gauc"]
# percentage-point gains over Base reported by the paper (Taobao), for side-by-side display
PAPER_TABLE3 = {
    "Retrieval": [0.12, 0.20, 0.10, 0.24, 0.15, 0.31], "Compression": [0.18, 0.34, 0.16, 0.31, 0.27, 0.35],
    "Compression+SID": [0.20, 0.36, 0.17, 0.33, 0.36, 0.39],
    "Retrieval+Compression+SID": [0.29, 0.41, 0.29, 0.40, 0.39, 0.45],
    "columns": PAPER_COLUMNS}
PAPER_TABLE4 = {"Base+MAKR": [0.035, 0.090, 0.035, 0.081, 0.050, 0.102],
                "Base+GME": [0.041, 0.120, 0.039, 0.117, 0.065, 0.150], "columns": PAPER_COLUMNS}

COMMON_DEVIATIONS = [
    "public Amazon Beauty 5-core reviews instead of Taobao impression logs; negatives are sampled, not shown-but-not-clicked",
    "sequences are short (median 6 events) instead of 'ultra-long': GSU keeps top-10 of at most 50 events",
    "item vectors for the semantic GSU and the SIDs are title vectors (Phi(title + brand + category)), except "
    "in the '(knowledge)' rows: knowledge vectors where items have them, title vectors elsewhere, and SIDs from "
    "the RQ-VAE over those; the paper uses MAKR knowledge vectors throughout",
    "small dims (d_model 32, 2 heads, 4 interest anchors) and 2 epochs (best by validation AUC) to fit a 2-core CPU",
    "Base GSU rule = the target's primary category (Beauty's 2nd category level)",
    "f_u = log history length, f^c = log days since the previous event (no user profile data in Beauty)",
]
TABLE4_DEVIATIONS = ["MAKR knowledge vectors from a 1.5B local LLM over part of the catalogue; "
                     "no GME arm (the paper's fine-tuned multimodal encoder)",
                     "vectors enter f_i through a learned linear projection"]


def _mean_std(vals) -> tuple[float, float]:
    a = np.asarray(vals, dtype=float)
    return float(np.mean(a)), float(np.std(a, ddof=1)) if len(a) > 1 else float("nan")


def table_rows(runs: pd.DataFrame, variants: list[str], prefix: str, base: str) -> list[dict]:
    """Mean +- std over seeds, and the per-seed paired delta vs `base` in percentage points."""
    rows = []
    cols = [f"{s}_{m}" for s in SEGMENTS for m in METRICS]
    base_runs = runs[runs["variant"] == base].set_index("seed")
    for v in variants:
        r = runs[runs["variant"] == v].set_index("seed")
        if r.empty:
            continue
        row = {"method": v, "seeds": int(len(r)), "n_test": int(r[f"{prefix}overall_n"].iloc[0])}
        for c in cols:
            row[c], row[f"{c}_std"] = _mean_std(r[f"{prefix}{c}"])
        for c in cols:
            if v == base:
                row[f"delta_{c}"], row[f"delta_{c}_std"] = 0.0, 0.0
            else:
                common = r.index.intersection(base_runs.index)
                d = 100 * (r.loc[common, f"{prefix}{c}"] - base_runs.loc[common, f"{prefix}{c}"])
                row[f"delta_{c}"], row[f"delta_{c}_std"] = _mean_std(d)
        row["wall_s_per_seed"] = float(r["wall_s"].mean())
        row["cpu_s_per_seed"] = float(r["cpu_s"].mean())
        rows.append(row)
    return rows


def columns() -> list[str]:
    cols = ["method", "seeds", "n_test"]
    for prefix in ("", "delta_"):
        for s in SEGMENTS:
            for m in METRICS:
                cols += [f"{prefix}{s}_{m}", f"{prefix}{s}_{m}_std"]
    return cols + ["wall_s_per_seed", "cpu_s_per_seed"]


def protocol_text(dataset_name: str, p: dict, epochs: int) -> str:
    return (f"CTR on {dataset_name}: positives = real next events, {p['neg_ratio']} negative(s) per positive "
            f"sampled {p['sampler']} (sample seed {p['sample_seed']}, the same samples for every model and "
            f"seed); history = the last {p['max_len']} events before the target; {p['segments']}; "
            f"{p['n_users']} users, {p['n_samples']} samples, {p['n_test']} test samples; "
            f"model selection on validation AUC over {epochs} epoch(s); metrics AUC and GAUC (DIN: "
            f"impression-weighted per-user AUC, one-class users skipped); delta = paired per-seed difference "
            f"vs Base in percentage points, mean +- std (ddof=1) over seeds")


def make_tables(ctx, runs: pd.DataFrame, seeds: list[int], *, epochs: int, small_users: int | None,
                wall_s: float, cpu_s: float, trained: int | None = None) -> tuple[ResultTable, ResultTable]:
    """Table 3 and Table 4 from the per-(variant, seed) runs of `ranking.ablation.run_ablation`.

    ctx: the ablation's AblationContext (dataset, CTR data, knowledge coverage, SID source, skip reasons).
    small_users: the user count of a small smoke run (None for a full run).
    trained: how many of the runs this call trained (the others are kept from earlier calls); None = all.
    """
    ds, data = ctx.dataset, ctx.data
    protocol = protocol_text(ds.name, data.protocol, epochs)
    common_dev = list(COMMON_DEVIATIONS)
    if small_users is not None:
        common_dev.append(f"SMALL run: {small_users} users, {epochs} epoch(s) -- a smoke configuration, not a result")
    sid_txt = f"SIDs: {ctx.sid_source}" if ctx.sid_source else "no SIDs"
    if ctx.knowledge_sid_source and KNOWLEDGE_SID_ARM in set(runs["variant"]):
        sid_txt += f"; knowledge-vector SIDs: {ctx.knowledge_sid_source}"
    if ctx.knowledge_coverage and set(TABLE3_KNOWLEDGE_VARIANTS) & set(runs["variant"]):
        sid_txt += f". '(knowledge)' rows: {ctx.knowledge_note}"
    trained = len(runs) if trained is None else trained
    kept = (f"; the other {len(runs) - trained} runs were trained by earlier calls with the same configuration"
            if trained < len(runs) else "")
    t3 = ResultTable(
        name=cat.TABLE3_ABLATION.key,
        title="Table 3 analogue: representation integration schemes on the CTR model",
        dataset=ds.name, dataset_hash=ds.card["content_hash"], split=data.protocol["split"], protocol=protocol,
        seeds=seeds, deviations=common_dev, columns=columns(),
        rows=table_rows(runs, [v for v in TABLE3_VARIANTS + TABLE3_KNOWLEDGE_VARIANTS if v in set(runs["variant"])],
                        "", "Base"),
        notes=f"{sid_txt}. Wall time of the call that wrote this table ({trained} trainings, data preparation "
              f"included{kept}): {wall_s:.0f} s wall, {cpu_s:.0f} s CPU of this process.",
        paper_reference=PAPER_TABLE3)
    n_items = len(data.item_ids)
    k_items = int(ctx.has_knowledge.sum())
    k_runs = runs[runs["variant"].isin(["Base"] + TABLE4_VARIANTS)]   # runs kept from earlier calls may predate knowledge
    n_k_test = int(k_runs["k_overall_n"].max()) if len(k_runs) else 0
    if ctx.knowledge_table is None or n_k_test == 0:
        prefix, restricted = "", False
        why = (ctx.skipped.get("Base+knowledge vectors", ctx.knowledge_note) if ctx.knowledge_table is None
               else f"no test sample's target item has knowledge ({ctx.knowledge_note})")
        t4_notes = (f"NO KNOWLEDGE COMPARISON: {why}. The rows below are Base and Base + title vectors on ALL "
                    "test samples; the Base + knowledge vectors arm is absent.")
    else:
        prefix, restricted = "k_", True
        t4_notes = (f"Both arms evaluated only on the {n_k_test} test samples whose target item has knowledge "
                    f"({k_items} of {n_items} items = {k_items / n_items:.1%} of the catalogue; "
                    f"{ctx.knowledge_note}). Models are trained on all training samples.")
    t4_variants = ["Base", "Base+title vectors"] + (["Base+knowledge vectors"] if restricted else [])
    rows4 = table_rows(runs, [v for v in t4_variants if v in set(runs["variant"])], prefix, "Base")
    t4 = ResultTable(
        name=cat.TABLE4_REPRESENTATION.key,
        title="Table 4 analogue: item representations added to the Base CTR model",
        dataset=ds.name, dataset_hash=ds.card["content_hash"], split=data.protocol["split"], protocol=protocol,
        seeds=seeds, deviations=common_dev + TABLE4_DEVIATIONS, columns=columns(), rows=rows4, notes=t4_notes,
        paper_reference=PAPER_TABLE4)
    return t3, t4
