"""The GBR stage end to end, step by step (paper section 3 and 4.2), reading and writing the artifact store.

    sasrec   -> gbr/sasrec.pt (checkpoint), gbr/sasrec_metrics.json
    locate   -> gbr/location.parquet, gbr/location_summary.json        (section 3.1 + Delta p of 3.2.1)
    table5   -> gbr/table5.json, gbr/table5_runs.json, gbr/llada_<model>_seed<k>.pt (checkpoints)
    fills    -> gbr/fills.parquet + gbr/fill_vectors.npz (case-view sample of users; Figure 6),
                gbr/fills_all_<model>.npz (every fill, for Table 6)
    table6   -> gbr/table6.json
A small configuration (REASEQ_SMALL=1, `--small`) runs the same code on a slice in about a minute and
writes under gbr/small/ so it never overwrites the full results.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..data import ensure_dataset
from ..results import write_table
from ..store import ArtifactStore
from . import fills as fills_mod
from .labels import LabelConfig, assign_roles, build_corpus, delta_p
from .llada import LLaDAConfig, TinyLLaDA, evaluate_ib, infer_fills, train_llada
from .location import (VARIANTS, LocationConfig, candidate_gaps, fill_ratio, gbr_sequences, locate,
                       select_gbr_users, stage_summary)
from .sasrec import SASRec, SASRecConfig, train_sasrec, transition_scores
from .swing import SwingConfig, fit_swing
from .tables import table5, table6

STAGE = "gbr"

# Table 5 rows: (model name, location variant, loss) -- the paper's GBR-T-0, GBR-C-0, GBR-TC-0, GBR-C-1/2
MODELS = (("GBR-T-0", "TD", "infonce"), ("GBR-C-0", "CD", "infonce"), ("GBR-TC-0", "TDUCD", "infonce"),
          ("GBR-C-1", "CD", "cos"), ("GBR-C-2", "CD", "mse"))


@dataclass
class GBRConfig:
    dataset: str = "beauty"
    item_space: str = "title"                 # "title" | "knowledge"
    small: bool = False
    small_users: int = 3000
    sasrec: SASRecConfig = field(default_factory=SASRecConfig)
    location: LocationConfig = field(default_factory=LocationConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    llada: LLaDAConfig = field(default_factory=LLaDAConfig)
    swing: SwingConfig = field(default_factory=SwingConfig)
    seeds: tuple = (0, 1, 2)
    eval_fraction: float = 0.1
    split_seed: int = 0
    case_users: int = 300                     # users whose fills go to the committed case-view artifact
    table6_models: tuple = ("GBR-C-0",)
    din_epochs: int = 3
    # run_din_experiment(small=True): a 3,000-user slice, 1 epoch. The full-data DIN (22k users x 2 epochs x
    # 3 seeds x every arm) does not fit the stage's CPU budget on a shared 2-core machine.
    din_small: bool = True

    @classmethod
    def small_config(cls, **kw) -> "GBRConfig":
        cfg = cls(small=True, **kw)
        cfg.sasrec = SASRecConfig(max_epochs=1, eval_every=1, patience=1, time_budget_s=30, n_negatives=512)
        cfg.labels = LabelConfig(tau_coh_quantile=0.7)
        cfg.llada = LLaDAConfig(batch_size=32, epochs=2, lr=2e-3)
        cfg.small_users = 2000
        cfg.eval_fraction = 0.3
        cfg.case_users = 50
        cfg.table6_models = ("GBR-C-0",)
        cfg.seeds = (0,)
        return cfg

    def as_dict(self) -> dict:
        return asdict(self)


def config_from_env(**kw) -> GBRConfig:
    """Small configuration when REASEQ_SMALL=1, the full one otherwise."""
    return GBRConfig.small_config(**kw) if os.environ.get("REASEQ_SMALL") == "1" else GBRConfig(**kw)


def _name(cfg: GBRConfig, name: str) -> str:
    return f"small/{name}" if cfg.small else name


class Context:
    """Dataset, item space and the store, loaded once per run."""

    def __init__(self, cfg: GBRConfig, store: ArtifactStore | None = None, log=print):
        self.cfg, self.log = cfg, log
        self.store = store or ArtifactStore()
        self.ds = ensure_dataset(cfg.dataset, self.store)
        self.item_ids, self.item_vectors = load_item_space(cfg.dataset, cfg.item_space, self.store)
        self.item_index = {iid: i + 1 for i, iid in enumerate(self.item_ids)}
        inter = self.ds.interactions
        if cfg.small:
            users = np.sort(inter["user_id"].unique())
            keep = np.random.default_rng(0).choice(users, min(cfg.small_users, len(users)), replace=False)
            inter = inter[inter["user_id"].isin(set(keep))].reset_index(drop=True)
        missing = set(inter["item_id"].unique()) - self.item_index.keys()
        if missing:
            raise ValueError(f"{len(missing)} interacted items have no {cfg.item_space} vector, e.g. "
                             f"{sorted(missing)[:3]}; GBR needs a vector for every item of the sequences")
        self.interactions = inter
        self.dataset_hash = self.ds.card["content_hash"]

    def name(self, n: str) -> str:
        return _name(self.cfg, n)

    def prov(self, **extra) -> dict:
        return {"item_space": self.cfg.item_space, "small": self.cfg.small, "dataset_hash": self.dataset_hash,
                **extra}


def load_item_space(dataset: str, item_space: str, store: ArtifactStore) -> tuple[np.ndarray, np.ndarray]:
    """(item_ids, L2-normalised vectors) of the chosen item space."""
    if item_space == "title":
        from ..representation.title_vectors import load_title_vectors
        ids, vecs = load_title_vectors(dataset, store)
    elif item_space == "knowledge":
        z = store.read_numpy(dataset, "representation", "knowledge_vectors.npz")
        ids, vecs = z["item_ids"], z["vectors"]
    else:
        raise ValueError(f"unknown item space {item_space!r}; expected 'title' or 'knowledge'")
    return np.asarray(ids).astype(str), fills_mod.l2_normalise(vecs)


# ---- step 1: SASRec --------------------------------------------------------------------------------
def user_sequences(ctx: Context) -> tuple[np.ndarray, list[np.ndarray]]:
    inter = ctx.interactions
    idx = inter["item_id"].map(ctx.item_index).to_numpy()
    users = inter["user_id"].to_numpy()
    first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    return users[first], np.split(idx, first[1:])


def run_sasrec(ctx: Context) -> tuple[SASRec, dict]:
    cfg = ctx.cfg
    _, seqs = user_sequences(ctx)
    res = train_sasrec(seqs, len(ctx.item_ids), cfg.sasrec, log=ctx.log)
    metrics = {"dataset": cfg.dataset, "dataset_hash": ctx.dataset_hash, "item_space": "item ids (SASRec "
               "learns its own embeddings; the item space matters only for LLaDA)",
               "protocol": "leave-one-out per user (last item test, second last validation), full ranking over "
                           f"all {len(ctx.item_ids):,} items; 'test' excludes the user's other history items "
                           "(RecBole convention), 'test_history_included' ranks against every item",
               "reference": {"recall@5": 0.0508, "recall@10": 0.0740, "ndcg@10": 0.0423,
                             "source": "tuned SASRec on Beauty, same protocol (PROTOCOLS.md)"},
               **res.metrics, "history": res.history, "train_seconds": res.train_seconds, "epochs": res.epochs,
               "users": len(seqs), "config": asdict(cfg.sasrec), "small": cfg.small}
    ctx.store.write_json(cfg.dataset, STAGE, ctx.name("sasrec_metrics.json"), metrics,
                         ctx.prov(config=asdict(cfg.sasrec)))
    ctx.store.write_torch(cfg.dataset, STAGE, ctx.name("sasrec.pt"),
                          {"state_dict": res.model.state_dict(), "config": asdict(cfg.sasrec),
                           "n_items": len(ctx.item_ids)}, ctx.prov())
    return res.model, metrics


def load_sasrec(ctx: Context) -> SASRec:
    ck = ctx.store.read_torch(ctx.cfg.dataset, STAGE, ctx.name("sasrec.pt"))
    model = SASRec(ck["n_items"], SASRecConfig(**ck["config"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


# ---- step 2: location + labels -------------------------------------------------------------------------
def run_location(ctx: Context, model: SASRec | None = None) -> tuple[pd.DataFrame, dict]:
    cfg = ctx.cfg
    model = model or load_sasrec(ctx)
    t0 = time.time()
    users, user_info = select_gbr_users(ctx.interactions, cfg.location.user_seed)
    seq = gbr_sequences(ctx.interactions, ctx.ds.items, users["user_id"], cfg.location.max_len)
    gaps = candidate_gaps(seq, cfg.location.tau_time_days)
    # SASRec ranks and Delta p for every gap, one causal pass per sequence
    grouped = seq.groupby("user_id", sort=True)["item_id"].agg(list)
    seq_idx = [np.array([ctx.item_index[i] for i in s]) for s in grouped]
    scores = transition_scores(model, seq_idx, show_progress=not cfg.small)
    rank = np.concatenate([s["rank_next"] for s in scores])
    dp = np.concatenate([delta_p(s["p_next"], s["p_skip"]) for s in scores])
    gaps = gaps.sort_values(["user_id", "t"]).reset_index(drop=True)
    if len(rank) != len(gaps):
        raise RuntimeError(f"internal: {len(rank)} scored gaps for {len(gaps)} gaps")
    gaps["model_rank"] = rank
    gaps["delta_p"] = dp
    seconds_location = time.time() - t0
    # Swing as the alternative off-the-shelf filter (reported beside SASRec's)
    t1 = time.time()
    train_part = ctx.interactions[ctx.interactions["position"] <
                                  ctx.interactions.groupby("user_id")["position"].transform("max") - 1]
    swing = fit_swing(train_part, ctx.item_ids, cfg.swing, show_progress=not cfg.small)
    swing_rank = pd.Series(swing.rank_of(gaps["item_from"].map(ctx.item_index).to_numpy() - 1,
                                         gaps["item_to"].map(ctx.item_index).to_numpy() - 1), index=gaps.index)
    seconds_swing = time.time() - t1
    n_items = len(seq)
    tau_coh = cfg.labels.threshold(gaps["delta_p"])
    frames, summary = [], {}
    for v in VARIANTS:
        g = gaps.copy()
        g["variant"] = v
        g["flagged"] = locate(g, v, cfg.location.rank_threshold)
        g["role"] = assign_roles(g["flagged"], g["delta_p"], tau_coh)
        frames.append(g)
        s = stage_summary(g, v, cfg.location.rank_threshold, n_items, alt_rank=swing_rank)
        s["p_l_positions"] = int((g["role"] == "P_L").sum())
        s["p_l_share_of_items"] = s["p_l_positions"] / n_items
        summary[v] = s
    loc = pd.concat(frames, ignore_index=True)
    both = gaps["td"] & gaps["cd"] & (gaps["model_rank"] > cfg.location.rank_threshold)
    dp_valid = gaps["delta_p"].dropna()
    out = {"variants": summary, "users": user_info, "items_in_gbr_sequences": n_items,
           "gaps": int(len(gaps)),
           "td_and_cd_after_model": int(both.sum()),
           "fill_ratio_definition": "P_U fills / (observed items + P_U fills) over all GBR sequences",
           "config": {**cfg.location.as_dict(), **asdict(cfg.labels), "tau_coh_used": tau_coh},
           "delta_p_quantiles": {str(q): float(dp_valid.quantile(q)) for q in (0.5, 0.75, 0.9, 0.95, 0.99)},
           "model_rank_quantiles": {str(q): float(gaps["model_rank"].quantile(q)) for q in (0.1, 0.25, 0.5, 0.75)},
           "filter_model": "SASRec (rank of b_{t+1} over all items given b_1..b_t); Swing counts reported as "
                           "after_model_swing (items never co-occurring with b_t get the worst rank)",
           "sequence_rule": "leave-one-out training part of each GBR user's events, last "
                            f"{cfg.location.max_len} kept",
           "seconds": {"location_and_delta_p": round(seconds_location, 2), "swing_fit_and_rank": round(seconds_swing, 2)},
           "users_per_s": round(len(grouped) / max(seconds_location, 1e-9), 1)}
    cols = ["user_id", "t", "item_from", "item_to", "ts_from", "ts_to", "gap_days", "cat_from", "cat_to",
            "td", "cd", "model_rank", "flagged", "delta_p", "role", "variant"]
    loc = loc[cols]
    for c in ("cat_from", "cat_to", "role", "variant"):
        loc[c] = loc[c].astype("category")
    prov = ctx.prov(config=out["config"])
    ctx.store.write_parquet(cfg.dataset, STAGE, ctx.name("location.parquet"), loc, prov)
    ctx.store.write_json(cfg.dataset, STAGE, ctx.name("location_summary.json"), out, prov)
    return loc, out


def _sequences_for_gbr(ctx: Context, loc: pd.DataFrame) -> pd.DataFrame:
    users = loc["user_id"].unique()
    return gbr_sequences(ctx.interactions, ctx.ds.items, users, ctx.cfg.location.max_len)


def _split_users(cfg: GBRConfig, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg.split_seed)
    perm = rng.permutation(len(users))
    n_eval = int(round(cfg.eval_fraction * len(users)))
    return np.sort(perm[n_eval:]), np.sort(perm[:n_eval])


# ---- step 3: Table 5 -----------------------------------------------------------------------------------
def run_table5(ctx: Context, loc: pd.DataFrame | None = None) -> tuple[list[dict], dict]:
    cfg = ctx.cfg
    loc = loc if loc is not None else ctx.store.read_parquet(cfg.dataset, STAGE, ctx.name("location.parquet"))
    seq = _sequences_for_gbr(ctx, loc)
    runs, corpora, baselines = [], {}, []
    for model_name, variant, loss in MODELS:
        if variant not in corpora:
            g = loc[loc["variant"] == variant]
            corpus = build_corpus(seq, g, ctx.item_index)
            train_idx, eval_idx = _split_users(cfg, corpus.users)
            corpora[variant] = (corpus, train_idx, eval_idx)
        corpus, train_idx, eval_idx = corpora[variant]
        ratio = fill_ratio(corpus.n_fill, corpus.n_items)
        if loss == "infonce":    # untrained reference on the same evaluation batches and negatives
            ev = evaluate_ib(None, corpus.subset(eval_idx), cfg.llada.batch_size, item_vectors=ctx.item_vectors,
                             temperature=cfg.llada.temperature)
            baselines.append({"model": f"context mean ({variant})", "blbl": variant, "loss": "none", "seed": 0,
                              "fill_ratio": ratio, **ev, "train_seconds": 0.0})
        for seed in cfg.seeds:
            lcfg = LLaDAConfig(**{**cfg.llada.as_dict(), "loss": loss, "seed": int(seed)})
            lcfg.max_len = max(lcfg.max_len, corpus.tokens.shape[1])
            model, rec = train_llada(corpus.subset(train_idx), ctx.item_vectors, lcfg, show_progress=not cfg.small,
                                     log=ctx.log)
            ev = evaluate_ib(model, corpus.subset(eval_idx), lcfg.batch_size)
            run = {"model": model_name, "blbl": variant, "loss": loss, "seed": int(seed), "fill_ratio": ratio,
                   **ev, **rec}
            ctx.log(f"{model_name} seed {seed}: IB-ACC[MASK] {ev['acc_mask']:.3f} IB-PPL[MASK] {ev['ppl_mask']:.2f} "
                    f"IB-ACC[FILL] {ev['acc_fill']:.3f} IB-PPL[FILL] {ev['ppl_fill']:.2f} "
                    f"({rec['train_seconds']:.0f} s, {rec['sequences_per_s']:.0f} seq/s)")
            runs.append(run)
            if seed == cfg.seeds[0]:
                ctx.store.write_torch(cfg.dataset, STAGE, ctx.name(f"llada_{model_name}_seed{seed}.pt"),
                                      {"state_dict": model.state_dict(), "config": lcfg.as_dict(),
                                       "item_space": cfg.item_space}, ctx.prov(config=lcfg.as_dict()))
    n_users = len(next(iter(corpora.values()))[0])
    protocol = (f"GBR users (least active third + equal random sample of the rest; {n_users:,} users), each "
                "sequence = leave-one-out training part, last "
                f"{cfg.location.max_len} events. Location: TD gap > {cfg.location.tau_time_days:g} days, CD second-level "
                f"category change, model filter SASRec rank > {cfg.location.rank_threshold}; labels P_L: Delta p > "
                f"{_tau_used(ctx):g}. LLaDA trained on 90% of users (sequences with >= 1 P_L position), "
                f"scored on the other 10%: every P_L position masked (t = 1), K = batch size - 1 = "
                f"{cfg.llada.batch_size - 1} in-batch negatives, cosine / {cfg.llada.temperature} logits; "
                f"IB-PPL/IB-ACC = mean over samples. Item space: {cfg.item_space} vectors "
                f"({ctx.item_vectors.shape[1]}-d). Chance IB-ACC = 1/{cfg.llada.batch_size}.")
    deviations = [f"batch size {cfg.llada.batch_size} instead of 3200 (CPU), so K = {cfg.llada.batch_size - 1} negatives "
                  "instead of 3199: IB-ACC chance level is higher and IB-PPL lower than the paper's at equal skill",
                  f"lr {cfg.llada.lr} instead of 0.0075 (smaller batch); {cfg.llada.epochs} epochs",
                  f"input {ctx.item_vectors.shape[1]}-d {cfg.item_space} vectors through a linear adapter; an output head maps "
                  "the 128-d hidden state back to that space (the paper's input/output are 128-d)",
                  "Amazon Beauty (day-resolution timestamps, second-level category) instead of Taobao logs",
                  "evaluation masks every P_L position (t = 1) on held-out users; the paper does not state its "
                  "evaluation masking",
                  "loss normaliser L' read as |P_L| of the sequence (LLaDA's unbiased form)"]
    if cfg.small:
        deviations.insert(0, f"SMALL smoke configuration: {cfg.small_users} users, tiny training; not a result")
    tab = table5(runs + baselines, cfg.dataset, ctx.dataset_hash, protocol, deviations,
                 notes="fill_ratio_pct = P_U fills / (observed items + fills) over all GBR sequences. "
                       "train_seconds_per_seed on this CPU. 'context mean' rows are an untrained reference: every "
                       "[MASK]/[FILL] predicts the mean vector of its sequence's visible items (same batches, "
                       "negatives and temperature).")
    if cfg.small:
        tab.name = "small/table5"
    write_table(ctx.store, STAGE, tab, ctx.prov(llada=cfg.llada.as_dict()))
    ctx.store.write_json(cfg.dataset, STAGE, ctx.name("table5_runs.json"), runs, ctx.prov())
    return runs, tab.__dict__


def _tau_used(ctx: Context) -> float:
    s = ctx.store.read_json(ctx.cfg.dataset, STAGE, ctx.name("location_summary.json"))
    return float(s["config"]["tau_coh_used"])


def load_llada(ctx: Context, model_name: str, seed: int) -> TinyLLaDA:
    ck = ctx.store.read_torch(ctx.cfg.dataset, STAGE, ctx.name(f"llada_{model_name}_seed{seed}.pt"))
    if ck["item_space"] != ctx.cfg.item_space:
        raise ValueError(f"checkpoint llada_{model_name}_seed{seed}.pt was trained on {ck['item_space']} vectors, "
                         f"not {ctx.cfg.item_space}")
    model = TinyLLaDA(ctx.item_vectors, LLaDAConfig(**ck["config"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


# ---- step 4: fills (Figure 6) ------------------------------------------------------------------------
def run_fills(ctx: Context, loc: pd.DataFrame | None = None) -> dict:
    cfg = ctx.cfg
    loc = loc if loc is not None else ctx.store.read_parquet(cfg.dataset, STAGE, ctx.name("location.parquet"))
    seq = _sequences_for_gbr(ctx, loc)
    seed = int(cfg.seeds[0])
    models = list(dict.fromkeys(("GBR-C-0", "GBR-T-0", "GBR-TC-0", *cfg.table6_models)))
    spec = {m: (v, l) for m, v, l in MODELS}
    case_frames, case_vecs, case_ids, info = [], [], [], {}
    rng = np.random.default_rng(0)
    case_users = None
    for m in models:
        variant, loss = spec[m]
        t0 = time.time()
        corpus = build_corpus(seq, loc[loc["variant"] == variant], ctx.item_index, inference=True)
        model = load_llada(ctx, m, seed)
        fl = infer_fills(model, corpus)
        secs = time.time() - t0
        users_of_fill = corpus.users[fl["row"]]
        ctx.store.write_numpy(cfg.dataset, STAGE, ctx.name(f"fills_all_{m}.npz"),
                              {"user_ids": users_of_fill.astype(str), "position": fl["position"], "gap_t": fl["gap"],
                               "vectors": fl["vectors"]},
                              ctx.prov(model=m, variant=variant, loss=loss, seed=seed))
        if case_users is None:     # the same users in every variant's case view
            with_fill = np.unique(users_of_fill)
            case_users = set(rng.choice(with_fill, min(cfg.case_users, len(with_fill)), replace=False))
        sel = np.array([u in case_users for u in users_of_fill], dtype=bool)
        sub = {k: v[sel] for k, v in fl.items()}
        frame = fills_mod.fills_frame(m, corpus, sub, ctx.item_ids, ctx.item_vectors)
        frame.insert(2, "blbl", variant)
        frame.insert(3, "loss", loss)
        frame["seed"] = seed
        case_frames.append(frame)
        case_vecs.append(sub["vectors"])
        case_ids.extend(frame["fill_id"])
        info[m] = {"fills": int(len(fl["row"])), "users_with_fills": int(len(np.unique(users_of_fill))),
                   "inference_seconds": round(secs, 2),
                   "fills_per_s": round(len(fl["row"]) / max(secs, 1e-9), 1)}
        ctx.log(f"fills {m}: {len(fl['row']):,} fills for {info[m]['users_with_fills']:,} users in {secs:.1f} s")
    # every variant's fill_id is prefixed by its model name, so ids are unique across models
    frames = pd.concat(case_frames, ignore_index=True)
    frames["variant"] = frames["variant"].astype(str)
    prov = ctx.prov(models=models, seed=seed, case_users=len(case_users or []),
                    note="case-view sample: every fill of the sampled users; all fills are in fills_all_<model>.npz")
    ctx.store.write_parquet(cfg.dataset, STAGE, ctx.name("fills.parquet"), frames, prov)
    ctx.store.write_numpy(cfg.dataset, STAGE, ctx.name("fill_vectors.npz"),
                          {"fill_ids": np.asarray(case_ids, dtype=str),
                           "vectors": np.concatenate(case_vecs).astype(np.float16 if not cfg.small else np.float32),
                           "item_space": np.asarray(cfg.item_space)}, prov)
    ctx.store.write_json(cfg.dataset, STAGE, ctx.name("fills_summary.json"), info, prov)
    return info


# ---- step 5: Table 6 ---------------------------------------------------------------------------------
def run_table6(ctx: Context) -> dict:
    from ..ranking.din import run_din_experiment
    cfg = ctx.cfg
    arms = {}
    t0 = time.time()
    din_small = cfg.small or cfg.din_small
    arms["Base"] = run_din_experiment(ctx.ds, ctx.item_ids, ctx.item_vectors, extra_history=None,
                                      seeds=cfg.seeds, small=din_small, epochs=cfg.din_epochs,
                                      show_progress=not cfg.small)
    for m in cfg.table6_models:
        z = ctx.store.read_numpy(cfg.dataset, STAGE, ctx.name(f"fills_all_{m}.npz"))
        extra: dict = {}
        order = np.lexsort((z["position"], z["user_ids"]))
        vecs = fills_mod.l2_normalise(z["vectors"])
        for n in order:
            extra.setdefault(str(z["user_ids"][n]), []).append(vecs[n])
        extra = {u: np.stack(v) for u, v in extra.items()}
        arms[f"Base + {m}"] = run_din_experiment(ctx.ds, ctx.item_ids, ctx.item_vectors, extra_history=extra,
                                                 seeds=cfg.seeds, small=din_small, epochs=cfg.din_epochs,
                                                 show_progress=not cfg.small)
        ctx.log(f"table6 {m}: {arms[f'Base + {m}']['summary']}")
    base_p = arms["Base"]["protocol"]
    protocol = (f"DIN over item vectors only ({cfg.item_space}, {ctx.item_vectors.shape[1]}-d): history = last "
                f"{base_p.get('max_len')} events; the '+ fills' arms append the user's GBR fill vectors "
                "(L2-normalised, from the seed-0 LLaDA of that Table 5 model) after the history. Samples: "
                f"{base_p.get('sampler')}, neg_ratio {base_p.get('neg_ratio')}, sample seed {base_p.get('sample_seed')}; "
                f"segments: {base_p.get('segments')}. AUC / GAUC on the test split, mean ± std over seeds.")
    deviations = ["Amazon Beauty with sampled negatives instead of Taobao impressions",
                  "CTR samples from all users; fills exist only for GBR users (every cold user, half of the rest as "
                  "sampled), so 'cold' is the segment fully covered by fills",
                  "GBR fills are inferred from each user's leave-one-out training part only (no valid/test event); "
                  "in training, a sample's history may gain fills inferred from events after it",
                  "no non-sequential features (the paper's base has the online model's other features)",
                  "history truncated to 50 real events (paper: 500)"]
    din_cfg = arms["Base"]["config"]
    if din_small:
        deviations.insert(0, f"DIN on run_din_experiment's small slice: {din_cfg.get('small_users')} random users, "
                             f"{din_cfg.get('epochs')} epochs (full Beauty costs ~1 min per seed and epoch per arm "
                             "on this CPU; run with GBRConfig(din_small=False) for it)")
    else:
        deviations.append(f"DIN {din_cfg.get('epochs')} epochs on CPU")
    if cfg.small:
        deviations.insert(0, "SMALL smoke configuration; not a result")
    tab = table6(arms, cfg.dataset, ctx.dataset_hash, protocol, deviations,
                 notes=f"wall time {time.time() - t0:.0f} s for all arms")
    if cfg.small:
        tab.name = "small/table6"
    write_table(ctx.store, STAGE, tab, ctx.prov(models=list(cfg.table6_models)))
    ctx.store.write_json(cfg.dataset, STAGE, ctx.name("table6_runs.json"), arms, ctx.prov())
    return tab.__dict__


def run_all(cfg: GBRConfig | None = None, store: ArtifactStore | None = None, log=print,
            table6_enabled: bool = True) -> dict:
    cfg = cfg or config_from_env()
    t0 = time.time()
    ctx = Context(cfg, store, log)
    timings = {}
    t = time.time()
    model, sm = run_sasrec(ctx)
    timings["sasrec"] = time.time() - t
    t = time.time()
    loc, ls = run_location(ctx, model)
    timings["location"] = time.time() - t
    t = time.time()
    runs, _ = run_table5(ctx, loc)
    timings["table5"] = time.time() - t
    t = time.time()
    run_fills(ctx, loc)
    timings["fills"] = time.time() - t
    if table6_enabled:
        t = time.time()
        run_table6(ctx)
        timings["table6"] = time.time() - t
    timings["total"] = time.time() - t0
    timings = {k: round(v, 1) for k, v in timings.items()}
    ctx.store.write_json(cfg.dataset, STAGE, ctx.name("run_timings.json"), timings, ctx.prov(config=cfg.as_dict()))
    log(f"gbr run finished: {timings}")
    return timings
