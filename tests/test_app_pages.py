"""AppTest for every workbench page: every page renders on the committed Beauty store (data/artifacts, the
real artifacts, without writing to it); its logic on catalogue-shaped fixture artifacts (about real Beauty
items and users), one interaction per page; and the missing-artifact state (a message naming a command that
runs as printed, never a traceback)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from reaseq_core import catalogue as cat
from reaseq_core.results import ResultTable, list_tables, write_table
from reaseq_core.status import knowledge_command
from reaseq_core.store import ArtifactStore
from test_app_fixtures import DATASET

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app"
PAGES = {p.stem.split("_", 1)[1]: p for p in sorted((APP / "pages").glob("*.py"))}
ALL_PAGES = ["Home", *PAGES]


def run_page(name: str, root, session: dict | None = None) -> AppTest:
    path = APP / "Home.py" if name == "Home" else PAGES[name]
    at = AppTest.from_file(str(path), default_timeout=120)
    for k, v in (session or {}).items():
        at.session_state[k] = v
    at.run()
    return at


def texts(at: AppTest) -> str:
    """Every markdown/caption/info/warning/error/success text of the run, joined."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


@pytest.fixture()
def fixture_env(app_store, monkeypatch):
    store, info = app_store
    monkeypatch.setenv("REASEQ_HOME", str(store.root))
    return store, info


@pytest.fixture(scope="session")
def data_only_store(tmp_path_factory, app_store):
    """A store holding only the ingested data stage: every other stage is missing."""
    import shutil
    store, _ = app_store
    root = tmp_path_factory.mktemp("data_only")
    shutil.copytree(store.stage_dir(DATASET, "data"), ArtifactStore(root).stage_dir(DATASET, "data"))
    return ArtifactStore(root)


def frame(df):
    """The data frame behind an st.dataframe element (Styler-wrapped frames included)."""
    return df.data if hasattr(df, "data") and not hasattr(df, "columns") else df


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def clean(at: AppTest) -> None:
    """No exception and no error box (pages show what artifacts report as warnings; st.error is a failure)."""
    no_exception(at)
    assert not at.error, [e.value for e in at.error]


@pytest.fixture()
def committed_env(committed_store, monkeypatch):
    """REASEQ_HOME at the committed store (conftest: read-only, git must see no change under data/)."""
    monkeypatch.setenv("REASEQ_HOME", str(committed_store.root))
    monkeypatch.setenv("REASEQ_APP_DATASET", DATASET)
    return committed_store


def test_home_shows_the_dataset_card_and_stage_status(fixture_env):
    store, _ = fixture_env
    at = run_page("Home", None)
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["users"] == "22,363" and metrics["items"] == "12,101" and metrics["interactions"] == "198,502"
    assert len(at.get("plotly_chart")) == 3  # category sunburst + two histograms
    status = at.dataframe[-1].value.set_index("stage")
    assert list(status.index) == list(cat.STAGES)
    assert status.at["data", "produced"] == "✅"
    # stages the fixture store lacks show the command that produces them
    assert status.at["viz", "produced"] == "✅"
    assert status.at["review", "produced"] == "—"
    assert status.at["review", "command to run"] == "reaseq app --dataset beauty"
    assert status.at["ranking", "command to run"] == cat.STAGE_COMMANDS["ranking"].format(dataset=DATASET)
    assert status.at["knowledge", "command to run"] == knowledge_command(store, DATASET)  # the next category
    assert at.sidebar.selectbox[0].value == DATASET


def test_home_without_any_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("REASEQ_HOME", str(tmp_path))
    at = run_page("Home", None)
    no_exception(at)
    assert "reaseq data ingest --dataset beauty" in texts(at)


