"""Knowledge-stage throughput on this machine: items/hour and generated tokens/s of Layer 3 (item knowledge)
against the backend's raw decode rate, with and without llama.cpp prefix reuse, with llama-cpp-python's stock
grammar chain instead of the fast path (grammar_fast_path.py), and without the schema grammar (prompt-only
JSON, validated the same way: how much of the gap to raw decoding the grammar costs and how many answers stay
valid), plus the cache-hit replay rate. Also summarises the throughput recorded in the dataset's call log by
`reaseq knowledge build`.

    python bench/bench_knowledge.py --dataset beauty --items 3 [--n-threads 2]

Needs the Layer 1-2 taxonomy of the items' category (run `reaseq knowledge build` first). Live calls go to a
throw-away store's call log, so the shipped one is not touched. Speeds are printed and stored as the catalogue
entry `bench_knowledge` (headline dict); they are never asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

from reaseq_core import catalogue as cat
from reaseq_core.data import load_dataset
from reaseq_core.knowledge import agents, inputs
from reaseq_core.knowledge.pipeline import call_cache
from reaseq_core.llm.cache import CallCache, read_call_log
from reaseq_core.llm.embedded import EmbeddedBackend
from reaseq_core.store import ArtifactStore


RAW_PROMPTS = ["Write a long story about a perfume maker in Grasse.",
               "Count from 1 to 400, separated by commas.",
               "Describe, in detail and at length, how eau de parfum differs from eau de toilette.",
               "Write a long story about perfume number 1.",
               "List 100 flowers used in perfumery, one per line, with a sentence about each."]


def _spread(rates: list[float]) -> dict:
    return {"tokens_per_s": statistics.median(rates), "min": min(rates), "max": max(rates)}


def raw_decode_rate(backend: EmbeddedBackend, tokens: int = 192, repeats: int = 3) -> dict:
    """Plain decoding (no grammar, short prompt): the ceiling for any structured generation. A short untimed call
    first, so the timed ones do not pay for paging in the memory-mapped weights. Only runs that decode the whole
    `tokens` budget count (finish reason "length"): a run that stops after a dozen tokens measures call overhead,
    not decoding. The median of `repeats` such runs, every run kept with its length and finish reason."""
    backend.complete([{"role": "user", "content": "Say OK."}], max_tokens=8, temperature=0.0)
    runs = []
    for prompt in RAW_PROMPTS:
        if sum(r["full_length"] for r in runs) >= repeats:
            break
        backend.reset_prefix_cache()
        c = backend.complete([{"role": "user", "content": prompt}], max_tokens=tokens, temperature=0.0)
        runs.append({"prompt": prompt, "tokens": c.completion_tokens, "finish_reason": c.finish_reason,
                     "full_length": c.finish_reason == "length", "tokens_per_s": c.completion_tokens / c.latency_s})
    rates = [r["tokens_per_s"] for r in runs if r["full_length"]]
    if not rates:
        raise SystemExit(f"raw decode: no prompt decoded the full {tokens}-token budget: {runs}")
    return {**_spread(rates), "runs": runs}


def knowledge_rate(backend, ds, taxonomy: dict, category: str, n: int, prefix_reuse: bool,
                   use_grammar: bool = True, fast_grammar: bool = True) -> dict:
    sel = inputs.category_items(ds, category)
    sel = sel.assign(_sub=sel.apply(lambda r: inputs.subcategory_of(r, category), axis=1))
    subs = taxonomy["categories"][category]["subcategories"]
    sub = max((s for s in subs if subs[s]["demand"]["status"] == "ok" and subs[s]["attribute"]["status"] == "ok"),
              key=lambda s: (sel["_sub"] == s).sum())
    items = sel[sel["_sub"] == sub].sort_values("item_id").tail(n).to_dict("records")   # not the first ones
    # a throw-away store: every timed call is live, and the dataset's call log stays as it was
    ctx = agents.AgentContext(backend, call_cache(ArtifactStore(tempfile.mkdtemp()), ds.name), max_attempts=1,
                              use_grammar=use_grammar)
    backend.llm.fast_grammar = fast_grammar        # grammar_fast_path.py, or llama-cpp-python's stock chain
    fnames = inputs.field_names(ds.items)
    dd, ad = subs[sub]["demand"]["final"], subs[sub]["attribute"]["final"]
    # warm the prefix once so the first timed item is not penalised when reuse is on
    agents.item_knowledge_agent(ctx, items[0], f"{category} > {sub}", dd, ad, fnames) if prefix_reuse else None
    lat, toks, ok = [], [], 0
    t0 = time.perf_counter()
    for it in items[1:] if prefix_reuse else items:
        if not prefix_reuse:
            backend.reset_prefix_cache()
        r = agents.item_knowledge_agent(ctx, it, f"{category} > {sub}", dd, ad, fnames)
        lat.append(r["latency_s"])
        toks.append(r["completion_tokens"])
        ok += r["status"] == "ok"
    wall = time.perf_counter() - t0
    return {"items": len(lat), "ok": ok, "items_per_hour": 3600 * len(lat) / wall,
            "generated_tokens_per_s": sum(toks) / sum(lat), "mean_latency_s": statistics.mean(lat),
            "mean_completion_tokens": statistics.mean(toks), "subcategory": sub}


def replay_rate(store: ArtifactStore, dataset: str) -> dict:
    """Re-validate every cached item answer: hit rate and replayed items/s (what a resumed run costs)."""
    path = store.require(dataset, cat.LLM_CALLS)
    t0 = time.perf_counter()
    cache = CallCache(path)
    keys = [r["key"] for r in read_call_log(path) if r.get("status") in ("ok", "invalid")]
    hits = sum(cache.get(k) is not None for k in keys)
    dt = time.perf_counter() - t0
    return {"cached_calls": len(keys), "hit_rate": hits / len(keys) if keys else None,
            "replayed_calls_per_s": len(keys) / dt if dt else None}


def call_log_throughput(store: ArtifactStore, dataset: str) -> dict:
    recs = [r for r in read_call_log(store.require(dataset, cat.LLM_CALLS)) if r.get("agent") == "item_knowledge"]
    if not recs:
        return {}
    lat = sum(float(r["latency_s"]) for r in recs)
    toks = sum(int(r["completion_tokens"]) for r in recs)
    items = len({r["subject"] for r in recs})
    return {"calls": len(recs), "items": items, "items_per_hour": 3600 * items / lat if lat else None,
            "generated_tokens_per_s": toks / lat if lat else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--category", default="Fragrance")
    ap.add_argument("--items", type=int, default=3)
    ap.add_argument("--n-threads", type=int, default=2)
    ap.add_argument("--log-only", action="store_true", help="only summarise the call log (no model run)")
    args = ap.parse_args()
    store = ArtifactStore()
    ds = inputs.without_constant_attributes(load_dataset(args.dataset, store))
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "load_avg_at_start": os.getloadavg()},
              "call_log": call_log_throughput(store, args.dataset), "replay": replay_rate(store, args.dataset)}
    if not args.log_only:
        taxonomy = store.read(args.dataset, cat.TAXONOMY)
        b = EmbeddedBackend(n_threads=args.n_threads)
        result["n_threads"] = args.n_threads
        result["raw_decode_before"] = raw_decode_rate(b)
        result["with_prefix_reuse"] = knowledge_rate(b, ds, taxonomy, args.category, args.items + 1, True)
        result["without_prefix_reuse"] = knowledge_rate(b, ds, taxonomy, args.category, args.items, False)
        result["stock_grammar_chain_prefix_reuse"] = knowledge_rate(b, ds, taxonomy, args.category, args.items + 1,
                                                                    True, fast_grammar=False)
        result["no_grammar_prefix_reuse"] = knowledge_rate(b, ds, taxonomy, args.category, args.items + 1, True,
                                                           use_grammar=False)
        # measured again after the arms: the ceiling is the median over both brackets, and their spread says how
        # far the machine drifted while the arms ran
        result["raw_decode_after"] = raw_decode_rate(b)
        rates = [r["tokens_per_s"] for k in ("raw_decode_before", "raw_decode_after") for r in result[k]["runs"]
                 if r["full_length"]]
        result["raw_decode"] = _spread(rates)
        result["machine"]["load_avg_at_end"] = os.getloadavg()
    raw = result.get("raw_decode", {}).get("tokens_per_s")
    headline = {"call_log_items_per_hour": result["call_log"].get("items_per_hour"),
                "call_log_tokens_per_s": result["call_log"].get("generated_tokens_per_s"),
                "replay_hit_rate": result["replay"]["hit_rate"]}
    if raw:
        w, wo, ng = result["with_prefix_reuse"], result["without_prefix_reuse"], result["no_grammar_prefix_reuse"]
        stock = result["stock_grammar_chain_prefix_reuse"]
        headline.update({"raw_decode_tokens_per_s": raw, "raw_decode_min": result["raw_decode"]["min"],
                         "raw_decode_max": result["raw_decode"]["max"],
                         "items_per_hour_prefix_reuse": w["items_per_hour"],
                         "items_per_hour_no_reuse": wo["items_per_hour"],
                         "structured_vs_raw_decode": w["generated_tokens_per_s"] / raw,
                         "items_per_hour_stock_grammar_chain": stock["items_per_hour"],
                         "stock_grammar_chain_vs_raw_decode": stock["generated_tokens_per_s"] / raw,
                         "items_per_hour_no_grammar": ng["items_per_hour"],
                         "no_grammar_vs_raw_decode": ng["generated_tokens_per_s"] / raw,
                         "no_grammar_valid_share": ng["ok"] / ng["items"] if ng["items"] else None})
    result["headline"] = headline
    store.write(args.dataset, cat.BENCH_KNOWLEDGE, result,
                {"config": vars(args), "note": "speeds depend on the load of the machine; see machine.load_avg"})
    print(f"{'figure':<34} value")
    for k, v in headline.items():
        print(f"{k:<34} {v:.3f}" if isinstance(v, float) else f"{k:<34} {v}")
    print(json.dumps(result["machine"]))


if __name__ == "__main__":
    main()
