"""What the agents read: the demand expressions and attribute specifications of a category (Layer 1),
a sample of a subcategory (Layer 2), and one item's metadata (Layer 3).

The data decides the input kind, and the kind is recorded with the taxonomy:
- demand: the dataset's demand expressions for the category (queries or review summaries) where it has
  them; otherwise (Amazon Beauty) the category's subcategory paths and a sample of product titles ("titles").
- attributes: merchant key-values where items carry them ("key_values"); otherwise the structured fields
  that exist: brand, price, sales rank, category path ("structured_fields").
"""
from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd

from .schemas import FIELD_LABELS, label_key

DEMAND_KIND = {"query": "queries", "review_summary": "review_summaries"}
KIND_TEXT = {
    "queries": "user search queries in this category",
    "review_summaries": "user review summaries in this category (what buyers said they wanted or got)",
    "titles": "this dataset has no user queries or review texts, so these are the category's subcategory paths "
              "and a sample of product titles; infer from them what users seek in this category",
    "key_values": "merchant-provided key: value specifications (with example values)",
    "structured_fields": "this dataset has no merchant key-value specifications, so these are the structured fields "
                         "that exist (title, brand, price, category path; a description's opening and the "
                         "merchant's details where an item has no title) of sample items. Most product properties "
                         "(what the item is, what it is made of or about, its size or format, whom it is for) are "
                         "written inside the titles and descriptions: cluster the properties of this category's "
                         "items, not the field names",
}
MIN_ATTRIBUTE_KEYS = 3   # fewer distinct keys in a category are no key-value schema to cluster


def _present(v) -> bool:
    if v is None:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return str(v).strip() != ""


def clean_text(s) -> str:
    return " ".join(html.unescape(str(s)).split())


def item_fields(row) -> dict:
    """The item's metadata as the agents see it (and as the grounding check reads it): present fields only."""
    f: dict = {}
    if _present(row.get("title")):
        f["title"] = clean_text(row["title"])
    if _present(row.get("brand")):
        f["brand"] = clean_text(row["brand"])
    if _present(row.get("price")):
        f["price"] = f"{float(row['price']):.2f}"
    attrs = dict(row.get("attributes") or {})
    # Amazon 2014 keeps the sales-rank's list name as `sales_type`: it qualifies the rank, it is no attribute
    rank_list = attrs.pop("sales_type", None)
    if _present(row.get("sales_rank")):
        f["sales_rank"] = str(int(row["sales_rank"])) + (f" in {clean_text(rank_list)}" if _present(rank_list) else "")
    path = list(row.get("category_path") or [])
    if path:
        f["category"] = " > ".join(clean_text(c) for c in path)
    if _present(row.get("description")):
        d = clean_text(row["description"])
        f["description"] = d[:400] + ("..." if len(d) > 400 else "")
    if attrs:
        f["attributes"] = {clean_text(k): clean_text(v)[:120] for k, v in list(attrs.items())[:20]}
    return f


def render_item(fields: dict) -> str:
    # JSON keeps quotes inside the item escaped, and escaping "<" keeps a tag in a title (say "</item>") from
    # closing the item block: item text cannot pose as prompt structure. (">" stays: category paths use it.)
    return json.dumps(fields, ensure_ascii=False, indent=1).replace("<", "\\u003c")


def field_names(items: pd.DataFrame) -> str:
    names = ["title", "brand", "price", "sales_rank", "category"]
    if items["description"].map(_present).any():
        names.append("description")
    if items["attributes"].map(lambda a: bool(set(a) - {"sales_type"})).any():
        names.append("attributes")
    return ", ".join(names)


def category_items(ds, category: str) -> pd.DataFrame:
    return ds.items[ds.items["primary_category"] == category]


def _sample(seq: list, n: int, seed: int) -> list:
    if len(seq) <= n:
        return list(seq)
    idx = np.random.default_rng(seed).choice(len(seq), size=n, replace=False)
    return [seq[i] for i in sorted(idx)]


def demand_inputs(ds, category: str, n: int = 30, seed: int = 0) -> tuple[str, list[str]]:
    """(input_kind, expressions) for the demand taxonomy agent."""
    d = ds.demand
    if len(d):
        rows = d[(d["category"] == category) & (d["source"].isin(DEMAND_KIND))]
        if len(rows):
            kind = DEMAND_KIND[rows["source"].value_counts().index[0]]
            texts = list(dict.fromkeys(clean_text(t) for t in rows["text"] if _present(t)))
            return kind, _sample(texts, n, seed)
    items = category_items(ds, category)
    paths = (items["category_path"].map(lambda p: " > ".join(p[1:])).value_counts().head(10).index.tolist())
    titles = [clean_text(t) for t in items["title"] if _present(t)]
    return "titles", [f"category path: {p}" for p in paths] + _sample(titles, n, seed)


