"""Knowledge-enhanced vectors (paper 2.1.2), the Tables 1-2 analogues and the Figure 7 examples.

The knowledge here is a HAND-WRITTEN TEST FIXTURE for six real Beauty fragrance items (written by a
person for these tests, never shipped): it exercises the parsing, the vector arithmetic, the pools and
the tables with the real encoder and the real dataset, and says nothing about the LLM's knowledge.
"""
from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from reaseq_core import catalogue as cat
from reaseq_core.errors import DataError, MissingArtifact
from reaseq_core.representation import retrieval_metrics as rm
from reaseq_core.representation.encoder import encode
from reaseq_core.representation.item_space import load_item_space
from reaseq_core.representation.knowledge_vectors import (build_knowledge_vectors, dataset_with_clean_text,
                                                          knowledge_texts, parse_entries, perspective_text)
from reaseq_core.representation.status import status
from reaseq_core.representation.tables import (ARM_LABELS, POOL_LABELS, SUBSET_CATALOGUE_LABEL, build_tables,
                                               hr_users)
from reaseq_core.representation.title_vectors import build_title_vectors
from reaseq_core.store import ArtifactStore

LIGHT_BLUE = ["B000AQF50Y", "B000Q0VBOS", "B000VOPG0E", "B000WZR1R8"]   # one product line (proxy)
PRADA, VERSACE = "9788072216", "9790790961"


def _entry(dim, kws, evidence, grounded=True):
    return {"dimension": dim, "analysis": f"fixture analysis of {dim}", "keywords": kws, "evidence": evidence,
            "grounded": grounded, "grounding_note": "fixture"}


def _row(item, setup, ud, pa, status="ok", reason=None):
    flags = [e["grounded"] for e in ud + pa]
    return {"item_id": item, "setup": setup, "status": status, "failure_reason": reason,
            "user_demand": json.dumps(ud), "product_attribute": json.dumps(pa),
            "grounding_rate": float(np.mean(flags)) if flags else float("nan"), "template_hash": "fixture",
            "model": "hand-written-test-fixture", "created": "2026-11-27T00:00:00+00:00",
            "primary_category": "Fragrance", "sub_category": "fixture",
            "dimensions_demand": json.dumps([e["dimension"] for e in ud]),
            "dimensions_attribute": json.dumps([e["dimension"] for e in pa]), "attempts": 1, "latency_s": 0.0,
            "completion_tokens": 0, "backend": "fixture"}


def fixture_knowledge() -> pd.DataFrame:
    rows = []
    for i, item in enumerate(LIGHT_BLUE):
        gender = "women" if i < 2 else "men"
        rows.append(_row(item, "multi_agent",
                         [_entry("Scent Mood", ["fresh", "citrus", "summer"], ["title"]),
                          _entry("Gift Fit", [f"gift for {gender}"], ["category_path"])],
                         [_entry("Concentration", ["eau de toilette"], ["title"]),
                          _entry("Brand Tier", ["designer", "Dolce & Gabbana"], ["brand"])]))
    rows.append(_row(PRADA, "multi_agent", [_entry("Scent Mood", ["sweet", "caramel"], ["title"], grounded=False)],
                     [_entry("Concentration", ["eau de parfum"], ["title"])]))
    rows.append(_row(VERSACE, "multi_agent", [_entry("Scent Mood", ["floral", "fruity"], ["title"])],
                     [_entry("Concentration", ["eau de toilette"], ["title"]),
                      _entry("Size", [], ["title"])]))                     # no keywords: left out of t^p
    for item in LIGHT_BLUE[:2] + [PRADA, VERSACE]:
        rows.append(_row(item, "single_agent", [_entry("Use", ["daily wear"], ["title"])],
                         [_entry("Type", ["perfume"], ["title"], grounded=False)]))
    rows.append(_row(LIGHT_BLUE[2], "single_agent", [], [], status="failed", reason="missing dimensions"))
    rows.append(_row("B000052ZTY", "multi_agent", [], [], status="failed", reason="invalid JSON after 3 retries"))
    rows.append(_row("NOT-AN-ITEM", "multi_agent", [_entry("X", ["y"], [])], [_entry("X", ["y"], [])]))
    return pd.DataFrame(rows)


