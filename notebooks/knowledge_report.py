# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Multi-agent knowledge reasoning (paper 2.1.1): what was generated, how grounded it is
#
# Reads the knowledge artifacts made by `reaseq knowledge build` (taxonomies of Layers 1-2, item knowledge of
# Layer 3 and of the single-agent baseline), shows them, and writes the grounding table (catalogue entry
# `grounding_table`) for the app. With `REASEQ_SMALL=1` it shows fewer examples and writes the table as the
# small run (the same numbers: it only reads artifacts), so the shipped table is left as it is.
#
# Grounding has one meaning throughout (reaseq_core/knowledge/grounding.py): each entry is supported by the item's
# data fields, beyond them, or contradicted by them, and an item's grounding rate is its share of supported
# entries. Rows stored before these classes carry flags of an older check, so every entry is re-classified here.

# %%
import json
import os

import pandas as pd

from reaseq_core import catalogue as cat
from reaseq_core.data import ensure_dataset
from reaseq_core.knowledge.report import grounding_classes_table, grounding_table, regrounded
from reaseq_core.results import write_table
from reaseq_core.store import ArtifactStore

SMALL = os.environ.get("REASEQ_SMALL") == "1"
RUN = cat.SMALL_RUN if SMALL else None
store = ArtifactStore()
ds = ensure_dataset("beauty", store)
taxonomy = store.read("beauty", cat.TAXONOMY)
knowledge = store.read("beauty", cat.ITEM_KNOWLEDGE)
classified = regrounded(knowledge, ds.items)       # today's grounding classes, whatever the rows' age
summary = store.read("beauty", cat.KNOWLEDGE_SUMMARY)

# %% [markdown]
# ## Coverage and speed, per category and setup

# %%
pd.DataFrame([{"category": c, "setup": s, **{k: v for k, v in f.items() if k != "failure_reasons"}}
              for c, setups in summary["categories"].items() for s, f in setups.items()])

# %% [markdown]
# ## Layer 1: category taxonomies (and what they were built from)

# %%
for category, t in taxonomy["categories"].items():
    for persp in ("demand", "attribute"):
        x = t[persp]
        print(f"{category} / {persp} [{x['input_kind']}, {x['status']}, {x.get('attempts')} attempt(s)]: {x['dimensions']}")
        if x.get("repair"):
            print("    ", x["repair"])
        print("    ", x["reasoning"][:300])

# %% [markdown]
# ## Layer 2: refined dimensions per subcategory (label, rationale, mapped inputs)

# %%
rows = []
for category, t in taxonomy["categories"].items():
    for sub, s in t["subcategories"].items():
        for persp in ("demand", "attribute"):
            for d in s[persp].get("dimensions", []):
                rows.append({"category": category, "subcategory": sub, "perspective": persp, **d,
                             "repair": s[persp].get("repair")})
pd.DataFrame(rows)

# %% [markdown]
# ## Layer 3 vs the single-agent baseline on the same items (the paper's Figure 7 comparison)

# %%
ok = classified[classified["status"] == "ok"]
both = sorted(set(ok[ok.setup == "multi_agent"].item_id) & set(ok[ok.setup == "single_agent"].item_id))
titles = ds.items.set_index("item_id")["title"]
for iid in both[: 2 if SMALL else 5]:
    print(f"\n=== {iid}: {titles.get(iid)}")
    for setup in ("multi_agent", "single_agent"):
        r = ok[(ok.item_id == iid) & (ok.setup == setup)].iloc[0]
        print(f"-- {setup} (grounding {r.grounding_rate:.2f}: {r.supported} supported, {r.beyond} beyond, "
              f"{r.contradicted} contradicted)")
        for persp in ("user_demand", "product_attribute"):
            for e in json.loads(r[persp]):
                flag = "" if e["grounded"] else f"   <- {e['grounding']}: {e['grounding_note']}"
                print(f"   {persp[:4]} {e['dimension']:<16} {', '.join(e['keywords'])}{flag}")

# %% [markdown]
# ## Grounding classes per setup and category (the stored `grounding_classes` table, recomputed here for reading)

# %%
grounding_classes_table(knowledge, ds).to_frame()

# %% [markdown]
# ## Grounding table (stored for the app)

# %%
table = grounding_table(knowledge, ds)
write_table(store, cat.GROUNDING_TABLE, table,
            {"items_file_created": store.provenance("beauty", cat.ITEM_KNOWLEDGE).get("created")}, run=RUN)
table.to_frame()
