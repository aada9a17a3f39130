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
HEADS = ("linear", "catalogue", "context")


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
    epochs: int = 3                 # the most epochs; early stopping may end sooner
    seed: int = 0
    threads: int = 1
    # --- design choices measured in the GBR findings table (defaults = the paper's reading) ---
    normaliser: str = "t_pl"        # "t_pl": 1/(t |P_L|) per sequence (LLaDA); "masked": mean over masked tokens
    mask_scope: str = "p_l"         # "p_l": only P_L positions are masked in training; "all": every observed item
    residual: bool = False          # output = head(h) + mean of the visible item vectors (context-mean residual)
    id_embedding: bool = False      # a trainable item-id embedding added to the frozen content vector (input only)
    patience: int = 0               # early stopping on validation IB-ACC[MASK]; 0 = no validation
    val_fraction: float = 0.1       # share of the training users held out for early stopping / learning curves
    time_budget_s: float = 0.0      # stop after the epoch that passes this many seconds; 0 = none
    train_negatives: str = "one_per_sequence"   # or "all_tokens": every item token of the other sequences
    mask_rate: float = 0.0          # 0: t ~ U(0, 1] per sequence (LLaDA); > 0: a fixed rate (BERT4Rec-style)
    cos_weight: float = 0.0         # InfoNCE + cos_weight * mean(1 - cos(h, y+)): keeps the direction near y+
    ema: float = 0.0                # > 0: exponential moving average of the weights with this decay per step;
                                    # validation, early stopping and the kept model use the averaged weights
    head: str = "linear"            # "linear": W h; "catalogue": softmax attention over every real item's
                                    # vector; "context": softmax attention over the sequence's visible items'
                                    # vectors (both are convex combinations of real items: they stay in the
                                    # item space; "context" starts as the context mean)

    def as_dict(self) -> dict:
        return asdict(self)


