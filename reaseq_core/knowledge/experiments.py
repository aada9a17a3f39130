"""Prompt experiments: is an edited template better than the saved one, over many items?

An experiment runs two (or more) versions of one item-level agent's template (`item_knowledge`, Layer 3,
or `single_agent`, the baseline) on the same sample of items, through the dataset's call cache and one
backend, and reports per version:

- valid share: items whose answer passed the schema and the agent's checks within the attempts allowed;
- attempts: mean attempts per item (1 = valid at the first answer);
- grounding rate: mean share of an item's entries whose cited evidence is in its metadata (grounding.py);
- entries per item: mean number of knowledge entries of a valid item (both perspectives);
- generic keywords: share of the keywords that are *generic*, see GENERIC_RULE;
- prompt / completion tokens per item and latency per item of the calls made live (answers found in the
  call cache are counted as cached, with the latency they originally took reported apart).

The sample is stratified by subcategory (`sample_items`). Versions run one after the other, items grouped
by subcategory, so consecutive prompts share their prefix. `should_stop` is checked before each item: a
stop lets the item in flight finish (its calls are written to the call log) and starts nothing more.

The result is one JSON artifact (catalogue entry `prompt_experiment`).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .. import catalogue as cat
from ..errors import ReaSeqError
from ..store import ArtifactStore
from . import agents, inputs
from .pipeline import TemplateCallCache
from .promotion import SETUP_OF_AGENT
from .templates import template_hash

EXPERIMENT_AGENTS = tuple(SETUP_OF_AGENT)
DEFAULT_N = 20
GENERIC_SHARE = 0.30
REFERENCES = ("sample", "stored")
GENERIC_RULE = ("A keyword (lower-cased, spaces collapsed) is generic when it is among the keywords of more than "
                "{share:.0%} of the items of its subcategory in the reference: 'sample' = this version's valid "
                "answers on the sampled items; 'stored' = the stored knowledge (status ok) of the agent's setup. "
                "A subcategory is judged only when the reference holds at least {min_items} of its items (with "
                "fewer, one item alone is already more than {share:.0%}); keywords of other subcategories are "
                "counted as not judged.")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Version:
    label: str
    text: str

    @property
    def sha256(self) -> str:
        return template_hash(self.text)

    @property
    def sha12(self) -> str:
        return self.sha256[:12]


def min_items_for(share: float) -> int:
    """Fewest reference items of a subcategory for which one item alone is not more than `share`."""
    if not 0 < share < 1:
        raise ReaSeqError(f"generic-keyword share must be between 0 and 1, not {share}")
    return max(2, math.ceil(1 / share - 1e-9))


def generic_rule(share: float = GENERIC_SHARE) -> str:
    return GENERIC_RULE.format(share=share, min_items=min_items_for(share))


def norm_keyword(k) -> str:
    return " ".join(str(k).lower().split())


def entry_keywords(entries: list[dict]) -> set[str]:
    return {norm_keyword(k) for e in entries for k in (e.get("keywords") or []) if str(k).strip()}


# ---- sample -----------------------------------------------------------------------------------------------
def sample_pool(store: ArtifactStore, dataset: str, agent: str) -> pd.DataFrame:
    """Items the agent can be run on (they have a stored row of its setup, so their subcategory has a taxonomy):
    item_id, sub_category, primary_category."""
    if agent not in SETUP_OF_AGENT:
        raise ReaSeqError(f"prompt experiments compare item-level agents ({', '.join(SETUP_OF_AGENT)}), not '{agent}'")
    if not store.exists(dataset, cat.ITEM_KNOWLEDGE):
        raise ReaSeqError(f"dataset '{dataset}' has no item knowledge yet: run "
                          f"`{cat.ITEM_KNOWLEDGE.producing_command(dataset)}` first")
    df = store.read(dataset, cat.ITEM_KNOWLEDGE)
    pool = df[df["setup"] == SETUP_OF_AGENT[agent]][["item_id", "sub_category", "primary_category"]]
    return pool.drop_duplicates("item_id").reset_index(drop=True)


def stratified_sample(pool: pd.DataFrame, n: int, seed: int = 0, by: str = "sub_category") -> list[str]:
    """n item ids, allocated to the strata in proportion to their size (largest remainders; every stratum
    gets one when n allows), drawn at random inside a stratum with `seed`; ordered by stratum then id."""
    if n < 1:
        raise ReaSeqError(f"sample size must be at least 1, not {n}")
    sizes = pool[by].fillna("(none)").value_counts().sort_index()
    n = min(n, int(sizes.sum()))
    if n >= len(sizes):
        alloc = pd.Series(1, index=sizes.index)
        rest = n - len(sizes)
        quota = (sizes - 1) / max(1, (sizes - 1).sum()) * rest
    else:
        alloc = pd.Series(0, index=sizes.index)
        quota = sizes / sizes.sum() * n
        rest = n
    base = np.floor(quota).astype(int).clip(upper=sizes - alloc)
    alloc = alloc + base
    left = n - int(alloc.sum())
    order = (quota - np.floor(quota)).sort_values(ascending=False, kind="stable").index
    while left > 0:
        for s in order:
            if left and alloc[s] < sizes[s]:
                alloc[s] += 1
                left -= 1
    rng = np.random.default_rng(seed)
    out = []
    strata = pool.assign(_s=pool[by].fillna("(none)"))
    for s, k in alloc.items():
        ids = sorted(strata.loc[strata["_s"] == s, "item_id"])
        out += sorted(rng.choice(ids, size=int(k), replace=False).tolist()) if k else []
    return out


# ---- generic keywords --------------------------------------------------------------------------------------
def generic_shares(rows: list[dict], share: float = GENERIC_SHARE,
                   reference: dict[str, list[set[str]]] | None = None) -> dict:
    """Generic-keyword figures of one version's rows (dicts with sub_category, status, keywords). `reference`
    maps a subcategory to the keyword sets of its reference items; None: the rows themselves ('sample')."""
    min_items = min_items_for(share)
    ok = [r for r in rows if r["status"] == "ok"]
    if reference is None:
        reference = {}
        for r in ok:
            reference.setdefault(r["sub_category"], []).append(set(r["keywords"]))
    generic_by_sub = {}
    for sub, sets in reference.items():
        if len(sets) >= min_items:
            counts = Counter(k for s in sets for k in s)
            generic_by_sub[sub] = {k for k, c in counts.items() if c / len(sets) > share}
    judged = generic = not_judged = 0
    per_item = {}
    for r in ok:
        kws = set(r["keywords"])
        g = generic_by_sub.get(r["sub_category"])
        if g is None:
            not_judged += len(kws)
            per_item[r["item_id"]] = None
            continue
        judged += len(kws)
        generic += len(kws & g)
        per_item[r["item_id"]] = sorted(kws & g)
    return {"generic_share": generic / judged if judged else None, "keywords_judged": judged,
            "keywords_generic": generic, "keywords_not_judged": not_judged,
            "subcategories_judged": sorted(generic_by_sub), "generic_by_item": per_item}


def stored_reference(store: ArtifactStore, dataset: str, agent: str) -> dict[str, list[set[str]]]:
    df = store.read(dataset, cat.ITEM_KNOWLEDGE)
    df = df[(df["setup"] == SETUP_OF_AGENT[agent]) & (df["status"] == "ok")]
    out: dict[str, list[set[str]]] = {}
    for r in df.to_dict("records"):
        entries = json.loads(r["user_demand"] or "[]") + json.loads(r["product_attribute"] or "[]")
        out.setdefault(r["sub_category"], []).append(entry_keywords(entries))
    return out


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(xs)) if xs else None


def summarise(rows: list[dict], share: float = GENERIC_SHARE,
              reference: dict[str, list[set[str]]] | None = None) -> dict:
    """Aggregate figures of one version's rows (see the module docstring)."""
    ok = [r for r in rows if r["status"] == "ok"]
    live = [r for r in rows if r["live_calls"]]
    gen = generic_shares(rows, share, reference)
    return {"items": len(rows), "valid": len(ok), "valid_share": len(ok) / len(rows) if rows else None,
            "attempts_mean": _mean([r["attempts"] for r in rows]),
            "grounding_rate_mean": _mean([r["grounding_rate"] for r in ok]),
            "entries_per_item": _mean([r["entries"] for r in ok]),
            "generic_keyword_share": gen["generic_share"], "keywords_judged": gen["keywords_judged"],
            "keywords_not_judged": gen["keywords_not_judged"],
            "subcategories_judged": gen["subcategories_judged"],
            "prompt_tokens_per_item": _mean([r["prompt_tokens"] for r in rows]),
            "completion_tokens_per_item": _mean([r["completion_tokens"] for r in rows]),
            "prompt_tokens_total": int(sum(r["prompt_tokens"] for r in rows)),
            "completion_tokens_total": int(sum(r["completion_tokens"] for r in rows)),
            "live_items": len(live), "cached_items": sum(1 for r in rows if r["cached"]),
            "live_calls": int(sum(r["live_calls"] for r in rows)),
            "latency_s_per_live_item": _mean([r["latency_s"] for r in live]),
            "cached_original_latency_s_per_item": _mean([r["cached_latency_s"] for r in rows if r["cached"]])}


