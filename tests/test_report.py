"""`reaseq report`: one self-contained HTML file of the result tables, generated from the committed Beauty store
(data/artifacts, read only: the committed_store fixture fails if git sees a change under data/), checked for
every table's title, deviations, seeds and provenance, an inlined plotly.js and no network reference; the
`--tables` choice and an unknown key; escaping, the coverage and learning-curve fallbacks (stated, never
silent) on a private store; the chart choices and the Markdown export. One test opens the file in headless
chromium with the network blocked (marked browser)."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from reaseq_core import catalogue as cat
from reaseq_core import report
from reaseq_core.cli import main
from reaseq_core.results import ResultTable, list_tables, read_table, write_table
from reaseq_core.store import ArtifactStore

DATASET = "beauty"
SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)


def run_report(root: Path, out: Path, *extra: str) -> int:
    return main(["--home", str(root), "report", "--dataset", DATASET, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def full_report(committed_store, tmp_path_factory) -> tuple[ArtifactStore, str, Path]:
    out = tmp_path_factory.mktemp("report") / "r.html"
    assert run_report(committed_store.root, out) == 0
    return committed_store, out.read_text(encoding="utf-8"), out


def test_the_report_holds_every_committed_table_with_its_protocol_and_provenance(full_report):
    store, text, out = full_report
    assert out.is_file()
    shipped = list_tables(store, DATASET)
    assert {"table1_hr", "table3_ablation", "table5", "table6"} <= {a.key for a in shipped}
    for art in shipped:
        t = read_table(store, DATASET, art)
        section = text.split(f'<h2 id="{art.key}">', 1)[1].split("<section", 1)[0]
        assert html.escape(t.title) in section, art.key
        for d in t.deviations:
            assert html.escape(d) in section, (art.key, d)
        assert f"<b>Seeds.</b> {html.escape(t.seeds_text)}" in section
        assert html.escape(t.protocol) in section and html.escape(t.split) in section
        if t.notes:
            assert html.escape(t.notes) in section
        prov = store.provenance(DATASET, art)
        assert prov["code_version"] in section and prov["created"] in section
        assert 'class="plotly-graph-div"' in section, f"{art.key}: no chart"
        assert "Learning curves" in section
    # the header: dataset, its content hash, the generating code version; and the knowledge coverage
    card = store.read(DATASET, cat.DATASET_CARD)
    assert card["content_hash"] in text.split("<nav>")[0]
    header = text.split("<nav>")[0]
    assert "Knowledge coverage." in text
    if store.exists(DATASET, cat.KNOWLEDGE_VECTORS):            # built here (`reaseq represent build`)
        from reaseq_core.representation.item_space import load_item_space
        n_knowledge = load_item_space(DATASET, "knowledge", store).coverage()["knowledge"]
        assert n_knowledge > 1000 and f"knowledge vectors for {n_knowledge} of" in header
    else:                                                       # a fresh clone: the committed summary's counts
        summary = store.read(DATASET, cat.KNOWLEDGE_SUMMARY)["categories"]
        n_ma = sum(int(s["multi_agent"]["items_ok"]) for s in summary.values() if "multi_agent" in s)
        assert n_ma > 1000 and f"multi-agent: {n_ma} items" in header and "knowledge vectors are not in this store" in header


def test_the_report_is_self_contained(full_report):
    from plotly.offline import get_plotlyjs
    _, text, _ = full_report
    assert get_plotlyjs()[:5000] in text, "plotly.js is not inlined"
    assert text.count(get_plotlyjs()[:5000]) == 1, "plotly.js is inlined more than once"
    assert not SCRIPT_SRC.search(text), "the report loads a script from somewhere"
    assert not re.search(r"<(link|img|iframe)[^>]+(href|src)\s*=\s*[\"']?https?://", text, re.IGNORECASE)


def test_learning_curves_are_plotted_where_saved_and_their_absence_is_explained(full_report):
    _, text, _ = full_report

    def section(key: str) -> str:
        return text.split(f'<h2 id="{key}">', 1)[1].split("<section", 1)[0]

    t3 = section("table3_ablation")
    assert "Validation AUC per epoch" in t3 and "ranking/" + cat.RANKING_RUNS.name() in t3
    assert t3.count('class="plotly-graph-div"') == 2          # the table's chart and its curves
    assert "SASRec" in section("table5") and "RQ-VAE training losses" in section("sid_table")
    assert "none shown (no training: retrieval with a frozen pre-trained encoder)" in section("table1_hr")


def test_tables_option_limits_the_report(committed_store, tmp_path):
    out = tmp_path / "t3.html"
    assert run_report(committed_store.root, out, "--tables", "table3_ablation") == 0
    text = out.read_text(encoding="utf-8")
    assert html.escape(read_table(committed_store, DATASET, cat.TABLE3_ABLATION).title) in text
    assert html.escape(read_table(committed_store, DATASET, cat.TABLE1_HR).title) not in text
    assert text.count("<h2 id=") == 1


def test_an_unknown_table_key_names_the_known_ones(committed_store, tmp_path, capsys):
    out = tmp_path / "x.html"
    assert run_report(committed_store.root, out, "--tables", "table3_ablation", "table9") == 2
    err = capsys.readouterr().err
    assert "unknown result table 'table9'" in err
    assert all(a.key in err for a in cat.RESULT_TABLES)
    assert not out.exists()


def _demo_table(key: str, **kw) -> ResultTable:
    base = dict(name=key, title="Demo <script>alert(1)</script> & co", dataset=DATASET, dataset_hash="h0",
                split="loo", protocol="p <b>bold</b>", seeds=[], deviations=["dev <i>x</i>"],
                columns=["method", "n", "overall_auc", "overall_auc_std"],
                rows=[{"method": "Base", "n": 100, "overall_auc": 0.7393, "overall_auc_std": 0.0021},
                      {"method": "Retrieval", "n": 100, "overall_auc": 0.7549, "overall_auc_std": 0.0027}],
                notes="SMALL smoke configuration; not a result")
    return ResultTable(**{**base, **kw})


def test_text_is_escaped_and_missing_inputs_are_stated(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    write_table(store, cat.TABLE3_ABLATION, _demo_table(cat.TABLE3_ABLATION.key))
    write_table(store, cat.TABLE1_HR, _demo_table(cat.TABLE1_HR.key, title="Full"), run=cat.SMALL_RUN)
    text = report.build_report(store, DATASET)
    assert "<script>alert(1)</script>" not in text and "Demo &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert "p &lt;b&gt;bold&lt;/b&gt;" in text and "dev &lt;i&gt;x&lt;/i&gt;" in text
    assert text.count("<h2 id=") == 1, "a smoke run's table was reported beside the full run"
    assert "Not a result" in text and "not a result" in text
    assert "no knowledge yet (run `reaseq knowledge build" in text
    assert f"not produced: run `{cat.RANKING_RUNS.producing_command(DATASET)}`" in text
    assert "0.7393 ± 0.0021" in text and "Seeds.</b> none (single run, no seeds)" in text


def test_a_store_without_tables_names_the_commands(tmp_path, capsys):
    (tmp_path / "store" / DATASET).mkdir(parents=True)
    assert run_report(tmp_path / "store", tmp_path / "r.html") == 2
    err = capsys.readouterr().err
    assert "reaseq rank ablation --dataset beauty" in err and "reaseq gbr run --dataset beauty" in err


def test_charts_default_to_a_metric_and_fit_auc_axes_to_the_data(committed_store):
    for art in list_tables(committed_store, DATASET):
        df = read_table(committed_store, DATASET, art).to_frame()
        metric = report.default_metric(df)
        assert metric and not report._CONTEXT_COLUMN.search(metric), (art.key, metric)
    df = read_table(committed_store, DATASET, cat.TABLE3_ABLATION).to_frame()
    assert report.default_metric(df) == "overall_auc"
    chart_df, label = report.label_frame(df)
    fig = report.result_chart(chart_df, label, "overall_auc")
    lo, hi = fig.layout.xaxis.range
    assert 0.7 < lo < df["overall_auc"].min() and hi > df["overall_auc"].max()
    # long labels are wrapped along a horizontal chart's y axis, never squashed
    df1 = read_table(committed_store, DATASET, cat.TABLE1_HR).to_frame()
    chart_df, label = report.label_frame(df1)
    assert label == "pool · arm"
    fig = report.result_chart(chart_df, label, "HR@30")
    assert fig.data[0].orientation == "h" and all("<br>" in y for y in fig.data[0].y)
    assert report.zoom_range([3.0, 40.0], None) is None   # values spread from near 0: the axis keeps its 0


def test_markdown_keeps_notes_and_states_no_seeds(committed_store):
    t = read_table(committed_store, DATASET, cat.TABLE1_HR)
    md = t.to_markdown()
    assert t.seeds == [] and "Seeds: none (single run, no seeds)" in md and "n/a" not in md
    assert f"Notes: {t.notes}" in md
    smoke = _demo_table("table3_ablation").to_markdown()
    assert "not a result" in smoke.lower() and "0.7393 ± 0.0021" in smoke
    shown = read_table(committed_store, DATASET, cat.TABLE3_ABLATION).display_frame()
    assert all(re.fullmatch(r"\d\.\d{4} ± \d\.\d{4}", v) for v in shown["overall_auc"])
    assert ResultTable.format_value(0.00002) == "2e-05" and ResultTable.format_value(12101.0) == "12101"
    assert ResultTable.format_value(float("nan")) == "–" and ResultTable.format_value(pd.NA) == "–"


@pytest.mark.browser
def test_the_report_renders_offline_in_chromium(full_report):
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright
    _, _, out = full_report
    requested = []

    def only_local(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:  # the report must not need the network
            requested.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, chromium_sandbox=False,
                                    args=["--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", only_local)
            page.goto(out.as_uri())
            page.wait_for_selector(".plotly-graph-div .main-svg", timeout=60_000)
            n_div = page.locator(".plotly-graph-div").count()
            page.wait_for_function(f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {n_div}",
                                   timeout=60_000)
            assert page.locator("svg .trace").count() >= n_div
        finally:
            browser.close()
    assert not requested, requested
    assert not errors, errors
