"""Prompt lab: pick an agent's template, edit it, and
- run it beside the saved version on a few chosen items (side by side, with a diff);
- run a prompt experiment: two versions on a sample of N items stratified by subcategory, with aggregate
  figures per version (valid share, attempts, grounding, entries, generic keywords, tokens, latency) and a
  per-item drill-down (reaseq_core/knowledge/experiments.py); the experiment is saved in the store;
- promote a version to the template the build uses for this dataset (the old one is kept, the change
  recorded: reaseq_core/knowledge/promotion.py).
Every call goes through the knowledge stage's call cache: an unchanged prompt costs nothing, and an answer
found there is marked "cached" (its original latency is shown apart, never as if it had just been spent).
Progress is reported per call. Cancel (or any click during a run) stops the run after the call in flight:
that call cannot be interrupted, it finishes and its answer is kept in the call log; nothing else starts."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import difflib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core.errors import ReaSeqError  # noqa: E402

dataset = ui.page("Prompt lab", "🧪")
try:
    from reaseq_core.knowledge import api as kapi
    from reaseq_core.knowledge import experiments as ex
    from reaseq_core.knowledge import promotion
    from reaseq_core.knowledge.templates import template_hash
except ImportError as e:
    st.warning("The prompt lab calls the knowledge stage's API (`reaseq_core/knowledge/api.py`), which is not "
               f"available in this build ({e}). Install the project with `pip install -e '.[all]'` and make sure "
               "the knowledge stage is present.", icon="🧩")
    st.stop()

# A FAKE backend (scripted schema filler, not an LLM) is offered only when the app was started for plumbing
# tests with REASEQ_LAB_FAKE_BACKEND=1; its answers go to a throwaway call log, never the dataset's.
FAKE_ENABLED = os.environ.get("REASEQ_LAB_FAKE_BACKEND") == "1"
FAKE_LABEL = "FAKE test backend (schema filler, not an LLM)"
CANCEL_RULE = ("Cancel stops the run after the call in flight: a call to the model cannot be interrupted, so that "
               "call finishes (up to about a minute on CPU) and its answer is kept in the call log; no further call "
               "starts. Running again continues from the cache. Any other click during a run stops it the same way.")

with ui.needs_artifacts():
    items = access.items(dataset)
store = access.store()
ss = st.session_state


def sha12(text: str) -> str:
    return template_hash(text)[:12]


@st.cache_resource(show_spinner="Loading the LLM backend ...", max_entries=2)
def backend_for(kind: str, base_url: str | None, model: str | None, api_key: str | None):
    if kind == "fake":
        from reaseq_core.llm.fake import FakeBackendForTests, schema_echo_reply
        return FakeBackendForTests(schema_echo_reply, delay_s=0.05)
    return kapi.make_backend(kind, base_url=base_url or None, model=model or None, api_key=api_key or None)


def is_fake(backend) -> bool:
    return getattr(backend, "name", "") == "fake"


def fake_call_log() -> Path:
    """The session's throwaway call log for FAKE answers."""
    if "lab_fake_log" not in ss:
        ss["lab_fake_log"] = str(Path(tempfile.mkdtemp(prefix="reaseq_fake_calls_")) / "calls.jsonl")
    return Path(ss["lab_fake_log"])


# ---- a run that was stopped (Cancel, or any click during a run) ------------------------------------------
cancel_clicked = ss.pop("lab_cancel_clicked", False)
stopped = ss.pop("lab_running", None)
if stopped:
    fl = stopped.get("in_flight") or {}
    what = (f"the call in flight ({fl.get('what')}, started {fl.get('since')}) finished and its answer was kept in "
            "the call log" if fl.get("what") else "no call was in flight")
    st.warning(f"**{stopped['what']} stopped** after {stopped['done']} of {stopped['total']} "
               f"{stopped['unit']}: {what}; nothing after it was started. Run again to continue: finished calls "
               "are answered from the cache.", icon="⏹️")
elif cancel_clicked:
    st.info("Nothing was running.")

