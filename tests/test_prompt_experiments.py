"""Prompt experiments, promotion and `--rebuild-template`, with FakeBackendForTests (a FAKE backend: scripted,
schema-valid JSON, not knowledge; plumbing only). They run on a temporary copy of the committed Beauty
store's data and knowledge stages (the real taxonomy and knowledge rows; data/artifacts is never written)."""
from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest

from reaseq_core import catalogue as cat
from reaseq_core.errors import ReaSeqError
from reaseq_core.knowledge import experiments as ex
from reaseq_core.knowledge import promotion
from reaseq_core.knowledge.pipeline import BuildConfig, build_knowledge
from reaseq_core.knowledge.templates import load_template, template_hash
from reaseq_core.llm.cache import read_call_log
from reaseq_core.llm.fake import FakeBackendForTests, schema_filler
from reaseq_core.store import ArtifactStore

DATASET = "beauty"
GENERIC_MARK = "Describe every item with the words skin and beauty."


@pytest.fixture()
def store(committed_store, tmp_path) -> ArtifactStore:
    """A private copy of the committed store's data and knowledge stages."""
    out = ArtifactStore(tmp_path / "store")
    for stage in ("data", "knowledge"):
        shutil.copytree(committed_store.stage_dir(DATASET, stage), out.stage_dir(DATASET, stage))
    return out


def fake_reply(messages, schema):
    """FAKE answers: schema-valid filler whose keywords are item-specific, plus 'skin' and 'beauty' on every
    item when the prompt carries GENERIC_MARK (so the generic-keyword figure must tell the versions apart)."""
    value = schema_filler(schema)
    prompt = messages[0]["content"]
    tag = hashlib.sha256(prompt.encode()).hexdigest()[:6]
    for persp in ("user_demand", "product_attribute"):
        for n, e in enumerate(value.get(persp, [])):
            e["keywords"] = ([f"{tag}-{persp[:4]}-{n}", f"{tag}-x{n}", f"{tag}-y{n}"]
                             + (["skin", "beauty"] if GENERIC_MARK in prompt else []))
    return json.dumps(value)


def edited_template(agent: str = "item_knowledge") -> str:
    return load_template(agent) + "\n" + GENERIC_MARK + "\n"


def test_stratified_sample_is_proportional_covers_every_subcategory_and_is_reproducible():
    pool = pd.DataFrame({"item_id": [f"i{k:03d}" for k in range(100)],
                         "sub_category": ["A"] * 60 + ["B"] * 30 + ["C"] * 9 + ["D"]})
    ids = ex.stratified_sample(pool, 20, seed=3)
    subs = pool.set_index("item_id").loc[ids, "sub_category"].value_counts().to_dict()
    assert len(ids) == len(set(ids)) == 20
    assert subs == {"A": 11, "B": 6, "C": 2, "D": 1}            # one each, the rest in proportion
    assert ids == ex.stratified_sample(pool, 20, seed=3)          # same seed, same sample
    assert ids != ex.stratified_sample(pool, 20, seed=4)
    small = ex.stratified_sample(pool, 2, seed=0)                 # fewer than the strata: the largest first
    assert pool.set_index("item_id").loc[small, "sub_category"].tolist() == ["A", "B"]
    assert len(ex.stratified_sample(pool, 500)) == 100            # never more than the pool
    with pytest.raises(ReaSeqError, match="at least 1"):
        ex.stratified_sample(pool, 0)


