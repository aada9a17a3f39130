"""A verdict on an item's knowledge, in a real browser (Debian chromium + Playwright), the way an analyst gives
one: on the Item knowledge page, search an item, choose "wrong" in its verdict box, write a note and a name,
press Save verdict; reload the page, then restart the app and reload again, and the verdict is still shown on
that item; the Review page lists it and its CSV export holds it.

The app serves a temporary copy of the committed Beauty store's `data` and `knowledge` stages (all that the
Item knowledge and Review pages read for an item verdict), so the verdict is written to the copy: git must see
no change under data/ afterwards. Screenshots go to test-output/screenshots/."""
from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from reaseq_core import catalogue as cat
from reaseq_core import review
from reaseq_core.store import ArtifactStore
from test_browser_app import (check_no_traceback, expect_text, free_port, need_chromium, settle, shoot,
                              start_app, stop_app, visit)
from test_browser_app import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
DATASET = "beauty"
STAGES = ("data", "knowledge")
REVIEWER = "Dana Analyst"
NOTE = "The skin-type demand is not supported by the title or the description."


class App:
    """The workbench over a store copy, restartable on the same port (the browser tab keeps its URL)."""

    def __init__(self, root, port: int):
        self.root, self.port = root, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = start_app(root, port)

    def restart(self) -> None:
        stop_app(self.proc)
        self.proc = start_app(self.root, self.port)

    def stop(self) -> None:
        stop_app(self.proc)


@pytest.fixture(scope="module")
def store_copy(committed_store, tmp_path_factory) -> ArtifactStore:
    copy = ArtifactStore(tmp_path_factory.mktemp("review_store"))
    for stage in STAGES:
        shutil.copytree(committed_store.stage_dir(DATASET, stage), copy.stage_dir(DATASET, stage))
    assert not copy.exists(DATASET, cat.VERDICTS), "the committed store already holds verdicts"
    return copy


@pytest.fixture(scope="module")
def app(store_copy):
    need_chromium()
    a = App(store_copy.root, free_port())
    yield a
    a.stop()


def grid_text(page) -> str:
    """The visible cells of every table on the page, tab-separated (st.dataframe draws on a canvas; the cells
    it shows are mirrored in the canvas's accessible fallback, not rendered, so read as text content)."""
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]')
    return "\t".join(cells.evaluate_all("cs => cs.map(c => c.textContent)"))


def wait_grid_has(page, *needles: str, timeout_ms: int = 60000) -> str:
    deadline = timeout_ms / 1000
    waited = 0.0
    while True:
        text = grid_text(page)
        if all(n in text for n in needles):
            return text
        if waited >= deadline:
            raise AssertionError(f"no table shows {needles}; tables show:\n{text[:3000]}")
        page.wait_for_timeout(500)
        waited += 0.5


def search_item(page, iid: str) -> None:
    box = page.get_by_label("Search title / description / item id")
    box.fill(iid)
    box.press("Enter")
    settle(page)
    expect_text(page, "1 items match")
    expect_text(page, f"Verdict on this case · item_knowledge {iid}")


def verdict_shown(page, iid: str) -> None:
    """The item's verdict box lists the saved verdict (reviewer, verdict, note, current)."""
    search_item(page, iid)
    assert page.get_by_text("No verdict on this case yet.").count() == 0
    wait_grid_has(page, REVIEWER, "wrong", NOTE[:30], "current")
    check_no_traceback(page)


def test_a_verdict_survives_reload_and_restart_and_is_exported(app, store_copy, browser):  # noqa: F811
    kn = store_copy.read(DATASET, cat.ITEM_KNOWLEDGE)
    iid = sorted(kn["item_id"].astype(str))[len(kn) // 3]   # not the item the page shows first

    # 1. Item knowledge: pick the item, give the verdict
    page = visit(browser, app.url, "Item_knowledge")
    search_item(page, iid)
    expect_text(page, "No verdict on this case yet.")
    page.locator('[data-testid="stRadio"]').filter(has_text="Verdict").get_by_text(
        "❌ wrong", exact=True).click()
    settle(page)
    note = page.get_by_label("Note", exact=True)
    note.fill(NOTE)
    note.press("Control+Enter")
    settle(page)
    name = page.get_by_label("Reviewer", exact=True)
    name.fill(REVIEWER)
    name.press("Enter")
    settle(page)
    page.get_by_role("button", name="Save verdict").click()
    settle(page)
    expect_text(page, f"Saved: {REVIEWER} judged this case")
    verdict_shown(page, iid)
    shoot(page, "review_01_verdict_saved")

    stored = review.read_verdicts(store_copy, DATASET)   # written to the copy the app serves
    assert len(stored) == 1
    row = stored.iloc[0]
    assert (row["case_kind"], row["case_id"], row["verdict"], row["reviewer"], row["note"]) == (
        "item_knowledge", iid, "wrong", REVIEWER, NOTE)

    # 2. a browser reload (a new session), then a restart of the app process and another reload
    page.reload(wait_until="domcontentloaded")
    settle(page)
    verdict_shown(page, iid)
    before = app.proc.pid
    app.restart()
    assert app.proc.pid != before and app.proc.poll() is None
    page.reload(wait_until="domcontentloaded")
    settle(page)
    verdict_shown(page, iid)
    shoot(page, "review_02_verdict_after_restart")
    page.close()

    # 3. the Review page lists it; its CSV export holds it
    page = visit(browser, app.url, "Review")
    expect_text(page, "verdicts shown")
    expect_text(page, "1 of 1")
    wait_grid_has(page, "item_knowledge", iid, REVIEWER, "wrong", "current")
    check_no_traceback(page)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    download = dl.value
    assert download.suggested_filename == f"review_{DATASET}.csv"
    with open(download.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert len(rows) == 1, rows
    got = rows[0]
    assert list(got) == [*review.COLUMNS, "state"]
    assert (got["case_kind"], got["case_id"], got["verdict"], got["note"], got["reviewer"], got["state"]) == (
        "item_knowledge", iid, "wrong", NOTE, REVIEWER, review.CURRENT)
    assert got["timestamp"]
    assert json.loads(got["provenance"]) == review.knowledge_provenance(kn, iid)   # what was judged
    shoot(page, "review_03_review_page")
    page.close()