class TinyLLaDA(nn.Module):
    def __init__(self, item_vectors: np.ndarray, cfg: LLaDAConfig):
        super().__init__()
        if cfg.loss not in LOSSES:
            raise ValueError(f"unknown loss {cfg.loss!r}; expected one of {', '.join(LOSSES)}")
        if cfg.normaliser not in ("t_pl", "masked"):
            raise ValueError(f"unknown normaliser {cfg.normaliser!r}; expected 't_pl' or 'masked'")
        if cfg.head not in HEADS:
            raise ValueError(f"unknown head {cfg.head!r}; expected one of {', '.join(HEADS)}")
        if cfg.mask_scope not in ("p_l", "all"):
            raise ValueError(f"unknown mask_scope {cfg.mask_scope!r}; expected 'p_l' or 'all'")
        self.cfg = cfg
        dim = item_vectors.shape[1]
        # frozen input representations; row 0 (padding / fill slot) is zeros
        table = np.vstack([np.zeros((1, dim), dtype=np.float32), item_vectors.astype(np.float32)])
        self.register_buffer("item_table", torch.from_numpy(table), persistent=False)
        self.adapter = nn.Sequential(nn.Linear(dim, cfg.d_model), nn.LayerNorm(cfg.d_model))
        self.item_embedding = nn.Embedding(len(table), cfg.d_model, padding_idx=0) if cfg.id_embedding else None
        if self.item_embedding is not None:
            nn.init.normal_(self.item_embedding.weight, std=0.02)
            with torch.no_grad():
                self.item_embedding.weight[0].zero_()
        self.fill_token = nn.Parameter(torch.randn(cfg.d_model) * 0.02)    # e_[FILL], shared by [MASK]
        self.positions = nn.Embedding(cfg.max_len, cfg.d_model)
        nn.init.normal_(self.positions.weight, std=0.02)     # BERT's init: positions start as a small signal
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, 4 * cfg.d_model, cfg.dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.output_head = nn.Linear(cfg.d_model, dim)       # back to the item-vector space
        if cfg.head == "catalogue":
            self.query = nn.Linear(cfg.d_model, cfg.d_model)
            self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        if cfg.head == "context":     # zero query: uniform attention, i.e. exactly the context mean at the start
            self.query = nn.Linear(cfg.d_model, cfg.d_model)
            self.key = nn.Linear(cfg.d_model, cfg.d_model)
            nn.init.zeros_(self.query.weight)
            nn.init.zeros_(self.query.bias)
        if cfg.residual:      # start exactly at the context mean: the head learns a correction to it
            nn.init.zeros_(self.output_head.weight)
            nn.init.zeros_(self.output_head.bias)

    def forward(self, tokens: torch.Tensor, is_fill: torch.Tensor, padding: torch.Tensor,
                select: torch.Tensor | None = None) -> torch.Tensor:
        """tokens long [B, S] (item index, 0 where fill/pad); is_fill, padding bool [B, S] -> [B, S, dim].
        select (bool [B, S]): compute the output only there (zeros elsewhere), which is all a loss or a
        metric reads; the catalogue head is costly per position."""
        S = tokens.shape[1]
        if S > self.cfg.max_len:
            raise ValueError(f"sequence of {S} tokens exceeds max_len={self.cfg.max_len}")
        content = self.item_table[tokens]
        x = self.adapter(content)
        if self.item_embedding is not None:
            x = x + self.item_embedding(tokens)
        x = torch.where(is_fill[..., None], self.fill_token.expand_as(x), x)
        x = x + self.positions(torch.arange(S, device=tokens.device))
        h = self.norm(self.encoder(x, src_key_padding_mask=padding))
        if select is None:
            select = ~padding
        out = content.new_zeros(content.shape)
        if self.cfg.head == "context":
            sel = self.context_readout(h, content, ~is_fill & ~padding, select)
        else:
            sel = self.readout(h[select])
        if self.cfg.residual:
            sel = sel + context_mean(content, is_fill, padding)[select]
        out[select] = sel
        return out

    def context_readout(self, h: torch.Tensor, content: torch.Tensor, visible: torch.Tensor,
                        select: torch.Tensor) -> torch.Tensor:
        """Attention of each selected position over its sequence's visible items: sum_j a_j v_j, [M, dim]."""
        b, s = select.nonzero(as_tuple=True)
        q = self.query(h[b, s])                                       # [M, d]
        k = self.key(h)[b]                                            # [M, S, d]
        scores = (k @ q[:, :, None]).squeeze(-1) / math.sqrt(q.shape[1])
        scores = scores.masked_fill(~visible[b], -math.inf)
        att = torch.softmax(scores, -1).nan_to_num(0.0)               # a sequence with no visible item: zeros
        return (att[:, None, :] @ content[b]).squeeze(1)

    def item_keys(self) -> torch.Tensor:
        """Keys of the catalogue head: every real item through the input adapter (+ id embedding)."""
        keys = self.adapter(self.item_table[1:])
        if self.item_embedding is not None:
            keys = keys + self.item_embedding.weight[1:]
        return keys

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden states [M, d_model] -> vectors in the item space [M, dim]."""
        if self.cfg.head == "linear":
            return self.output_head(h)
        keys = self.item_keys()
        values = F.normalize(self.item_table[1:], dim=-1)
        out = []
        for a in range(0, h.shape[0], 1024):
            att = torch.softmax(self.query(h[a:a + 1024]) @ keys.T * self.log_scale.exp() / math.sqrt(h.shape[1]), -1)
            out.append(att @ values)
        return torch.cat(out) if out else h.new_zeros(0, values.shape[1])


def context_mean(content: torch.Tensor, is_fill: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
    """Mean of the visible item vectors of each sequence, broadcast to every position: [B, S, dim]."""
    visible = (~is_fill & ~padding).float()[..., None]
    mean = (content * visible).sum(1, keepdim=True) / visible.sum(1, keepdim=True).clamp(min=1)
    return mean.expand_as(content)


def dynamic_mask(kinds: torch.Tensor, generator: torch.Generator | None = None,
                 t: torch.Tensor | None = None, scope: str = "p_l") -> tuple[torch.Tensor, torch.Tensor]:
    """(mask bool [B, S], t [B]): t ~ U(0, 1] per sequence, m_i ~ Bernoulli(t) on LABELED positions
    (scope "p_l"), or on every observed item (scope "all"), keeping at least one item visible."""
    B = kinds.shape[0]
    if t is None:
        t = 1.0 - torch.rand(B, generator=generator)          # U(0, 1]
    u = torch.rand(kinds.shape, generator=generator)
    m = u < t[:, None]
    if scope == "p_l":
        return m & (kinds == LABELED), t
    items = (kinds == ITEM) | (kinds == LABELED)
    m = m & items
    # never mask every item of a sequence: the one with the largest draw stays visible
    keep = u.masked_fill(~items, -1.0).argmax(1)
    all_masked = (m.sum(1) == items.sum(1))
    m[all_masked, keep[all_masked]] = False
    return m, t


def model_inputs(tokens: torch.Tensor, kinds: torch.Tensor, mask: torch.Tensor):
    """The masked sequence B^(t): [MASK] at masked P_L, [FILL] at P_U, observed items elsewhere."""
    is_fill = (kinds == FILL) | mask
    padding = kinds == PAD
    return tokens.masked_fill(is_fill | padding, 0), is_fill, padding


def all_token_logits(h: torch.Tensor, positive: torch.Tensor, sample_of: torch.Tensor, pos_token: torch.Tensor,
                     tokens: torch.Tensor, kinds: torch.Tensor, table: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits [M, 1 + N]: the positive, then every item token of the batch as a negative, except those of the
    token's own sequence and those that are the same item as the positive (set to -inf)."""
    nb, ns = ((kinds == ITEM) | (kinds == LABELED)).nonzero(as_tuple=True)
    neg_tok = tokens[nb, ns]
    hn = F.normalize(h, dim=-1)
    pos = (hn * F.normalize(positive, dim=-1)).sum(-1, keepdim=True)
    neg = hn @ F.normalize(table[neg_tok], dim=-1).T
    drop = (sample_of[:, None] == nb[None, :]) | (pos_token[:, None] == neg_tok[None, :])
    return torch.cat([pos, neg.masked_fill(drop, -math.inf)], 1) / temperature