def attribute_inputs(ds, category: str, n: int = 30, seed: int = 0) -> tuple[str, list[str]]:
    """(input_kind, attribute lines) for the attribute taxonomy agent."""
    items = category_items(ds, category)
    with_attrs = items[items["attributes"].map(lambda a: bool(set(a) - {"sales_type"}))]
    if len({k for a in with_attrs["attributes"] for k in a} - {"sales_type"}) >= MIN_ATTRIBUTE_KEYS:
        examples: dict[str, list[str]] = {}
        for attrs in with_attrs["attributes"]:
            for k, v in attrs.items():
                if k == "sales_type":
                    continue
                vals = examples.setdefault(clean_text(k), [])
                v = clean_text(v)[:40]
                if v and v not in vals and len(vals) < 3:
                    vals.append(v)
        keys = sorted(examples, key=lambda k: -len(examples[k]))[:n]
        return "key_values", [f"{k}: {' | '.join(examples[k])}" for k in keys]
    # No key-value schema: give the structured fields as key-values per item (the title holds most product facts)
    # plus their ranges over the category.
    lines = []
    price = items["price"].dropna()
    if len(price):
        q = np.percentile(price, [10, 50, 90])
        lines.append(f"price over the category (USD): 10th pct {q[0]:.2f}, median {q[1]:.2f}, 90th pct {q[2]:.2f}")
    brands = items["brand"].dropna().value_counts()
    if len(brands):
        lines.append(f"brand: {brands.size} distinct, e.g. " + ", ".join(clean_text(b) for b in brands.index[:8]))
    for r in _sample(list(items.to_dict("records")), 16, seed):
        lines.append(structured_line(item_fields(r)))
    return "structured_fields", lines


def structured_line(f: dict) -> str:
    """One item of the structured-fields input: title, brand, price, category path. An item without a title
    (Amazon 2018 Magazine drops HTML-fragment titles) shows its description's opening and the merchant's
    details instead, leaving out the details that are data fields (shipping, dimensions, ...), so the agent
    sees what the item is rather than only who sells it."""
    parts = [f"{k}: {f[k]}" for k in ("title", "brand", "price", "category") if k in f]
    if "title" not in f:
        details = {k: v for k, v in (f.get("attributes") or {}).items()
                   if label_key(k.rstrip(":")) not in FIELD_LABELS | {"publisher"}}
        parts += [f"{k.rstrip(':')}: {v}" for k, v in details.items()]
        if "description" in f:
            d = f["description"]
            parts.append("description: " + (d[:160].rsplit(" ", 1)[0] + "..." if len(d) > 160 else d))
    return "; ".join(parts)


def subcategory_of(row, category: str) -> str:
    sub = row.get("sub_category")
    return clean_text(sub) if _present(sub) else f"{category} (general)"


def subcategory_samples(ds, category: str, subcategory: str, perspective: str, n: int = 12, seed: int = 0) -> list[str]:
    """A representative sample of the subcategory for Layer 2: demand expressions (user perspective, where
    the data has them) or item metadata lines (title, brand, price, path; key-values where present)."""
    items = category_items(ds, category)
    subs = items.apply(lambda r: subcategory_of(r, category), axis=1)
    items = items[subs == subcategory]
    if perspective == "demand" and len(ds.demand):
        d = ds.demand[ds.demand["item_id"].isin(set(items["item_id"])) & ds.demand["source"].isin(DEMAND_KIND)]
        if len(d):
            texts = list(dict.fromkeys(clean_text(t) for t in d["text"] if _present(t)))
            return _sample(texts, 2 * n, seed)
    rows = _sample(list(items.to_dict("records")), n, seed)
    out = []
    for r in rows:
        f = item_fields(r)
        f.pop("sales_rank", None)
        if perspective == "demand":       # titles carry the use and the need; the path would invite product types
            out.append(f.get("title", ""))
        else:
            out.append("; ".join(f"{k}: {v}" for k, v in f.items() if k != "attributes")
                       + ("; " + "; ".join(f"{k}: {v}" for k, v in f["attributes"].items()) if "attributes" in f else ""))
    return out


def without_constant_attributes(ds):
    """The dataset with attribute keys that take one value across the whole catalogue removed (Beauty's
    `sales_type: Beauty`): a key that never varies describes no item, and would pose as key-value data."""
    import dataclasses
    values: dict[str, set] = {}
    for attrs in ds.items["attributes"]:
        for k, v in attrs.items():
            s = values.setdefault(k, set())
            if len(s) < 2:
                s.add(str(v))
    constant = {k for k, s in values.items() if len(s) < 2}
    if not constant:
        return ds
    items = ds.items.copy()
    items["attributes"] = items["attributes"].map(lambda a: {k: v for k, v in a.items() if k not in constant})
    return dataclasses.replace(ds, items=items)