def test_results_table_chart_and_exports(fixture_env):
    at = run_page("Results", None)
    no_exception(at)
    sb = at.selectbox(key="table")
    assert len(sb.options) == 2
    sb.select_index(1).run()
    no_exception(at)
    assert "Fixture table B" in texts(at)
    shown = at.dataframe[0].value
    assert shown["auc"].tolist() == ["0.6100 ± 0.0100", "0.6400 ± 0.0200"]
    assert "fixture protocol text" in texts(at) and "titles instead of queries" in texts(at)
    assert len(at.get("plotly_chart")) == 1
    assert [b.label for b in at.get("download_button")] == ["Download CSV", "Download Markdown (for slides)",
                                                         "Download report (HTML)"]


def test_results_lists_a_table_written_while_the_app_runs(app_store, tmp_path, monkeypatch):
    """The table list is cached by file names and modification times: a table that a stage writes while the
    workbench is open shows up on the next rerun, and one that is removed disappears."""
    store, _ = app_store
    root = tmp_path / "store"
    shutil.copytree(store.root, root)
    monkeypatch.setenv("REASEQ_HOME", str(root))
    at = run_page("Results", None)
    no_exception(at)
    assert len(at.selectbox(key="table").options) == 2
    t = ResultTable(name=cat.TABLE5.key, title="Late table", dataset=DATASET, dataset_hash="h", split="s",
                    protocol="p", seeds=[0], deviations=[], columns=["variant", "auc"],
                    rows=[{"variant": "base", "auc": 0.5}])
    write_table(ArtifactStore(root), cat.TABLE5, t)
    at.run()
    no_exception(at)
    assert any(o.startswith("Late table") for o in at.selectbox(key="table").options)
    # a smoke run's table is never listed beside the full run's
    write_table(ArtifactStore(root), cat.TABLE6, ResultTable(**{**t.__dict__, "name": cat.TABLE6.key,
                                                                 "title": "Small table"}), run=cat.SMALL_RUN)
    ArtifactStore(root).path(DATASET, cat.TABLE5).unlink()
    at.run()
    assert len(at.selectbox(key="table").options) == 2
    assert not any(o.startswith("Small table") for o in at.selectbox(key="table").options)


def test_llm_call_log_counts_complete_lines_and_filters_failures(fixture_env):
    at = run_page("LLM_call_log", None)
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["calls"] == "5" and metrics["failed / invalid"] == "1"  # the partial last line is ignored
    assert "The log ends in a partial line" in texts(at)  # ... and said so
    at.toggle(key="failures_only").set_value(True).run()
    no_exception(at)
    assert "1 of 5 calls shown" in texts(at)
    assert at.dataframe[0].value["status"].tolist() == ["invalid"]
    assert "not JSON" in texts(at)


def test_taxonomies_layers_and_failed_agent(fixture_env):
    at = run_page("Taxonomies", None)
    no_exception(at)
    at.selectbox(key="primary").set_value("Skin Care").run()
    no_exception(at)
    body = texts(at)
    assert "Layer-1 demand dimensions" in body and "item titles (no queries in this dataset)" in body
    assert "Layer-2 attribute agent failed: invalid JSON after 2 retries" in body
    l2 = next(frame(d.value) for d in at.dataframe if "rationale" in frame(d.value).columns)
    assert l2["rationale"].tolist() == ["inherited", "adapted", "new"]


def test_item_knowledge_search_and_ungrounded_evidence(fixture_env):
    store, info = fixture_env
    at = run_page("Item_knowledge", None)
    no_exception(at)
    assert f"{len(info['knowledge_items'])} items match" in texts(at)
    first = store.read(DATASET, cat.ITEMS).set_index("item_id").at[info["knowledge_items"][0], "title"]
    at.text_input(key="search").input(first[:25]).run()
    no_exception(at)
    assert "1 items match" in texts(at) or "items match" in texts(at)
    assert at.dataframe[0].value["item_id"].iloc[0] == info["knowledge_items"][0]
    assert ":red-background[" in texts(at)  # the fixture's ungrounded 'Longevity' evidence is highlighted


