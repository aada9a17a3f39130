"""Knowledge-stage throughput on this machine: Layer 3 (item knowledge) items/hour of today's path and of the
new one, on the same items in one run, with the tokens per item, and what each lever gives on its own:

    json, 1 sequence      the shipped path: one JSON object per item, schema grammar (grammar_fast_path.py)
    lines, 1 sequence     lever 1: the line format (knowledge/lines.py), labels and separators inserted
    lines, K sequences    lever 1 + lever 2: K items decoded together in one llama.cpp batch (llm/slots.py)
    ..., own KV           the same with one KV buffer per sequence (`--kv own|both`): each token attends over
                          its own sequence only, not over the used range of all of them

Every arm runs on the same N items of one subcategory, after one untimed item that puts the shared prompt
prefix in the KV cache (as a build does). Items/hour = N / wall time of the arm. Also the backend's raw decode
rate before and after (the machine's speed drifts; the arms are compared with each other, in one run), the
cache-hit replay rate and the throughput recorded in the dataset's call log by `reaseq knowledge build`.
`--grammar-arms` adds llama-cpp-python's stock grammar chain and prompt-only JSON (no grammar).

    python bench/bench_knowledge.py --dataset beauty --items 8 [--slots 4] [--kv both] [--n-threads 2]

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
from concurrent.futures import ThreadPoolExecutor

from reaseq_core import catalogue as cat
from reaseq_core.data import load_dataset
from reaseq_core.knowledge import agents, inputs
from reaseq_core.knowledge.pipeline import call_cache
from reaseq_core.llm.cache import CallCache, read_call_log
from reaseq_core.knowledge.templates import load_variant
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


def bench_items(ds, taxonomy: dict, category: str, n: int):
    """(subcategory, its dimensions, n + 1 items): the largest subcategory with an ok taxonomy, its last items
    by id (not the first ones a build would have cached)."""
    sel = inputs.category_items(ds, category)
    sel = sel.assign(_sub=sel.apply(lambda r: inputs.subcategory_of(r, category), axis=1))
    subs = taxonomy["categories"][category]["subcategories"]
    sub = max((s for s in subs if subs[s]["demand"]["status"] == "ok" and subs[s]["attribute"]["status"] == "ok"),
              key=lambda s: (sel["_sub"] == s).sum())
    items = sel[sel["_sub"] == sub].sort_values("item_id").tail(n + 1).to_dict("records")
    return sub, (subs[sub]["demand"]["final"], subs[sub]["attribute"]["final"]), items


def layer3_arm(backend: EmbeddedBackend, ds, category: str, sub: str, dims, items: list[dict], output: str,
               slots: int = 1, kv_unified: bool = True) -> dict:
    """Layer 3 on items[1:] (items[0] untimed: it reads the shared prefix), `slots` items in flight;
    kv_unified=False gives each sequence its own KV buffer (attention over its own tokens only)."""
    templates = {"item_knowledge": load_variant("item_knowledge", output)}
    ctx = agents.AgentContext(backend, call_cache(ArtifactStore(tempfile.mkdtemp()), ds.name), max_attempts=3,
                              templates=templates, layer3_output=output,
                              reject_unfinished_text=output == "lines")     # as `knowledge build` does
    if output == "lines":
        backend.configure_slots(slots, kv_unified)
    fnames = inputs.field_names(ds.items)
    run = lambda it: agents.item_knowledge_agent(ctx, it, f"{category} > {sub}", dims[0], dims[1], fnames)  # noqa: E731
    run(items[0])
    t0 = time.perf_counter()
    if slots > 1:
        with ThreadPoolExecutor(slots) as ex:
            rows = list(ex.map(run, items[1:]))
    else:
        rows = [run(it) for it in items[1:]]
    wall = time.perf_counter() - t0
    calls = [r for r in read_call_log(ctx.cache.path) if r.get("subject") in {str(i["item_id"]) for i in items[1:]}]
    per_item = lambda key: sum(int(c.get(key) or 0) for c in calls) / len(rows)  # noqa: E731
    kv = "" if kv_unified or output != "lines" else ", own KV"
    out = {"arm": f"{output}, {slots} sequence{'s' if slots > 1 else ''}{kv}", "items": len(rows),
           "ok": sum(r["status"] == "ok" for r in rows), "first_attempt_ok": sum(r["attempts"] == 1 and r["status"] == "ok"
                                                                                 for r in rows),
           "calls": len(calls), "wall_s": wall, "items_per_hour": 3600 * len(rows) / wall,
           "prompt_tokens_per_item": per_item("prompt_tokens"), "completion_tokens_per_item": per_item("completion_tokens"),
           "subcategory": sub}
    if output == "lines":
        e = backend.engine()
        out.update(sampled_tokens_per_item=per_item("sampled_tokens"), inserted_tokens_per_item=per_item("forced_tokens"),
                   prompt_tokens_reused_per_item=per_item("prompt_tokens_reused"),
                   engine_decode_s=e.decode_s, engine_sample_s=e.sample_s, engine_steps=e.steps)
    return out


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
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--slots", default="4", help="parallel sequences of the last arm(s), comma-separated (e.g. 4,6)")
    ap.add_argument("--n-threads", type=int, default=2)
    ap.add_argument("--kv", default="unified", help="KV layout of the parallel arms: unified, own or both "
                    "(own: each sequence attends over its own KV buffer only)")
    ap.add_argument("--grammar-arms", action="store_true",
                    help="also the stock grammar chain and prompt-only JSON arms (sequential, JSON)")
    ap.add_argument("--log-only", action="store_true", help="only summarise the call log (no model run)")
    args = ap.parse_args()
    store = ArtifactStore()
    ds = inputs.without_constant_attributes(load_dataset(args.dataset, store))
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "load_avg_at_start": os.getloadavg()},
              "call_log": call_log_throughput(store, args.dataset), "replay": replay_rate(store, args.dataset)}
    arms = []
    if not args.log_only:
        taxonomy = store.read(args.dataset, cat.TAXONOMY)
        b = EmbeddedBackend(n_threads=args.n_threads)
        result["n_threads"] = args.n_threads
        result["raw_decode_before"] = raw_decode_rate(b)
        sub, dims, items = bench_items(ds, taxonomy, args.category, args.items)
        arms.append(layer3_arm(b, ds, args.category, sub, dims, items, "json"))
        arms.append(layer3_arm(b, ds, args.category, sub, dims, items, "lines", 1))
        layouts = {"unified": (True,), "own": (False,), "both": (True, False)}[args.kv]
        for k in (int(x) for x in str(args.slots).split(",") if x.strip()):
            for unified in layouts:
                arms.append(layer3_arm(b, ds, args.category, sub, dims, items, "lines", k, kv_unified=unified))
        result["arms"] = arms
        if args.grammar_arms:
            result["stock_grammar_chain_prefix_reuse"] = knowledge_rate(b, ds, taxonomy, args.category,
                                                                        args.items + 1, True, fast_grammar=False)
            result["no_grammar_prefix_reuse"] = knowledge_rate(b, ds, taxonomy, args.category, args.items + 1, True,
                                                               use_grammar=False)
        # measured again after the arms: the spread says how far the machine drifted while the arms ran
        result["raw_decode_after"] = raw_decode_rate(b)
        rates = [r["tokens_per_s"] for k in ("raw_decode_before", "raw_decode_after") for r in result[k]["runs"]
                 if r["full_length"]]
        result["raw_decode"] = _spread(rates)
        result["machine"]["load_avg_at_end"] = os.getloadavg()
    headline = {"call_log_items_per_hour": result["call_log"].get("items_per_hour"),
                "call_log_tokens_per_s": result["call_log"].get("generated_tokens_per_s"),
                "replay_hit_rate": result["replay"]["hit_rate"]}
    if arms:
        base = arms[0]["items_per_hour"]
        headline.update({"raw_decode_tokens_per_s": result["raw_decode"]["tokens_per_s"],
                         "raw_decode_min": result["raw_decode"]["min"], "raw_decode_max": result["raw_decode"]["max"],
                         "items_per_hour_today": base, "items_per_hour_new": arms[-1]["items_per_hour"],
                         "new_vs_today": arms[-1]["items_per_hour"] / base,
                         "completion_tokens_per_item_today": arms[0]["completion_tokens_per_item"],
                         "completion_tokens_per_item_new": arms[-1]["completion_tokens_per_item"]})
        for k in ("stock_grammar_chain_prefix_reuse", "no_grammar_prefix_reuse"):
            if k in result:
                headline[f"items_per_hour_{k}"] = result[k]["items_per_hour"]
    result["headline"] = headline
    store.write(args.dataset, cat.BENCH_KNOWLEDGE, result,
                {"config": vars(args), "note": "speeds depend on the load of the machine; see machine.load_avg"})
    if arms:
        print(f"Layer 3 on the same {arms[0]['items']} items ({args.category} > {arms[0]['subcategory']}), "
              f"{args.n_threads} threads; items/hour = items / wall time of the arm")
        print(f"{'arm':<28} {'items/h':>8} {'x today':>8} {'ok':>5} {'1st ok':>6} {'prompt tok':>10} "
              f"{'answer tok':>10} {'sampled':>8} {'inserted':>8} {'reused':>7}")
        for a in arms:
            f = lambda k: f"{a[k]:.0f}" if k in a else "-"  # noqa: E731
            print(f"{a['arm']:<28} {a['items_per_hour']:>8.1f} {a['items_per_hour'] / base:>8.2f} "
                  f"{a['ok']:>2}/{a['items']:<2} {a['first_attempt_ok']:>6} {a['prompt_tokens_per_item']:>10.0f} "
                  f"{a['completion_tokens_per_item']:>10.0f} {f('sampled_tokens_per_item'):>8} "
                  f"{f('inserted_tokens_per_item'):>8} {f('prompt_tokens_reused_per_item'):>7}")
        print("(tokens are per item, summed over attempts; 'reused' prompt tokens were found in the KV cache)")
    print(f"{'figure':<34} value")
    for k, v in headline.items():
        print(f"{k:<34} {v:.3f}" if isinstance(v, float) else f"{k:<34} {v}")
    print(json.dumps(result["machine"]))


if __name__ == "__main__":
    main()
