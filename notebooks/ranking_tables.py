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
# # Semantic IDs and the reasoning-enhanced CTR ranker: Tables 3-4 analogues (paper 2.2, 4.1.2, appendix C)
#
# 1. **Semantic IDs** (appendix C): an RQ-VAE tokenises every item's vector into L codes; we report
#    per-level codebook usage and perplexity, the share of items whose full SID is unique, the largest
#    bucket and the reconstruction error, against residual k-means (no training).
# 2. **Table 3**: the Base GSU-ESU ranker (GSU = the target's category) against Retrieval (semantic GSU,
#    Eq. 1-3), Compression (interest anchors), Compression + SID and Retrieval + Compression + SID (Eq. 4),
#    AUC / GAUC overall, hot and cold-start users, mean ± std over 3 seeds, deltas in percentage points.
#    The '(knowledge)' rows run the semantic paths on knowledge (MAKR) vectors where items have them and on
#    the SIDs built from those vectors (`reaseq sid build --vectors knowledge`), as the paper does.
# 3. **Table 4**: Base + title vectors vs Base + knowledge (MAKR) vectors, on the test samples whose
#    target item has knowledge.
#
# With `REASEQ_SMALL=1`: a 3,000-user slice, 1 epoch, one seed, 20 RQ-VAE epochs, results written under
# the small run (`<stage>/small/`; the full tables are never overwritten by the smoke run).

# %%
import os

import pandas as pd

from reaseq_core import catalogue as cat
from reaseq_core.data import ensure_dataset
from reaseq_core.ranking.ablation import AblationConfig, run_ablation
from reaseq_core.representation.title_vectors import build_title_vectors
from reaseq_core.semantic_ids.build import build_sids
from reaseq_core.semantic_ids.cli import format_report
from reaseq_core.semantic_ids.rqvae import RQVAEConfig
from reaseq_core.store import ArtifactStore

SMALL = os.environ.get("REASEQ_SMALL") == "1"
RUN = cat.SMALL_RUN if SMALL else None
store = ArtifactStore()
ds = ensure_dataset("beauty", store)
if not store.exists(ds.name, cat.TITLE_VECTORS):
    from reaseq_core.representation.knowledge_vectors import dataset_with_clean_text
    build_title_vectors(dataset_with_clean_text(ds), store)
print("small configuration" if SMALL else "full run",
      "| knowledge vectors present:", store.exists(ds.name, cat.KNOWLEDGE_VECTORS))

# %% [markdown]
# ## Semantic IDs: RQ-VAE vs residual k-means

# %%
sid = build_sids(ds.name, store, cfg=RQVAEConfig(epochs=20) if SMALL else RQVAEConfig(), run=RUN,
                 show_progress=False)
print(format_report(sid["report"]))
levels = pd.DataFrame([{"tokenizer": name, **lv} for name in ("rqvae", "residual_kmeans")
                       for lv in sid["report"][name]["levels"]])
levels

# %% [markdown]
# ## Tables 3-4: all variants x seeds
# Every variant sees the same CTR samples; model selection on validation AUC; test AUC / GAUC per
# segment. The wall time of the whole suite is printed (goal: < 30 minutes on this 2-core CPU).

# %%
cfg = AblationConfig.small_run(seeds=(0,)) if SMALL else AblationConfig()
out = run_ablation(ds.name, cfg, store=store, show_progress=False)
print(f"suite wall time: {out['wall_s']:.0f} s")
print(out["table3"].to_markdown())

# %%
print(out["table4"].to_markdown())
print(out["table4"].notes)

# %% [markdown]
# ## Per seed
# One row per variant x seed (also stored as the ranking runs table), so the spread behind every mean is visible.

# %%
out["runs"][["variant", "seed", "overall_auc", "overall_gauc", "hot_gauc", "cold_gauc", "best_epoch", "wall_s"]]