def test_single_vs_multi_agent_side_by_side(fixture_env):
    store, info = fixture_env
    at = run_page("Single_vs_multi_agent", None)
    no_exception(at)
    summary = frame(at.dataframe[0].value).set_index("setup")
    assert summary.at["multi_agent", "items"] == 8 and summary.at["single_agent", "items"] == 8
    assert summary.at["multi_agent", "user_entries"] == 2.0 and summary.at["single_agent", "user_entries"] < 1.0
    sb = at.selectbox(key="item")
    sb.set_value(info["knowledge_items"][1]).run()
    no_exception(at)
    single, multi = at.dataframe[1].value, at.dataframe[2].value
    assert list(single.columns) == ["shared dimension", "product-side knowledge", "user-side knowledge"]
    assert list(multi.columns)[0] == "product-side dimension" and len(multi) == 2


def test_behaviour_gaps_timeline_for_a_user(fixture_env):
    store, info = fixture_env
    at = run_page("Behaviour_gaps", None)
    no_exception(at)
    at.radio(key="variant").set_value("CD").run()
    no_exception(at)
    loc = store.read(DATASET, cat.LOCATION)
    user = at.selectbox(key="user").value
    mine = loc[(loc["variant"] == "CD") & (loc["user_id"] == user)]
    metrics = {m.label: int(m.value) for m in at.metric}
    assert metrics["events"] == len(mine) + 1
    assert metrics["CD gaps"] == int(mine["cd"].sum()) and metrics["flagged"] == int(mine["flagged"].sum())
    assert len(at.get("plotly_chart")) == 1


def store_fills(env):
    store, _ = env
    return store.read(DATASET, cat.FILLS)


def test_gbr_fills_browse_by_user_and_recompute_neighbours(fixture_env):
    at = run_page("GBR_fills", None)
    no_exception(at)
    at.radio(key="mode").set_value("user").run()
    no_exception(at)
    assert "Context of the fill" in texts(at)
    ctx, nn = frame(at.dataframe[0].value), at.dataframe[1].value
    assert (ctx["item"] == "[FILL]").sum() == 1
    # the highlighted row is the fill's own position in the augmented sequence
    fill_id = at.selectbox(key="fill").value
    fills = store_fills(fixture_env)
    position = int(fills.set_index("fill_id").at[fill_id, "position"])
    assert ctx.loc[ctx["item"] == "[FILL]", "pos"].tolist() == [position]
    assert ctx["pos"].tolist() == list(range(len(ctx)))
    assert len(nn) == 10 and nn["similarity"].is_monotonic_decreasing
    at.button(key="recompute").click().run()
    no_exception(at)
    assert "the stored list matches" in texts(at)


def test_embeddings_states_the_point_count_and_neighbours(fixture_env):
    store, info = fixture_env
    at = run_page("Embeddings", None)
    no_exception(at)
    n_items, n_fills = len(info["vector_items"]), len(store.read(DATASET, cat.FILLS))
    assert f"Showing all {n_items + n_fills:,} points: {n_items:,} real item tokens and {n_fills:,} [FILL]" in texts(at)
    nn = at.dataframe[-1].value
    assert len(nn) == 10 and nn["cosine"].is_monotonic_decreasing
    at.radio(key="scope").set_value("one user").run()
    no_exception(at)
    assert "at their coordinates in the projection" in texts(at)


