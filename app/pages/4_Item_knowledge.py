"""Item knowledge: search and filter items (category, brand, text); an item's metadata beside its knowledge
entries (user demand and product attribute, paper Section 2.1.1 Layer 3). Each entry shows its grounding
class against the item's data fields (reaseq_core/knowledge/grounding.py): supported (the cited fields'
values bear it out), beyond the data (world knowledge the fields neither confirm nor contradict) or
contradicted (a gender, size, price or category the fields state otherwise), with the item's shares and
the dataset's shares per setup and category. Evidence that points at nothing in the item is highlighted."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, review_ui, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core import review  # noqa: E402
from reaseq_core.knowledge import grounding  # noqa: E402
from reaseq_core.status import knowledge_build_command  # noqa: E402

dataset = ui.page("Item knowledge", "🧠")
with ui.needs_artifacts():
    items = access.items(dataset)
    kn = access.read(dataset, cat.ITEM_KNOWLEDGE)

setups = sorted(kn["setup"].unique())
has = kn.groupby("item_id")["setup"].agg(lambda s: ", ".join(sorted(s)))
st.caption(f"{kn['item_id'].nunique():,} of {len(items):,} items have knowledge "
           f"({', '.join(f'{s}: {(kn.setup == s).sum():,}' for s in setups)}). Knowledge is generated "
           "incrementally; the rest of the catalogue has none yet.")

f1, f2, f3, f4 = st.columns([2, 2, 3, 1.3])
cats = sorted(items["primary_category"].dropna().unique())
category = f1.selectbox("Category", ["(all)"] + cats, key="cat")
pool = items if category == "(all)" else items[items["primary_category"] == category]
brands = pool["brand"].dropna().value_counts().index.tolist()
brand = f2.selectbox("Brand", ["(all)"] + brands, key="brand")
text = f3.text_input("Search title / description / item id", key="search")
only_kn = f4.toggle("With knowledge only", value=True, key="only_kn")

view = pool
if brand != "(all)":
    view = view[view["brand"] == brand]
if text:
    hay = (view["title"].fillna("") + " " + view["description"].fillna("") + " " + view["item_id"])
    view = view[hay.str.contains(text, case=False, regex=False)]
view = view.assign(knowledge=view["item_id"].map(has).fillna("—"))
if only_kn:
    view = view[view["knowledge"] != "—"]
st.caption(f"{len(view):,} items match")
if view.empty:
    st.info("No item matches these filters.")
    st.stop()

listing = view[["item_id", "title", "brand", "primary_category", "knowledge"]].reset_index(drop=True)
event = st.dataframe(listing, hide_index=True, on_select="rerun", selection_mode="single-row", height=260,
                     key="items", width="stretch")
rows = event.selection.rows if event and event.selection else []
item = view.iloc[rows[0] if rows else 0]
iid = item["item_id"]


CLASS_BADGE = {grounding.SUPPORTED: ":green-background[supported]",
               grounding.BEYOND: ":orange-background[not grounded · beyond the data]",
               grounding.CONTRADICTED: ":red-background[not grounded · contradicted by the data]"}


def render_entries(entries: list[dict], fields: dict) -> list[str]:
    """Show the entries with their grounding class (computed now, with today's rules); returns the classes."""
    if not entries:
        st.write("—")
        return []
    facts = grounding.ItemFacts.of(fields)
    classes = []
    for e in entries:
        g = grounding.ground_entry(e, fields, facts)
        classes.append(g["grounding"])
        st.markdown(f"**{e.get('dimension', '?')}**  {CLASS_BADGE[g['grounding']]}")
        st.write(e.get("analysis") or "")
        if e.get("keywords"):
            st.markdown(" ".join(f"`{k}`" for k in e["keywords"]))
        ev = [x for x in e.get("evidence") or [] if isinstance(x, str)]
        if ev:
            shown = ", ".join(f"“{x}”" if grounding.check_evidence(x, fields)[0] else f":red-background[“{x}”]"
                              for x in ev)
            st.markdown(f"evidence: {shown}")
        st.caption(f"grounding check: {g['grounding_note']}")
    return classes


meta, knowledge = st.columns([1, 2])
with meta:
    st.subheader(item["title"] if pd.notna(item["title"]) and item["title"] else iid)   # a few items have no title
    st.markdown(f"`{iid}` · brand **{item['brand'] if pd.notna(item['brand']) and item['brand'] else '—'}**")
    st.markdown(" › ".join(item["category_path"]) or "—")
    facts = {"price": item["price"], "sales rank": item["sales_rank"], "product line": item["product_line_id"]}
    st.markdown(" · ".join(f"{k}: {v:g}" if isinstance(v, float) and v == v else f"{k}: {v or '—'}"
                           for k, v in facts.items()))
    if item["attributes"]:
        st.json(item["attributes"], expanded=False)
    if item["description"]:
        with st.expander("Description", expanded=True):
            st.write(item["description"])
with knowledge:
    rows_k = kn[kn["item_id"] == iid]
    if rows_k.empty:
        if item["primary_category"]:
            build = knowledge_build_command(dataset, item["primary_category"]) + f" --items {iid}"
            st.info(f"No knowledge for this item yet: run `{build}` (without `--items`, the build covers the "
                    "whole category, most-interacted items first).")
        else:
            st.info("No knowledge for this item: it has no primary category, and the knowledge stage builds per "
                    "category.")
    else:
        setup = st.radio("Setup", sorted(rows_k["setup"]), horizontal=True, key="setup")
        r = rows_k[rows_k["setup"] == setup].iloc[0]
        head = st.empty()
        if r["status"] != "ok":
            st.warning(f"Generation failed: {r['failure_reason']}")
        fields = grounding.fields_of(item.to_dict())
        u, p = st.columns(2)
        with u:
            st.markdown("##### User demand")
            got = render_entries(access.parse_entries(r["user_demand"],
                                                      f"item_knowledge, item {iid} ({setup}), user_demand"), fields)
        with p:
            st.markdown("##### Product attribute")
            got += render_entries(access.parse_entries(r["product_attribute"],
                                                       f"item_knowledge, item {iid} ({setup}), product_attribute"),
                                  fields)
        sh = grounding.shares(got)
        head.caption(f"status **{r['status']}** · entries: supported {sh['supported']:.0%} · beyond the data "
                     f"{sh['beyond']:.0%} · contradicted {sh['contradicted']:.0%} · model {r['model']} · "
                     f"template {str(r['template_hash'])[:12]} · {r['created']}")

if access.store().exists(dataset, cat.GROUNDING_CLASSES):
    with st.expander("Grounding classes of all entries, per setup and category"):
        gt = access.read(dataset, cat.GROUNDING_CLASSES)
        st.dataframe(pd.DataFrame(gt["rows"], columns=gt["columns"]), hide_index=True,
                     width="stretch", key="grounding_classes")
        st.caption(gt["protocol"])

if not rows_k.empty:  # the case: this item's knowledge (every setup; regenerating either outdates a verdict)
    review_ui.verdict_box(dataset, "item_knowledge", iid, review.knowledge_provenance(kn, iid))
