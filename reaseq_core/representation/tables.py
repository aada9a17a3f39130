"""Tables 1 and 2 analogues (paper 4.1.1) and the Figure 7 comparison (appendix D), on Amazon Beauty.

Arms (item vectors compared):
- title      Phi(title + brand + category path)                       (title_vectors.py; the baseline)
- makr       h = Phi(t^u) + Phi(t^p) from multi-agent knowledge        (knowledge_vectors.py; MAKR)
- single     the same from single-agent knowledge                      (the Figure 7 foil)
- title_makr Phi(title text . t^u . t^p), one text                     (title and MAKR text together)

Pools: every arm of a comparison is evaluated on the same items and users. Knowledge covers only
part of the catalogue, so each comparison runs on the items that have knowledge in every arm it
compares; the title arm also runs on the whole catalogue as a reference.

Users (HR@k): every user whose target (last item of the sequence) is in the pool and who has at least
one earlier item in the pool; their history is their earlier items restricted to the pool.
Queries (SM-HR@k): every pool item with at least one product-line sibling in the pool (product_line.py).

Nothing here is trained or sampled, so there are no seeds; the "_std" columns are bootstrap standard
deviations of the mean over users (or queries), TablesConfig.bootstrap resamples (1000, seed 0), paired
across the arms of one pool, and "macro_delta_vs_title" is an arm's macro recall minus the title arm's on
the same pool. The title arm reads the title space (item_space.py); knowledge arms are encoded from the
knowledge texts through the same embedding cache. The words of the tables (protocols, deviations, the
paper's own figures) live in report.py.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .. import catalogue as cat
from ..knowledge.grounding import CONTRADICTED, fields_of, ground_knowledge
from ..results import ResultTable, write_table
from ..store import ArtifactStore
from . import report
from . import retrieval_metrics as rm
from .encoder import MODEL_NAME, embedding_cache, encode, load_encoder
from .item_space import ItemSpace, load_item_space
from .knowledge_vectors import (KnowledgeTexts, knowledge_texts, knowledge_vectors, knowledge_where, parse_entries,
                                read_knowledge, title_makr_text)
from .product_line import product_lines

ARM_LABELS = {"title": "title-only: Phi(title + brand + category path)",
              "makr": "MAKR: Phi(t_u) + Phi(t_p), multi-agent knowledge",
              "single": "single-agent: Phi(t_u) + Phi(t_p), single-agent knowledge",
              "title_makr": "title + MAKR text: Phi(title text . t_u . t_p)"}
POOL_LABELS = {"catalogue": "whole catalogue (reference)",
               "makr": "items with multi-agent knowledge",
               "makr_single": "items with multi- and single-agent knowledge"}
SUBSET_CATALOGUE_LABEL = "all items of the small subset (reference)"


@dataclass
class TablesConfig:
    """Settings of the Tables 1-2 evaluation (nothing is trained: the bootstrap is the only randomness)."""
    bootstrap: int = 1000         # resamples of users (queries) behind every '_std' column
    bootstrap_seed: int = 0
    hr_ks: tuple[int, ...] = rm.HR_KS         # Table 1's k list, capped per pool
    sm_hr_ks: tuple[int, ...] = rm.SM_HR_KS   # Table 2's k list, capped per pool


@dataclass
class Pool:
    name: str
    item_ids: list[str]          # sorted, the rows of every arm's matrix
    arms: dict[str, np.ndarray]  # arm -> vectors [len(item_ids), d]
    label: str = ""              # shown in the tables; POOL_LABELS[name] unless set

    def __post_init__(self):
        self.label = self.label or POOL_LABELS[self.name]


# ---- users and queries ---------------------------------------------------------------------------

def hr_users(sequences: dict[str, list[str]],
             pool_ids: list[str]) -> tuple[list[str], list[np.ndarray], np.ndarray, dict]:
    """(user ids, histories as pool rows, targets as pool rows, counts) under the module's user rule."""
    row = {i: r for r, i in enumerate(pool_ids)}
    users, hists, targets = [], [], []
    counts = {"users_total": len(sequences), "target_in_pool": 0, "users": 0, "history_all_in_pool": 0,
              "target_repeats_history_item": 0}
    for u, seq in sequences.items():
        if len(seq) < 2 or seq[-1] not in row:
            continue
        counts["target_in_pool"] += 1
        hist = [row[i] for i in seq[:-1] if i in row]
        if not hist:
            continue
        counts["users"] += 1
        counts["history_all_in_pool"] += int(len(hist) == len(seq) - 1)
        counts["target_repeats_history_item"] += int(seq[-1] in seq[:-1])
        users.append(u)
        hists.append(np.unique(np.array(hist, dtype=np.int64)))
        targets.append(row[seq[-1]])
    return users, hists, np.array(targets, dtype=np.int64), counts