def test_generic_keywords_rule():
    """'more than 30% of the subcategory's items'; a subcategory with fewer than 4 items is not judged."""
    rows = ([{"item_id": f"a{k}", "sub_category": "A", "status": "ok", "keywords": ["skin", f"own{k}"]}
             for k in range(4)]
            + [{"item_id": "a9", "sub_category": "A", "status": "failed", "keywords": []},
               {"item_id": "b0", "sub_category": "B", "status": "ok", "keywords": ["skin", "x"]}])
    g = ex.generic_shares(rows, 0.30)
    assert g["keywords_judged"] == 8 and g["keywords_generic"] == 4 and g["generic_share"] == 0.5
    assert g["keywords_not_judged"] == 2 and g["subcategories_judged"] == ["A"]
    assert g["generic_by_item"]["a0"] == ["skin"] and g["generic_by_item"]["b0"] is None
    assert ex.min_items_for(0.30) == 4 and ex.min_items_for(0.5) == 2
    ref = {"B": [{"skin"}, {"skin"}, {"y"}, {"z"}]}                # a stored reference judges B instead
    assert ex.generic_shares(rows, 0.30, ref)["generic_by_item"]["b0"] == ["skin"]
    with pytest.raises(ReaSeqError, match="between 0 and 1"):
        ex.min_items_for(1.5)


def test_experiment_with_the_fake_backend(store):
    """Two versions on 6 sampled items: aggregate figures per version, call events in order, answers in the
    dataset's call log with each version's template hash; a re-run is answered from the cache and says so."""
    pool = ex.sample_pool(store, DATASET, "item_knowledge")
    cleansers = sorted(pool.loc[pool["sub_category"] == "Cleansers", "item_id"])[:4]   # one judged subcategory
    ids = cleansers + [i for i in ex.stratified_sample(pool, 3, seed=0) if i not in cleansers][:2]
    saved, edited = load_template("item_knowledge"), edited_template()
    versions = [ex.Version("saved", saved), ex.Version("edited", edited)]
    fake = FakeBackendForTests(fake_reply)
    events = []
    res = ex.run_experiment(store, DATASET, "item_knowledge", versions, ids, fake, on_call=events.append)
    assert len(res["rows"]) == 12 and len(fake.calls) == 12
    s_saved, s_edit = res["summary"]["saved"], res["summary"]["edited"]
    for s in (s_saved, s_edit):
        assert s["items"] == 6 and s["valid_share"] == 1.0 and s["attempts_mean"] == 1.0
        assert s["entries_per_item"] >= 2 and s["prompt_tokens_per_item"] > 100 and s["live_items"] == 6
        assert s["cached_items"] == 0
    assert s_edit["prompt_tokens_per_item"] > s_saved["prompt_tokens_per_item"]   # the longer prompt
    # judged only where the sample holds >= 4 items of a subcategory; 'skin'/'beauty' are on every edited item
    assert s_edit["subcategories_judged"] == ["Cleansers"] and s_edit["keywords_not_judged"] > 0
    judged = [r for r in res["rows"] if r["version"] == "edited" and r["generic_keywords"] is not None]
    assert len(judged) >= 4 and all(r["generic_keywords"] == ["beauty", "skin"] for r in judged)
    assert s_edit["generic_keyword_share"] == pytest.approx(2 * len(judged) / s_edit["keywords_judged"])
    assert s_saved["generic_keyword_share"] == 0.0
    starts = [e for e in events if e["event"] == "call_start"]
    ends = [e for e in events if e["event"] == "call_end"]
    assert len(starts) == len(ends) == 12
    assert events[0]["event"] == "call_start" and events[1]["event"] == "call_end"
    assert events[0]["version"] == "saved" and events[-1]["version"] == "edited" and events[-1]["k"] == 12
    assert all(e["prompt_tokens"] > 0 for e in ends)
    log = read_call_log(store.path(DATASET, cat.LLM_CALLS))
    new = [r for r in log if r["backend"] == "fake"]
    assert {r["template_hash"] for r in new} == {template_hash(saved), template_hash(edited)}
    # the same experiment again: every answer is in the call log, marked cached, no live latency
    fake2 = FakeBackendForTests(fake_reply)
    again = ex.run_experiment(store, DATASET, "item_knowledge", versions, ids, fake2)
    assert len(fake2.calls) == 0
    assert all(r["cached"] and r["live_calls"] == 0 and r["latency_s"] == 0 for r in again["rows"])
    assert again["summary"]["edited"]["cached_items"] == 6
    assert again["summary"]["edited"]["latency_s_per_live_item"] is None
    assert [r["keywords"] for r in again["rows"]] == [r["keywords"] for r in res["rows"]]
    # saved through the catalogue
    rid = ex.save_experiment(store, DATASET, res)
    back = store.read(DATASET, cat.PROMPT_EXPERIMENT, agent="item_knowledge", run_id=rid)
    assert back["summary"]["edited"]["valid_share"] == 1.0 and back["config"]["backend"] == "fake"
    assert ex.list_experiments(store, DATASET, "item_knowledge")[0]["run_id"] == rid
    table = ex.summary_table(res)
    assert list(table.columns) == [f"saved ({versions[0].sha12})", f"edited ({versions[1].sha12})"]
    assert table.loc["valid share"].tolist() == [1.0, 1.0]