def test_prompt_lab_runs_edited_and_saved_templates_and_saves_a_version(app_store, tmp_path,
                                                                        monkeypatch):
    """Plumbing only: the backend is the project's FakeBackendForTests (scripted JSON, not knowledge). On a
    copy of the fixture store: the run appends to the call log and the save writes a version."""
    from reaseq_core.llm.fake import FakeBackendForTests
    src, info = app_store
    shutil.copytree(src.root, tmp_path / "store")
    store = ArtifactStore(tmp_path / "store")
    monkeypatch.setenv("REASEQ_HOME", str(store.root))

    def reply(messages, schema):
        entry = {"dimension": "Finish", "analysis": "a matte finish", "keywords": ["matte", "finish", "face"],
                 "evidence": ["title"]}
        return json.dumps({"user_demand": [entry], "product_attribute": [dict(entry, dimension="Form")]})

    fake = FakeBackendForTests(reply)
    at = run_page("Prompt_lab", None, {"backend_for_tests": fake})
    no_exception(at)
    at.selectbox(key="agent").set_value("single_agent").run()
    area = at.text_area[0]
    area.input(area.value + "\nBe concise.").run()
    assert "**changed** from the saved version" in texts(at)
    at.multiselect(key="items").set_value([info["knowledge_items"][0]]).run()
    at.button(key="run").click().run()
    no_exception(at)
    assert len(fake.calls) == 2  # the edited and the saved template, one item each
    assert "Outputs: edited" in texts(at)
    codes = [c.value for c in at.code]
    assert any("matte finish" in c for c in codes) and any(c == "(no difference)" for c in codes)
    at.button(key="save").click().run()
    no_exception(at)
    saved = [a for a in store.list(DATASET, cat.PROMPT_VERSION.stage) if a.entry is cat.PROMPT_VERSION]
    assert len(saved) == 1 and saved[0].path.read_text().endswith("Be concise.")
    sha = saved[0].path.stem
    assert saved[0].path == store.path(DATASET, cat.PROMPT_VERSION, agent="single_agent", sha12=sha)
    assert sha in texts(at)
    at.run()  # the saved version is offered for comparison on the next run
    assert f"saved version {sha}" in at.selectbox(key="base").options


KNOWLEDGE_PAGES = ("LLM_call_log", "Taxonomies", "Item_knowledge", "Single_vs_multi_agent")


@pytest.mark.parametrize("page,command", [
    ("Results", cat.TABLE3_ABLATION.producing_command(DATASET)),
    *((p, "knowledge") for p in KNOWLEDGE_PAGES),
    ("Behaviour_gaps", cat.LOCATION.producing_command(DATASET)),
    ("GBR_fills", cat.FILLS.producing_command(DATASET)),
    ("Embeddings", cat.UMAP.producing_command(DATASET)),
])
def test_missing_artifacts_name_the_command(page, command, data_only_store, monkeypatch):
    """The command shown runs as printed: the knowledge pages name the category with the most interactions
    (the catalogue's command holds a placeholder)."""
    monkeypatch.setenv("REASEQ_HOME", str(data_only_store.root))
    if command == "knowledge":
        command = knowledge_command(data_only_store, DATASET)
        assert "--category " in command and "CATEGORY" not in command
    at = run_page(page, None)
    clean(at)
    assert command in texts(at)
    assert "CATEGORY" not in texts(at)


# ---- the committed Beauty store -----------------------------------------------------------------------
@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_renders_on_the_committed_store(page, committed_env):
    """Every page on the real artifacts shipped in data/artifacts: no exception, no error box, and no
    missing-artifact message (the committed store holds what every page shows)."""
    at = run_page(page, None)
    clean(at)
    assert "Not produced yet" not in texts(at)
    if page == "Home":  # a warning here is a stage whose stored artifact lacks its declared shape
        assert not at.warning, [w.value for w in at.warning]
    shown = len(at.dataframe) + len(at.get("plotly_chart")) + len(at.text_area)  # the Prompt lab: a template
    assert shown >= 1, "the page showed no table, chart or template"


