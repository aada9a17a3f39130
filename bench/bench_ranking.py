"""Benchmark: ranking training throughput per variant (samples/s) and the ablation-suite wall time.

Throughput: each Table 3/4 variant trains `--batches` batches of 1,024 real Beauty CTR samples
(title vectors, the title-vector semantic IDs, torch 1 thread, the training loop's length-bucketed
batches), after 3 warm-up batches; the median of `--repeats` timings is reported. The suite wall time
is the one `reaseq rank ablation` measured and stored with Table 3's provenance (all variants x seeds,
end to end; goal < 30 min).

    python bench/bench_ranking.py [--dataset beauty] [--batches 30] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    args, _ = ap.parse_known_args()
    from reaseq_core import catalogue as cat
    from reaseq_core.data import ensure_dataset
    from reaseq_core.ranking.ablation import TABLE3_VARIANTS, AblationConfig, build_model, prepare
    from reaseq_core.ranking.train import length_bucketed_batches, make_batch
    from reaseq_core.store import ArtifactStore
    torch.set_num_threads(1)      # as the ablation trains (2 shared cores; see train.TrainConfig)
    store = ArtifactStore()
    ds = ensure_dataset(args.dataset, store)
    cfg = AblationConfig()
    ctx = prepare(ds, store, cfg)
    variants = TABLE3_VARIANTS + ["Base+title vectors"] + (["Base+knowledge vectors"] if ctx.knowledge_table is not None else [])
    train_idx = ctx.data.split_index("train")
    rng = np.random.default_rng(0)
    rows = []
    for v in variants:
        model = build_model(ctx, v, seed=0)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
        bce = torch.nn.BCEWithLogitsLoss()
        # the training loop's own batching: shuffled, length-bucketed batches of the ablation's size
        hist_len = (ctx.data.history[:, : ctx.data.max_len] != 0).sum(1)
        order = length_bucketed_batches(train_idx, hist_len, cfg.train.batch_size, rng)[: args.batches + 3]
        batches = [make_batch(ctx.data, b) for b in order]

        def step(b):
            loss = bce(model(b), b["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
        for b in batches[:3]:
            step(b)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for b in batches[3:]:
                step(b)
            times.append(time.perf_counter() - t)
        sps = args.batches * cfg.train.batch_size / statistics.median(times)
        rows.append({"variant": v, "train_samples_per_s": sps, "n_params": sum(p.numel() for p in model.parameters())})
    suite = None
    if store.exists(args.dataset, cat.TABLE3_ABLATION):
        prov = store.provenance(args.dataset, cat.TABLE3_ABLATION)
        suite = {"wall_s": prov.get("wall_s"), "seeds": prov.get("seeds"), "config": prov.get("config"),
                 "created": prov.get("created")}
    print(f"{'variant':>28} {'train samples/s':>16} {'params':>9}")
    for r in rows:
        print(f"{r['variant']:>28} {r['train_samples_per_s']:>16.0f} {r['n_params']:>9}")
    n_train = len(train_idx)
    print(f"train split: {n_train} samples -> one epoch of Base takes ~{n_train / rows[0]['train_samples_per_s']:.0f} s")
    if suite and suite["wall_s"]:
        print(f"ablation suite (reaseq rank ablation, {suite['created']}): {suite['wall_s'] / 60:.1f} min "
              f"-> goal < 30 min {'met' if suite['wall_s'] < 1800 else 'NOT met'}")
    else:
        print("ablation suite: not run yet (reaseq rank ablation --dataset beauty)")
    store.write(args.dataset, cat.BENCH_RANKING, {
        "headline": {"base_train_samples_per_s": round(rows[0]["train_samples_per_s"]),
                     "full_model_train_samples_per_s": round(rows[4]["train_samples_per_s"]),
                     "ablation_suite_wall_min": round(suite["wall_s"] / 60, 1) if suite and suite["wall_s"] else None},
        "rows": rows, "suite": suite,
        "method": f"{args.batches} length-bucketed batches of {cfg.train.batch_size} real samples per variant, 1 torch thread, median of "
                  f"{args.repeats}; suite wall time as measured by reaseq rank ablation"}, {"config": vars(args)})


if __name__ == "__main__":
    main()