# ---- agent, versions, template --------------------------------------------------------------------------
agents_all = kapi.list_agents()
a1, a2 = st.columns([1, 2])
agent = a1.selectbox("Agent", agents_all, key="agent",
                     index=agents_all.index("item_knowledge") if "item_knowledge" in agents_all else 0)
shipped = kapi.load_template(agent)
try:
    build_text = promotion.build_template(store, dataset, agent)
except ReaSeqError as e:
    st.error(str(e))
    st.stop()
promoted = build_text != shipped
versions = {(f"build template (promoted {sha12(build_text)})" if promoted
             else f"shipped template ({sha12(shipped)})"): build_text}
if promoted:
    versions[f"shipped template ({sha12(shipped)})"] = shipped
for h, text in access.prompt_versions(dataset, agent).items():
    if text not in versions.values():
        versions[f"saved version {h}"] = text
base_label = a2.selectbox("Compare against (saved version)", list(versions), key="base",
                          help="the first entry is the template `reaseq knowledge build` uses for this dataset")
base_text = versions[base_label]

edited = st.text_area("Template (edit here)", value=base_text, height=300, key=f"tpl_{agent}_{sha12(base_text)}")
changed = edited != base_text
st.caption(f"edited template hash {sha12(edited)} · " + ("**changed** from the saved version" if changed
                                                          else "identical to the saved version"))

# results belong to the templates they were made with: a change of template clears them
for key in ("lab_results", "lab_experiment"):
    res = ss.get(key)
    if res and (res["agent"] != agent or res["templates"] != (sha12(base_text), sha12(edited))):
        if key == "lab_results" or not res.get("loaded"):
            ss.pop(key)
            st.info("Results of the previous template were cleared: the template (or the version compared "
                    "against) changed since that run.", icon="🧹")

# ---- backend -------------------------------------------------------------------------------------------------
b1, b2, b3, b4 = st.columns([1.3, 2, 1.3, 1])
kinds = ["embedded", "openai"] + (["fake"] if FAKE_ENABLED else [])
kind = b1.radio("Backend", kinds, key="kind",
                format_func=lambda k: {"embedded": "embedded (local GGUF)", "openai": "OpenAI-compatible URL",
                                       "fake": FAKE_LABEL}[k])
base_url = model = api_key = None
if kind == "openai":
    base_url = b2.text_input("Base URL", value="http://127.0.0.1:8000/v1", key="base_url")
    model = b3.text_input("Model", value="", key="model")
    api_key = b4.text_input("API key", value="x", type="password", key="api_key")
elif kind == "fake":
    b2.warning("FAKE backend: scripted, schema-valid filler for plumbing tests. Its answers are not knowledge; "
               "they go to a throwaway call log and experiments made with it are not saved.", icon="🧪")


def get_backend():
    return ss.get("backend_for_tests") or backend_for(kind, base_url, model, api_key)


def cancel_button(where, name: str) -> None:
    where.button("Cancel run", key=f"cancel_{name}", on_click=lambda: ss.__setitem__("lab_cancel_clicked", True))
    where.caption(CANCEL_RULE)


def start_run(what: str, total: int, unit: str) -> dict:
    state = {"what": what, "total": total, "unit": unit, "done": 0, "in_flight": {}}
    ss["lab_running"] = state
    return state


def clock() -> str:
    return time.strftime("%H:%M:%S")


tab_side, tab_exp, tab_promote = st.tabs(["Side by side (chosen items)", "Experiment (sample of N items)",
                                          "Promote a version"])