def loss_fn(cfg: LLaDAConfig, pred: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
            kinds: torch.Tensor, t: torch.Tensor, negatives: torch.Tensor,
            tokens: torch.Tensor | None = None, table: torch.Tensor | None = None) -> torch.Tensor:
    """The training loss of one batch (Eq. 6-7, or a point-wise ablation)."""
    b, s = mask.nonzero(as_tuple=True)
    if b.numel() == 0:
        return pred.sum() * 0.0
    h, y = pred[b, s], targets[b, s]
    if cfg.loss == "cos":
        return (1.0 - F.cosine_similarity(h, y, dim=-1)).mean()
    if cfg.loss == "mse":
        return (h - y).norm(dim=-1).mean()
    if cfg.train_negatives == "all_tokens" and tokens is not None:
        logits = all_token_logits(h, y, b, tokens[b, s], tokens, kinds, table, cfg.temperature)
    else:
        logits = in_batch_logits(h, y, b, negatives, cfg.temperature)
    nll = -torch.log_softmax(logits, -1)[:, 0]
    extra = cfg.cos_weight * (1.0 - F.cosine_similarity(h, y, dim=-1)).mean() if cfg.cos_weight else 0.0
    if cfg.normaliser == "masked":
        return nll.mean() + extra
    maskable = (kinds == LABELED) if cfg.mask_scope == "p_l" else ((kinds == LABELED) | (kinds == ITEM))
    n_labeled = maskable.sum(1).clamp(min=1).float()
    per_sample = torch.zeros(mask.shape[0]).index_add(0, b, nll) / (t * n_labeled)
    has = maskable.any(1)
    return per_sample[has].mean() + extra


def _batch(corpus: Corpus, idx: np.ndarray):
    kinds = torch.from_numpy(corpus.kinds[idx]).long()
    width = int((kinds != PAD).sum(1).max())
    return torch.from_numpy(corpus.tokens[idx][:, :width]), kinds[:, :width]


