"""Verdicts on cases: analysts' qualitative review of what the pipeline produced.

A *case* is one thing an analyst looks at in the workbench:

    case kind        case id                                   what was reviewed (its provenance)
    item_knowledge   item id                                   the item's knowledge rows (every setup):
    single_vs_multi  item id                                     template_hash, model, created per setup
    taxonomy         "category/subcategory/perspective"        the taxonomy's templates and model, the
                     (perspective: demand | attribute)           category's `created` and a content hash of
                                                                 the Layer-1 + Layer-2 blocks shown
    gbr_fill         fill id                                   the fills artifact's created + code_version

A verdict is good | wrong | unsure, with a note, the reviewer's name, a timestamp and the provenance of the
reviewed thing at the time. Verdicts live in the review stage's `verdicts` artifact (catalogue entry
VERDICTS), one row per (case kind, case id, reviewer): a reviewer's new verdict on a case replaces their old
one. Every save rewrites the whole (small) table atomically through `ArtifactStore.write`.

A verdict is *outdated* when the reviewed thing has been regenerated since: its current provenance differs
from the one recorded with the verdict. A verdict whose case (or the artifact holding it) no longer exists
is *not found*.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
from itertools import combinations
from typing import Any

import pandas as pd

from . import catalogue as cat
from .errors import ReaSeqError
from .store import ArtifactStore

CASE_KINDS = ("item_knowledge", "taxonomy", "single_vs_multi", "gbr_fill")
VERDICTS = ("good", "wrong", "unsure")
PERSPECTIVES = ("demand", "attribute")
COLUMNS = list(cat.VERDICTS.columns)          # case_kind, case_id, reviewer, verdict, note, timestamp, provenance
KEY = ["case_kind", "case_id", "reviewer"]
# the states of a verdict against the artifacts as they are now
CURRENT, OUTDATED, NOT_FOUND = "current", "outdated", "not found"
STATES = (CURRENT, OUTDATED, NOT_FOUND)


class ReviewError(ReaSeqError):
    """A verdict that cannot be saved or read (names the field, or the file and row)."""


# ---- provenance of what is reviewed ------------------------------------------------------------------
def knowledge_provenance(kn: pd.DataFrame, item_id: str) -> dict:
    """{setup: {template_hash, model, created}} of an item's knowledge rows (item_knowledge and
    single_vs_multi cases): regenerating either setup's knowledge makes a verdict on the item outdated."""
    rows = kn[kn["item_id"] == item_id]
    if rows.empty:
        raise ReviewError(f"item_knowledge has no row for item {item_id}: there is no knowledge to review")
    return {str(r["setup"]): {"template_hash": _text(r["template_hash"]), "model": _text(r["model"]),
                              "created": _text(r["created"])}
            for r in rows.sort_values("setup").to_dict("records")}


def taxonomy_case_id(primary: str, sub: str, perspective: str) -> str:
    return f"{primary}/{sub}/{perspective}"


def taxonomy_provenance(tax: dict, primary: str, sub: str, perspective: str) -> dict:
    """The taxonomy's templates (those that make this perspective's taxonomy) and model, the category's
    `created` (None where the taxonomy does not date its categories; recorded as such) and a content hash
    of the Layer-1 block and the subcategory's Layer-2 block of the perspective, as shown on the page."""
    if perspective not in PERSPECTIVES:
        raise ReviewError(f"taxonomy case {primary}/{sub}: perspective {perspective!r} is not one of "
                          f"{', '.join(PERSPECTIVES)}")
    c = (tax.get("categories") or {}).get(primary)
    if c is None:
        raise ReviewError(f"taxonomy: no category {primary!r}")
    s = (c.get("subcategories") or {}).get(sub)
    if s is None:
        raise ReviewError(f"taxonomy, category {primary!r}: no subcategory {sub!r}")
    templates = tax.get("templates") or {}
    shown = {"layer1": c.get(perspective), "layer2": s.get(perspective)}
    return {"templates": {t: templates.get(t) for t in (f"{perspective}_taxonomy", "dimension_refinement")},
            "model": tax.get("model"),
            "category_created": c.get("created"),
            "content_hash": hashlib.sha256(_canonical(shown).encode()).hexdigest()[:16]}


def fill_provenance(fills_prov: dict, where: str = "fills") -> dict:
    """The fills artifact's `created` and `code_version` (from its provenance sidecar)."""
    missing = [k for k in ("created", "code_version") if not fills_prov.get(k)]
    if missing:
        raise ReviewError(f"{where}: the provenance lacks {', '.join(missing)}, so a verdict on a fill "
                          "could not tell when the fills are regenerated")
    return {"created": fills_prov["created"], "code_version": fills_prov["code_version"]}