def test_experiment_stop_and_bad_input(store):
    ids = ex.stratified_sample(ex.sample_pool(store, DATASET, "single_agent"), 4, seed=1)
    versions = [ex.Version("saved", load_template("single_agent")),
                ex.Version("edited", edited_template("single_agent"))]
    done = []
    res = ex.run_experiment(store, DATASET, "single_agent", versions, ids, FakeBackendForTests(fake_reply),
                            on_item=done.append, should_stop=lambda: len(done) >= 5)
    assert len(res["rows"]) == 5 and res["config"]["stopped"] and res["summary"]["edited"]["items"] == 1
    with pytest.raises(ReaSeqError, match="identical"):
        ex.run_experiment(store, DATASET, "single_agent", [versions[0], ex.Version("b", versions[0].text)], ids,
                          FakeBackendForTests(fake_reply))
    with pytest.raises(ReaSeqError, match="unknown item id"):
        ex.run_experiment(store, DATASET, "single_agent", versions, ["NOPE"], FakeBackendForTests(fake_reply))
    with pytest.raises(ReaSeqError, match="item-level agents"):
        ex.sample_pool(store, DATASET, "demand_taxonomy")


def test_promotion_keeps_the_old_version_and_records_the_change(store):
    shipped, edited = load_template("item_knowledge"), edited_template()
    assert promotion.build_template(store, DATASET, "item_knowledge") == shipped
    rec = promotion.promote(store, DATASET, "item_knowledge", edited, who="analyst a", note="more generic")
    assert rec["who"] == "analyst a" and rec["old_sha256"] == template_hash(shipped)
    assert rec["new_sha256"] == template_hash(edited) and rec["when"]
    assert promotion.build_template(store, DATASET, "item_knowledge") == edited
    kept = promotion.versions(store, DATASET, "item_knowledge")
    assert kept[template_hash(shipped)[:12]] == shipped and kept[template_hash(edited)[:12]] == edited
    with pytest.raises(ReaSeqError, match="already the template"):
        promotion.promote(store, DATASET, "item_knowledge", edited)
    with pytest.raises(ReaSeqError, match="placeholders"):
        promotion.promote(store, DATASET, "item_knowledge", "no placeholders")
    back = promotion.promote(store, DATASET, "item_knowledge", shipped, who="analyst b")
    log = promotion.promotions(store, DATASET)
    assert back["shipped"] and "item_knowledge" not in log["active"] and len(log["history"]) == 2
    assert promotion.build_template(store, DATASET, "item_knowledge") == shipped
    # an edited version file is refused by name rather than silently used
    promotion.promote(store, DATASET, "item_knowledge", edited)
    p = store.path(DATASET, cat.PROMPT_VERSION, agent="item_knowledge", sha12=template_hash(edited)[:12])
    p.write_text(edited + "tampered", encoding="utf-8")
    with pytest.raises(ReaSeqError, match="was edited"):
        promotion.build_template(store, DATASET, "item_knowledge")