def sm_hr_queries(pool_ids: list[str], line_of: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """(line ids aligned with the pool, pool rows of the items with >= 1 sibling in the pool)."""
    lines = np.array([line_of[i] for i in pool_ids], dtype=object)
    sizes = pd.Series(lines).map(pd.Series(lines).value_counts())
    return lines, np.flatnonzero(sizes.to_numpy() >= 2)


# ---- vectors per arm -----------------------------------------------------------------------------

def title_arm(space: ItemSpace, item_ids: list[str]) -> np.ndarray:
    """Title vectors of `item_ids`, in that order (KeyError names an item the title space lacks)."""
    return space.vectors[space.rows(item_ids)]


def _subset(texts: KnowledgeTexts, keep: list[str]) -> KnowledgeTexts:
    pos = {i: r for r, i in enumerate(texts.item_ids)}
    return KnowledgeTexts(texts.setup, list(keep), [texts.t_u[pos[i]] for i in keep],
                          [texts.t_p[pos[i]] for i in keep], texts.skipped)


def truncated_share(texts: list[str]) -> float:
    """Share of texts longer than the encoder's max_seq_length (their tail is cut by Phi)."""
    if not texts:
        return 0.0
    model = load_encoder()
    lengths = [len(x) for x in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    return float(np.mean(np.array(lengths) > model.max_seq_length))


# ---- the evaluation ------------------------------------------------------------------------------

def _pct(x) -> float | None:
    return None if x is None or x != x else round(100.0 * float(x), 4)


def _metric_cells(prefix: str, all_ks, ks: list[int], hits: np.ndarray, samples: np.ndarray,
                  base_macro: np.ndarray | None) -> tuple[dict, np.ndarray]:
    """Cells of one table row from a hits matrix [n, len(ks)], and the per-user (per-query) macro scores."""
    scores = np.concatenate([hits, hits.mean(axis=1, keepdims=True)], axis=1).astype(np.float64) \
        if hits.size else np.zeros((len(hits), len(ks) + 1))
    have = len(hits) > 0 and len(ks) > 0
    std = rm.bootstrap_std(scores, samples) if have else np.full(len(ks) + 1, np.nan)
    r = rm.rates(hits, ks) if have else {}
    cells = {}
    for k in all_ks:
        j = ks.index(k) if k in ks else None
        cells[f"{prefix}@{k}"] = _pct(r[f"@{k}"]) if j is not None and have else None
        cells[f"{prefix}@{k}_std"] = _pct(std[j]) if j is not None and have else None
    cells["macro_recall"] = _pct(r["macro"]) if have else None
    cells["macro_recall_std"] = _pct(std[-1]) if have else None
    macro = scores[:, -1]
    if base_macro is not None and have:
        diff = macro - base_macro      # paired: same users (queries), same resamples
        cells["macro_delta_vs_title"] = _pct(diff.mean())
        cells["macro_delta_vs_title_std"] = _pct(rm.bootstrap_std(diff, samples)[0])
    else:
        cells["macro_delta_vs_title"] = cells["macro_delta_vs_title_std"] = None
    return cells, macro


def category_split(hits: np.ndarray, cross: np.ndarray, vectors: np.ndarray, categories: np.ndarray,
                   k: int = 30) -> dict:
    """One arm's macro recall (%) for the users whose target's primary category is among their history's
    (`in_history`) and for the others (`not_in_history`), and the share (%) of every pool item's top-k
    neighbours that are in its own primary category: how far an arm's neighbours stay inside a category."""
    macro = hits.mean(axis=1) if hits.size else np.zeros(len(hits))
    k = min(k, len(vectors) - 1)
    nn = rm.neighbours_excluding_self(vectors, np.arange(len(vectors)), k) if k > 0 else np.zeros((0, 0), int)
    return {"in_history": _pct(macro[~cross].mean()) if (~cross).any() else None,
            "not_in_history": _pct(macro[cross].mean()) if cross.any() else None,
            f"same_category_top{k}": _pct((categories[nn] == categories[:, None]).mean()) if nn.size else None}


def evaluate_pool(pool: Pool, sequences: dict[str, list[str]], line_of: dict[str, str],
                  cfg: TablesConfig | None = None,
                  category_of: dict[str, str] | None = None) -> tuple[list[dict], list[dict], dict]:
    """(Table 1 rows, Table 2 rows, counts) for every arm of one pool; the title arm must come first.
    Given `category_of` (item -> primary category), counts["by_target_category"] holds category_split per arm."""
    cfg = cfg or TablesConfig()
    n = len(pool.item_ids)
    rng = np.random.default_rng(cfg.bootstrap_seed)
    users, hists, targets, ucounts = hr_users(sequences, pool.item_ids)
    lines, queries = sm_hr_queries(pool.item_ids, line_of)
    hr_ks, sm_ks = rm.capped_ks(cfg.hr_ks, n), rm.capped_ks(cfg.sm_hr_ks, n)
    u_samples = rng.integers(0, max(len(users), 1), size=(cfg.bootstrap, len(users)))
    q_samples = rng.integers(0, max(len(queries), 1), size=(cfg.bootstrap, len(queries)))
    counts = {"items": n, **ucounts, "sm_hr_queries": int(len(queries)), "hr_ks": hr_ks, "sm_hr_ks": sm_ks}
    t1, t2 = [], []
    base_hr = base_sm = None
    cats = cross = None
    if category_of is not None and users:
        cats = np.array([str(category_of.get(i, "")) for i in pool.item_ids], dtype=object)
        cross = np.array([cats[y] not in set(cats[h]) for h, y in zip(hists, targets)])
        counts["by_target_category"] = {"users_not_in_history": int(cross.sum()), "users": len(users)}
    for arm, vecs in pool.arms.items():
        hr = rm.hr_hits(vecs, hists, targets, hr_ks) if users and hr_ks else np.zeros((len(users), len(hr_ks)), bool)
        if cats is not None:
            counts["by_target_category"][arm] = category_split(hr, cross, vecs, cats)
        sm = rm.sm_hr_hits(vecs, lines, queries, sm_ks) if len(queries) and sm_ks else \
            np.zeros((len(queries), len(sm_ks)), bool)
        c1, macro_hr = _metric_cells("HR", cfg.hr_ks, hr_ks, hr, u_samples, None if arm == "title" else base_hr)
        c2, macro_sm = _metric_cells("SM-HR", cfg.sm_hr_ks, sm_ks, sm, q_samples, None if arm == "title" else base_sm)
        if arm == "title":
            base_hr, base_sm = macro_hr, macro_sm
        label = {"pool": pool.label, "arm": ARM_LABELS[arm], "items": n}
        t1.append({**label, "users": len(users), **c1})
        t2.append({**label, "queries": int(len(queries)), **c2})
    return t1, t2, counts


def category_note(counts: dict) -> str:
    """One sentence per knowledge pool: macro recall per arm for targets in a primary category the history
    has / lacks, and how often an arm's top-30 neighbours stay in the item's own category."""
    out = []
    for name, c in counts.items():
        b = c.get("by_target_category")
        if name == "catalogue" or not b:
            continue
        arms = [a for a in ARM_LABELS if a in b]
        def cell(key):
            return ", ".join(f"{a} {b[a][key]:.1f}" for a in arms if b[a].get(key) is not None) or "no such users"
        same = next((k for k in b[arms[0]] if k.startswith("same_category_top")), None)
        out.append(f" {c['label']}: {b['users_not_in_history']} of {b['users']} users have a target whose "
                   f"primary category is not in their pool history; macro recall for them: {cell('not_in_history')}; "
                   f"for the others: {cell('in_history')}; share of an item's top-{same.removeprefix('same_category_top')} "
                   f"neighbours in its own primary category: {cell(same)} (%).")
    return "".join(out)


def _columns(prefix: str, ks, count_col: str) -> list[str]:
    cols = ["pool", "arm", "items", count_col]
    for k in ks:
        cols += [f"{prefix}@{k}", f"{prefix}@{k}_std"]
    return cols + ["macro_recall", "macro_recall_std", "macro_delta_vs_title", "macro_delta_vs_title_std"]


def build_pools(dataset, store: ArtifactStore, knowledge: pd.DataFrame | None,
                item_subset: set[str] | None = None) -> tuple[list[Pool], dict]:
    """The catalogue pool (title arm) and the knowledge pools (every arm with knowledge on the same items).

    The title space must exist (MissingArtifact names `reaseq represent build --title-only`): the title arm is
    never re-encoded here, so every table reads the same vectors as ranking and GBR."""
    cache = embedding_cache(store, dataset.name)
    title = load_item_space(dataset.name, "title", store)
    all_ids = sorted(dataset.items["item_id"].astype(str))
    if item_subset is not None:
        all_ids = [i for i in all_ids if i in item_subset]
    pools = [Pool("catalogue", all_ids, {"title": title_arm(title, all_ids)},
                  label="" if item_subset is None else SUBSET_CATALOGUE_LABEL)]
    info: dict = {"knowledge_rows": 0, "title_space": title.coverage()}
    if knowledge is None:
        info["knowledge"] = "absent: only the catalogue pool (title arm) is evaluated"
        return pools, info
    where = knowledge_where(store, dataset.name)
    pool_set = set(all_ids)
    multi = knowledge_texts(knowledge, "multi_agent", where, pool_set)
    single = knowledge_texts(knowledge, "single_agent", where, pool_set)
    ok = knowledge[knowledge["status"] == "ok"]
    info["models"] = sorted({str(m) for m in ok["model"].dropna()}) if "model" in ok.columns else []
    info.update({"knowledge_rows": int(len(knowledge)), "multi_agent_items": len(multi.item_ids),
                 "single_agent_items": len(single.item_ids), "multi_agent_skipped": multi.skipped,
                 "single_agent_skipped": single.skipped})
    both = sorted(set(multi.item_ids) & set(single.item_ids))
    items = dataset.items.set_index(dataset.items["item_id"].astype(str))
    for name, ids in (("makr", sorted(multi.item_ids)), ("makr_single", both)):
        if len(ids) < 2:
            info[f"pool_{name}_skipped"] = f"only {len(ids)} item(s) with knowledge in every arm"
            continue
        m = _subset(multi, ids)
        tm_texts = [title_makr_text(items.loc[i].to_dict(), u, p) for i, u, p in zip(ids, m.t_u, m.t_p)]
        arms = {"title": title_arm(title, ids), "makr": knowledge_vectors(m, cache)}
        if name == "makr_single":
            arms["single"] = knowledge_vectors(_subset(single, ids), cache)
        arms["title_makr"] = encode(tm_texts, cache=cache)
        pools.append(Pool(name, ids, arms))
        if name == "makr":
            info["truncated_share"] = {"t_u": truncated_share(m.t_u), "t_p": truncated_share(m.t_p),
                                       "title_makr_text": truncated_share(tm_texts),
                                       "max_seq_length": int(load_encoder().max_seq_length)}
    return pools, info


def figure7_examples(dataset, knowledge: pd.DataFrame, where: str, item_subset: set[str] | None = None) -> dict:
    """Items with ok multi- and single-agent knowledge, side by side, with entry counts and grounding."""
    items = dataset.items.set_index(dataset.items["item_id"].astype(str))
    k = knowledge.reset_index(drop=True)
    k["_row"] = k.index + 1            # 1-based parquet row, for error messages
    k = k[~k[["item_id", "setup"]].astype(str).duplicated(keep="last")]     # the latest row of an item wins
    latest = {s: k[k["setup"] == s].set_index(k.loc[k["setup"] == s, "item_id"].astype(str))
              for s in ("multi_agent", "single_agent")}
    in_scope = set(items.index) if item_subset is None else set(items.index) & item_subset
    pairs = set(latest["multi_agent"].index) & set(latest["single_agent"].index) & in_scope
    by_setup = {s: f[f["status"] == "ok"] for s, f in latest.items()}
    ids = sorted(i for i in pairs if i in by_setup["multi_agent"].index and i in by_setup["single_agent"].index)

    def side(row, line: int, fields: dict) -> dict:
        out = {}
        raw = {p: parse_entries(row[p], where, line, p) for p in ("user_demand", "product_attribute")}
        # grounding in today's meaning whatever the row's age: supported / beyond / contradicted, re-classified
        # against the item's fields; `grounded` = supported, the rate = the share of supported entries
        fresh, rate = ground_knowledge(raw, fields)
        entries_all = []
        for p in ("user_demand", "product_attribute"):
            entries = fresh[p]
            entries_all += entries
            out[p] = [{"dimension": e["dimension"], "keywords": e.get("keywords", []),
                       "analysis": e.get("analysis", ""), "evidence": e.get("evidence", []),
                       "grounding": e["grounding"], "grounded": e["grounded"],
                       "grounding_note": e.get("grounding_note", "")} for e in entries]
            out[f"entries_{p}"] = len(entries)
        out["keywords"] = sum(len(e.get("keywords", [])) for e in entries_all)
        out["grounding_rate"] = float(rate) if entries_all else None
        out["ungrounded_entries"] = int(sum(1 for e in entries_all if not e["grounded"]))
        out["contradicted_entries"] = int(sum(1 for e in entries_all if e["grounding"] == CONTRADICTED))
        return out

    examples = []
    for i in ids:
        it = items.loc[i]
        ex = {"item_id": i, "title": it["title"], "brand": it["brand"], "category_path": list(it["category_path"])}
        fields = fields_of(it.to_dict() | {"item_id": i})
        for s, frame in by_setup.items():
            row = frame.loc[i]
            ex[s] = side(row, int(row["_row"]), fields)
        examples.append(ex)

    def mean(setup, key):
        vals = [e[setup][key] for e in examples if e[setup][key] is not None]
        return float(np.mean(vals)) if vals else None

    summary = {s: {"entries_user_demand": mean(s, "entries_user_demand"),
                   "entries_product_attribute": mean(s, "entries_product_attribute"),
                   "keywords": mean(s, "keywords"), "grounding_rate": mean(s, "grounding_rate"),
                   "ungrounded_entries": mean(s, "ungrounded_entries"),
                   "contradicted_entries": mean(s, "contradicted_entries")} for s in by_setup}
    return {"dataset": dataset.name, "dataset_hash": dataset.card["content_hash"], "items": len(examples),
            "items_with_both_setups_attempted": len(pairs),
            "items_with_a_failed_setup": len(pairs) - len(examples), "summary_means": summary,
            "note": report.FIGURE7_NOTE,
            "examples": examples}


def build_tables(dataset, store: ArtifactStore | None = None, item_subset: set[str] | None = None,
                 run: str | None = None, cfg: TablesConfig | None = None) -> dict:
    """Compute Tables 1-2 analogues and the Figure 7 examples; write them under `run` (cat.SMALL_RUN for the
    small configuration, None for the full one).

    `item_subset` restricts everything to those items (the small configuration).
    Returns {"table1": ResultTable, "table2": ResultTable, "figure7": dict, "counts": {...}}.
    """
    store = store or ArtifactStore()
    cfg = cfg or TablesConfig()
    # no knowledge yet is a state the tables report (catalogue pool only, said in provenance), not an error
    has_knowledge = store.exists(dataset.name, cat.ITEM_KNOWLEDGE)
    knowledge = read_knowledge(store, dataset.name) if has_knowledge else None
    pools, info = build_pools(dataset, store, knowledge, item_subset)
    sequences = dataset.sequences()
    lines = product_lines(dataset.items)
    t1_rows, t2_rows, counts = [], [], {}
    category_of = dict(zip(dataset.items["item_id"].astype(str), dataset.items["primary_category"].astype(str)))
    for pool in pools:
        r1, r2, c = evaluate_pool(pool, sequences, lines.line_of, cfg, category_of)
        t1_rows += r1
        t2_rows += r2
        counts[pool.name] = {"label": pool.label, **c}
    pool_text = "; ".join(f"{c['label']}: {c['items']} items, {c['users']} users "
                          f"({c['history_all_in_pool']} with their whole history in the pool), "
                          f"{c['sm_hr_queries']} SM-HR queries" for p, c in counts.items())
    small = f" Small configuration: restricted to {len(item_subset)} items." if item_subset is not None else ""
    common = dict(dataset=dataset.name, dataset_hash=dataset.card["content_hash"], seeds=[],
                  deviations=report.deviations(info, len(dataset.items)))
    t1 = ResultTable(
        name=cat.TABLE1_HR.key, title=report.TABLE1_TITLE, split=report.TABLE1_SPLIT,
        protocol=report.table1_protocol(cfg.bootstrap, cfg.bootstrap_seed),
        columns=_columns("HR", cfg.hr_ks, "users"), rows=t1_rows, paper_reference=report.PAPER_TABLE1,
        notes=f"Pools: {pool_text}.{small} Macro recall compares arms within a pool only (the k list and the "
              f"users differ between pools).{category_note(counts)}", **common)
    t2 = ResultTable(
        name=cat.TABLE2_SMHR.key, title=report.TABLE2_TITLE, split=report.TABLE2_SPLIT,
        protocol=report.table2_protocol(lines, cfg.bootstrap, cfg.bootstrap_seed),
        columns=_columns("SM-HR", cfg.sm_hr_ks, "queries"), rows=t2_rows, paper_reference=report.PAPER_TABLE2,
        notes=f"Pools: {pool_text}.{small}", **common)
    knowledge_created = store.provenance(dataset.name, cat.ITEM_KNOWLEDGE).get("created") if has_knowledge else None
    prov = {"encoder": MODEL_NAME, "knowledge_created": knowledge_created, "config": asdict(cfg),
            "counts": counts, "knowledge": info, "product_lines": lines.summary(),
            "item_subset": len(item_subset) if item_subset is not None else None}
    write_table(store, cat.TABLE1_HR, t1, prov, run=run)
    write_table(store, cat.TABLE2_SMHR, t2, prov, run=run)
    fig7 = write_figure7(dataset, store, item_subset, run, knowledge=knowledge) if knowledge is not None else None
    return {"table1": t1, "table2": t2, "figure7": fig7, "counts": counts, "knowledge": info,
            "product_lines": lines.summary()}


def write_figure7(dataset, store: ArtifactStore, item_subset: set[str] | None = None, run: str | None = None,
                  knowledge: pd.DataFrame | None = None, note: str | None = None) -> dict:
    """Compute and write the Figure 7 examples alone (no encoder, no retrieval: seconds). `build_tables` calls it;
    on its own it refreshes the examples after the grounding rules change. `note` goes into the provenance."""
    if knowledge is None:
        knowledge = read_knowledge(store, dataset.name)
    fig7 = figure7_examples(dataset, knowledge, knowledge_where(store, dataset.name), item_subset)
    prov = {"knowledge_created": store.provenance(dataset.name, cat.ITEM_KNOWLEDGE).get("created"),
            "items": fig7["items"]}
    if note:
        prov["recomputed"] = note
    store.write(dataset.name, cat.FIGURE7_EXAMPLES, fig7, prov, run=run)
    return fig7


def main(argv: list[str] | None = None) -> None:
    """`python -m reaseq_core.representation.tables --dataset beauty --figure7-only`: rewrite the full run's
    Figure 7 examples from the stored knowledge (re-classified with today's grounding rules); Tables 1-2 are
    left as they are (`reaseq represent tables` recomputes everything)."""
    import argparse

    from ..data import load_dataset
    p = argparse.ArgumentParser(prog="python -m reaseq_core.representation.tables")
    p.add_argument("--dataset", required=True)
    p.add_argument("--figure7-only", action="store_true", required=True,
                   help="the only mode: rewrite figure7_examples (the full run), nothing else")
    p.add_argument("--home", default=None, help="artifact root (default: $REASEQ_HOME or data/artifacts)")
    args = p.parse_args(argv)
    store = ArtifactStore(args.home)
    fig7 = write_figure7(load_dataset(args.dataset, store), store,
                         note="figure7 only, from the stored knowledge with today's grounding rules "
                              "(python -m reaseq_core.representation.tables --figure7-only)")
    print(json.dumps({"items": fig7["items"], "summary_means": fig7["summary_means"]}, indent=2))
    print(f"-> {store.path(args.dataset, cat.FIGURE7_EXAMPLES)}")


if __name__ == "__main__":
    main()


def table_frame(table: ResultTable) -> pd.DataFrame:
    """The table as a frame without the '_std' columns (what a notebook displays)."""
    df = table.to_frame()
    return df[[c for c in df.columns if not c.endswith("_std")]]