def current_provenances(store: ArtifactStore, dataset: str, verdicts: pd.DataFrame) -> list[dict | None]:
    """The provenance each verdict's case has now (None: the case, or the artifact holding it, is gone).
    Reads each artifact the verdicts need once."""
    kinds = set(verdicts["case_kind"])
    kn = tax = fills = fills_prov = None
    if kinds & {"item_knowledge", "single_vs_multi"} and store.exists(dataset, cat.ITEM_KNOWLEDGE):
        kn = store.read(dataset, cat.ITEM_KNOWLEDGE)
    if "taxonomy" in kinds and store.exists(dataset, cat.TAXONOMY):
        tax = store.read(dataset, cat.TAXONOMY)
    if "gbr_fill" in kinds and store.exists(dataset, cat.FILLS):
        fills = set(store.read(dataset, cat.FILLS)["fill_id"].astype(str))
        fills_prov = fill_provenance(store.provenance(dataset, cat.FILLS), str(store.path(dataset, cat.FILLS)))
    known = set(kn["item_id"]) if kn is not None else set()
    out: list[dict | None] = []
    for kind, case in zip(verdicts["case_kind"], verdicts["case_id"]):
        if kind in ("item_knowledge", "single_vs_multi"):
            out.append(knowledge_provenance(kn, case) if case in known else None)
        elif kind == "taxonomy":
            parts = split_taxonomy_case(tax, case) if tax is not None else None
            out.append(taxonomy_provenance(tax, *parts) if parts else None)
        else:
            out.append(dict(fills_prov) if fills is not None and case in fills else None)
    return out


def split_taxonomy_case(tax: dict, case_id: str) -> tuple[str, str, str] | None:
    """(primary, sub, perspective) of a taxonomy case id, matched against the taxonomy's names (a name may
    itself hold a '/'); None when the taxonomy has no such category and subcategory."""
    rest, _, perspective = case_id.rpartition("/")
    for primary, c in (tax.get("categories") or {}).items():
        sub = rest[len(primary) + 1:]
        if rest.startswith(primary + "/") and sub in (c.get("subcategories") or {}):
            return primary, sub, perspective
    return None


def outdated(verdict: dict | pd.Series, current_provenance: dict | None) -> bool:
    """True when the reviewed thing has been regenerated since the verdict (its provenance differs), or
    no longer exists (current_provenance None)."""
    if current_provenance is None:
        return True
    return _canonical(_prov_of(verdict)) != _canonical(current_provenance)


def state(verdict: dict | pd.Series, current_provenance: dict | None) -> str:
    if current_provenance is None:
        return NOT_FOUND
    return OUTDATED if outdated(verdict, current_provenance) else CURRENT


def with_states(verdicts: pd.DataFrame, current: list[dict | None]) -> pd.DataFrame:
    """The verdicts with a `state` column (current / outdated / not found)."""
    return verdicts.assign(state=[state(r, p) for r, p in zip(verdicts.to_dict("records"), current)])


# ---- reading and saving -------------------------------------------------------------------------------
def empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def read_verdicts(store: ArtifactStore, dataset: str) -> pd.DataFrame:
    """Every stored verdict (an empty table when none has been saved), checked row by row."""
    if not store.exists(dataset, cat.VERDICTS):
        return empty()
    df = store.read(dataset, cat.VERDICTS)
    where = str(store.path(dataset, cat.VERDICTS))
    for n, r in enumerate(df.to_dict("records")):
        _check_row(r, f"{where}, row {n}")
    return df[COLUMNS].reset_index(drop=True)


def case_verdicts(store: ArtifactStore, dataset: str, case_kind: str, case_id: str) -> pd.DataFrame:
    df = read_verdicts(store, dataset)
    return df[(df["case_kind"] == case_kind) & (df["case_id"] == str(case_id))].reset_index(drop=True)


def save_verdict(store: ArtifactStore, dataset: str, case_kind: str, case_id: str, verdict: str,
                 reviewer: str, provenance: dict, note: str = "", timestamp: str | None = None) -> dict:
    """Save one reviewer's verdict on a case (replacing their earlier verdict on it); returns the row.

    Read-modify-write of the whole table, written atomically: a crash leaves the old table whole. Two
    reviewers saving in the same instant could lose one save (the workbench is used by a few analysts)."""
    row = {"case_kind": case_kind, "case_id": str(case_id).strip() if case_id is not None else "",
           "reviewer": (reviewer or "").strip(), "verdict": verdict, "note": (note or "").strip(),
           "timestamp": timestamp or _now(), "provenance": _provenance_text(provenance)}
    _check_row(row, "verdict")
    df = read_verdicts(store, dataset)
    same = ((df["case_kind"] == row["case_kind"]) & (df["case_id"] == row["case_id"])
            & (df["reviewer"].str.casefold() == row["reviewer"].casefold()))   # "Ana" and "ana" are one reviewer
    kept = df[~same]
    df = pd.concat([kept, pd.DataFrame([row])], ignore_index=True) if len(kept) else pd.DataFrame([row])
    df = df.sort_values(KEY, kind="stable").reset_index(drop=True)
    store.write(dataset, cat.VERDICTS, df[COLUMNS], {
        "verdicts": len(df), "reviewers": sorted(set(df["reviewer"])),
        "last_saved": {k: row[k] for k in ("case_kind", "case_id", "reviewer", "timestamp")}})
    return row


