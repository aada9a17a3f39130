"""LLM call log: every cached call (the log is the cache) with prompt, response, latency, tokens and status;
filter failures."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plotly.express as px  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, ui  # noqa: E402

dataset = ui.page("LLM call log", "🧾")
with ui.needs_artifacts():
    log, partial = access.call_log(dataset)
if partial:
    st.caption(f"The log ends in a partial line ({partial} bytes, a write cut short); it is not shown, and the "
               "LLM cache drops it on its next append.")
if log.empty:
    st.info("The call log exists but holds no complete call yet.")
    st.stop()

n_fail = int((log["status"] != "ok").sum())
m = st.columns(5)
m[0].metric("calls", f"{len(log):,}")
m[1].metric("failed / invalid", f"{n_fail:,}")
m[2].metric("median latency", f"{log['latency_s'].median():.1f} s")
m[3].metric("prompt tokens", f"{int(log['prompt_tokens'].fillna(0).sum()):,}")
m[4].metric("completion tokens", f"{int(log['completion_tokens'].fillna(0).sum()):,}")

f1, f2, f3 = st.columns([1, 2, 2])
failures_only = f1.toggle("Failures only", key="failures_only")
agents = sorted(log["agent"].dropna().astype(str).unique())
chosen_agents = f2.multiselect("Agent", agents, default=agents, key="agents")
needle = f3.text_input("Search prompt / response", key="needle")

view = log[log["agent"].astype(str).isin(chosen_agents)]
if failures_only:
    view = view[view["status"] != "ok"]
if needle:
    hit = (view["prompt"].fillna("").str.contains(needle, case=False, regex=False)
           | view["response"].fillna("").str.contains(needle, case=False, regex=False))
    view = view[hit]
st.caption(f"{len(view):,} of {len(log):,} calls shown")

if not view.empty:
    fig = px.histogram(view, x="latency_s", color="status", nbins=40, labels={"latency_s": "latency (s)"})
    fig.update_layout(height=260, margin=dict(t=10, l=10, r=10, b=10))
    st.plotly_chart(fig, key="latency")

table = view[["created", "agent", "status", "backend", "model", "latency_s", "prompt_tokens",
              "completion_tokens", "error"]].reset_index(drop=True)
event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="calls",
                     width="stretch")
rows = event.selection.rows if event and event.selection else []
idx = rows[0] if rows else (0 if len(view) else None)
if idx is not None:
    call = view.iloc[idx]
    st.markdown(f"**Call {call['key'] or ''}** · agent `{call['agent']}` · status **{call['status']}** · "
                f"{call['latency_s'] or 0:.2f} s · params `{call['params']}`")
    if isinstance(call["error"], str) and call["error"]:
        st.warning(call["error"])
    p, r = st.columns(2)
    with p:
        st.markdown("Prompt")
        st.code(str(call["prompt"] or ""), language=None, wrap_lines=True)
    with r:
        st.markdown("Response")
        st.code(str(call["response"] or ""), language="json", wrap_lines=True)