def fragrance_ids(beauty) -> set[str]:
    return set(beauty.items.loc[beauty.items["primary_category"] == "Fragrance", "item_id"])


@pytest.fixture(scope="module")
def data_only_store(beauty, tmp_store, tmp_path_factory):
    """A private store holding only the real Beauty data."""
    store = ArtifactStore(tmp_path_factory.mktemp("representation_data_only"))
    shutil.copytree(tmp_store.stage_dir("beauty", "data"), store.stage_dir("beauty", "data"))
    return store


@pytest.fixture(scope="module")
def kstore(beauty, tmp_store, tmp_path_factory):
    """A private store holding the real Beauty data, title vectors of the Fragrance items (the tests' pool: the
    whole catalogue would cost minutes of CPU) and the fixture knowledge."""
    store = ArtifactStore(tmp_path_factory.mktemp("representation_artifacts"))
    shutil.copytree(tmp_store.stage_dir("beauty", "data"), store.stage_dir("beauty", "data"))
    items = beauty.items[beauty.items["item_id"].isin(fragrance_ids(beauty))]
    build_title_vectors(dataset_with_clean_text(dataclasses.replace(beauty, items=items)), store, show_progress=False)
    store.write("beauty", cat.ITEM_KNOWLEDGE, fixture_knowledge(), {"note": "hand-written test fixture"})
    return store


def test_perspective_text_is_dimension_plus_keywords():
    entries = [_entry("Scent Mood", ["fresh", " citrus "], []), _entry("Size", [], []),
               _entry("Gift Fit", ["gift"], [])]
    assert perspective_text(entries) == "Scent Mood: fresh, citrus; Gift Fit: gift"


def test_knowledge_texts_from_the_fixture(beauty):
    texts = knowledge_texts(fixture_knowledge(), "multi_agent", item_pool=set(beauty.items["item_id"]))
    assert texts.item_ids == LIGHT_BLUE + [PRADA, VERSACE]
    assert texts.t_u[0] == "Scent Mood: fresh, citrus, summer; Gift Fit: gift for women"
    assert texts.t_p[0] == "Concentration: eau de toilette; Brand Tier: designer, Dolce & Gabbana"
    assert texts.t_p[-1] == "Concentration: eau de toilette"
    assert texts.skipped == {"failed": 1, "empty_user_demand": 0, "empty_product_attribute": 0, "not_in_dataset": 1}
    assert knowledge_texts(fixture_knowledge(), "single_agent").item_ids == LIGHT_BLUE[:2] + [PRADA, VERSACE]


def test_malformed_knowledge_names_row_and_field():
    with pytest.raises(DataError, match=r"k\.parquet, line 7, field 'user_demand': not valid JSON"):
        parse_entries('[{"dimension": "a", "keywords": ["x"]', "k.parquet", 7, "user_demand")
    with pytest.raises(DataError, match="entry 0 has no string 'dimension'"):
        parse_entries('[{"keywords": ["x"]}]', "k.parquet", 1, "product_attribute")
    with pytest.raises(DataError, match="must be a list of strings"):
        parse_entries('[{"dimension": "a", "keywords": "x, y"}]', "k.parquet", 1, "product_attribute")
    bad = fixture_knowledge()
    bad.loc[2, "product_attribute"] = "{not json"
    with pytest.raises(DataError, match="line 3, field 'product_attribute'"):
        knowledge_texts(bad, "multi_agent")


