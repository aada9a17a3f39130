"""RQ-VAE semantic item tokenizer (ReaSeq appendix C; Zeghidour et al., 2021).

    z_i = W_adapt h_i + b_adapt                         semantic adapter, d -> d' (d' < d)
    r^(0) = z_i;  q^(l) = argmin_{c in C^(l)} ||r^(l-1) - c||^2;  r^(l) = r^(l-1) - q^(l),  l = 1..L
    z_hat_i = sum_l q^(l);   h_tilde_i = f_dec(z_hat_i)                       decoder d' -> d
    L = L_recon + beta * L_commit
    L_recon  = 1/|I| sum_i ||h_i - h_tilde_i||^2
    L_commit = 1/|I| sum_i sum_l ||sg[r^(l-1)] - q^(l)||^2 + ||r^(l-1) - sg[q^(l)]||^2
    s_i = [s^(1), ..., s^(L)]  (indices of the chosen codes)

The decoder sees z_hat through the straight-through estimator (z + sg[z_hat - z]) so the adapter gets
the reconstruction gradient; the codebooks learn only from the first commitment term.

Against codebook collapse (all items on a few codes): every codebook is initialised by k-means on the
residuals it will quantise (first forward pass), and codes unused for `dead_after` consecutive steps are
restarted on random residuals of the current batch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


@dataclass
class RQVAEConfig:
    latent_dim: int = 32          # d'
    levels: int = 3               # L
    codebook_size: int = 256      # K
    beta: float = 0.25
    hidden: int = 128             # decoder hidden width
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 1024
    dead_after: int = 20          # steps without use before a code is restarted
    kmeans_iters: int = 20
    seed: int = 0
    num_threads: int = 1          # the 2 cores are shared; oversubscribed threads are much slower here

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def small(cls, **overrides) -> "RQVAEConfig":
        """The small smoke configuration (`--small`): the same sizes, 20 epochs."""
        return cls(**{"epochs": 20, **overrides})


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    """Plain Lloyd's k-means (k-means++-free: random distinct init); returns [k, dim] centroids."""
    n = x.shape[0]
    idx = torch.randperm(n, generator=generator)[:k]
    if n < k:   # fewer points than codes: repeat points (with jitter) so every code starts somewhere
        idx = torch.randint(n, (k,), generator=generator)
    c = x[idx].clone() + (1e-4 * torch.randn(k, x.shape[1], generator=generator) if n < k else 0)
    for _ in range(iters):
        assign = torch.cdist(x, c).argmin(1)
        sums = torch.zeros_like(c).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1).float()
        c = torch.where(counts > 0, sums / counts.clamp(min=1), c)
    return c


