"""The Results page on the committed Beauty store (data/artifacts, read only: the committed_store fixture fails if
git sees a change under data/): the one-click HTML report download holds every listed table; the Markdown
export keeps a table's notes; charts default to a result metric with an AUC axis fitted to the data; mean ± std
columns are wide enough to read; a smoke run's table is never listed. The downloads' bytes are taken from the
media storage AppTest gives the page."""
from __future__ import annotations

import html
import json
import re

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from reaseq_core import catalogue as cat
from reaseq_core import report
from reaseq_core.results import ResultTable, list_tables, read_table, write_table
from reaseq_core.store import ArtifactStore
from test_app_pages import clean, run_page, texts

DATASET = "beauty"


@pytest.fixture()
def committed_home(committed_store, monkeypatch):
    monkeypatch.setenv("REASEQ_HOME", str(committed_store.root))
    monkeypatch.setenv("REASEQ_APP_DATASET", DATASET)
    return committed_store


@pytest.fixture()
def downloads(monkeypatch) -> dict[str, bytes]:
    """file name -> bytes of every download the page offers (recorded as the media storage receives them)."""
    seen: dict[str, bytes] = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            seen[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def same_report(a: str, b: str) -> bool:
    def strip(t: str) -> str:
        t = re.sub(r"generated [0-9T:+-]+", "generated", t)
        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "id", t)
    return strip(a) == strip(b)


def choose(at, art) -> None:
    options = at.selectbox(key="table").options
    at.selectbox(key="table").select_index(next(i for i, o in enumerate(options) if o.endswith(f"/{art.key}]")))
    at.run()
    clean(at)


def test_report_download_and_markdown_notes(committed_home, downloads):
    at = run_page("Results", None)
    clean(at)
    labels = [b.label for b in at.get("download_button")]
    assert "Download report (HTML)" in labels
    shipped = list_tables(committed_home, DATASET)
    assert sorted(at.multiselect(key="report_tables").value) == sorted(a.key for a in shipped)
    page = downloads[f"{DATASET}_results_report.html"].decode("utf-8")
    for art in shipped:
        assert html.escape(read_table(committed_home, DATASET, art).title) in page, art.key
    assert not re.search(r"<script[^>]*\bsrc\s*=", page) and 'class="plotly-graph-div"' in page
    # the same file as `reaseq report` writes, up to the generation time and the figures' random div ids
    assert same_report(page, report.build_report(committed_home, DATASET))

    choose(at, cat.TABLE3_ABLATION)
    t3 = read_table(committed_home, DATASET, cat.TABLE3_ABLATION)
    md = downloads[f"{DATASET}_{cat.TABLE3_ABLATION.key}.md"].decode("utf-8")
    assert t3.notes and f"Notes: {t3.notes}" in md and "Seeds: 0, 1, 2" in md
    choose(at, cat.TABLE1_HR)
    t1 = read_table(committed_home, DATASET, cat.TABLE1_HR)
    md = downloads[f"{DATASET}_{cat.TABLE1_HR.key}.md"].decode("utf-8")
    assert f"Notes: {t1.notes}" in md and "Seeds: none (single run, no seeds)" in md
    assert "none (single run, no seeds)" in texts(at)

    # fewer tables chosen: the report holds only those
    at.multiselect(key="report_tables").set_value([cat.TABLE5.key]).run()
    clean(at)
    page = downloads[f"{DATASET}_results_report.html"].decode("utf-8")
    assert page.count("<h2 id=") == 1 and f'<h2 id="{cat.TABLE5.key}">' in page


def test_charts_default_to_a_metric_and_wide_values_are_not_clipped(committed_home):
    at = run_page("Results", None)
    clean(at)
    for i in range(len(at.selectbox(key="table").options)):
        at.selectbox(key="table").select_index(i).run()
        clean(at)
        metric = at.selectbox(key="metric").value
        assert not report._CONTEXT_COLUMN.search(metric), f"the chart defaults to a count: {metric}"
    choose(at, cat.TABLE3_ABLATION)
    assert at.selectbox(key="metric").value == "overall_auc"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    lo, hi = spec["layout"]["xaxis"]["range"]
    assert lo > 0.7, "an AUC axis starts at 0, hiding the differences"
    shown = at.dataframe[0].value
    assert all(re.fullmatch(r"\d\.\d{4} ± \d\.\d{4}", v) for v in shown["overall_auc"])
    widths = {c: v.get("width") for c, v in json.loads(at.dataframe[0].proto.columns).items()}
    assert widths["overall_auc"] >= 150


def test_only_the_full_runs_tables_are_listed(tmp_path, monkeypatch):
    store = ArtifactStore(tmp_path)
    base = dict(dataset=DATASET, dataset_hash="h", split="s", protocol="p", seeds=[0], deviations=[],
                columns=["method", "overall_auc"], rows=[{"method": "Base", "overall_auc": 0.7}])
    write_table(store, cat.TABLE5, ResultTable(name=cat.TABLE5.key, title="Full table", **base))
    write_table(store, cat.TABLE6, ResultTable(name=cat.TABLE6.key, title="Smoke table", notes="not a result",
                                               **base), run=cat.SMALL_RUN)
    monkeypatch.setenv("REASEQ_HOME", str(tmp_path))
    monkeypatch.setenv("REASEQ_APP_DATASET", DATASET)
    at = run_page("Results", None)
    clean(at)
    assert [o.split("  [")[0] for o in at.selectbox(key="table").options] == ["Full table"]
    assert at.multiselect(key="report_tables").value == [cat.TABLE5.key]
