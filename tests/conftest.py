"""Shared fixtures. Real data only: the raw files come from ../shared/datasets (or $REASEQ_DATA_DIR)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.config import dataset_search_path
from reaseq_core.store import ArtifactStore

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output"
COMMITTED_ROOT = REPO / "data" / "artifacts"
# Not committed: produced at set-up by these two commands (scripts/_setup.sh runs them before the tests).
SETUP_ARTIFACTS = (cat.ITEMS, cat.INTERACTIONS, cat.DEMAND, cat.DATASET_CARD, cat.TITLE_VECTORS)
SETUP_COMMANDS = (cat.ITEMS.producing_command("beauty"), cat.TITLE_VECTORS.producing_command("beauty"))


def raw_folder(name: str) -> Path:
    for d in dataset_search_path():
        if (d / name).is_dir():
            return d / name
    pytest.skip(f"raw dataset folder {name} not found on the search path")


@pytest.fixture(scope="session")
def beauty_raw() -> Path:
    return raw_folder("amazon-beauty-2014")


@pytest.fixture(scope="session")
def magazine_raw() -> Path:
    return raw_folder("amazon-2018-magazine-subscriptions")


@pytest.fixture(scope="session")
def tmp_store(tmp_path_factory) -> ArtifactStore:
    """A private artifact root for tests that write (never the shipped data/artifacts)."""
    return ArtifactStore(tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="session")
def beauty(tmp_store):
    """The real Beauty dataset, ingested once per session into the private store."""
    from reaseq_core.data import ensure_dataset
    return ensure_dataset("beauty", tmp_store)


@pytest.fixture(scope="session")
def app_store(tmp_path_factory, tmp_store, beauty):
    """The workbench's fixture store (test_app_fixtures.build_fixture_store), built once per session."""
    from test_app_fixtures import build_fixture_store
    root = tmp_path_factory.mktemp("app_store")
    return build_fixture_store(root, beauty, tmp_store)


def git_status_data() -> str:
    """`git status --porcelain` of data/: what a test must leave as it found it."""
    return subprocess.run(["git", "status", "--porcelain", "--", "data/"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def committed_store() -> ArtifactStore:
    """The committed Beauty store (data/artifacts) with its set-up artifacts, for tests that only read it:
    fails (never skips) naming the set-up commands when those are missing, and fails if git sees a change
    under data/ after the module's tests."""
    store = ArtifactStore(COMMITTED_ROOT)
    missing = [str(store.path("beauty", a)) for a in SETUP_ARTIFACTS if not store.exists("beauty", a)]
    if missing:
        pytest.fail(f"the committed store lacks the set-up artifacts {missing}: run `{SETUP_COMMANDS[0]}` and "
                    f"`{SETUP_COMMANDS[1]}` (scripts/_setup.sh runs both before the tests)")
    before = git_status_data()
    yield store
    assert git_status_data() == before, "a test changed the repository under data/"


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


def pytest_configure(config):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
