"""Results: the Tables 1-6 analogues with their protocol, seeds and deviations from the paper; bar charts
with ± std error bars; export as CSV and Markdown for slides."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, charts, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402

dataset = ui.page("Results", "📊")

tables = access.result_tables(dataset)
if not tables:
    st.info("No result table stored for this dataset yet. They are produced by "
            + ", ".join(f"`{cmd}`" for cmd in dict.fromkeys(a.producing_command(dataset) for a in cat.RESULT_TABLES))
            + ".", icon="⏳")
    st.stop()

labels = {}
for art in sorted(tables, key=lambda a: a.key):
    with ui.needs_artifacts():
        title = access.table(dataset, art).title
    labels[f"{title}  [{art.stage}/{art.key}]"] = art
choice = st.selectbox("Table", list(labels), key="table")
art = labels[choice]
with ui.needs_artifacts():
    table = access.table(dataset, art)
df = table.to_frame()

st.subheader(table.title)
meta, seeds = st.columns([3, 1])
with meta:
    st.markdown(f"**Dataset** {table.dataset} (hash `{table.dataset_hash}`) · **split** {table.split}")
    st.markdown(f"**Protocol.** {table.protocol}")
with seeds:
    st.metric("seeds", len(table.seeds))
    st.caption(", ".join(map(str, table.seeds)) or "none stated")

value_cols = [c for c in df.columns if not c.endswith("_std")]
display = df[value_cols].copy()
for c in value_cols:  # show mean ± std where the table has the std column
    if f"{c}_std" in df.columns and pd.api.types.is_numeric_dtype(df[c]):
        display[c] = [f"{m:.4f} ± {s:.4f}" if pd.notna(s) else f"{m:.4f}" for m, s in zip(df[c], df[f"{c}_std"])]
st.dataframe(display, hide_index=True, width="stretch")

numeric = [c for c in value_cols if pd.api.types.is_numeric_dtype(df[c])]
text_cols = [c for c in value_cols if c not in numeric and df[c].notna().any()]
if numeric:
    a, b = st.columns([1, 1])
    with_std = [c for c in numeric if f"{c}_std" in df.columns]  # seed-averaged metrics first
    metric = a.selectbox("Metric to chart", with_std + [c for c in numeric if c not in with_std], key="metric")
    combined = " · ".join(text_cols) if len(text_cols) > 1 else None
    label_col = b.selectbox("Bars labelled by", ([combined] if combined else []) + (text_cols or value_cols),
                            key="label_col")
    chart_df = df.assign(**{combined: df[text_cols].astype(str).agg(" · ".join, axis=1)}) if combined else df
    st.plotly_chart(charts.bar_with_error(chart_df, label_col, metric, f"{metric} (error bars: {metric}_std)"
                                          if f"{metric}_std" in df.columns else metric), key="bars")

with st.expander("Deviations from the paper", expanded=True):
    if table.deviations:
        st.markdown("\n".join(f"- {d}" for d in table.deviations))
    else:
        st.write("none stated")
if table.notes:
    st.markdown(f"**Notes.** {table.notes}")
if table.paper_reference:
    with st.expander("The paper's own figures (for side-by-side reading)"):
        ref = table.paper_reference
        if isinstance(ref, dict) and ref.get("rows") and isinstance(ref["rows"], list):
            st.dataframe(pd.DataFrame(ref["rows"]), hide_index=True)
            rest = {k: v for k, v in ref.items() if k != "rows"}
            if rest:
                st.json(rest)
        else:
            st.json(ref)

d1, d2 = st.columns(2)
d1.download_button("Download CSV", df.to_csv(index=False).encode("utf-8"), file_name=f"{dataset}_{art.key}.csv",
                   mime="text/csv", key="csv")
d2.download_button("Download Markdown (for slides)", table.to_markdown().encode("utf-8"),
                   file_name=f"{dataset}_{art.key}.md", mime="text/markdown", key="md")
ui.provenance_caption(access.provenance(dataset, art))
