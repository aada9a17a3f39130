"""The artifact catalogue: every file the pipeline writes, named once.

Each entry says which stage owns the artifact, its file name (a pattern where a name carries a parameter,
e.g. a seed), the command that produces it, and its shape: parquet columns with their types, JSON top-level
keys with their types, the arrays of an .npz. Producers write and the app, the notebooks and the benchmarks
read through `ArtifactStore.write / read`, which check the shape on both sides, so a producer and a consumer
cannot disagree about an artifact without a test noticing.

A *run* namespaces a whole configuration: `run="small"` puts every artifact of a small smoke run under
`<stage>/small/`, beside (never over) the full results. `None` is the full run.

No file name of an artifact is spelled anywhere else in the project.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ReaSeqError

STAGES = ("data", "knowledge", "representation", "semantic_ids", "ranking", "gbr", "viz", "review", "bench")
KINDS = ("parquet", "json", "jsonl", "npz", "torch", "text", "sqlite")
SMALL_RUN = "small"          # the one name for a small smoke configuration, in every stage
COLUMN_TYPES = ("str", "int", "float", "bool", "list", "category", "any")


class ArtifactShapeError(ReaSeqError):
    """An artifact does not have the shape the catalogue declares (names file and field)."""


@dataclass(frozen=True)
class Artifact:
    key: str                                   # the Python-level name, e.g. "item_knowledge"
    stage: str
    filename: str                              # may hold {placeholders}, filled by `name(**params)`
    kind: str
    command: str                               # the command that produces it; {dataset} is filled in
    description: str
    columns: Mapping[str, str] = field(default_factory=dict)      # parquet: column -> one of COLUMN_TYPES
    keys: Mapping[str, Any] = field(default_factory=dict)         # json: top-level key -> type or tuple of types
    arrays: tuple[str, ...] = ()                                  # npz: array names
    json_type: type = dict                                         # json: type of the top-level value
    committed: bool = False                                        # shipped in git under data/artifacts
    optional_columns: tuple[str, ...] = ()                        # parquet columns that older files may lack

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"{self.key}: unknown stage {self.stage!r}")
        if self.kind not in KINDS:
            raise ValueError(f"{self.key}: unknown kind {self.kind!r}")
        bad = {c: t for c, t in self.columns.items() if t not in COLUMN_TYPES}
        if bad:
            raise ValueError(f"{self.key}: unknown column types {bad}")

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.filename) if f)

    def name(self, **params) -> str:
        missing = [p for p in self.params if p not in params]
        if missing:
            raise ValueError(f"artifact {self.key} needs {', '.join(missing)} to name its file")
        return self.filename.format(**params)

    def matches(self, filename: str) -> bool:
        """Whether a file name is an instance of this entry's pattern."""
        import re
        pattern = re.escape(self.filename)
        for p in self.params:
            pattern = pattern.replace(re.escape("{" + p + "}"), r"[^/]+")
        return re.fullmatch(pattern, filename) is not None

    def producing_command(self, dataset: str) -> str:
        return self.command.format(dataset=dataset)

    # ---- shape checks ---------------------------------------------------------------------------------
    def check(self, obj: Any, where: str) -> None:
        """Raise ArtifactShapeError if `obj` (as read or about to be written) lacks the declared shape."""
        if self.kind == "parquet":
            _check_frame(obj, self.columns, self.optional_columns, where)
        elif self.kind == "json":
            if not isinstance(obj, self.json_type):
                raise ArtifactShapeError(f"{where}: top level is {type(obj).__name__}, "
                                         f"expected {self.json_type.__name__}")
            if isinstance(obj, dict):
                for k, typ in self.keys.items():
                    if k not in obj:
                        raise ArtifactShapeError(f"{where}: key '{k}' is missing")
                    if not isinstance(obj[k], typ):
                        want = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
                        raise ArtifactShapeError(f"{where}, key '{k}': {type(obj[k]).__name__}, expected {want}")
        elif self.kind == "npz":
            missing = [a for a in self.arrays if a not in obj]
            if missing:
                raise ArtifactShapeError(f"{where}: arrays {missing} are missing (has {sorted(obj)})")


