"""Embeddings: UMAP of real item tokens and [FILL] tokens (paper Figure 6.b), coloured by category or token
type, hover with titles. The projection is computed once per input and stored (the viz stage's UMAP, keyed by
reproducible facts of its inputs, reaseq_core/viz/umap_cache.py); the neighbour lists shown are exact cosine
in the original space, never distances in the projection.
Every point is drawn (no downsampling); the count is stated. A lasso/box selection exports as CSV."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, charts, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core.errors import MissingArtifact  # noqa: E402
from reaseq_core.viz import build_embedding_projection, latest_projection, stale_inputs  # noqa: E402

dataset = ui.page("Embeddings", "🌌")
store = access.store()
key = latest_projection(store, dataset)
umap_command = cat.UMAP.producing_command(dataset)
if key is None:
    st.info(f"**Not produced yet:** the UMAP projection (viz stage) for dataset '{dataset}'.\n\n"
            f"Run `{umap_command}` to compute it once (it needs `{cat.TITLE_VECTORS.producing_command(dataset)}`, "
            f"and `{cat.FILL_VECTORS.producing_command(dataset)}` for the [FILL] tokens).", icon="⏳")
    if st.button("Compute it now (about a minute for the whole catalogue)", key="compute"):
        with st.spinner("Fitting UMAP on every item and [FILL] token ..."):
            try:
                build_embedding_projection(store, dataset)
            except MissingArtifact as e:
                ui.show_missing(e)
                st.stop()
        st.rerun()
    st.stop()

with ui.needs_artifacts():
    proj = access.read(dataset, cat.UMAP, inputs=key)
    prov = access.provenance(dataset, cat.UMAP, inputs=key)
    fills = access.read(dataset, cat.FILLS) if access.exists(dataset, cat.FILLS) \
        else pd.DataFrame(columns=["fill_id", "user_id", "after_item", "before_item", "variant", "position"])
lookup = access.item_lookup(dataset)
fill_meta = fills.set_index("fill_id") if len(fills) else fills


# Stale when a reproducible fact of an input (content hash, encoder, fill vectors, config) changed.
try:
    stale = stale_inputs(store, dataset, key)
except MissingArtifact as e:  # an input is gone: the stored projection is shown, with what to rerun
    stale = [f"{e.what} is missing (run `{e.command}`)"]
if stale:
    st.warning(f"Inputs changed since this projection was made ({', '.join(stale)}): run `{umap_command}` to "
               "recompute.")


@st.cache_data(show_spinner=False, max_entries=4)
def decorate(key: str, n: int, lookup_size: int, fills_size: int) -> pd.DataFrame:
    d = proj.copy()
    is_fill = d["token_type"].eq("fill")

    def item_label(i):
        m = lookup.get(i) or {}
        return f"{m.get('title') or i}<br>{m.get('brand') or ''} · {m.get('category') or ''}"

    def fill_label(f):
        if f in fill_meta.index:
            r = fill_meta.loc[f]
            a = (lookup.get(r["after_item"]) or {}).get("title") or r["after_item"]
            b = (lookup.get(r["before_item"]) or {}).get("title") or r["before_item"]
            return f"[FILL] {f} · user {r['user_id']}<br>after: {a}<br>before: {b}"
        return f"[FILL] {f}"

    d["label"] = [fill_label(p) if f else item_label(p) for p, f in zip(d["point_id"], is_fill)]
    d["category"] = [("[FILL]" if f else (lookup.get(p) or {}).get("category") or "(unknown)")
                     for p, f in zip(d["point_id"], is_fill)]
    d["user_id"] = [fill_meta.loc[p, "user_id"] if f and p in fill_meta.index else None
                    for p, f in zip(d["point_id"], is_fill)]
    return d


df = decorate(key, len(proj), len(lookup), len(fills))
n_items, n_fills = int((df["token_type"] == "item").sum()), int((df["token_type"] == "fill").sum())

c1, c2, c3 = st.columns([1, 1, 2])
colour = c1.radio("Colour by", ["category", "token_type"], horizontal=True, key="colour",
                  format_func=lambda c: c.replace("_", " "))
users = sorted(df["user_id"].dropna().unique())
scope = c2.radio("Points", ["all", "one user"], horizontal=True, key="scope", disabled=not users)
shown = df
if scope == "one user" and users:
    user = c3.selectbox("User (users with [FILL] tokens)", users, key="user")
    seq_items = set()
    if access.exists(dataset, cat.INTERACTIONS):
        inter = access.read(dataset, cat.INTERACTIONS)
        seq_items = set(inter.loc[inter["user_id"] == user, "item_id"])
    shown = df[(df["user_id"] == user) | (df["token_type"].eq("item") & df["point_id"].isin(seq_items))]
    st.caption(f"Showing {len(shown):,} points: this user's {int(shown.token_type.eq('item').sum())} items and "
               f"{int(shown.token_type.eq('fill').sum())} [FILL] tokens, at their coordinates in the projection "
               f"of all {len(df):,} points.")
else:
    st.caption(f"Showing all {len(df):,} points: {n_items:,} real item tokens and {n_fills:,} [FILL] tokens "
               f"(no downsampling) · item space: {prov['inputs']['item_space']} · "
               f"UMAP {prov.get('config', {}).get('umap', {})}")

event = st.plotly_chart(charts.umap_scatter(shown, colour), key="umap", on_select="rerun",
                        selection_mode=("points", "box", "lasso"))


def row_of(cd) -> int | None:
    """The row index a selected point carries in `customdata`: the browser sends it as a list, a scalar, or
    (for a scattergl trace's 2-D customdata) an object keyed by position."""
    if isinstance(cd, dict):
        cd = [cd[k] for k in sorted(cd, key=str)]
    if isinstance(cd, (list, tuple)):
        cd = cd[0] if cd else None
    return None if cd is None else int(cd)


picked = []
for p in (event.selection.points if event and event.selection else []):
    r = row_of(p.get("customdata"))
    if r is not None:
        picked.append(r)
picked = list(dict.fromkeys(picked))
sel = df.loc[picked] if picked else shown.iloc[0:0]

st.markdown(f"**Selection:** {len(sel):,} points (lasso or box on the chart)")
if len(sel):
    out = sel[["point_id", "token_type", "category", "user_id", "x", "y"]].copy()
    out["title"] = [(lookup.get(p) or {}).get("title") for p in out["point_id"]]
    out["nearest_item"] = [ids[0] if len(ids) else None for ids in sel["nn_ids"]]
    out["nearest_cosine"] = [s[0] if len(s) else None for s in sel["nn_sims"]]
    st.dataframe(out, hide_index=True, width="stretch", height=220)
    st.download_button("Export selection as CSV", out.to_csv(index=False).encode("utf-8"),
                       file_name=f"{dataset}_umap_selection.csv", mime="text/csv", key="export")

st.markdown("##### Nearest real items (exact cosine in the original space)")
candidates = sel if len(sel) else shown[shown["token_type"] == "fill"]
if candidates.empty:
    candidates = shown
point = st.selectbox("Point", candidates["point_id"].tolist()[:5000], key="point",
                     format_func=lambda p: f"{p} · {(lookup.get(p) or {}).get('title') or '[FILL]'}")
r = df[df["point_id"] == point].iloc[0]
st.dataframe(pd.DataFrame([{"rank": k + 1, "item": i, "cosine": s, "title": (lookup.get(i) or {}).get("title"),
                            "category": (lookup.get(i) or {}).get("category")}
                           for k, (i, s) in enumerate(zip(r["nn_ids"], r["nn_sims"]))]),
             hide_index=True, width="stretch")
ui.provenance_caption(prov)
