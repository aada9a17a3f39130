"""Grounding from the command line and in the build's summary: `reaseq knowledge grounding` is a registered
subcommand (read-only run on the committed store), `reaseq knowledge show` prints today's classes for a row
stored before them, and a build rewrites the knowledge summary with every stored entry re-classified (rows
kept from earlier runs included), and a stop with items queued but not started ends cleanly. The builds use
FakeBackendForTests (plumbing only: filler answers)."""
import json

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.cli import main
from reaseq_core.knowledge import grounding as gr
from reaseq_core.knowledge.pipeline import BuildConfig, build_knowledge
from reaseq_core.llm.fake import FakeBackendForTests, schema_echo_reply
from reaseq_core.store import ArtifactStore

from conftest import COMMITTED_ROOT


def test_grounding_subcommand_prints_the_classes(committed_store, capsys):
    assert main(["--home", str(COMMITTED_ROOT), "knowledge", "grounding", "--dataset", "beauty", "--no-write"]) == 0
    out = capsys.readouterr().out
    shipped = committed_store.read("beauty", cat.GROUNDING_CLASSES)
    first = next(r for r in shipped["rows"] if r["setup"] == "multi_agent" and r["category"] == "all")
    line = next(ln for ln in out.splitlines() if ln.split()[:2] == ["multi_agent", "all"])
    # the printed shares are the shipped table's (the table is today's classification of the stored rows)
    assert f"{first['supported_share']:.4f}" in line and f"{first['contradicted_share']:.4f}" in line
    assert "stop mid-sentence" in out


def test_catalogue_command_of_grounding_classes_is_the_subcommand():
    assert cat.GROUNDING_CLASSES.command == "reaseq knowledge grounding --dataset {dataset}"


def test_show_reclassifies_a_row_stored_before_the_classes(committed_store, capsys):
    df = committed_store.read("beauty", cat.ITEM_KNOWLEDGE)
    # a single-agent row stored before the grounding classes: "Arouse-Rx ... Pheromone", category Women's
    row = df[(df["item_id"] == "B001P4FJ0G") & (df["setup"] == "single_agent")].iloc[0]
    stored = json.loads(row["user_demand"])
    promo = next(e for e in stored if e["dimension"] == "Promotion")
    assert promo["grounded"] is True and "grounding" not in promo      # the older check's flag
    assert main(["--home", str(COMMITTED_ROOT), "knowledge", "show", "--dataset", "beauty",
                 "--item", "B001P4FJ0G"]) == 0
    out = capsys.readouterr().out
    single = out[out.index("== B001P4FJ0G [single_agent]"):]
    line = next(ln for ln in single.splitlines() if "user Promotion" in ln)
    assert "[BEYOND:" in line                    # today: neither the price nor the sales rank says promotion
    men = next(ln for ln in single.splitlines() if "user Attracting men" in ln)
    assert "[CONTRADICTED: gender: says for men, the category says women" in men
    head = single.splitlines()[0]
    assert "supported=2 beyond=5 contradicted=1" in head and "supported share=0.25" in head
    assert "failed: nan" not in out


def test_build_summary_reclassifies_rows_kept_from_earlier_runs(beauty, tmp_path):
    store = ArtifactStore(tmp_path)
    ids = beauty.items[beauty.items["primary_category"] == "Fragrance"]["item_id"].head(2).tolist()
    build_knowledge(beauty, store, FakeBackendForTests(schema_echo_reply),
                    BuildConfig(categories=["Fragrance"], item_ids=ids[:1]), progress=False)
    df = store.read("beauty", cat.ITEM_KNOWLEDGE)
    # make the stored row look like one written before the classes: no class, the older `grounded` flag
    for p in ("user_demand", "product_attribute"):
        old = [{k: v for k, v in e.items() if k != "grounding"} | {"grounded": True}
               for e in json.loads(df.loc[0, p])]
        df.loc[0, p] = json.dumps(old)
    store.write("beauty", cat.ITEM_KNOWLEDGE, df, store.provenance("beauty", cat.ITEM_KNOWLEDGE))
    build_knowledge(beauty, store, FakeBackendForTests(schema_echo_reply),
                    BuildConfig(categories=["Fragrance"], item_ids=ids[1:]), progress=False)
    rows = store.read("beauty", cat.ITEM_KNOWLEDGE)
    assert sorted(rows["item_id"]) == sorted(ids)
    s = store.read("beauty", cat.KNOWLEDGE_SUMMARY)["setups"]["multi_agent"]
    classes = gr.classify_rows(rows, beauty.items)["grounding"].tolist()
    assert s["unclassified_entries"] == 0 and s["entries"] == len(classes) > 0
    assert s["grounded_entries"] == classes.count(gr.SUPPORTED)
    assert s["beyond_entries"] == classes.count(gr.BEYOND)
    assert s["contradicted_entries"] == classes.count(gr.CONTRADICTED)


@pytest.mark.parametrize("argv", [["knowledge", "grounding", "--help"], ["knowledge", "show", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0 and "--dataset" in capsys.readouterr().out


def test_stop_with_items_queued_but_not_started(beauty, tmp_path, monkeypatch):
    """A stop cancels the submitted items no worker has taken yet: the run ends after the running ones, without
    an error from the cancelled ones (the pool is narrowed to one worker so that some are always queued)."""
    from concurrent.futures import ThreadPoolExecutor

    from reaseq_core.knowledge import pipeline
    monkeypatch.setattr(pipeline, "ThreadPoolExecutor", lambda n: ThreadPoolExecutor(1))
    fake = FakeBackendForTests(schema_echo_reply, delay_s=0.02)
    fake.max_concurrency = 3
    done = []
    store = ArtifactStore(tmp_path)
    out = build_knowledge(beauty, store, fake, BuildConfig(categories=["Fragrance"], limit=8), progress=False,
                          on_item=lambda i, n: done.append(i), should_stop=lambda: len(done) >= 2)
    assert out["stopped"] and 2 <= out["items_processed"] < 8
    assert len(store.read("beauty", cat.ITEM_KNOWLEDGE)) == out["items_processed"]


def test_shipped_figure7_examples_are_todays_classification(committed_store):
    """The shipped Figure-7 examples carry today's classes: every entry has one, and the mean supported share of
    each setup is the paired row of the shipped grounding table (the same 115 items, re-classified)."""
    fig = committed_store.read("beauty", cat.FIGURE7_EXAMPLES)
    table = committed_store.read("beauty", cat.GROUNDING_TABLE)
    for setup in ("multi_agent", "single_agent"):
        paired = next(r for r in table["rows"] if r["setup"] == setup and r["items"].startswith("paired"))
        assert fig["items"] == paired["n_items"]
        assert abs(fig["summary_means"][setup]["grounding_rate"] - paired["mean_item_grounding_rate"]) < 1e-9
        entries = [e for ex in fig["examples"] for p in ("user_demand", "product_attribute") for e in ex[setup][p]]
        assert entries and all(e["grounding"] in gr.CLASSES for e in entries)
        assert all(e["grounded"] == (e["grounding"] == gr.SUPPORTED) for e in entries)
    assert "re-classified" in fig["note"]
