"""Verdicts on cases (reaseq_core/review.py): save and replace, outdated, agreement and Cohen's kappa on a
tiny hand-computed example, CSV export, atomic writes and clear errors. Every test writes to a temporary
store (never data/artifacts)."""
from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from reaseq_core import catalogue as cat
from reaseq_core import review
from reaseq_core.store import ArtifactStore

DS = "beauty"
PROV = {"multi_agent": {"template_hash": "t1", "model": "m", "created": "2026-11-28T10:00:00+00:00"}}


@pytest.fixture()
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path)


def save(store, case, verdict, reviewer, kind="item_knowledge", prov=PROV, note=""):
    return review.save_verdict(store, DS, kind, case, verdict, reviewer, prov, note,
                               timestamp="2026-11-30T12:00:00+00:00")


def test_the_catalogue_entry_of_the_review_stage():
    assert cat.VERDICTS.stage == "review" and not cat.VERDICTS.committed
    assert cat.VERDICTS.producing_command(DS) == cat.STAGE_COMMANDS["review"].format(dataset=DS)
    assert list(cat.VERDICTS.columns) == review.COLUMNS


def test_no_verdicts_is_an_empty_table(store):
    df = review.read_verdicts(store, DS)
    assert df.empty and list(df.columns) == review.COLUMNS


def test_save_then_replace_by_the_same_reviewer(store):
    save(store, "B001", "good", "Ana", note="fine")
    save(store, "B001", "wrong", "Bob")
    save(store, "B002", "unsure", "Ana")
    assert len(review.read_verdicts(store, DS)) == 3
    save(store, "B001", "wrong", " ana ", note="on second look, wrong")  # the same reviewer (case, spaces)
    df = review.read_verdicts(store, DS)
    assert len(df) == 3
    mine = review.case_verdicts(store, DS, "item_knowledge", "B001").set_index("reviewer")
    assert sorted(mine.index) == ["Bob", "ana"]
    assert mine.at["ana", "verdict"] == "wrong" and mine.at["ana", "note"] == "on second look, wrong"
    assert json.loads(mine.at["ana", "provenance"]) == PROV
    # the same item under another case kind is another case
    save(store, "B001", "good", "Ana", kind="single_vs_multi")
    assert len(review.read_verdicts(store, DS)) == 4
    prov = store.provenance(DS, cat.VERDICTS)
    assert prov["stage"] == "review" and prov["verdicts"] == 4 and prov["reviewers"] == ["Ana", "Bob", "ana"]


def test_outdated_when_the_reviewed_thing_is_regenerated():
    v = {"provenance": json.dumps(PROV)}
    assert not review.outdated(v, json.loads(json.dumps(PROV)))   # same provenance, any key order
    regenerated = {"multi_agent": {**PROV["multi_agent"], "created": "2026-12-01T09:00:00+00:00"}}
    assert review.outdated(v, regenerated)
    assert review.outdated(v, {**PROV, "single_agent": PROV["multi_agent"]})  # a new setup was added
    assert review.outdated(v, None)                                           # the case is gone
    assert review.state(v, PROV) == "current" and review.state(v, regenerated) == "outdated"
    assert review.state(v, None) == "not found"


def knowledge_rows(rows: list[dict]) -> pd.DataFrame:
    """item_knowledge rows with every declared column (typed placeholders for the ones a test ignores)."""
    blank = {"str": "", "int": 0, "float": 0.0}
    return pd.DataFrame([{c: r.get(c, blank[t]) for c, t in cat.ITEM_KNOWLEDGE.columns.items()} for r in rows])


def test_current_provenance_of_each_kind_from_the_store(store):
    kn = knowledge_rows([{"item_id": "B001", "setup": s, "status": "ok", "template_hash": h, "model": "m",
                          "created": "2026-11-28T10:00:00+00:00"} for s, h in (("single_agent", "t0"),
                                                                                ("multi_agent", "t1"))])
    store.write(DS, cat.ITEM_KNOWLEDGE, kn)
    tax = {"categories": {"A/B": {"demand": {"dimensions": ["x"]}, "subcategories": {
        "C/D": {"demand": {"final": ["x"]}, "attribute": {"final": ["y"]}}}}},
        "templates": {"demand_taxonomy": "d", "attribute_taxonomy": "a", "dimension_refinement": "r"},
        "model": {"model": "m"}}
    store.write(DS, cat.TAXONOMY, tax)
    p_item = review.knowledge_provenance(kn, "B001")
    assert p_item == {"multi_agent": {"template_hash": "t1", "model": "m", "created": "2026-11-28T10:00:00+00:00"},
                      "single_agent": {"template_hash": "t0", "model": "m", "created": "2026-11-28T10:00:00+00:00"}}
    case = review.taxonomy_case_id("A/B", "C/D", "demand")   # names holding '/' still split right
    p_tax = review.taxonomy_provenance(tax, "A/B", "C/D", "demand")
    assert p_tax["templates"] == {"demand_taxonomy": "d", "dimension_refinement": "r"}
    assert p_tax["category_created"] is None and len(p_tax["content_hash"]) == 16
    assert review.taxonomy_provenance(tax, "A/B", "C/D", "attribute")["content_hash"] != p_tax["content_hash"]
    save(store, "B001", "good", "Ana", prov=p_item)
    save(store, case, "good", "Ana", kind="taxonomy", prov=p_tax)
    save(store, "B999", "good", "Ana", prov=p_item)   # a case the knowledge table does not hold
    v = review.read_verdicts(store, DS)
    states = review.with_states(v, review.current_provenances(store, DS, v)).set_index("case_id")["state"]
    assert states.to_dict() == {"B001": "current", case: "current", "B999": "not found"}
    # the taxonomy's Layer-2 block is regenerated: the taxonomy verdict is outdated, the item's is not
    tax["categories"]["A/B"]["subcategories"]["C/D"]["demand"]["final"] = ["x", "z"]
    store.write(DS, cat.TAXONOMY, tax)
    states = review.with_states(v, review.current_provenances(store, DS, v)).set_index("case_id")["state"]
    assert states[case] == "outdated" and states["B001"] == "current"