def test_h_is_the_sum_of_the_two_perspective_embeddings(beauty, kstore):
    report = build_knowledge_vectors(beauty, kstore)
    assert report["knowledge_vectors"]["items"] == 6 and report["single_agent_vectors"]["items"] == 4
    z = kstore.read("beauty", cat.KNOWLEDGE_VECTORS)
    ids, h = z["item_ids"], z["vectors"]
    assert ids.tolist() == LIGHT_BLUE + [PRADA, VERSACE] and h.shape == (6, 384)
    expected = encode(["Scent Mood: sweet, caramel"]) + encode(["Concentration: eau de parfum"])
    np.testing.assert_allclose(h[4], expected[0], atol=1e-5)
    norms = np.linalg.norm(h, axis=1)
    assert (norms > 1.0).all() and (norms <= 2.0 + 1e-5).all()     # sum of two unit vectors, not renormalised
    tm = kstore.read("beauty", cat.TITLE_MAKR_VECTORS)
    assert tm["item_ids"].tolist() == ids.tolist()
    np.testing.assert_allclose(np.linalg.norm(tm["vectors"], axis=1), 1.0, atol=1e-5)
    # the knowledge space: h normalised once, every other item keeps its title vector (item_space's rule)
    space = load_item_space("beauty", "knowledge", kstore)
    assert space.coverage()["knowledge"] == 6 and space.coverage()["items"] == len(fragrance_ids(beauty))
    np.testing.assert_allclose(space.vectors[space.rows([PRADA])[0]], h[4] / np.linalg.norm(h[4]), atol=1e-6)
    assert space.knowledge_only().item_ids.tolist() == sorted(ids.tolist(), key=space.item_ids.tolist().index)


@pytest.fixture(scope="module")
def tables(beauty, kstore):
    fragrance = fragrance_ids(beauty)
    return build_tables(beauty, kstore, item_subset=fragrance), fragrance


def test_tables_need_the_title_vectors(beauty, data_only_store):
    """No silent re-encoding: without the title space the tables name the command that builds it."""
    with pytest.raises(MissingArtifact, match="reaseq represent build --dataset beauty --title-only"):
        build_tables(beauty, data_only_store, item_subset=fragrance_ids(beauty))


def test_tables_pools_arms_and_counts(beauty, kstore, tables):
    out, fragrance = tables
    t1, t2 = out["table1"], out["table2"]
    pools = [(r["pool"], r["arm"], r["items"]) for r in t1.rows]
    assert pools == [(SUBSET_CATALOGUE_LABEL, ARM_LABELS["title"], len(fragrance)),
                     (POOL_LABELS["makr"], ARM_LABELS["title"], 6), (POOL_LABELS["makr"], ARM_LABELS["makr"], 6),
                     (POOL_LABELS["makr"], ARM_LABELS["title_makr"], 6),
                     (POOL_LABELS["makr_single"], ARM_LABELS["title"], 4),
                     (POOL_LABELS["makr_single"], ARM_LABELS["makr"], 4),
                     (POOL_LABELS["makr_single"], ARM_LABELS["single"], 4),
                     (POOL_LABELS["makr_single"], ARM_LABELS["title_makr"], 4)]
    # users, counted here independently: target (last item) in the pool and >= 1 earlier item in it
    seqs = beauty.sequences()
    for label, ids in ((SUBSET_CATALOGUE_LABEL, fragrance), (POOL_LABELS["makr"], set(LIGHT_BLUE + [PRADA, VERSACE]))):
        n = sum(1 for s in seqs.values() if s[-1] in ids and any(x in ids for x in s[:-1]))
        assert {r["users"] for r in t1.rows if r["pool"] == label} == {n}
    assert out["counts"]["makr"]["users"] == 1               # user A2GWNGQF9SHRE4: ... B000Q0VBOS, ..., Prada
    split = out["counts"]["makr"]["by_target_category"]      # one Fragrance pool: every target's category is known
    assert split["users_not_in_history"] == 0 and split["makr"]["not_in_history"] is None
    assert split["title"]["same_category_top5"] == 100.0 and "in their pool history" in t1.notes
    # the k lists are capped by pool size - 1: 491 others in the catalogue pool, 5 in the MAKR pool
    cat = t1.rows[0]
    assert cat["HR@200"] is not None and cat["HR@500"] is None
    assert all(t1.rows[1][f"HR@{k}"] is None for k in rm.HR_KS) and t1.rows[1]["macro_recall"] is None
    assert out["counts"]["makr"]["sm_hr_ks"] == [1, 5]
    # SM-HR: the four Light Blue items are the only queries of the MAKR pool; with k = all 5 others every
    # query finds a sibling, in every arm
    for r in t2.rows:
        if r["pool"] == POOL_LABELS["makr"]:
            assert r["queries"] == 4 and r["SM-HR@5"] == 100.0
            assert 0.0 <= r["SM-HR@1"] <= 100.0
    for r in t1.rows + t2.rows:
        if r["arm"] == ARM_LABELS["title"]:
            assert r["macro_delta_vs_title"] is None
    # the whole-catalogue HR values are monotone in k and come with a bootstrap std
    vals = [cat[f"HR@{k}"] for k in (30, 50, 100, 200)]
    assert vals == sorted(vals) and 0 < vals[-1] <= 100 and cat["HR@30_std"] > 0