# ==== side by side ===========================================================================================
with tab_side:
    have_kn = []
    if access.exists(dataset, cat.ITEM_KNOWLEDGE):
        with ui.needs_artifacts():
            have_kn = access.read(dataset, cat.ITEM_KNOWLEDGE)["item_id"].unique().tolist()
    # every item id, its title or "" (some Beauty items have none)
    titles = items.set_index("item_id")["title"].fillna("").astype(str).to_dict()
    options = have_kn + [i for i in items["item_id"].head(500) if i not in set(have_kn)]
    if "items" not in ss:
        ss["items"] = options[:1]
    extra = [i for i in ss.get("items", []) if i not in set(options)]   # exact ids added below
    options = options + extra

    def add_exact():
        iid = (ss.get("exact_id") or "").strip()
        ss["exact_msg"] = None
        if not iid:
            return
        if iid not in titles:
            ss["exact_msg"] = f"No item with id '{iid}' in dataset '{dataset}'."
        elif iid in ss["items"]:
            ss["exact_msg"] = f"'{iid}' is already chosen."
        elif len(ss["items"]) >= 20:
            ss["exact_msg"] = "At most 20 items: remove one first."
        else:
            ss["items"] = ss["items"] + [iid]
        ss["exact_id"] = ""

    e1, e2 = st.columns([1, 3])
    e1.text_input("Add an item by its exact id (Enter)", key="exact_id", on_change=add_exact,
                  placeholder="e.g. B000052YJM", help="adds exactly that item, or says it does not exist")
    if ss.get("exact_msg"):
        e1.warning(ss["exact_msg"])
    chosen = e2.multiselect("Items to run on", options, max_selections=20, key="items",
                            format_func=lambda i: f"{i} · {(titles.get(i) or '')[:60]}")
    fake_ui = kind == "fake" and not ss.get("backend_for_tests")
    run_col, cancel_col, save_col = st.columns([1, 2, 1])
    run = run_col.button("Run on the chosen items", type="primary", key="run", disabled=not chosen or fake_ui,
                         help="the FAKE backend runs experiments only" if fake_ui else None)
    if save_col.button("Save as new version", key="save", disabled=not changed):
        try:
            h = kapi.save_template_version(dataset, agent, edited)
            where = store.path(dataset, cat.PROMPT_VERSION, agent=agent, sha12=h)
            st.success(f"Saved version {h} of `{agent}` ({where}).")
        except ReaSeqError as e:  # e.g. placeholders changed: the agent could not fill the template
            st.error(str(e))
    cancel_button(cancel_col, "side")

    if run:
        backend = get_backend()
        runs = [("edited", edited)] + ([("saved", base_text)] if changed else [])
        total_items = len(chosen) * len(runs)
        state = start_run("The side-by-side run", total_items, "item runs")
        bar = st.progress(0.0, text=f"starting: {total_items} item runs "
                                    f"({len(runs)} template(s) × {len(chosen)} items)")
        line = st.empty()
        counter = {"calls": 0, "last": None}

        class Observed:
            """The backend, reporting each live call: drawn before it starts, noted (not drawn) when it returns,
            so that a stop never falls between the answer and the call log."""

            def __init__(self, inner):
                self._inner = inner

            def __getattr__(self, name):
                return getattr(self._inner, name)

            def complete(self, messages, **kw):
                counter["calls"] += 1
                state["in_flight"] = {"what": f"call {counter['calls']}, {current['label']} template, item "
                                              f"{current['item']}", "since": clock()}
                line.caption(f"⏳ call {counter['calls']} running since {clock()}: {current['label']} template, "
                             f"item {current['item']}"
                             + (f" · previous: {counter['last']}" if counter["last"] else ""))
                t0 = time.perf_counter()
                comp = self._inner.complete(messages, **kw)
                counter["last"] = (f"call {counter['calls']} took {time.perf_counter() - t0:.1f} s, "
                                   f"{comp.prompt_tokens}+{comp.completion_tokens} tokens")
                state["in_flight"] = {}
                return comp

        observed = Observed(backend)
        current = {"label": "", "item": ""}
        outputs = {}
        try:
            for r_i, (label, text) in enumerate(runs):
                live_before = {"n": counter["calls"]}
                live_of = {}
                current.update(label=label, item=chosen[0])

                def progress(i, n, r_i=r_i, label=label, live_before=live_before, live_of=live_of):
                    live_of[chosen[i - 1]] = counter["calls"] - live_before["n"]
                    live_before["n"] = counter["calls"]
                    done = r_i * len(chosen) + i
                    state["done"] = done
                    if i < n:
                        current["item"] = chosen[i]
                    bar.progress(min(1.0, done / total_items),
                                 text=f"{done} of {total_items} item runs · {counter['calls']} live calls so far"
                                      + (f" · last: {counter['last']}" if counter["last"] else ""))

                recs = kapi.run_agent_on_items(dataset, agent, text, chosen, observed, progress=progress)
                for rec in recs:
                    rec["live_calls"] = live_of.get(rec["item_id"], 0)
                outputs[label] = recs
        except ReaSeqError as e:
            ss.pop("lab_running", None)
            st.error(str(e))
            st.stop()
        ss.pop("lab_running", None)
        bar.progress(1.0, text=f"done: {total_items} item runs, {counter['calls']} live calls "
                               f"({total_items - sum(1 for v in outputs.values() for r in v if r['live_calls'])} "
                               "answered from the cache)")
        line.empty()
        out_edit = outputs["edited"]
        out_base = outputs.get("saved", out_edit)
        ss["lab_results"] = {"agent": agent, "templates": (sha12(base_text), sha12(edited)),
                             "edited": sha12(edited), "base": sha12(base_text),
                             "rows": list(zip(out_edit, out_base))}

    res = ss.get("lab_results")
    if res:
        st.subheader(f"Outputs: edited ({res['edited']}) vs saved ({res['base']})")

        def pretty(r: dict) -> str:
            if r.get("output") is not None:
                return json.dumps(r["output"], indent=2, ensure_ascii=False)
            return str(r.get("raw") or "")

        def answered(r: dict) -> str:
            if r["status"] == "skipped":
                return "skipped"
            if not r.get("live_calls"):
                return f"cached (answer from the call log; it originally took {r.get('latency_s') or 0:.1f} s)"
            return f"live · {r.get('latency_s') or 0:.1f} s"

        def compact(r: dict) -> pd.DataFrame:
            out = r.get("output") or {}
            if "user_demand" in out:
                rows = [{"perspective": p.split("_")[-1], "dimension": e.get("dimension"),
                         "keywords": ", ".join(e.get("keywords") or []),
                         "grounded": "✔" if e.get("grounded") else "✗"}
                        for p in ("user_demand", "product_attribute") for e in out.get(p) or []]
                return pd.DataFrame(rows)
            dims = out.get("dimensions") or out.get("final") or []
            if isinstance(out.get("demand"), dict):   # refinement: both perspectives
                return pd.DataFrame([{"perspective": p, "dimensions": ", ".join(out[p].get("final") or [])}
                                     for p in ("demand", "attribute")])
            return pd.DataFrame({"dimension": [d if isinstance(d, str) else d.get("label") for d in dims]})

        for new, old in res["rows"]:
            st.markdown(f"**{new['item_id']}** · {(titles.get(new['item_id']) or '')[:90]}")
            left, right, d = st.columns(3)
            for col, r, name in ((left, new, "edited"), (right, old, "saved")):
                with col:
                    g = (r.get("output") or {}).get("grounding_rate")
                    st.caption(f"{name} · {r['status']} · {answered(r)}"
                               + (f" · grounding {g:.2f}" if isinstance(g, float) else ""))
                    if r.get("error"):
                        st.warning(r["error"])
                    summary = compact(r)
                    if len(summary):
                        st.dataframe(summary, hide_index=True, width="stretch")
                    with st.expander("raw JSON"):
                        st.code(pretty(r), language="json", wrap_lines=True)
            with d:
                diff = "\n".join(difflib.unified_diff(pretty(old).splitlines(), pretty(new).splitlines(),
                                                      "saved", "edited", lineterm=""))
                st.caption("diff (saved → edited)")
                st.code(diff or "(no difference)", language="diff", wrap_lines=True)

