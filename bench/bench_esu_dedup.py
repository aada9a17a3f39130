"""Benchmark: ESU serving with batch dedup + gather vs naive per-candidate K/V (ReaSeq Sec. 2.2.1).

A request = one user with a long history and C candidates; the semantic GSU retrieves K items per
candidate from the same history, so the candidates' lists overlap heavily (as in serving). Both paths
run the same ItemEncoder (x_i = [sum SID emb; f_i]) and ESU weights; the outputs are checked equal.
Grid: two model widths -- as the ablation trains it (item features x_i of 64 dims, ESU d_model 32) and a
production-like width (x_i of 256 dims: wider ID / category / SID / dense embeddings, d_model 128) -- plus
the trained x_i with d_model 128, at 100 / 500 / 1000 candidates. The dedup saves the encoding and K/V
projection of repeated items, so its gain grows with the feature width; the gathered attention costs the
same in both paths. Headline: 500 candidates at the production-like width; the as-trained ratio beside it. Time: interleaved repeats, median (and min), torch threads = 1, no grad. Memory: MiB that torch
allocates during one call of each path (torch.profiler, sum over ops) -- the intermediates it materialises. Goal: speed ratio >= 3x.

    python bench/bench_esu_dedup.py [--dataset beauty] [--history 1000] [--topk 50] [--repeats 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


# item-feature embedding widths: as the ablation trains ItemEncoder (x_i = 64 dims) and production-like (256)
WIDTHS = {"trained": dict(id_dim=16, cat_dim=8, sid_dim=16, dense_dim=8),
          "wide": dict(id_dim=64, cat_dim=32, sid_dim=64, dense_dim=32)}


def setup(n_items: int, history_len: int, n_candidates: int, topk: int, d_model: int = 64, seed: int = 0,
          width: str = "trained"):
    from reaseq_core.ranking.base_gsu_esu import TargetAttentionESU
    from reaseq_core.ranking.features import ItemEncoder, ItemFeatureTable
    from reaseq_core.ranking.retrieval import semantic_gsu_topk
    from reaseq_core.representation.item_space import l2_normalise
    rng = np.random.default_rng(seed)
    rows = n_items + 1
    cat = {"item": np.arange(rows), "brand": rng.integers(1, 2000, rows), "primary_category": rng.integers(1, 7, rows),
           "leaf_category": rng.integers(1, 220, rows)}
    for v in cat.values():
        v[0] = 0
    feats = ItemFeatureTable(categorical={k: v.astype(np.int64) for k, v in cat.items()},
                             vocab={"item": rows, "brand": 2000, "primary_category": 7, "leaf_category": 220},
                             dense=rng.normal(size=(rows, 5)).astype(np.float32), dense_names=[],
                             sid=rng.integers(1, 257, (rows, 3)).astype(np.int64), sid_vocab=257)
    torch.manual_seed(seed)
    encoder = ItemEncoder(feats, use_sid=True, **WIDTHS[width]).eval()
    esu = TargetAttentionESU(encoder.dim, d_model=d_model, heads=4).eval()
    vecs = torch.as_tensor(l2_normalise(rng.normal(size=(rows, 64))))
    history = torch.as_tensor(rng.choice(np.arange(1, rows), history_len, replace=False)).expand(n_candidates, -1)
    candidates = torch.as_tensor(rng.choice(np.arange(1, rows), n_candidates, replace=False))
    # GSU in chunks of candidates (the [C, T, d] similarity gather would be large at once)
    parts = [semantic_gsu_topk(history[s:s + 50], candidates[s:s + 50], vecs, topk) for s in range(0, n_candidates, 50)]
    gsu_rows, valid = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    return encoder, esu, candidates, gsu_rows, valid


def timed_pair(fn_a, fn_b, repeats: int) -> tuple[dict, dict]:
    """Interleaved timings (a, b, a, b, ...) so load from other jobs hits both alike; median and min in ms."""
    fn_a(), fn_b()                               # warm-up
    ta, tb = [], []
    for _ in range(repeats):
        for fn, ts in ((fn_a, ta), (fn_b, tb)):
            t = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t) * 1000)
    return ({"median": statistics.median(ta), "min": min(ta)}, {"median": statistics.median(tb), "min": min(tb)})


def allocated_mib(fn) -> float:
    """MiB allocated by torch on the CPU during one call (profiler, sum of the allocations of every op)."""
    from torch.profiler import ProfilerActivity, profile
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return sum(max(e.self_cpu_memory_usage, 0) for e in prof.key_averages()) / 2 ** 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty", help="where the result is recorded")
    ap.add_argument("--items", type=int, default=12101)
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--topk", type=int, default=50)
    ap.add_argument("--candidates", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=20)
    args, _ = ap.parse_known_args()
    from reaseq_core.ranking.retrieval import esu_dedup_gather, esu_naive
    torch.set_num_threads(1)
    rows_out = []
    grid = [(w, d, c) for w, d in (("trained", 32), ("trained", 128), ("wide", 128))
            for c in (100, args.candidates, 2 * args.candidates)]
    for width, d_model, n_cand in grid:
        enc, esu, cand, rows, valid = setup(args.items, args.history, n_cand, args.topk, d_model, width=width)
        with torch.no_grad():
            a, b = esu_naive(esu, enc, cand, rows, valid), esu_dedup_gather(esu, enc, cand, rows, valid)
            max_diff = float((a - b).abs().max())
            t_naive, t_dedup = timed_pair(lambda: esu_naive(esu, enc, cand, rows, valid),
                                          lambda: esu_dedup_gather(esu, enc, cand, rows, valid), args.repeats)
        mem = {"naive": allocated_mib(lambda: esu_naive(esu, enc, cand, rows, valid)),
               "dedup": allocated_mib(lambda: esu_dedup_gather(esu, enc, cand, rows, valid))}
        rows_out.append({"width": width, "d_model": d_model, "x_dim": enc.dim, "candidates": n_cand, "history": args.history,
                         "topk": args.topk,
                         "unique_retrieved": int(len(torch.unique(rows))), "retrieved_slots": int(rows.numel()),
                         "naive_ms": t_naive["median"], "dedup_ms": t_dedup["median"],
                         "speed_ratio": t_naive["median"] / t_dedup["median"],
                         "speed_ratio_of_minima": t_naive["min"] / t_dedup["min"],
                         "alloc_mib_naive": mem["naive"], "alloc_mib_dedup": mem["dedup"], "max_abs_diff": max_diff})
    print(f"{'x_dim':>5} {'d':>4} {'cands':>6} {'unique/slots':>14} {'naive ms':>9} {'dedup ms':>9} {'ratio':>6} {'min-ratio':>9} "
          f"{'alloc MiB naive':>15} {'alloc MiB dedup':>15} {'max|diff|':>10}")
    for r in rows_out:
        print(f"{r['x_dim']:>5} {r['d_model']:>4} {r['candidates']:>6} {r['unique_retrieved']:>6}/{r['retrieved_slots']:<7} {r['naive_ms']:>9.2f} "
              f"{r['dedup_ms']:>9.2f} {r['speed_ratio']:>6.2f} {r['speed_ratio_of_minima']:>9.2f} {r['alloc_mib_naive']:>15.1f} "
              f"{r['alloc_mib_dedup']:>15.1f} {r['max_abs_diff']:>10.1e}")
    pick = lambda w, d: next(r for r in rows_out if r["width"] == w and r["d_model"] == d  # noqa: E731
                             and r["candidates"] == args.candidates)
    trained, narrow128, main_row = pick("trained", 32), pick("trained", 128), pick("wide", 128)
    for name, r in (("as trained (x_i 64, d_model 32)", trained), ("x_i 64, d_model 128", narrow128),
                    ("production-like width (x_i 256, d_model 128)", main_row)):
        print(f"goal: speed ratio >= 3x at {r['candidates']} candidates, {name} -> "
              f"{'met' if r['speed_ratio'] >= 3 else 'NOT met'} ({r['speed_ratio']:.2f}x)")
    from reaseq_core import catalogue as cat
    from reaseq_core.store import ArtifactStore
    ArtifactStore().write(args.dataset, cat.BENCH_ESU_DEDUP, {
        "headline": {"speed_ratio": round(main_row["speed_ratio"], 2),
                     "speed_ratio_of_minima": round(main_row["speed_ratio_of_minima"], 2),
                     "speed_ratio_as_trained": round(trained["speed_ratio"], 2),
                     "speed_ratio_x64_d128": round(narrow128["speed_ratio"], 2),
                     "x_dim": main_row["x_dim"], "d_model": 128,
                     "candidates": main_row["candidates"],
                     "naive_ms": round(main_row["naive_ms"], 2), "dedup_ms": round(main_row["dedup_ms"], 2),
                     "alloc_mib_naive": round(main_row["alloc_mib_naive"], 1),
                     "alloc_mib_dedup": round(main_row["alloc_mib_dedup"], 1)},
        "rows": rows_out,
        "method": "synthetic catalogue of Beauty's size and feature vocabularies; one user, history of "
                  f"{args.history}, semantic GSU top-{args.topk} per candidate; torch 1 thread, no grad, "
                  "interleaved repeats (median; min-ratio beside it); memory = MiB allocated by torch during one call "
                  "(profiler, sum over ops)"},
        {"config": vars(args)})


if __name__ == "__main__":
    main()
