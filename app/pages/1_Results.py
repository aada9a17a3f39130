"""Results: the Tables 1-6 analogues with their protocol, seeds and deviations from the paper; charts with ± std
error bars; export as CSV, as Markdown for slides, and as one self-contained HTML report of every table."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, charts, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core import report  # noqa: E402
from reaseq_core.store import ArtifactStore  # noqa: E402

dataset = ui.page("Results", "📊")

tables = access.result_tables(dataset)   # the full run's tables only: a smoke run (run="small") is never listed
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
if table.not_a_result:
    st.warning("**Not a result**: this table comes from a smoke configuration (see its deviations).")
meta, seeds = st.columns([3, 1])
with meta:
    st.markdown(f"**Dataset** {table.dataset} (hash `{table.dataset_hash}`) · **split** {table.split}")
    st.markdown(f"**Protocol.** {table.protocol}")
with seeds:
    st.metric("seeds", len(table.seeds))
    st.caption(table.seeds_text)

# mean ± std as text with 4 decimals, in columns wide enough for it (a narrow column cut '0.7393 ± 0.0021' short)
display = table.display_frame()
column_config = {}
long_text = [c for c in display.columns if f"{c}_std" not in df.columns and not pd.api.types.is_numeric_dtype(display[c])
             and display[c].astype(str).str.len().max() > 24]
for c in display.columns:
    if f"{c}_std" in df.columns and c in df.columns and pd.api.types.is_numeric_dtype(df[c]):
        column_config[c] = st.column_config.TextColumn(c, width=max(150, 9 * len(c)))
    elif pd.api.types.is_float_dtype(display[c]):
        column_config[c] = st.column_config.NumberColumn(c, format="%.4f")
    elif c in long_text:   # long labels (pools, arms) are read in full (up to ~55 characters); values scroll
        column_config[c] = st.column_config.TextColumn(c, width=min(420, 16 + 7 * int(display[c].astype(str)
                                                                                      .str.len().max())))
st.dataframe(display, hide_index=True, width="stretch", column_config=column_config)

metrics = report.metric_columns(df)   # result metrics first: a chart never defaults to a count like 'n'
if metrics:
    a, b = st.columns([1, 1])
    metric = a.selectbox("Metric to chart", metrics, key="metric")
    chart_df, combined = report.label_frame(df)
    text_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]) and df[c].notna().any()]
    label_col = b.selectbox("Rows labelled by", list(dict.fromkeys([combined] + text_cols)), key="label_col")
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


@st.cache_data(show_spinner="Building the HTML report…", max_entries=4)
def _report_html(root: str, dataset: str, keys: tuple, stamp: tuple) -> bytes:
    """The report `reaseq report` writes (reaseq_core/report.py), rebuilt when any artifact changes (stamp)."""
    return report.build_report(ArtifactStore(root), dataset, list(keys)).encode("utf-8")


st.divider()
st.markdown("**Report for stakeholders.** One self-contained HTML file (opens offline, in any browser): every "
            "chosen table with its chart, protocol, seeds, deviations, notes, the paper's figures, learning "
            "curves and provenance. The same file as `reaseq report --dataset "
            f"{dataset} --out report.html`.")
keys = [a.key for a in labels.values()]   # catalogue keys, as `reaseq report --tables` takes them
chosen = st.multiselect("Tables in the report (catalogue keys)", keys, default=keys, key="report_tables")
if chosen:
    s = access.store()
    stamp = tuple((i.stage, i.name, i.path.stat().st_mtime_ns) for i in s.list(dataset))
    with ui.needs_artifacts():   # last on the page: an artifact the report cannot read stops only the report
        # in catalogue order, as `reaseq report` lists them, so the page offers the same file as the CLI
        data = _report_html(str(s.root), dataset, tuple(a.key for a in cat.RESULT_TABLES if a.key in chosen), stamp)
    st.download_button("Download report (HTML)", data, file_name=f"{dataset}_results_report.html",
                       mime="text/html", key="report", on_click="ignore", type="primary")
else:
    st.caption("Choose at least one table for the report.")
