"""The Amazon 2018 raw-format adapter on the real Magazine_Subscriptions files."""
from __future__ import annotations

import pytest

from reaseq_core.data import ensure_dataset


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
