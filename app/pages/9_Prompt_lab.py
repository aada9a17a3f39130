"""Prompt lab: pick an agent's template, edit it, run it on chosen items with a chosen backend (embedded or an
OpenAI-compatible URL), see the output beside the saved version's output with a diff, and save a new
version (its hash is recorded). Runs show progress and can be cancelled; every call goes through the
knowledge stage's cache, so re-running an unchanged prompt costs nothing."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import difflib  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402

import streamlit as st  # noqa: E402

from lib import access, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core.errors import ReaSeqError  # noqa: E402

dataset = ui.page("Prompt lab", "🧪")
try:
    from reaseq_core.knowledge import api as kapi
except ImportError as e:
    st.warning("The prompt lab calls the knowledge stage's API (`reaseq_core/knowledge/api.py`), which is not "
               f"available in this build ({e}). Install the project with `pip install -e '.[all]'` and make sure "
               "the knowledge stage is present.", icon="🧩")
    st.stop()

with ui.needs_artifacts():
    items = access.items(dataset)


def sha12(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@st.cache_resource(show_spinner="Loading the LLM backend ...", max_entries=2)
def backend_for(kind: str, base_url: str | None, model: str | None, api_key: str | None):
    return kapi.make_backend(kind, base_url=base_url or None, model=model or None, api_key=api_key or None)


agents = kapi.list_agents()
a1, a2 = st.columns([1, 2])
agent = a1.selectbox("Agent", agents, key="agent",
                     index=agents.index("item_knowledge") if "item_knowledge" in agents else 0)
current = kapi.load_template(agent)
versions = {f"shipped template ({sha12(current)})": current}
for h, text in access.prompt_versions(dataset, agent).items():
    versions[f"saved version {h}"] = text
base_label = a2.selectbox("Compare against (saved version)", list(versions), key="base")
base_text = versions[base_label]

edited = st.text_area("Template (edit here)", value=base_text, height=300, key=f"tpl_{agent}_{sha12(base_text)}")
changed = edited != base_text
st.caption(f"edited template hash {sha12(edited)} · " + ("**changed** from the saved version" if changed
                                                          else "identical to the saved version"))

have_kn = []
if access.exists(dataset, cat.ITEM_KNOWLEDGE):
    with ui.needs_artifacts():
        have_kn = access.read(dataset, cat.ITEM_KNOWLEDGE)["item_id"].unique().tolist()
titles = items.set_index("item_id")["title"].to_dict()
options = have_kn + [i for i in items["item_id"].head(500) if i not in set(have_kn)]
chosen = st.multiselect("Items to run on", options, default=options[:1], max_selections=20, key="items",
                        format_func=lambda i: f"{i} · {(titles.get(i) or '')[:60]}")

b1, b2, b3, b4 = st.columns([1, 2, 1.3, 1])
kind = b1.radio("Backend", ["embedded", "openai"], key="kind",
                format_func=lambda k: "embedded (local GGUF)" if k == "embedded" else "OpenAI-compatible URL")
base_url = model = api_key = None
if kind == "openai":
    base_url = b2.text_input("Base URL", value="http://127.0.0.1:8000/v1", key="base_url")
    model = b3.text_input("Model", value="", key="model")
    api_key = b4.text_input("API key", value="x", type="password", key="api_key")

run_col, cancel_col, save_col = st.columns([1, 1, 2])
run = run_col.button("Run on the chosen items", type="primary", key="run", disabled=not chosen)
cancel = cancel_col.button("Cancel run", key="cancel")
if save_col.button("Save as new version", key="save", disabled=not changed):
    try:
        h = kapi.save_template_version(dataset, agent, edited)
        where = access.store().path(dataset, cat.PROMPT_VERSION, agent=agent, sha12=h)
        st.success(f"Saved version {h} of `{agent}` ({where}).")
    except ReaSeqError as e:  # e.g. placeholders changed: the agent could not fill the template
        st.error(str(e))
if cancel:
    st.session_state["lab_cancelled"] = True
    st.info("Run cancelled; calls finished before the cancel are kept in the cache.")

if run:
    st.session_state["lab_cancelled"] = False
    backend = st.session_state.get("backend_for_tests") or backend_for(kind, base_url, model, api_key)
    bar = st.progress(0.0, text="starting ...")
    total = len(chosen) * (2 if changed else 1)
    done = {"n": 0}

    def progress(i, n):
        bar.progress(min(1.0, (done["n"] + i) / total), text=f"{done['n'] + i} of {total} calls")

    def should_stop() -> bool:
        return bool(st.session_state.get("lab_cancelled"))

    try:
        out_edit = kapi.run_agent_on_items(dataset, agent, edited, chosen, backend, progress=progress,
                                           should_stop=should_stop)
        done["n"] = len(chosen)
        out_base = out_edit if not changed else kapi.run_agent_on_items(
            dataset, agent, base_text, chosen, backend, progress=progress, should_stop=should_stop)
    except ReaSeqError as e:
        st.error(str(e))
        st.stop()
    bar.progress(1.0, text=f"{total} of {total} calls")
    st.session_state["lab_results"] = {"agent": agent, "edited": sha12(edited), "base": sha12(base_text),
                                       "rows": list(zip(out_edit, out_base))}

res = st.session_state.get("lab_results")
if res and res["agent"] == agent:
    st.subheader(f"Outputs: edited ({res['edited']}) vs saved ({res['base']})")

    def pretty(r: dict) -> str:
        if r.get("output") is not None:
            return json.dumps(r["output"], indent=2, ensure_ascii=False)
        return str(r.get("raw") or "")

    for new, old in res["rows"]:
        st.markdown(f"**{new['item_id']}** · {(titles.get(new['item_id']) or '')[:90]}")
        l, r, d = st.columns(3)
        with l:
            st.caption(f"edited · {new['status']} · {new.get('latency_s') or 0:.1f} s")
            if new.get("error"):
                st.warning(new["error"])
            st.code(pretty(new), language="json", wrap_lines=True)
        with r:
            st.caption(f"saved · {old['status']} · {old.get('latency_s') or 0:.1f} s")
            if old.get("error"):
                st.warning(old["error"])
            st.code(pretty(old), language="json", wrap_lines=True)
        with d:
            diff = "\n".join(difflib.unified_diff(pretty(old).splitlines(), pretty(new).splitlines(),
                                                  "saved", "edited", lineterm=""))
            st.caption("diff (saved → edited)")
            st.code(diff or "(no difference)", language="diff", wrap_lines=True)