def lr_lambda(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine annealing to zero."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _trainable(corpus: Corpus, scope: str) -> np.ndarray:
    """Sequences that can give a training signal: a P_L position ("p_l"), or two observed items ("all")."""
    if scope == "p_l":
        return np.nonzero((corpus.kinds == LABELED).any(1))[0]
    return np.nonzero(((corpus.kinds == LABELED) | (corpus.kinds == ITEM)).sum(1) >= 2)[0]


def train_llada(train: Corpus, item_vectors: np.ndarray, cfg: LLaDAConfig, show_progress: bool = True,
                log=print) -> tuple[TinyLLaDA, dict]:
    """Train; returns (model, training record with the learning curve).

    With cfg.patience > 0, cfg.val_fraction of the training users is held out (by a seed-fixed draw) and
    scored after every epoch with evaluate_ib (t = 1 on P_L, the Table 5 protocol); training stops when
    validation IB-ACC[MASK] has not improved for `patience` epochs, and the best epoch's weights are kept.
    """
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    val = None
    if cfg.patience > 0:
        perm = np.random.default_rng(10_000 + cfg.seed).permutation(len(train))
        n_val = int(round(cfg.val_fraction * len(train)))
        val, train = train.subset(np.sort(perm[:n_val])), train.subset(np.sort(perm[n_val:]))
    keep = _trainable(train, cfg.mask_scope)
    if len(keep) < cfg.batch_size:
        raise ValueError(f"only {len(keep)} training sequences with a maskable position; batch size is {cfg.batch_size}")
    model = TinyLLaDA(item_vectors, cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    steps_per_epoch = len(keep) // cfg.batch_size          # drop_last: K = batch_size - 1 always
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, int(cfg.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_lambda(s, total, warmup))
    losses, t0, step = [], time.time(), 0
    curve, best, best_state, since_best = [], -1.0, None, 0
    bar = tqdm(total=total, desc=f"llada {cfg.loss} seed {cfg.seed}", disable=not show_progress, mininterval=5)
    lengths = (train.kinds[keep] != PAD).sum(1)
    stopped = "max_epochs"
    ema = WeightAverage(model, cfg.ema) if cfg.ema > 0 else None
    for epoch in range(cfg.epochs):
        # batches of similar length (padding to the longest costs little), in random order
        order = keep[np.lexsort((rng.random(len(keep)), lengths))]
        starts = rng.permutation(steps_per_epoch) * cfg.batch_size
        model.train()
        for a in starts:
            tokens, kinds = _batch(train, order[a:a + cfg.batch_size])
            fixed = torch.full((len(tokens),), cfg.mask_rate) if cfg.mask_rate > 0 else None
            mask, t = dynamic_mask(kinds, gen, t=fixed, scope=cfg.mask_scope)
            inp, is_fill, padding = model_inputs(tokens, kinds, mask)
            targets = model.item_table[tokens]
            negatives = targets[torch.arange(len(tokens)), sample_negative_tokens(
                (kinds == ITEM) | (kinds == LABELED), gen)]
            loss = loss_fn(cfg, model(inp, is_fill, padding, select=mask), targets, mask, kinds, t, negatives,
                           tokens=tokens, table=model.item_table)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model)
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
        point = {"epoch": epoch + 1, "train_loss": float(np.mean(losses[-steps_per_epoch:])),
                 "seconds": round(time.time() - t0, 1)}
        raw = ema.swap_in(model) if ema is not None else None      # score (and keep) the averaged weights
        if val is not None:
            ev = evaluate_ib(model, val, cfg.batch_size, seed=4321)
            point.update({"val_acc_mask": ev["acc_mask"], "val_ppl_mask": ev["ppl_mask"],
                          "val_acc_fill": ev["acc_fill"], "val_ppl_fill": ev["ppl_fill"]})
            if ev["acc_mask"] > best:
                best, since_best = ev["acc_mask"], 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
        if raw is not None:
            if val is None:     # no validation: the model kept is the average after the last epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(raw)
        curve.append(point)
        log(f"llada {cfg.loss} seed {cfg.seed} epoch {epoch + 1}: loss {point['train_loss']:.4f}"
            + (f", val IB-ACC[MASK] {point['val_acc_mask']:.4f}" if val is not None else ""))
        if val is not None and since_best >= cfg.patience:
            stopped = "early_stopping"
            break
        if cfg.time_budget_s and time.time() - t0 > cfg.time_budget_s:
            stopped = "time_budget"
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    seconds = time.time() - t0
    best_epoch = (int(np.argmax([c["val_acc_mask"] for c in curve])) + 1) if val is not None else len(curve)
    record = {"steps": step, "sequences": int(step * cfg.batch_size), "train_seconds": round(seconds, 1),
              "sequences_per_s": round(step * cfg.batch_size / max(seconds, 1e-9), 1),
              "final_loss": float(np.mean(losses[-max(1, steps_per_epoch):])), "train_sequences": int(len(keep)),
              "epochs_run": len(curve), "best_epoch": best_epoch, "stopped": stopped, "curve": curve}
    return model, record


class WeightAverage:
    """Exponential moving average of a model's floating-point weights (Polyak averaging): after every
    optimiser step avg = decay * avg + (1 - decay) * weights."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.avg = {k: v.detach().clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in model.state_dict().items():
            if k in self.avg:
                self.avg[k].mul_(self.decay).add_(v, alpha=1.0 - self.decay)

    def swap_in(self, model: nn.Module) -> dict:
        """Load the averaged weights into the model; returns the raw weights to load back."""
        raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict({**raw, **self.avg})
        return raw


REFERENCES = ("context_mean", "previous_item", "popular_item")


def reference_prediction(kind: str, table: torch.Tensor, inp: torch.Tensor, is_fill: torch.Tensor,
                         padding: torch.Tensor, popular: int | None = None) -> torch.Tensor:
    """Untrained references on the masked sequence, [B, S, dim]:
    context_mean   the mean of the sequence's visible item vectors, at every position;
    previous_item  the closest visible item before the position (after it when none is before);
    popular_item   the vector of the most frequent item of the training sequences, everywhere."""
    B, S = inp.shape
    if kind == "context_mean":
        return context_mean(table[inp], is_fill, padding)
    if kind == "popular_item":
        if popular is None:
            raise ValueError("popular_item needs the index of the most popular training item")
        return table[torch.full((B, S), int(popular), dtype=torch.long)]
    if kind == "previous_item":
        visible = ~is_fill & ~padding
        ar = torch.arange(S).expand(B, S)
        last = torch.where(visible, ar, torch.full_like(ar, -1)).cummax(1).values     # last visible <= j
        before = torch.cat([torch.full((B, 1), -1, dtype=torch.long), last[:, :-1]], 1)  # last visible < j
        nxt = torch.where(visible, ar, torch.full_like(ar, S)).flip(1).cummin(1).values.flip(1)  # first >= j
        after = torch.cat([nxt[:, 1:], torch.full((B, 1), S, dtype=torch.long)], 1)     # first visible > j
        src = torch.where(before >= 0, before, after).clamp(max=S - 1)
        return table[inp.gather(1, src)]
    raise ValueError(f"unknown reference {kind!r}; expected one of {', '.join(REFERENCES)}")


def popular_item(corpus: Corpus) -> int:
    """Item index (1-based) of the most frequent observed item of a corpus."""
    toks = corpus.tokens[(corpus.kinds == ITEM) | (corpus.kinds == LABELED)]
    return int(np.bincount(toks).argmax())


def nearest_real_cosine(vectors: torch.Tensor, table: torch.Tensor, exclude: torch.Tensor | None = None) -> np.ndarray:
    """Cosine between each vector and its nearest real item (rows 1.. of `table`); `exclude` (1-based item
    index per vector) leaves the vector's own item out, for real items' nearest *other* item."""
    if vectors.shape[0] == 0:
        return np.zeros(0)
    items = F.normalize(table[1:], dim=-1)
    out = []
    for a in range(0, vectors.shape[0], 2048):
        sims = F.normalize(vectors[a:a + 2048], dim=-1) @ items.T
        if exclude is not None:
            sims[torch.arange(sims.shape[0]), exclude[a:a + 2048] - 1] = -2.0
        out.append(sims.max(1).values)
    return torch.cat(out).numpy()


@torch.no_grad()
def evaluate_ib(model: TinyLLaDA | None, corpus: Corpus, batch_size: int, seed: int = 1234,
                item_vectors: np.ndarray | None = None, temperature: float = 0.07,
                reference: str = "context_mean", popular: int | None = None, nearest: bool = False) -> dict:
    """IB-PPL / IB-ACC on [MASK] and [FILL] (Eq. 8-9) over the sequences that have a P_L position.

    Every P_L position is masked (t = 1, the hardest and a deterministic setting); negatives are drawn with
    a fixed seed, so every variant and reference is scored on the same batches and negatives. The last
    incomplete batch is dropped so that K = batch_size - 1 for every sample. model=None scores the
    `reference` prediction instead (see reference_prediction). nearest=True adds the distribution of the
    cosine between each prediction and its nearest real item, for [MASK] and [FILL] predictions, beside
    the same figure for the ground-truth items behind the [MASK]s (their nearest other real item).
    """
    if model is not None:
        model.eval()
        table, temperature = model.item_table, model.cfg.temperature
    else:
        table = torch.from_numpy(np.vstack([np.zeros((1, item_vectors.shape[1]), np.float32),
                                            item_vectors.astype(np.float32)]))
    gen = torch.Generator().manual_seed(seed)
    keep = np.nonzero((corpus.kinds == LABELED).any(1))[0]
    order = np.random.default_rng(seed).permutation(keep)
    if len(order) < batch_size:
        raise ValueError(f"only {len(order)} evaluation sequences with a P_L position; batch size is {batch_size}")
    parts, near = [], {"mask": [], "fill": [], "real": []}
    for a in range(len(order) // batch_size):
        tokens, kinds = _batch(corpus, order[a * batch_size:(a + 1) * batch_size])
        mask, _ = dynamic_mask(kinds, gen, t=torch.ones(len(tokens)))
        inp, is_fill, padding = model_inputs(tokens, kinds, mask)
        targets = table[tokens]
        negatives = targets[torch.arange(len(tokens)), sample_negative_tokens(
            (kinds == ITEM) | (kinds == LABELED), gen)]
        if model is not None:
            pred = model(inp, is_fill, padding, select=mask | (kinds == FILL))
        else:
            pred = reference_prediction(reference, table, inp, is_fill, padding, popular)
        parts.append(ib_metrics_batch(pred, targets, mask, kinds == FILL, negatives, temperature))
        if nearest:
            near["mask"].append(nearest_real_cosine(pred[mask], table))
            near["fill"].append(nearest_real_cosine(pred[kinds == FILL], table))
            near["real"].append(nearest_real_cosine(targets[mask], table, exclude=tokens[mask]))
    out = aggregate_ib(parts)
    out.update({"batch_size": batch_size, "eval_sequences": int((len(order) // batch_size) * batch_size),
                "chance_acc": 1.0 / batch_size})
    if nearest:
        for k, v in near.items():
            v = np.concatenate(v) if v else np.zeros(0)
            out[f"nearest_{k}"] = {"n": int(v.size), **({f"p{q}": float(np.percentile(v, q)) for q in (10, 25, 50, 75, 90)}
                                                        if v.size else {})}
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
        pred = model(*model_inputs(tokens, kinds, mask), select=kinds == FILL)
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


@torch.no_grad()
def infer_prefix_fills(model: TinyLLaDA, corpus: Corpus, batch_size: int = 1024,
                       show_progress: bool = False) -> dict:
    """Fills inferred from each prefix of each sequence alone, for a downstream model that must not see the
    future (Table 6): for the prefix made of the first c observed items (c = 2 .. L), the [FILL] tokens that
    sit between two of those items are inferred from that prefix only; a fill after the c-th item is left
    out (its gap was flagged by looking at item c + 1). Returns arrays with one row per (prefix, fill):
    row (sequence index), cut (c), position (index in the augmented sequence), vectors."""
    model.eval()
    prefixes = []                          # (row, cut, end index in the augmented sequence)
    for r in np.nonzero((corpus.kinds == FILL).any(1))[0]:
        kinds = corpus.kinds[r]
        item_pos = np.nonzero((kinds == ITEM) | (kinds == LABELED))[0]
        for c in range(2, len(item_pos) + 1):
            end = int(item_pos[c - 1]) + 1
            if (kinds[:end] == FILL).any():
                prefixes.append((int(r), c, end))
    dim = model.item_table.shape[1]
    rows, cuts, positions, vecs = [], [], [], []
    order = sorted(range(len(prefixes)), key=lambda i: prefixes[i][2])       # similar lengths together
    for a in tqdm(range(0, len(order), batch_size), desc="prefix fills", disable=not show_progress, mininterval=5):
        chunk = [prefixes[i] for i in order[a:a + batch_size]]
        width = max(e for _, _, e in chunk)
        tokens = np.zeros((len(chunk), width), dtype=np.int64)
        kinds = np.zeros((len(chunk), width), dtype=np.int64)
        for j, (r, _, e) in enumerate(chunk):
            tokens[j, :e], kinds[j, :e] = corpus.tokens[r, :e], corpus.kinds[r, :e]
        tokens, kinds = torch.from_numpy(tokens), torch.from_numpy(kinds)
        if (kinds == LABELED).any():
            raise ValueError("inference corpus must keep P_L items observed (build_corpus(..., inference=True))")
        fill = kinds == FILL
        pred = model(*model_inputs(tokens, kinds, torch.zeros_like(fill)), select=fill)
        b, s = fill.nonzero(as_tuple=True)
        rows.append(np.array([chunk[j][0] for j in b.tolist()], dtype=np.int64))
        cuts.append(np.array([chunk[j][1] for j in b.tolist()], dtype=np.int64))
        positions.append(s.numpy())
        vecs.append(pred[b, s].numpy().astype(np.float32))
    if not rows:
        return {"row": np.zeros(0, int), "cut": np.zeros(0, int), "position": np.zeros(0, int),
                "vectors": np.zeros((0, dim), np.float32)}
    return {"row": np.concatenate(rows), "cut": np.concatenate(cuts), "position": np.concatenate(positions),
            "vectors": np.concatenate(vecs)}
