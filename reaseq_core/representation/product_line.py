"""The "same product" relation behind SM-HR@k (paper 4.1.1, Table 2), on public fields.

The paper's SM-HR@k counts a hit when a retrieved item shares the query's SPU (Standard Product Unit)
id: the same product model, whatever its size or colour. Amazon Beauty 2014 has no such id, so where
the items table carries no `product_line_id` (as `parent_asin` in the Amazon 2018/2023 formats) we
define a proxy on public fields (PROTOCOLS.md):

    two items are siblings when they have the same non-empty brand (case-blind), the same leaf
    category, and the Jaccard overlap of their normalised title tokens is >= `threshold` (0.6);
    a product line is a connected component of the sibling relation.

Normalising a title keeps the words that name the product and drops what varies between its
size/colour/pack variants or repeats the brand: it lower-cases, unescapes HTML entities, splits on
anything but letters and digits, and removes tokens that contain a digit (sizes, shade codes), unit
and pack words (oz, ml, fl, count, pack, ...), a few stop words, and the tokens of the brand and of the
leaf category name (shared by the whole group, e.g. "eau de toilette", so they say nothing about the line).

This proxy is built from title tokens, so it favours vectors of the title text: read Table 2 with
that in mind (the tables say so too).
"""
from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 0.6

# Words that describe a variant's size, amount or packaging rather than the product itself.
VARIANT_WORDS = frozenset("""
oz ounce ounces fl fluid ml milliliter milliliters l liter litre g gr gram grams mg kg lb lbs pound pounds
count ct pack packs pk piece pieces pc pcs set sets size sizes value travel mini jumbo refill bottle bottles
tube tubes jar jars box x each per unit units sheet sheets
""".split())
STOP_WORDS = frozenset("a an and the for with by of in on to from or at is new".split())
_TOKEN = re.compile(r"[^\W_]+")   # runs of letters or digits, accented letters included


def _text(v) -> str:
    """A field's text, '' for None/NaN (pandas stores missing strings as NaN)."""
    return v.strip() if isinstance(v, str) else ""


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(html.unescape(text).lower())


def normalised_title_tokens(title: str | None, brand: str | None = None, leaf: str | None = None) -> frozenset[str]:
    """The product-naming tokens of a title (see the module docstring for what is removed)."""
    title = _text(title)
    if not title:
        return frozenset()
    shared = set(_tokens(_text(brand))) | set(_tokens(_text(leaf)))   # the same for every item of a group
    return frozenset(t for t in _tokens(title) if not any(c.isdigit() for c in t) and t not in VARIANT_WORDS
                     and t not in STOP_WORDS and t not in shared)


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 0.0   # two titles that reduce to nothing say nothing about being the same product
    return len(a & b) / len(a | b)


@dataclass
class ProductLines:
    """item_id -> product-line id, and how it was obtained (for the tables' notes)."""
    line_of: dict[str, str]
    source: str            # "dataset:product_line_id" or "proxy"
    rule: str
    items: int             # items considered
    items_with_sibling: int
    lines_with_2_or_more: int
    largest_line: int

    def summary(self) -> dict:
        return {"source": self.source, "rule": self.rule, "items": self.items,
                "items_with_sibling": self.items_with_sibling, "lines_with_2_or_more": self.lines_with_2_or_more,
                "largest_line": self.largest_line}


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def proxy_product_lines(items: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> dict[str, str]:
    """item_id -> line id under the brand + leaf + title-overlap rule (every item gets one; singletons too)."""
    ids = items["item_id"].astype(str).tolist()
    uf = _UnionFind(len(ids))
    groups: dict[tuple, list[int]] = defaultdict(list)
    tokens = []
    for i, (title, brand, leaf) in enumerate(zip(items["title"], items["brand"], items["leaf_category"])):
        tokens.append(normalised_title_tokens(title, brand, leaf))
        if _text(brand) and _text(leaf):
            groups[(_text(brand).lower(), _text(leaf))].append(i)
    for members in groups.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                i, j = members[a], members[b]
                if jaccard(tokens[i], tokens[j]) >= threshold:
                    uf.union(i, j)
    return {ids[i]: f"pl:{ids[uf.find(i)]}" for i in range(len(ids))}


def product_lines(items: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> ProductLines:
    """Use the dataset's own product_line_id where it has one for most items, else the proxy."""
    own = items["product_line_id"] if "product_line_id" in items.columns else pd.Series([None] * len(items))
    if own.notna().mean() >= 0.5:
        line_of = {str(i): (str(p) if p is not None else f"own:{i}") for i, p in zip(items["item_id"], own)}
        source = "dataset:product_line_id"
        rule = "the dataset's own product-line id (parent_asin); items without one are their own line"
    else:
        line_of = proxy_product_lines(items, threshold)
        source = "proxy"
        rule = (f"same non-empty brand (case-blind) + same leaf category + Jaccard(normalised title tokens) "
                f">= {threshold}; "
                "lines = connected components; normalising drops tokens with digits, size/pack words, "
                "stop words and the tokens of the brand and of the leaf category name")
    sizes = pd.Series(list(line_of.values())).value_counts()
    return ProductLines(line_of=line_of, source=source, rule=rule, items=len(line_of),
                        items_with_sibling=int(sizes[sizes >= 2].sum()),
                        lines_with_2_or_more=int((sizes >= 2).sum()),
                        largest_line=int(sizes.max()) if len(sizes) else 0)


def line_array(item_ids, line_of: dict[str, str]) -> np.ndarray:
    """Line ids aligned with `item_ids` (object array), for the SM-HR metric."""
    return np.array([line_of[str(i)] for i in item_ids], dtype=object)
