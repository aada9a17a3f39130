"""Tables 3-4 analogues on Amazon Beauty: train every variant x seed of the reasoning-enhanced ranker.

Every variant is trained once per seed on the same CTR samples (data.py), model selection by the
validation AUC over epochs, scored on the test split. The tables themselves (protocol, deviations, the
paper's figures) are built by report.py. Results, through the artifact catalogue: cat.TABLE3_ABLATION,
cat.TABLE4_REPRESENTATION (ResultTable) and cat.RANKING_RUNS (one row per variant x seed, with metrics
and wall time); a small smoke run (`AblationConfig.small_run()`) writes them under run=cat.SMALL_RUN.

Item vectors come from `representation.item_space` (one loader, one normalisation; items without
knowledge keep their title vector in the knowledge arm).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from .. import catalogue as cat
from ..representation.item_space import ItemSpace, load_item_space
from ..results import write_table
from ..store import ArtifactStore
from .data import CTRData, build_ctr_data
from .features import ItemFeatureTable, add_user_context_features, build_item_features
from .metrics import segment_metrics
from .reaseq_ranker import VARIANTS, ReaSeqRanker, precompute_gsu
from .report import KNOWLEDGE_SID_ARM, TABLE3_KNOWLEDGE_VARIANTS, TABLE3_VARIANTS, TABLE4_VARIANTS, make_tables
from .train import METRICS, SEGMENTS, TrainConfig, train_and_evaluate

KNOWLEDGE_ARM = "Base+knowledge vectors"

__all__ = ["AblationConfig", "AblationContext", "TABLE3_KNOWLEDGE_VARIANTS", "TABLE3_VARIANTS", "TABLE4_VARIANTS",
           "build_model", "prepare", "run_ablation"]


@dataclass
class AblationConfig:
    """Every setting of the ablation suite. `small_users` None: all users (the full run)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    # bigger batches and a higher lr than TrainConfig's defaults: 2 epochs of the whole suite fit in ~20 min
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, batch_size=1024, lr=2e-3))
    max_len: int = 50
    neg_ratio: int = 1
    sample_seed: int = 0
    gsu_k: int = 10
    small_users: int | None = None
    model: dict = field(default_factory=dict)        # extra ReaSeqRanker keyword arguments

    @classmethod
    def small_run(cls, **kw) -> "AblationConfig":
        """The smoke configuration: 3,000 users, 1 epoch, written under run=cat.SMALL_RUN."""
        cfg = cls(**{"small_users": 3000, **kw})
        cfg.train = replace(cfg.train, epochs=1)
        return cfg

    @property
    def small(self) -> bool:
        return self.small_users is not None

    @property
    def run(self) -> str | None:
        return cat.SMALL_RUN if self.small else None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class AblationContext:
    dataset: object
    data: CTRData
    feats: ItemFeatureTable
    title_table: np.ndarray              # [R, d] aligned with data.table (row 0 padding)
    knowledge_table: np.ndarray | None   # knowledge vector where the item has one, else its title vector
    has_knowledge: np.ndarray            # bool [R]
    sid_source: dict
    knowledge_note: str
    knowledge_coverage: dict | None = None
    gsu_k: int = 10
    skipped: dict = field(default_factory=dict)   # variant -> why it was not trained (recorded in provenance)
    # the item features with the knowledge-vector SIDs (`reaseq sid build --vectors knowledge`), when they exist
    knowledge_feats: ItemFeatureTable | None = None
    knowledge_sid_source: dict = field(default_factory=dict)


def _on_table_rows(space: ItemSpace, data: CTRData) -> tuple[np.ndarray, np.ndarray]:
    """The space's vectors and knowledge flags placed on the CTR table rows (row 0 = padding)."""
    if not np.array_equal(space.item_ids, data.item_ids):
        raise ValueError(f"the {space.space} item space and the CTR table list different items")
    n_rows = len(data.table)
    table = data.table.copy()
    table[1:1 + len(space.item_ids)] = space.vectors
    has = np.zeros(n_rows, bool)
    has[1:1 + len(space.item_ids)] = space.has_knowledge
    return table, has


