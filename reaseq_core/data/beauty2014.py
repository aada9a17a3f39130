"""Adapter for Amazon 2014 5-core in RecBole atomic format (`<name>.item`) plus an interaction TSV.

Real-file pitfalls handled here: a title holding a newline inside a quoted field (csv handles the
quoting; the newline becomes a space and the item is flagged), category paths written as a quoted
list with mixed quote styles (parsed as a Python literal), HTML entities in titles, brands and
categories (unescaped). Items without interactions are dropped and counted in the report.
"""
from __future__ import annotations

import ast
import csv
import html
import io
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .schema import (check_columns, empty_demand, finalize_interactions, finalize_items, parse_timestamps,
                     read_delimited, read_text_checked)

ITEM_HEADER = ["item_id:token", "title:token", "sales_type:token", "sales_rank:float", "categories:token_seq",
               "price:float", "brand:token"]


def parse_category_list(text: str, path, row: int) -> list[str]:
    """`'Beauty', 'Fragrance', "Women's"` -> ['Beauty', 'Fragrance', "Women's"]."""
    text = (text or "").strip()
    if not text:
        return []
    try:
        value = ast.literal_eval("[" + text + "]")
    except (SyntaxError, ValueError):
        raise DataError(path, f"cannot parse category list {text[:80]!r}", row=row, field="categories",
                        expected="a comma-separated list of quoted names") from None
    if not all(isinstance(v, str) for v in value):
        raise DataError(path, "category list holds a non-string", row=row, field="categories")
    return [html.unescape(v).strip() for v in value]


def _float_or_none(value: str, path, row: int, field: str) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise DataError(path, f"not a number: {value!r}", row=row, field=field) from None


def read_items(path: Path) -> tuple[pd.DataFrame, dict]:
    text = read_text_checked(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quotechar='"')
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, "file is empty") from None
    missing = [h for h in ITEM_HEADER if h not in header]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)}", row=1, field=missing[0].split(":")[0])
    idx = {h: header.index(h) for h in ITEM_HEADER}
    rows, report = [], {"titles_with_newline": 0, "html_unescaped_titles": 0}
    seen: dict[str, int] = {}
    start_line = reader.line_num + 1
    try:
        for rec in reader:
            line = start_line
            start_line = reader.line_num + 1
            if not rec or all(not c.strip() for c in rec):
                continue
            if len(rec) != len(header):
                raise DataError(path, f"{len(rec)} fields instead of {len(header)}", row=line)
            item_id = rec[idx["item_id:token"]].strip()
            if not item_id:
                raise DataError(path, "empty item id", row=line, field="item_id")
            if item_id in seen:
                raise DataError(path, f"duplicate item id {item_id!r} (first on line {seen[item_id]})", row=line,
                                field="item_id")
            seen[item_id] = line
            flags = []
            title = rec[idx["title:token"]]
            if "\n" in title or "\r" in title:
                title = " ".join(title.split())
                flags.append("title_newline")
                report["titles_with_newline"] += 1
            unescaped = html.unescape(title).strip()
            if unescaped != title.strip():
                report["html_unescaped_titles"] += 1
            brand = html.unescape(rec[idx["brand:token"]]).strip() or None
            rows.append({
                "item_id": item_id,
                "title": unescaped or None,
                "brand": brand,
                "category_path": parse_category_list(rec[idx["categories:token_seq"]], path, line),
                "price": _float_or_none(rec[idx["price:float"]], path, line, "price"),
                "sales_rank": _float_or_none(rec[idx["sales_rank:float"]], path, line, "sales_rank"),
                "attributes": {k: v for k, v in {"sales_type": html.unescape(rec[idx["sales_type:token"]]).strip()}.items() if v},
                "flags": ";".join(flags),
            })
    except csv.Error as e:
        raise DataError(path, f"malformed row: {e}", row=reader.line_num) from None
    if not rows:
        raise DataError(path, "no item rows after the header")
    return pd.DataFrame(rows), report


def read_interactions(path: Path, known_items: set[str]) -> pd.DataFrame:
    df = read_delimited(path, sep="\t")
    if df.empty:
        raise DataError(path, "no interaction rows after the header")
    check_columns(df, ["user_id", "item_id", "timestamp"], path)
    for col in ("user_id", "item_id"):
        empty = df[col].isna() | (df[col].str.strip() == "")
        if empty.any():
            i = int(empty.to_numpy().nonzero()[0][0])
            raise DataError(path, f"empty {col}", row=i + 2, field=col)
    df["timestamp"] = parse_timestamps(df["timestamp"], path)
    unknown = ~df["item_id"].isin(known_items)
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise DataError(path, f"unknown item id {df['item_id'].iloc[i]!r} (not in the item file)", row=i + 2,
                        field="item_id")
    df["event_type"] = "review"
    return df


def load(folder: Path, primary_level: int = 1, item_file: str = "Amazon_Beauty.item",
         interaction_file: str = "beauty5_interactions.tsv.gz"):
    """Canonical (items, interactions, demand, report) from the RecBole item file and the TSV."""
    folder = Path(folder)
    items, report = read_items(folder / item_file)
    inter = read_interactions(folder / interaction_file, set(items["item_id"]))
    used = set(inter["item_id"])
    dropped = items[~items["item_id"].isin(used)]
    items = items[items["item_id"].isin(used)]
    report.update({
        "adapter": "amazon2014_recbole",
        "files": [item_file, interaction_file],
        "items_in_file": int(len(items) + len(dropped)),
        "items_dropped_without_interactions": int(len(dropped)),
        "dropped_item_ids": dropped["item_id"].tolist()[:20],
        "demand_source": "none (the 2014 5-core has no queries or review summaries)",
        "attribute_source": "structured fields only: brand, price, sales_rank, sales_type, category path",
    })
    return finalize_items(items, primary_level), finalize_interactions(inter), empty_demand(), report
