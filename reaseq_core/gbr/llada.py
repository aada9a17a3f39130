"""Bidirectional Implicit Behaviour Reasoning: a tiny LLaDA-style masked-diffusion transformer over item
vectors (paper section 3.2.2-3.2.3, Eq. 6-7; implementation details of section 4.2.1; LLaDA, Nie et al. 2025).

Input tokens are frozen item vectors h_i (title or knowledge vectors, any dimension) projected by an
adapter into the model width; [FILL] and [MASK] share one learnable embedding e_[FILL]; positions are
learnable (BERT style); attention is bidirectional with a key-padding mask. d = 128, 4 layers, 8 heads.
An output head maps each final hidden state h^lm back to the item-vector space, so a fill is a vector
that can be compared by exact cosine with every real item.

Dynamic masking (section 3.2.2): per sequence t ~ U(0, 1]; every P_L position is masked with
probability t; P_U positions are always [FILL]; padding is never masked, attended to or scored.

Loss (Eq. 6-7):  L = -1/(t |P_L|) * sum_{i in P_L, masked} log p(y_i+ | B^(t)),
    p = exp(cos(h_i, y_i+)/tau) / (exp(cos(h_i, y_i+)/tau) + sum_j exp(cos(h_i, y_ij-)/tau)),
with tau = 0.07 and negatives one random item token from every other sequence in the batch. The paper
writes the normaliser L' as "the number of masked tokens"; we use |P_L| of the sequence, LLaDA's
unbiased form (E[#masked] = t |P_L|). Point-wise ablations: L_cos = mean(1 - cos(h, y+)) and
L_mse = mean ||h - y+||_2 (the paper's "Euclidean distance") over masked tokens.
Optimiser: Adam with linear warm-up then cosine annealing. Training batches group sequences of similar
length (in random order) so padding stays cheap; evaluation batches are drawn at random.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .labels import FILL, ITEM, LABELED, PAD, Corpus
from .metrics import aggregate_ib, ib_metrics_batch, in_batch_logits, sample_negative_tokens

LOSSES = ("infonce", "cos", "mse")


@dataclass
class LLaDAConfig:
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 8
    dropout: float = 0.1
    max_len: int = 128
    loss: str = "infonce"
    temperature: float = 0.07
    batch_size: int = 128
    lr: float = 3e-3
    warmup_frac: float = 0.05
    epochs: int = 3
    seed: int = 0
    threads: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


class TinyLLaDA(nn.Module):
    def __init__(self, item_vectors: np.ndarray, cfg: LLaDAConfig):
        super().__init__()
        if cfg.loss not in LOSSES:
            raise ValueError(f"unknown loss {cfg.loss!r}; expected one of {', '.join(LOSSES)}")
        self.cfg = cfg
        dim = item_vectors.shape[1]
        # frozen input representations; row 0 (padding / fill slot) is zeros
        table = np.vstack([np.zeros((1, dim), dtype=np.float32), item_vectors.astype(np.float32)])
        self.register_buffer("item_table", torch.from_numpy(table), persistent=False)
        self.adapter = nn.Sequential(nn.Linear(dim, cfg.d_model), nn.LayerNorm(cfg.d_model))
        self.fill_token = nn.Parameter(torch.randn(cfg.d_model) * 0.02)    # e_[FILL], shared by [MASK]
        self.positions = nn.Embedding(cfg.max_len, cfg.d_model)
        nn.init.normal_(self.positions.weight, std=0.02)     # BERT's init: positions start as a small signal
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, 4 * cfg.d_model, cfg.dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.output_head = nn.Linear(cfg.d_model, dim)       # back to the item-vector space

    def forward(self, tokens: torch.Tensor, is_fill: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        """tokens long [B, S] (item index, 0 where fill/pad); is_fill, padding bool [B, S] -> [B, S, dim]."""
        S = tokens.shape[1]
        if S > self.cfg.max_len:
            raise ValueError(f"sequence of {S} tokens exceeds max_len={self.cfg.max_len}")
        x = self.adapter(self.item_table[tokens])
        x = torch.where(is_fill[..., None], self.fill_token.expand_as(x), x)
        x = x + self.positions(torch.arange(S, device=tokens.device))
        h = self.encoder(x, src_key_padding_mask=padding)
        return self.output_head(self.norm(h))


def dynamic_mask(kinds: torch.Tensor, generator: torch.Generator | None = None,
                 t: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask bool [B, S], t [B]): t ~ U(0, 1] per sequence, m_i ~ Bernoulli(t) on LABELED positions only."""
    B = kinds.shape[0]
    if t is None:
        t = 1.0 - torch.rand(B, generator=generator)          # U(0, 1]
    m = torch.rand(kinds.shape, generator=generator) < t[:, None]
    return m & (kinds == LABELED), t