def test_fill_provenance_names_the_file_when_it_lacks_a_field():
    assert review.fill_provenance({"created": "c", "code_version": "v", "seed": 0}) == \
        {"created": "c", "code_version": "v"}
    with pytest.raises(review.ReviewError, match="somewhere/fills: the provenance lacks code_version"):
        review.fill_provenance({"created": "c"}, "somewhere/fills")


def test_agreement_and_cohens_kappa_by_hand():
    """Ana and Bob judge four items: good/good, good/wrong, wrong/wrong, unsure/unsure.
    p_o = 3/4; Ana's shares good .5, wrong .25, unsure .25; Bob's good .25, wrong .5, unsure .25;
    p_e = .5*.25 + .25*.5 + .25*.25 = .3125; kappa = (.75 - .3125) / (1 - .3125) = 7/11.
    Cy judges the first item only (good): that case has three reviewers, all agreeing."""
    rows = [("i1", "Ana", "good"), ("i1", "Bob", "good"), ("i2", "Ana", "good"), ("i2", "Bob", "wrong"),
            ("i3", "Ana", "wrong"), ("i3", "Bob", "wrong"), ("i4", "Ana", "unsure"), ("i4", "Bob", "unsure"),
            ("i1", "Cy", "good"), ("i5", "Cy", "wrong")]   # i5: one reviewer, not in the agreement
    v = pd.DataFrame([{"case_kind": "item_knowledge", "case_id": c, "reviewer": r, "verdict": x} for c, r, x in rows])
    per_case = review.case_agreement(v).set_index("case_id")
    assert list(per_case.index) == ["i1", "i2", "i3", "i4"]
    assert per_case["agree"].tolist() == [True, False, True, True]
    assert per_case.at["i1", "reviewers"] == 3 and per_case.at["i2", "verdicts"] == "Ana: good; Bob: wrong"
    assert review.agreement_share(v) == 0.75
    pairs = review.pairwise_kappa(v).set_index(["reviewer_a", "reviewer_b"])
    assert pairs.at[("Ana", "Bob"), "cases"] == 4 and pairs.at[("Ana", "Bob"), "agreement"] == 0.75
    assert pairs.at[("Ana", "Bob"), "kappa"] == pytest.approx(7 / 11)
    # Ana-Cy and Bob-Cy share only i1, both 'good': p_e = 1, kappa undefined
    assert pairs.at[("Ana", "Cy"), "cases"] == 1 and pd.isna(pairs.at[("Ana", "Cy"), "kappa"])
    assert review.cohen_kappa(["good", "wrong"], ["wrong", "good"]) == pytest.approx(-1.0)
    assert review.agreement_share(v[v["reviewer"] == "Ana"]) is None


def test_csv_export_of_a_filtered_list(store):
    save(store, "B001", "good", "Ana", note='says "long-lasting", a claim, not\na fact')
    save(store, "B002", "wrong", "Bob")
    v = review.read_verdicts(store, DS)
    v = review.with_states(v, [PROV, None])
    text = review.to_csv(v[v["reviewer"] == "Ana"])
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert list(back.columns) == review.COLUMNS + ["state"]
    assert len(back) == 1 and back.at[0, "note"] == 'says "long-lasting", a claim, not\na fact'
    assert back.at[0, "state"] == "current" and json.loads(back.at[0, "provenance"]) == PROV


def test_bad_values_give_a_clear_error_and_write_nothing(store):
    with pytest.raises(review.ReviewError, match=r"field 'verdict': 'maybe' is not one of good, wrong, unsure"):
        save(store, "B001", "maybe", "Ana")
    with pytest.raises(review.ReviewError, match="field 'case_kind': 'item' is not one of"):
        save(store, "B001", "good", "Ana", kind="item")
    with pytest.raises(review.ReviewError, match="field 'reviewer': empty"):
        save(store, "B001", "good", "  ")
    with pytest.raises(review.ReviewError, match="field 'provenance'"):
        save(store, "B001", "good", "Ana", prov={})
    assert not store.exists(DS, cat.VERDICTS)


def test_a_bad_stored_row_names_the_file_row_and_field(store):
    save(store, "B001", "good", "Ana")
    df = review.read_verdicts(store, DS)
    df.loc[0, "verdict"] = "great"
    store.write(DS, cat.VERDICTS, df)   # e.g. edited by hand
    with pytest.raises(review.ReviewError) as e:
        review.read_verdicts(store, DS)
    assert str(store.path(DS, cat.VERDICTS)) in str(e.value) and "row 0, field 'verdict': 'great'" in str(e.value)


def test_a_failed_write_leaves_the_old_table_whole_and_no_partial_file(store, monkeypatch):
    save(store, "B001", "good", "Ana")
    path = store.path(DS, cat.VERDICTS)
    before, files = path.read_bytes(), sorted(p.name for p in path.parent.iterdir())

    def crash(self, target, **kw):   # writes half a file, then dies
        with open(target, "wb") as fh:
            fh.write(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        save(store, "B002", "wrong", "Bob")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == files   # no temporary file left beside it
    assert review.read_verdicts(store, DS)["case_id"].tolist() == ["B001"]
