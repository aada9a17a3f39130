"""`reaseq sid build` and `reaseq rank ablation --small` end to end on real Beauty, in a private store,
then `reaseq status` reads both stages back; the ablation never drops an arm that was asked for."""
import json
from types import SimpleNamespace

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.cli import main
from reaseq_core.errors import MissingArtifact
from reaseq_core.ranking.ablation import (KNOWLEDGE_ARM, TABLE3_KNOWLEDGE_VARIANTS, TABLE3_VARIANTS, TABLE4_VARIANTS,
                                          _choose_variants)
from reaseq_core.store import ArtifactStore


def _with_title_vectors(beauty, tmp_store):
    from tests.test_ranking_din import title_vectors_for
    ids, vecs = title_vectors_for(beauty, tmp_store)
    if not tmp_store.exists("beauty", cat.TITLE_VECTORS):
        tmp_store.write("beauty", cat.TITLE_VECTORS, {"item_ids": ids, "vectors": vecs}, {"copied_for_test": True})
    return ids, vecs


def _stub_context(knowledge: bool, knowledge_sids: bool = True) -> SimpleNamespace:
    return SimpleNamespace(dataset=SimpleNamespace(name="beauty"), knowledge_table=object() if knowledge else None,
                           knowledge_feats=object() if knowledge and knowledge_sids else None,
                           knowledge_note="knowledge vectors do not exist yet", skipped={})


