"""Bring-your-own-catalogue adapter: a folder of parquet or CSV files in the canonical schema.

    items.parquet | items.csv                 item_id, title, category_path [, brand, price, attributes,
                                              description, product_line_id, sales_rank]
    interactions.parquet | interactions.csv   user_id, item_id, timestamp [, event_type]
    demand.parquet | demand.csv (optional)    category, text, source [, item_id]

In CSV, `category_path` is either a JSON list (["Beauty", "Fragrance"]) or names joined by " > ";
`attributes` is a JSON object; `timestamp` is unix seconds or an ISO-8601 date.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .schema import (DEMAND_SOURCES, REQUIRED_INTERACTION_COLUMNS, REQUIRED_ITEM_COLUMNS, check_columns,
                     empty_demand, finalize_interactions, finalize_items, parse_timestamps, read_text_checked)


def _find(folder: Path, stem: str, required: bool = True) -> Path | None:
    for ext in (".parquet", ".csv", ".csv.gz"):
        p = folder / f"{stem}{ext}"
        if p.exists():
            return p
    if required:
        raise DataError(folder / f"{stem}.parquet", f"neither {stem}.parquet nor {stem}.csv found in {folder}")
    return None


def _read(path: Path) -> tuple[pd.DataFrame, int]:
    """(frame, row offset: add it to a 0-based index to get the file line / parquet row number)."""
    if path.suffix == ".parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise DataError(path, f"cannot read parquet ({e})") from None
        if df.empty:
            raise DataError(path, "file has no rows")
        return df, 1
    text = read_text_checked(path)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.ParserError as e:
        raise DataError(path, f"malformed row: {e}") from None
    if df.empty:
        raise DataError(path, "file has a header but no rows")
    return df, 2


def _parse_path(v, path, row) -> list[str]:
    if isinstance(v, (list, tuple)) or hasattr(v, "tolist"):
        return [str(x) for x in list(v)]
    s = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).strip()
    if not s:
        return []
    if s.startswith("["):
        try:
            out = json.loads(s)
        except json.JSONDecodeError:
            raise DataError(path, f"category_path is not a JSON list: {s[:60]!r}", row=row,
                            field="category_path") from None
        return [str(x) for x in out]
    return [p.strip() for p in s.split(">") if p.strip()]


def _parse_attrs(v, path, row) -> dict:
    if isinstance(v, dict):
        return {str(k): str(x) for k, x in v.items()}
    s = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).strip()
    if not s:
        return {}
    try:
        out = json.loads(s)
    except json.JSONDecodeError:
        raise DataError(path, f"attributes is not a JSON object: {s[:60]!r}", row=row, field="attributes") from None
    if not isinstance(out, dict):
        raise DataError(path, "attributes must be a JSON object", row=row, field="attributes")
    return {str(k): str(x) for k, x in out.items()}


def load(folder: Path, primary_level: int = 0):
    folder = Path(folder)
    ipath = _find(folder, "items")
    items, ioff = _read(ipath)
    check_columns(items, REQUIRED_ITEM_COLUMNS, ipath)
    items["item_id"] = items["item_id"].astype(str).str.strip()
    empty = items["item_id"].isin(["", "nan", "None"])
    if empty.any():
        i = int(empty.to_numpy().nonzero()[0][0])
        raise DataError(ipath, "empty item_id", row=i + ioff, field="item_id")
    dup = items["item_id"].duplicated()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        raise DataError(ipath, f"duplicate item_id {items['item_id'].iloc[i]!r}", row=i + ioff, field="item_id")
    items["category_path"] = [_parse_path(v, ipath, i + ioff) for i, v in enumerate(items["category_path"])]
    if "attributes" in items.columns:
        items["attributes"] = [_parse_attrs(v, ipath, i + ioff) for i, v in enumerate(items["attributes"])]
    for col in ("price", "sales_rank"):
        if col in items.columns:
            num = pd.to_numeric(items[col], errors="coerce")
            bad = num.isna() & items[col].notna() & (items[col].astype(str).str.strip() != "")
            if bad.any():
                i = int(bad.to_numpy().nonzero()[0][0])
                raise DataError(ipath, f"not a number: {items[col].iloc[i]!r}", row=i + ioff, field=col)
            items[col] = num

    xpath = _find(folder, "interactions")
    inter, xoff = _read(xpath)
    check_columns(inter, REQUIRED_INTERACTION_COLUMNS, xpath)
    for col in ("user_id", "item_id"):
        inter[col] = inter[col].astype(str).str.strip()
    inter["timestamp"] = parse_timestamps(inter["timestamp"], xpath, row_offset=xoff)
    unknown = ~inter["item_id"].isin(set(items["item_id"]))
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise DataError(xpath, f"unknown item id {inter['item_id'].iloc[i]!r} (not in {ipath.name})",
                        row=i + xoff, field="item_id")
    if "event_type" not in inter.columns:
        inter["event_type"] = "interaction"

    dpath = _find(folder, "demand", required=False)
    if dpath is None:
        demand = empty_demand()
    else:
        demand, doff = _read(dpath)
        check_columns(demand, ["category", "text", "source"], dpath)
        bad = ~demand["source"].isin(DEMAND_SOURCES)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(dpath, f"unknown source {demand['source'].iloc[i]!r}", row=i + doff, field="source",
                            expected=" / ".join(sorted(DEMAND_SOURCES)))
        if "item_id" not in demand.columns:
            demand["item_id"] = None
        demand = demand[["category", "text", "source", "item_id"]]
    report = {"adapter": "generic", "files": [p.name for p in (ipath, xpath, dpath) if p is not None],
              "demand_source": "demand file" if dpath else "none",
              "attribute_source": "attributes column" if "attributes" in items.columns else "none"}
    return finalize_items(items, primary_level), finalize_interactions(inter), demand, report
