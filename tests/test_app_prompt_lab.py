"""AppTest of the Prompt lab on the committed Beauty store (read-only: git must see no change under data/).

Backends here are FAKES (reaseq_core/llm/fake.py, plumbing only): one that says it is the embedded model the
shipped call log was made with and fails if asked (so a run it completes was answered entirely from the shipped
log), and the schema-filler fake, whose answers go to the session's throwaway call log. Promotion writes, so it
runs on a temporary copy of the committed data and knowledge stages."""
from __future__ import annotations

import shutil

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.knowledge import promotion
from reaseq_core.knowledge.templates import load_template, template_hash
from reaseq_core.llm.cache import read_call_log
from reaseq_core.llm.fake import FakeBackendForTests, schema_echo_reply
from reaseq_core.store import ArtifactStore
from test_app_pages import DATASET, clean, run_page, texts


class FakeThatMustNotBeAsked(FakeBackendForTests):
    """FAKE: carries the shipped model's name and hash; any live call fails the test."""
    name = "embedded"

    def complete(self, messages, **kw):
        raise AssertionError("a live call: the shipped answer should have come from the call log")


@pytest.fixture()
def committed_env(committed_store, monkeypatch):
    monkeypatch.setenv("REASEQ_HOME", str(committed_store.root))
    monkeypatch.setenv("REASEQ_APP_DATASET", DATASET)
    return committed_store


def shipped_fake(store: ArtifactStore) -> FakeThatMustNotBeAsked:
    model = store.read(DATASET, cat.TAXONOMY)["model"]
    fake = FakeThatMustNotBeAsked([], model=model["model"])
    fake.model_hash = model["model_hash"]
    return fake


def test_prompt_lab_on_the_committed_store(committed_env):
    store = committed_env
    kn = store.read(DATASET, cat.ITEM_KNOWLEDGE)
    # the lab asks in JSON: a shipped single-agent row (JSON, no taxonomy in its prompt) is in the call log as
    # the lab would ask it; the multi-agent rows are in the line format or were asked with an earlier taxonomy
    first = kn[(kn["setup"] == "single_agent") & (kn["status"] == "ok") & (kn["attempts"] == 1)].iloc[0]["item_id"]
    fake = shipped_fake(store)
    at = run_page("Prompt_lab", None, {"backend_for_tests": fake})
    clean(at)
    assert at.selectbox(key="agent").value == "item_knowledge"
    assert at.selectbox(key="base").options[0].startswith("shipped template (")

    # the exact-id picker adds exactly the item typed, and names an id that does not exist
    items = store.read(DATASET, cat.ITEMS)
    far = items["item_id"].iloc[-1]                     # not among the picker's listed options
    at.multiselect(key="items").set_value([first]).run()
    at.text_input(key="exact_id").input(far).run()
    clean(at)
    assert at.multiselect(key="items").value == [first, far]
    at.text_input(key="exact_id").input("B000NOSUCH").run()
    assert "No item with id 'B000NOSUCH'" in texts(at) and at.multiselect(key="items").value == [first, far]

    # the single-agent build template on a shipped item: answered from the shipped call log, marked cached
    at.selectbox(key="agent").set_value("single_agent").run()
    at.multiselect(key="items").set_value([first]).run()
    at.button(key="run").click().run()
    clean(at)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("edited · ok · cached (answer from the call log") for c in captions), captions
    bars = [p.proto.text for p in at.get("progress")]
    assert "done: 1 item runs, 0 live calls (1 answered from the cache)" in bars, bars
    assert len(at.dataframe) >= 2               # the compact summary of each column, above the raw JSON
    at.selectbox(key="agent").set_value("item_knowledge").run()
    assert "Results of the previous template were cleared" in texts(at)

    # an experiment with the schema-filler FAKE (throwaway call log, not saved): A = shipped, B = edited
    filler = FakeBackendForTests(schema_echo_reply)
    at.session_state["backend_for_tests"] = filler
    area = at.text_area[0]
    edited = area.value + "\nBe concise."
    area.input(edited).run()
    assert not any(c.startswith("edited · ok · cached") for c in (x.value for x in at.caption))
    at.number_input(key="exp_n").set_value(3).run()
    assert "Sample: 3 of" in texts(at) and "Generic keyword rule." in texts(at)
    at.button(key="exp_run").click().run()
    clean(at)
    assert len(filler.calls) == 6                                     # 2 versions x 3 items, all live
    assert "FAKE backend: plumbing only" in texts(at)
    summary = next(d.value for d in at.dataframe if "valid share" in d.value.index)
    assert list(summary.index[:2]) == ["items run", "valid share"]
    assert summary.iloc[1].tolist() == ["100.0%", "100.0%"] and summary.iloc[0].tolist() == ["3", "3"]
    assert "generic keyword share" in summary.index and "latency per live item (s)" in summary.index
    log = read_call_log(at.session_state["lab_fake_log"])
    assert len(log) == 6 and {r["template_hash"][:12] for r in log} == {
        template_hash(load_template("item_knowledge"))[:12], template_hash(edited)[:12]}
    assert any("diff of the entries" in c.value for c in at.caption)
    assert any(c.language == "diff" for c in at.code)

    # a run stopped part-way (as a click during a run leaves it) is reported with what finished
    at.session_state["lab_running"] = {"what": "The experiment", "total": 40, "unit": "item runs", "done": 7,
                                       "in_flight": {"what": "B edited on item X", "since": "12:00:00"}}
    at.run()
    warn = " ".join(w.value for w in at.warning)
    assert "The experiment stopped** after 7 of 40 item runs" in warn
    assert "the call in flight (B edited on item X, started 12:00:00) finished" in warn
    assert not store.exists(DATASET, cat.PROMPT_PROMOTIONS)


def test_promote_from_the_prompt_lab(committed_store, tmp_path, monkeypatch):
    """On a temporary copy: promoting the edited template records who/when/old/new, keeps the old one, and names
    the items to regenerate with the command that does it."""
    store = ArtifactStore(tmp_path / "store")
    for stage in ("data", "knowledge"):
        shutil.copytree(committed_store.stage_dir(DATASET, stage), store.stage_dir(DATASET, stage))
    monkeypatch.setenv("REASEQ_HOME", str(store.root))
    monkeypatch.setenv("REASEQ_APP_DATASET", DATASET)
    at = run_page("Prompt_lab", None)
    clean(at)
    area = at.text_area[0]
    edited = area.value + "\nBe concise."
    area.input(edited).run()
    assert at.button(key="promote").disabled                          # a name is required
    at.text_input(key="promote_who").input("analyst a").run()
    at.text_input(key="promote_note").input("shorter answers").run()
    at.button(key="promote").click().run()
    clean(at)
    n_multi = int((store.read(DATASET, cat.ITEM_KNOWLEDGE)["setup"] == "multi_agent").sum())
    ok = " ".join(s.value for s in at.success)
    assert f"{n_multi} item(s) have knowledge from another version" in ok
    assert f"reaseq knowledge build --dataset {DATASET} --rebuild-template item_knowledge" in ok
    assert promotion.build_template(store, DATASET, "item_knowledge") == edited
    rec = promotion.promotions(store, DATASET)["history"][-1]
    assert rec["who"] == "analyst a" and rec["note"] == "shorter answers"
    assert rec["old_sha256"] == template_hash(load_template("item_knowledge"))
    assert at.selectbox(key="base").options[0] == f"build template (promoted {template_hash(edited)[:12]})"
    history = next(d.value for d in at.dataframe if "who" in d.value.columns)
    assert history["who"].tolist() == ["analyst a"] and history["new"].tolist() == [template_hash(edited)[:12]]
