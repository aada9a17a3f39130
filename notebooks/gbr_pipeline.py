# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Generative Behaviour Reasoning: Tables 5-6 and Figure 6 analogues (paper section 3, 4.2)
#
# 1. **SASRec** (leave-one-out, full ranking) is the sequential model behind the model-based filter and
#    the self-supervised labels.
# 2. **Beyond-log location** (3.1): rule stage TD / CD / TDUCD, then SASRec rank > N.
# 3. **Labels** (3.2.1): Delta p_t > tau_coh gives P_L; flagged gaps get [FILL] (P_U).
# 4. **Table 5**: a tiny LLaDA (d = 128, 4 layers, 8 heads) per location variant and loss, 3 seeds,
#    early stopping on a validation split, IB-PPL / IB-ACC on [MASK] and [FILL] tokens of held-out users,
#    beside references on the same batches (context mean, previous item, most popular item, a masked
#    item model without fills); learning curves and where predictions land among real items.
# 5. **Figure 6**: fills, their nearest real items (exact cosine) and their context, for the app.
# 6. **Table 6**: DIN CTR with item vectors only, every user, Base vs Base + the fills inferred from the
#    events before each sample only (no leak); paired differences over 3 seeds.
#
# With `REASEQ_SMALL=1` the same code runs on a 2,000-user slice with tiny training and writes under
# `gbr/small/` (never over the full results).

# %%
import time

from reaseq_core import catalogue as cat
from reaseq_core.gbr import pipeline
from reaseq_core.results import read_table

cfg = pipeline.config_from_env()
ctx = pipeline.Context(cfg)
print(f"dataset {cfg.dataset} (hash {ctx.dataset_hash}), item space {cfg.item_space} "
      f"{ctx.item_vectors.shape}, small={cfg.small}")
timings = {}

# %% [markdown]
# ## SASRec

# %%
t = time.time()
sasrec, sas_metrics = pipeline.run_sasrec(ctx)
timings["sasrec"] = time.time() - t
for r in sas_metrics["seed_runs"]:   # one model per seed; the best validation NDCG@10 is kept
    print(f"seed {r['seed']}{' (kept)' if r['selected'] else ''}: valid N@10 {r['valid']['ndcg@10']:.4f}, "
          f"test R@10 {r['test']['recall@10']:.4f} N@10 {r['test']['ndcg@10']:.4f}")
print("test  ", {k: round(v, 4) for k, v in sas_metrics["test"].items()})
print("reference", sas_metrics["reference"])

# %% [markdown]
# ## Beyond-log location and self-supervised labels

# %%
t = time.time()
loc, loc_summary = pipeline.run_location(ctx, sasrec)
timings["location"] = time.time() - t
print(loc_summary["users"]["rule"])
for v, s in loc_summary["variants"].items():
    print(f"{v:6s} gaps {s['gaps']:,} -> rule {s['after_rule']:,} -> SASRec filter {s['after_model']:,} "
          f"(Swing filter: {s['after_model_swing']:,}); [FILL] ratio {s['fill_ratio']:.2%}; "
          f"P_L {s['p_l_positions']:,}")

# %% [markdown]
# ## Table 5: location schemes and reasoning losses

# %%
t = time.time()
runs, _ = pipeline.run_table5(ctx, loc)
timings["table5"] = time.time() - t
t5 = read_table(ctx.store, cfg.dataset, cat.TABLE5, run=ctx.run)
print(t5.to_markdown())

# %% [markdown]
# Learning curves (validation IB-ACC[MASK] per epoch; each run keeps its best epoch) and SASRec's curve.

# %%
from reaseq_core import report as report_mod  # noqa: E402

if cfg.small:
    print("small run: the curves are shown for the full run's artifacts only")
else:
    for curve in report_mod.learning_curves(ctx.store, cfg.dataset, t5):
        print(curve.title, "-", curve.skipped or curve.caption)
        if curve.figure is not None:
            curve.figure.show()

# %% [markdown]
# Where do predictions land? Median cosine between a prediction and its nearest real item, beside the same
# figure for the real items behind the [MASK]s (their nearest other item).

# %%
for r in t5.rows:
    print(f"{r['model']:38s} fill {r['nearest_item_cos_fill']:.3f}  mask {r['nearest_item_cos_mask']:.3f}  "
          f"truth {r['nearest_item_cos_truth']:.3f}")

# %% [markdown]
# ## Figure 6: fills and their nearest real items

# %%
t = time.time()
fill_info = pipeline.run_fills(ctx, loc)
timings["fills"] = time.time() - t
fills = ctx.read(cat.FILLS)
titles = ctx.ds.items.set_index("item_id")["title"]
for _, r in fills[fills["variant"] == "GBR-C-0"].head(3).iterrows():
    print(f"user {r.user_id}: {titles.get(r.after_item)!r} -> [FILL ~ {titles.get(r.top1_item)!r} "
          f"(cos {r.top1_similarity:.2f})] -> {titles.get(r.before_item)!r}")

# %% [markdown]
# ## Table 6: DIN with and without fills

# %%
t = time.time()
pipeline.run_table6(ctx)
timings["table6"] = time.time() - t
print(read_table(ctx.store, cfg.dataset, cat.TABLE6, run=ctx.run).to_markdown())

# %%
timings = {k: round(v, 1) for k, v in timings.items()}
timings["total"] = round(sum(timings.values()), 1)
ctx.write(cat.RUN_TIMINGS, timings, ctx.prov())
print(timings)
