"""Knowledge-enhanced item representations (paper 2.1.2).

For an item i with Layer-3 knowledge K_i^u = {(delta_j^u, w_ij^u)} (user demand) and
K_i^p = {(delta_k^p, w_ik^p)} (product attribute):

    t_i^u = CONCAT_j [ delta_j^u (+) w_ij^u ],   t_i^p = CONCAT_k [ delta_k^p (+) w_ik^p ]
    h_i^t = Phi(t_i^u) + Phi(t_i^p)                                     (the paper's h_i^t)

with "dimension: kw1, kw2, kw3" for delta (+) w and "; " between dimensions. Phi is the bundled
all-MiniLM-L6-v2 (encoder.py), whose own output is L2-normalised before the sum, so h has norm in
[0, 2]; it is stored unnormalised, as the paper defines it (cosine = normalise first).

Knowledge comes from the knowledge stage's `item_knowledge` (one row per item and setup, "multi_agent" =
MAKR, "single_agent" = the Figure 7 foil). Only rows with status "ok" and at least one entry with
keywords in each perspective get a vector; the rest are counted, not guessed.

The "title + MAKR text" arm of the tables encodes one text, Phi(title text . t^u . t^p), to show what
the knowledge adds to the title when both go through the encoder together.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import catalogue as cat
from ..errors import DataError
from ..store import ArtifactStore
from .encoder import DIM, MODEL_NAME, EmbeddingCache, embedding_cache, encode
from .title_vectors import title_text

SETUPS = {"multi_agent": cat.KNOWLEDGE_VECTORS, "single_agent": cat.SINGLE_AGENT_VECTORS}   # setup -> its vectors
PERSPECTIVES = ("user_demand", "product_attribute")


def parse_entries(raw, where: str, row: int, field_name: str) -> list[dict]:
    """The JSON list of knowledge entries of one perspective; DataError naming the row and field if malformed."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return []
    try:
        entries = json.loads(raw, strict=False) if isinstance(raw, str) else raw
        if isinstance(entries, np.ndarray):     # a parquet list column rather than JSON text
            entries = entries.tolist()
    except json.JSONDecodeError as e:
        raise DataError(where, f"not valid JSON ({e.msg} at char {e.pos})", row=row, field=field_name) from None
    if not isinstance(entries, list):
        raise DataError(where, f"expected a JSON list, got {type(entries).__name__}", row=row, field=field_name)
    for j, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("dimension"), str):
            raise DataError(where, f"entry {j} has no string 'dimension'", row=row, field=field_name)
        kws = e.get("keywords", [])
        if not isinstance(kws, list) or not all(isinstance(k, str) for k in kws):
            raise DataError(where, f"entry {j} ('{e['dimension']}'): 'keywords' must be a list of strings",
                            row=row, field=field_name)
    return entries


def perspective_text(entries: list[dict]) -> str:
    """t = CONCAT_j [delta_j (+) w_j]: 'dimension: kw1, kw2; dimension: kw3' (entries without keywords skipped)."""
    parts = []
    for e in entries:
        kws = [k.strip() for k in e.get("keywords", []) if k and k.strip()]
        if kws:
            parts.append(f"{e['dimension'].strip()}: {', '.join(kws)}")
    return "; ".join(parts)


@dataclass
class KnowledgeTexts:
    """Per setup: item ids with usable knowledge, their t^u and t^p, and what was left out and why."""
    setup: str
    item_ids: list[str] = field(default_factory=list)
    t_u: list[str] = field(default_factory=list)
    t_p: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def read_knowledge(store: ArtifactStore, dataset: str) -> pd.DataFrame:
    """The item knowledge (MissingArtifact naming `reaseq knowledge build` when absent; the store checks the
    catalogue's columns, so a file without item_id / setup / status / the perspectives never gets here)."""
    return store.read(dataset, cat.ITEM_KNOWLEDGE)


def knowledge_where(store: ArtifactStore, dataset: str) -> str:
    """The item-knowledge file, as error messages about its rows name it."""
    return str(store.path(dataset, cat.ITEM_KNOWLEDGE))


def knowledge_texts(knowledge: pd.DataFrame, setup: str, where: str = cat.ITEM_KNOWLEDGE.filename,
                    item_pool: set[str] | None = None) -> KnowledgeTexts:
    """t^u and t^p for every item of `setup` whose row is ok and has keywords in both perspectives.

    When an item has several rows for one setup (a regenerated item), the last row wins.
    """
    out = KnowledgeTexts(setup)
    skipped = {"failed": 0, "empty_user_demand": 0, "empty_product_attribute": 0, "not_in_dataset": 0}
    rows = knowledge.reset_index(drop=True)
    rows = rows[rows["setup"] == setup]
    rows = rows[~rows["item_id"].astype(str).duplicated(keep="last")]
    for idx, r in rows.iterrows():
        item = str(r["item_id"])
        if item_pool is not None and item not in item_pool:
            skipped["not_in_dataset"] += 1
            continue
        if r["status"] != "ok":
            skipped["failed"] += 1
            continue
        line = int(idx) + 1   # 1-based row of the parquet file, for error messages
        t_u = perspective_text(parse_entries(r["user_demand"], where, line, "user_demand"))
        t_p = perspective_text(parse_entries(r["product_attribute"], where, line, "product_attribute"))
        if not t_u:
            skipped["empty_user_demand"] += 1
            continue
        if not t_p:
            skipped["empty_product_attribute"] += 1
            continue
        out.item_ids.append(item)
        out.t_u.append(t_u)
        out.t_p.append(t_p)
    out.skipped = skipped
    return out