def prepare(dataset, store: ArtifactStore, cfg: AblationConfig | None = None, *,
            require_sids: bool = True) -> AblationContext:
    """CTR samples, item features (with SIDs), GSU results and both item spaces of one configuration."""
    cfg = cfg or AblationConfig()
    title = load_item_space(dataset.name, "title", store)
    users = None
    if cfg.small:
        all_users = np.sort(dataset.interactions["user_id"].unique())
        users = np.random.default_rng(0).choice(all_users, size=min(cfg.small_users, len(all_users)), replace=False)
    data = build_ctr_data(dataset, title.item_ids, title.vectors, neg_ratio=cfg.neg_ratio,
                          sample_seed=cfg.sample_seed, max_len=cfg.max_len, users=users)
    # a small run uses the smoke SIDs when a small `reaseq sid build --small` made them, else the full ones
    sid_run = cfg.run if cfg.small and store.exists(dataset.name, cat.SIDS, run=cfg.run) else None
    sids, sid_source = None, {}
    if require_sids or store.exists(dataset.name, cat.SIDS, run=sid_run):
        sids = store.read(dataset.name, cat.SIDS, run=sid_run)      # MissingArtifact names `reaseq sid build`
        prov = store.provenance(dataset.name, cat.SIDS, run=sid_run)
        sid_source = {"vectors": prov.get("vectors"), "method": prov.get("method"), "created": prov.get("created"),
                      "run": sid_run or "full"}
    feats = build_item_features(dataset, data, sids)
    add_user_context_features(dataset, data)
    knowledge_table, has_k, coverage = None, np.zeros(len(data.table), bool), None
    if store.exists(dataset.name, cat.KNOWLEDGE_VECTORS):
        space = load_item_space(dataset.name, "knowledge", store)
        knowledge_table, has_k = _on_table_rows(space, data)
        coverage = space.coverage()
        note = f"knowledge vectors for {coverage['knowledge']} of {coverage['items']} items; {space.rule}"
    else:
        note = (f"knowledge vectors do not exist yet (run `{cat.KNOWLEDGE_VECTORS.producing_command(dataset.name)}`)")
    precompute_gsu(data, feats, k=cfg.gsu_k,
                   spaces=None if knowledge_table is None else {"knowledge": knowledge_table})
    ctx = AblationContext(dataset, data, feats, data.table, knowledge_table, has_k, sid_source, note,
                          coverage, cfg.gsu_k)
    if knowledge_table is not None and store.exists(dataset.name, cat.KNOWLEDGE_SIDS):
        ctx.knowledge_feats = build_item_features(dataset, data, store.read(dataset.name, cat.KNOWLEDGE_SIDS))
        prov = store.provenance(dataset.name, cat.KNOWLEDGE_SIDS)
        ctx.knowledge_sid_source = {"vectors": prov.get("vectors"), "method": prov.get("method"),
                                    "created": prov.get("created"), "run": "full"}
    return ctx


def build_model(ctx: AblationContext, variant: str, seed: int, **model_kw) -> ReaSeqRanker:
    v = VARIANTS[variant]
    space = v.get("space", "title")
    vectors = {"title": ctx.title_table, "knowledge": ctx.knowledge_table, None: None}[v["vectors"]]
    if (v["vectors"] == "knowledge" or space == "knowledge") and ctx.knowledge_table is None:
        raise ValueError(f"variant '{variant}' needs knowledge vectors: {ctx.knowledge_note}")
    feats = ctx.feats
    if space == "knowledge" and v["use_sid"]:
        if ctx.knowledge_feats is None:
            raise ValueError(f"variant '{variant}' needs the knowledge-vector SIDs (run "
                             f"`{cat.KNOWLEDGE_SIDS.producing_command(ctx.dataset.name)}`)")
        feats = ctx.knowledge_feats
    gsu_vectors = ctx.knowledge_table if space == "knowledge" else ctx.title_table
    torch.manual_seed(seed)
    return ReaSeqRanker(feats, gsu_vectors, gsu=v["gsu"], compression=v["compression"], use_sid=v["use_sid"],
                        feature_vectors=vectors, space=space, **{"gsu_k": ctx.gsu_k, **model_kw})


def _choose_variants(requested: list[str] | None, ctx: AblationContext, store: ArtifactStore) -> list[str]:
    """The variants to train. An explicitly requested arm is never dropped: a missing input raises
    MissingArtifact naming its command. Of the default set, the arms on knowledge vectors (Table 4's and
    Table 3's "(knowledge)" rows) are skipped, with the reason recorded, when there are no knowledge vectors
    yet, and the knowledge-SID arm when there are no knowledge-vector SIDs."""
    needs_knowledge = [KNOWLEDGE_ARM, *TABLE3_KNOWLEDGE_VARIANTS]
    if requested is not None:
        if set(needs_knowledge) & set(requested) and ctx.knowledge_table is None:
            store.require(ctx.dataset.name, cat.KNOWLEDGE_VECTORS)
        if KNOWLEDGE_SID_ARM in requested and ctx.knowledge_feats is None:
            store.require(ctx.dataset.name, cat.KNOWLEDGE_SIDS)
        return list(requested)
    variants = TABLE3_VARIANTS + TABLE4_VARIANTS + TABLE3_KNOWLEDGE_VARIANTS
    if ctx.knowledge_table is None:
        for v in needs_knowledge:
            ctx.skipped[v] = f"not run: {ctx.knowledge_note}"
    elif ctx.knowledge_feats is None:
        ctx.skipped[KNOWLEDGE_SID_ARM] = (
            f"not run: no knowledge-vector SIDs (`{cat.KNOWLEDGE_SIDS.producing_command(ctx.dataset.name)}`)")
    return [v for v in variants if v not in ctx.skipped]


