"""DIN -- Deep Interest Network (Zhou et al., KDD 2018) over item-vector behaviour sequences.

The downstream CTR model of the GBR experiments (ReaSeq Table 6 analogue): a user's interest is the
sum of their history items weighted by a local activation unit that looks at (history item, target):

    w_j = a(e_j, e_t) = MLP([e_j; e_t; e_j - e_t; e_j * e_t])       (DIN Sec. 4.3, activation unit)
    v_u = sum_j w_j e_j            (no softmax: DIN keeps the intensity of interest; padding has w = 0)
    y_hat = sigmoid(MLP([v_u; e_t]))                                  trained with BCE

Item representation: e_i = W x_i with x_i the item's fixed, L2-normalised vector (title or knowledge
vector, or a GBR fill vector) -- ONLY item vectors enter the model; there are no item-id embeddings, no
user or context features, so a comparison of two vector spaces or of histories with/without fills changes
nothing else.

Public entry point (called by the GBR stage for Table 6):

    run_din_experiment(dataset, item_ids, item_vectors, extra_history=None, seeds=(0, 1, 2),
                       cfg=DINConfig(), show_progress=True) -> dict

    dataset        a data.Dataset (e.g. ensure_dataset("beauty")) or a dataset name
    item_ids       str array [n]; item_vectors float array [n, d], L2-normalised, covering every interacted item
    extra_history  {user_id: array [k, d]} extra vectors (GBR fills, same space as item_vectors) appended
                   after the last `max_len` real events of EVERY history of that user (train, valid, test)
    seeds          training seeds (initialisation + batch order); the samples are drawn once with
                   `cfg.sample_seed`, so all seeds and both arms of a comparison score the same test samples
    cfg            DINConfig: dim, epochs (the epoch with the best validation AUC is scored on test),
                   batch_size, lr, max_len, neg_ratio, sample_seed, small_users. `DINConfig.small_slice()`:
                   a fixed 3,000-user slice (seeded) and 5 epochs, ~20 s per seed on this CPU (tests,
                   REASEQ_SMALL notebooks, the GBR stage's Table 6); full Beauty: ~1 min per seed and epoch
    returns {
      "model": "DIN", "seeds": [...],
      "per_seed": [{"seed", "overall": {"auc","gauc","n"}, "hot": {...}, "cold": {...}, "best_epoch",
                    "wall_s", "cpu_s", "train_samples_per_s", "valid_auc_per_epoch"}],
      "mean": {"overall": {"auc","gauc"}, "hot": {...}, "cold": {...}}, "std": {same, ddof=1 over seeds},
      "summary": {"overall_auc", "overall_auc_std", "overall_gauc", ..., "cold_gauc_std"},
      "protocol": {neg_ratio, sampler, sample_seed, max_len, split, segments, n_samples, n_users, n_test,
                   extra_history: {width, users_with_extra}},
      "config": {dim, epochs, batch_size, lr, small, max_len, item_dim, small_users, ...}, "wall_s": total seconds }

CTR samples: `reaseq_core.data.splits.ctr_samples` -- positives are real next events, `neg_ratio`
negatives per positive drawn uniformly from the catalogue minus the user's items (DIN's recipe on
Amazon data); last event = test, second last = valid (epoch selection), the rest train.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .data import PAD, CTRData, build_ctr_data
from .train import TrainConfig, summarise_seeds, train_and_evaluate



@dataclass
class DINConfig:
    """Every setting of a DIN experiment; `small_users` None means every user."""
    dim: int = 32
    epochs: int = 3
    batch_size: int = 256
    lr: float = 3e-3
    max_len: int = 50
    neg_ratio: int = 1
    sample_seed: int = 0
    small_users: int | None = None

    @classmethod
    def small_slice(cls, **kw) -> "DINConfig":
        # the slice is small: more passes are cheap and needed to learn (AUC 0.55 after 1 epoch)
        return cls(**{"epochs": 5, "small_users": 3000, **kw})

    @property
    def small(self) -> bool:
        return self.small_users is not None

    def as_dict(self) -> dict:
        return asdict(self)


def mlp(sizes: list[int], last_activation: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.PReLU())   # DIN uses PReLU / Dice; PReLU keeps it simple
    return nn.Sequential(*layers)


class DIN(nn.Module):
    """Deep Interest Network over a fixed item-vector table (row 0 = padding)."""

    def __init__(self, table: np.ndarray, dim: int = 32, attention_hidden: int = 36,
                 mlp_hidden: tuple[int, ...] = (80, 40)):
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table, dtype=torch.float32))  # frozen item vectors
        self.item_proj = nn.Linear(self.table.shape[1], dim)                          # e_i = W x_i
        self.activation_unit = mlp([4 * dim, attention_hidden, 1])
        self.head = mlp([2 * dim, *mlp_hidden, 1])

    def embed(self, history: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # project each distinct row of the batch once (histories overlap heavily), then gather
        rows, inverse = torch.unique(torch.cat([history.reshape(-1), target]), return_inverse=True)
        e = self.item_proj(self.table[rows])[inverse]
        return e[: history.numel()].view(*history.shape, -1), e[history.numel():]

    def forward(self, batch: dict) -> torch.Tensor:
        history, target = batch["history"], batch["target"]
        e_hist, e_t = self.embed(history, target)                         # [B, L, d], [B, d]
        e_tt = e_t.unsqueeze(1).expand_as(e_hist)
        w = self.activation_unit(torch.cat([e_hist, e_tt, e_hist - e_tt, e_hist * e_tt], -1)).squeeze(-1)
        w = w.masked_fill(history == PAD, 0.0)                              # padding contributes nothing
        interest = (w.unsqueeze(-1) * e_hist).sum(1)                        # v_u, sum pooling
        return self.head(torch.cat([interest, e_t], -1)).squeeze(-1)


def _small_users(dataset, n: int) -> np.ndarray:
    users = np.sort(dataset.interactions["user_id"].unique())
    return np.random.default_rng(0).choice(users, size=min(n, len(users)), replace=False)


def run_din_experiment(dataset, item_ids, item_vectors, extra_history: dict | None = None,
                       seeds=(0, 1, 2), cfg: DINConfig | None = None, show_progress: bool = True) -> dict:
    """Train and evaluate DIN once per seed; see the module docstring for arguments and the result."""
    cfg = cfg or DINConfig()
    if isinstance(dataset, str):
        from ..data import ensure_dataset
        dataset = ensure_dataset(dataset)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("run_din_experiment: give at least one seed")
    t0 = time.perf_counter()
    data: CTRData = build_ctr_data(dataset, item_ids, item_vectors, neg_ratio=cfg.neg_ratio,
                                   sample_seed=cfg.sample_seed, max_len=cfg.max_len, extra_history=extra_history,
                                   users=_small_users(dataset, cfg.small_users) if cfg.small else None)
    train_cfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, show_progress=show_progress)
    per_seed = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = DIN(data.table, dim=cfg.dim)
        r = train_and_evaluate(model, data, seed, train_cfg, desc=f"DIN seed {seed}")
        per_seed.append({"seed": seed, **r["test"], "best_epoch": r["best_epoch"], "wall_s": r["wall_s"],
                         "cpu_s": r["cpu_s"],
                         "train_samples_per_s": r["train_samples_per_s"],
                         "valid_auc_per_epoch": r["valid_auc_per_epoch"]})
    s = summarise_seeds(per_seed)
    return {"model": "DIN", "seeds": seeds, "per_seed": per_seed, "mean": s["mean"], "std": s["std"],
            "summary": s["flat"], "protocol": data.protocol,
            "config": {**cfg.as_dict(), "small": cfg.small, "item_dim": int(np.asarray(item_vectors).shape[1])},
            "wall_s": time.perf_counter() - t0}
