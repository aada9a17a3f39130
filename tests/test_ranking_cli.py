"""`reaseq sid build` and `reaseq rank ablation --small` end to end on real Beauty, in a private store,
then `reaseq status` reads both stages back."""
import json

import pytest

from reaseq_core.cli import main


@pytest.mark.slow
def test_sid_build_and_small_ablation_then_status(beauty, tmp_store, capsys):
    from tests.test_ranking_din import title_vectors_for
    ids, vecs = title_vectors_for(beauty, tmp_store)
    if not tmp_store.exists("beauty", "representation", "title_vectors.npz"):
        tmp_store.write_numpy("beauty", "representation", "title_vectors.npz", {"item_ids": ids, "vectors": vecs},
                              {"copied_for_test": True})
    home = str(tmp_store.root)
    assert main(["--home", home, "sid", "build", "--dataset", "beauty", "--epochs", "3"]) == 0
    sids = tmp_store.read_parquet("beauty", "semantic_ids", "sids.parquet")
    assert len(sids) == len(ids) and {"sid_1", "sid_2", "sid_3", "sid", "collision_suffix"} <= set(sids.columns)
    table = tmp_store.read_json("beauty", "semantic_ids", "sid_table.json")
    assert [(r["vectors"], r["tokenizer"][:6]) for r in table["rows"]] == [("title", "RQ-VAE"), ("title", "residu")]
    assert all(r["items"] == len(ids) and 0 < r["unique_share"] <= 1 and r["L1_usage"] > 0 for r in table["rows"])
    assert main(["--home", home, "rank", "ablation", "--dataset", "beauty", "--small", "--seeds", "0", "1",
                 "--variants", "Base", "Compression+SID"]) == 0
    t3 = tmp_store.read_json("beauty", "ranking", "small_table3_ablation.json")
    assert [r["method"] for r in t3["rows"]] == ["Base", "Compression+SID"] and t3["seeds"] == [0, 1]
    assert t3["dataset_hash"] == beauty.card["content_hash"] and t3["deviations"]
    # a trained ranker on the real slice is far above chance (std of a random AUC here is ~0.0075)
    assert all(r["overall_auc"] > 0.6 for r in t3["rows"])
    assert not tmp_store.exists("beauty", "ranking", "table3_ablation.json")   # small never overwrites full
    capsys.readouterr()
    assert main(["--home", home, "status", "--json", "--dataset", "beauty"]) == 0
    report = json.loads(capsys.readouterr().out)["datasets"]["beauty"]
    text = json.dumps(report)
    assert "rqvae" in text and "unique_share" in text


@pytest.mark.slow
def test_table4_restricts_both_arms_to_items_with_knowledge(beauty, tmp_store):
    """Plumbing of the Table 4 restriction. The 'knowledge vectors' here are a STAND-IN (the Fragrance
    items' title vectors, written to the private store), so only the bookkeeping is tested, not MAKR."""
    from reaseq_core.ranking.ablation import run_ablation
    from tests.test_ranking_din import title_vectors_for
    ids, vecs = title_vectors_for(beauty, tmp_store)
    if not tmp_store.exists("beauty", "representation", "title_vectors.npz"):
        tmp_store.write_numpy("beauty", "representation", "title_vectors.npz", {"item_ids": ids, "vectors": vecs}, {})
    if not tmp_store.exists("beauty", "semantic_ids", "sids.parquet"):
        assert main(["--home", str(tmp_store.root), "sid", "build", "--epochs", "2"]) == 0
    fragrance = set(beauty.items.loc[beauty.items["primary_category"] == "Fragrance", "item_id"])
    keep = [i for i, iid in enumerate(ids) if iid in fragrance]
    tmp_store.write_numpy("beauty", "representation", "knowledge_vectors.npz",
                          {"item_ids": ids[keep], "vectors": vecs[keep] * 1.7}, {"stand_in_for_tests": True})
    # SIDs from the knowledge vectors land beside the title ones; the ranker keeps the title SIDs
    title_sids = tmp_store.read_parquet("beauty", "semantic_ids", "sids.parquet")
    assert main(["--home", str(tmp_store.root), "sid", "build", "--vectors", "knowledge", "--epochs", "2"]) == 0
    assert tmp_store.read_parquet("beauty", "semantic_ids", "sids.parquet").equals(title_sids)
    k_sids = tmp_store.read_parquet("beauty", "semantic_ids", "knowledge_sids.parquet")
    assert len(k_sids) == len(title_sids)
    rows = tmp_store.read_json("beauty", "semantic_ids", "sid_table.json")["rows"]
    assert [r["vectors"] for r in rows] == ["title", "title", "knowledge", "knowledge"]
    assert [r["items_with_knowledge"] for r in rows] == [0, 0, len(keep), len(keep)]
    out = run_ablation("beauty", seeds=(0, 1), small=True, store=tmp_store, show_progress=False,
                       variants=["Base", "Base+title vectors", "Base+knowledge vectors"])
    t4 = out["table4"]
    assert [r["method"] for r in t4.rows] == ["Base", "Base+title vectors", "Base+knowledge vectors"]
    data = out["context"].data
    test = data.samples[data.samples["split"] == "test"]
    expected = int(test["target_item"].isin(fragrance).sum())
    assert 0 < expected < len(test)
    assert all(r["n_test"] == expected for r in t4.rows)
    assert f"{expected} test samples whose target item has knowledge" in t4.notes
    assert f"{len(keep)} of {len(ids)} items" in t4.notes
    assert tmp_store.exists("beauty", "ranking", "small_table4_representation.json")
    tmp_store.path("beauty", "representation", "knowledge_vectors.npz").unlink()