def test_tables_carry_their_protocol_and_are_stored(beauty, kstore, tables):
    out, _ = tables
    t1 = out["table1"]
    assert t1.dataset_hash == beauty.card["content_hash"] and t1.paper_reference["rows"]
    assert any("MiniLM" in d for d in t1.deviations) and any("I2T" in d for d in t1.deviations)
    assert any("hand-written-test-fixture" in d for d in t1.deviations)        # the model that made the knowledge
    assert any("256 word pieces are truncated" in d for d in t1.deviations)
    stored = kstore.read("beauty", cat.TABLE1_HR)
    assert stored["rows"] == json.loads(json.dumps(t1.rows)) and stored["name"] == "table1_hr"
    assert "product line" in kstore.read("beauty", cat.TABLE2_SMHR)["protocol"]
    prov = kstore.provenance("beauty", cat.TABLE1_HR)
    assert prov["knowledge"]["title_space"]["items"] == len(tables[1]) and prov["config"]["bootstrap"] == 1000


def test_figure7_examples(tables):
    fig7 = tables[0]["figure7"]
    assert fig7["items_with_both_setups_attempted"] == 5 and fig7["items_with_a_failed_setup"] == 1
    assert fig7["items"] == 4 and [e["item_id"] for e in fig7["examples"]] == sorted(LIGHT_BLUE[:2] + [PRADA, VERSACE])
    prada = next(e for e in fig7["examples"] if e["item_id"] == PRADA)
    # grounding is re-classified against the item's fields, whatever flags the rows were stored with: the
    # title "Prada Candy ... Eau De Parfum ..." bears out "eau de parfum" (supported), not "sweet, caramel" (beyond)
    m = prada["multi_agent"]
    assert m["entries_user_demand"] == 1 and m["ungrounded_entries"] == 1 and m["contradicted_entries"] == 0
    assert [e["grounding"] for e in m["user_demand"] + m["product_attribute"]] == ["beyond", "supported"]
    assert m["grounding_rate"] == pytest.approx(0.5)
    # the single-agent entries stored as grounded=True ("daily wear" citing the title) are beyond the title
    s = prada["single_agent"]
    assert s["product_attribute"][0]["keywords"] == ["perfume"]
    assert s["user_demand"][0]["grounded"] is False and s["user_demand"][0]["grounding"] == "beyond"
    assert fig7["summary_means"]["single_agent"]["grounding_rate"] == pytest.approx(0.0)
    assert fig7["summary_means"]["multi_agent"]["contradicted_entries"] == 0


def test_status_reports_every_arm(kstore, tables):
    fig = status(kstore, "beauty")
    assert fig["knowledge_vectors_items"] == 6 and fig["figure7_items"] == 4
    assert set(fig["hr_percent"]) == {"catalogue/title", "makr/title", "makr/makr", "makr/title_makr",
                                      "makr_single/title", "makr_single/makr", "makr_single/single",
                                      "makr_single/title_makr"}
    assert fig["sm_hr_percent"]["makr/makr"]["SM-HR@5"] == 100.0
    assert status(ArtifactStore(kstore.root / "empty"), "beauty") is None


