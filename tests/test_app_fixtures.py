"""Fixture artifacts for the workbench tests, written through the catalogue (so in exactly the declared shapes).

The data stage is the real Beauty dataset (ingested by conftest's `beauty` fixture); the knowledge,
representation, ranking and GBR artifacts are small hand-made examples about real Beauty items and users,
so every view can be tested independently of the other stages' real runs (tests/test_app_pages.py also
renders every page on the committed Beauty store). The vectors are real Phi embeddings of the items'
titles; the UMAP projection is computed by the real code path. Numbers in the fixture tables are made up for
display tests and are never reported anywhere.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd

from reaseq_core import catalogue as cat
from reaseq_core.results import ResultTable, list_tables, read_table, write_table
from reaseq_core.store import ArtifactStore
from reaseq_core.representation.item_space import l2_normalise, load_item_space
from reaseq_core.viz import exact_cosine_neighbours
from reaseq_core.viz.umap_cache import build_embedding_projection

DATASET = "beauty"
N_USERS = 3


def _entry(dim: str, analysis: str, kw: list[str], evidence: list[str], grounded: bool) -> dict:
    return {"dimension": dim, "analysis": analysis, "keywords": kw, "evidence": evidence, "grounded": grounded,
            "grounding_note": "" if grounded else f"'{evidence[0]}' not found in the item's fields"}


def write_knowledge(store: ArtifactStore, items: pd.DataFrame) -> list[str]:
    """The taxonomy, item knowledge (both setups), the LLM call log (with a partial last line) and the
    knowledge summary. Returns the item ids that have knowledge."""
    tax = {"categories": {}, "templates": {"demand_taxonomy": "a" * 64, "item_knowledge": "b" * 64},
           "model": {"name": "fixture", "hash": "0" * 16}}
    for prim in ("Makeup", "Skin Care"):
        subs = items.loc[items["primary_category"] == prim, "sub_category"].dropna().unique()[:2]
        tax["categories"][prim] = {
            "demand": {"dimensions": ["Skin Type Fit", "Finish", "Longevity"], "reasoning": f"{prim} buyers ...",
                       "input_kind": "titles", "inputs_sample": items.loc[items.primary_category == prim,
                                                                          "title"].head(3).tolist(),
                       "status": "ok", "error": None},
            "attribute": {"dimensions": ["Brand", "Price Tier", "Form"], "reasoning": "from structured fields",
                          "input_kind": "structured_fields", "inputs_sample": ["brand: X; price: 9.5"],
                          "status": "ok", "error": None},
            "subcategories": {s: {
                "demand": {"reasoning_trace": f"Within {s}, finish matters ...", "dimensions": [
                    {"label": "Finish", "rationale": "inherited", "justification": "still central",
                     "mapped": ["matte look", "dewy glow"]},
                    {"label": "Shade Match", "rationale": "adapted", "justification": "from Skin Type Fit",
                     "mapped": ["fair skin"]},
                    {"label": "Travel Size", "rationale": "new", "justification": "many minis", "mapped": []}],
                    "final": ["Finish", "Shade Match", "Travel Size"], "status": "ok", "error": None},
                "attribute": {"reasoning_trace": "", "dimensions": [], "final": [], "status": "failed",
                              "error": "invalid JSON after 2 retries"}} for s in subs}}
    store.write(DATASET, cat.TAXONOMY, tax, {"fixture": True})

    kn_items = items[items["primary_category"].isin(["Makeup", "Skin Care"])]["item_id"].head(8).tolist()
    by_id = items.set_index("item_id")
    rows = []
    for k, iid in enumerate(kn_items):
        title = by_id.at[iid, "title"]
        word = (title or "item").split()[0]
        for setup in ("multi_agent", "single_agent"):
            failed = setup == "single_agent" and k == 7
            ud = [_entry("Finish", f"wants a {word} finish", ["finish"], ["title"], True),
                  _entry("Longevity", "lasts all day", ["long-wear"], ["all-day wear"], False)]
            pa = [_entry("Brand", f"made by {word}", [word], [word], True),
                  _entry("Form", "a cream", ["cream"], ["cream texture"], k % 2 == 0)]
            if setup == "single_agent":
                ud, pa = ud[:1], pa[:1]
            ents = ud + pa
            rows.append({"item_id": iid, "setup": setup, "status": "failed" if failed else "ok",
                         "failure_reason": "invalid JSON" if failed else None,
                         "user_demand": None if failed else json.dumps(ud),
                         "product_attribute": None if failed else json.dumps(pa),
                         "grounding_rate": 0.0 if failed else float(np.mean([e["grounded"] for e in ents])),
                         "template_hash": "b" * 64, "model": "fixture", "created": "2026-11-27T10:00:00+00:00",
                         "primary_category": by_id.at[iid, "primary_category"],
                         "sub_category": by_id.at[iid, "sub_category"],
                         "dimensions_demand": json.dumps(["Finish", "Longevity"]),
                         "dimensions_attribute": json.dumps(["Brand", "Form"]),
                         "attempts": 2 if failed else 1, "latency_s": 12.5, "completion_tokens": 0 if failed else 180,
                         "backend": "embedded"})
    store.write(DATASET, cat.ITEM_KNOWLEDGE, pd.DataFrame(rows), {"fixture": True})

    calls = []
    for k, iid in enumerate(kn_items[:5]):
        calls.append({"key": f"k{k}", "agent": "item_knowledge" if k else "demand_taxonomy", "backend": "embedded",
                      "model": "fixture", "model_hash": "0" * 16, "params": {"max_tokens": 400},
                      "prompt": f"Item {iid}: describe", "response": "{\"user_demand\": []}" if k != 3 else "oops",
                      "prompt_tokens": 200 + k, "completion_tokens": 100 + k, "latency_s": 10.0 + k,
                      "status": "invalid" if k == 3 else "ok", "error": "not JSON" if k == 3 else None,
                      "created": f"2026-11-27T10:0{k}:00+00:00"})
    p = store.path(DATASET, cat.LLM_CALLS)  # the call log has its own append-only writer (the LLM cache)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(json.dumps(c) + "\n" for c in calls) + '{"key": "partial', encoding="utf-8")
    store.write(DATASET, cat.KNOWLEDGE_SUMMARY,
                {"categories": {"Makeup": {"multi_agent": {"items_ok": 4, "items_failed": 0}}},
                 "setups": {"multi_agent": {"grounding_rate": 0.75}}, "call_log": {"calls": 5}})
    return kn_items


FIXTURE_TABLES = (cat.GROUNDING_TABLE, cat.SID_TABLE)   # tables no stage's status reporter parses


def write_tables(store: ArtifactStore) -> None:
    for art, title in zip(FIXTURE_TABLES, ("Fixture table A: retrieval", "Fixture table B: integration schemes")):
        t = ResultTable(name=art.key, title=title, dataset=DATASET, dataset_hash="fixturehash", split="leave-one-out",
                        protocol="fixture protocol text", seeds=[0, 1, 2],
                        deviations=["titles instead of queries"], columns=["variant", "auc", "auc_std", "n"],
                        rows=[{"variant": "base", "auc": 0.61, "auc_std": 0.01, "n": 100},
                              {"variant": "+ReaSeq", "auc": 0.64, "auc_std": 0.02, "n": 100}],
                        notes="fixture", paper_reference={"rows": [{"variant": "base", "auc": 0.7}]})
        write_table(store, art, t, {"fixture": True})


def pick_users(inter: pd.DataFrame) -> list[str]:
    n = inter.groupby("user_id").size()
    return sorted(n[(n >= 10) & (n <= 14)].index)[:N_USERS]


def write_gbr(store: ArtifactStore, items: pd.DataFrame, inter: pd.DataFrame, users: list[str]) -> None:
    category = items.set_index("item_id")["primary_category"].to_dict()
    rng = np.random.default_rng(0)
    loc_rows, fills = [], []
    for variant in ("TD", "CD", "TDUCD"):
        for u in users:
            seq = inter[inter["user_id"] == u].sort_values("position")
            ids, ts = seq["item_id"].tolist(), seq["timestamp"].tolist()
            for t in range(len(ids) - 1):
                gap = (ts[t + 1] - ts[t]) / 86400
                td, cd = gap > 30, category[ids[t]] != category[ids[t + 1]]
                cand = {"TD": td, "CD": cd, "TDUCD": td or cd}[variant]
                rank = int(rng.integers(1, 500))
                flagged = bool(cand and rank > 50)
                dp = float(rng.normal(0, 0.2)) if flagged else float("nan")
                role = ("P_L" if dp > 0.05 else "P_U") if flagged else "none"
                loc_rows.append({"user_id": u, "t": t, "item_from": ids[t], "item_to": ids[t + 1], "ts_from": ts[t],
                                 "ts_to": ts[t + 1], "gap_days": gap, "cat_from": category[ids[t]],
                                 "cat_to": category[ids[t + 1]], "td": bool(td), "cd": bool(cd), "model_rank": rank,
                                 "flagged": flagged, "delta_p": dp, "role": role, "variant": variant})
                if role == "P_U":
                    ctx = ids[:t + 1] + [None] + ids[t + 1:]
                    fills.append({"fill_id": f"{variant}-{u}-{t}", "variant": variant, "user_id": u,
                                  "position": t + 1, "gap_t": t, "after_item": ids[t], "before_item": ids[t + 1],
                                  "context_items": ctx, "seed": 0})
    store.write(DATASET, cat.LOCATION, pd.DataFrame(loc_rows), {"fixture": True})
    store.write(DATASET, cat.LOCATION_SUMMARY,
                {"variants": {v: {"fill_ratio": 0.1, "candidates": {"rule": 10, "model_filter": 5}}
                              for v in ("TD", "CD", "TDUCD")},
                 "users": {"users": len(users)}, "gaps": len(loc_rows), "config": {"fixture": True}})

    space = load_item_space(DATASET, "title", store)
    ids, vecs = space.item_ids, space.vectors
    pos = {i: k for k, i in enumerate(ids)}
    fdf = pd.DataFrame(fills)
    fv = l2_normalise(np.stack([vecs[pos[a]] + vecs[pos[b]] for a, b in zip(fdf["after_item"], fdf["before_item"])]))
    nn = exact_cosine_neighbours(fv, ids, vecs, k=10)
    fdf["neighbours"] = [json.dumps([{"item_id": i, "similarity": s} for i, s in row]) for row in nn]
    fdf["top1_item"] = [row[0][0] for row in nn]
    fdf["top1_similarity"] = [row[0][1] for row in nn]
    store.write(DATASET, cat.FILLS, fdf, {"fixture": True})
    store.write(DATASET, cat.FILL_VECTORS, {"fill_ids": fdf["fill_id"].to_numpy().astype(str), "vectors": fv,
                                            "item_space": np.array("title")}, {"fixture": True})


def build_fixture_store(root, beauty, source: ArtifactStore, with_umap: bool = True) -> tuple[ArtifactStore, dict]:
    """A store at `root` holding the real Beauty data stage (copied from `source`, where `beauty` was
    ingested) plus contract-shaped fixture artifacts."""
    from reaseq_core.representation.encoder import MODEL_NAME, encode
    from reaseq_core.representation.title_vectors import title_text

    src = source.stage_dir(DATASET, cat.ITEMS.stage)
    store = ArtifactStore(root)
    shutil.copytree(src, store.stage_dir(DATASET, cat.ITEMS.stage), dirs_exist_ok=True)
    items, inter = beauty.items, beauty.interactions
    users = pick_users(inter)
    kn_items = write_knowledge(store, items)
    write_tables(store)
    user_items = inter.loc[inter["user_id"].isin(users), "item_id"].unique().tolist()
    extra = items.groupby("primary_category").head(6)["item_id"].tolist()
    vec_items = list(dict.fromkeys(user_items + kn_items + extra))
    sub = items.set_index("item_id").loc[vec_items].reset_index()
    vecs = encode([title_text(r) for r in sub.to_dict("records")], show_progress=False)
    store.write(DATASET, cat.TITLE_VECTORS, {"item_ids": np.array(vec_items).astype(str), "vectors": vecs},
                {"fixture": True, "encoder": MODEL_NAME, "items": len(vec_items)})  # the UMAP key reads both
    write_gbr(store, items, inter, users)
    if with_umap:
        build_embedding_projection(store, DATASET)
    return store, {"users": users, "knowledge_items": kn_items, "vector_items": vec_items}


def test_fixture_artifacts_follow_the_contract(app_store):
    store, info = app_store
    assert [a.key for a in list_tables(store, DATASET)] == [a.key for a in FIXTURE_TABLES]
    t = read_table(store, DATASET, cat.SID_TABLE)
    assert t.to_frame()["auc_std"].tolist() == [0.01, 0.02]
    kn = store.read(DATASET, cat.ITEM_KNOWLEDGE)
    assert set(kn["setup"]) == {"multi_agent", "single_agent"}
    loc = store.read(DATASET, cat.LOCATION)
    assert set(loc["variant"]) == {"TD", "CD", "TDUCD"} and set(loc["user_id"]) == set(info["users"])
    fills = store.read(DATASET, cat.FILLS)
    assert len(fills) > 0 and fills["context_items"].map(lambda c: sum(x is None for x in c)).eq(1).all()
    umaps = [a for a in store.list(DATASET, cat.UMAP.stage) if a.entry is cat.UMAP]
    assert len(umaps) == 1
    # every fixture file is a catalogue entry (nothing the app reads is outside the catalogue)
    assert [a.path for a in store.list(DATASET) if a.entry is None] == []
