"""The item vector spaces every stage reads, loaded one way.

- `title`: Phi(title + brand + category path) for every item (catalogue entry `title_vectors`).
- `knowledge`: h = Phi(demand text) + Phi(attribute text) (paper Eq. 1) for items with multi-agent knowledge.
  The rule for the rest, the same everywhere: **an item without knowledge keeps its title vector**, and
  `ItemSpace.has_knowledge` says which items are which, so a caller that wants knowledge items only takes
  `space.knowledge_only()`.

Vectors are L2-normalised here, once (h has norm in [0, 2]; every consumer compares by cosine).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import catalogue as cat
from ..store import ArtifactStore

SPACES = ("title", "knowledge")
FALLBACK_RULE = "items without multi-agent knowledge keep their title vector"


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class ItemSpace:
    space: str
    item_ids: np.ndarray          # str, the dataset's item order
    vectors: np.ndarray           # float32 [n, d], L2-normalised
    has_knowledge: np.ndarray     # bool [n]; all False for the title space

    @property
    def rule(self) -> str:
        return "every item: its title vector" if self.space == "title" else FALLBACK_RULE

    def coverage(self) -> dict:
        n_k = int(self.has_knowledge.sum())
        return {"space": self.space, "items": int(len(self.item_ids)), "knowledge": n_k,
                "title": int(len(self.item_ids) - n_k), "rule": self.rule}

    def knowledge_only(self) -> "ItemSpace":
        m = self.has_knowledge
        return ItemSpace(self.space, self.item_ids[m], self.vectors[m], m[m])

    def rows(self, item_ids) -> np.ndarray:
        """Row index of each id (KeyError names the first unknown id)."""
        pos = {iid: i for i, iid in enumerate(self.item_ids)}
        try:
            return np.array([pos[str(i)] for i in item_ids], dtype=np.int64)
        except KeyError as e:
            raise KeyError(f"item {e.args[0]!r} is not in the {self.space} item space") from None


def load_item_space(dataset: str, space: str, store: ArtifactStore | None = None) -> ItemSpace:
    """The item vectors of `space` for every item of the dataset (MissingArtifact names the command)."""
    if space not in SPACES:
        raise ValueError(f"unknown item space {space!r}; expected one of {SPACES}")
    store = store or ArtifactStore()
    z = store.read(dataset, cat.TITLE_VECTORS)
    ids = np.asarray(z["item_ids"]).astype(str)
    vecs = l2_normalise(z["vectors"])
    has_k = np.zeros(len(ids), dtype=bool)
    if space == "knowledge":
        k = store.read(dataset, cat.KNOWLEDGE_VECTORS)
        pos = {iid: i for i, iid in enumerate(ids)}
        rows = np.array([pos[i] for i in np.asarray(k["item_ids"]).astype(str)], dtype=np.int64)
        vecs = vecs.copy()
        vecs[rows] = l2_normalise(k["vectors"])
        has_k[rows] = True
    return ItemSpace(space, ids, vecs, has_k)
