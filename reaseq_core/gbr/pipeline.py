"""The GBR stage end to end, step by step (paper section 3 and 4.2): orchestration only. Every artifact
goes through the catalogue; the report texts and the paper's figures live in report.py.

    sasrec   -> cat.SASREC (checkpoint), cat.SASREC_METRICS
    locate   -> cat.LOCATION, cat.LOCATION_SUMMARY                   (section 3.1 + Delta p of 3.2.1)
    table5   -> cat.TABLE5, cat.TABLE5_RUNS, cat.LLADA (one checkpoint per model, first seed)
    fills    -> cat.FILLS + cat.FILL_VECTORS (case-view sample of users; Figure 6),
                cat.FILLS_ALL (every fill of one model, for Table 6)
    table6   -> cat.TABLE6, cat.TABLE6_RUNS
A small configuration (REASEQ_SMALL=1, `--small`) runs the same code on a slice in about a minute and
writes under run=cat.SMALL_RUN (gbr/small/), so it never overwrites the full results.

Item vectors: `representation.item_space.load_item_space` (one loader, L2-normalised once). In the
knowledge space, items without knowledge keep their title vector (GBR needs a vector for every item of
the sequences); the coverage is recorded in every artifact's provenance.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .. import catalogue as cat
from ..data import ensure_dataset
from ..ranking.din import DINConfig, run_din_experiment
from ..representation.item_space import l2_normalise, load_item_space
from ..results import write_table
from ..store import ArtifactStore
from . import fills as fills_mod
from . import report
from .labels import LabelConfig, assign_roles, build_corpus, delta_p, strip_fills
from .llada import (LLaDAConfig, TinyLLaDA, evaluate_ib, infer_fills, infer_prefix_fills, popular_item,
                    train_llada)
from .location import (VARIANTS, LocationConfig, candidate_gaps, fill_ratio, gbr_sequences, locate,
                       select_gbr_users, stage_summary)
from .sasrec import SASRec, SASRecConfig, train_sasrec_seeds, transition_scores
from .swing import SwingConfig, fit_swing

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
    # SASRec seeds: each is trained, the best validation NDCG@10 (every user's validation item) is kept
    sasrec_seeds: tuple = (0, 1)
    location: LocationConfig = field(default_factory=LocationConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    # the configuration the GBR findings (`reaseq gbr findings`) led to: lr 1e-3 with early stopping and the
    # context head (an attention over the visible items' vectors, so predictions stay among real items); the
    # paper's masking (only P_L positions, loss normaliser 1/(t |P_L|)), which with this head beat masking
    # every item with a loss averaged over masked tokens (3-seed means: CD +0.63, TD ∪ CD +0.42, TD +0.05
    # IB-ACC points); 2 torch threads
    llada: LLaDAConfig = field(default_factory=lambda: LLaDAConfig(
        lr=1e-3, epochs=20, patience=3, normaliser="t_pl", mask_scope="p_l", head="context", threads=2))
    swing: SwingConfig = field(default_factory=SwingConfig)
    seeds: tuple = (0, 1, 2)
    eval_fraction: float = 0.1
    # LLaDA training sequences: "gbr" = the GBR users' training split (the paper), "all" = every located user
    # except the held-out GBR users (the evaluation sequences are the same either way)
    train_users: str = "gbr"
    mim_reference: bool = True                # the masked-item-model reference of Table 5 (3 seeds on CD)
    mim_mask_rate: float = 0.6                # BERT4Rec's best masking proportion on Beauty (Sun et al. 2019)
    split_seed: int = 0
    case_users: int = 300                     # users whose fills go to the committed case-view artifact
    table6_models: tuple = ("GBR-C-0",)
    # Table 6's DIN on every user, 3 epochs per seed and arm (the best validation epoch is scored)
    din: DINConfig = field(default_factory=DINConfig)

    @classmethod
    def small_config(cls, **kw) -> "GBRConfig":
        cfg = cls(small=True, **kw)
        cfg.sasrec = SASRecConfig(max_epochs=1, eval_every=1, patience=1, time_budget_s=30, n_negatives=512)
        cfg.labels = LabelConfig(tau_coh_quantile=0.7)
        cfg.llada = LLaDAConfig(batch_size=32, epochs=2, lr=2e-3, normaliser="masked", mask_scope="all", head="context")
        cfg.small_users = 2000
        cfg.eval_fraction = 0.3
        cfg.case_users = 50
        cfg.table6_models = ("GBR-C-0",)
        cfg.din = DINConfig.small_slice()
        cfg.seeds = (0,)
        cfg.sasrec_seeds = (0,)
        return cfg

    @property
    def run(self) -> str | None:
        return cat.SMALL_RUN if self.small else None

    def as_dict(self) -> dict:
        return asdict(self)


def config_from_env(**kw) -> GBRConfig:
    """Small configuration when REASEQ_SMALL=1, the full one otherwise."""
    return GBRConfig.small_config(**kw) if os.environ.get("REASEQ_SMALL") == "1" else GBRConfig(**kw)


class Context:
    """Dataset, item space and the store, loaded once per run."""

    def __init__(self, cfg: GBRConfig, store: ArtifactStore | None = None, log=print):
        self.cfg, self.log = cfg, log
        self.store = store or ArtifactStore()
        self.run = cfg.run
        self.ds = ensure_dataset(cfg.dataset, self.store)
        self.space = load_item_space(cfg.dataset, cfg.item_space, self.store)
        self.item_ids, self.item_vectors = self.space.item_ids, self.space.vectors
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

    def write(self, art: cat.Artifact, obj, provenance: dict, **params) -> None:
        self.store.write(self.cfg.dataset, art, obj, provenance, run=self.run, **params)

    def read(self, art: cat.Artifact, **params):
        return self.store.read(self.cfg.dataset, art, run=self.run, **params)

    def prov(self, **extra) -> dict:
        return {"item_space": self.cfg.item_space, "item_space_coverage": self.space.coverage(),
                "small": self.cfg.small, "dataset_hash": self.dataset_hash, **extra}


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
    res, runs = train_sasrec_seeds(seqs, len(ctx.item_ids), cfg.sasrec, cfg.sasrec_seeds, log=ctx.log)
    config = asdict(res.model.cfg)                      # the selected seed's configuration
    metrics = {"dataset": cfg.dataset, "dataset_hash": ctx.dataset_hash, "item_space": report.SASREC_ITEM_SPACE,
               "protocol": report.sasrec_protocol(len(ctx.item_ids)), "reference": report.SASREC_REFERENCE,
               **res.metrics, "history": res.history, "train_seconds": res.train_seconds, "epochs": res.epochs,
               "users": len(seqs), "config": config, "small": cfg.small,
               "seed_selection": report.SASREC_SEED_SELECTION, "seed_runs": runs,
               "train_seconds_all_seeds": round(sum(r["train_seconds"] for r in runs), 1)}
    ctx.write(cat.SASREC_METRICS, metrics, ctx.prov(config=config, seeds=list(cfg.sasrec_seeds)))
    ctx.write(cat.SASREC, {"state_dict": res.model.state_dict(), "config": config,
                           "n_items": len(ctx.item_ids)}, ctx.prov())
    return res.model, metrics


def load_sasrec(ctx: Context) -> SASRec:
    ck = ctx.read(cat.SASREC)
    model = SASRec(ck["n_items"], SASRecConfig(**ck["config"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


# ---- step 2: location + labels -------------------------------------------------------------------------
def run_location(ctx: Context, model: SASRec | None = None) -> tuple[pd.DataFrame, dict]:
    cfg = ctx.cfg
    model = model or load_sasrec(ctx)
    t0 = time.time()
    users, user_info = select_gbr_users(ctx.interactions, cfg.location.user_seed)
    # every user is located (Table 6 appends fills for all users); Table 5 and the summary use the GBR users
    seq = gbr_sequences(ctx.interactions, ctx.ds.items, ctx.interactions["user_id"].unique(), cfg.location.max_len)
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
    gbr_set = set(users["user_id"])
    gaps["gbr_user"] = gaps["user_id"].isin(gbr_set)
    all_gaps, gaps = gaps, gaps[gaps["gbr_user"]].reset_index(drop=True)
    swing_rank = swing_rank[all_gaps["gbr_user"].to_numpy()].reset_index(drop=True)
    n_items = int(seq["user_id"].isin(gbr_set).sum())
    tau_coh = cfg.labels.threshold(gaps["delta_p"])
    frames, summary = [], {}
    for v in VARIANTS:
        g = all_gaps.copy()
        g["variant"] = v
        g["flagged"] = locate(g, v, cfg.location.rank_threshold)
        g["role"] = assign_roles(g["flagged"], g["delta_p"], tau_coh)
        frames.append(g)
        g = g[g["gbr_user"]].reset_index(drop=True)
        s = stage_summary(g, v, cfg.location.rank_threshold, n_items, alt_rank=swing_rank)
        s["p_l_positions"] = int((g["role"] == "P_L").sum())
        s["p_l_share_of_items"] = s["p_l_positions"] / n_items
        summary[v] = s
    loc = pd.concat(frames, ignore_index=True)
    both = gaps["td"] & gaps["cd"] & (gaps["model_rank"] > cfg.location.rank_threshold)
    dp_valid = gaps["delta_p"].dropna()
    out = {"variants": summary, "users": user_info, "items_in_gbr_sequences": n_items,
           "gaps": int(len(gaps)), "gaps_all_users": int(len(all_gaps)),
           "users_located": int(all_gaps["user_id"].nunique()),
           "td_and_cd_after_model": int(both.sum()),
           "fill_ratio_definition": report.FILL_RATIO_DEFINITION,
           "config": {**cfg.location.as_dict(), **asdict(cfg.labels), "tau_coh_used": tau_coh},
           "delta_p_quantiles": {str(q): float(dp_valid.quantile(q)) for q in (0.5, 0.75, 0.9, 0.95, 0.99)},
           "model_rank_quantiles": {str(q): float(gaps["model_rank"].quantile(q)) for q in (0.1, 0.25, 0.5, 0.75)},
           "filter_model": report.FILTER_MODEL, "sequence_rule": report.sequence_rule(cfg.location.max_len),
           "seconds": {"location_and_delta_p": round(seconds_location, 2), "swing_fit_and_rank": round(seconds_swing, 2)},
           "users_per_s": round(len(grouped) / max(seconds_location, 1e-9), 1)}
    cols = ["user_id", "t", "item_from", "item_to", "ts_from", "ts_to", "gap_days", "cat_from", "cat_to",
            "td", "cd", "model_rank", "flagged", "delta_p", "role", "variant", "gbr_user"]
    loc = loc[cols]
    for c in ("cat_from", "cat_to", "role", "variant"):
        loc[c] = loc[c].astype("category")
    prov = ctx.prov(config=out["config"])
    ctx.write(cat.LOCATION, loc, prov)
    ctx.write(cat.LOCATION_SUMMARY, out, prov)
    return loc, out


def _gbr_only(loc: pd.DataFrame) -> pd.DataFrame:
    """The GBR users' gaps (Table 5, the fills case view); the location artifact holds every user."""
    return loc[loc["gbr_user"]] if "gbr_user" in loc.columns else loc