def _check_row(r: dict, where: str) -> None:
    if r.get("case_kind") not in CASE_KINDS:
        raise ReviewError(f"{where}, field 'case_kind': {r.get('case_kind')!r} is not one of {', '.join(CASE_KINDS)}")
    if r.get("verdict") not in VERDICTS:
        raise ReviewError(f"{where}, field 'verdict': {r.get('verdict')!r} is not one of {', '.join(VERDICTS)}")
    for f in ("case_id", "reviewer", "timestamp"):
        if not isinstance(r.get(f), str) or not r[f].strip():
            raise ReviewError(f"{where}, field '{f}': empty (a verdict needs its {f.replace('_', ' ')})")
    if not isinstance(r.get("note"), str):
        raise ReviewError(f"{where}, field 'note': {type(r.get('note')).__name__}, expected text")
    try:
        prov = json.loads(r.get("provenance"))
    except (TypeError, ValueError) as e:
        raise ReviewError(f"{where}, field 'provenance': not JSON text ({e})") from None
    if not isinstance(prov, dict) or not prov:
        raise ReviewError(f"{where}, field 'provenance': expected a non-empty JSON object of what was reviewed")


def _provenance_text(provenance: Any) -> str:
    if not isinstance(provenance, dict) or not provenance:
        raise ReviewError("verdict, field 'provenance': expected a non-empty dict of what was reviewed, got "
                          f"{provenance!r}")
    try:
        return _canonical(provenance)
    except TypeError as e:
        raise ReviewError(f"verdict, field 'provenance': not JSON serialisable ({e})") from None


def _prov_of(verdict: dict | pd.Series) -> dict:
    p = verdict["provenance"]
    return json.loads(p) if isinstance(p, str) else p


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text(v) -> str | None:
    return None if v is None or (isinstance(v, float) and v != v) else str(v)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# ---- agreement ---------------------------------------------------------------------------------------
def case_agreement(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per case judged by two or more reviewers: reviewers, their verdicts, whether all agree."""
    rows = []
    for (kind, case), g in verdicts.groupby(["case_kind", "case_id"], sort=True):
        if g["reviewer"].nunique() < 2:
            continue
        rows.append({"case_kind": kind, "case_id": case, "reviewers": int(g["reviewer"].nunique()),
                     "verdicts": "; ".join(f"{r}: {v}" for r, v in zip(g["reviewer"], g["verdict"])),
                     "agree": bool(g["verdict"].nunique() == 1)})
    return pd.DataFrame(rows, columns=["case_kind", "case_id", "reviewers", "verdicts", "agree"])


def agreement_share(verdicts: pd.DataFrame) -> float | None:
    """Share of the cases judged by two or more reviewers on which all of them agree (None: no such case)."""
    per_case = case_agreement(verdicts)
    return float(per_case["agree"].mean()) if len(per_case) else None


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same cases: (p_o - p_e) / (1 - p_e). None when it is
    undefined (no case, or both raters used one and the same label throughout: p_e = 1)."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: {len(a)} and {len(b)} labels; the raters must judge the same cases")
    n = len(a)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in zip(a, b)) / n
    labels = set(a) | set(b)
    p_e = sum((a.count(k) / n) * (b.count(k) / n) for k in labels)
    return None if p_e == 1 else (p_o - p_e) / (1 - p_e)


def pairwise_kappa(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per pair of reviewers with cases in common: the cases, their raw agreement and Cohen's kappa (NaN
    where undefined)."""
    by = {r: dict(zip(zip(g["case_kind"], g["case_id"]), g["verdict"]))
          for r, g in verdicts.groupby("reviewer", sort=True)}
    rows = []
    for ra, rb in combinations(sorted(by), 2):
        common = sorted(set(by[ra]) & set(by[rb]))
        if not common:
            continue
        a, b = [by[ra][c] for c in common], [by[rb][c] for c in common]
        rows.append({"reviewer_a": ra, "reviewer_b": rb, "cases": len(common),
                     "agreement": sum(x == y for x, y in zip(a, b)) / len(common), "kappa": cohen_kappa(a, b)})
    return pd.DataFrame(rows, columns=["reviewer_a", "reviewer_b", "cases", "agreement", "kappa"])


# ---- export ------------------------------------------------------------------------------------------
def to_csv(verdicts: pd.DataFrame) -> str:
    """The (filtered) verdict list as CSV text: the stored columns, then `state` where it was computed."""
    cols = COLUMNS + [c for c in ("state",) if c in verdicts.columns]
    buf = io.StringIO()
    verdicts[cols].to_csv(buf, index=False)
    return buf.getvalue()

