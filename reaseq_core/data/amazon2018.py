"""Adapter for the Amazon Review Data 2018 raw format (JSON lines, gzip): reviews + item metadata.

- meta `details` (merchant key-values) -> item attributes (keys cleaned of trailing ':'; the ASIN key dropped)
- review `summary` -> demand expressions (source 'review_summary'), the paper's Layer-1 demand input
- duplicated meta lines are merged (first non-empty value wins, lists are unioned) and counted
- HTML fragments in titles are stripped; a title that is only markup becomes missing and is flagged;
  price fields holding page CSS/markup are dropped and flagged
- reviews of items that have no metadata line are kept as items flagged 'no_metadata' (nothing lost),
  and counted in the report
The 2023 release uses nearly the same fields (`parent_asin` is used as product_line_id where present).
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .schema import finalize_interactions, finalize_items, read_text_checked

TAG = re.compile(r"<[^>]*>?")
PRICE = re.compile(r"^\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)$")
RANK = re.compile(r"([0-9][0-9,]*)\s+in\s")


def iter_json_lines(path: Path):
    text = read_text_checked(path)
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"invalid JSON ({e.msg} at column {e.colno})", row=n) from None
        if not isinstance(obj, dict):
            raise DataError(path, "line is not a JSON object", row=n)
        yield n, obj


def clean_text(value) -> tuple[str | None, bool]:
    """(clean text or None, whether markup was removed)."""
    if value is None:
        return None, False
    if isinstance(value, list):
        value = " ".join(str(v) for v in value if v)
    s = str(value)
    had_markup = bool(TAG.search(s)) or "{" in s and "}" in s and ":" in s and ";" in s
    s = TAG.sub(" ", s)
    s = html.unescape(" ".join(s.split())).strip()
    if had_markup and ("{" in s or "}" in s):  # CSS or script left: nothing usable
        s = ""
    return (s or None), had_markup


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if k not in out or out[k] in (None, "", [], {}):
            out[k] = v
        elif isinstance(out[k], list) and isinstance(v, list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        elif isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = {**v, **out[k]}
    return out


def read_meta(path: Path) -> tuple[dict[str, dict], dict]:
    merged: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    lines = 0
    dup = 0
    for n, obj in iter_json_lines(path):
        lines += 1
        asin = str(obj.get("asin") or "").strip()
        if not asin:
            raise DataError(path, "metadata line without an asin", row=n, field="asin")
        if asin in merged:
            dup += 1
            merged[asin] = _merge(merged[asin], obj)
        else:
            merged[asin] = obj
            first_line[asin] = n
    return merged, {"meta_lines": lines, "meta_distinct_items": len(merged), "meta_duplicate_lines_merged": dup}


def _item_row(asin: str, m: dict, report: dict) -> dict:
    flags = []
    title, title_markup = clean_text(m.get("title"))
    if title_markup:
        report["titles_with_markup"] += 1
        flags.append("title_html_cleaned" if title else "title_html_fragment")
    cats = [html.unescape(str(c)).strip() for c in (m.get("category") or []) if str(c).strip()]
    attrs = {}
    for k, v in (m.get("details") or {}).items():
        key = str(k).strip().rstrip(":").strip()
        val, _ = clean_text(v)
        if key.upper() == "ASIN" or not val:
            continue
        attrs[key] = val
    price = None
    raw_price = str(m.get("price") or "").strip()
    if raw_price:
        mp = PRICE.match(raw_price)
        if mp:
            price = float(mp.group(1).replace(",", ""))
        else:
            flags.append("price_unparseable")
            report["prices_dropped_unparseable"] += 1
    rank = m.get("rank")
    rank = rank[0] if isinstance(rank, list) and rank else rank
    mr = RANK.search(str(rank or ""))
    desc, _ = clean_text(m.get("description"))
    brand, _ = clean_text(m.get("brand"))
    return {"item_id": asin, "title": title, "brand": brand, "category_path": cats, "price": price,
            "sales_rank": float(mr.group(1).replace(",", "")) if mr else None, "attributes": attrs,
            "description": desc, "product_line_id": m.get("parent_asin"), "flags": ";".join(flags)}


def load(folder: Path, primary_level: int = 1, review_file: str = "Magazine_Subscriptions_5.json.gz",
         meta_file: str = "meta_Magazine_Subscriptions.json.gz"):
    folder = Path(folder)
    meta, report = read_meta(folder / meta_file)
    report.update({"adapter": "amazon2018_raw", "files": [review_file, meta_file], "titles_with_markup": 0,
                   "prices_dropped_unparseable": 0})
    reviews, summaries = [], []
    rpath = folder / review_file
    for n, r in iter_json_lines(rpath):
        for field in ("reviewerID", "asin", "unixReviewTime"):
            if r.get(field) in (None, ""):
                raise DataError(rpath, f"missing {field}", row=n, field=field)
        try:
            ts = int(r["unixReviewTime"])
        except (TypeError, ValueError):
            raise DataError(rpath, f"unparseable timestamp {r['unixReviewTime']!r}", row=n,
                            field="unixReviewTime", expected="unix seconds") from None
        reviews.append({"user_id": str(r["reviewerID"]), "item_id": str(r["asin"]), "timestamp": ts,
                        "event_type": "review"})
        summary = " ".join(str(r.get("summary") or "").split())
        if summary:
            summaries.append((str(r["asin"]), summary))
    if not reviews:
        raise DataError(rpath, "no review lines")
    inter = pd.DataFrame(reviews)
    reviewed = list(dict.fromkeys(inter["item_id"]))
    rows = []
    no_meta = []
    for asin in reviewed:
        if asin in meta:
            rows.append(_item_row(asin, meta[asin], report))
        else:
            no_meta.append(asin)
            rows.append({"item_id": asin, "title": None, "brand": None, "category_path": [], "attributes": {},
                         "flags": "no_metadata"})
    items = finalize_items(pd.DataFrame(rows), primary_level)
    prim = dict(zip(items["item_id"], items["primary_category"]))
    demand = pd.DataFrame([{"category": prim.get(a) or "(unknown)", "text": s, "source": "review_summary",
                            "item_id": a} for a, s in summaries])
    report.update({
        "reviews": len(inter),
        "reviewed_items": len(reviewed),
        "reviewed_items_without_metadata": len(no_meta),
        "items_without_metadata_ids": no_meta,
        "metadata_items_never_reviewed_dropped": len(set(meta) - set(reviewed)),
        "demand_expressions": len(demand),
        "reviews_without_summary": len(inter) - len(demand),
        "demand_source": "review summaries",
        "attribute_source": "details key-values (Format, Publisher, Shipping)",
    })
    return items, finalize_interactions(inter), demand, report