def knowledge_vectors(texts: KnowledgeTexts, cache: EmbeddingCache | None = None) -> np.ndarray:
    """h = Phi(t^u) + Phi(t^p), float32 [n, 384], unnormalised (as in the paper)."""
    if not texts.item_ids:
        return np.zeros((0, DIM), np.float32)
    return (encode(texts.t_u, cache=cache) + encode(texts.t_p, cache=cache)).astype(np.float32)


def clean_item_row(row: dict) -> dict:
    """An items-table row with missing strings as None ('' for the title): pandas reads them as NaN,
    which title_text would otherwise print as 'nan'."""
    row = dict(row)
    for col in ("title", "brand"):
        if not isinstance(row.get(col), str):
            row[col] = "" if col == "title" else None
    return row


def dataset_with_clean_text(dataset):
    """The dataset with clean_item_row's treatment of missing titles and brands, for build_title_vectors."""
    import dataclasses
    items = dataset.items.copy()
    items["title"] = [t if isinstance(t, str) else "" for t in items["title"]]
    items["brand"] = pd.Series([b if isinstance(b, str) else None for b in items["brand"]], index=items.index,
                               dtype=object)
    return dataclasses.replace(dataset, items=items)


def title_makr_text(item_row: dict, t_u: str, t_p: str) -> str:
    return f"{title_text(clean_item_row(item_row))}. User demand: {t_u}. Product attributes: {t_p}"


def title_makr_vectors(items: pd.DataFrame, texts: KnowledgeTexts, cache: EmbeddingCache | None = None) -> np.ndarray:
    """Phi(title text . t^u . t^p), L2-normalised, for the items of `texts`."""
    by_id = items.set_index(items["item_id"].astype(str))
    rows = [by_id.loc[i].to_dict() for i in texts.item_ids]
    return encode([title_makr_text(r, u, p) for r, u, p in zip(rows, texts.t_u, texts.t_p)], cache=cache)


def build_knowledge_vectors(dataset, store: ArtifactStore | None = None) -> dict[str, dict]:
    """Write the knowledge vectors of both setups (and the title + MAKR vectors) where knowledge exists.

    Returns {catalogue key: {"items": n, "skipped": {...}}}; an empty setup writes nothing.
    """
    store = store or ArtifactStore()
    knowledge = read_knowledge(store, dataset.name)
    where = knowledge_where(store, dataset.name)
    kprov = store.provenance(dataset.name, cat.ITEM_KNOWLEDGE)
    pool = set(dataset.items["item_id"].astype(str))
    cache = embedding_cache(store, dataset.name)
    report = {}
    for setup, art in SETUPS.items():
        texts = knowledge_texts(knowledge, setup, where, pool)
        report[art.key] = {"items": len(texts.item_ids), "skipped": texts.skipped}
        if not texts.item_ids:
            continue
        prov = {"encoder": MODEL_NAME, "setup": setup, "items": len(texts.item_ids), "skipped": texts.skipped,
                "knowledge_created": kprov.get("created"), "knowledge_code_version": kprov.get("code_version"),
                "template_hashes": sorted({str(h) for h in knowledge.loc[knowledge["setup"] == setup, "template_hash"]
                                           .dropna()}) if "template_hash" in knowledge.columns else []}
        store.write(dataset.name, art,
                    {"item_ids": np.array(texts.item_ids, dtype=str), "vectors": knowledge_vectors(texts, cache)},
                    {**prov, "text": "h = Phi(t_u) + Phi(t_p); t = 'dimension: keywords' joined by '; '",
                     "normalised": False})
        if setup == "multi_agent":
            store.write(dataset.name, cat.TITLE_MAKR_VECTORS,
                        {"item_ids": np.array(texts.item_ids, dtype=str),
                         "vectors": title_makr_vectors(dataset.items, texts, cache)},
                        {**prov, "text": "Phi(title + brand + category path . User demand: t_u . "
                                         "Product attributes: t_p)", "normalised": True})
            report[cat.TITLE_MAKR_VECTORS.key] = {"items": len(texts.item_ids), "skipped": texts.skipped}
    return report
