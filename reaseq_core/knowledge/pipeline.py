"""`reaseq knowledge build`: the three agent layers over a selection of items, resumable and safe to kill.

Order of work per primary category: Layer 1 (demand and attribute taxonomies), Layer 2 for every
subcategory that has selected items, then Layer 3 item by item, grouped by subcategory so consecutive
prompts share their prefix (instructions + that subcategory's dimensions). The single-agent baseline runs
on every k-th item, batched after each chunk of multi-agent items so the two templates do not evict each
other's prefix from llama.cpp's KV cache on every item.

Every LLM call goes through the call cache (catalogue entry `llm_calls`), so a re-run replays finished
calls without the model and resumes at the first missing one. The item knowledge, the taxonomy and the
summary (entries `item_knowledge`, `taxonomy`, `knowledge_summary`) are rewritten atomically every
`write_every` items and at the end; rows of items outside this run are kept.

A taxonomy already built is kept: a category whose Layer-1 taxonomies are both ok, and a subcategory whose
Layer-2 refinements are both ok and were refined from the category's current Layer-1 labels, are not asked
again (`rebuild_taxonomy` asks again). So Layer 3 keeps the dimensions its items were built with, and their
calls keep resolving from the cache even after the taxonomy agents' prompts or label rules change.

When the LLM endpoint cannot be reached (BackendUnavailable, after the backend's bounded back-off) the build
writes what it has, marks nothing failed (the item in flight simply has no row yet) and stops with one error
naming the endpoint; the same command run again continues where it stopped.

Templates: each agent uses the dataset's build template (promotion.build_template: the promoted version, else
the shipped file); every call the build appends to the call log carries that template's sha256
(`template_hash`), and so does every knowledge row. `rebuild_template=AGENT` restricts the selection to the
items whose stored row of that agent's setup came from another template version.
"""
from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
from tqdm import tqdm

from .. import catalogue as cat
from ..errors import ReaSeqError
from ..llm.backend import BackendUnavailable
from ..llm.cache import CallCache
from ..store import ArtifactStore
from . import agents, inputs, promotion, schemas
from .templates import AGENTS, template_hash

ROW_COLUMNS = list(cat.ITEM_KNOWLEDGE.columns)     # the catalogue declares the row shape, in file order
PERSPECTIVES = ("demand", "attribute")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class BuildConfig:
    categories: list[str] = field(default_factory=list)
    item_ids: list[str] | None = None
    limit: int | None = None                 # multi-agent items per category
    single_agent_limit: int = 0              # total single-agent items in this run
    single_agent_every: int = 4              # every k-th selected item also gets the single-agent baseline
    write_every: int = 10
    max_attempts: int = 3
    single_agent_attempts: int | None = None  # attempts of the single-agent baseline (None: max_attempts)
    use_grammar: bool = True
    order: str = "popular"                   # within a subcategory: "popular" (most interactions first) or "id"
    rebuild_taxonomy: bool = False           # ask Layers 1-2 again even where an ok taxonomy is stored
    rebuild_template: str | None = None      # only the items whose row of this agent came from another template
    top_items: int | None = None             # only the N most-interacted items of the dataset (all categories)
    min_sub_items: int = 1                   # only subcategories with at least this many selected items
    taxonomy_only: bool = False              # Layers 1-2 for the selection's subcategories, no item knowledge
    layer3_output: str = "json"              # Layer 3's answer: "json" or "lines" (lines.py; parallel slots)
    only_missing: bool = False               # skip items that already have ok multi-agent knowledge (any template)


