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
deviations of the mean over users (or queries), 1000 resamples with seed 0, paired across the arms of
one pool, and "macro_delta_vs_title" is an arm's macro recall minus the title arm's on the same pool.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..results import ResultTable, write_table
from ..store import ArtifactStore
from . import retrieval_metrics as rm
from .encoder import MODEL_NAME, encode, load_encoder
from .knowledge_vectors import (KNOWLEDGE_ARTIFACT, KnowledgeTexts, clean_item_row, embedding_cache,
                                knowledge_texts, knowledge_vectors, parse_entries, read_knowledge, title_makr_text)
from .product_line import product_lines
from .title_vectors import ARTIFACT as TITLE_ARTIFACT
from .title_vectors import title_text

ARM_LABELS = {"title": "title-only: Phi(title + brand + category path)",
              "makr": "MAKR: Phi(t_u) + Phi(t_p), multi-agent knowledge",
              "single": "single-agent: Phi(t_u) + Phi(t_p), single-agent knowledge",
              "title_makr": "title + MAKR text: Phi(title text . t_u . t_p)"}
POOL_LABELS = {"catalogue": "whole catalogue (reference)",
               "makr": "items with multi-agent knowledge",
               "makr_single": "items with multi- and single-agent knowledge"}
SUBSET_CATALOGUE_LABEL = "all items of the small subset (reference)"
BOOTSTRAP = 1000
BOOTSTRAP_SEED = 0

# The paper's own figures (Tables 1 and 2, in %), shown beside ours; they come from Taobao data.
PAPER_TABLE1 = {"columns": ["Model", "HR@30", "HR@50", "HR@100", "HR@200", "HR@500", "HR@1000", "HR@2000",
                            "Macro Recall"],
                "rows": [["CNC", 5.8147, 7.4084, 9.8393, 12.8740, 17.5118, 21.6971, 26.3568, 10.7899],
                         ["GME", 6.2504, 7.9256, 10.5449, 13.6865, 18.6276, 22.8668, 27.6842, 11.4249],
                         ["GME + I2T + IUI", 7.8405, 10.0866, 13.7192, 17.9351, 24.4954, 29.9871, 35.9946, 14.8050],
                         ["GME + I2T + IUI + MAKR", 8.4209, 10.8162, 14.6313, 19.0560, 25.8410, 31.6550, 37.8712,
                          15.6966]]}
PAPER_TABLE2 = {"columns": ["Model", "SM-HR@1", "SM-HR@5", "SM-HR@10", "SM-HR@30", "SM-HR@50", "SM-HR@100",
                            "SM-HR@200", "Macro Recall"],
                "rows": [["CNC", 24.0900, 38.4660, 43.7620, 51.8655, 55.6039, 60.6393, 65.6118, 56.9229],
                         ["GME", 25.2850, 41.2064, 47.0972, 55.8767, 59.7959, 64.9361, 69.8381, 60.3689],
                         ["GME + I2T + IUI", 28.3508, 45.8085, 51.9645, 60.9992, 65.0083, 70.2454, 75.1920, 65.2103],
                         ["GME + I2T + IUI + MAKR", 24.6164, 42.4050, 49.2282, 59.2713, 63.6393, 69.2249, 74.3593,
                          63.4745]]}


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

def title_vectors_for(dataset, store: ArtifactStore, item_ids: list[str]) -> np.ndarray:
    """Title vectors of `item_ids`: from title_vectors.npz when built, else encoded now (same text, same cache)."""
    if store.exists(dataset.name, "representation", TITLE_ARTIFACT):
        z = store.read_numpy(dataset.name, "representation", TITLE_ARTIFACT)
        row = {str(i): r for r, i in enumerate(z["item_ids"])}
        if all(i in row for i in item_ids):
            return z["vectors"][[row[i] for i in item_ids]]
    items = dataset.items.set_index(dataset.items["item_id"].astype(str))
    return encode([title_text(clean_item_row(items.loc[i].to_dict())) for i in item_ids],
                  cache=embedding_cache(store, dataset.name), show_progress=len(item_ids) > 2000)


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


