"""GBR fills: for a [FILL] token inferred by generative behaviour reasoning, its context items and the nearest
real items (exact cosine in the original item-vector space, with similarity and metadata), as in the paper's
Figure 6.a; browse fills by user or by category transition."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.express as px  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, review_ui, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core import review  # noqa: E402
from reaseq_core.catalogue import ArtifactShapeError  # noqa: E402
from reaseq_core.viz import exact_cosine_neighbours  # noqa: E402

dataset = ui.page("GBR fills", "🧩")
with ui.needs_artifacts():
    fills = access.read(dataset, cat.FILLS)
lookup = access.item_lookup(dataset)


def category_of(i) -> str:
    return (lookup.get(i) or {}).get("category") or "(unknown)"


def title(i) -> str:
    return (lookup.get(i) or {}).get("title") or str(i)


fills = fills.assign(cat_from=fills["after_item"].map(category_of), cat_to=fills["before_item"].map(category_of))
fills["transition"] = fills["cat_from"] + " → " + fills["cat_to"]
if not lookup:
    st.warning(f"Item metadata is missing (run `{cat.ITEMS.producing_command(dataset)}`); ids are shown instead.")


def training_and_nearness() -> None:
    """Table 5's learning curves and where fills land relative to real items (from table5 / table5_runs)."""
    from reaseq_core import report as report_mod
    from reaseq_core.results import read_table
    missing = [a for a in (cat.TABLE5, cat.TABLE5_RUNS) if not access.store().exists(dataset, a)]
    if missing:
        st.info("Learning curves and the nearest-item figures come with Table 5: run "
                f"`{cat.TABLE5.producing_command(dataset)}`.")
        return
    with ui.needs_artifacts():
        t5 = read_table(access.store(), dataset, cat.TABLE5)
        runs = access.read(dataset, cat.TABLE5_RUNS)
    with st.expander("Do fills land among real items? (held-out users, Table 5 protocol)", expanded=True):
        rows = []
        for r in runs:
            for kind, label in (("nearest_fill", "[FILL] predictions"), ("nearest_mask", "[MASK] predictions"),
                                ("nearest_real", "real items behind the [MASK]s (nearest other item)")):
                q = r.get(kind)
                if isinstance(q, dict) and "p50" in q:
                    rows.append({"model": r["model"], "seed": r.get("seed"), "what": label, "n": q["n"],
                                 **{f"p{k}": round(float(q[f'p{k}']), 3) for k in (10, 25, 50, 75, 90)}})
        if not rows:
            st.info(f"{access.store().path(dataset, cat.TABLE5_RUNS)} has no nearest-item figures; rerun "
                    f"`{cat.TABLE5.producing_command(dataset)}`.")
        else:
            near = pd.DataFrame(rows)
            near = near[near["what"] != "[MASK] predictions"] if st.toggle("hide [MASK] predictions", True,
                                                                             key="hide_mask") else near
            agg = near.groupby(["model", "what"], sort=False)[["p10", "p25", "p50", "p75", "p90"]].mean().reset_index()
            fig = px.scatter(agg, x="p50", y="model", color="what", error_x=agg["p90"] - agg["p50"],
                             error_x_minus=agg["p50"] - agg["p10"],
                             labels={"p50": "cosine to the nearest real item (median, bars p10-p90)"})
            fig.update_layout(height=120 + 28 * agg["model"].nunique(), margin=dict(t=10, l=10, r=10, b=10),
                              legend=dict(orientation="h", y=-0.35))
            st.plotly_chart(fig, key="nearness")
            st.caption("A fill among real items has a nearest real item about as close as a real item's own "
                       "nearest other item (the last group). Mean over seeds of each quantile.")
            st.dataframe(agg, hide_index=True, width="stretch")
    with st.expander("Training: learning curves of the Table 5 models"):
        for curve in report_mod.learning_curves(access.store(), dataset, t5):
            st.markdown(f"**{curve.title}**")
            if curve.figure is None:
                st.info(curve.skipped)
            else:
                st.plotly_chart(curve.figure, key=f"curve_{curve.title}")
                if curve.caption:
                    st.caption(curve.caption)


training_and_nearness()

variants = sorted(fills["variant"].unique())
c1, c2 = st.columns([1, 3])
variant = c1.radio("Variant", variants, horizontal=True, key="variant")
fv = fills[fills["variant"] == variant]
c2.caption(f"{len(fv):,} fills for {fv['user_id'].nunique():,} users in variant {variant}")

heat = fv.groupby(["cat_from", "cat_to"]).size().reset_index(name="fills")
fig = px.density_heatmap(heat, x="cat_to", y="cat_from", z="fills", histfunc="sum", text_auto=True,
                         labels={"cat_from": "category before the gap", "cat_to": "category after the gap"})
fig.update_layout(height=320, margin=dict(t=10, l=10, r=10, b=10))
st.plotly_chart(fig, key="transitions")

mode = st.radio("Browse by", ["category transition", "user"], horizontal=True, key="mode")
if mode == "user":
    counts = fv["user_id"].value_counts()
    user = st.selectbox("User", counts.index.tolist(), key="user",
                        format_func=lambda u: f"{u} ({counts[u]} fills)")
    pick = fv[fv["user_id"] == user]
