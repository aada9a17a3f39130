"""Adapter for the Amazon Reviews 2023 raw format (JSON lines, optionally gzip): reviews + item metadata.

Works for any category of the release. The two files are found by name in the raw folder:
- reviews: `<Category>.jsonl` (or `.jsonl.gz`), one review per line: rating, title, text, images, asin,
  parent_asin, user_id, timestamp (milliseconds since the epoch), verified_purchase, helpful_vote;
- metadata: `meta_<Category>.jsonl` (or `.jsonl.gz`), one item per line: main_category, title,
  average_rating, rating_number, features (list), description (list), price (number or null), images,
  videos, store, categories (list, often empty), details (dict), parent_asin.
Two candidates for either file are refused (pass `--reviews FILE --meta FILE`), as in amazon2018.py.

Item identity. In 2023 the metadata is keyed by `parent_asin` (one line per product, all its colour /
size variants included), while a review names both the variant it was written on (`asin`) and that
product (`parent_asin`). So **parent_asin is the item id, and also the product_line_id**: every review of
a variant counts as an interaction with its parent product, and the number of reviews written on a
variant asin other than the parent is counted in the report. A review line without parent_asin falls
back to its asin (counted).

Mapping to the canonical schema (schema.py), the same frames the 2018 adapter produces:
- review `title` -> demand expression (source 'review_summary'), like the 2018 `summary`
- review `timestamp` (ms) -> unix seconds; reviews are ordered by the full ms value before rounding
- meta `store` -> brand; `categories` -> category_path (when empty, `[main_category]`, flagged
  'category_from_main_category' and counted); `details` -> attributes (values flattened to text, the
  'Best Sellers Rank' entry becomes sales_rank); `description` then `features` -> description
- duplicated meta lines are merged and counted; HTML in titles is stripped and flagged; unparseable
  prices are dropped and flagged; reviewed items without metadata are kept, flagged 'no_metadata'
Not carried into the canonical tables: ratings, review text, images, videos, helpful votes,
verified_purchase, average_rating / rating_number (the schema has no place for them).
"""
from __future__ import annotations

import html
import math
from pathlib import Path

from ..errors import DataError
from .amazon2018 import (RANK, RawFiles, assemble, clean_categories, clean_text, clean_title, discover_raw_files,
                         iter_json_lines, parse_price, read_meta)

SUFFIXES = (".jsonl.gz", ".jsonl")
RANK_KEYS = {"best sellers rank", "best seller rank"}
# Below this a 'millisecond' timestamp would fall before March 1973: it is almost surely in seconds.
MIN_MILLISECONDS = 10 ** 11


def find_raw_files(folder: Path | None, reviews=None, meta=None) -> RawFiles:
    return discover_raw_files(folder, SUFFIXES, "<Category>.jsonl or <Category>.jsonl.gz",
                              "meta_<Category>.jsonl or meta_<Category>.jsonl.gz", reviews, meta)


def _flat_text(value) -> str | None:
    """A details value as one line of text: dicts become 'key: value; ...', lists are joined."""
    if isinstance(value, dict):
        parts = [f"{k}: {v2}" for k, v in value.items() if (v2 := _flat_text(v))]
        return "; ".join(parts) or None
    if isinstance(value, list):
        parts = [t for v in value if (t := _flat_text(v))]
        return ", ".join(parts) or None
    text, _ = clean_text(value)
    return text


