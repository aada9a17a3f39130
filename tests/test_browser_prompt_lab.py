"""The Prompt lab and the Embeddings chart in a real browser (Debian chromium + Playwright), on the committed
Beauty store (read-only: git must see no change under data/ afterwards).

- Prompt lab: a two-version prompt experiment with the FAKE test backend (scripted schema filler, not an LLM;
  offered only because the app is started with REASEQ_LAB_FAKE_BACKEND=1). Its answers go to a throwaway
  call log and the experiment is not saved, so the committed store is not written.
- Embeddings: a box selection on the UMAP chart, then the exported CSV: every row is a point inside the box
  (data coordinates read from plotly's own axes), as many rows as the page says it selected.
Screenshots go to test-output/screenshots/."""
from __future__ import annotations

import csv
import io
import os

import pytest

from test_browser_app import (check_no_traceback, expect_text, free_port, need_chromium, settle, shoot,
                              start_app, stop_app, visit)
from test_browser_app import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab_url(committed_store):
    """The app over the committed store, with the FAKE test backend offered in the Prompt lab."""
    need_chromium()
    port = free_port()
    old = os.environ.get("REASEQ_LAB_FAKE_BACKEND")
    os.environ["REASEQ_LAB_FAKE_BACKEND"] = "1"
    try:
        proc = start_app(committed_store.root, port)
    finally:
        if old is None:
            os.environ.pop("REASEQ_LAB_FAKE_BACKEND")
        else:
            os.environ["REASEQ_LAB_FAKE_BACKEND"] = old
    yield f"http://127.0.0.1:{port}"
    stop_app(proc)


def test_two_version_prompt_experiment_with_the_fake_backend(lab_url, browser):  # noqa: F811
    page = visit(browser, lab_url, "Prompt_lab")
    expect_text(page, "Template (edit here)")
    area = page.get_by_label("Template (edit here)")
    area.fill(area.input_value() + "\nBe concise.")
    page.keyboard.press("Control+Enter")
    settle(page)
    expect_text(page, "changed")
    page.locator('[data-testid="stRadio"]').filter(has_text="Backend").get_by_text("FAKE test backend").click()
    settle(page)
    expect_text(page, "FAKE backend: scripted")
    page.get_by_role("tab", name="Experiment (sample of N items)").click()
    n_box = page.get_by_role("spinbutton", name="Items (N)")
    n_box.fill("4")
    n_box.press("Enter")
    settle(page)
    expect_text(page, "Sample: 4 of")
    expect_text(page, "Generic keyword rule.")
    page.get_by_role("button", name="Run the experiment (8 item runs)").click()
    expect_text(page, "done: 8 item runs", timeout_ms=180000)
    settle(page)
    expect_text(page, "Experiment: A shipped template")
    expect_text(page, "B edited")
    expect_text(page, "FAKE backend: plumbing only, not knowledge; not saved")
    expect_text(page, "8 of 8 item runs")
    expect_text(page, "diff of the entries")
    check_no_traceback(page)
    shoot(page, "prompt_lab_experiment_fake_backend")
    page.close()


def test_box_selection_on_the_embeddings_chart_exports_its_points(lab_url, browser):  # noqa: F811
    page = visit(browser, lab_url, "Embeddings")
    plot = page.locator(".js-plotly-plot").first
    plot.locator(".main-svg").first.wait_for(state="attached", timeout=90000)
    expect_text(page, "Selection:")
    page.locator('.modebar-btn[data-title="Box Select"]').first.click()
    drag = plot.locator(".nsewdrag").first
    bb = drag.bounding_box()
    x0, y0 = bb["x"] + 0.40 * bb["width"], bb["y"] + 0.40 * bb["height"]
    x1, y1 = bb["x"] + 0.62 * bb["width"], bb["y"] + 0.62 * bb["height"]
    # the box in data coordinates, from plotly's axes (pixel offsets inside the plot area)
    box = page.evaluate("""([a, b, c, d]) => {
        const gd = document.querySelector('.js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return [xa.p2d(a), xa.p2d(c), ya.p2d(b), ya.p2d(d)];
    }""", [x0 - bb["x"], y0 - bb["y"], x1 - bb["x"], y1 - bb["y"]])
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    settle(page)
    button = page.get_by_role("button", name="Export selection as CSV")
    button.wait_for(state="visible", timeout=60000)
    said = page.locator('[data-testid="stMarkdown"]').filter(has_text="Selection:").first.inner_text()
    n = int(said.split("Selection:")[1].split("points")[0].replace(",", "").strip())
    with page.expect_download() as dl:
        button.click()
    download = dl.value
    assert download.suggested_filename == "beauty_umap_selection.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert n > 0 and len(rows) == n
    assert list(rows[0]) == ["point_id", "token_type", "category", "user_id", "x", "y", "title", "nearest_item",
                             "nearest_cosine"]
    xlo, xhi = sorted(box[:2])
    ylo, yhi = sorted(box[2:])
    tol_x, tol_y = 0.01 * (xhi - xlo), 0.01 * (yhi - ylo)
    for r in rows:
        assert xlo - tol_x <= float(r["x"]) <= xhi + tol_x and ylo - tol_y <= float(r["y"]) <= yhi + tol_y, r
        assert r["token_type"] in ("item", "fill") and r["point_id"]
    assert len({r["point_id"] for r in rows}) == n
    check_no_traceback(page)
    shoot(page, "embeddings_box_selection")
    page.close()
