"""Residual k-means: the training-free baseline for the RQ-VAE tokenizer.

Level l runs k-means (K centroids) on what levels < l left over, directly in the item-vector space:
r^(0) = h_i, s^(l) = nearest centroid of r^(l-1), r^(l) = r^(l-1) - c_{s^(l)}. No adapter, no decoder,
no gradient: it isolates what the RQ-VAE's learning adds over plain hierarchical clustering.
"""
from __future__ import annotations

import numpy as np
import torch

from .rqvae import kmeans, nearest_code


def residual_kmeans(vectors: np.ndarray, levels: int = 3, codebook_size: int = 256, iters: int = 25,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(ids [n, L], reconstruction sum_l c^(l) [n, d], codebooks) for vectors [n, d]."""
    gen = torch.Generator().manual_seed(seed)
    r = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
    recon = torch.zeros_like(r)
    ids, books = [], []
    for _ in range(levels):
        c = kmeans(r, codebook_size, iters, gen)
        s = nearest_code(r, c)
        recon += c[s]
        r = r - c[s]
        ids.append(s.numpy())
        books.append(c.numpy())
    return np.stack(ids, 1), recon.numpy(), books