def nearest_code(r: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """argmin_c ||r - c||^2 for every row of r."""
    d = (r.pow(2).sum(1, keepdim=True) - 2 * r @ codebook.T + codebook.pow(2).sum(1)[None, :])
    return d.argmin(1)


class RQVAE(nn.Module):
    def __init__(self, input_dim: int, cfg: RQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.adapter = nn.Linear(input_dim, cfg.latent_dim)                          # W_adapt, b_adapt
        self.codebooks = nn.ParameterList([nn.Parameter(torch.zeros(cfg.codebook_size, cfg.latent_dim))
                                           for _ in range(cfg.levels)])               # C^(1..L)
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden), nn.ReLU(),
                                     nn.Linear(cfg.hidden, input_dim))                # f_dec
        self.register_buffer("initialised", torch.tensor(False))
        self.register_buffer("steps_unused", torch.zeros(cfg.levels, cfg.codebook_size, dtype=torch.long))

    def quantise(self, z: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """(residuals r^(0..L-1), codes q^(1..L), indices s^(1..L)) -- the residual recursion above."""
        residuals, codes, ids = [], [], []
        r = z
        for cb in self.codebooks:
            s = nearest_code(r.detach(), cb)
            q = cb[s]
            residuals.append(r)
            codes.append(q)
            ids.append(s)
            r = r - q.detach()     # codebooks learn only from their own commitment term, not through residuals
        return residuals, codes, ids

    def losses(self, h: torch.Tensor) -> dict:
        """{"loss", "recon", "commit", "ids"} for a batch of vectors h [B, d]."""
        z = self.adapter(h)
        residuals, codes, ids = self.quantise(z)
        z_hat = torch.stack(codes).sum(0)
        h_tilde = self.decoder(z + (z_hat - z).detach())          # straight-through to the adapter
        recon = (h - h_tilde).pow(2).sum(1).mean()
        commit = sum((r.detach() - q).pow(2).sum(1) + (r - q.detach()).pow(2).sum(1)
                     for r, q in zip(residuals, codes)).mean()
        return {"loss": recon + self.cfg.beta * commit, "recon": recon, "commit": commit, "ids": ids}

    @torch.no_grad()
    def init_codebooks(self, h: torch.Tensor, generator: torch.Generator) -> None:
        """k-means on each level's residuals (level l sees what levels < l left over)."""
        r = self.adapter(h)
        for cb in self.codebooks:
            cb.data.copy_(kmeans(r, self.cfg.codebook_size, self.cfg.kmeans_iters, generator))
            r = r - cb[nearest_code(r, cb)]
        self.initialised.fill_(True)

    @torch.no_grad()
    def restart_dead_codes(self, h: torch.Tensor, ids: list[torch.Tensor], generator: torch.Generator) -> int:
        """Move codes unused for `dead_after` steps onto random residuals of this batch; returns how many."""
        z = self.adapter(h)
        residuals, _, _ = self.quantise(z)
        restarted = 0
        for level, (cb, s, r) in enumerate(zip(self.codebooks, ids, residuals)):
            used = torch.bincount(s, minlength=self.cfg.codebook_size) > 0
            self.steps_unused[level] = torch.where(used, 0, self.steps_unused[level] + 1)
            dead = torch.nonzero(self.steps_unused[level] >= self.cfg.dead_after).flatten()
            if len(dead):
                pick = torch.randint(r.shape[0], (len(dead),), generator=generator)
                cb.data[dead] = r[pick] + 1e-3 * torch.randn(len(dead), r.shape[1], generator=generator)
                self.steps_unused[level, dead] = 0
                restarted += len(dead)
        return restarted

    @torch.no_grad()
    def encode_ids(self, h: torch.Tensor, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """(semantic ids [n, L] int64, reconstruction h_tilde [n, d])."""
        out_ids, out_rec = [], []
        for s in range(0, h.shape[0], batch_size):
            z = self.adapter(h[s:s + batch_size])
            _, codes, ids = self.quantise(z)
            out_ids.append(torch.stack(ids, 1))
            out_rec.append(self.decoder(torch.stack(codes).sum(0)))
        return torch.cat(out_ids).numpy(), torch.cat(out_rec).numpy()


def train_rqvae(vectors: np.ndarray, cfg: RQVAEConfig, show_progress: bool = True) -> tuple[RQVAE, dict]:
    """Train on all item vectors; returns (model, history {"loss","recon","commit" per epoch, "restarts"})."""
    torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    h = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
    model = RQVAE(h.shape[1], cfg)
    model.init_codebooks(h, gen)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist = {"loss": [], "recon": [], "commit": [], "restarts": 0}
    for _ in tqdm(range(cfg.epochs), desc="RQ-VAE", disable=not show_progress):
        perm = torch.randperm(h.shape[0], generator=gen)
        tot = {"loss": 0.0, "recon": 0.0, "commit": 0.0}
        for s in range(0, h.shape[0], cfg.batch_size):
            hb = h[perm[s:s + cfg.batch_size]]
            out = model.losses(hb)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            hist["restarts"] += model.restart_dead_codes(hb, out["ids"], gen)
            for k in tot:
                tot[k] += out[k].item() * len(hb)
        for k in tot:
            hist[k].append(tot[k] / h.shape[0])
    return model, hist