else:
    counts = fv["transition"].value_counts()
    tr = st.selectbox("Transition", counts.index.tolist(), key="transition",
                      format_func=lambda t: f"{t} ({counts[t]} fills)")
    pick = fv[fv["transition"] == tr]
fill_id = st.selectbox("Fill", pick["fill_id"].tolist(), key="fill",
                       format_func=lambda f: f"{f}: user {pick.set_index('fill_id').at[f, 'user_id']}, "
                                             f"position {pick.set_index('fill_id').at[f, 'position']}")
f = pick.set_index("fill_id").loc[fill_id]

left, right = st.columns([1, 1])
with left:
    st.markdown(f"##### Context of the fill (user {f['user_id']})")
    # the augmented sequence as the model saw it: real items in order, every [FILL] of this user (this
    # variant) at its own position, so the row index is the fill's position
    items = [i for i in f["context_items"] if not (i is None or (isinstance(i, float) and np.isnan(i)))]
    user_fills = fv[fv["user_id"] == f["user_id"]].set_index("position")["fill_id"].to_dict()
    rows, it = [], iter(items)
    for pos in range(len(items) + len(user_fills)):
        if pos in user_fills:
            this = user_fills[pos] == fill_id
            rows.append({"pos": pos, "item": "[FILL]" if this else "[FILL] (other)",
                         "title": "◆ this inferred [FILL] token" if this else "◇ another fill of this user",
                         "category": ""})
        else:
            i = next(it, None)
            rows.append({"pos": pos, "item": i, "title": title(i) if i else "", "category": category_of(i) if i else ""})
    ctx_df = pd.DataFrame(rows)
    st.dataframe(ctx_df.style.apply(lambda r: ["background-color: #ffe9a8" if r["item"] == "[FILL]" else ""
                                               for _ in r], axis=1), hide_index=True, width="stretch", height=380)
    st.caption(f"between **{title(f['after_item'])}** ({category_of(f['after_item'])}) and "
               f"**{title(f['before_item'])}** ({category_of(f['before_item'])})")
with right:
    st.markdown("##### Nearest real items (exact cosine, original space)")
    nn = json.loads(f["neighbours"]) if isinstance(f["neighbours"], str) else list(f["neighbours"])
    nn_df = pd.DataFrame([{"rank": k + 1, "item": n["item_id"], "similarity": round(float(n["similarity"]), 4),
                           "title": title(n["item_id"]), "brand": (lookup.get(n["item_id"]) or {}).get("brand"),
                           "category": category_of(n["item_id"])} for k, n in enumerate(nn)])
    st.dataframe(nn_df, hide_index=True, width="stretch", height=380)
    if st.button("Recompute these neighbours here from the stored vectors", key="recompute"):
        with ui.needs_artifacts():
            z = access.read(dataset, cat.FILL_VECTORS)
            space = str(z["item_space"])
            pool = access.item_space(dataset, space)
            fill_ids = z["fill_ids"].astype(str).tolist()
            if str(fill_id) not in fill_ids:
                raise ArtifactShapeError(f"{access.store().path(dataset, cat.FILL_VECTORS)}: fill {fill_id} of "
                                         "the fills table has no vector")
            q = z["vectors"][fill_ids.index(str(fill_id))]
            mine = exact_cosine_neighbours(q.astype(np.float32)[None, :], pool.item_ids, pool.vectors,
                                           k=len(nn) or 10)[0]
            # the committed vectors are float16 (half the file), the stored list was computed from float32:
            # similarities agree to float16 precision, and the order of near-ties may differ
            atol = 2e-3 if z["vectors"].dtype == np.float16 else 1e-5
            sims_stored = {n["item_id"]: float(n["similarity"]) for n in nn}
            sims_mine = dict(mine)
            shared = sims_stored.keys() & sims_mine.keys()
            worst = max((abs(sims_stored[i] - sims_mine[i]) for i in shared), default=0.0)
            edge = min(sims_stored.values(), default=0.0)
            # an item may swap in or out only where it ties with the last stored similarity
            swaps_ok = all(abs(sims_mine[i] - edge) <= atol for i in sims_mine.keys() - shared)
            same = worst <= atol and swaps_ok
            st.success(f"Recomputed in the {space} space from {z['vectors'].dtype} vectors: the stored list "
                       f"{'matches' if same else 'differs'} (largest similarity difference {worst:.1e}, "
                       f"tolerance {atol:.0e}; {len(shared)} of {len(nn)} items shared).")
            if not same:
                st.dataframe(pd.DataFrame(mine, columns=["item", "similarity"]), hide_index=True)

# the case: this fill (its provenance: the fills artifact's created + code_version)
with ui.needs_artifacts():
    fill_prov = review.fill_provenance(access.provenance(dataset, cat.FILLS),
                                       str(access.store().path(dataset, cat.FILLS)))
review_ui.verdict_box(dataset, "gbr_fill", str(fill_id), fill_prov)
