"""Taxonomies: per primary category the Layer-1 demand and attribute dimensions (and what input the agents
saw), per subcategory the Layer-2 refinement with its reasoning trace, rationale (inherited / adapted /
new) and mapped expressions (paper Section 2.1.1, Layers 1-2), and what the refinement changed from the
parent taxonomy: each parent label beside the refined label that keeps it (inherited), changes it (adapted)
or none (dropped), then the new labels."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import plotly.express as px  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, review_ui, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core import review  # noqa: E402
from reaseq_core.knowledge.schemas import parent_diff  # noqa: E402
from reaseq_core.knowledge.summary import taxonomy_rule_check  # noqa: E402
from reaseq_core.status import knowledge_command  # noqa: E402

RATIONALE_COLOURS = {"inherited": "#4c78a8", "adapted": "#f58518", "new": "#54a24b", "dropped": "#e45756"}
INPUT_KIND = {"titles": "item titles (no queries in this dataset)", "review_summaries": "review summaries",
              "queries": "user queries", "structured_fields": "structured fields (brand, price, rank, path)",
              "key_values": "merchant key-value attributes"}

dataset = ui.page("Taxonomies", "🗂️")
with ui.needs_artifacts():
    tax = access.read(dataset, cat.TAXONOMY)
cats = tax["categories"]
if not cats:
    st.info(f"The taxonomy holds no category yet: run `{knowledge_command(access.store(), dataset)}`.")
    st.stop()

# Overview: how the Layer-2 agents treated the Layer-1 dimensions, per primary category.
rows = []
for prim, c in cats.items():
    for sub, s in (c.get("subcategories") or {}).items():
        for side in ("demand", "attribute"):
            for d in (s.get(side) or {}).get("dimensions") or []:
                rows.append({"primary": prim, "side": side, "rationale": d.get("rationale", "?")})
if rows:
    ov = pd.DataFrame(rows).groupby(["primary", "side", "rationale"]).size().reset_index(name="dimensions")
    fig = px.bar(ov, x="primary", y="dimensions", color="rationale", facet_col="side", barmode="stack",
                 color_discrete_map=RATIONALE_COLOURS)
    fig.update_layout(height=300, margin=dict(t=30, l=10, r=10, b=10))
    st.plotly_chart(fig, key="overview")

# The stored labels and texts under today's rules (a taxonomy built before a rule keeps what it was given).
checks = {prim: taxonomy_rule_check(c, access.known_words(dataset, prim), prim) for prim, c in cats.items()}
st.markdown("**Today's rules on the stored taxonomies**: labels the label rules refuse, labels with a word in "
            "no dictionary (neither the sentence encoder's vocabulary nor the category's item texts: a "
            "misspelling or a fragment, reported, not refused), and reasoning / justification texts that end "
            "mid-sentence (cut by the answer's length cap).")
st.dataframe(pd.DataFrame([{"primary": prim, "labels": k["labels"], "labels refused": len(k["labels_refused"]),
                            "labels with unknown words": len(k.get("unknown_words", [])),
                            "texts": k["texts"], "texts ending mid-sentence": len(k["texts_cut"])}
                           for prim, k in checks.items()]), hide_index=True, key="rule_check")

primary = st.selectbox("Primary category", list(cats), key="primary")
chk = checks[primary]
if chk["labels_refused"] or chk["texts_cut"] or chk.get("unknown_words"):
    with st.expander(f"{primary}: {len(chk['labels_refused'])} refused labels, "
                     f"{len(chk.get('unknown_words', []))} labels with unknown words, "
                     f"{len(chk['texts_cut'])} texts ending mid-sentence"):
        if chk["labels_refused"]:
            st.dataframe(pd.DataFrame(chk["labels_refused"]), hide_index=True, key="refused_labels")
        if chk.get("unknown_words"):
            st.dataframe(pd.DataFrame(chk["unknown_words"]), hide_index=True, key="unknown_words")
        if chk["texts_cut"]:
            st.dataframe(pd.DataFrame(chk["texts_cut"]), hide_index=True, key="cut_texts")
c = cats[primary]


def layer1(block: dict, side: str) -> None:
    if not block:
        st.info(f"No Layer-1 {side} taxonomy for {primary}.")
        return
    if block.get("status") == "failed":
        st.warning(f"Layer-1 {side} agent failed: {block.get('error')}")
    kind = block.get("input_kind", "?")
    st.markdown(f"**Layer-1 {side} dimensions** · input: *{INPUT_KIND.get(kind, kind)}*")
    st.markdown(" ".join(f"`{d}`" for d in block.get("dimensions") or []) or "—")
    with st.expander("Reasoning"):
        st.write(block.get("reasoning") or "—")
    with st.expander(f"What the agent saw ({len(block.get('inputs_sample') or [])} inputs shown)"):
        for x in block.get("inputs_sample") or []:
            st.markdown(f"- {x}")


a, b = st.columns(2)
with a:
    layer1(c.get("demand") or {}, "demand")
with b:
    layer1(c.get("attribute") or {}, "attribute")

subs = c.get("subcategories") or {}
st.subheader("Layer 2: subcategory refinement")
if not subs:
    st.info(f"No Layer-2 refinement for {primary} yet.")
    st.stop()
sub = st.selectbox("Subcategory", list(subs), key="sub")


def layer2(block: dict, side: str) -> None:
    if not block:
        st.info(f"No Layer-2 {side} refinement.")
        return
    if block.get("status") == "failed":
        st.warning(f"Layer-2 {side} agent failed: {block.get('error')}")
    dims = block.get("dimensions") or []
    df = pd.DataFrame([{"label": d.get("label"), "rationale": d.get("rationale"),
                        "justification": d.get("justification"),
                        "mapped expressions": "; ".join(d.get("mapped") or [])} for d in dims])
    st.markdown(f"**{side.title()}** · final: " + (" ".join(f"`{x}`" for x in block.get("final") or []) or "—"))
    if not df.empty:
        st.dataframe(df.style.map(lambda v: f"color: {RATIONALE_COLOURS.get(v, 'inherit')}; font-weight: 600",
                                  subset=["rationale"]), hide_index=True, width="stretch")
    with st.expander("Reasoning trace", expanded=False):
        st.write(block.get("reasoning_trace") or "—")


a, b = st.columns(2)
with a:
    layer2(subs[sub].get("demand") or {}, "demand")
with b:
    layer2(subs[sub].get("attribute") or {}, "attribute")


def changes(block: dict, side: str) -> None:
    """The refinement beside its parent: inherited / adapted / new / dropped labels."""
    parent = block.get("parent") or (c.get(side) or {}).get("dimensions") or []
    dims = block.get("dimensions") or []
    if not dims:
        st.info(f"No refined {side} labels to compare with the parent.")
        return
    diff = pd.DataFrame(parent_diff(dims, parent), columns=["parent", "refined", "change", "note"])
    counts = diff["change"].value_counts()
    st.markdown(f"**{side.title()}**: " + " · ".join(f"{counts.get(k, 0)} {k}"
                                                     for k in ("inherited", "adapted", "new", "dropped")))
    if block.get("repair") or block.get("fallback"):
        st.caption(f"note: {block.get('repair') or block.get('fallback')}")
    st.dataframe(diff.fillna("—").style.map(
        lambda v: f"color: {RATIONALE_COLOURS.get(v, 'inherit')}; font-weight: 600", subset=["change"]),
        hide_index=True, width="stretch", key=f"diff_{side}")


st.markdown("##### What changed from the parent (Layer 1)")
a, b = st.columns(2)
with a:
    changes(subs[sub].get("demand") or {}, "demand")
with b:
    changes(subs[sub].get("attribute") or {}, "attribute")

with st.expander("Templates and model"):
    st.json({"templates": tax.get("templates", {}), "model": tax.get("model", {})})
ui.provenance_caption(access.provenance(dataset, cat.TAXONOMY))

# the case: one perspective of the selected subcategory (its Layer-1 block and Layer-2 refinement above)
perspective = st.radio("Review the", review.PERSPECTIVES, horizontal=True, key="perspective",
                       format_func=lambda p: f"{p} taxonomy of {primary} › {sub}")
review_ui.verdict_box(dataset, "taxonomy", review.taxonomy_case_id(primary, sub, perspective),
                      review.taxonomy_provenance(tax, primary, sub, perspective))