def test_hr_users_rule_by_hand():
    seqs = {"u1": ["a", "x", "b"], "u2": ["x", "y", "a"], "u3": ["b", "a", "b"], "u4": ["a"]}
    users, hists, targets, counts = hr_users(seqs, ["a", "b"])
    # u1: target b, history {a} (x is outside the pool); u2: target a but no history in the pool; u3: target b,
    # history {b, a} (b repeats the target); u4: too short
    assert users == ["u1", "u3"] and [h.tolist() for h in hists] == [[0], [0, 1]] and targets.tolist() == [1, 1]
    assert counts == {"users_total": 4, "target_in_pool": 3, "users": 2, "history_all_in_pool": 1,
                      "target_repeats_history_item": 1}


def test_catalogue_hr_matches_a_brute_force_numpy_ranking(beauty, kstore, tables):
    """The faiss path against an independent argsort over all cosine similarities (Fragrance pool)."""
    out, fragrance = tables
    ids = sorted(fragrance)
    space = load_item_space("beauty", "title", kstore)
    v = rm.normalise(space.vectors[space.rows(ids)])
    users, hists, targets, _ = hr_users(beauty.sequences(), ids)
    ks = np.array([30, 50, 100, 200])
    hits = np.zeros((len(users), len(ks)), bool)
    for u, (hist, y) in enumerate(zip(hists, targets)):
        sims = v[hist] @ v.T
        sims[np.arange(len(hist)), hist] = -np.inf             # a history item is not its own neighbour
        rank = np.where(np.argsort(-sims, axis=1, kind="stable") == y)[1].min()
        hits[u] = rank < ks
    row = out["table1"].rows[0]
    assert [row[f"HR@{k}"] for k in ks] == pytest.approx(list(100 * hits.mean(axis=0)), abs=1e-3)


def test_small_run_is_written_beside_the_full_one(beauty, kstore, tables):
    """`run=cat.SMALL_RUN` writes the same entries under <stage>/small/, leaving the full run's files alone."""
    from reaseq_core.representation.tables import TablesConfig
    full = kstore.path("beauty", cat.TABLE1_HR).read_bytes()
    out = build_tables(beauty, kstore, item_subset=set(LIGHT_BLUE + [PRADA, VERSACE]), run=cat.SMALL_RUN,
                       cfg=TablesConfig(bootstrap=20))
    assert kstore.path("beauty", cat.TABLE1_HR).read_bytes() == full
    small = kstore.read("beauty", cat.TABLE1_HR, run=cat.SMALL_RUN)
    assert small["name"] == "table1_hr" and small["rows"] == json.loads(json.dumps(out["table1"].rows))
    assert kstore.path("beauty", cat.FIGURE7_EXAMPLES, run=cat.SMALL_RUN).parent.name == cat.SMALL_RUN
    assert kstore.read("beauty", cat.FIGURE7_EXAMPLES, run=cat.SMALL_RUN)["items"] == 4
    assert kstore.provenance("beauty", cat.TABLE2_SMHR, run=cat.SMALL_RUN)["config"]["bootstrap"] == 20


def test_category_split_by_hand():
    """Macro recall split by whether the target's primary category is in the history, and the share of
    top-k neighbours inside an item's own category, on four items of two categories."""
    from reaseq_core.representation.tables import category_split
    # a, b (category X) point one way, c, d (category Y) the other: every item's nearest neighbour is in its own
    # category
    vecs = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    cats = np.array(["X", "X", "Y", "Y"], dtype=object)
    hits = np.array([[True, True], [False, True], [False, False]])      # three users, two k values
    cross = np.array([False, False, True])                              # the third user's target is in Y, history in X
    out = category_split(hits, cross, vecs, cats, k=1)
    assert out == {"in_history": 75.0, "not_in_history": 0.0, "same_category_top1": 100.0}
    out3 = category_split(hits, cross, vecs, cats, k=3)                  # 1 of 3 neighbours shares the category
    assert out3["same_category_top3"] == round(100 / 3, 4)
