"""Shared fixtures. Real data only: the raw files come from ../shared/datasets (or $REASEQ_DATA_DIR)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from reaseq_core.config import dataset_search_path
from reaseq_core.store import ArtifactStore

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output"


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
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


def pytest_configure(config):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
