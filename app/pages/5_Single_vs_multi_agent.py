"""Single- vs multi-agent knowledge, side by side per item in the layout of the paper's Figure 7 (Appendix D),
with grounding rates and entry counts per setup across the catalogue.

Grounding has one meaning here, whatever the age of the stored rows: every entry is re-classified with today's
rules (reaseq_core/knowledge/grounding.py) as supported by the item's data, beyond it, or contradicted by it;
an item's grounding rate is its share of supported entries (access.item_knowledge)."""
import sys
from itertools import zip_longest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import plotly.express as px  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, review_ui, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core import review  # noqa: E402
from reaseq_core.status import knowledge_build_command, knowledge_command  # noqa: E402

dataset = ui.page("Single- vs multi-agent knowledge", "⚖️")
with ui.needs_artifacts():
    kn = access.item_knowledge(dataset)     # entries re-classified with today's grounding rules
lookup = access.item_lookup(dataset)


def n_entries(column: str) -> list[int]:
    return [len(access.parse_entries(t, f"item_knowledge, item {i} ({s}), {column}"))
            for t, i, s in zip(kn[column], kn["item_id"], kn["setup"])]


kn = kn.assign(n_user=n_entries("user_demand"), n_product=n_entries("product_attribute"),
               category=kn["primary_category"].fillna("(none)"))
# Across the catalogue, compare only items both setups were run on, so the two arms see the same items.
both = kn.groupby("item_id")["setup"].nunique()
paired_ids = set(both[both >= 2].index)
paired = kn[kn["item_id"].isin(paired_ids)]
st.caption(f"{len(paired_ids):,} items have both setups (compared below); "
           f"{kn['item_id'].nunique():,} have at least one.")

base = paired if len(paired) else kn
summary = (base.assign(ok=base["status"].eq("ok"), entries=base["supported"] + base["beyond"] + base["contradicted"])
           .groupby("setup").agg(items=("item_id", "nunique"), ok_share=("ok", "mean"),
                                 grounding_rate=("grounding_rate", "mean"),
                                 user_entries=("n_user", "mean"), product_entries=("n_product", "mean"),
                                 entries=("entries", "sum"), supported=("supported", "sum"),
                                 contradicted=("contradicted", "sum"))
           .reset_index())
summary["contradicted_share"] = (summary["contradicted"] / summary["entries"].where(summary["entries"] > 0)).fillna(0.0)
summary = summary.drop(columns=["entries", "supported", "contradicted"])
st.dataframe(summary.style.format({"ok_share": "{:.1%}", "grounding_rate": "{:.1%}", "user_entries": "{:.2f}",
                                   "product_entries": "{:.2f}", "contradicted_share": "{:.1%}"}), hide_index=True)
st.caption("grounding rate: mean over ok items of the share of entries the item's data supports (the values of "
           "the fields an entry cites bear its claim out); contradicted share: entries a field states otherwise "
           "(gender, size, price, concentration). Stored entries are re-classified with today's rules.")
per_cat = (base.groupby(["category", "setup"]).agg(grounding_rate=("grounding_rate", "mean"),
                                                   entries=("n_user", "mean")).reset_index())
per_cat["entries"] = base.groupby(["category", "setup"]).apply(
    lambda g: (g["n_user"] + g["n_product"]).mean(), include_groups=False).to_numpy()
g1, g2 = st.columns(2)
fig = px.bar(per_cat, x="category", y="grounding_rate", color="setup", barmode="group",
             labels={"grounding_rate": "mean grounding rate"})
fig.update_layout(height=300, margin=dict(t=10, l=10, r=10, b=10), yaxis_tickformat=".0%")
g1.plotly_chart(fig, key="grounding")
fig2 = px.bar(per_cat, x="category", y="entries", color="setup", barmode="group",
              labels={"entries": "entries per item (user + product)"})
fig2.update_layout(height=300, margin=dict(t=10, l=10, r=10, b=10))
g2.plotly_chart(fig2, key="entries")

