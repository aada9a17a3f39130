"""The Python API behind the app's prompt lab: list and load the agents' templates, save edited versions,
pick a backend, and run one agent over a few items with progress and a stop button.

Saved versions live in the artifact store (catalogue entry `prompt_version`, one file per agent and sha12); the
shipped templates in reaseq_core/knowledge/prompts/ are never overwritten from here.
"""
from __future__ import annotations

from typing import Callable

from .. import catalogue as cat
from ..data import load_dataset
from ..errors import ReaSeqError
from ..llm.factory import make_backend as _make_backend
from ..store import ArtifactStore
from . import agents, inputs
from .pipeline import call_cache
from .templates import AGENTS, load_template as _load_template


def list_agents() -> list[str]:
    return list(AGENTS)


def load_template(agent: str) -> str:
    return _load_template(agent)


def save_template_version(dataset: str, agent: str, text: str, store: ArtifactStore | None = None) -> str:
    """Store an edited template; returns its sha12. Refuses a template whose placeholders differ from the
    shipped one (the agent could not fill it). The same as promotion.save_version (saving the same text again
    keeps the stored file)."""
    from .promotion import save_version
    return save_version(store or ArtifactStore(), dataset, agent, text)


def make_backend(kind: str = "embedded", base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None):
    return _make_backend(kind, base_url=base_url, model=model, api_key=api_key)


def run_agent_on_items(dataset: str, agent: str, template_text: str, item_ids: list[str], backend,
                       progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None, store: ArtifactStore | None = None) -> list[dict]:
    """Run one agent with `template_text` on items: Layer 3 / single-agent per item; Layer 1 / Layer 2 on the
    items' categories / subcategories. Calls go through the dataset's call cache. Layer 3 needs the
    taxonomy built by `reaseq knowledge build` for the items' subcategories."""
    store = store or ArtifactStore()
    if agent not in AGENTS:
        raise ReaSeqError(f"unknown agent '{agent}'; agents are {', '.join(AGENTS)}")
    ds = inputs.without_constant_attributes(load_dataset(dataset, store))
    ctx = agents.AgentContext(backend, call_cache(store, dataset), templates={agent: template_text})
    by_id = ds.items.set_index("item_id", drop=False)
    missing = [i for i in item_ids if i not in by_id.index]
    if missing:
        raise ReaSeqError(f"dataset '{dataset}': unknown item id(s) {missing[:5]}")
    fnames = inputs.field_names(ds.items)
    needs_taxonomy = agent in ("item_knowledge", "dimension_refinement")
    taxonomy = store.read(dataset, cat.TAXONOMY) if needs_taxonomy else None
    out: list[dict] = []
    done_subjects: set = set()
    for n, iid in enumerate(item_ids):
        if should_stop and should_stop():
            break
        item = by_id.loc[iid].to_dict()
        category = item["primary_category"]
        sub = inputs.subcategory_of(item, category)
        rec = {"item_id": iid, "status": "failed", "output": None, "raw": "", "error": None, "latency_s": 0.0}
        if agent in ("demand_taxonomy", "attribute_taxonomy", "dimension_refinement"):
            subject = (category,) if agent != "dimension_refinement" else (category, sub)
            if (agent, subject) in done_subjects:
                rec.update(status="skipped", error=f"same {'category' if len(subject) == 1 else 'subcategory'} as an earlier item")
                out.append(rec)
                continue
            done_subjects.add((agent, subject))
            if agent == "dimension_refinement":
                parent = taxonomy["categories"].get(category, {})
                res = {}
                for persp in ("demand", "attribute"):
                    if parent.get(persp, {}).get("status") != "ok":
                        raise ReaSeqError(f"no Layer 1 {persp} taxonomy for '{category}': run `reaseq knowledge build "
                                          f"--dataset {dataset} --category \"{category}\"` first")
                    res[persp] = agents.refinement_agent(ctx, ds, category, sub, persp, parent[persp]["dimensions"])
                ok = all(r["status"] == "ok" for r in res.values())
                err = "; ".join(r["error"] for r in res.values() if r["error"]) or None
            else:
                persp = "demand" if agent == "demand_taxonomy" else "attribute"
                res = agents.taxonomy_agent(ctx, ds, category, persp)
                ok, err = res["status"] == "ok", res["error"]
            rec.update(status="ok" if ok else "failed", output=res, error=None if ok else err)
        else:
            if agent == "item_knowledge":
                st = taxonomy["categories"].get(category, {}).get("subcategories", {}).get(sub)
                if not st or st["demand"]["status"] != "ok" or st["attribute"]["status"] != "ok":
                    raise ReaSeqError(f"no refined taxonomy for '{category} > {sub}': run `reaseq knowledge build "
                                      f"--dataset {dataset} --category \"{category}\"` first")
                r = agents.item_knowledge_agent(ctx, item, f"{category} > {sub}", st["demand"]["final"],
                                                st["attribute"]["final"], fnames)
            else:
                r = agents.single_agent(ctx, item, fnames)
            rec.update(status=r["status"], raw=r.get("raw", ""), error=r["failure_reason"], latency_s=r["latency_s"],
                       output={"user_demand": r["user_demand"], "product_attribute": r["product_attribute"],
                               "grounding_rate": r["grounding_rate"]} if r["status"] == "ok" else None)
        out.append(rec)
        if progress:
            progress(n + 1, len(item_ids))
    return out
