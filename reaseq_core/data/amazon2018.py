"""Adapter for the Amazon Review Data 2018 raw format (JSON lines, gzip): reviews + item metadata.

Works for any category of the release. The two files are found by name in the raw folder:
- reviews: `<Category>_5.json.gz` (the 5-core) or `<Category>.json.gz` (all reviews of the category);
- metadata: `meta_<Category>.json.gz`;
uncompressed `.json` is accepted too. A folder holding two candidates for either file is ambiguous and
is refused with the list of candidates; `reaseq data ingest --reviews FILE --meta FILE` names them.

Mapping to the canonical schema (schema.py):
- meta `details` (merchant key-values) -> item attributes (keys cleaned of trailing ':'; the ASIN key dropped)
- review `summary` -> demand expressions (source 'review_summary'), the paper's Layer-1 demand input
- duplicated meta lines are merged (first non-empty value wins, lists are unioned) and counted
- HTML fragments in titles are stripped; a title that is only markup becomes missing and is flagged;
  price fields holding page CSS/markup are dropped and flagged
- reviews of items that have no metadata line are kept as items flagged 'no_metadata' (nothing lost),
  and counted in the report
- 2018 has no parent / product-line id, so product_line_id stays empty
The file discovery, JSON-lines reader and item assembly here are shared with the 2023 adapter
(amazon2023.py).
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .schema import finalize_interactions, finalize_items, read_text_checked

TAG = re.compile(r"<[^>]*>?")
PRICE = re.compile(r"^\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)$")
RANK = re.compile(r"([0-9][0-9,]*)\s+in\s")

SUFFIXES = (".json.gz", ".json")
META_PREFIX = "meta_"


@dataclass(frozen=True)
class RawFiles:
    """The reviews file and the metadata file one ingest reads."""
    reviews: Path
    meta: Path

    def names(self, folder: Path | None) -> list[str]:
        """File names relative to the raw folder where they lie in it, else full paths (for reports)."""
        return [p.name if folder is not None and p.parent == Path(folder) else str(p)
                for p in (self.reviews, self.meta)]


def _explicit(path, flag: str) -> Path:
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise DataError(p, f"file not found (given with {flag})")
    return p


def discover_raw_files(folder: Path | None, suffixes: tuple[str, ...], review_hint: str, meta_hint: str,
                       reviews=None, meta=None) -> RawFiles:
    """Find the reviews and metadata files of one Amazon category in `folder` by name pattern.

    `reviews` / `meta`, when given (the CLI's --reviews / --meta), win over discovery. Discovery never
    guesses between two candidates: the category a user means is not ours to pick.
    """
    chosen = {"reviews": _explicit(reviews, "--reviews") if reviews else None,
              "meta": _explicit(meta, "--meta") if meta else None}
    missing = [k for k, v in chosen.items() if v is None]
    if missing:
        if folder is None or not Path(folder).is_dir():
            raise DataError(folder or "<no folder>", "no raw folder to look for the "
                            f"{' and '.join(missing)} file in: pass --path FOLDER or --reviews FILE --meta FILE")
        files = sorted(p for p in Path(folder).iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.name.endswith(suffixes))
        found = {"reviews": [p for p in files if not p.name.startswith(META_PREFIX)],
                 "meta": [p for p in files if p.name.startswith(META_PREFIX)]}
        hints = {"reviews": review_hint, "meta": meta_hint}
        for kind in missing:
            cands = found[kind]
            if not cands:
                present = ", ".join(p.name for p in sorted(Path(folder).iterdir()) if p.is_file()) or "none"
                raise DataError(folder, f"no {kind} file found (expected {hints[kind]}); files here: {present}")
            if len(cands) > 1:
                raise DataError(folder, f"ambiguous raw folder: {len(cands)} candidate {kind} files "
                                f"({', '.join(p.name for p in cands)}); pass --reviews FILE --meta FILE "
                                "to say which to ingest")
            chosen[kind] = cands[0]
    return RawFiles(reviews=chosen["reviews"], meta=chosen["meta"])


def find_raw_files(folder: Path | None, reviews=None, meta=None) -> RawFiles:
    return discover_raw_files(folder, SUFFIXES, "<Category>_5.json.gz or <Category>.json.gz",
                              "meta_<Category>.json.gz", reviews, meta)


def iter_json_lines(path: Path):
    """(1-based line number, object) for each non-blank line; DataError naming the line otherwise."""
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


def clean_title(m: dict, flags: list[str], report: dict) -> str | None:
    title, title_markup = clean_text(m.get("title"))
    if title_markup:
        report["titles_with_markup"] += 1
        flags.append("title_html_cleaned" if title else "title_html_fragment")
    return title


def clean_categories(values) -> list[str]:
    return [html.unescape(str(c)).strip() for c in (values or []) if str(c).strip()]


def parse_price(raw, flags: list[str], report: dict) -> float | None:
    """A price from a number or a '$1,234.50' string; anything else is dropped and flagged."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    text = str(raw or "").strip()
    if not text:
        return None
    mp = PRICE.match(text)
    if mp:
        return float(mp.group(1).replace(",", ""))
    flags.append("price_unparseable")
    report["prices_dropped_unparseable"] += 1
    return None


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


def read_meta(path: Path, key: str = "asin") -> tuple[dict[str, dict], dict]:
    """Metadata lines keyed by `key`, duplicates merged; (items, counts for the report)."""
    merged: dict[str, dict] = {}
    lines = 0
    dup = 0
    for n, obj in iter_json_lines(path):
        lines += 1
        item_id = str(obj.get(key) or "").strip()
        if not item_id:
            raise DataError(path, f"metadata line without {'an' if key[0] in 'aeiou' else 'a'} {key}",
                            row=n, field=key)
        if item_id in merged:
            dup += 1
            merged[item_id] = _merge(merged[item_id], obj)
        else:
            merged[item_id] = obj
    return merged, {"meta_lines": lines, "meta_distinct_items": len(merged), "meta_duplicate_lines_merged": dup}


def _item_row(asin: str, m: dict, report: dict) -> dict:
    flags: list[str] = []
    title = clean_title(m, flags, report)
    attrs = {}
    for k, v in (m.get("details") or {}).items():
        key = str(k).strip().rstrip(":").strip()
        val, _ = clean_text(v)
        if key.upper() == "ASIN" or not val:
            continue
        attrs[key] = val
    price = parse_price(m.get("price"), flags, report)
    rank = m.get("rank")
    rank = rank[0] if isinstance(rank, list) and rank else rank
    mr = RANK.search(str(rank or ""))
    desc, _ = clean_text(m.get("description"))
    brand, _ = clean_text(m.get("brand"))
    return {"item_id": asin, "title": title, "brand": brand, "category_path": clean_categories(m.get("category")),
            "price": price, "sales_rank": float(mr.group(1).replace(",", "")) if mr else None,
            "attributes": attrs, "description": desc, "product_line_id": m.get("parent_asin"),
            "flags": ";".join(flags)}


def assemble(reviews: list[dict], summaries: list[tuple[str, str]], meta: dict[str, dict], item_row,
             primary_level: int, report: dict, rpath: Path, item_is_product_line: bool = False):
    """Canonical (items, interactions, demand, report) from parsed reviews and metadata.

    Only reviewed items become items; a reviewed item without metadata is kept and flagged, never dropped.
    `item_is_product_line`: the item id is itself the product-line id (2023's parent_asin), which a
    review knows even when the metadata has no line for the item.
    """
    if not reviews:
        raise DataError(rpath, "no review lines")
    inter = pd.DataFrame(reviews)
    reviewed = list(dict.fromkeys(inter["item_id"]))
    rows = []
    no_meta = []
    for item_id in reviewed:
        if item_id in meta:
            rows.append(item_row(item_id, meta[item_id], report))
        else:
            no_meta.append(item_id)
            rows.append({"item_id": item_id, "title": None, "brand": None, "category_path": [], "attributes": {},
                         "product_line_id": item_id if item_is_product_line else None, "flags": "no_metadata"})
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
    })
    return items, finalize_interactions(inter), demand, report


