"""AppTest of verdicts on cases, on a temporary copy of the committed Beauty store (data/artifacts is never
written: git must see no change under data/): a verdict saved on the Item knowledge page is listed on the
Review page; a second reviewer's different verdict shows as a disagreement; after the item's knowledge is
regenerated (its `created` rewritten in the copy) the verdicts show as outdated. The verdict box on the
Taxonomies, Single vs multi agent and GBR fills pages saves its case too."""
from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest

from conftest import git_status_data
from reaseq_core import catalogue as cat
from reaseq_core import review
from reaseq_core.store import ArtifactStore
from test_app_pages import APP, clean, committed_env, run_page, texts  # noqa: F401 (committed_env: a fixture)
from test_app_fixtures import DATASET

sys.path.insert(0, str(APP))
from lib import review_ui  # noqa: E402

STAGES_SHOWN = ("data", "knowledge", "gbr")   # what the four case pages and the Review page read


@pytest.fixture()
def review_env(committed_store, tmp_path, monkeypatch):
    """A copy of the committed store's stages the review pages read; REASEQ_HOME points at the copy."""
    before = git_status_data()
    copy = ArtifactStore(tmp_path / "store")
    for stage in STAGES_SHOWN:
        shutil.copytree(committed_store.stage_dir(DATASET, stage), copy.stage_dir(DATASET, stage))
    monkeypatch.setenv("REASEQ_HOME", str(copy.root))
    monkeypatch.setenv("REASEQ_APP_DATASET", DATASET)
    yield copy
    assert git_status_data() == before, "a review test changed the repository under data/"


def give_verdict(at, kind: str, case: str, verdict: str, reviewer: str, note: str = ""):
    at.radio(key=review_ui.key(kind, case, "verdict")).set_value(verdict)
    at.text_area(key=review_ui.key(kind, case, "note")).input(note)
    at.text_input(key=review_ui.REVIEWER_WIDGET).input(reviewer)
    at.button(key=review_ui.key(kind, case, "save")).click().run()
    clean(at)
    assert f"Saved: {reviewer} judged this case **{verdict}**." in [s.value for s in at.success]


def frame_with(at, *columns) -> pd.DataFrame:
    """The shown table that has these columns."""
    for df in at.dataframe:
        v = df.value
        v = v.data if hasattr(v, "data") and not hasattr(v, "columns") else v
        if all(c in v.columns for c in columns):
            return v
    raise AssertionError(f"no table with columns {columns}")


def listed(at) -> pd.DataFrame:
    return frame_with(at, "case_kind", "case_id", "reviewer", "verdict", "timestamp", "state")


def test_review_page_without_verdicts_says_how_to_add_one(committed_env):
    at = run_page("Review", None)
    clean(at)
    body = texts(at)
    assert "No verdict has been saved yet" in body and "Save verdict" in body
    assert set(frame_with(at, "case kind", "page")["page"]) == {"Item knowledge", "Taxonomies",
                                                               "Single vs multi agent", "GBR fills"}


