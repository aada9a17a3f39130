"""Every notebook in notebooks/ runs top to bottom in its small configuration (REASEQ_SMALL=1).

The notebooks read and write the artifact store at $REASEQ_HOME: here that is a temporary copy of the
committed store (with the set-up artifacts), set in the kernel's environment, so a run never touches
data/artifacts; the test checks that git sees no change under data/ afterwards.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.store import ArtifactStore

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))
COMMITTED_ROOT = REPO / "data" / "artifacts"
SETUP_ARTIFACTS = (cat.ITEMS, cat.INTERACTIONS, cat.DEMAND, cat.DATASET_CARD, cat.TITLE_VECTORS)


def git_status_data() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", "data/"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def notebook_home(tmp_path_factory):
    """A private copy of the committed store, set-up artifacts included (the notebooks start from them)."""
    committed = ArtifactStore(COMMITTED_ROOT)
    missing = [str(committed.path("beauty", a)) for a in SETUP_ARTIFACTS if not committed.exists("beauty", a)]
    if missing:
        pytest.fail(f"the committed store lacks the set-up artifacts {missing}: run "
                    f"`{cat.ITEMS.producing_command('beauty')}` and "
                    f"`{cat.TITLE_VECTORS.producing_command('beauty')}` (scripts/_setup.sh runs both)")
    root = tmp_path_factory.mktemp("notebook_store")
    shutil.copytree(COMMITTED_ROOT, root, dirs_exist_ok=True)
    before = git_status_data()
    yield root
    assert git_status_data() == before, "a notebook changed the repository under data/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, notebook_home, monkeypatch, output_dir):
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    # The kernel is a child process: it inherits these, so the notebook's ArtifactStore() is the copy.
    monkeypatch.setenv("REASEQ_HOME", str(notebook_home))
    monkeypatch.setenv("REASEQ_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(path)
    client = NotebookClient(nb, kernel_name="python3", timeout=900, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    out = output_dir / "notebooks"
    out.mkdir(exist_ok=True)
    nbformat.write(nb, out / f"{path.stem}.ipynb")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "the notebook printed nothing"
