"""Where things live: the repository, the artifact root and the raw datasets.

Every location can be overridden, in this order: an explicit argument, an environment variable, the default.
- REASEQ_HOME: artifact root (default: <repo>/data/artifacts)
- REASEQ_DATA_DIR: a directory holding raw datasets (searched first), then <repo>/data/datasets,
  then ../shared/datasets beside the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def artifact_root(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("REASEQ_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return REPO_ROOT / "data" / "artifacts"


def dataset_search_path(explicit: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched, in order, for a raw dataset folder."""
    dirs: list[Path] = []
    if explicit:
        dirs.append(Path(explicit).expanduser().resolve())
    env = os.environ.get("REASEQ_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser().resolve())
    dirs.append(REPO_ROOT / "data" / "datasets")
    dirs.append(REPO_ROOT.parent / "shared" / "datasets")
    return dirs