SUMMARY_LABELS = {  # what the tables show, in order
    "items": "items run", "valid_share": "valid share", "attempts_mean": "attempts per item",
    "grounding_rate_mean": "grounding rate", "entries_per_item": "entries per valid item",
    "generic_keyword_share": "generic keyword share", "keywords_judged": "keywords judged (generic rule)",
    "prompt_tokens_per_item": "prompt tokens per item", "completion_tokens_per_item": "completion tokens per item",
    "live_items": "items answered live", "cached_items": "items answered from the cache",
    "latency_s_per_live_item": "latency per live item (s)",
    "cached_original_latency_s_per_item": "cached items: original latency (s, not spent now)"}


SHARE_KEYS = {"valid_share", "grounding_rate_mean", "generic_keyword_share"}
COUNT_KEYS = {"items", "keywords_judged", "live_items", "cached_items"}


def format_figure(key: str, v) -> str:
    """A figure as the tables show it: shares as percentages, counts as integers, '–' where there is none."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if key in SHARE_KEYS:
        return f"{v:.1%}"
    if key in COUNT_KEYS:
        return f"{int(v):,}"
    if "tokens" in key:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def summary_table(result: dict, formatted: bool = False) -> pd.DataFrame:
    """One row per figure, one column per version (label and sha12)."""
    cols = {}
    for v in result["versions"]:
        s = result["summary"][v["label"]]
        cols[f"{v['label']} ({v['sha12']})"] = [format_figure(k, s.get(k)) if formatted else s.get(k)
                                                for k in SUMMARY_LABELS]
    return pd.DataFrame(cols, index=list(SUMMARY_LABELS.values()))


# ---- running --------------------------------------------------------------------------------------------
class _Tracer:
    """Hears the call cache (TemplateCallCache.observer) and reports calls to `on_call`; keeps the records of
    the item in flight."""

    def __init__(self, on_call: Callable[[dict], None] | None):
        self.on_call = on_call
        self.context: dict = {}
        self.records: list[tuple[str, dict]] = []
        self.started: float | None = None
        self.calls = 0

    def __call__(self, event: str, rec: dict) -> None:
        if event == "live":
            self.started = time.perf_counter()
            self.calls += 1
            self._emit("call_start", call=self.calls)
        elif event == "answered":
            elapsed = time.perf_counter() - (self.started or time.perf_counter())
            self.records.append(("live", rec))
            self._emit("call_end", call=self.calls, elapsed_s=round(elapsed, 2),
                       prompt_tokens=int(rec.get("prompt_tokens") or 0),
                       completion_tokens=int(rec.get("completion_tokens") or 0), status=rec.get("status"))
        elif event == "cached":
            self.records.append(("cached", rec))
            self._emit("cached", prompt_tokens=int(rec.get("prompt_tokens") or 0),
                       completion_tokens=int(rec.get("completion_tokens") or 0),
                       original_latency_s=float(rec.get("latency_s") or 0), status=rec.get("status"))

    def _emit(self, kind: str, **kw) -> None:
        if self.on_call is not None:
            self.on_call({"event": kind, **self.context, **kw})


def _item_setup(ds, taxonomy: dict | None, item: dict, agent: str):
    category = item["primary_category"]
    sub = inputs.subcategory_of(item, category)
    if agent != "item_knowledge":
        return category, sub, None
    st = (taxonomy or {}).get("categories", {}).get(category, {}).get("subcategories", {}).get(sub)
    if not st or st["demand"].get("status") != "ok" or st["attribute"].get("status") != "ok":
        raise ReaSeqError(f"item {item['item_id']}: no refined taxonomy for '{category} > {sub}': run "
                          f"`reaseq knowledge build --dataset {ds.name} --category \"{category}\"` first")
    return category, sub, (st["demand"]["final"], st["attribute"]["final"])


def _row(version: Version, item_id: str, sub: str, r: dict, trace: list[tuple[str, dict]]) -> dict:
    entries = (r["user_demand"] or []) + (r["product_attribute"] or [])
    live = [rec for kind, rec in trace if kind == "live"]
    cached = [rec for kind, rec in trace if kind == "cached"]
    g = r["grounding_rate"]
    return {"version": version.label, "item_id": item_id, "sub_category": sub, "status": r["status"],
            "error": r["failure_reason"], "attempts": int(r["attempts"]), "live_calls": int(r["live_calls"]),
            "cached": bool(trace) and not live,
            "latency_s": round(sum(float(x.get("latency_s") or 0) for x in live), 3),
            "cached_latency_s": round(sum(float(x.get("latency_s") or 0) for x in cached), 3),
            "prompt_tokens": int(sum(int(x.get("prompt_tokens") or 0) for _, x in trace)),
            "completion_tokens": int(sum(int(x.get("completion_tokens") or 0) for _, x in trace)),
            "entries": len(entries), "grounding_rate": None if g is None or (isinstance(g, float) and math.isnan(g))
            else float(g),
            "keywords": sorted(entry_keywords(entries)),
            "output": {"user_demand": r["user_demand"], "product_attribute": r["product_attribute"]}
            if r["status"] == "ok" else None, "raw": "" if r["status"] == "ok" else str(r.get("raw") or "")[:4000]}


def run_experiment(store: ArtifactStore, dataset: str, agent: str, versions: list[Version], item_ids: list[str],
                   backend, *, cache_path=None, max_attempts: int = 3, generic_share: float = GENERIC_SHARE,
                   reference: str = "sample", on_call: Callable[[dict], None] | None = None,
                   on_item: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
                   sample: dict | None = None, ds=None) -> dict:
    """Run every version on every item (version by version); returns the experiment (not yet saved).

    `cache_path`: the call log to use (default: the dataset's, the one the build uses). `on_call(event)` hears
    each call: "call_start" before a live call, "call_end" after its answer is in the log (elapsed_s,
    prompt_tokens, completion_tokens), "cached" for an answer found in the log. `on_item(row)` after each
    (version, item). `should_stop()` is asked before each item."""
    if agent not in SETUP_OF_AGENT:
        raise ReaSeqError(f"prompt experiments compare item-level agents ({', '.join(SETUP_OF_AGENT)}), not '{agent}'")
    if len(versions) < 2:
        raise ReaSeqError("a prompt experiment needs two template versions")
    if len({v.sha256 for v in versions}) < len(versions):
        raise ReaSeqError("the versions to compare are identical texts: edit the template or choose another version")
    if len({v.label for v in versions}) < len(versions):
        raise ReaSeqError("two versions have the same label")
    if reference not in REFERENCES:
        raise ReaSeqError(f"generic-keyword reference must be one of {REFERENCES}, not {reference!r}")
    min_items_for(generic_share)
    if not item_ids:
        raise ReaSeqError("no items to run on")
    from ..data import load_dataset
    ds = ds if ds is not None else inputs.without_constant_attributes(load_dataset(dataset, store))
    by_id = ds.items.set_index("item_id", drop=False)
    missing = [i for i in item_ids if i not in by_id.index]
    if missing:
        raise ReaSeqError(f"dataset '{dataset}': unknown item id(s) {missing[:5]}")
    taxonomy = store.read(dataset, cat.TAXONOMY) if agent == "item_knowledge" else None
    fnames = inputs.field_names(ds.items)
    setups = {}
    for iid in item_ids:
        item = by_id.loc[iid].to_dict()
        setups[iid] = (item, *_item_setup(ds, taxonomy, item, agent))
    tracer = _Tracer(on_call)
    cache = TemplateCallCache(cache_path or store.path(dataset, cat.LLM_CALLS), observer=tracer)
    rows: list[dict] = []
    total, k, stopped, started = len(versions) * len(item_ids), 0, False, time.perf_counter()
    interrupted = None
    try:
        for v in versions:
            cache.template_hashes[agent] = v.sha256
            ctx = agents.AgentContext(backend, cache, max_attempts=max_attempts, single_agent_attempts=max_attempts,
                                      templates={agent: v.text})
            for iid in item_ids:
                if should_stop and should_stop():
                    stopped = True
                    break
                k += 1
                item, category, sub, dims = setups[iid]
                tracer.context = {"version": v.label, "item_id": iid, "k": k, "total": total}
                tracer.records = []
                if agent == "item_knowledge":
                    r = agents.item_knowledge_agent(ctx, item, f"{category} > {sub}", dims[0], dims[1], fnames)
                else:
                    r = agents.single_agent(ctx, item, fnames)
                row = _row(v, iid, sub, r, tracer.records)
                rows.append(row)
                if on_item:
                    on_item({**row, "k": k, "total": total})
            if stopped:
                break
    except KeyboardInterrupt:   # Ctrl-C / SIGTERM (the CLI turns it into this): keep what finished
        stopped, k = True, len(rows)
        interrupted = (f"interrupted during {tracer.context.get('version')} on item {tracer.context.get('item_id')}; "
                       "calls answered before the interrupt are in the call log")
    ref = stored_reference(store, dataset, agent) if reference == "stored" else None
    summary = {v.label: summarise([r for r in rows if r["version"] == v.label], generic_share, ref) for v in versions}
    for v in versions:   # per-item generic keywords, for the drill-down
        g = generic_shares([r for r in rows if r["version"] == v.label], generic_share, ref)["generic_by_item"]
        for r in rows:
            if r["version"] == v.label:
                r["generic_keywords"] = g.get(r["item_id"])
    return {"agent": agent, "created": _now(),
            "versions": [{"label": v.label, "sha256": v.sha256, "sha12": v.sha12} for v in versions],
            "items": list(item_ids), "rows": rows, "summary": summary,
            "config": {"dataset": dataset, "n": len(item_ids), "sample": sample or {}, "max_attempts": max_attempts,
                       "generic_share": generic_share, "reference": reference,
                       "generic_rule": generic_rule(generic_share), "backend": backend.name, "model": backend.model,
                       "model_hash": getattr(backend, "model_hash", None),
                       "call_log": str(cache.path), "stopped": stopped, "interrupted": interrupted, "pairs_done": k,
                       "pairs_total": total, "wall_s": round(time.perf_counter() - started, 2)}}


def run_id(result: dict) -> str:
    stamp = re.sub(r"[^0-9]", "", result["created"])[:14]
    return f"{stamp}-" + "-".join(v["sha12"][:8] for v in result["versions"])


def save_experiment(store: ArtifactStore, dataset: str, result: dict) -> str:
    """Write the experiment atomically; returns its run id."""
    rid = run_id(result)
    store.write(dataset, cat.PROMPT_EXPERIMENT, result,
                {"agent": result["agent"], "versions": result["versions"], "backend": result["config"]["backend"],
                 "model": result["config"]["model"]}, agent=result["agent"], run_id=rid)
    return rid


def list_experiments(store: ArtifactStore, dataset: str, agent: str | None = None) -> list[dict]:
    """(agent, run_id, path) of stored experiments, newest first."""
    out = []
    for a in store.list(dataset, cat.PROMPT_EXPERIMENT.stage):
        if a.entry is cat.PROMPT_EXPERIMENT and (agent is None or a.path.parent.name == agent):
            out.append({"agent": a.path.parent.name, "run_id": a.path.stem, "path": a.path})
    return sorted(out, key=lambda d: d["run_id"], reverse=True)


def item_summary(row: dict | None) -> dict:
    """A compact line per item and version: what the drill-down shows above the raw JSON."""
    if row is None:
        return {}
    out = {"status": row["status"], "attempts": row["attempts"],
           "answer": "cached" if row["cached"] else f"live {row['latency_s']:.1f} s",
           "tokens": f"{row['prompt_tokens']}+{row['completion_tokens']}", "entries": row["entries"],
           "grounding": None if row["grounding_rate"] is None else round(row["grounding_rate"], 2)}
    if row.get("error"):
        out["error"] = row["error"]
    return out


def entry_lines(row: dict | None) -> dict[str, str]:
    """'perspective · dimension' -> 'keywords | evidence [grounded?]' for a row's entries."""
    if not row or not row.get("output"):
        return {}
    out = {}
    for persp, short in (("user_demand", "demand"), ("product_attribute", "attribute")):
        for e in row["output"][persp]:
            mark = "" if e.get("grounded") else " ✗ not grounded"
            out[f"{short} · {e.get('dimension')}"] = (f"{', '.join(e.get('keywords') or [])} | "
                                                     f"{'; '.join(e.get('evidence') or [])}{mark}")
    return out