def test_a_promoted_version_drives_the_next_build_and_rebuild_template(store):
    """After a promotion every stored multi-agent row is stale; `rebuild_template` regenerates exactly stale
    items (here 3 of Fragrance, --limit 3) with the new template: their rows and the new call-log lines carry
    the new hash; the items already rebuilt are not selected again."""
    from reaseq_core.data import load_dataset
    edited = edited_template()
    new_sha = template_hash(edited)
    before = promotion.stale_items(store, DATASET, "item_knowledge")
    shipped = store.read(DATASET, cat.ITEM_KNOWLEDGE)
    shipped = shipped[shipped["setup"] == "multi_agent"]
    json_sha = template_hash(promotion.build_template(store, DATASET, "item_knowledge"))
    # the JSON rows came from the JSON template a default build uses; the line-format rows from another one
    assert set(before["item_id"]) == set(shipped.loc[shipped["template_hash"] != json_sha, "item_id"])
    assert len(before) >= 2000                   # the line-format rows of every category
    promotion.promote(store, DATASET, "item_knowledge", edited, who="t")
    stale = promotion.stale_items(store, DATASET, "item_knowledge")
    n_multi = int((store.read(DATASET, cat.ITEM_KNOWLEDGE)["setup"] == "multi_agent").sum())
    assert len(stale) == n_multi
    log_before = len(read_call_log(store.path(DATASET, cat.LLM_CALLS)))
    ds = load_dataset(DATASET, store)
    fake = FakeBackendForTests(fake_reply)
    out = build_knowledge(ds, store, fake, BuildConfig(categories=["Fragrance"], limit=3,
                                                       rebuild_template="item_knowledge"), progress=False)
    assert out["items_processed"] == 3 and len(fake.calls) == 3   # taxonomies reused: only Layer 3 asked
    rows = store.read(DATASET, cat.ITEM_KNOWLEDGE)
    fresh = rows[rows["template_hash"] == new_sha]
    assert len(fresh) == 3 and set(fresh["item_id"]) <= set(stale["item_id"]) and (fresh["status"] == "ok").all()
    assert len(rows) == len(store.read(DATASET, cat.ITEM_KNOWLEDGE))
    new_calls = read_call_log(store.path(DATASET, cat.LLM_CALLS))[log_before:]
    assert len(new_calls) == 3 and {r["template_hash"] for r in new_calls} == {new_sha}
    assert all(GENERIC_MARK in r["prompt"] for r in new_calls)
    assert store.provenance(DATASET, cat.ITEM_KNOWLEDGE)["templates"]["item_knowledge"] == new_sha
    assert len(promotion.stale_items(store, DATASET, "item_knowledge")) == n_multi - 3
    fake2 = FakeBackendForTests(fake_reply)
    build_knowledge(ds, store, fake2, BuildConfig(categories=["Fragrance"], limit=3, rebuild_template="item_knowledge"),
                    progress=False)
    assert len(fake2.calls) == 3 and len(promotion.stale_items(store, DATASET, "item_knowledge")) == n_multi - 6
    with pytest.raises(ReaSeqError, match="rebuild-taxonomy"):
        build_knowledge(ds, store, fake2, BuildConfig(categories=["Fragrance"], rebuild_template="demand_taxonomy"),
                        progress=False)


def test_cli_parses_the_new_commands():
    from reaseq_core.cli import build_parser
    p = build_parser()
    a = p.parse_args(["knowledge", "build", "--dataset", "beauty", "--rebuild-template", "item_knowledge"])
    assert a.rebuild_template == "item_knowledge"
    with pytest.raises(SystemExit):
        p.parse_args(["knowledge", "build", "--dataset", "beauty", "--rebuild-template", "demand_taxonomy"])
    a = p.parse_args(["knowledge", "experiment", "--dataset", "beauty", "--agent", "item_knowledge",
                      "--version", "abc"])
    assert a.n == ex.DEFAULT_N and a.generic_share == ex.GENERIC_SHARE and a.against == "build"
    a = p.parse_args(["knowledge", "promote", "--dataset", "beauty", "--agent", "single_agent", "--version", "abc"])
    assert a.version == "abc"


