"""The product-line proxy behind SM-HR@k (product_line.py), by hand and on the real Beauty items."""
from __future__ import annotations

import pandas as pd
import pytest

from reaseq_core.representation.product_line import (jaccard, normalised_title_tokens, product_lines,
                                                      proxy_product_lines)


def test_normalised_tokens_drop_sizes_units_brand_and_leaf_words():
    toks = normalised_title_tokens("China Glaze Nail Polish, Jetstream, 0.5 Fluid Ounce", "China Glaze", "Nail Polish")
    assert toks == {"jetstream"}
    toks = normalised_title_tokens("Versace Bright Crystal Eau de Toilette Spray for Women, 3 Ounce", "Versace",
                                   "Eau de Toilette")
    assert toks == {"bright", "crystal", "spray", "women"}
    assert normalised_title_tokens("Caf&eacute; Creme &amp; Co 2oz", None, None) == {"café", "creme", "co"}
    assert normalised_title_tokens(None, "X") == frozenset() and normalised_title_tokens(float("nan")) == frozenset()


def test_jaccard_by_hand():
    assert jaccard(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)
    assert jaccard(frozenset("abc"), frozenset("abc")) == 1.0
    assert jaccard(frozenset(), frozenset()) == 0.0


def _items(rows):
    return pd.DataFrame(rows, columns=["item_id", "title", "brand", "leaf_category", "product_line_id"])


def test_proxy_rule_by_hand():
    items = _items([
        # tokens {bright, crystal, spray, women}: 1 and 2 are the same line (sizes), Jaccard 1
        ("1", "Versace Bright Crystal Eau de Toilette Spray for Women, 3 Ounce", "Versace", "Eau de Toilette", None),
        ("2", "Versace Bright Crystal Eau de Toilette Spray for Women, 1.7 oz", "Versace", "Eau de Toilette", None),
        # same brand and leaf, {eros, spray, men} vs 1: Jaccard 1/6 -> its own line
        ("3", "Versace Eros Eau de Toilette Spray for Men 3.4 oz", "Versace", "Eau de Toilette", None),
        # same title as 1 but another leaf -> its own line
        ("4", "Versace Bright Crystal Eau de Toilette Spray for Women, 3 Ounce", "Versace", "Eau de Parfum", None),
        # no brand -> never a sibling, even with an identical title
        ("5", "Pure Emu Oil 8 oz", None, "Oils", None),
        ("6", "Pure Emu Oil 2 oz", None, "Oils", None),
        # chain: a~b (3/4) and b~c (3/4) but a vs c is 2/5; connected components join all three
        ("a", "Acme red blue green", "Acme", "Brushes", None),
        ("b", "Acme red blue green yellow", "Acme", "Brushes", None),
        ("c", "Acme blue green yellow", "Acme", "Brushes", None),
    ])
    line = proxy_product_lines(items, threshold=0.6)
    assert line["1"] == line["2"]
    assert len({line["1"], line["3"], line["4"], line["5"], line["6"]}) == 5
    assert line["a"] == line["b"] == line["c"]
    pl = product_lines(items, threshold=0.6)
    assert (pl.source, pl.items, pl.items_with_sibling, pl.lines_with_2_or_more, pl.largest_line) == \
        ("proxy", 9, 5, 2, 3)


def test_dataset_product_line_id_is_used_when_present():
    items = _items([("1", "x", "B", "L", "P1"), ("2", "y", "B", "L", "P1"), ("3", "z", "B", "L", "P2")])
    pl = product_lines(items)
    assert pl.source == "dataset:product_line_id"
    assert pl.line_of["1"] == pl.line_of["2"] != pl.line_of["3"]
    assert pl.items_with_sibling == 2


def test_real_beauty_lines(beauty):
    pl = product_lines(beauty.items)
    assert pl.source == "proxy" and pl.items == 12101      # Beauty 2014 has no grouping id
    lines = pl.line_of
    # size variants of one fragrance are one line; two different fragrances of one brand are not
    by_title = beauty.items.set_index("item_id")["title"]
    assert "Bright Crystal" in by_title["9790790961"]
    siblings = [i for i, l in lines.items() if l == lines["9790790961"] and i != "9790790961"]
    assert all("Bright Crystal" in by_title[i] for i in siblings)
    assert lines["9790790961"] != lines["9788072216"]        # Versace Bright Crystal vs Prada Candy
    # every line is inside one brand and one leaf category
    df = beauty.items.assign(line=beauty.items["item_id"].map(lines))
    multi = df[df["line"].map(df["line"].value_counts()) >= 2]
    assert multi.assign(brand=multi["brand"].str.lower()).groupby("line")["brand"].nunique().max() == 1  # case-blind
    assert multi.groupby("line")["leaf_category"].nunique().max() == 1
    assert 0 < pl.items_with_sibling < pl.items