def evaluate_pool(pool: Pool, sequences: dict[str, list[str]],
                  line_of: dict[str, str]) -> tuple[list[dict], list[dict], dict]:
    """(Table 1 rows, Table 2 rows, counts) for every arm of one pool; the title arm must come first."""
    n = len(pool.item_ids)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    users, hists, targets, ucounts = hr_users(sequences, pool.item_ids)
    lines, queries = sm_hr_queries(pool.item_ids, line_of)
    hr_ks, sm_ks = rm.capped_ks(rm.HR_KS, n), rm.capped_ks(rm.SM_HR_KS, n)
    u_samples = rng.integers(0, max(len(users), 1), size=(BOOTSTRAP, len(users)))
    q_samples = rng.integers(0, max(len(queries), 1), size=(BOOTSTRAP, len(queries)))
    counts = {"items": n, **ucounts, "sm_hr_queries": int(len(queries)), "hr_ks": hr_ks, "sm_hr_ks": sm_ks}
    t1, t2 = [], []
    base_hr = base_sm = None
    for arm, vecs in pool.arms.items():
        hr = rm.hr_hits(vecs, hists, targets, hr_ks) if users and hr_ks else np.zeros((len(users), len(hr_ks)), bool)
        sm = rm.sm_hr_hits(vecs, lines, queries, sm_ks) if len(queries) and sm_ks else \
            np.zeros((len(queries), len(sm_ks)), bool)
        c1, macro_hr = _metric_cells("HR", rm.HR_KS, hr_ks, hr, u_samples, None if arm == "title" else base_hr)
        c2, macro_sm = _metric_cells("SM-HR", rm.SM_HR_KS, sm_ks, sm, q_samples, None if arm == "title" else base_sm)
        if arm == "title":
            base_hr, base_sm = macro_hr, macro_sm
        label = {"pool": pool.label, "arm": ARM_LABELS[arm], "items": n}
        t1.append({**label, "users": len(users), **c1})
        t2.append({**label, "queries": int(len(queries)), **c2})
    return t1, t2, counts


def _columns(prefix: str, ks, count_col: str) -> list[str]:
    cols = ["pool", "arm", "items", count_col]
    for k in ks:
        cols += [f"{prefix}@{k}", f"{prefix}@{k}_std"]
    return cols + ["macro_recall", "macro_recall_std", "macro_delta_vs_title", "macro_delta_vs_title_std"]


def build_pools(dataset, store: ArtifactStore, knowledge: pd.DataFrame | None,
                item_subset: set[str] | None = None) -> tuple[list[Pool], dict]:
    """The catalogue pool (title arm) and the knowledge pools (every arm with knowledge on the same items)."""
    cache = embedding_cache(store, dataset.name)
    all_ids = sorted(dataset.items["item_id"].astype(str))
    if item_subset is not None:
        all_ids = [i for i in all_ids if i in item_subset]
    pools = [Pool("catalogue", all_ids, {"title": title_vectors_for(dataset, store, all_ids)},
                  label="" if item_subset is None else SUBSET_CATALOGUE_LABEL)]
    info: dict = {"knowledge_rows": 0}
    if knowledge is None:
        return pools, info
    where = str(store.path(dataset.name, "knowledge", KNOWLEDGE_ARTIFACT))
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
        arms = {"title": title_vectors_for(dataset, store, ids), "makr": knowledge_vectors(m, cache)}
        if name == "makr_single":
            arms["single"] = knowledge_vectors(_subset(single, ids), cache)
        arms["title_makr"] = encode(tm_texts, cache=cache)
        pools.append(Pool(name, ids, arms))
        if name == "makr":
            info["truncated_share"] = {"t_u": truncated_share(m.t_u), "t_p": truncated_share(m.t_p),
                                       "title_makr_text": truncated_share(tm_texts),
                                       "max_seq_length": int(load_encoder().max_seq_length)}
    return pools, info


