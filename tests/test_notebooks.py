"""Every notebook in notebooks/ runs top to bottom in its small configuration (REASEQ_SMALL=1).

The notebooks read and write the artifact store at $REASEQ_HOME: here that is a temporary copy of the
committed store (with the set-up artifacts), set in the kernel's environment, so a run never touches
data/artifacts; the test checks that git sees no change under data/ afterwards.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.py"))


@pytest.fixture(scope="module")
def notebook_home(committed_store, tmp_path_factory):
    """A private copy of the committed store, set-up artifacts included (the notebooks start from them);
    conftest's committed_store checks that git sees no change under data/ after the notebooks ran."""
    root = tmp_path_factory.mktemp("notebook_store")
    shutil.copytree(committed_store.root, root, dirs_exist_ok=True)
    return root


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