class TemplateCallCache(CallCache):
    """The call cache that also says which template version asked: a record appended for an agent listed in
    `template_hashes` carries `template_hash` (the sha256 of the template text its prompt was rendered from).
    The key is unchanged (it hashes the rendered prompt, which already differs between template versions).

    `observer(event, record)` (optional) hears "cached" (a reusable answer was found), "live" (no answer
    cached: the backend is asked next) and "answered" (the live answer was appended to the log)."""

    def __init__(self, path, template_hashes: dict[str, str] | None = None,
                 observer: Callable[[str, dict], None] | None = None):
        super().__init__(path)
        self.template_hashes = dict(template_hashes or {})
        self.observer = observer

    def get(self, key: str) -> dict | None:
        rec = super().get(key)
        if self.observer is not None:
            self.observer("cached" if rec is not None else "live", rec or {"key": key})
        return rec

    def append(self, record: dict) -> dict:
        h = self.template_hashes.get(record.get("agent"))
        if h and "template_hash" not in record:
            record = {**record, "template_hash": h}
        rec = super().append(record)
        if self.observer is not None:
            self.observer("answered", rec)
        return rec


def call_cache(store: ArtifactStore, dataset: str, template_hashes: dict[str, str] | None = None) -> TemplateCallCache:
    """The dataset's call log (appended line by line by CallCache, so it is opened at its path)."""
    return TemplateCallCache(store.path(dataset, cat.LLM_CALLS), template_hashes)


def annotate_refinements(taxonomy: dict) -> None:
    """Every refined dimension says what changed from its parent (schemas.annotate_changes). Refinements stored
    before this rule existed get it when the taxonomy is next written; their labels do not change."""
    for node in taxonomy.get("categories", {}).values():
        for sub in node.get("subcategories", {}).values():
            for p in PERSPECTIVES:
                block = sub.get(p) or {}
                dims = block.get("dimensions") or []
                if block.get("status") == "ok" and dims and any("change" not in d for d in dims):
                    block.setdefault("parent", list(node.get(p, {}).get("dimensions") or []))
                    block["dimensions"] = schemas.annotate_changes(dims, block["parent"])


def _load_rows(store: ArtifactStore, dataset: str) -> dict[tuple[str, str], dict]:
    if not store.exists(dataset, cat.ITEM_KNOWLEDGE):      # a first run starts from no rows
        return {}
    df = store.read(dataset, cat.ITEM_KNOWLEDGE)
    return {(r["item_id"], r["setup"]): r for r in df.to_dict("records")}


def _load_taxonomy(store: ArtifactStore, dataset: str) -> dict:
    if not store.exists(dataset, cat.TAXONOMY):            # a first run starts from no taxonomy
        return {"categories": {}}
    return store.read(dataset, cat.TAXONOMY)