def deviations(info: dict, n_items: int) -> list[str]:
    trunc = info.get("truncated_share", {})
    out = ["Encoder Phi = all-MiniLM-L6-v2 (22M parameters, text only), not CN-CLIP-0.2B or GME-3B; no image "
           "encoder (no product images are used)",
           "No I2T or IUI fine-tuning: every arm uses the frozen pre-trained encoder",
           f"Knowledge generated by {', '.join(info.get('models') or ['(no knowledge yet)'])}, not the paper's "
           "LLM; the Layer-1 demand taxonomy reasons from category paths and titles (Beauty has no user queries)",
           f"Knowledge covers {info.get('multi_agent_items', 0)} (multi-agent) and {info.get('single_agent_items', 0)} "
           f"(single-agent) of {n_items} items: each knowledge comparison is restricted to the items having "
           "knowledge in every arm it compares (items column); the title arm alone also runs on the whole catalogue",
           "HR@k users: real 5-core review sequences (target = last item, history = earlier items in the pool), not "
           "sampled Taobao impressions; k capped by pool size - 1",
           "SM-HR@k: a product-line proxy (same brand + leaf category + title-token overlap) replaces SPU ids; "
           "it is derived from title tokens, which favours the title arm",
           "Exact cosine search (faiss IndexFlatIP) instead of approximate search"]
    if trunc:
        out.append(f"Texts longer than the encoder's {trunc['max_seq_length']} word pieces are truncated: "
                   f"{trunc['t_u']:.1%} of t_u, {trunc['t_p']:.1%} of t_p, {trunc['title_makr_text']:.1%} of "
                   "title + MAKR texts")
    return out


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

    def side(row, line: int) -> dict:
        out = {}
        entries_all = []
        for p in ("user_demand", "product_attribute"):
            entries = parse_entries(row[p], where, line, p)
            entries_all += entries
            out[p] = [{"dimension": e["dimension"], "keywords": e.get("keywords", []),
                       "analysis": e.get("analysis", ""), "evidence": e.get("evidence", []),
                       "grounded": e.get("grounded"), "grounding_note": e.get("grounding_note", "")}
                      for e in entries]
            out[f"entries_{p}"] = len(entries)
        flags = [e.get("grounded") for e in entries_all if isinstance(e.get("grounded"), bool)]
        rate = row.get("grounding_rate")
        out["keywords"] = sum(len(e.get("keywords", [])) for e in entries_all)
        out["grounding_rate"] = float(rate) if rate is not None and rate == rate else \
            (float(np.mean(flags)) if flags else None)
        out["ungrounded_entries"] = int(sum(1 for f in flags if f is False))
        return out

    examples = []
    for i in ids:
        it = items.loc[i]
        ex = {"item_id": i, "title": it["title"], "brand": it["brand"], "category_path": list(it["category_path"])}
        for s, frame in by_setup.items():
            row = frame.loc[i]
            ex[s] = side(row, int(row["_row"]))
        examples.append(ex)

    def mean(setup, key):
        vals = [e[setup][key] for e in examples if e[setup][key] is not None]
        return float(np.mean(vals)) if vals else None

    summary = {s: {"entries_user_demand": mean(s, "entries_user_demand"),
                   "entries_product_attribute": mean(s, "entries_product_attribute"),
                   "keywords": mean(s, "keywords"), "grounding_rate": mean(s, "grounding_rate"),
                   "ungrounded_entries": mean(s, "ungrounded_entries")} for s in by_setup}
    return {"dataset": dataset.name, "dataset_hash": dataset.card["content_hash"], "items": len(examples),
            "items_with_both_setups_attempted": len(pairs),
            "items_with_a_failed_setup": len(pairs) - len(examples), "summary_means": summary,
            "note": "Items with status-ok knowledge from both setups; grounding as recorded by the knowledge "
                    "stage's check of each entry's cited evidence against the item's metadata. The paper's "
                    "Figure 7 shows one such pair on a Taobao item (appendix D).",
            "examples": examples}


