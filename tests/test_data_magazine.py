"""The Amazon 2018 raw-format adapter on the real Magazine_Subscriptions files, and the raw files the
repository ships in data/datasets/."""
from __future__ import annotations

import hashlib
import re

import pytest

from reaseq_core.config import REPO_ROOT, dataset_search_path
from reaseq_core.data import ensure_dataset

SHIPPED = REPO_ROOT / "data" / "datasets"


@pytest.fixture(scope="module")
def magazine(tmp_store, magazine_raw):
    return ensure_dataset("magazine", tmp_store)


def test_counts_and_merge_report(magazine):
    c, rep = magazine.card["counts"], magazine.card["ingest_report"]
    assert c["interactions"] == 2375 and c["users"] == 348 and c["items"] == 157
    assert rep["meta_lines"] == 3385 and rep["meta_distinct_items"] == 2320
    assert rep["meta_duplicate_lines_merged"] == 3385 - 2320
    assert rep["reviewed_items_without_metadata"] == 6
    assert len(rep["items_without_metadata_ids"]) == 6
    flagged = magazine.items[magazine.items["flags"].str.contains("no_metadata")]
    assert len(flagged) == 6 and flagged["title"].isna().all()  # kept, not silently dropped


def test_review_summaries_become_demand_expressions(magazine):
    d = magazine.demand
    assert len(d) == magazine.card["counts"]["demand_expressions"] > 2000
    assert set(d["source"]) == {"review_summary"}
    assert d["text"].str.len().gt(0).all()
    assert "Cheapskates guide" in set(d["text"])


def test_details_become_attributes_and_html_titles_are_handled(magazine):
    items = magazine.items[~magazine.items["flags"].str.contains("no_metadata")]
    attrs = items["attributes"]
    assert attrs.map(lambda a: "Publisher" in a or "Format" in a).mean() > 0.9
    assert not attrs.map(lambda a: any(k.upper().startswith("ASIN") for k in a)).any()
    assert not items["title"].dropna().str.contains("<span|</|{", regex=True).any()
    assert items["flags"].str.contains("title_html").sum() == magazine.card["ingest_report"]["titles_with_markup"] > 0
    assert not magazine.items["category_path"].map(" > ".join).str.contains("&amp;").any()


def test_shipped_raw_files_are_found_first_and_match_their_source_card(monkeypatch):
    """Data travels with the repository: data/datasets is searched before ../shared/datasets, and every
    shipped file is byte-identical to the one SOURCE.md describes (size and sha256)."""
    monkeypatch.delenv("REASEQ_DATA_DIR", raising=False)
    assert dataset_search_path()[:2] == [SHIPPED, REPO_ROOT.parent / "shared" / "datasets"]
    assert dataset_search_path("/x/y")[0].as_posix() == "/x/y"  # an explicit --data-dir still comes first
    for folder in ("amazon-beauty-2014", "amazon-2018-magazine-subscriptions"):
        d = SHIPPED / folder
        listed = re.findall(r"^\| `([^`]+)` \| ([0-9,]+) \| `([0-9a-f]{64})` \|$", (d / "SOURCE.md").read_text(),
                            flags=re.M)
        assert sorted(n for n, _, _ in listed) == sorted(p.name for p in d.iterdir() if p.name != "SOURCE.md")
        for name, size, digest in listed:
            data = (d / name).read_bytes()
            assert len(data) == int(size.replace(",", "")), name
            assert hashlib.sha256(data).hexdigest() == digest, name
