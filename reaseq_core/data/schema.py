"""The canonical schema every adapter produces, and its validation.

items        item_id (str, unique), title (str|None), brand (str|None), category_path (list[str]),
             price (float|NaN), attributes (dict[str,str]; stored as JSON text), description (str|None),
             product_line_id (str|None), sales_rank (float|NaN), flags (str: ';'-joined cleaning flags),
             primary_category / sub_category / leaf_category (derived from category_path)
interactions user_id (str), item_id (str, in items), timestamp (int, unix seconds),
             event_type (str), position (int, 0-based order within the user's sequence)
demand       category (str), text (str), source ('query' | 'review_summary' | 'none'), item_id (str|None)
"""
from __future__ import annotations

import gzip
import io
import json
import math
from pathlib import Path

import pandas as pd

from ..errors import DataError

ITEM_COLUMNS = ["item_id", "title", "brand", "category_path", "price", "attributes", "description",
                "product_line_id", "sales_rank", "flags"]
INTERACTION_COLUMNS = ["user_id", "item_id", "timestamp", "event_type"]
DEMAND_COLUMNS = ["category", "text", "source", "item_id"]
DEMAND_SOURCES = {"query", "review_summary", "none"}

REQUIRED_ITEM_COLUMNS = ["item_id", "title", "category_path"]
REQUIRED_INTERACTION_COLUMNS = ["user_id", "item_id", "timestamp"]


def read_text_checked(path: Path) -> str:
    """Whole file as text (gzip transparently), with clear errors for empty files and bad encodings."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(path, f"corrupt or truncated gzip stream ({e})") from None
    if not raw.strip():
        raise DataError(path, "file is empty")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(path, f"not valid UTF-8 at byte {e.start} ({raw[e.start:e.start + 1]!r})",
                        row=line, expected="UTF-8 text") from None


def category_levels(path: list[str], primary_level: int) -> tuple[str | None, str | None, str | None]:
    """(primary, sub, leaf) category names of a path; None where the path is too short."""
    primary = path[primary_level] if len(path) > primary_level else None
    sub = path[primary_level + 1] if len(path) > primary_level + 1 else None
    leaf = path[-1] if path else None
    return primary, sub, leaf


def finalize_items(df: pd.DataFrame, primary_level: int) -> pd.DataFrame:
    """Fill optional columns, derive category levels, enforce dtypes and column order."""
    df = df.copy()
    for col in ITEM_COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["attributes"] = df["attributes"].map(lambda a: a if isinstance(a, dict) else {})
    df["flags"] = df["flags"].fillna("").astype(str)
    df["price"] = pd.to_numeric(df["price"], errors="coerce").astype("float64")
    df["sales_rank"] = pd.to_numeric(df["sales_rank"], errors="coerce").astype("float64")
    levels = df["category_path"].map(lambda p: category_levels(list(p), primary_level))
    df["primary_category"] = levels.map(lambda t: t[0])
    df["sub_category"] = levels.map(lambda t: t[1])
    df["leaf_category"] = levels.map(lambda t: t[2])
    for col in ("item_id", "title", "brand", "description", "product_line_id"):
        df[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return df[ITEM_COLUMNS + ["primary_category", "sub_category", "leaf_category"]].reset_index(drop=True)


def finalize_interactions(df: pd.DataFrame) -> pd.DataFrame:
    """Stable sort by user then time (same-day events keep file order), add the position column."""
    df = df.copy()
    if "event_type" not in df.columns:
        df["event_type"] = "interaction"
    df["_order"] = range(len(df))
    df = df.sort_values(["user_id", "timestamp", "_order"], kind="stable").drop(columns="_order")
    df["timestamp"] = df["timestamp"].astype("int64")
    df["position"] = df.groupby("user_id", sort=False).cumcount().astype("int64")
    return df[INTERACTION_COLUMNS + ["position"]].reset_index(drop=True)


def validate_canonical(items: pd.DataFrame, interactions: pd.DataFrame, demand: pd.DataFrame,
                       source: str = "<canonical tables>") -> None:
    """Invariants every stage relies on; raises DataError naming the table, row and field."""
    dup = items["item_id"][items["item_id"].duplicated()]
    if len(dup):
        raise DataError(f"{source}:items", f"duplicate item_id '{dup.iloc[0]}'", row=int(dup.index[0]) + 1,
                        field="item_id")
    if items["item_id"].isna().any():
        i = int(items.index[items["item_id"].isna()][0])
        raise DataError(f"{source}:items", "empty item_id", row=i + 1, field="item_id")
    known = set(items["item_id"])
    unknown = ~interactions["item_id"].isin(known)
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise DataError(f"{source}:interactions", f"unknown item id '{interactions['item_id'].iloc[i]}'",
                        row=i + 1, field="item_id")
    if len(demand):
        bad = ~demand["source"].isin(DEMAND_SOURCES)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"{source}:demand", f"unknown source '{demand['source'].iloc[i]}'", row=i + 1,
                            field="source", expected=" / ".join(sorted(DEMAND_SOURCES)))


def empty_demand() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in DEMAND_COLUMNS})


def items_to_storage(items: pd.DataFrame) -> pd.DataFrame:
    out = items.copy()
    out["attributes"] = out["attributes"].map(lambda a: json.dumps(a, ensure_ascii=False, sort_keys=True))
    out["category_path"] = out["category_path"].map(list)
    return out


def items_from_storage(items: pd.DataFrame) -> pd.DataFrame:
    out = items.copy()
    out["attributes"] = out["attributes"].map(json.loads)
    out["category_path"] = out["category_path"].map(list)
    return out


def check_columns(df: pd.DataFrame, required: list[str], path, header_row: int = 1) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}",
                        row=header_row, field=missing[0])


def parse_timestamps(values: pd.Series, path, field: str = "timestamp", row_offset: int = 2) -> pd.Series:
    """Unix seconds (int) from ints or ISO dates; DataError at the first unparseable value."""
    s = values.astype("string").str.strip()
    num = pd.to_numeric(s, errors="coerce")
    out = num.copy()
    need = num.isna()
    if need.any():
        parsed = pd.to_datetime(s[need], errors="coerce", utc=True, format="ISO8601")
        seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        out[need] = seconds.where(parsed.notna())
    bad = out.isna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(path, f"unparseable timestamp {s.iloc[i]!r}", row=i + row_offset, field=field,
                        expected="unix seconds or an ISO-8601 date")
    return out.astype("int64")


def read_delimited(path: Path, sep: str = "\t") -> pd.DataFrame:
    """A delimited text file (gzip ok) read as strings, with DataError for malformed rows."""
    text = read_text_checked(path)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                           on_bad_lines="error", engine="python" if sep != "\t" else "c")
    except pd.errors.ParserError as e:
        raise DataError(path, f"malformed row: {e}") from None
