"""Benchmark: GBR speed on this machine -- location over all Beauty users (users/s), LLaDA training
throughput (sequences/s) and fill inference speed (fills/s).

- Location: every Beauty user's leave-one-out training part (last 50 events): rule stage + one SASRec
  causal pass per sequence (ranks and Delta p), with the trained SASRec checkpoint.
- LLaDA training: `--steps` steps of the CD / InfoNCE model at batch size 256 on real GBR sequences
  (after 3 warm-up steps), torch 1 thread.
- Fill inference: the trained GBR-C-0 checkpoint over every GBR user's sequence.
- Training time per seed (median over seeds, per Table 5 model, with early stopping) and the whole
  `reaseq gbr run` wall time per step, as the last run recorded them (table5_runs, run_timings).
Needs `reaseq gbr run` (or `reaseq gbr sasrec / locate / table5`) first.

    python bench/bench_gbr.py [--dataset beauty] [--steps 20]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--steps", type=int, default=20)
    args, _ = ap.parse_known_args()
    from reaseq_core import catalogue as cat
    from reaseq_core.gbr import pipeline
    from reaseq_core.gbr.labels import build_corpus
    from reaseq_core.gbr.llada import LLaDAConfig, infer_fills, train_llada
    from reaseq_core.gbr.location import candidate_gaps, gbr_sequences
    from reaseq_core.gbr.sasrec import transition_scores
    torch.set_num_threads(1)
    ctx = pipeline.Context(pipeline.GBRConfig(dataset=args.dataset), log=lambda *_: None)
    rows = []

    # location over all users
    model = pipeline.load_sasrec(ctx)
    users = ctx.interactions["user_id"].unique()
    t0 = time.perf_counter()
    seq = gbr_sequences(ctx.interactions, ctx.ds.items, users, ctx.cfg.location.max_len)
    candidate_gaps(seq, ctx.cfg.location.tau_time_days)
    grouped = seq.groupby("user_id", sort=True)["item_id"].agg(list)
    transition_scores(model, [np.array([ctx.item_index[i] for i in s]) for s in grouped])
    dt = time.perf_counter() - t0
    rows.append(("location (rules + SASRec ranks + Delta p), all users", len(users) / dt, "users/s", dt))

    # LLaDA training throughput
    loc = ctx.read(cat.LOCATION)
    gseq = gbr_sequences(ctx.interactions, ctx.ds.items, loc["user_id"].unique(), ctx.cfg.location.max_len)
    corpus = build_corpus(gseq, loc[loc["variant"] == "CD"], ctx.item_index)
    cfg = LLaDAConfig(batch_size=256, epochs=1, max_len=max(128, corpus.tokens.shape[1]))
    n_with = int((corpus.kinds == 2).any(1).sum())
    sub = corpus.subset(np.nonzero((corpus.kinds == 2).any(1))[0][: 256 * (args.steps + 3)])
    _, rec = train_llada(sub, ctx.item_vectors, cfg, show_progress=False, log=lambda *_: None)
    rows.append((f"LLaDA training (CD, InfoNCE, batch 256, {rec['steps']} steps)", rec["sequences_per_s"],
                 "sequences/s", rec["train_seconds"]))

    # fill inference
    inf = build_corpus(gseq, loc[loc["variant"] == "CD"], ctx.item_index, inference=True)
    llada = pipeline.load_llada(ctx, "GBR-C-0", 0)
    t0 = time.perf_counter()
    fl = infer_fills(llada, inf)
    dt = time.perf_counter() - t0
    rows.append((f"fill inference (GBR-C-0, {len(inf):,} sequences)", len(fl["row"]) / dt, "fills/s", dt))

    # recorded by the last full run: LLaDA training seconds per seed, and the stage's wall time per step
    runs = ctx.read(cat.TABLE5_RUNS)
    for m in dict.fromkeys(r["model"] for r in runs if r.get("train_seconds")):
        secs = [float(r["train_seconds"]) for r in runs if r["model"] == m]
        epochs = [int(r.get("epochs_run", 0)) for r in runs if r["model"] == m]
        rows.append((f"LLaDA training per seed, {m} (median of {len(secs)}, {np.median(epochs):.0f} epochs, recorded)",
                     float(np.median(secs)) / 60, "min/seed", float(np.median(secs))))
    sm = ctx.read(cat.SASREC_METRICS)
    for r in sm.get("seed_runs") or [{"seed": sm["config"]["seed"], "epochs": sm["epochs"],
                                       "train_seconds": sm["train_seconds"], "selected": True}]:
        kept = ", kept" if r["selected"] else ""
        rows.append((f"SASRec training, seed {r['seed']} ({r['epochs']} epochs{kept}, recorded)",
                     float(r["train_seconds"]) / 60, "min", float(r["train_seconds"])))
    if ctx.store.exists(args.dataset, cat.RUN_TIMINGS):
        t = ctx.read(cat.RUN_TIMINGS)
        for step, secs in t.items():
            rows.append((f"reaseq gbr {step} (recorded wall time)", float(secs) / 60, "min", float(secs)))

    print(f"{'what':70s} {'rate':>10s} {'unit':12s} {'seconds':>8s}")
    for what, rate, unit, secs in rows:
        print(f"{what:70s} {rate:10.1f} {unit:12s} {secs:8.1f}")
    ctx.store.write(args.dataset, cat.BENCH_GBR, {
        "headline": {"location_users_per_s": round(rows[0][1], 1), "llada_train_sequences_per_s": round(rows[1][1], 1),
                     "fill_inference_fills_per_s": round(rows[2][1], 1)},
        "rows": [{"what": w, "rate": r, "unit": u, "seconds": s} for w, r, u, s in rows],
        "machine": "2 CPU cores shared with other jobs; torch 1 thread", "training_sequences_with_p_l": n_with},
        {"steps": args.steps})


if __name__ == "__main__":
    main()
