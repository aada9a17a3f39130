"""One training loop for every ranking model: BCE (paper Eq. 5), epoch selection on validation AUC,
AUC / GAUC overall / hot / cold on the test split.

A model is any nn.Module whose forward takes a batch dict and returns logits [B]:
    batch = {"history": LongTensor [B, L], "target": LongTensor [B], "label": FloatTensor [B],
             <name>: tensor [B, ...] for every entry of data.sample_features}
History / target hold rows of the model's own item table (row 0 = padding, see data.py).
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from .data import CTRData
from .metrics import auc, segment_metrics


@dataclass
class TrainConfig:
    epochs: int = 2
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    eval_batch_size: int = 4096
    # 1 thread: the 2 cores are shared with other jobs, and oversubscribed OpenMP threads made a step
    # ~16x slower in a measurement on this machine
    num_threads: int = 1
    show_progress: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def make_batch(data: CTRData, idx: np.ndarray) -> dict:
    history = data.history[idx]
    # histories are right-aligned: drop leading columns that are padding for the whole batch (speed only;
    # every model masks padding, so the scores do not change)
    real = history[:, : data.max_len]
    nonpad_cols = np.flatnonzero(real.any(0))
    first = int(nonpad_cols[0]) if len(nonpad_cols) else data.max_len - 1
    history = np.ascontiguousarray(history[:, first:])
    batch = {"history": torch.from_numpy(history),
             "target": torch.from_numpy(data.target[idx]),
             "label": torch.from_numpy(data.samples["label"].to_numpy()[idx].astype(np.float32))}
    for name, arr in data.sample_features.items():
        batch[name] = torch.from_numpy(arr[idx])
    return batch


def length_bucketed_batches(idx: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                            pool_batches: int = 50) -> list[np.ndarray]:
    """Shuffled batches whose samples have similar history lengths (less padding; every sample once per
    epoch): shuffle, cut into pools of `pool_batches` batches, sort each pool by length, batch, shuffle
    the batches. `lengths` is indexed by sample id."""
    order = rng.permutation(idx)
    pool = batch_size * pool_batches
    batches = []
    for s in range(0, len(order), pool):
        chunk = order[s:s + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


@torch.no_grad()
def predict(model: nn.Module, data: CTRData, idx: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Click probabilities for the samples `idx` (scored in history-length order for less padding)."""
    model.eval()
    lengths = (data.history[idx, : data.max_len] != 0).sum(1)
    order = np.argsort(lengths, kind="stable")
    out = np.zeros(len(idx), np.float32)
    for s in range(0, len(idx), batch_size):
        part = order[s:s + batch_size]
        out[part] = torch.sigmoid(model(make_batch(data, idx[part]))).numpy()
    return out


def train_and_evaluate(model: nn.Module, data: CTRData, seed: int, cfg: TrainConfig, desc: str = "train") -> dict:
    """Train with BCE, keep the epoch with the best validation AUC, score the test split.

    Returns {"test": segment_metrics, "valid_auc_per_epoch", "best_epoch", "wall_s", "cpu_s" (this process's
    CPU seconds: the machine is shared, so wall time alone overstates the cost), "train_samples_per_s",
    "n_train", "test_scores": DataFrame(user_id, label, score, segment)}.
    """
    torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_idx, valid_idx, test_idx = (data.split_index(s) for s in ("train", "valid", "test"))
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise ValueError(f"no train ({len(train_idx)}) or test ({len(test_idx)}) samples")
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                           weight_decay=cfg.weight_decay)
    bce = nn.BCEWithLogitsLoss()      # Eq. 5, on logits for numerical stability
    labels = data.samples["label"].to_numpy()
    hist_len = (data.history[:, : data.max_len] != 0).sum(1)
    t0, cpu0 = time.perf_counter(), time.process_time()
    train_time = 0.0
    best = (-1.0, 0, None)
    valid_aucs = []
    for epoch in range(cfg.epochs):
        model.train()
        batches = length_bucketed_batches(train_idx, hist_len, cfg.batch_size, rng)
        t_ep = time.perf_counter()
        bar = tqdm(batches, desc=f"{desc} epoch {epoch + 1}/{cfg.epochs}", disable=not cfg.show_progress,
                   leave=False)
        for idx in bar:
            batch = make_batch(data, idx)
            loss = bce(model(batch), batch["label"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        train_time += time.perf_counter() - t_ep
        v = auc(labels[valid_idx], predict(model, data, valid_idx, cfg.eval_batch_size)) if len(valid_idx) else 0.0
        valid_aucs.append(v)
        if v > best[0]:
            best = (v, epoch + 1, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    scores = predict(model, data, test_idx, cfg.eval_batch_size)
    frame = pd.DataFrame({"user_id": data.samples["user_id"].to_numpy()[test_idx], "label": labels[test_idx],
                          "score": scores, "segment": data.samples["segment"].to_numpy()[test_idx]})
    return {"test": segment_metrics(frame), "valid_auc_per_epoch": valid_aucs, "best_epoch": best[1],
            "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - cpu0,
            "train_samples_per_s": len(train_idx) * cfg.epochs / max(train_time, 1e-9),
            "n_train": int(len(train_idx)), "test_scores": frame}


SEGMENTS = ("overall", "hot", "cold")
METRICS = ("auc", "gauc")


def summarise_seeds(per_seed: list[dict]) -> dict:
    """mean / std over seeds of every segment metric: {"mean": {seg: {m}}, "std": ..., "flat": {seg_m, seg_m_std}}.

    std is the sample standard deviation (ddof=1) over seeds.
    """
    mean, std, flat = {}, {}, {}
    for seg in SEGMENTS:
        mean[seg], std[seg] = {}, {}
        for m in METRICS:
            vals = np.array([r[seg][m] for r in per_seed], dtype=float)
            mean[seg][m] = float(np.mean(vals))
            std[seg][m] = float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")
            flat[f"{seg}_{m}"], flat[f"{seg}_{m}_std"] = mean[seg][m], std[seg][m]
    return {"mean": mean, "std": std, "flat": flat}