def test_a_requested_knowledge_arm_without_vectors_names_the_command(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(MissingArtifact, match="reaseq represent build --dataset beauty"):
        _choose_variants(["Base", KNOWLEDGE_ARM], _stub_context(knowledge=False), store)


def test_the_default_suite_skips_the_knowledge_arm_with_its_reason(tmp_path):
    ctx = _stub_context(knowledge=False)
    variants = _choose_variants(None, ctx, ArtifactStore(tmp_path))
    assert KNOWLEDGE_ARM not in variants and "Base+title vectors" in variants
    assert not set(TABLE3_KNOWLEDGE_VARIANTS) & set(variants)
    for v in [KNOWLEDGE_ARM, *TABLE3_KNOWLEDGE_VARIANTS]:
        assert "knowledge vectors do not exist yet" in ctx.skipped[v]
    ctx = _stub_context(knowledge=True)
    assert (_choose_variants(None, ctx, ArtifactStore(tmp_path))
            == TABLE3_VARIANTS + TABLE4_VARIANTS + TABLE3_KNOWLEDGE_VARIANTS)
    assert ctx.skipped == {}
    # knowledge vectors without their SIDs: the knowledge SID arm waits, with the command that makes them
    ctx = _stub_context(knowledge=True, knowledge_sids=False)
    variants = _choose_variants(None, ctx, ArtifactStore(tmp_path))
    assert "Retrieval (knowledge)" in variants and "Retrieval+Compression+SID (knowledge)" not in variants
    assert "sid build --dataset beauty --vectors knowledge" in ctx.skipped["Retrieval+Compression+SID (knowledge)"]


def test_a_requested_knowledge_sid_arm_without_sids_names_the_command(tmp_path):
    with pytest.raises(MissingArtifact, match="--vectors knowledge"):
        _choose_variants(["Base", "Retrieval+Compression+SID (knowledge)"],
                         _stub_context(knowledge=True, knowledge_sids=False), ArtifactStore(tmp_path))


@pytest.mark.slow
def test_sid_build_and_small_ablation_then_status(beauty, tmp_store, capsys):
    ids, _ = _with_title_vectors(beauty, tmp_store)
    home = str(tmp_store.root)
    assert main(["--home", home, "sid", "build", "--dataset", "beauty", "--epochs", "3"]) == 0
    sids = tmp_store.read("beauty", cat.SIDS)
    assert len(sids) == len(ids)
    table = tmp_store.read("beauty", cat.SID_TABLE)
    assert [(r["vectors"], r["tokenizer"][:6]) for r in table["rows"]] == [("title", "RQ-VAE"), ("title", "residu")]
    assert all(r["items"] == len(ids) and 0 < r["unique_share"] <= 1 and r["L1_usage"] > 0 for r in table["rows"])
    assert main(["--home", home, "rank", "ablation", "--dataset", "beauty", "--small", "--seeds", "0", "1",
                 "--variants", "Base", "Compression+SID"]) == 0
    t3 = tmp_store.read("beauty", cat.TABLE3_ABLATION, run=cat.SMALL_RUN)
    assert t3["name"] == "table3_ablation"
    assert [r["method"] for r in t3["rows"]] == ["Base", "Compression+SID"] and t3["seeds"] == [0, 1]
    assert t3["dataset_hash"] == beauty.card["content_hash"] and t3["deviations"]
    # a trained ranker on the real slice is far above chance (std of a random AUC here is ~0.0075)
    assert all(r["overall_auc"] > 0.6 for r in t3["rows"])
    assert not tmp_store.exists("beauty", cat.TABLE3_ABLATION)   # small never overwrites full
    prov = tmp_store.provenance("beauty", cat.TABLE3_ABLATION, run=cat.SMALL_RUN)
    assert prov["run"] == cat.SMALL_RUN and prov["config"]["small_users"] == 3000
    assert prov["config"]["train"]["epochs"] == 1 and prov["sids"]["run"] == "full"
    runs = tmp_store.read("beauty", cat.RANKING_RUNS, run=cat.SMALL_RUN)
    assert sorted(set(runs["variant"])) == ["Base", "Compression+SID"]
    capsys.readouterr()
    assert main(["--home", home, "status", "--json", "--dataset", "beauty"]) == 0
    report = json.loads(capsys.readouterr().out)["datasets"]["beauty"]
    text = json.dumps(report)
    assert "rqvae" in text and "unique_share" in text


@pytest.mark.slow
def test_table4_restricts_both_arms_to_items_with_knowledge(beauty, tmp_store):
    """Plumbing of the Table 4 restriction. The 'knowledge vectors' here are a STAND-IN (the Fragrance
    items' title vectors, written to the private store), so only the bookkeeping is tested, not MAKR."""
    from reaseq_core.ranking.ablation import AblationConfig, run_ablation
    ids, vecs = _with_title_vectors(beauty, tmp_store)
    if not tmp_store.exists("beauty", cat.SIDS):
        assert main(["--home", str(tmp_store.root), "sid", "build", "--epochs", "2"]) == 0
    fragrance = set(beauty.items.loc[beauty.items["primary_category"] == "Fragrance", "item_id"])
    keep = [i for i, iid in enumerate(ids) if iid in fragrance]
    tmp_store.write("beauty", cat.KNOWLEDGE_VECTORS, {"item_ids": ids[keep], "vectors": vecs[keep] * 1.7},
                    {"stand_in_for_tests": True})
    try:
        # SIDs from the knowledge vectors land beside the title ones; the ranker keeps the title SIDs
        title_sids = tmp_store.read("beauty", cat.SIDS)
        assert main(["--home", str(tmp_store.root), "sid", "build", "--vectors", "knowledge", "--epochs", "2"]) == 0
        assert tmp_store.read("beauty", cat.SIDS).equals(title_sids)
        assert len(tmp_store.read("beauty", cat.KNOWLEDGE_SIDS)) == len(title_sids)
        rows = tmp_store.read("beauty", cat.SID_TABLE)["rows"]
        assert [r["vectors"] for r in rows] == ["title", "title", "knowledge", "knowledge"]
        assert [r["items_with_knowledge"] for r in rows] == [0, 0, len(keep), len(keep)]
        out = run_ablation("beauty", AblationConfig.small_run(seeds=(0, 1)), store=tmp_store, show_progress=False,
                           variants=["Base", "Base+title vectors", KNOWLEDGE_ARM])
    finally:   # the stand-in must not leak into other tests of the session's store
        tmp_store.path("beauty", cat.KNOWLEDGE_VECTORS).unlink()
    t4 = out["table4"]
    assert t4.name == "table4_representation"
    assert [r["method"] for r in t4.rows] == ["Base", "Base+title vectors", KNOWLEDGE_ARM]
    data = out["context"].data
    test = data.samples[data.samples["split"] == "test"]
    expected = int(test["target_item"].isin(fragrance).sum())
    assert 0 < expected < len(test)
    assert all(r["n_test"] == expected for r in t4.rows)
    assert f"{expected} test samples whose target item has knowledge" in t4.notes
    assert f"{len(keep)} of {len(ids)} items" in t4.notes
    assert tmp_store.exists("beauty", cat.TABLE4_REPRESENTATION, run=cat.SMALL_RUN)
    prov = tmp_store.provenance("beauty", cat.TABLE4_REPRESENTATION, run=cat.SMALL_RUN)
    assert prov["knowledge_space"]["knowledge"] == len(keep) and prov["skipped_variants"] == {}