def _column_ok(series, typ: str) -> bool:
    import pandas as pd
    from pandas.api import types as pt
    if typ == "any" or len(series) == 0 or series.isna().all():
        return True
    if typ == "str":
        return pt.is_string_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype) or \
            series.dropna().map(lambda v: isinstance(v, str)).all()
    if typ == "int":
        return pt.is_integer_dtype(series)
    if typ == "float":
        return pt.is_float_dtype(series) or pt.is_integer_dtype(series)
    if typ == "bool":
        return pt.is_bool_dtype(series)
    if typ == "category":
        return isinstance(series.dtype, pd.CategoricalDtype) or pt.is_string_dtype(series)
    if typ == "list":
        import numpy as np
        return series.dropna().map(lambda v: isinstance(v, (list, tuple, np.ndarray))).all()
    return False


def _check_frame(df, columns: Mapping[str, str], optional: tuple[str, ...], where: str) -> None:
    import pandas as pd
    if not isinstance(df, pd.DataFrame):
        raise ArtifactShapeError(f"{where}: expected a table, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns and c not in optional]
    if missing:
        raise ArtifactShapeError(f"{where}: columns {missing} are missing (has {list(df.columns)})")
    for c, typ in columns.items():
        if c in df.columns and not _column_ok(df[c], typ):
            raise ArtifactShapeError(f"{where}, column '{c}': dtype {df[c].dtype}, expected {typ}")


# ---- the entries ------------------------------------------------------------------------------------------
_TABLE_KEYS = {"name": str, "title": str, "dataset": str, "dataset_hash": str, "split": str, "protocol": str,
               "seeds": list, "deviations": list, "columns": list, "rows": list, "notes": str,
               "paper_reference": dict}
_BENCH_KEYS = {"headline": dict}
_SID_COLUMNS = {"item_id": "str", "sid_1": "int", "sid_2": "int", "sid_3": "int", "sid": "str",
                "collision_suffix": "int"}
_SID_REPORT_KEYS = {"vectors": str, "coverage": dict, "config": dict, "rqvae": dict, "residual_kmeans": dict}
_VECTOR_ARRAYS = ("item_ids", "vectors")

_INGEST = "reaseq data ingest --dataset {dataset}"
_KNOWLEDGE = "reaseq knowledge build --dataset {dataset} --category CATEGORY"
_REPRESENT = "reaseq represent build --dataset {dataset}"
_TITLES = "reaseq represent build --dataset {dataset} --title-only"
_REPR_TABLES = "reaseq represent tables --dataset {dataset}"
_SID = "reaseq sid build --dataset {dataset}"
_SID_KNOWLEDGE = "reaseq sid build --dataset {dataset} --vectors knowledge"
_RANK = "reaseq rank ablation --dataset {dataset}"
_GBR = "reaseq gbr run --dataset {dataset}"
_UMAP = "reaseq app umap --dataset {dataset}"
_KNOWLEDGE_REPORT = "python notebooks/knowledge_report.py"
_REVIEW = "reaseq app --dataset {dataset}"   # verdicts are saved from the workbench's case views

# The command that produces a stage's artifacts, shown for a stage that has none yet.
STAGE_COMMANDS = {
    "data": _INGEST, "knowledge": _KNOWLEDGE, "representation": _REPRESENT, "semantic_ids": _SID,
    "ranking": _RANK, "gbr": _GBR, "viz": _UMAP, "review": _REVIEW,
    "bench": "python bench/run_all.py",
}

_ENTRIES = [
    # data
    Artifact("items", "data", "items.parquet", "parquet", _INGEST,
             "canonical item table (attributes as JSON text)",
             columns={"item_id": "str", "title": "str", "brand": "str", "category_path": "list", "price": "float",
                      "attributes": "str", "description": "str", "product_line_id": "str", "sales_rank": "float",
                      "flags": "str", "primary_category": "str", "sub_category": "str", "leaf_category": "str"}),
    Artifact("interactions", "data", "interactions.parquet", "parquet", _INGEST,
             "one row per user event, in sequence order",
             columns={"user_id": "str", "item_id": "str", "timestamp": "int", "event_type": "str",
                      "position": "int"}),
    Artifact("demand", "data", "demand.parquet", "parquet", _INGEST,
             "demand expressions (queries or review summaries), Layer-1 demand input",
             columns={"category": "str", "text": "str", "source": "str", "item_id": "str"}),
    Artifact("dataset_card", "data", "dataset_card.json", "json", _INGEST,
             "counts, coverage, sequence statistics and the content hash of the ingested dataset",
             keys={"dataset": str, "content_hash": str, "counts": dict, "coverage": dict, "categories": dict,
                   "ingest_report": dict}),
    # knowledge
    Artifact("item_knowledge", "knowledge", "item_knowledge.parquet", "parquet", _KNOWLEDGE,
             "per-item knowledge (Layer 3) for both setups, with status, attempts and grounding",
             columns={"item_id": "str", "setup": "str", "status": "str", "failure_reason": "str",
                      "user_demand": "str", "product_attribute": "str", "grounding_rate": "float",
                      "template_hash": "str", "model": "str", "created": "str", "primary_category": "str",
                      "sub_category": "str", "dimensions_demand": "str", "dimensions_attribute": "str",
                      "attempts": "int", "latency_s": "float", "completion_tokens": "int", "backend": "str"},
             committed=True),
    Artifact("taxonomy", "knowledge", "taxonomy.json", "json", _KNOWLEDGE,
             "Layer-1 taxonomies per category and Layer-2 refinements per subcategory, with reasoning",
             keys={"categories": dict}, committed=True),
    Artifact("knowledge_summary", "knowledge", "knowledge_summary.json", "json", _KNOWLEDGE,
             "coverage and validity per category and setup, call-log totals",
             keys={"categories": dict, "setups": dict, "call_log": dict}, committed=True),
    Artifact("llm_calls", "knowledge", "llm_calls.jsonl", "jsonl", _KNOWLEDGE,
             "append-only log and cache of every LLM call (prompt hash, answer, validity, timing)",
             committed=True),
    Artifact("prompt_version", "knowledge", "prompt_versions/{agent}/{sha12}.txt", "text",
             _KNOWLEDGE,
             "the text of every prompt-template version that produced knowledge or a lab run"),
    Artifact("prompt_promotions", "knowledge", "prompt_promotions.json", "json",
             "reaseq knowledge promote --dataset {dataset} --agent item_knowledge --version SHA12",
             "which saved template version the build uses per agent, and every promotion (who, when, old and new "
             "template sha256)", keys={"active": dict, "history": list}),
    Artifact("prompt_experiment", "knowledge", "prompt_experiments/{agent}/{run_id}.json", "json",
             "reaseq knowledge experiment --dataset {dataset} --agent item_knowledge",
             "a prompt experiment: two template versions on a stratified sample of items, per-item results "
             "and per-version aggregates (valid share, attempts, grounding, generic keywords, tokens, latency)",
             keys={"agent": str, "versions": list, "items": list, "rows": list, "summary": dict, "config": dict}),
    Artifact("grounding_table", "knowledge", "grounding_table.json", "json", _KNOWLEDGE_REPORT,
             "result table: per agent setup, the shares of knowledge entries the item's data supports and "
             "contradicts, on all items and on the items both setups answered",
             keys=_TABLE_KEYS, committed=True),
    Artifact("grounding_classes", "knowledge", "grounding_classes.json", "json",
             "reaseq knowledge grounding --dataset {dataset}",
             "result table: shares of supported / beyond / contradicted knowledge entries per setup and category, "
             "and entries cut mid-sentence", keys=_TABLE_KEYS, committed=True),
    # representation
    Artifact("title_vectors", "representation", "title_vectors.npz", "npz", _TITLES,
             "Phi(title + brand + category path) for every item, L2-normalised", arrays=_VECTOR_ARRAYS),
    Artifact("knowledge_vectors", "representation", "knowledge_vectors.npz", "npz", _REPRESENT,
             "h = Phi(demand text) + Phi(attribute text) for items with multi-agent knowledge (unnormalised)",
             arrays=_VECTOR_ARRAYS),
    Artifact("single_agent_vectors", "representation", "single_agent_vectors.npz", "npz", _REPRESENT,
             "h for items with single-agent knowledge (unnormalised)", arrays=_VECTOR_ARRAYS),
    Artifact("title_makr_vectors", "representation", "title_makr_vectors.npz", "npz", _REPRESENT,
             "Phi(title text . demand text . attribute text), L2-normalised", arrays=_VECTOR_ARRAYS),
    Artifact("embedding_cache", "representation", "embedding_cache.sqlite", "sqlite", _TITLES,
             "cache of encoder outputs keyed by text hash"),
    Artifact("table1_hr", "representation", "table1_hr.json", "json", _REPR_TABLES,
             "Table 1 analogue: HR@k of behaviour-sequence retrieval per item representation",
             keys=_TABLE_KEYS, committed=True),
    Artifact("table2_smhr", "representation", "table2_smhr.json", "json", _REPR_TABLES,
             "Table 2 analogue: SM-HR@k (same product line) per item representation",
             keys=_TABLE_KEYS, committed=True),
    Artifact("figure7_examples", "representation", "figure7_examples.json", "json", _REPR_TABLES,
             "Figure 7 analogue: single- vs multi-agent knowledge side by side",
             keys={"dataset": str, "items": int, "summary_means": dict, "note": str, "examples": list},
             committed=True),
    # semantic IDs
    Artifact("sids", "semantic_ids", "sids.parquet", "parquet", _SID,
             "3-level semantic IDs from the RQ-VAE over title vectors", columns=_SID_COLUMNS, committed=True),
    Artifact("sid_report", "semantic_ids", "sid_report.json", "json", _SID,
             "codebook usage, perplexity, uniqueness of the title-vector SIDs", keys=_SID_REPORT_KEYS,
             committed=True),
    Artifact("knowledge_sids", "semantic_ids", "knowledge_sids.parquet", "parquet", _SID_KNOWLEDGE,
             "semantic IDs from the RQ-VAE over knowledge vectors", columns=_SID_COLUMNS, committed=True),
    Artifact("knowledge_sid_report", "semantic_ids", "knowledge_sid_report.json", "json", _SID_KNOWLEDGE,
             "codebook usage of the knowledge-vector SIDs", keys=_SID_REPORT_KEYS, committed=True),
    Artifact("rqvae", "semantic_ids", "rqvae.pt", "torch", _SID, "RQ-VAE weights (title vectors)"),
    Artifact("knowledge_rqvae", "semantic_ids", "knowledge_rqvae.pt", "torch", _SID_KNOWLEDGE,
             "RQ-VAE weights (knowledge vectors)"),
    Artifact("sid_table", "semantic_ids", "sid_table.json", "json", _SID,
             "result table: SID quality of both vector sources", keys=_TABLE_KEYS, committed=True),
    # ranking
    Artifact("ranking_runs", "ranking", "runs.parquet", "parquet", _RANK,
             "one row per (variant, seed) of the CTR ablation with AUC/GAUC for all, hot and cold users",
             columns={"variant": "str", "seed": "int", "best_epoch": "int", "valid_auc_per_epoch": "list",
                      "overall_auc": "float", "overall_gauc": "float", "hot_auc": "float", "cold_auc": "float"},
             committed=True),
    Artifact("table3_ablation", "ranking", "table3_ablation.json", "json", _RANK,
             "Table 3 analogue: integration schemes of the reasoning-enhanced ranker",
             keys=_TABLE_KEYS, committed=True),
    Artifact("table4_representation", "ranking", "table4_representation.json", "json", _RANK,
             "Table 4 analogue: title vs knowledge item vectors in the ranker", keys=_TABLE_KEYS, committed=True),
    # generative behaviour reasoning
    Artifact("sasrec_metrics", "gbr", "sasrec_metrics.json", "json", _GBR,
             "SASRec (the Delta p and filter model) leave-one-out metrics",
             keys={"protocol": str, "valid": dict, "test": dict, "history": list}, committed=True),
    Artifact("sasrec", "gbr", "sasrec.pt", "torch", _GBR, "SASRec weights"),
    Artifact("location", "gbr", "location.parquet", "parquet", _GBR,
             "every transition with its temporal / category discontinuity flags, model rank and Delta p",
             columns={"user_id": "str", "t": "int", "item_from": "str", "item_to": "str", "ts_from": "int",
                      "ts_to": "int", "gap_days": "float", "cat_from": "category", "cat_to": "category",
                      "td": "bool", "cd": "bool", "model_rank": "int", "flagged": "bool", "delta_p": "float",
                      "role": "category", "variant": "category", "gbr_user": "bool"},
             optional_columns=("gbr_user",), committed=True),
    Artifact("location_summary", "gbr", "location_summary.json", "json", _GBR,
             "how many gaps each rule flags, per variant and user group",
             keys={"variants": dict, "users": dict, "gaps": int, "config": dict}, committed=True),
    Artifact("llada", "gbr", "llada_{model}_seed{seed}.pt", "torch", _GBR, "masked-diffusion model weights"),
    Artifact("table5_runs", "gbr", "table5_runs.json", "json", _GBR, "per-seed IB-PPL / IB-ACC records",
             json_type=list, committed=True),
    Artifact("table5", "gbr", "table5.json", "json", _GBR,
             "Table 5 analogue: IB-PPL / IB-ACC of the behaviour-reasoning models", keys=_TABLE_KEYS,
             committed=True),
    Artifact("gbr_findings", "gbr", "gbr_findings.json", "json", "reaseq gbr findings --dataset {dataset}",
             "GBR findings: what moved IB-ACC[MASK], one design piece at a time", keys=_TABLE_KEYS, committed=True),
    Artifact("fills_prefix", "gbr", "fills_prefix_{model}.npz", "npz", _GBR,
             "per CTR sample, the fills inferred from the events before it only (input to Table 6)",
             arrays=("user_ids", "sample_position", "fill_position", "vectors")),
    Artifact("fills_all", "gbr", "fills_all_{model}.npz", "npz", _GBR,
             "every fill vector of one model (input to Table 6)",
             arrays=("user_ids", "position", "gap_t", "vectors")),
    Artifact("fills", "gbr", "fills.parquet", "parquet", _GBR,
             "case-study fills with their context and nearest real items",
             columns={"fill_id": "str", "variant": "str", "user_id": "str", "position": "int", "gap_t": "int",
                      "after_item": "str", "before_item": "str", "context_items": "list", "neighbours": "str",
                      "top1_item": "str", "top1_similarity": "float", "seed": "int"}, committed=True),
    Artifact("fill_vectors", "gbr", "fill_vectors.npz", "npz", _GBR, "vectors of the case-study fills",
             arrays=("fill_ids", "vectors", "item_space"), committed=True),
    Artifact("fills_summary", "gbr", "fills_summary.json", "json", _GBR, "fill counts and similarity per model",
             committed=True),
    Artifact("table6_runs", "gbr", "table6_runs.json", "json", _GBR, "per-seed DIN records of Table 6",
             committed=True),
    Artifact("table6", "gbr", "table6.json", "json", _GBR,
             "Table 6 analogue: DIN with and without fills", keys=_TABLE_KEYS, committed=True),
    Artifact("run_timings", "gbr", "run_timings.json", "json", _GBR, "wall time of each GBR step"),
    # visualisation
    Artifact("umap", "viz", "umap_{inputs}.parquet", "parquet", _UMAP,
             "2-D UMAP of real items and fill tokens; the key hashes reproducible input facts (dataset hash, "
             "encoder and item count of the vectors, the fill vectors' content, the UMAP config)",
             columns={"point_id": "str", "token_type": "str", "x": "float", "y": "float", "nn_ids": "list",
                      "nn_sims": "list"}, committed=True),
    # review (reaseq_core/review.py: analysts' verdicts, saved from the workbench)
    Artifact("verdicts", "review", "verdicts.parquet", "parquet", _REVIEW,
             "analysts' verdicts (good / wrong / unsure) on cases, one row per (case kind, case id, reviewer), "
             "with the provenance (JSON text) of what was reviewed",
             columns={"case_kind": "str", "case_id": "str", "reviewer": "str", "verdict": "str", "note": "str",
                      "timestamp": "str", "provenance": "str"}),
    # benchmarks (python bench/run_all.py writes them; each prints its table too)
    *(Artifact(key, "bench", filename, "json", f"python bench/{script}.py", what, keys=_BENCH_KEYS, committed=True)
      for key, filename, script, what in (
          ("bench_ingest", "ingest.json", "bench_ingest", "ingest wall time and peak memory"),
          ("bench_knowledge", "knowledge_throughput.json", "bench_knowledge", "knowledge generation throughput"),
          ("bench_representation", "representation.json", "bench_representation",
           "encoder and retrieval throughput"),
          ("bench_ranking", "ranking_throughput.json", "bench_ranking", "ranker training and scoring throughput"),
          ("bench_esu_dedup", "esu_dedup.json", "bench_esu_dedup", "ESU batch-level dedup vs per-sample K/V"),
          ("bench_gbr", "gbr.json", "bench_gbr", "GBR training and fill throughput"),
          ("bench_app", "app_page_load.json", "bench_app", "workbench page load times"))),
]

CATALOGUE: dict[str, Artifact] = {}
for _a in _ENTRIES:
    if _a.key in CATALOGUE:
        raise ValueError(f"duplicate catalogue key {_a.key}")
    CATALOGUE[_a.key] = _a
globals().update({k.upper(): v for k, v in CATALOGUE.items()})   # catalogue.ITEM_KNOWLEDGE, ...

RESULT_TABLES = tuple(a for a in _ENTRIES if a.keys is _TABLE_KEYS)
BENCHES = tuple(a for a in _ENTRIES if a.stage == "bench")


def get(key: str) -> Artifact:
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"no artifact {key!r} in the catalogue; known: {', '.join(sorted(CATALOGUE))}") from None


def lookup(stage: str, filename: str) -> Artifact | None:
    """The entry a stored file is an instance of (None for a file the catalogue does not know)."""
    for a in _ENTRIES:
        if a.stage == stage and a.matches(filename):
            return a
    return None