def _sales_rank(value) -> float | None:
    """The first rank of a 'Best Sellers Rank' entry: {'Beauty': 1234, ...} or '#1,234 in Beauty (...)'."""
    if isinstance(value, dict):
        value = next(iter(value.values()), None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = RANK.search(str(value or "").replace("#", ""))
    return float(m.group(1).replace(",", "")) if m else None


def _item_row(parent_asin: str, m: dict, report: dict) -> dict:
    flags: list[str] = []
    title = clean_title(m, flags, report)
    cats = clean_categories(m.get("categories"))
    main_category = clean_text(m.get("main_category"))[0]
    if not cats and main_category:
        # Many 2023 categories (All_Beauty among them) leave `categories` empty; the store's main
        # category is then the only category the item has.
        cats = [main_category]
        flags.append("category_from_main_category")
        report["items_category_from_main_category"] += 1
    attrs, sales_rank = {}, None
    for k, v in (m.get("details") or {}).items():
        key = str(k).strip().rstrip(":").strip()
        if key.lower() in RANK_KEYS:
            sales_rank = _sales_rank(v)
            continue
        val = _flat_text(v)
        if key.upper() == "ASIN" or not key or not val:
            continue
        attrs[key] = val
    texts = [t for t in (clean_text(m.get("description"))[0], clean_text(m.get("features"))[0]) if t]
    brand, _ = clean_text(m.get("store"))
    return {"item_id": parent_asin, "title": title, "brand": brand, "category_path": cats,
            "price": parse_price(m.get("price"), flags, report), "sales_rank": sales_rank, "attributes": attrs,
            "description": " ".join(texts) or None, "product_line_id": parent_asin, "flags": ";".join(flags)}


def _milliseconds(raw, path: Path, row: int) -> int:
    expected = "milliseconds since the epoch, e.g. 1588687728923"
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise DataError(path, f"unparseable timestamp {raw!r}", row=row, field="timestamp", expected=expected)
    if value < MIN_MILLISECONDS:
        raise DataError(path, f"timestamp {raw!r} is too small for milliseconds (seconds?)", row=row,
                        field="timestamp", expected=expected)
    return int(value)


def load(folder: Path | None, primary_level: int = 1, reviews=None, meta=None):
    """Ingest one category: `reviews` / `meta` name the files, otherwise they are found in `folder`."""
    files = find_raw_files(folder, reviews, meta)
    meta_items, report = read_meta(files.meta, key="parent_asin")
    report.update({"adapter": "amazon2023_raw", "files": files.names(folder), "titles_with_markup": 0,
                   "prices_dropped_unparseable": 0, "items_category_from_main_category": 0})
    rows, summaries = [], []
    variant_reviews = no_parent = 0
    rpath = files.reviews
    for n, r in iter_json_lines(rpath):
        user = str(r.get("user_id") or "").strip()
        if not user:
            raise DataError(rpath, "missing user_id", row=n, field="user_id")
        asin = str(r.get("asin") or "").strip()
        parent = str(r.get("parent_asin") or "").strip()
        if not parent:
            if not asin:
                raise DataError(rpath, "missing parent_asin (and asin)", row=n, field="parent_asin")
            parent, no_parent = asin, no_parent + 1
        elif asin and asin != parent:
            variant_reviews += 1
        if r.get("timestamp") in (None, ""):
            raise DataError(rpath, "missing timestamp", row=n, field="timestamp")
        ms = _milliseconds(r["timestamp"], rpath, n)
        rows.append({"user_id": user, "item_id": parent, "timestamp": ms // 1000, "event_type": "review", "_ms": ms})
        title = " ".join(html.unescape(str(r.get("title") or "")).split())
        if title:
            summaries.append((parent, title))
    # Sequence order: finalize_interactions sorts by whole seconds and keeps list order for ties, so
    # sorting by the full millisecond value first keeps two reviews within one second in true order.
    rows.sort(key=lambda x: x["_ms"])
    for row in rows:
        del row["_ms"]
    items, inter, demand, report = assemble(rows, summaries, meta_items, _item_row, primary_level, report, rpath,
                                            item_is_product_line=True)
    report.update({"reviews_on_variant_asin": variant_reviews, "reviews_without_parent_asin": no_parent,
                   "item_id_source": "parent_asin (also product_line_id)",
                   "demand_source": "review titles",
                   "attribute_source": "details key-values (values flattened to text)"})
    return items, inter, demand, report