def test_an_interrupted_experiment_keeps_what_finished(store):
    """Ctrl-C (or SIGTERM, which the CLI turns into it) during an item: the items before it are returned and
    the result says where it was interrupted."""
    ids = ex.stratified_sample(ex.sample_pool(store, DATASET, "single_agent"), 3, seed=0)
    versions = [ex.Version("saved", load_template("single_agent")),
                ex.Version("edited", edited_template("single_agent"))]

    class Interrupting(FakeBackendForTests):
        def complete(self, messages, **kw):
            if len(self.calls) == 4:
                raise KeyboardInterrupt
            return super().complete(messages, **kw)

    res = ex.run_experiment(store, DATASET, "single_agent", versions, ids, Interrupting(fake_reply))
    assert len(res["rows"]) == 4 and res["config"]["stopped"] and res["config"]["pairs_done"] == 4
    assert res["config"]["interrupted"].startswith(f"interrupted during edited on item {ids[1]}")
    assert res["summary"]["saved"]["items"] == 3 and res["summary"]["edited"]["items"] == 1


def test_cli_promote_rebuild_and_calls(store, tmp_path, capsys):
    """`reaseq knowledge promote` from a template file, then `build --rebuild-template` names the stale items
    (no backend is made when there is nothing to rebuild), and `calls` prints each line's template hash."""
    from reaseq_core.cli import main
    home = str(store.root)
    # the private copy keeps 5 multi-agent rows, marked as rows of the JSON template a default build uses (the
    # shipped rows came from the line template, so a default --rebuild-template would regenerate them with a
    # live model); the other multi-agent rows are dropped
    rows = store.read(DATASET, cat.ITEM_KNOWLEDGE)
    json_sha = template_hash(promotion.build_template(store, DATASET, "item_knowledge"))
    multi = rows.index[rows["setup"] == "multi_agent"]
    assert len(multi) > 5
    rows.loc[multi[:5], "template_hash"] = json_sha
    keep = (rows["setup"] != "multi_agent") | rows.index.isin(multi[:5])
    store.write(DATASET, cat.ITEM_KNOWLEDGE, rows[keep].reset_index(drop=True),
                store.provenance(DATASET, cat.ITEM_KNOWLEDGE))
    # a backend that cannot answer: were anything asked, the build would stop at once with exit 2
    no_server = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--retry-budget-s", "1"]
    assert main(["--home", home, "knowledge", "build", "--dataset", DATASET,
                 "--rebuild-template", "item_knowledge", *no_server]) == 0
    assert "0 item(s) whose knowledge came from another template version" in capsys.readouterr().out
    # with the line format, the JSON rows are the other template version
    assert main(["--home", home, "knowledge", "build", "--dataset", DATASET, "--rebuild-template", "item_knowledge",
                 "--layer3-output", "lines", *no_server]) == 2
    assert f"{int(keep[rows['setup'] == 'multi_agent'].sum())} item(s) whose knowledge came from another" \
        in capsys.readouterr().out
    f = tmp_path / "specific.txt"
    f.write_text(edited_template(), encoding="utf-8")
    assert main(["--home", home, "knowledge", "promote", "--dataset", DATASET, "--agent", "item_knowledge",
                 "--version", str(f), "--who", "cli user"]) == 0
    out = capsys.readouterr().out
    n_multi = int((store.read(DATASET, cat.ITEM_KNOWLEDGE)["setup"] == "multi_agent").sum())
    assert '"who": "cli user"' in out and f"{n_multi} item(s) have knowledge from another version" in out
    assert "--rebuild-template item_knowledge" in out
    assert promotion.build_template(store, DATASET, "item_knowledge") == edited_template()
    assert main(["--home", home, "knowledge", "promote", "--dataset", DATASET, "--agent", "item_knowledge",
                 "--version", "0123456789ab"]) == 2
    assert "no saved version 0123456789ab" in capsys.readouterr().err
    from reaseq_core.data import load_dataset
    build_knowledge(load_dataset(DATASET, store), store, FakeBackendForTests(fake_reply),
                    BuildConfig(categories=["Bath & Body"], limit=1, rebuild_template="item_knowledge"),
                    progress=False)        # Bath & Body: the category whose JSON rows the private copy kept
    assert main(["--home", home, "knowledge", "calls", "--dataset", DATASET, "--tail", "1"]) == 0
    assert f"item_knowledge template={template_hash(edited_template())[:12]} " in capsys.readouterr().out