def load(folder: Path | None, primary_level: int = 1, reviews=None, meta=None):
    """Ingest one category: `reviews` / `meta` name the files, otherwise they are found in `folder`."""
    files = find_raw_files(folder, reviews, meta)
    meta_items, report = read_meta(files.meta)
    report.update({"adapter": "amazon2018_raw", "files": files.names(folder), "titles_with_markup": 0,
                   "prices_dropped_unparseable": 0})
    rows, summaries = [], []
    rpath = files.reviews
    for n, r in iter_json_lines(rpath):
        for field in ("reviewerID", "asin", "unixReviewTime"):
            if r.get(field) in (None, ""):
                raise DataError(rpath, f"missing {field}", row=n, field=field)
        try:
            ts = int(r["unixReviewTime"])
        except (TypeError, ValueError):
            raise DataError(rpath, f"unparseable timestamp {r['unixReviewTime']!r}", row=n,
                            field="unixReviewTime", expected="unix seconds") from None
        rows.append({"user_id": str(r["reviewerID"]), "item_id": str(r["asin"]), "timestamp": ts,
                     "event_type": "review"})
        summary = " ".join(str(r.get("summary") or "").split())
        if summary:
            summaries.append((str(r["asin"]), summary))
    items, inter, demand, report = assemble(rows, summaries, meta_items, _item_row, primary_level, report, rpath)
    report.update({"demand_source": "review summaries",
                   "attribute_source": "details key-values (e.g. Format, Publisher, Shipping)"})
    return items, inter, demand, report
