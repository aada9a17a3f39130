"""JupyterLab in a real browser: `reaseq notebooks` on a free 127.0.0.1 port, Debian chromium through Playwright.
A double click on notebooks/data_tour.py in the file browser opens it as a notebook (jupytext), its first code
cell runs in the kernel, and nothing in notebooks/ is written (autosave is off in the test's own settings)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from test_browser_app import CHROMIUM, REPO, browser, free_port, shoot  # noqa: F401  (browser: fixture)

pytestmark = pytest.mark.browser
NOTEBOOK = REPO / "notebooks" / "data_tour.py"
CHECKPOINTS = NOTEBOOK.parent / ".ipynb_checkpoints"


def notebook_state() -> tuple[str, int, bytes]:
    """git's view of the opened file, its mtime and bytes (other notebooks may be edited by people meanwhile,
    so only what this test could write is compared)."""
    out = subprocess.run(["git", "status", "--porcelain", "--", str(NOTEBOOK)], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return out, NOTEBOOK.stat().st_mtime_ns, NOTEBOOK.read_bytes()


def jupyter_env(tmp: Path) -> dict[str, str]:
    """Jupyter's per-user dirs in tmp (lab extensions and kernelspecs come from the venv, so jupytext still loads);
    user settings turn autosave off so running a cell never saves the .py file."""
    settings = tmp / "lab-user-settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "lab-user-settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "mpl"}
    return dict(os.environ, **{k: str(tmp / v) for k, v in dirs.items()})


def start_lab(tmp: Path, home: Path, port: int) -> tuple[subprocess.Popen, str]:
    log = tmp / "lab.log"
    proc = subprocess.Popen([sys.executable, "-m", "reaseq_core.cli", "--home", str(home), "notebooks",
                             "--port", str(port)], cwd=tmp, env=jupyter_env(tmp), stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"reaseq notebooks exited: {log.read_text()[-3000:]}")
        url = re.search(r"http://127\.0\.0\.1:\d+/lab\?token=\w+", log.read_text())
        try:
            if url:
                with urllib.request.urlopen(url.group(0), timeout=2) as r:
                    if r.status == 200:
                        return proc, url.group(0)
        except OSError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"JupyterLab did not answer within 120 s: {log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group, then anything it started elsewhere (kernels get their own session)."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    _, alive = psutil.wait_procs(family, timeout=10)
    for p in alive:
        p.kill()


@pytest.fixture
def lab(tmp_path, tmp_store, beauty):  # beauty: ingested once into tmp_store, so the cell only loads it
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    pytest.importorskip("jupyterlab")
    proc, url = start_lab(tmp_path, tmp_store.root, free_port())
    try:
        yield url
    finally:
        stop(proc)


def test_py_percent_opens_as_notebook_and_first_cell_runs(lab, browser):  # noqa: F811
    had_checkpoints = CHECKPOINTS.exists()
    before = notebook_state()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(lab, wait_until="domcontentloaded")
        entry = page.locator(".jp-DirListing-item", has_text="data_tour.py")
        entry.wait_for(timeout=90000)
        entry.dblclick()  # the default viewer: Jupytext Notebook, not the text editor
        panel = page.locator(".jp-NotebookPanel", has=page.locator(".jp-Cell"))
        panel.wait_for(timeout=60000)
        assert page.locator(".jp-FileEditor:visible").count() == 0
        cell = panel.locator(".jp-CodeCell").first
        cell.locator(".cm-content", has_text="ensure_dataset").wait_for(timeout=30000)  # editor filled in
        # a cell run before the kernel is connected is dropped, not queued: wait for the kernel first
        page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=120000)
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        cell.locator(".jp-InputPrompt", has_text="[1]").wait_for(timeout=120000)
        outputs = cell.locator(".jp-OutputArea-output")
        outputs.first.wait_for(timeout=30000)
        assert cell.locator('[data-mime-type="application/vnd.jupyter.error"]').count() == 0
        assert "beauty" in outputs.first.inner_text().lower()
        shoot(page, "notebooks_data_tour")
    except Exception:
        shoot(page, "notebooks_data_tour_failed")   # what the page showed, for the failure report
        raise
    finally:
        page.close()
    after = notebook_state()
    if not had_checkpoints and CHECKPOINTS.is_dir():
        # JupyterLab copies a file it opens into .ipynb_checkpoints (git-ignored); remove what it made here
        shutil.rmtree(CHECKPOINTS)
    assert after == before, "data_tour.py was written while the cell ran"