def _record(variant: str, seed: int, model: ReaSeqRanker, r: dict, k_mask: np.ndarray) -> dict:
    rec = {"variant": variant, "seed": int(seed), "best_epoch": r["best_epoch"], "wall_s": r["wall_s"],
           "cpu_s": r["cpu_s"], "valid_auc_per_epoch": r["valid_auc_per_epoch"],
           "train_samples_per_s": r["train_samples_per_s"], "n_train": r["n_train"],
           "n_params": int(sum(p.numel() for p in model.parameters()))}
    for seg in SEGMENTS:
        rec[f"{seg}_n"] = r["test"][seg]["n"]
        for m in METRICS:
            rec[f"{seg}_{m}"] = r["test"][seg][m]
    # Table 4 restriction: the same model's scores on test samples whose target has knowledge
    sub = segment_metrics(r["test_scores"][k_mask]) if k_mask.any() else None
    for seg in SEGMENTS:
        rec[f"k_{seg}_n"] = sub[seg]["n"] if sub else 0
        for m in METRICS:
            rec[f"k_{seg}_{m}"] = sub[seg][m] if sub else float("nan")
    return rec


def run_ablation(dataset_name: str = "beauty", cfg: AblationConfig | None = None, *,
                 variants: list[str] | None = None, store: ArtifactStore | None = None,
                 show_progress: bool = True, write: bool = True) -> dict:
    """Train every variant x seed, write Tables 3-4 and the runs table; returns
    {"table3", "table4", "runs", "wall_s", "cpu_s", "context"}.

    variants: None = every Table 3/4 variant (the knowledge arm is skipped, with the reason in the table's
    notes and provenance, when there are no knowledge vectors); a list = exactly those (MissingArtifact
    when one cannot run)."""
    from ..data import ensure_dataset
    cfg = cfg or AblationConfig()
    store = store or ArtifactStore()
    t0, cpu0 = time.perf_counter(), time.process_time()
    ds = ensure_dataset(dataset_name, store)
    ctx = prepare(ds, store, cfg)
    variants = _choose_variants(variants, ctx, store)
    train_cfg = replace(cfg.train, show_progress=show_progress)
    test_idx = ctx.data.split_index("test")
    k_mask = ctx.has_knowledge[ctx.data.target[test_idx]]
    records = []
    for variant in variants:
        for seed in cfg.seeds:
            model = build_model(ctx, variant, seed, **cfg.model)
            r = train_and_evaluate(model, ctx.data, seed, train_cfg, desc=f"{variant} seed {seed}")
            records.append(_record(variant, seed, model, r, k_mask))
    runs = pd.DataFrame(records)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    ran = set(runs["variant"])
    merged = runs
    if write and store.exists(ds.name, cat.RANKING_RUNS, run=cfg.run):
        # keep earlier runs of variants not retrained now, when they were made with the same configuration
        old = store.read(ds.name, cat.RANKING_RUNS, run=cfg.run)
        old_cfg = store.provenance(ds.name, cat.RANKING_RUNS, run=cfg.run).get("config")
        if old_cfg is None or old_cfg == json.loads(json.dumps(cfg.as_dict())):
            merged = pd.concat([old[~old["variant"].isin(ran)], runs], ignore_index=True)
    t3, t4 = make_tables(ctx, merged, list(cfg.seeds), epochs=train_cfg.epochs, small_users=cfg.small_users,
                         wall_s=wall, cpu_s=cpu, trained=len(runs))
    if write:
        prov = {"seeds": list(cfg.seeds), "config": cfg.as_dict(), "sids": ctx.sid_source, "wall_s": wall,
                "cpu_s": cpu, "skipped_variants": ctx.skipped, "knowledge_space": ctx.knowledge_coverage,
                "knowledge_sids": ctx.knowledge_sid_source}
        # a table is (re)written only when this call trained its variants beyond Base, so that
        # `--variants Base "Base+title vectors" "Base+knowledge vectors"` refreshes Table 4 alone
        if ran & set(TABLE3_VARIANTS[1:] + TABLE3_KNOWLEDGE_VARIANTS):
            write_table(store, cat.TABLE3_ABLATION, t3, prov, run=cfg.run)
        if ran & set(TABLE4_VARIANTS):
            write_table(store, cat.TABLE4_REPRESENTATION, t4, prov, run=cfg.run)
        store.write(ds.name, cat.RANKING_RUNS, merged, prov, run=cfg.run)
    return {"table3": t3, "table4": t4, "runs": runs, "wall_s": wall, "cpu_s": cpu, "context": ctx}