def test_item_verdicts_listed_disagreement_then_outdated(review_env):
    store = review_env
    kn = store.read(DATASET, cat.ITEM_KNOWLEDGE)
    iid = sorted(kn["item_id"])[0]
    at = run_page("Item_knowledge", None)
    clean(at)
    at.text_input(key="search").input(iid).run()
    clean(at)
    assert "No verdict on this case yet." in texts(at)
    give_verdict(at, "item_knowledge", iid, "good", "Ana", "demand entries match the title")
    shown = frame_with(at, "reviewer", "saved")
    assert shown["reviewer"].tolist() == ["Ana"] and shown["state"].tolist() == ["current"]

    page = run_page("Review", None)
    clean(page)
    rows = listed(page)
    assert rows[["case_kind", "case_id", "reviewer", "state"]].values.tolist() == \
        [["item_knowledge", iid, "Ana", "current"]]
    assert rows["note"].tolist() == ["demand entries match the title"]
    assert "No case shown here has been judged by two or more reviewers yet." in texts(page)
    assert [b.label for b in page.get("download_button")] == ["Download CSV"]

    # a second reviewer disagrees; the first reviewer's verdict stays
    give_verdict(at, "item_knowledge", iid, "wrong", "Bob", "the attribute side is invented")
    assert "Reviewers **disagree** on this case." in texts(at)
    page.run()
    clean(page)
    assert sorted(listed(page)["reviewer"]) == ["Ana", "Bob"]
    agreement = frame_with(page, "verdicts", "agree")
    assert agreement["agree"].tolist() == ["✗ disagree"]
    assert agreement["verdicts"].tolist() == ["Ana: good; Bob: wrong"]
    assert "**0 of 1** cases judged by two or more reviewers" in texts(page)
    kappa = frame_with(page, "reviewer_a", "kappa")
    assert kappa[["reviewer_a", "reviewer_b", "cases"]].values.tolist() == [["Ana", "Bob", 1]]
    page.selectbox(key="reviewer").set_value("Bob").run()
    assert listed(page)["reviewer"].tolist() == ["Bob"]

    # the item's knowledge is regenerated (a new `created`) in the copy: both verdicts are now outdated
    kn.loc[kn["item_id"] == iid, "created"] = "2026-12-24T08:00:00+00:00"
    store.write(DATASET, cat.ITEM_KNOWLEDGE, kn, {"note": "test: the item's knowledge regenerated"})
    page = run_page("Review", None)
    clean(page)
    assert listed(page)["state"].tolist() == ["⚠ outdated", "⚠ outdated"]
    assert {m.label: m.value for m in page.metric}["outdated"] == "2"
    page.multiselect(key="states").set_value(["current"]).run()
    assert listed(page).empty
    at.run()
    clean(at)
    assert frame_with(at, "reviewer", "saved")["state"].tolist() == ["⚠ outdated: regenerated since"] * 2
    # a fresh verdict by Ana on the regenerated knowledge replaces her outdated one
    give_verdict(at, "item_knowledge", iid, "good", "Ana")
    states = frame_with(at, "reviewer", "saved").set_index("reviewer")["state"]
    assert states["Ana"] == "current" and states["Bob"].startswith("⚠ outdated")
    assert len(review.read_verdicts(store, DATASET)) == 2


def test_taxonomy_pair_and_fill_cases_are_saved_from_their_pages(review_env):
    store = review_env
    tax = store.read(DATASET, cat.TAXONOMY)
    primary = next(iter(tax["categories"]))
    sub = next(iter(tax["categories"][primary]["subcategories"]))

    at = run_page("Taxonomies", None, {review_ui.REVIEWER: "Ana"})   # the name remembered from another page
    clean(at)
    assert at.text_input(key=review_ui.REVIEWER_WIDGET).value == "Ana"
    at.radio(key="perspective").set_value("attribute").run()
    case = review.taxonomy_case_id(primary, sub, "attribute")
    give_verdict(at, "taxonomy", case, "unsure", "Ana", "two dimensions overlap")

    at = run_page("Single_vs_multi_agent", None)
    clean(at)
    iid = at.selectbox(key="item").value
    give_verdict(at, "single_vs_multi", iid, "good", "Ana")

    at = run_page("GBR_fills", None)
    clean(at)
    fill = at.selectbox(key="fill").value
    give_verdict(at, "gbr_fill", fill, "wrong", "Ana")

    page = run_page("Review", None)
    clean(page)
    rows = listed(page).set_index("case_kind")
    assert rows.loc[["taxonomy", "single_vs_multi", "gbr_fill"], "case_id"].tolist() == [case, iid, str(fill)]
    assert set(rows["state"]) == {"current"}
    stored = review.read_verdicts(store, DATASET).set_index("case_kind")["provenance"]
    fills_prov = store.provenance(DATASET, cat.FILLS)
    assert json.loads(stored["gbr_fill"]) == {"created": fills_prov["created"],
                                                     "code_version": fills_prov["code_version"]}
    assert json.loads(stored["taxonomy"])["templates"] == {
        "attribute_taxonomy": tax["templates"]["attribute_taxonomy"],
        "dimension_refinement": tax["templates"]["dimension_refinement"]}
    page.multiselect(key="kinds").set_value(["gbr_fill"]).run()
    assert listed(page)["case_kind"].tolist() == ["gbr_fill"]
