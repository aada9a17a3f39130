"""Every notebook in notebooks/ runs top to bottom in its small configuration (REASEQ_SMALL=1)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch, output_dir):
    import jupytext
    import nbformat
    from nbclient import NotebookClient

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
