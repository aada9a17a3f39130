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
# # Data tour: Amazon Beauty 2014 (5-core) and the Amazon 2018 raw format
#
# What the ReaSeq pipeline reads, in the canonical schema: items (title, brand, category path, price,
# attributes), interactions (user, item, day-resolution timestamp) and demand expressions. Beauty has
# no queries, no review summaries and no merchant key-values; the Magazine_Subscriptions files show
# the 2018 raw format, where review summaries are real demand expressions and `details` are real
# key-value attributes (see ../shared/guide/PROTOCOLS.md for the substitutes this project states).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reaseq_core.data import ensure_dataset
from reaseq_core.data.cli import describe_card
from reaseq_core.data.splits import leave_one_out, user_segments

SMALL = os.environ.get("REASEQ_SMALL") == "1"
beauty = ensure_dataset("beauty")
print(describe_card(beauty.card))

# %% [markdown]
# ## Items and the category tree
# The paper's "primary category" is the second level of the Beauty path (the first is always `Beauty`).

# %%
items = beauty.items
print(items[["item_id", "title", "brand", "price", "primary_category", "sub_category", "leaf_category"]].head(8))
prim = items["primary_category"].value_counts()
subs = items.groupby("primary_category")["sub_category"].nunique()
print(pd.DataFrame({"items": prim, "subcategories": subs}))

# %%
fig, ax = plt.subplots(figsize=(7, 3))
prim.plot.barh(ax=ax, color="#4c78a8")
ax.set_xlabel("items")
ax.set_title("Beauty: items per primary category")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Behaviour sequences: length and time gaps
# Day resolution: 43.9% of consecutive events fall on the same day, which matters for GBR's temporal rule.

# %%
card = beauty.card
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
h = card["sequence_length"]["histogram"]
labels = [f"{h['edges'][i]:.0f}-{h['edges'][i + 1]:.0f}" for i in range(len(h["counts"]))]
axes[0].bar(labels, h["counts"], color="#72b7b2")
axes[0].set_title("sequence length (users)")
axes[0].tick_params(axis="x", rotation=60)
g = card["gap_days"]["histogram"]
glabels = ["same day"] + [f"{g['edges'][i]:.0f}-{g['edges'][i + 1]:.0f}" for i in range(1, len(g["counts"]))]
axes[1].bar(glabels, g["counts"], color="#f58518")
axes[1].set_title("gap between consecutive events (days)")
axes[1].tick_params(axis="x", rotation=60)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Splits and user segments (PROTOCOLS.md)

# %%
splits = leave_one_out(beauty.interactions)
print({k: len(v) for k, v in splits.items()})
segments, rule = user_segments(beauty.interactions)
print(rule["rule"], f"-> cold share {rule['cold_share']:.1%}")

# %% [markdown]
# ## Category transitions inside sequences (input to GBR's category-discontinuity rule)

# %%
inter = beauty.interactions.merge(items[["item_id", "primary_category"]], on="item_id")
if SMALL:
    inter = inter[inter["user_id"].isin(inter["user_id"].unique()[:2000])]
same_user = inter["user_id"].to_numpy()[1:] == inter["user_id"].to_numpy()[:-1]
cat = inter["primary_category"].to_numpy()
switch = (cat[1:] != cat[:-1])[same_user]
print(f"consecutive pairs that change primary category: {switch.mean():.1%} of {same_user.sum():,}")
trans = pd.crosstab(pd.Series(cat[:-1][same_user], name="from"), pd.Series(cat[1:][same_user], name="to"),
                    normalize="index").round(2)
print(trans)

# %% [markdown]
# ## The 2018 raw format: demand expressions and key-value attributes

# %%
mag = ensure_dataset("magazine")
print(describe_card(mag.card))
print(mag.demand.groupby("category").size().sort_values(ascending=False).head(8))
print(mag.demand.sample(8, random_state=0)[["category", "text"]].to_string(index=False))
attrs = pd.Series([k for a in mag.items["attributes"] for k in a]).value_counts()
print("attribute keys:", attrs.to_dict())
