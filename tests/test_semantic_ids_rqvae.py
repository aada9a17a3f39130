"""RQ-VAE loss terms as written in appendix C, collapse guards, SID extraction and the SID report."""
import math

import numpy as np
import pytest
import torch

from reaseq_core.semantic_ids.extraction import assign_sids, sid_report
from reaseq_core.semantic_ids.residual_kmeans import residual_kmeans
from reaseq_core.semantic_ids.rqvae import RQVAE, RQVAEConfig, nearest_code, train_rqvae


def clustered(n=600, d=16, k=12, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    x = centres[rng.integers(k, size=n)] + 0.1 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_loss_terms_scaled_as_written():
    cfg = RQVAEConfig(latent_dim=4, levels=2, codebook_size=8, beta=0.25)
    torch.manual_seed(0)
    model = RQVAE(16, cfg)
    h = torch.as_tensor(clustered(64))
    model.init_codebooks(h, torch.Generator().manual_seed(0))
    out = model.losses(h)
    # recompute from the equations: residual recursion, z_hat = sum q, recon through the decoder
    with torch.no_grad():
        z = model.adapter(h)
        r, codes, rs = z, [], []
        for cb in model.codebooks:
            q = cb[nearest_code(r, cb)]
            rs.append(r)
            codes.append(q)
            r = r - q
        recon = ((h - model.decoder(sum(codes))) ** 2).sum(1).mean()
        # both commitment terms have the same value: 2 * ||r - q||^2 per level
        commit = sum(2 * ((a - b) ** 2).sum(1) for a, b in zip(rs, codes)).mean()
    torch.testing.assert_close(out["recon"], recon)
    torch.testing.assert_close(out["commit"], commit)
    torch.testing.assert_close(out["loss"], recon + 0.25 * commit)
    # gradients: a codebook gets only beta * d/dq ||sg[r] - q||^2 = beta * 2 (q - r) / B per assigned item
    model.zero_grad()
    out["loss"].backward()
    for level, cb in enumerate(model.codebooks):
        ids = out["ids"][level]
        expected = torch.zeros_like(cb)
        expected.index_add_(0, ids, 0.25 * 2 * (cb.detach()[ids] - rs[level]) / len(h))
        torch.testing.assert_close(cb.grad, expected)
    assert model.adapter.weight.grad.abs().sum() > 0 and model.decoder[0].weight.grad.abs().sum() > 0


def test_kmeans_init_and_dead_code_restart_prevent_collapse():
    x = clustered(800, k=20)
    cfg = RQVAEConfig(latent_dim=8, levels=2, codebook_size=16, epochs=15, batch_size=256, dead_after=3)
    model, hist = train_rqvae(x, cfg, show_progress=False)
    codes, recon = model.encode_ids(torch.as_tensor(x))
    report = sid_report(codes, 16, float(((x - recon) ** 2).sum(1).mean()))
    # 20 well separated clusters and 16 first-level codes: a collapsed codebook would use a handful
    assert report["levels"][0]["codes_used"] >= 14
    assert hist["recon"][-1] < hist["recon"][0]
    # a code moved far away is unused; after `dead_after` steps it is restarted onto the data
    with torch.no_grad():
        model.codebooks[0].data[3] = 1e3
    h = torch.as_tensor(x[:256])
    for _ in range(cfg.dead_after):
        _, _, ids = model.quantise(model.adapter(h))
        model.restart_dead_codes(h, ids, torch.Generator().manual_seed(1))
    assert model.codebooks[0].data[3].abs().max() < 10


def test_sid_report_hand_computed():
    codes = np.array([[0, 1], [0, 1], [1, 0]])
    r = sid_report(codes, codebook_size=4, recon_mse=0.5)
    l1 = r["levels"][0]
    assert l1["codes_used"] == 2 and l1["usage"] == pytest.approx(0.5)
    assert l1["perplexity"] == pytest.approx(math.exp(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))))
    assert r["unique_share"] == pytest.approx(1 / 3) and r["largest_bucket"] == 2
    assert r["distinct_full_ids"] == 2 and r["recon_mse"] == 0.5


def test_collision_suffix_is_bounded_and_ordered_by_error():
    codes = np.array([[1, 2]] * 4 + [[0, 0]])
    err = np.array([0.3, 0.1, 0.2, 0.4, 0.0])
    sids = assign_sids(["a", "b", "c", "d", "e"], codes, err, codebook_size=3)
    assert sids["sid"].tolist()[:2] == ["1-2", "1-2"]
    # closest reconstruction gets 0; the 4th item of a bucket is capped at K-1 = 2
    assert sids.set_index("item_id")["collision_suffix"].to_dict() == {"a": 2, "b": 0, "c": 1, "d": 2, "e": 0}
    assert sid_report(codes, 3, 0.0, sids)["still_colliding"] == 2


def test_residual_kmeans_reduces_error_per_level():
    x = clustered(500, k=10)
    _, r1, _ = residual_kmeans(x, levels=1, codebook_size=8)
    ids, r2, books = residual_kmeans(x, levels=2, codebook_size=8)
    assert ids.shape == (500, 2) and len(books) == 2
    assert ((x - r2) ** 2).sum(1).mean() < ((x - r1) ** 2).sum(1).mean()