if not paired_ids:
    built = sorted(set(kn["primary_category"].dropna()))
    build = (knowledge_build_command(dataset, built[0]) + " --single-agent-limit 100" if built
             else knowledge_command(access.store(), dataset))
    st.info(f"No item has both setups yet: the side-by-side view needs single-agent knowledge too (`{build}`).")
    st.stop()

# The Figure-7 examples the representation stage picked ("examples": one dict per item; "items" is their count).
examples = []
if access.exists(dataset, cat.FIGURE7_EXAMPLES):
    with ui.needs_artifacts():
        fig7 = access.read(dataset, cat.FIGURE7_EXAMPLES)
    examples = [e["item_id"] for e in fig7["examples"]]
ordered = [i for i in examples if i in paired_ids] + sorted(paired_ids - set(examples))


def label(i: str) -> str:
    t = (lookup.get(i) or {}).get("title") or ""
    return f"{i} · {t[:70]}"


iid = st.selectbox("Item (figure-7 examples first)", ordered, format_func=label, key="item")
meta = lookup.get(iid) or {}
st.markdown(f"**{meta.get('title') or iid}** · {meta.get('brand') or '—'} · {meta.get('category') or '—'} › "
            f"{meta.get('leaf') or ''}")
rows = {r["setup"]: r for r in kn[kn["item_id"] == iid].to_dict("records")}


def cell(e: dict | None) -> str:
    if not e:
        return ""
    txt = e.get("analysis") or ""
    if e.get("keywords"):
        txt += " [" + ", ".join(e["keywords"]) + "]"
    mark = {"beyond": "⚠ beyond the data: ", "contradicted": "✗ contradicted: "}.get(e.get("grounding"), "")
    return mark + txt


def rate(r: dict) -> str:
    g = r["grounding_rate"]
    if g != g:                      # NaN: a failed row has no entries
        return "no entries"
    return f"grounding {g:.0%} ({r['supported']} supported, {r['beyond']} beyond, {r['contradicted']} contradicted)"


def name(e: dict | None) -> str:
    return (e or {}).get("dimension", "")


single, multi = st.columns(2)
with single:
    r = rows["single_agent"]
    st.markdown(f"##### Single agent · {rate(r)} · status {r['status']}")
    u, p = (access.parse_entries(r[c], f"item_knowledge, item {iid} (single_agent), {c}")
            for c in ("user_demand", "product_attribute"))
    by_dim: dict[str, dict] = {}
    for e in p:
        by_dim.setdefault(name(e).lower(), {"shared dimension": name(e)})["product-side knowledge"] = cell(e)
    for e in u:
        by_dim.setdefault(name(e).lower(), {"shared dimension": name(e)})["user-side knowledge"] = cell(e)
    st.dataframe(pd.DataFrame(list(by_dim.values()),
                              columns=["shared dimension", "product-side knowledge", "user-side knowledge"]),
                 hide_index=True, width="stretch")
with multi:
    r = rows["multi_agent"]
    st.markdown(f"##### Multi-agent (MAKR) · {rate(r)} · status {r['status']}")
    u, p = (access.parse_entries(r[c], f"item_knowledge, item {iid} (multi_agent), {c}")
            for c in ("user_demand", "product_attribute"))
    st.dataframe(pd.DataFrame([{"product-side dimension": name(a), "reasoning knowledge": cell(a),
                                "user-side dimension": name(b), "reasoning knowledge ": cell(b)}
                               for a, b in zip_longest(p, u)]), hide_index=True, width="stretch")
st.caption("⚠ marks entries beyond the item's data (the cited fields' values do not bear the claim out: world "
           "knowledge, or evidence that points at nothing); ✗ marks entries a field of the item contradicts.")

# the case: this item's two knowledge setups side by side
review_ui.verdict_box(dataset, "single_vs_multi", iid, review.knowledge_provenance(kn, iid))
