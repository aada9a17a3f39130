"""The workbench in a real browser: Debian chromium driven by Playwright. Starts the app on a free
127.0.0.1 port over the committed Beauty store (data/artifacts, read-only: git must see no change under data/
afterwards) and visits every page, then over the fixture store, where it uses one control per page and
checks the expected content. A page fails on a traceback or an error box. Screenshots of every page go to
test-output/screenshots/."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from reaseq_core.app_cli import streamlit_command
from test_app_pages import PAGES

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "test-output" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(root: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, REASEQ_HOME=str(root))
    proc = subprocess.Popen(streamlit_command(port), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {proc.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy within 90 s")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def app_url(app_store):
    need_chromium()
    store, info = app_store
    port = free_port()
    proc = start_app(store.root, port)
    yield f"http://127.0.0.1:{port}", info
    stop_app(proc)


@pytest.fixture(scope="module")
def committed_url(committed_store):
    """The app over the committed store (conftest: read-only, git must see no change under data/)."""
    need_chromium()
    port = free_port()
    proc = start_app(committed_store.root, port)
    yield f"http://127.0.0.1:{port}"
    stop_app(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, headless=True,
                              args=["--disable-gpu", "--disable-quic", "--no-first-run",
                                    "--disable-background-networking", "--disable-component-update",
                                    "--disable-sync"])
        yield b
        b.close()


def settle(page, timeout_ms: int = 60000) -> None:
    """Wait until Streamlit has finished running the script (its status widget disappears)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_ms)
    page.wait_for_timeout(700)


def expect_text(page, text: str, timeout_ms: int = 60000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout_ms)


def choose(page, label: str, option: str) -> None:
    """Open the selectbox labelled `label` and click `option`."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option").filter(has_text=option).first.click()


def wait_charts(page, n: int, timeout_ms: int = 90000) -> None:
    """Wait until n plotly charts have drawn (the plotly bundle loads lazily) and no more than n exist."""
    page.locator(".js-plotly-plot .main-svg").nth(n - 1).wait_for(state="attached", timeout=timeout_ms)
    assert page.locator(".js-plotly-plot").count() == n


def shoot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def check_no_traceback(page) -> None:
    """No exception and no error box (st.error means the page could not show an artifact; app/lib/ui.py)."""
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.first.inner_text()


def visit(browser, url: str, path: str = ""):
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    settle(page)
    return page


def test_every_page_renders_on_the_committed_store(committed_url, browser):
    """Home and every page over the real artifacts: each shows its content (a table or a chart), with no
    traceback, no error box and no missing-artifact message."""
    for n, path in enumerate(["", *PAGES]):
        page = visit(browser, committed_url, path)
        expect_text(page, "ReaSeq workbench" if not path else path.replace("_", " ")[:6])
        content = '[data-testid="stDataFrame"], .js-plotly-plot, [data-testid="stTextArea"]'  # table, chart, template
        page.locator(content).first.wait_for(state="attached", timeout=90000)
        check_no_traceback(page)
        assert page.get_by_text("Not produced yet").count() == 0, f"page {path or 'Home'}: an artifact is missing"
        shoot(page, f"committed_{n:02d}_{path or 'home'}".lower())
        page.close()


def test_every_page_renders_and_reacts(app_url, browser):
    url, info = app_url

    page = visit(browser, url)  # Home
    expect_text(page, "Dataset card: beauty")
    expect_text(page, "Pipeline stages")
    wait_charts(page, 3)
    choose(page, "Dataset", "beauty")
    settle(page)
    expect_text(page, "22,363")
    check_no_traceback(page)
    shoot(page, "01_home")
    page.close()

    page = visit(browser, url, "Results")
    choose(page, "Table", "Fixture table B")
    settle(page)
    expect_text(page, "fixture protocol text")
    expect_text(page, "Download Markdown")
    wait_charts(page, 1)
    check_no_traceback(page)
    shoot(page, "02_results")
    page.close()

    page = visit(browser, url, "LLM_call_log")
    expect_text(page, "5 of 5 calls shown")
    page.get_by_text("Failures only").click()
    settle(page)
    expect_text(page, "1 of 5 calls shown")
    check_no_traceback(page)
    shoot(page, "03_llm_call_log")
    page.close()

    page = visit(browser, url, "Taxonomies")
    choose(page, "Primary category", "Skin Care")
    settle(page)
    expect_text(page, "Layer-1 demand dimensions")
    expect_text(page, "Layer-2 attribute agent failed")
    check_no_traceback(page)
    shoot(page, "04_taxonomies")
    page.close()

    page = visit(browser, url, "Item_knowledge")
    expect_text(page, "8 items match")
    box = page.get_by_label("Search title / description / item id")
    box.fill(info["knowledge_items"][0])
    box.press("Enter")
    settle(page)
    expect_text(page, "1 items match")
    expect_text(page, "not grounded")
    check_no_traceback(page)
    shoot(page, "05_item_knowledge")
    page.close()

    page = visit(browser, url, "Single_vs_multi_agent")
    choose(page, "Item (figure-7 examples first)", info["knowledge_items"][1])
    settle(page)
    expect_text(page, "Multi-agent (MAKR)")
    expect_text(page, "Single agent")
    check_no_traceback(page)
    shoot(page, "06_single_vs_multi_agent")
    page.close()

    page = visit(browser, url, "Behaviour_gaps")
    page.locator('[data-testid="stRadio"]').filter(has_text="Location scheme").get_by_text("CD", exact=True).click()
    settle(page)
    expect_text(page, "flagged after the model filter")
    wait_charts(page, 1)
    check_no_traceback(page)
    shoot(page, "07_behaviour_gaps")
    page.close()

    page = visit(browser, url, "GBR_fills")
    page.locator('[data-testid="stRadio"]').filter(has_text="Browse by").get_by_text("user", exact=True).click()
    settle(page)
    expect_text(page, "Context of the fill")
    page.get_by_role("button", name="Recompute these neighbours here from the stored vectors").click()
    settle(page)
    expect_text(page, "the stored list matches")
    check_no_traceback(page)
    shoot(page, "08_gbr_fills")
    page.close()

    page = visit(browser, url, "Embeddings")
    expect_text(page, "(no downsampling)")
    page.locator('[data-testid="stRadio"]').filter(has_text="Colour by").get_by_text("token type").click()
    settle(page)
    wait_charts(page, 1)
    expect_text(page, "Nearest real items (exact cosine in the original space)")
    check_no_traceback(page)
    shoot(page, "09_embeddings")
    page.close()

    page = visit(browser, url, "Prompt_lab")
    expect_text(page, "Template (edit here)")
    area = page.get_by_label("Template (edit here)")
    area.fill(area.input_value() + "\nBe concise.")
    page.keyboard.press("Control+Enter")
    settle(page)
    expect_text(page, "changed")
    check_no_traceback(page)
    shoot(page, "10_prompt_lab")
    page.close()