class KnowledgeBuild:
    def __init__(self, ds, store: ArtifactStore, backend, config: BuildConfig, *, progress: bool = True,
                 should_stop: Callable[[], bool] | None = None, on_item: Callable[[int, int], None] | None = None):
        self.ds = inputs.without_constant_attributes(ds)
        self.items = ds.items          # all fields, as every grounding reader classifies against (the summary)
        self.store, self.backend, self.cfg = store, backend, config
        # promoted versions, else the shipped files; the answer format's own template where it has one
        templates = {a: promotion.answer_template(store, ds.name, a, config.layer3_output) for a in AGENTS}
        self.template_hashes = {a: template_hash(t) for a, t in templates.items()}
        self.cache = call_cache(store, ds.name, self.template_hashes)
        self.ctx = agents.AgentContext(backend, self.cache, max_attempts=config.max_attempts,
                                       single_agent_attempts=config.single_agent_attempts,
                                       use_grammar=config.use_grammar, templates=dict(templates),
                                       layer3_output=config.layer3_output,
                                       # the line format lets the model end each analysis itself (slots.py): an
                                       # analysis that still stops mid-sentence is refused and retried
                                       reject_unfinished_text=config.layer3_output == "lines")
        if config.rebuild_template is not None and config.rebuild_template not in promotion.SETUP_OF_AGENT:
            raise ReaSeqError(f"--rebuild-template works on the item-level agents "
                              f"({', '.join(promotion.SETUP_OF_AGENT)}), not '{config.rebuild_template}'; "
                              "for a taxonomy agent use --rebuild-taxonomy")
        self.rows = _load_rows(store, ds.name)
        self.taxonomy = _load_taxonomy(store, ds.name)
        self.progress, self.should_stop, self.on_item = progress, should_stop or (lambda: False), on_item
        self.live_items = 0
        self.live_seconds = 0.0
        self.started = time.perf_counter()
        self.stopped = False
        self.reused = {"taxonomies": 0, "refinements": 0}
        self.done = 0
        self._t_prev = time.perf_counter()

    # ---- selection -------------------------------------------------------------------------------
    def selection(self, category: str) -> pd.DataFrame:
        items = inputs.category_items(self.ds, category)
        if self.cfg.item_ids is not None:
            items = items[items["item_id"].isin(set(self.cfg.item_ids))]
        if self.cfg.rebuild_template is not None:      # rows of that agent's setup from another template version
            setup = promotion.SETUP_OF_AGENT[self.cfg.rebuild_template]
            current = self.template_hashes[self.cfg.rebuild_template]
            stale = {iid for (iid, s), r in self.rows.items() if s == setup and str(r.get("template_hash")) != current}
            items = items[items["item_id"].isin(stale)]
        if self.cfg.only_missing:
            have = {iid for (iid, setup), r in self.rows.items() if setup == "multi_agent" and r.get("status") == "ok"}
            items = items[~items["item_id"].astype(str).isin(have)]
        if self.cfg.top_items is not None:
            top = self.ds.interactions["item_id"].value_counts().index[: self.cfg.top_items]
            items = items[items["item_id"].isin(set(top))]
        if items.empty:
            return items.assign(_sub=pd.Series(dtype=object))
        items = items.assign(_sub=items.apply(lambda r: inputs.subcategory_of(r, category), axis=1))
        if self.cfg.min_sub_items > 1:            # small subcategories wait (each costs two Layer-2 calls)
            n = items["_sub"].value_counts()
            items = items[items["_sub"].map(n) >= self.cfg.min_sub_items]
            if items.empty:
                return items
        # biggest subcategories first; items grouped by subcategory for prefix reuse; inside a subcategory the
        # most-interacted items first (partial coverage then reaches the most behaviour), ties by id
        if self.cfg.order not in ("popular", "id"):
            raise ValueError(f"order must be 'popular' or 'id', not {self.cfg.order!r}")
        order = items["_sub"].value_counts()
        events = self.ds.interactions["item_id"].value_counts()
        pop = items["item_id"].map(events).fillna(0) if self.cfg.order == "popular" else 0
        items = items.assign(_o=items["_sub"].map(lambda s: -order[s]), _p=-pop)
        items = items.sort_values(["_o", "_sub", "_p", "item_id"], kind="stable")
        if self.cfg.limit is not None:
            items = items.head(self.cfg.limit)
        return items.drop(columns=["_o", "_p"])

    # ---- artifacts -------------------------------------------------------------------------------
    def provenance(self) -> dict:
        return {"templates": self.template_hashes, "model": self.model_info(),
                "config": {k: v for k, v in self.cfg.__dict__.items()}}

    def model_info(self) -> dict:
        return {"backend": self.backend.name, "model": self.backend.model, "model_hash": self.backend.model_hash}

    def write(self) -> None:
        df = pd.DataFrame(list(self.rows.values()))
        for c in ROW_COLUMNS:
            if c not in df.columns:
                df[c] = None
        df = df[ROW_COLUMNS].sort_values(["setup", "primary_category", "item_id"]).reset_index(drop=True)
        prov = self.provenance()
        self.store.write(self.ds.name, cat.ITEM_KNOWLEDGE, df, prov)
        self.taxonomy["templates"] = self.template_hashes
        self.taxonomy["model"] = self.model_info()
        annotate_refinements(self.taxonomy)
        self.store.write(self.ds.name, cat.TAXONOMY, self.taxonomy, prov)
        from .summary import knowledge_summary
        totals = self.ds.items["primary_category"].value_counts().to_dict()
        # every entry re-classified with today's grounding rules, as `python -m reaseq_core.knowledge.summary` does
        summary = knowledge_summary(df, self.cache.path, totals, items=self.items, interactions=self.ds.interactions,
                                    taxonomy=self.taxonomy)
        self.store.write(self.ds.name, cat.KNOWLEDGE_SUMMARY, summary, prov)

    # ---- layers ----------------------------------------------------------------------------------
    def category_taxonomy(self, category: str) -> dict:
        old = self.taxonomy["categories"].get(category)
        if (old is not None and not self.cfg.rebuild_taxonomy
                and all(old.get(p, {}).get("status") == "ok" for p in PERSPECTIVES)):
            self.reused["taxonomies"] += 1          # built before: Layer 3 keeps its dimensions (and cache keys)
            return old
        # both perspectives first, stored together: an outage in the second leaves the stored node as it was
        fresh = {p: agents.taxonomy_agent(self.ctx, self.ds, category, p) for p in PERSPECTIVES}
        subs = (old or {}).get("subcategories", {})
        # refinements of other Layer-1 labels are dropped (they are refined again from the new ones)
        subs = {s: v for s, v in subs.items()
                if all(v.get(p, {}).get("parent", (old or {}).get(p, {}).get("dimensions")) == fresh[p]["dimensions"]
                       for p in PERSPECTIVES)}
        node = {**fresh, "subcategories": subs}
        self.taxonomy["categories"][category] = node
        return node

    def subcategory_taxonomy(self, category: str, subcategory: str) -> dict:
        node = self.taxonomy["categories"][category]
        old = node["subcategories"].get(subcategory)
        if (old is not None and not self.cfg.rebuild_taxonomy
                and all(old.get(p, {}).get("status") == "ok"
                        and old[p].get("parent", node[p]["dimensions"]) == node[p]["dimensions"]
                        for p in PERSPECTIVES)):
            self.reused["refinements"] += 1
            return old
        sub = {}
        for persp in PERSPECTIVES:
            parent = node[persp]
            if parent["status"] != "ok":
                sub[persp] = {"reasoning_trace": "", "dimensions": [], "final": [], "status": "failed",
                              "error": f"parent {persp} taxonomy failed: {parent['error']}"}
                continue
            sub[persp] = agents.refinement_agent(self.ctx, self.ds, category, subcategory, persp, parent["dimensions"])
            if sub[persp]["status"] != "ok":
                # Stage 1 of Prompt 3 is "inherit from parent": when refinement fails, the subcategory keeps the
                # parent's dimensions unchanged, and says so, rather than leaving its items without knowledge.
                sub[persp] = {**sub[persp], "status": "ok", "final": list(parent["dimensions"]),
                              "dimensions": [{"label": d, "rationale": "inherited",
                                              "justification": "parent dimension kept: refinement failed",
                                              "mapped": []} for d in parent["dimensions"]],
                              "fallback": f"inherited the parent taxonomy; refinement failed after "
                                          f"{sub[persp]['attempts']} attempts: {sub[persp]['error']}",
                              "error": None}
        node["subcategories"][subcategory] = sub
        return sub

    def _row(self, item: dict, setup: str, category: str, subcategory: str, result: dict,
             dims: tuple[list[str], list[str]], template: str) -> dict:
        return {"item_id": str(item["item_id"]), "setup": setup, "status": result["status"],
                "failure_reason": result["failure_reason"],
                "user_demand": json.dumps(result["user_demand"], ensure_ascii=False),
                "product_attribute": json.dumps(result["product_attribute"], ensure_ascii=False),
                "grounding_rate": result["grounding_rate"], "template_hash": self.template_hashes[template],
                "model": self.backend.model, "created": _now(), "primary_category": category,
                "sub_category": subcategory, "dimensions_demand": json.dumps(dims[0]),
                "dimensions_attribute": json.dumps(dims[1]), "attempts": result["attempts"],
                "latency_s": result["latency_s"], "completion_tokens": result["completion_tokens"],
                "backend": self.backend.name}

    def _failed(self, reason: str) -> dict:
        return {"status": "failed", "failure_reason": reason, "user_demand": [], "product_attribute": [],
                "grounding_rate": float("nan"), "attempts": 0, "latency_s": 0.0, "completion_tokens": 0,
                "live_calls": 0}

    # ---- the run ---------------------------------------------------------------------------------
    def run(self) -> dict:
        known = set(self.ds.items["primary_category"].dropna())
        for c in self.cfg.categories:
            if c not in known:
                raise ReaSeqError(f"dataset '{self.ds.name}': no primary category '{c}' "
                                  f"(categories: {', '.join(sorted(known))})")
        selections = {c: self.selection(c) for c in self.cfg.categories}
        total = sum(len(s) for s in selections.values())
        sa_left = self.cfg.single_agent_limit
        fnames = inputs.field_names(self.ds.items)
        bar = tqdm(total=total, desc="knowledge", unit="item", disable=not self.progress, dynamic_ncols=True)
        try:
            done = self._run_categories(selections, total, sa_left, fnames, bar)
        except BackendUnavailable as e:
            self.write()          # everything finished so far; the item or taxonomy in flight has no entry yet
            raise e.with_note(f"knowledge build stopped after {self.done} of {total} items ({len(self.rows)} rows "
                              f"stored, nothing marked failed); run the same command again to continue") from None
        finally:
            bar.close()
        self.write()
        return {"items_selected": total, "items_processed": done, "stopped": self.stopped,
                "live_items": self.live_items, "live_seconds": round(self.live_seconds, 1),
                "cache_hits": self.cache.hits, "cache_misses": self.cache.misses, "reused": self.reused,
                "items_per_hour_live": round(3600 * self.live_items / self.live_seconds, 1) if self.live_seconds else None}

    def _run_categories(self, selections: dict, total: int, sa_left: int, fnames: str, bar) -> int:
        done = self.done = 0
        for category, sel in selections.items():
            if not len(sel):
                continue
            bar.set_description(f"{category}: taxonomy")
            self.category_taxonomy(category)
            self.write()
            subs = {}
            for sub in dict.fromkeys(sel["_sub"]):
                bar.set_description(f"{category}: refine {sub[:20]}")
                subs[sub] = self.subcategory_taxonomy(category, sub)
            self.write()
            if self.cfg.taxonomy_only:
                continue
            chunk_sa: list[tuple[dict, str]] = []

            def layer3(item: dict, subs=subs, category=category) -> dict:
                st = subs[item["_sub"]]
                if st["demand"]["status"] != "ok" or st["attribute"]["status"] != "ok":
                    return self._failed("; ".join(f"{p} taxonomy for '{item['_sub']}' failed: {st[p]['error']}"
                                                  for p in ("demand", "attribute") if st[p]["status"] != "ok"))
                return agents.item_knowledge_agent(self.ctx, item, f"{category} > {item['_sub']}",
                                                   st["demand"]["final"], st["attribute"]["final"], fnames)

            self._t_prev = time.perf_counter()
            for k, (item, result) in enumerate(self._results(sel.to_dict("records"), layer3)):
                sub = item["_sub"]
                st = subs[sub]
                dd, ad = st["demand"].get("final", []), st["attribute"].get("final", [])
                bar.set_description(f"{category}: {sub[:20]}")
                self.rows[(str(item["item_id"]), "multi_agent")] = self._row(
                    item, "multi_agent", category, sub, result, (dd, ad), "item_knowledge")
                self._account(result)
                if sa_left > 0 and k % max(1, self.cfg.single_agent_every) == 0:
                    chunk_sa.append((item, sub))
                    sa_left -= 1
                done += 1
                self.done = done
                bar.update(1)
                self._postfix(bar, total - done)
                if self.on_item:
                    self.on_item(done, total)
                if done % self.cfg.write_every == 0:
                    self._run_single_agent(chunk_sa, category, fnames)
                    chunk_sa = []
                    self.write()
                    self._t_prev = time.perf_counter()     # writing and the baseline are not Layer-3 time
            self._run_single_agent(chunk_sa, category, fnames)
            self.write()
            if self.stopped:
                break
        return done

    def _results(self, records: list[dict], fn: Callable[[dict], dict]):
        """(item, fn(item)) in order; with a backend that batches (max_concurrency > 1) up to that many items
        are in flight at once. Stops taking new items once should_stop() says so."""
        conc = int(getattr(self.backend, "max_concurrency", 1) or 1)
        if conc <= 1:
            for r in records:
                if self.should_stop():
                    self.stopped = True
                    return
                yield r, fn(r)
            return
        with ThreadPoolExecutor(conc) as ex:
            it = iter(records)
            pending = deque((r, ex.submit(fn, r)) for r in itertools.islice(it, conc))
            while pending:
                r, fut = pending.popleft()
                if fut.cancelled():           # a stop cancelled it before a worker took it: it never ran
                    continue
                try:
                    result = fut.result()
                except BaseException:
                    for _, f in pending:      # an outage (or any error): start nothing more
                        f.cancel()
                    raise
                yield r, result
                if self.should_stop():
                    self.stopped = True
                    for _, f in pending:
                        f.cancel()
                    continue
                nxt = next(it, None)
                if nxt is not None:
                    pending.append((nxt, ex.submit(fn, nxt)))

    def _run_single_agent(self, chunk: list[tuple[dict, str]], category: str, fnames: str) -> None:
        for item, sub in chunk:
            result = agents.single_agent(self.ctx, item, fnames)
            self.rows[(str(item["item_id"]), "single_agent")] = self._row(
                item, "single_agent", category, sub, result, ([], []), "single_agent")

    def _account(self, result: dict) -> None:
        """Items/hour of live Layer 3: the wall time between consecutive finished items is charged to the item
        that finished when it needed the model (with several items in flight, their latencies overlap)."""
        now = time.perf_counter()
        dt, self._t_prev = now - self._t_prev, now
        if result.get("live_calls"):
            self.live_items += 1
            self.live_seconds += dt

    def _postfix(self, bar, remaining: int) -> None:
        if self.live_seconds > 0:
            rate = 3600 * self.live_items / self.live_seconds
            eta_h = remaining / rate if rate else math.inf
            bar.set_postfix_str(f"{rate:.0f} items/h, ETA {eta_h:.1f} h, cache hits {self.cache.hits}")