def _sequences_for_gbr(ctx: Context, loc: pd.DataFrame) -> pd.DataFrame:
    users = loc["user_id"].unique()
    return gbr_sequences(ctx.interactions, ctx.ds.items, users, ctx.cfg.location.max_len)


def _split_users(cfg: GBRConfig, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg.split_seed)
    perm = rng.permutation(len(users))
    n_eval = int(round(cfg.eval_fraction * len(users)))
    return np.sort(perm[n_eval:]), np.sort(perm[:n_eval])


# ---- step 3: Table 5 -----------------------------------------------------------------------------------
REFERENCE_NAMES = {"context_mean": "context mean", "previous_item": "previous item",
                   "popular_item": "most popular item"}
MIM_REFERENCE = "masked item model"


def _evaluate(ctx: Context, model, corpus, reference: str = "context_mean", popular: int | None = None) -> dict:
    return evaluate_ib(model, corpus, ctx.cfg.llada.batch_size, item_vectors=ctx.item_vectors,
                       temperature=ctx.cfg.llada.temperature, reference=reference, popular=popular, nearest=True)


def run_table5(ctx: Context, loc: pd.DataFrame | None = None) -> tuple[list[dict], dict]:
    """Every Table 5 model (3 seeds), and on the same held-out sequences, batches and negatives: the untrained
    references (context mean, previous item, most popular item) for every location variant, and a masked
    item model of the same size and loss that never sees a fill (BERT4Rec-style, on CD)."""
    cfg = ctx.cfg
    loc_all = loc if loc is not None else ctx.read(cat.LOCATION)
    loc = _gbr_only(loc_all)
    seq = _sequences_for_gbr(ctx, loc)
    if cfg.train_users not in ("gbr", "all"):
        raise ValueError(f"train_users must be 'gbr' or 'all', got {cfg.train_users!r}")
    seq_all = _sequences_for_gbr(ctx, loc_all) if cfg.train_users == "all" else None
    runs, corpora, references = [], {}, []

    def train_and_score(name, variant, loss, corpus, train_idx, eval_idx, seed, **over):
        lcfg = LLaDAConfig(**{**cfg.llada.as_dict(), "loss": loss, "seed": int(seed), **over})
        lcfg.max_len = max(lcfg.max_len, corpus.tokens.shape[1])
        model, rec = train_llada(corpus.subset(train_idx), ctx.item_vectors, lcfg, show_progress=not cfg.small,
                                 log=ctx.log)
        ev = _evaluate(ctx, model, corpus.subset(eval_idx))
        ctx.log(f"{name} seed {seed}: IB-ACC[MASK] {ev['acc_mask']:.3f} IB-PPL[MASK] {ev['ppl_mask']:.2f} "
                f"IB-ACC[FILL] {ev['acc_fill']:.3f} IB-PPL[FILL] {ev['ppl_fill']:.2f} "
                f"({rec['train_seconds']:.0f} s, {rec['epochs_run']} epochs, best {rec['best_epoch']})")
        return model, lcfg, {**ev, **rec, "config": lcfg.as_dict()}

    for model_name, variant, loss in MODELS:
        if variant not in corpora:
            g = loc[loc["variant"] == variant]
            corpus = build_corpus(seq, g, ctx.item_index)
            train_idx, eval_idx = _split_users(cfg, corpus.users)
            if cfg.train_users == "all":      # same held-out users; every other located user trains
                held_out = set(corpus.users[eval_idx])
                corpus = build_corpus(seq_all, loc_all[loc_all["variant"] == variant], ctx.item_index)
                is_eval = np.array([u in held_out for u in corpus.users])
                train_idx, eval_idx = np.nonzero(~is_eval)[0], np.nonzero(is_eval)[0]
            corpora[variant] = (corpus, train_idx, eval_idx)
            ratio = fill_ratio(corpus.n_fill, corpus.n_items)
            popular = popular_item(corpus.subset(train_idx))
            for ref, label in REFERENCE_NAMES.items():
                ev = _evaluate(ctx, None, corpus.subset(eval_idx), reference=ref, popular=popular)
                references.append({"model": f"{label} ({variant})", "blbl": variant, "loss": "none", "seed": 0,
                                   "fill_ratio": ratio, "reference": ref, **ev, "train_seconds": 0.0})
        corpus, train_idx, eval_idx = corpora[variant]
        ratio = fill_ratio(corpus.n_fill, corpus.n_items)
        for seed in cfg.seeds:
            model, lcfg, rec = train_and_score(model_name, variant, loss, corpus, train_idx, eval_idx, seed)
            runs.append({"model": model_name, "blbl": variant, "loss": loss, "seed": int(seed), "fill_ratio": ratio,
                         **rec})
            if seed == cfg.seeds[0]:
                ctx.write(cat.LLADA, {"state_dict": model.state_dict(), "config": lcfg.as_dict(),
                                      "item_space": cfg.item_space}, ctx.prov(config=lcfg.as_dict()),
                          model=model_name, seed=seed)
    if cfg.mim_reference:
        corpus, train_idx, eval_idx = corpora["CD"]
        bare = strip_fills(corpus)
        for seed in cfg.seeds:
            _, _, rec = train_and_score(MIM_REFERENCE, "CD", "infonce", bare, train_idx, eval_idx, seed,
                                        mask_scope="all", mask_rate=cfg.mim_mask_rate, normaliser="masked")
            runs.append({"model": f"{MIM_REFERENCE} (CD, no fills)", "blbl": "CD", "loss": "infonce",
                         "seed": int(seed), "fill_ratio": 0.0, "reference": "masked_item_model", **rec})
    n_users = int(loc["user_id"].nunique())
    dim = ctx.item_vectors.shape[1]
    tab = report.table5(runs + references, cfg.dataset, ctx.dataset_hash,
                        report.table5_protocol(cfg, n_users, _tau_used(ctx), dim),
                        report.table5_deviations(cfg, dim), notes=report.table5_notes(cfg))
    write_table(ctx.store, cat.TABLE5, tab, ctx.prov(llada=cfg.llada.as_dict()), run=ctx.run)
    ctx.write(cat.TABLE5_RUNS, runs + references, ctx.prov())
    return runs, tab.__dict__