def model_inputs(tokens: torch.Tensor, kinds: torch.Tensor, mask: torch.Tensor):
    """The masked sequence B^(t): [MASK] at masked P_L, [FILL] at P_U, observed items elsewhere."""
    is_fill = (kinds == FILL) | mask
    padding = kinds == PAD
    return tokens.masked_fill(is_fill | padding, 0), is_fill, padding


def loss_fn(cfg: LLaDAConfig, pred: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
            kinds: torch.Tensor, t: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """The training loss of one batch (Eq. 6-7, or a point-wise ablation)."""
    b, s = mask.nonzero(as_tuple=True)
    if b.numel() == 0:
        return pred.sum() * 0.0
    h, y = pred[b, s], targets[b, s]
    if cfg.loss == "cos":
        return (1.0 - F.cosine_similarity(h, y, dim=-1)).mean()
    if cfg.loss == "mse":
        return (h - y).norm(dim=-1).mean()
    logits = in_batch_logits(h, y, b, negatives, cfg.temperature)
    nll = -torch.log_softmax(logits, -1)[:, 0]
    n_labeled = (kinds == LABELED).sum(1).clamp(min=1).float()
    per_sample = torch.zeros(mask.shape[0]).index_add(0, b, nll) / (t * n_labeled)
    has = (kinds == LABELED).any(1)
    return per_sample[has].mean()


def _batch(corpus: Corpus, idx: np.ndarray):
    kinds = torch.from_numpy(corpus.kinds[idx]).long()
    width = int((kinds != PAD).sum(1).max())
    return torch.from_numpy(corpus.tokens[idx][:, :width]), kinds[:, :width]


def lr_lambda(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine annealing to zero."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train_llada(train: Corpus, item_vectors: np.ndarray, cfg: LLaDAConfig, show_progress: bool = True,
                log=print) -> tuple[TinyLLaDA, dict]:
    """Train on sequences that have at least one P_L position; returns (model, training record)."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    keep = np.nonzero((train.kinds == LABELED).any(1))[0]
    if len(keep) < cfg.batch_size:
        raise ValueError(f"only {len(keep)} training sequences with a P_L position; batch size is {cfg.batch_size}")
    model = TinyLLaDA(item_vectors, cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    steps_per_epoch = len(keep) // cfg.batch_size          # drop_last: K = batch_size - 1 always
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, int(cfg.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_lambda(s, total, warmup))
    losses, t0, step = [], time.time(), 0
    bar = tqdm(total=total, desc=f"llada {cfg.loss} seed {cfg.seed}", disable=not show_progress, mininterval=5)
    lengths = (train.kinds[keep] != PAD).sum(1)
    for epoch in range(cfg.epochs):
        # batches of similar length (padding to the longest costs little), in random order
        order = keep[np.lexsort((rng.random(len(keep)), lengths))]
        starts = rng.permutation(steps_per_epoch) * cfg.batch_size
        for a in starts:
            tokens, kinds = _batch(train, order[a:a + cfg.batch_size])
            mask, t = dynamic_mask(kinds, gen)
            inp, is_fill, padding = model_inputs(tokens, kinds, mask)
            targets = model.item_table[tokens]
            negatives = targets[torch.arange(len(tokens)), sample_negative_tokens(
                (kinds == ITEM) | (kinds == LABELED), gen)]
            model.train()
            loss = loss_fn(cfg, model(inp, is_fill, padding), targets, mask, kinds, t, negatives)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
        log(f"llada {cfg.loss} seed {cfg.seed} epoch {epoch + 1}: loss {np.mean(losses[-steps_per_epoch:]):.4f}")
    bar.close()
    seconds = time.time() - t0
    record = {"steps": step, "sequences": int(step * cfg.batch_size), "train_seconds": round(seconds, 1),
              "sequences_per_s": round(step * cfg.batch_size / max(seconds, 1e-9), 1),
              "final_loss": float(np.mean(losses[-max(1, steps_per_epoch):])), "train_sequences": int(len(keep))}
    return model, record


@torch.no_grad()
def evaluate_ib(model: TinyLLaDA | None, corpus: Corpus, batch_size: int, seed: int = 1234,
                item_vectors: np.ndarray | None = None, temperature: float = 0.07) -> dict:
    """IB-PPL / IB-ACC on [MASK] and [FILL] (Eq. 8-9) over the sequences that have a P_L position.

    Every P_L position is masked (t = 1, the hardest and a deterministic setting); negatives are drawn with
    a fixed seed, so every variant is scored on the same batches and negatives. The last incomplete batch
    is dropped so that K = batch_size - 1 for every sample.
    """
    if model is not None:
        model.eval()
        table, temperature = model.item_table, model.cfg.temperature
    else:   # the untrained reference: predict the mean of the sequence's visible item vectors
        table = torch.from_numpy(np.vstack([np.zeros((1, item_vectors.shape[1]), np.float32),
                                            item_vectors.astype(np.float32)]))
    gen = torch.Generator().manual_seed(seed)
    keep = np.nonzero((corpus.kinds == LABELED).any(1))[0]
    order = np.random.default_rng(seed).permutation(keep)
    if len(order) < batch_size:
        raise ValueError(f"only {len(order)} evaluation sequences with a P_L position; batch size is {batch_size}")
    parts = []
    for a in range(len(order) // batch_size):
        tokens, kinds = _batch(corpus, order[a * batch_size:(a + 1) * batch_size])
        mask, _ = dynamic_mask(kinds, gen, t=torch.ones(len(tokens)))
        inp, is_fill, padding = model_inputs(tokens, kinds, mask)
        targets = table[tokens]
        negatives = targets[torch.arange(len(tokens)), sample_negative_tokens(
            (kinds == ITEM) | (kinds == LABELED), gen)]
        if model is not None:
            pred = model(inp, is_fill, padding)
        else:
            visible = (~is_fill & ~padding).float()[..., None]
            pred = ((table[inp] * visible).sum(1, keepdim=True) / visible.sum(1, keepdim=True).clamp(min=1)
                    ).expand_as(targets)
        parts.append(ib_metrics_batch(pred, targets, mask, kinds == FILL, negatives, temperature))
    out = aggregate_ib(parts)
    out.update({"batch_size": batch_size, "eval_sequences": int((len(order) // batch_size) * batch_size),
                "chance_acc": 1.0 / batch_size})
    return out


@torch.no_grad()
def infer_fills(model: TinyLLaDA, corpus: Corpus, batch_size: int = 512) -> dict:
    """Section 3.2.3: [FILL] only at P_U (corpus built with inference=True); returns one row per fill:
    row (sequence index), position (index in the augmented sequence), gap t, vector (item-vector space)."""
    model.eval()
    rows, positions, gaps, vecs = [], [], [], []
    has = np.nonzero((corpus.kinds == FILL).any(1))[0]
    for a in range(0, len(has), batch_size):
        idx = has[a:a + batch_size]
        tokens, kinds = _batch(corpus, idx)
        if (kinds == LABELED).any():
            raise ValueError("inference corpus must keep P_L items observed (build_corpus(..., inference=True))")
        mask = torch.zeros_like(kinds, dtype=torch.bool)
        pred = model(*model_inputs(tokens, kinds, mask))
        b, s = (kinds == FILL).nonzero(as_tuple=True)
        rows.append(idx[b.numpy()])
        positions.append(s.numpy())
        gaps.append(corpus.fill_gap[idx[b.numpy()], s.numpy()])
        vecs.append(pred[b, s].numpy())
    if not rows:
        dim = model.item_table.shape[1]
        return {"row": np.zeros(0, int), "position": np.zeros(0, int), "gap": np.zeros(0, int),
                "vectors": np.zeros((0, dim), np.float32)}
    return {"row": np.concatenate(rows), "position": np.concatenate(positions), "gap": np.concatenate(gaps),
            "vectors": np.concatenate(vecs).astype(np.float32)}