# ==== experiment ============================================================================================
with tab_exp:
    if agent not in ex.EXPERIMENT_AGENTS:
        st.info(f"Experiments compare the item-level agents ({', '.join(ex.EXPERIMENT_AGENTS)}): their answers "
                "have keywords, evidence and grounding to count. Choose one of them above.")
    else:
        others = {"the edited template (above)": edited}
        for lbl, text in versions.items():
            if lbl != base_label:
                others[lbl] = text
        x1, x2, x3, x4 = st.columns([2, 1, 1, 1])
        second = x1.selectbox("Version B (tested against the version compared against above, A)", list(others),
                              key="exp_second")
        text_b = others[second]
        n = x2.number_input("Items (N)", 1, 200, ex.DEFAULT_N, key="exp_n",
                            help="stratified by subcategory: each subcategory gets its share, at least one")
        seed = x3.number_input("Sample seed", 0, 10_000, 0, key="exp_seed")
        attempts = x4.number_input("Attempts per item", 1, 5, 3, key="exp_attempts")
        y1, y2 = st.columns([1, 2])
        share = y1.slider("Generic keyword: in more than this share of its subcategory's items", 0.05, 0.9,
                          ex.GENERIC_SHARE, 0.05, key="exp_share")
        reference = y2.radio("counted over", ex.REFERENCES, horizontal=True, key="exp_reference",
                             format_func=lambda r: {"sample": "this version's answers on the sample",
                                                    "stored": "the stored knowledge of the subcategory"}[r])
        st.caption("**Generic keyword rule.** " + ex.generic_rule(share))
        try:
            pool = ex.sample_pool(store, dataset, agent)
        except ReaSeqError as e:
            st.info(str(e))
            pool = pd.DataFrame(columns=["item_id", "sub_category"])
        sample = ex.stratified_sample(pool, int(n), int(seed)) if len(pool) else []
        subs = pool.set_index("item_id").loc[sample, "sub_category"].value_counts()
        st.caption(f"Sample: {len(sample)} of {len(pool):,} items with `{agent}` knowledge, from {len(subs)} "
                   f"subcategories ({', '.join(f'{s} {c}' for s, c in subs.items())}). Versions run one after the "
                   "other: A on every item, then B. Items whose A answer is in the call log are answered from it.")
        same = sha12(text_b) == sha12(base_text)
        if same:
            st.info("Version B is the same text as version A: edit the template above or choose another version.")
        r1, r2 = st.columns([1, 3])
        run_exp = r1.button(f"Run the experiment ({2 * len(sample)} item runs)", type="primary", key="exp_run",
                            disabled=same or not sample)
        cancel_button(r2, "exp")
        if run_exp:
            backend = get_backend()
            label_a = "A " + base_label.split(" (")[0]
            label_b = "B " + ("edited" if second.startswith("the edited") else second.split(" (")[0])
            vs = [ex.Version(label_a, base_text), ex.Version(label_b, text_b)]
            total = 2 * len(sample)
            state = start_run("The experiment", total, "item runs")
            bar = st.progress(0.0, text=f"starting: {total} item runs")
            line = st.empty()
            t_start = time.perf_counter()
            tally = {"live": 0, "cached": 0, "prompt": 0, "completion": 0, "last": ""}

            def on_call(e):
                if e["event"] == "call_start":
                    state["in_flight"] = {"what": f"{e['version']} on item {e['item_id']}", "since": clock()}
                    line.caption(f"⏳ call {e['call']} running since {clock()}: {e['version']} on item "
                                 f"{e['item_id']} ({e['k']} of {e['total']})"
                                 + (f" · previous: {tally['last']}" if tally["last"] else ""))
                elif e["event"] == "call_end":
                    state["in_flight"] = {}
                    tally["live"] += 1
                    tally["prompt"] += e["prompt_tokens"]
                    tally["completion"] += e["completion_tokens"]
                    tally["last"] = (f"call {e['call']} took {e['elapsed_s']:.1f} s, {e['prompt_tokens']}+"
                                     f"{e['completion_tokens']} tokens ({e['status']})")
                    line.caption(f"✔ {tally['last']}")
                else:
                    tally["cached"] += 1

            def on_item(row):
                state["done"] = row["k"]
                bar.progress(row["k"] / row["total"],
                             text=f"{row['k']} of {row['total']} item runs · {time.perf_counter() - t_start:.0f} s "
                                  f"elapsed · {tally['live']} live calls ({tally['prompt']}+{tally['completion']} "
                                  f"tokens) · {tally['cached']} answers from the cache")

            try:
                result = ex.run_experiment(store, dataset, agent, vs, sample, backend,
                                           cache_path=fake_call_log() if is_fake(backend) else None,
                                           max_attempts=int(attempts), generic_share=float(share),
                                           reference=reference, on_call=on_call, on_item=on_item,
                                           sample={"n": int(n), "seed": int(seed), "stratified_by": "sub_category"})
            except ReaSeqError as e:
                ss.pop("lab_running", None)
                st.error(str(e))
                st.stop()
            ss.pop("lab_running", None)
            line.empty()
            bar.progress(1.0, text=f"done: {total} item runs in {time.perf_counter() - t_start:.0f} s · "
                                   f"{tally['live']} live calls · {tally['cached']} answers from the cache")
            saved_as = None
            if not is_fake(backend):
                saved_as = ex.save_experiment(store, dataset, result)
            ss["lab_experiment"] = {"agent": agent, "templates": (sha12(base_text), sha12(edited)),
                                    "result": result, "saved_as": saved_as}

        stored = ex.list_experiments(store, dataset, agent)
        if stored:
            pick = st.selectbox("Or open a stored experiment", ["(none)"] + [d["run_id"] for d in stored],
                                key="exp_open")
            if pick != "(none)" and st.button("Open", key="exp_open_btn"):
                ss["lab_experiment"] = {"agent": agent, "templates": (sha12(base_text), sha12(edited)),
                                        "result": store.read(dataset, cat.PROMPT_EXPERIMENT, agent=agent,
                                                             run_id=pick), "saved_as": pick, "loaded": True}

        exp = ss.get("lab_experiment")
        if exp:
            result = exp["result"]
            cfg = result["config"]
            fake_note = (" · **FAKE backend: plumbing only, not knowledge; not saved**"
                         if cfg["backend"] == "fake" else "")
            st.subheader(f"Experiment: {' vs '.join(v['label'] + ' (' + v['sha12'] + ')' for v in result['versions'])}")
            st.caption(f"{len(result['items'])} items · backend {cfg['backend']} · model {cfg['model']} · "
                       f"{cfg['pairs_done']} of {cfg['pairs_total']} item runs · {cfg['wall_s']} s{fake_note}"
                       + (f" · saved as `{exp['saved_as']}` "
                          f"({store.path(dataset, cat.PROMPT_EXPERIMENT, agent=agent, run_id=exp['saved_as'])})"
                          if exp.get("saved_as") else ""))
            table = ex.summary_table(result, formatted=True)
            st.dataframe(table, width="stretch", key="exp_summary", height=36 * (len(table) + 1) + 4)
            st.caption(f"Generic keywords: {cfg['generic_rule']} · cached items are answered from the call log: "
                       "their original latency is shown apart and is not time spent in this run.")
            rows = pd.DataFrame(result["rows"])
            labels = [v["label"] for v in result["versions"]]
            per_item = []
            for iid in result["items"]:
                line_ = {"item_id": iid, "title": (titles.get(iid) or "")[:60]}
                for lbl in labels:
                    r = rows[(rows["item_id"] == iid) & (rows["version"] == lbl)]
                    if r.empty:
                        line_[f"{lbl[:1]} status"] = "not run"
                        continue
                    r = r.iloc[0]
                    line_["subcategory"] = r["sub_category"]
                    line_[f"{lbl[:1]} status"] = r["status"]
                    line_[f"{lbl[:1]} entries"] = r["entries"]
                    line_[f"{lbl[:1]} grounding"] = r["grounding_rate"]
                    line_[f"{lbl[:1]} answer"] = "cached" if r["cached"] else f"live {r['latency_s']:.1f} s"
                per_item.append(line_)
            st.dataframe(pd.DataFrame(per_item), hide_index=True, width="stretch", key="exp_items")
            drill = st.selectbox("Drill down: item", result["items"], key="exp_item",
                                 format_func=lambda i: f"{i} · {(titles.get(i) or '')[:70]}")
            by = {lbl: next((r for r in result["rows"] if r["item_id"] == drill and r["version"] == lbl), None)
                  for lbl in labels}
            cols = st.columns(len(labels))
            for col, lbl in zip(cols, labels):
                r = by[lbl]
                with col:
                    st.markdown(f"**{lbl}**")
                    if r is None:
                        st.caption("not run (the experiment was stopped before this item)")
                        continue
                    st.dataframe(pd.DataFrame([ex.item_summary(r)]), hide_index=True, width="stretch")
                    if r.get("generic_keywords"):
                        st.caption("generic keywords: " + ", ".join(r["generic_keywords"]))
                    lines = ex.entry_lines(r)
                    if lines:
                        st.dataframe(pd.DataFrame({"entry": list(lines), "keywords | evidence": list(lines.values())}),
                                     hide_index=True, width="stretch")
                    with st.expander("raw JSON"):
                        st.code(json.dumps(r.get("output") or r.get("raw"), indent=2, ensure_ascii=False),
                                language="json", wrap_lines=True)
            if all(by.values()):
                a_lines = [f"{k}: {v}" for k, v in ex.entry_lines(by[labels[0]]).items()]
                b_lines = [f"{k}: {v}" for k, v in ex.entry_lines(by[labels[1]]).items()]
                diff = "\n".join(difflib.unified_diff(a_lines, b_lines, labels[0], labels[1], lineterm=""))
                st.caption(f"diff of the entries ({labels[0]} → {labels[1]})")
                st.code(diff or "(no difference)", language="diff", wrap_lines=True)

