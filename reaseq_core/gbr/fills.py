"""Fills (paper section 3.2.3 and Figure 6): the vectors the model infers at [FILL] positions, their
nearest real items, and their context, in the shape the app's case view (Figure 6a) and UMAP view
(Figure 6b) read (catalogue entries cat.FILLS and cat.FILL_VECTORS).

Fills live in the item-vector space (the model's output head maps back to it), so the nearest real items
are found by exact cosine: a flat inner-product faiss index over L2-normalised vectors.
"""
from __future__ import annotations

import json

import faiss
import numpy as np
import pandas as pd

from ..representation.item_space import l2_normalise
from .labels import FILL, Corpus


def nearest_items(queries: np.ndarray, item_vectors: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(similarities [n, k], item rows [n, k]) by exact cosine (faiss IndexFlatIP on normalised vectors)."""
    index = faiss.IndexFlatIP(item_vectors.shape[1])
    index.add(l2_normalise(item_vectors))
    sims, rows = index.search(l2_normalise(queries), min(k, item_vectors.shape[0]))
    return sims, rows


def fills_frame(variant: str, corpus: Corpus, fills: dict, item_ids: np.ndarray, item_vectors: np.ndarray,
                k: int = 10) -> pd.DataFrame:
    """One row per fill: fill_id, variant, user_id, position, gap_t, after_item, before_item, context_items
    (observed items with None where this fill sits), context_position, neighbours (JSON top-k), top1_*."""
    sims, rows = nearest_items(fills["vectors"], item_vectors, k)
    out = []
    for n in range(len(fills["row"])):
        r, pos = int(fills["row"][n]), int(fills["position"][n])
        kinds, tokens = corpus.kinds[r], corpus.tokens[r]
        real = (kinds != 0) & (kinds != FILL)
        before = real[:pos].sum()                                 # observed items before the fill
        items = [str(item_ids[i - 1]) for i in tokens[real]]
        context = items[:before] + [None] + items[before:]
        neigh = [{"item_id": str(item_ids[j]), "similarity": round(float(s), 4)}
                 for s, j in zip(sims[n], rows[n]) if j >= 0]
        out.append({"fill_id": f"{variant}:{corpus.users[r]}:{pos}", "variant": variant,
                    "user_id": str(corpus.users[r]), "position": pos, "gap_t": int(fills["gap"][n]),
                    "after_item": items[before - 1] if before else None,
                    "before_item": items[before] if before < len(items) else None,
                    "context_items": context, "context_position": int(before),
                    "neighbours": json.dumps(neigh), "top1_item": neigh[0]["item_id"] if neigh else None,
                    "top1_similarity": neigh[0]["similarity"] if neigh else float("nan")})
    return pd.DataFrame(out)


def fills_by_user(user_ids: np.ndarray, positions: np.ndarray, vectors: np.ndarray) -> dict:
    """{user_id: [k, d] L2-normalised fill vectors in sequence order}, the extra history of the CTR model
    (Table 6), from the arrays of a cat.FILLS_ALL artifact."""
    vecs = l2_normalise(vectors)
    out: dict = {}
    for n in np.lexsort((positions, user_ids)):
        out.setdefault(str(user_ids[n]), []).append(vecs[n])
    return {u: np.stack(v) for u, v in out.items()}
