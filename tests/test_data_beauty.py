"""The Amazon 2014 adapter on the real Beauty files."""
from __future__ import annotations

from reaseq_core.data import ingest, load_dataset


def test_counts_match_the_published_5core(beauty):
    c = beauty.card["counts"]
    assert (c["users"], c["items"], c["interactions"]) == (22363, 12101, 198502)
    assert beauty.interactions["item_id"].isin(set(beauty.items["item_id"])).all()
    rep = beauty.card["ingest_report"]
    assert rep["items_in_file"] == 12101 and rep["items_dropped_without_interactions"] == 0


def test_category_paths_parse_mixed_quotes(beauty):
    items = beauty.items.set_index("item_id")
    assert items.loc["9788072216", "category_path"] == ["Beauty", "Fragrance", "Women's", "Eau de Parfum"]
    assert items.loc["9788072216", "primary_category"] == "Fragrance"
    assert items.loc["9788072216", "sub_category"] == "Women's"
    assert (beauty.items["category_path"].map(len) >= 2).all()
    assert beauty.items["category_path"].map(lambda p: p[0]).eq("Beauty").all()
    prim = beauty.card["categories"]["primary"]
    assert prim == {"Skin Care": 3814, "Hair Care": 3262, "Makeup": 2627, "Tools & Accessories": 1222,
                    "Bath & Body": 684, "Fragrance": 492}
    assert beauty.card["categories"]["distinct_paths"] == 245
    assert beauty.card["categories"]["distinct_leaves"] == 220


def test_quoted_newline_and_html_entities(beauty):
    items = beauty.items.set_index("item_id")
    assert items.loc["B0001ZYL3Q", "title"] == "TheraNeem Cream - Original Organix South 2 oz Cream Vanilla"
    assert "title_newline" in items.loc["B0001ZYL3Q", "flags"]
    titles = beauty.items["title"].dropna()
    assert not titles.str.contains("&amp;|&#39;|&quot;", regex=True).any()
    assert items.loc["B00004U9V2", "title"].startswith("Crabtree & Evelyn")
    paths = beauty.items["category_path"].map(" > ".join)
    assert not paths.str.contains("&amp;").any()


def test_card_figures_match_source_notes(beauty):
    s, g = beauty.card["sequence_length"], beauty.card["gap_days"]
    assert (s["min"], s["median"], s["max"]) == (5, 6, 204)
    assert round(s["mean"], 2) == 8.88 and s["users_with_20_or_more"] == 1248
    assert round(g["share_same_day"], 3) == 0.439 and g["median"] == 4
    cov = beauty.card["coverage"]
    n = 12101
    assert round(cov["brand"] * n) == 10003 and round(cov["title"] * n) == 12094
    assert round(cov["price"] * n) == 11516 and round(cov["sales_rank"] * n) == 11815
    assert sum(beauty.card["sequence_length"]["histogram"]["counts"]) == 22363


def test_time_order_and_positions(beauty):
    inter = beauty.interactions
    assert inter.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    first = inter[inter["user_id"] == "A1YJEY40YUW4SE"]["item_id"].tolist()[:4]
    assert first == ["B004ZT0SSG", "B004756YJA", "B0020YLEYK", "7806397051"]  # same-day file order kept
    assert (inter.groupby("user_id")["position"].max() + 1).sum() == len(inter)


def test_ingest_is_idempotent_and_hash_stable(beauty, tmp_store):
    again = ingest("beauty", tmp_store)
    assert again.get("skipped") is True
    assert again["content_hash"] == beauty.content_hash
    forced = ingest("beauty", tmp_store, force=True)
    assert forced["content_hash"] == beauty.content_hash
    assert load_dataset("beauty", tmp_store).card["content_hash"] == beauty.content_hash