def _tau_used(ctx: Context) -> float:
    s = ctx.read(cat.LOCATION_SUMMARY)
    return float(s["config"]["tau_coh_used"])


def load_llada(ctx: Context, model_name: str, seed: int) -> TinyLLaDA:
    ck = ctx.read(cat.LLADA, model=model_name, seed=seed)
    if ck["item_space"] != ctx.cfg.item_space:
        path = ctx.store.path(ctx.cfg.dataset, cat.LLADA, run=ctx.run, model=model_name, seed=seed)
        raise ValueError(f"checkpoint {path} was trained on {ck['item_space']} vectors, not {ctx.cfg.item_space}")
    model = TinyLLaDA(ctx.item_vectors, LLaDAConfig(**ck["config"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


# ---- step 4: fills (Figure 6) ------------------------------------------------------------------------
def run_fills(ctx: Context, loc: pd.DataFrame | None = None) -> dict:
    cfg = ctx.cfg
    loc = _gbr_only(loc if loc is not None else ctx.read(cat.LOCATION))
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
        ctx.write(cat.FILLS_ALL, {"user_ids": users_of_fill.astype(str), "position": fl["position"],
                                  "gap_t": fl["gap"], "vectors": fl["vectors"]},
                  ctx.prov(model=m, variant=variant, loss=loss, seed=seed), model=m)
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
    prov = ctx.prov(models=models, seed=seed, case_users=len(case_users or []), note=report.CASE_FILLS_NOTE)
    ctx.write(cat.FILLS, frames, prov)
    # float16 halves the committed file; the small run keeps float32 (never committed)
    ctx.write(cat.FILL_VECTORS, {"fill_ids": np.asarray(case_ids, dtype=str),
                                 "vectors": np.concatenate(case_vecs).astype(np.float16 if not cfg.small else np.float32),
                                 "item_space": np.asarray(cfg.item_space)}, prov)
    ctx.write(cat.FILLS_SUMMARY, info, prov)
    return info


# ---- step 5: Table 6 ---------------------------------------------------------------------------------
def prefix_fill_history(ctx: Context, model_name: str, loc: pd.DataFrame | None = None) -> tuple[dict, dict]:
    """Per CTR sample, the fills a model infers from the events before that sample only (no leak), for
    every user: {(user_id, sample position): [k, d] L2-normalised fill vectors in sequence order}.

    A user's GBR sequence is the training part of their events (positions start .. n-3, see gbr_sequences);
    the sample at position p sees the prefix of its first c = p - start sequence items, and the fills between
    two of those items inferred from that prefix alone; the valid (n-2) and test (n-1) samples see the whole
    sequence. Also writes cat.FILLS_PREFIX."""
    cfg = ctx.cfg
    variant, loss = {m: (v, l) for m, v, l in MODELS}[model_name]
    loc = loc if loc is not None else ctx.read(cat.LOCATION)
    seq = _sequences_for_gbr(ctx, loc)                   # every located user
    corpus = build_corpus(seq, loc[loc["variant"] == variant], ctx.item_index, inference=True)
    model = load_llada(ctx, model_name, int(cfg.seeds[0]))
    t0 = time.time()
    pf = infer_prefix_fills(model, corpus, show_progress=not cfg.small)
    secs = time.time() - t0
    inter = ctx.interactions
    n_events = inter.groupby("user_id")["position"].max() + 1
    length = seq.groupby("user_id")["t"].max() + 1                          # L, items in the sequence
    start = n_events.loc[length.index] - 2 - length                          # position of the sequence's t = 0
    users = corpus.users[pf["row"]]
    st = start.loc[users].to_numpy()
    full = (pf["cut"] == length.loc[users].to_numpy())
    sample_pos = st + pf["cut"]                                              # the sample right after the prefix
    vecs = l2_normalise(pf["vectors"])
    keys_u = np.concatenate([users, users[full]])
    keys_p = np.concatenate([sample_pos, (n_events.loc[users[full]].to_numpy() - 1)])   # + the test sample
    pos = np.concatenate([pf["position"], pf["position"][full]])
    allv = np.concatenate([vecs, vecs[full]])
    extra: dict = {}
    for n in np.lexsort((pos, keys_p, keys_u)):
        extra.setdefault((str(keys_u[n]), int(keys_p[n])), []).append(allv[n])
    extra = {k: np.stack(v) for k, v in extra.items()}
    ctx.write(cat.FILLS_PREFIX, {"user_ids": keys_u.astype(str), "sample_position": keys_p.astype(np.int64),
                                 "fill_position": pos.astype(np.int64), "vectors": allv.astype(np.float16)},
              ctx.prov(model=model_name, variant=variant, loss=loss, seed=int(cfg.seeds[0])), model=model_name)
    info = {"prefixes_with_fills": int(len(np.unique(pf["row"] * 10_000 + pf["cut"]))),
            "fill_vectors": int(len(pf["row"])), "samples_with_fills": len(extra),
            "users_with_fills": int(len(np.unique(users))), "inference_seconds": round(secs, 1)}
    ctx.log(f"prefix fills {model_name}: {info}")
    return extra, info


def run_table6(ctx: Context) -> dict:
    cfg = ctx.cfg
    t0 = time.time()
    show = not cfg.small
    loc = ctx.read(cat.LOCATION)
    arms = {"Base": run_din_experiment(ctx.ds, ctx.item_ids, ctx.item_vectors, extra_history=None, seeds=cfg.seeds,
                                       cfg=cfg.din, show_progress=show)}
    fill_info = {}
    for m in cfg.table6_models:
        extra, fill_info[m] = prefix_fill_history(ctx, m, loc)
        arms[f"Base + {m}"] = run_din_experiment(ctx.ds, ctx.item_ids, ctx.item_vectors, extra_history=extra,
                                                 seeds=cfg.seeds, cfg=cfg.din, show_progress=show)
        arms[f"Base + {m}"]["fills"] = fill_info[m]
        ctx.log(f"table6 {m}: {arms[f'Base + {m}']['summary']}")
    tab = report.table6(arms, cfg.dataset, ctx.dataset_hash,
                        report.table6_protocol(cfg, ctx.item_vectors.shape[1], arms["Base"]["protocol"]),
                        report.table6_deviations(cfg), notes=f"wall time {time.time() - t0:.0f} s for all arms")
    write_table(ctx.store, cat.TABLE6, tab, ctx.prov(models=list(cfg.table6_models), din=cfg.din.as_dict()),
                run=ctx.run)
    ctx.write(cat.TABLE6_RUNS, arms, ctx.prov())
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
    ctx.write(cat.RUN_TIMINGS, timings, ctx.prov(config=cfg.as_dict()))
    log(f"gbr run finished: {timings}")
    return timings
