"""The grounding tables.

`grounding_table`: for each agent setup, the share of entries the item's data supports (the check the paper
claims in 2.1.1 but does not measure; `grounded_share`, with `contradicted_share` beside it), on all items and on
the items both setups answered, plus two descriptive figures of the knowledge itself: keywords per item and the
share of keywords found in the item's metadata (the rest is inferred knowledge, which Prompt 4 allows).

`grounding_classes_table`: per setup and primary category, the shares of supported / beyond / contradicted
entries (grounding.py) and of analyses that stop mid-sentence (schemas.unfinished_text). Both re-classify the
stored entries with today's rules, so knowledge stored before the rules is judged the same way.

`regrounded`: the stored rows themselves with that one meaning (each entry's class, `grounded` = supported, the
row's `grounding_rate` = its supported share), for readers that show rows (the workbench, the notebooks)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..results import ResultTable
from . import grounding as gr
from .grounding import words
from .schemas import unfinished_fields


def _entries(row) -> list[dict]:
    return json.loads(row["user_demand"] or "[]") + json.loads(row["product_attribute"] or "[]")


def setup_row(df: pd.DataFrame, items: pd.DataFrame, setup: str, subset: str) -> dict:
    by_id = items.set_index("item_id")
    ok = df[df["status"] == "ok"]
    cls = gr.classify_rows(ok, items)
    ents = list(zip(cls["item_id"], cls["grounding"]))
    per_item = cls.assign(s=cls["grounding"] == gr.SUPPORTED).groupby("item_id")["s"].mean()
    kw_in, kw_all, per_item_kw = 0, 0, []
    for iid, g in ok.groupby("item_id"):
        meta = set(words(" ".join(str(v) for v in gr.fields_of(by_id.loc[iid].to_dict() | {"item_id": iid}).values())))
        kws = [k for _, r in g.iterrows() for e in _entries(r) for k in e["keywords"]]
        per_item_kw.append(len({k.lower() for k in kws}))
        for k in kws:
            ws = words(k)
            kw_all += 1
            kw_in += bool(ws) and all(w in meta for w in ws)
    return {"setup": setup, "items": subset, "n_items": int(ok["item_id"].nunique()),
            "n_failed": int((df["status"] != "ok").sum()), "entries": len(ents),
            "grounded_share": float(np.mean([c == gr.SUPPORTED for _, c in ents])) if ents else float("nan"),
            "contradicted_share": float(np.mean([c == gr.CONTRADICTED for _, c in ents])) if ents else float("nan"),
            "mean_item_grounding_rate": float(per_item.mean()) if len(per_item) else float("nan"),
            "distinct_keywords_per_item": float(np.mean(per_item_kw)) if per_item_kw else float("nan"),
            "keywords_in_metadata_share": kw_in / kw_all if kw_all else float("nan")}


def grounding_table(knowledge: pd.DataFrame, ds) -> ResultTable:
    rows = []
    for setup in ("multi_agent", "single_agent"):
        rows.append(setup_row(knowledge[knowledge["setup"] == setup], ds.items, setup, "all"))
    ok = knowledge[knowledge["status"] == "ok"]
    both = set(ok[ok["setup"] == "multi_agent"]["item_id"]) & set(ok[ok["setup"] == "single_agent"]["item_id"])
    for setup in ("multi_agent", "single_agent"):
        sub = knowledge[(knowledge["setup"] == setup) & knowledge["item_id"].isin(both)]
        rows.append(setup_row(sub, ds.items, setup, "paired (both setups ok)"))
    cols = list(rows[0])
    return ResultTable(
        name="grounding_table", title="Grounding per agent setup: share of knowledge entries the item's data supports "
              "(beyond the paper)",
        dataset=ds.name, dataset_hash=ds.content_hash, split="none (item metadata only)",
        protocol="An entry is grounded (supported) when no field contradicts it and the values of the fields it cites "
                 "bear out at least half of its claim terms (a bare field name is no evidence; typed gender / size / "
                 "price facts are checked against the field holding them); reaseq_core/knowledge/grounding.py. "
                 "Stored entries are re-classified with these rules. Paired rows restrict both setups to the items "
                 "both answered.",
        seeds=[], deviations=["Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, CPU) instead of the paper's large LLMs",
                              "Beauty has no queries or merchant key-values: the demand agent reads category paths and "
                              "titles, the attribute agent the structured fields (brand, price, sales rank, path)",
                              "compact outputs (4 dimensions per perspective in Layer 2/3, bounded lengths) to fit "
                              "a CPU budget"],
        columns=cols, rows=rows,
        notes="Greedy decoding (temperature 0) with schema grammars; retries re-sample at temperature 0.6.")


CLASS_COLUMNS = ["setup", "category", "n_items", "entries", "supported_share", "beyond_share", "contradicted_share",
                 "items_with_contradiction", "unfinished_analysis_share"]


def _class_row(setup: str, category: str, cls: pd.DataFrame, unfinished: pd.Series) -> dict:
    sh = gr.shares(cls["grounding"].tolist())
    return {"setup": setup, "category": category, "n_items": int(cls["item_id"].nunique()), "entries": int(len(cls)),
            "supported_share": sh[gr.SUPPORTED], "beyond_share": sh[gr.BEYOND],
            "contradicted_share": sh[gr.CONTRADICTED],
            "items_with_contradiction": int(cls.loc[cls["grounding"] == gr.CONTRADICTED, "item_id"].nunique()),
            "unfinished_analysis_share": float(unfinished.mean()) if len(unfinished) else float("nan")}


def classified_entries(knowledge: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """One row per stored entry of an ok item: its grounding class and why, and whether its analysis stops
    mid-sentence (`unfinished`: the reason, or '')."""
    cls = gr.classify_rows(knowledge, items)
    unfinished = []
    for r in knowledge[knowledge["status"] == "ok"].to_dict("records"):
        for persp in ("user_demand", "product_attribute"):
            for e in _entries_of(r, persp):
                unfinished.append("; ".join(unfinished_fields(e)))
    cls["unfinished"] = unfinished
    return cls


def regrounded(knowledge: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """The item_knowledge rows with one meaning of grounding whatever their age: every entry of an ok row is
    re-classified against its item's fields (grounding.ground_entry: `grounding`, `grounded` = supported,
    `grounding_note`), `grounding_rate` is the row's share of supported entries, and the columns `supported`,
    `beyond`, `contradicted` count its entries per class (failed rows: no entries, rate NaN, counts 0). Rows
    stored before the classes carry a `grounded` flag of the older evidence-resolution check; readers that show
    grounding read them through here. An item missing from `items` is an error naming the row."""
    by_id = items.set_index("item_id", drop=False)
    out = knowledge.copy()
    texts = {p: list(out[p]) for p in ("user_demand", "product_attribute")}
    rates, counts = [], {c: [] for c in gr.CLASSES}
    for n, r in enumerate(out.to_dict("records")):
        if r.get("status") != "ok":
            rates.append(float("nan"))
            for c in gr.CLASSES:
                counts[c].append(0)
            continue
        iid = r["item_id"]
        if iid not in by_id.index:
            raise KeyError(f"item_knowledge row {n + 1} (item {iid!r}, {r.get('setup')}): item not in the items table")
        knowledge_row = {}
        for p in ("user_demand", "product_attribute"):
            try:
                knowledge_row[p] = _entries_of(r, p)
            except json.JSONDecodeError as e:
                raise ValueError(f"item_knowledge row {n + 1} (item {iid!r}, {r.get('setup')}): field {p!r} is "
                                 f"not JSON: {e}") from e
        fresh, rate = gr.ground_knowledge(knowledge_row, gr.fields_of(by_id.loc[iid].to_dict()))
        classes = [e["grounding"] for p in fresh for e in fresh[p]]
        for p in fresh:
            texts[p][n] = json.dumps(fresh[p], ensure_ascii=False)
        rates.append(rate if classes else float("nan"))
        for c in gr.CLASSES:
            counts[c].append(sum(x == c for x in classes))
    for p, col in texts.items():
        out[p] = col
    out["grounding_rate"] = rates
    for c in gr.CLASSES:
        out[c] = counts[c]
    return out


def _entries_of(row: dict, persp: str) -> list[dict]:
    v = row.get(persp)
    return json.loads(v) if isinstance(v, str) and v else []


def grounding_classes_table(knowledge: pd.DataFrame, ds) -> ResultTable:
    """Shares of supported / beyond / contradicted entries per setup ('all' and each primary category)."""
    cls = classified_entries(knowledge, ds.items)
    rows = []
    for setup in ("multi_agent", "single_agent"):
        sub = cls[cls["setup"] == setup]
        if sub.empty:
            continue
        rows.append(_class_row(setup, "all", sub, sub["unfinished"] != ""))
        for category, g in sub.groupby("primary_category"):
            rows.append(_class_row(setup, str(category), g, g["unfinished"] != ""))
    return ResultTable(
        name="grounding_classes",
        title="Grounding classes of knowledge entries per setup and category: supported / beyond the data / "
              "contradicted (beyond the paper)",
        dataset=ds.name, dataset_hash=ds.content_hash, split="none (item metadata only)",
        protocol="Every entry of an ok item is classified against the item's data fields (title, brand, price, "
                 "category path, description): contradicted when a gender, size, price or perfume concentration it "
                 "states disagrees with a field; supported when the values of the fields it cites bear out at "
                 "least half of its claim terms (a bare field name is no evidence); beyond otherwise (world "
                 "knowledge the fields neither confirm nor contradict). Rules and examples: "
                 "reaseq_core/knowledge/grounding.py. unfinished_analysis_share: analyses that do not end a "
                 "sentence (schemas.unfinished_text).",
        seeds=[], deviations=["Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, CPU) instead of the paper's large LLMs",
                              "rule-based classification (no judge model): precision before recall for "
                              "'contradicted'"],
        columns=CLASS_COLUMNS, rows=rows,
        notes="Computed from the stored item_knowledge artifact; no LLM call.")