def test_taxonomies_page_shows_todays_rules_on_the_committed_store(committed_env):
    """The rule-check table counts, per primary category, the stored labels today's label rules refuse and the
    texts that end mid-sentence, as summary.taxonomy_rule_check finds them in the committed taxonomy."""
    from reaseq_core.knowledge import schemas
    tax = committed_env.read(DATASET, cat.TAXONOMY)["categories"]
    at = run_page("Taxonomies", None)
    clean(at)
    table = next(frame(d.value) for d in at.dataframe if "labels refused" in frame(d.value).columns)
    table = table.set_index("primary")
    assert list(table.index) == list(tax)
    for prim, node in tax.items():   # recount Layer 1 independently of the page's helper
        l1 = [lab for p in ("demand", "attribute") for lab in (node.get(p) or {}).get("dimensions") or []]
        assert table.at[prim, "labels"] >= len(l1)
        reasons = [(node.get(p) or {}).get("reasoning") for p in ("demand", "attribute")]
        cut_l1 = sum(bool(r) and schemas.unfinished_text(r) is not None for r in reasons)
        assert table.at[prim, "texts ending mid-sentence"] >= cut_l1
    assert table["texts ending mid-sentence"].sum() > 0     # the shipped taxonomies hold cut texts (stated)
    from reaseq_core.knowledge.summary import category_known_words, unknown_words
    items = committed_env.read(DATASET, cat.ITEMS)
    for prim, node in tax.items():   # every stored label, Layers 1 and 2, against the dictionary
        labs = [lab for p in ("demand", "attribute") for lab in (node.get(p) or {}).get("dimensions") or []]
        labs += [d.get("label", "") for sn in (node.get("subcategories") or {}).values()
                 for p in ("demand", "attribute") for d in (sn.get(p) or {}).get("dimensions") or []]
        known = category_known_words(items, prim)
        assert table.at[prim, "labels with unknown words"] == sum(bool(unknown_words(x, known)) for x in labs)
    primary = table["labels refused"].idxmax()
    if table.at[primary, "labels refused"]:
        at.selectbox(key="primary").set_value(primary).run()
        clean(at)
        assert f"{primary}: {table.at[primary, 'labels refused']} refused labels" in \
            " ".join(str(e.label) for e in at.expander)


def test_single_vs_multi_agent_lists_the_figure7_examples_first(committed_env):
    """figure7_examples holds an item count ('items') and the examples ('examples', one dict per item): the
    item selector offers the examples first."""
    fig7 = committed_env.read(DATASET, cat.FIGURE7_EXAMPLES)
    at = run_page("Single_vs_multi_agent", None)
    clean(at)
    options = at.selectbox(key="item").options
    examples = [e["item_id"] for e in fig7["examples"]]
    assert fig7["items"] == len(examples) and len(options) >= len(examples)
    assert [o.split(" · ")[0] for o in options[:len(examples)]] == examples


def test_every_shipped_result_table_renders_on_the_results_page(committed_env):
    """The real Beauty tables committed in data/artifacts (not fixtures): each one renders with its title,
    protocol and a chart, without an exception."""
    shipped = list_tables(committed_env, DATASET)
    assert {"sid_table", "table3_ablation", "table1_hr"} <= {a.key for a in shipped}
    at = run_page("Results", None)
    clean(at)
    options = at.selectbox(key="table").options
    assert len(options) == len(shipped)
    for i, label in enumerate(options):
        at.selectbox(key="table").select_index(i).run()
        clean(at)
        title = label.split("  [")[0]
        assert title in texts(at) and "Protocol." in texts(at)
        assert len(at.dataframe) >= 1


def test_an_item_without_a_title_shows_its_id(committed_env):
    """A few Beauty items have no title; one of them has knowledge. The Item knowledge page heads it with its id
    (not "nan") and the Prompt lab lists it (its title lookup once raised TypeError on the missing value)."""
    items = committed_env.read(DATASET, cat.ITEMS)
    have = set(committed_env.read(DATASET, cat.ITEM_KNOWLEDGE)["item_id"])
    untitled = [i for i in items.loc[items["title"].isna(), "item_id"] if i in have]
    assert untitled, "the committed store holds no untitled item with knowledge"
    at = run_page("Item_knowledge", None)
    at.text_input(key="search").set_value(untitled[0]).run()
    clean(at)
    assert [str(e.value) for e in at.subheader][0] == untitled[0]
    lab = run_page("Prompt_lab", None)
    clean(lab)
    assert f"{untitled[0]} · " in lab.multiselect(key="items").options      # id, separator, empty title
