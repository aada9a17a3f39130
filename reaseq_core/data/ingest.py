"""`reaseq data ingest`: raw files -> canonical parquet + a dataset card, written atomically.

Known datasets (raw folders searched on the dataset search path, see config.py):
    beauty    amazon-beauty-2014/                  Amazon 2014 5-core, RecBole atomic format
    magazine  amazon-2018-magazine-subscriptions/  Amazon 2018 raw JSON lines
Any other name needs `--path` to a folder in the generic format (see generic.py), or to the raw files
of any category of the Amazon 2018 or 2023 releases (`--format amazon2018 | amazon2023`; guessed from
the `meta_*` file when omitted), or `--reviews FILE --meta FILE` naming those two files directly.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import dataset_search_path
from ..errors import DataError, MissingArtifact
from .. import catalogue as cat
from ..store import ArtifactStore, code_version
from . import amazon2018, amazon2023, beauty2014, generic
from .schema import items_from_storage, items_to_storage, validate_canonical

ADAPTERS = {"amazon2014": beauty2014.load, "amazon2018": amazon2018.load, "amazon2023": amazon2023.load,
            "generic": generic.load}
# Formats read from one reviews file + one metadata file, found by name pattern or given explicitly.
RAW_FILE_FINDERS = {"amazon2018": amazon2018.find_raw_files, "amazon2023": amazon2023.find_raw_files}
# Amazon category paths start with the department ('Beauty', 'Musical Instruments'): level 1 is the
# first level that separates items, as for the known datasets.
AMAZON_PRIMARY_LEVEL = 1


@dataclass(frozen=True)
class KnownDataset:
    folder: str
    format: str
    primary_level: int
    expected_counts: dict = field(default_factory=dict)


KNOWN = {
    "beauty": KnownDataset("amazon-beauty-2014", "amazon2014", 1,
                           {"users": 22363, "items": 12101, "interactions": 198502}),
    "magazine": KnownDataset("amazon-2018-magazine-subscriptions", "amazon2018", 1),
}


def guess_format(folder: Path) -> str:
    """The adapter for an unnamed folder: an Amazon release if it holds a `meta_*` file, else generic."""
    names = [p.name for p in folder.iterdir() if p.is_file() and p.name.startswith(amazon2018.META_PREFIX)]
    if any(n.endswith(amazon2023.SUFFIXES) for n in names):
        return "amazon2023"
    if any(n.endswith(amazon2018.SUFFIXES) for n in names):
        return "amazon2018"
    return "generic"


def _format_of_file(path) -> str:
    """The Amazon release a raw file belongs to, from its name (.jsonl: 2023, .json: 2018)."""
    name = Path(path).name
    if name.endswith(amazon2023.SUFFIXES):
        return "amazon2023"
    if name.endswith(amazon2018.SUFFIXES):
        return "amazon2018"
    raise DataError(path, "cannot tell the format from the file name: pass --format amazon2018 | amazon2023",
                    expected="a .json(.gz) or .jsonl(.gz) file")


def resolve_source(name: str, path: str | os.PathLike | None = None, fmt: str | None = None,
                   data_dir: str | os.PathLike | None = None, reviews=None,
                   meta=None) -> tuple[Path, str, int, dict]:
    """(raw folder, adapter format, primary category level, expected counts) for a dataset name.

    `reviews` / `meta` (explicit raw files of an Amazon release) need no folder: the folder is then
    `path` if given, else the one holding the first named file (where a file not named is looked for).
    """
    known = KNOWN.get(name)
    if reviews is not None or meta is not None:
        given = Path(reviews if reviews is not None else meta).expanduser().resolve()
        folder = Path(path).expanduser().resolve() if path is not None else given.parent
        if not folder.is_dir():
            raise DataError(folder, "dataset folder not found")
        fmt = fmt or (known.format if known else _format_of_file(given))
        if fmt not in RAW_FILE_FINDERS:
            raise DataError(given, f"--reviews / --meta do not apply to format '{fmt}'",
                            expected=" / ".join(RAW_FILE_FINDERS))
        # Hand-picked files are not the published set: no expected counts to check against.
        return folder, fmt, known.primary_level if known else AMAZON_PRIMARY_LEVEL, {}
    if path is not None:
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise DataError(folder, "dataset folder not found")
        fmt = fmt or (known.format if known else guess_format(folder))
        level = known.primary_level if known else (AMAZON_PRIMARY_LEVEL if fmt in RAW_FILE_FINDERS else 0)
        return folder, fmt, level, {}
    if name not in KNOWN:
        raise DataError(name, f"unknown dataset '{name}': pass --path to its folder, or --reviews FILE --meta FILE "
                        f"(known: {', '.join(KNOWN)})")
    k = KNOWN[name]
    for d in dataset_search_path(data_dir):
        if (d / k.folder).is_dir():
            return d / k.folder, fmt or k.format, k.primary_level, k.expected_counts
    tried = ", ".join(str(d / k.folder) for d in dataset_search_path(data_dir))
    raise DataError(k.folder, f"raw files for '{name}' not found; looked in {tried}. "
                    "Set REASEQ_DATA_DIR or pass --data-dir / --path")


def _file_signature(paths, folder: Path) -> dict:
    """name -> [size, mtime]: what decides whether an ingest can be skipped."""
    return {(p.name if p.parent == folder else str(p)): [p.stat().st_size, int(p.stat().st_mtime)]
            for p in paths}


def _hist(values: np.ndarray, bins) -> dict:
    counts, edges = np.histogram(values, bins=bins)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _pct(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {}
    q = np.percentile(values, [50, 90, 99])
    return {"min": float(values.min()), "median": float(q[0]), "mean": round(float(values.mean()), 3),
            "p90": float(q[1]), "p99": float(q[2]), "max": float(values.max())}


def content_hash(items: pd.DataFrame, interactions: pd.DataFrame, demand: pd.DataFrame) -> str:
    """sha256 over the canonical tables (order-sensitive, so a changed sort changes the hash)."""
    h = hashlib.sha256()
    for df in (items_to_storage(items), interactions, demand):
        h.update(pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def dataset_card(name: str, items: pd.DataFrame, inter: pd.DataFrame, demand: pd.DataFrame, report: dict,
                 source: Path) -> dict:
    seq_len = inter.groupby("user_id").size().to_numpy()
    ts = inter["timestamp"].to_numpy()
    same_user = inter["user_id"].to_numpy()[1:] == inter["user_id"].to_numpy()[:-1]
    gaps_days = ((ts[1:] - ts[:-1]) / 86400.0)[same_user]

    def present(col):
        s = items[col]
        if col == "category_path":
            return s.map(len) > 0
        if col == "attributes":
            return s.map(len) > 0
        return s.notna() & (s.astype(str).str.strip() != "")

    coverage = {c: round(float(present(c).mean()), 6) for c in
                ("title", "brand", "category_path", "price", "attributes", "description", "product_line_id",
                 "sales_rank")}
    tree = (items.assign(path=items["category_path"].map(lambda p: " > ".join(p)))
            .groupby("path").size().sort_values(ascending=False))
    depth = items["category_path"].map(len)
    return {
        "dataset": name,
        "source": str(source),
        "counts": {"users": int(inter["user_id"].nunique()), "items": int(len(items)),
                   "interactions": int(len(inter)), "demand_expressions": int(len(demand)),
                   "brands": int(items["brand"].nunique())},
        "coverage": coverage,
        "sequence_length": {**_pct(seq_len), "users_with_20_or_more": int((seq_len >= 20).sum()),
                            "histogram": _hist(seq_len, bins=[5, 6, 7, 8, 10, 12, 15, 20, 30, 50, 100, 1000])
                            if seq_len.min() >= 5 else _hist(seq_len, bins=20)},
        "gap_days": {**_pct(gaps_days), "share_same_day": round(float((gaps_days == 0).mean()), 4),
                     "histogram": _hist(gaps_days, bins=[0, 1e-9, 1, 2, 7, 14, 30, 60, 90, 180, 365, 730, 5000])},
        "time_range": [int(ts.min()), int(ts.max())],
        "categories": {
            "primary": {str(k): int(v) for k, v in items["primary_category"].value_counts().items()},
            "distinct_paths": int(len(tree)),
            "distinct_leaves": int(items["leaf_category"].nunique()),
            "depth": {"min": int(depth.min()), "max": int(depth.max())},
            "paths": [{"path": p, "items": int(n)} for p, n in tree.items()],
        },
        "ingest_report": report,
    }


def ingest(name: str, store: ArtifactStore | None = None, path=None, fmt: str | None = None, data_dir=None,
           force: bool = False, reviews=None, meta=None) -> dict:
    """Ingest a dataset into the store (idempotent: skipped when the same raw files were ingested).

    `reviews` / `meta` name the raw files of an Amazon 2018 / 2023 category, overriding discovery.
    """
    store = store or ArtifactStore()
    folder, fmt, level, expected = resolve_source(name, path, fmt, data_dir, reviews, meta)
    if fmt not in ADAPTERS:
        raise DataError(folder, f"unknown format '{fmt}'", expected=" / ".join(ADAPTERS))
    adapter_kw = {}
    if fmt in RAW_FILE_FINDERS:
        # Resolve the two raw files once, so the skip check and the adapter see the same ones.
        files = RAW_FILE_FINDERS[fmt](folder, reviews, meta)
        adapter_kw = {"reviews": files.reviews, "meta": files.meta}
        raw_sig = _file_signature([files.reviews, files.meta], folder)
    else:
        raw_sig = _file_signature(sorted(p for p in folder.iterdir() if p.is_file()), folder)
    if store.exists(name, cat.DATASET_CARD) and not force:
        old = store.provenance(name, cat.DATASET_CARD)
        if old.get("raw_files") == raw_sig and old.get("source") == str(folder):
            card = store.read(name, cat.DATASET_CARD)
            card["skipped"] = True
            return card
    t0 = time.perf_counter()
    items, inter, demand, report = ADAPTERS[fmt](folder, primary_level=level, **adapter_kw)
    validate_canonical(items, inter, demand, source=str(folder))
    counts = {"users": inter["user_id"].nunique(), "items": len(items), "interactions": len(inter)}
    for k, v in expected.items():
        if counts[k] != v:
            raise DataError(folder, f"{k}: got {counts[k]}, the published figure is {v}", field=k)
    card = dataset_card(name, items, inter, demand, report, folder)
    card["content_hash"] = content_hash(items, inter, demand)
    card["ingest_seconds"] = round(time.perf_counter() - t0, 2)
    prov = {"source": str(folder), "format": fmt, "raw_files": raw_sig, "content_hash": card["content_hash"],
            "config": {"primary_level": level}}

    # Write everything into a staging folder, then swap it in: never a half-written dataset.
    final = store.stage_dir(name, "data")
    staging_root = final.with_name(".data.staging")      # a private store; its data folder is swapped in
    shutil.rmtree(staging_root, ignore_errors=True)
    try:
        staging = ArtifactStore(staging_root)
        staging.write(name, cat.ITEMS, items_to_storage(items), prov)
        staging.write(name, cat.INTERACTIONS, inter, prov)
        staging.write(name, cat.DEMAND, demand.astype(object), prov)
        staging.write(name, cat.DATASET_CARD, card, prov)
        old = final.with_name(".data.old")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(staging.stage_dir(name, "data"), final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return card


@dataclass
class Dataset:
    """The canonical tables of one ingested dataset."""
    name: str
    items: pd.DataFrame
    interactions: pd.DataFrame
    demand: pd.DataFrame
    card: dict

    @property
    def content_hash(self) -> str:
        return self.card["content_hash"]

    def sequences(self) -> dict[str, list[str]]:
        """user_id -> item ids in time order."""
        return self.interactions.groupby("user_id", sort=False)["item_id"].agg(list).to_dict()


def load_dataset(name: str, store: ArtifactStore | None = None) -> Dataset:
    """Read an ingested dataset; MissingArtifact (naming `reaseq data ingest`) if it is not there."""
    store = store or ArtifactStore()
    if not store.exists(name, cat.DATASET_CARD):
        raise MissingArtifact(f"dataset '{name}'", cat.DATASET_CARD.producing_command(name))
    return Dataset(name=name,
                   items=items_from_storage(store.read(name, cat.ITEMS)),
                   interactions=store.read(name, cat.INTERACTIONS),
                   demand=store.read(name, cat.DEMAND),
                   card=store.read(name, cat.DATASET_CARD))


def ensure_dataset(name: str, store: ArtifactStore | None = None, **kw) -> Dataset:
    """Ingest if needed, then load (what notebooks and tests call)."""
    store = store or ArtifactStore()
    ingest(name, store, **kw)
    return load_dataset(name, store)


__all__ = ["KNOWN", "Dataset", "ingest", "load_dataset", "ensure_dataset", "dataset_card", "code_version"]
