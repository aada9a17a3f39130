"""ReaSeq workbench, Home: the dataset card and which pipeline stages have produced artifacts.

Run with `reaseq app` (or `streamlit run app/Home.py`). Every view reads through the artifact store.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the app folder, for `lib`

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, charts, ui  # noqa: E402
from reaseq_core.status import collect_status  # noqa: E402
from reaseq_core.catalogue import STAGES  # noqa: E402

dataset = ui.page("ReaSeq workbench", "🧭")
st.caption("Reasoning-enhanced sequential recommendation on public data: multi-agent knowledge, semantic IDs, "
           "ranking ablations and generative behaviour reasoning. Pick a view in the sidebar.")


@st.cache_data(show_spinner=False, ttl=30)
def _status(root: str, dataset: str) -> dict:
    from reaseq_core.store import ArtifactStore
    return collect_status(ArtifactStore(root), [dataset])["datasets"][dataset]


with ui.needs_artifacts():
    card = access.card(dataset)

c = card["counts"]
st.subheader(f"Dataset card: {dataset}")
cols = st.columns(6)
for col, (label, v) in zip(cols, [("users", c["users"]), ("items", c["items"]),
                                  ("interactions", c["interactions"]), ("brands", c.get("brands", 0)),
                                  ("demand expressions", c.get("demand_expressions", 0)),
                                  ("category paths", card["categories"]["distinct_paths"])]):
    col.metric(label, f"{v:,}")
t0, t1 = card.get("time_range", [None, None])
st.caption(f"content hash `{card['content_hash']}` · time range {charts.fmt_time(t0)} → {charts.fmt_time(t1)} · "
           f"source `{card.get('source', '?')}`")

left, right = st.columns([1, 1])
with left:
    st.markdown("**Category tree** (items per path; click a sector to zoom)")
    st.plotly_chart(charts.category_tree(card["categories"]["paths"]), key="tree")
with right:
    st.markdown("**Primary categories**")
    prim = pd.DataFrame(sorted(card["categories"]["primary"].items(), key=lambda kv: -kv[1]),
                        columns=["primary category", "items"])
    st.dataframe(prim, hide_index=True)
    cov = card.get("coverage", {})
    if cov:
        st.markdown("**Field coverage** (share of items with the field)")
        st.dataframe(pd.DataFrame({"field": list(cov), "coverage": [f"{v:.1%}" for v in cov.values()]}),
                     hide_index=True)

h1, h2 = st.columns(2)
with h1:
    s = card["sequence_length"]
    st.markdown(f"**Sequence length per user** (median {s.get('median', '?'):g}, p90 {s.get('p90', '?'):g}, "
                f"max {s.get('max', '?'):g})")
    st.plotly_chart(charts.histogram_from_card(s["histogram"], "interactions per user", "users"), key="seqlen")
with h2:
    g = card["gap_days"]
    st.markdown(f"**Time between consecutive events** (same day {g.get('share_same_day', 0):.1%}, "
                f"median {g.get('median', 0):g} d)")
    st.plotly_chart(charts.histogram_from_card(g["histogram"], "gap (days)", "gaps"), key="gaps")

st.subheader("Pipeline stages")
status = _status(str(access.store().root), dataset)
rows = []
for stage in STAGES:
    e = status[stage]
    figures = e.get("figures") or {}
    headline = ", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                         for k, v in list(figures.items())[:5] if not isinstance(v, (dict, list)))
    if e.get("error"):  # a stored artifact lacks its declared shape: the stage's figures cannot be read
        st.warning(f"**{stage}**: {e['error']}")
    # the command to run: the producing one for a stage with nothing yet, the next one for knowledge
    command = e.get("command") if not e["exists"] else e.get("next")
    rows.append({"stage": stage, "produced": "✅" if e["exists"] else "—", "artifacts": len(e["artifacts"]),
                 "command to run": command or "", "headline": headline})
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