def build_tables(dataset, store: ArtifactStore | None = None, item_subset: set[str] | None = None,
                 prefix: str = "") -> dict:
    """Compute Tables 1-2 analogues and the Figure 7 examples; write them (names prefixed by `prefix`).

    `item_subset` restricts everything to those items (the notebooks' small configuration).
    Returns {"table1": ResultTable, "table2": ResultTable, "figure7": dict, "counts": {...}}.
    """
    store = store or ArtifactStore()
    knowledge = read_knowledge(store, dataset.name) if store.exists(dataset.name, "knowledge",
                                                                      KNOWLEDGE_ARTIFACT) else None
    pools, info = build_pools(dataset, store, knowledge, item_subset)
    sequences = dataset.sequences()
    lines = product_lines(dataset.items)
    t1_rows, t2_rows, counts = [], [], {}
    for pool in pools:
        r1, r2, c = evaluate_pool(pool, sequences, lines.line_of)
        t1_rows += r1
        t2_rows += r2
        counts[pool.name] = {"label": pool.label, **c}
    n_items = len(dataset.items)
    devs = deviations(info, n_items)
    user_rule = ("users = every user whose target (last item) is in the pool and who has >= 1 earlier item in "
                 "the pool; history = those earlier items; a history item is not its own neighbour")
    pool_text = "; ".join(f"{c['label']}: {c['items']} items, {c['users']} users "
                          f"({c['history_all_in_pool']} with their whole history in the pool), "
                          f"{c['sm_hr_queries']} SM-HR queries" for p, c in counts.items())
    small = f" Small configuration: restricted to {len(item_subset)} items." if item_subset is not None else ""
    common = dict(dataset=dataset.name, dataset_hash=dataset.card["content_hash"], seeds=[],
                  deviations=devs)
    t1 = ResultTable(
        name=f"{prefix}table1_hr", title="Table 1 analogue: HR@k of item representations (%)",
        split="leave-last-out per user (target = last item of the sequence); no training",
        protocol=("HR@k (PROTOCOLS.md): top-k cosine neighbours of every history item, hit if the target is in "
                  "the union; k in {30,...,2000} capped by pool size - 1; macro recall = mean over those k; "
                  f"{user_rule}. Values in %; '_std' = bootstrap std over users ({BOOTSTRAP} resamples, seed "
                  f"{BOOTSTRAP_SEED}, paired across arms of a pool); nothing is trained, so no seeds."),
        columns=_columns("HR", rm.HR_KS, "users"), rows=t1_rows, paper_reference=PAPER_TABLE1,
        notes=f"Pools: {pool_text}.{small} Macro recall compares arms within a pool only (the k list and the "
              "users differ between pools).", **common)
    t2 = ResultTable(
        name=f"{prefix}table2_smhr", title="Table 2 analogue: SM-HR@k, same-product-line hit rate (%)",
        split="all pool items with >= 1 product-line sibling in the pool are queries; no training",
        protocol=("SM-HR@k (PROTOCOLS.md): top-k cosine neighbours of the query (itself excluded), hit if one "
                  "shares its product line; k in {1,...,200} capped by pool size - 1; macro recall = mean over "
                  f"those k. Product line: {lines.rule} ({lines.source}; computed on the whole catalogue: "
                  f"{lines.items_with_sibling} of {lines.items} items have >= 1 sibling, {lines.lines_with_2_or_more} "
                  f"lines of >= 2, largest {lines.largest_line}). Values in %; '_std' = bootstrap std over queries "
                  f"({BOOTSTRAP} resamples, seed {BOOTSTRAP_SEED}, paired across arms)."),
        columns=_columns("SM-HR", rm.SM_HR_KS, "queries"), rows=t2_rows, paper_reference=PAPER_TABLE2,
        notes=f"Pools: {pool_text}.{small}", **common)
    prov = {"encoder": MODEL_NAME, "knowledge_created": store.provenance(dataset.name, "knowledge",
                                                                        KNOWLEDGE_ARTIFACT).get("created"),
            "counts": counts, "knowledge": info, "product_lines": lines.summary(),
            "item_subset": len(item_subset) if item_subset is not None else None}
    write_table(store, "representation", t1, prov)
    write_table(store, "representation", t2, prov)
    fig7 = None
    if knowledge is not None:
        fig7 = figure7_examples(dataset, knowledge, str(store.path(dataset.name, "knowledge", KNOWLEDGE_ARTIFACT)),
                                item_subset)
        store.write_json(dataset.name, "representation", f"{prefix}figure7_examples.json", fig7,
                         {"knowledge_created": prov["knowledge_created"], "items": fig7["items"]})
    return {"table1": t1, "table2": t2, "figure7": fig7, "counts": counts, "knowledge": info,
            "product_lines": lines.summary()}


def table_frame(table: ResultTable) -> pd.DataFrame:
    """The table as a frame without the '_std' columns (what a notebook displays)."""
    df = table.to_frame()
    return df[[c for c in df.columns if not c.endswith("_std")]]