def build_knowledge(ds, store: ArtifactStore, backend, config: BuildConfig, **kw) -> dict:
    return KnowledgeBuild(ds, store, backend, config, **kw).run()


def recheck_rows(store: ArtifactStore, dataset: str, now: str | None = None) -> dict:
    """Apply today's noise rules (schemas.noise_fields: punctuation runs in an analysis, a keyword or
    evidence entry without a word) to every stored ok row, with no LLM call. A row that breaks one becomes
    `failed` with the rule as its reason, so it is not counted as knowledge and the next build asks again
    (`--only-missing` skips only ok rows). The length-cap rule is not re-applied: rows built before it stay
    as they are (their cut analyses are reported by `reaseq knowledge grounding`)."""
    df = store.read(dataset, cat.ITEM_KNOWLEDGE)
    changed = []
    for i, r in df[df["status"] == "ok"].iterrows():
        entries = [(p, e) for p in ("user_demand", "product_attribute") for e in json.loads(r[p] or "[]")]
        bad = [(p, e["dimension"], w) for p, e in entries for w in schemas.noise_fields(e)]
        if bad:
            df.at[i, "status"] = "failed"
            df.at[i, "failure_reason"] = ("recheck " + (now or _now()) + ": " +
                                          "; ".join(f"{p} '{d}' {w}" for p, d, w in bad[:3]))
            changed.append(str(r["item_id"]))
    if changed:
        prov = {k: v for k, v in store.provenance(dataset, cat.ITEM_KNOWLEDGE).items()
                if k in ("templates", "model", "config")}
        prov["recheck"] = f"{len(changed)} row(s) failed today's noise rules (reaseq knowledge recheck)"
        store.write(dataset, cat.ITEM_KNOWLEDGE, df, prov)
        from .summary import rewrite_summary
        rewrite_summary(store, dataset)
    return {"rows_checked": int((df["status"] == "ok").sum()) + len(changed), "rows_failed_now": len(changed),
            "items": changed}