# ==== promote ===============================================================================================
with tab_promote:
    log = promotion.promotions(store, dataset)
    st.markdown(f"`reaseq knowledge build` uses for **{agent}** on `{dataset}`: "
                + (f"the promoted version **{sha12(build_text)}**" if promoted
                   else f"the shipped template **{sha12(shipped)}** (`reaseq_core/knowledge/prompts/{agent}.txt`)"))
    hist = [h for h in log["history"] if h["agent"] == agent]
    if hist:
        st.dataframe(pd.DataFrame([{"when": h["when"], "who": h["who"], "old": h["old_sha256"][:12],
                                    "new": h["new_sha256"][:12], "back to shipped": h.get("shipped"),
                                    "note": h.get("note")} for h in reversed(hist)]),
                     hide_index=True, width="stretch", key="promote_history")
    else:
        st.caption("No promotion yet for this agent.")
    candidates = {}
    if changed:
        candidates[f"the edited template above ({sha12(edited)})"] = edited
    for lbl, text in versions.items():
        if text != build_text:
            candidates[lbl] = text
    if not candidates:
        st.info("Nothing to promote: edit the template above or save a version first.")
    else:
        p1, p2, p3 = st.columns([2, 1, 2])
        choice = p1.selectbox("Version to promote", list(candidates), key="promote_choice")
        who = p2.text_input("Your name", key="promote_who")
        note = p3.text_input("Note (why)", key="promote_note")
        if st.button("Promote: the build uses this version from now on", key="promote", disabled=not who.strip()):
            try:
                rec = promotion.promote(store, dataset, agent, candidates[choice], who=who, note=note)
            except ReaSeqError as e:
                st.error(str(e))
            else:
                msg = (f"Promoted {rec['new_sha256'][:12]} (was {rec['old_sha256'][:12]}) by {rec['who']} at "
                       f"{rec['when']}; the old version is kept.")
                if agent in promotion.SETUP_OF_AGENT:
                    stale = promotion.stale_items(store, dataset, agent)
                    msg += (f" {len(stale)} item(s) have knowledge from another version: "
                            f"`reaseq knowledge build --dataset {dataset} --rebuild-template {agent}` "
                            "regenerates them.")
                ss["promote_msg"] = msg
                st.rerun()
        if not who.strip():
            st.caption("Enter your name to promote (it is recorded with the change).")
    if ss.get("promote_msg"):
        st.success(ss.pop("promote_msg"))
