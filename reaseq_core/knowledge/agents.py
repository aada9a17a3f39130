"""The knowledge agents of paper section 2.1.1 (appendix B, Prompt Templates 1-4) and the single-agent
baseline. Each agent fills its template, asks the backend for schema-constrained JSON through the call
cache, validates the answer, and returns a plain dict in the shape of the artifact contract.

Layer 1  taxonomy_agent(perspective="demand" | "attribute")      per primary category
Layer 2  refinement_agent(perspective)                            per subcategory
Layer 3  item_knowledge_agent                                     per item, both perspectives in one answer
baseline single_agent                                             per item, no taxonomy
"""
from __future__ import annotations

import re

from dataclasses import dataclass, field

from ..llm.backend import LLMBackend
from ..llm.cache import CallCache
from ..llm.structured import DEFAULT_RETRY, LABEL_RETRY, RetryPolicy, call_structured
from . import inputs, schemas
from ..llm.structured import InvalidOutput
from .grounding import contradicted_entries, ground_knowledge
from .lines import KnowledgeLines
from .templates import load_template, render

# a line-format retry samples hotter from the original prompt with the error noted at its end: shown its
# previous answer, the model copied it token for token even at temperature 1.0 (top-p 0.95 keeps one token)
LINES_RETRY = RetryPolicy(temperatures=(0.0, 0.7, 1.0), show_previous_answer=False)
MAX_TOKENS = {"demand_taxonomy": 450, "attribute_taxonomy": 450, "dimension_refinement": 650,
              "item_knowledge": 900, "single_agent": 800}

PERSPECTIVE = {
    "demand": {"name": "user demand orientation",
               "focus": "user needs and motivations - why users seek items",
               "evidence": "demand patterns (what its product titles and user expressions say users want)",
               "mapped": "user expressions or needs"},
    "attribute": {"name": "product attribute orientation",
                  "focus": "intrinsic product properties - what items inherently are",
                  "evidence": "unique attributes (the fields and title terms of its items)",
                  "mapped": "item attributes or fields"},
}


@dataclass
class AgentContext:
    backend: LLMBackend
    cache: CallCache
    max_attempts: int = 3
    taxonomy_attempts: int = 5       # Layer 1 runs once per category and everything below depends on it
    refinement_attempts: int = 3     # Layer 2 falls back to the parent taxonomy when it fails (pipeline.py)
    single_agent_attempts: int | None = None   # None: max_attempts
    use_grammar: bool = True
    # A Layer-3 / single-agent entry that contradicts the item's fields (grounding.py) is always invalid. An
    # analysis that stops mid-sentence (schemas.unfinished_text) is invalid only when this is set: the shipped
    # caps cut most long analyses, and a rule every retry breaks would fail the item rather than fix it.
    reject_unfinished_text: bool = False
    templates: dict[str, str] = field(default_factory=dict)   # agent -> template text (prompt-lab overrides)
    # Layer 3's answer: "json" (one JSON object, schema grammar) or "lines" (one line per dimension, lines.py;
    # with the embedded backend its labels and separators are inserted and several items decode in parallel)
    layer3_output: str = "json"

    def template(self, agent: str) -> str:
        if agent not in self.templates:
            self.templates[agent] = load_template(agent)
        return self.templates[agent]


def _category_names(ds, category: str, perspective: str) -> set[str]:
    """Names in the category's paths: no dimension is one of them (a demand dimension says why users seek
    items, not what the catalogue calls them; an attribute dimension is an aspect items differ in, not a
    subcategory). For demand the parts of a compound name too ("Cooking, Food & Wine" -> Cooking, Food, Wine)."""
    names = {inputs.clean_text(c) for p in inputs.category_items(ds, category)["category_path"] for c in p}
    if perspective != "demand":
        return names
    parts = {x.strip() for n in names for x in re.split(r",|&| and ", n) if x.strip()}
    return names | parts


def _messages(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def taxonomy_agent(ctx: AgentContext, ds, category: str, perspective: str) -> dict:
    """Layer 1: the category's demand (Prompt 1) or attribute (Prompt 2) taxonomy. Labels are decoded under
    the label rules (schemas.label_problem): a repeat, a data field or a trailing function word cannot be
    produced by the embedded model, and is refused (then avoided by the retry) with any other backend."""
    agent = "demand_taxonomy" if perspective == "demand" else "attribute_taxonomy"
    if perspective == "demand":
        kind, lines = inputs.demand_inputs(ds, category)
        prompt = render(agent, ctx.template(agent), category=category, input_kind_text=inputs.KIND_TEXT[kind],
                        expressions="\n".join(f"- {x}" for x in lines))
    else:
        kind, lines = inputs.attribute_inputs(ds, category)
        prompt = render(agent, ctx.template(agent), category=category, input_kind_text=inputs.KIND_TEXT[kind],
                        attributes="\n".join(f"- {x}" for x in lines))
    names = _category_names(ds, category, perspective)
    words = schemas.category_words_refused(category, perspective)
    res = call_structured(ctx.backend, ctx.cache, agent=agent, subject=category, messages=_messages(prompt),
                          schema_model=schemas.TaxonomyAnswer, json_schema=schemas.taxonomy_schema(),
                          max_tokens=MAX_TOKENS[agent], max_attempts=max(ctx.max_attempts, ctx.taxonomy_attempts),
                          check=schemas.make_taxonomy_check(perspective, names, words), use_grammar=ctx.use_grammar,
                          retry=LABEL_RETRY,
                          label_constraint=schemas.label_constraint(("dimensions", "*"), perspective, names,
                                                                    schemas.L1_NEW_WORD_CHARS, words,
                                                                    schemas.TAXONOMY_TEXT_FIELDS))
    out = {"dimensions": [], "reasoning": "", "decisions": [], "input_kind": kind, "inputs_sample": lines[:60],
           "status": "ok" if res.ok else "failed", "error": res.error, "attempts": res.attempts, "repair": None,
           "label_guard": res.label_guard, "avoided": list(res.avoided)}
    value = res.value
    if not res.ok:
        fixed = schemas.repair_taxonomy(res.raw, perspective, names, words)
        if fixed is not None:
            value, out["repair"] = fixed
            out.update(status="ok", error=None)
    if value is not None:
        v = value
        out.update(dimensions=[d.strip() for d in v.dimensions], reasoning=v.analysis, decisions=v.decisions)
    return out


def refinement_agent(ctx: AgentContext, ds, category: str, subcategory: str, perspective: str,
                     parent_dimensions: list[str]) -> dict:
    """Layer 2 (Prompt 3): the parent taxonomy refined for one subcategory, with its reasoning trace. Labels
    follow Layer 1's rules; each dimension's rationale is made to match its label and says what changed
    from the parent (schemas.annotate_changes); `final` is the labels in order."""
    agent = "dimension_refinement"
    p = PERSPECTIVE[perspective]
    samples = inputs.subcategory_samples(ds, category, subcategory, perspective)
    prompt = render(agent, ctx.template(agent), perspective_name=p["name"], perspective_focus=p["focus"],
                    evidence_name=p["evidence"], mapped_name=p["mapped"], category=category,
                    parent_dimensions=", ".join(parent_dimensions), subcategory=subcategory,
                    samples="\n".join(f"- {s}" for s in samples))
    names = _category_names(ds, category, perspective)
    words = schemas.category_words_refused(category, perspective, parent_dimensions)
    res = call_structured(ctx.backend, ctx.cache, agent=agent, subject=f"{category} > {subcategory} [{perspective}]",
                          messages=_messages(prompt), schema_model=schemas.RefinementAnswer,
                          json_schema=schemas.refinement_schema(), max_tokens=MAX_TOKENS[agent],
                          max_attempts=max(ctx.max_attempts, ctx.refinement_attempts),
                          check=schemas.make_refinement_check(perspective, names, words), use_grammar=ctx.use_grammar,
                          retry=LABEL_RETRY,
                          label_constraint=schemas.label_constraint(("dimensions", "*", "label"), perspective, names,
                                                                    schemas.L2_NEW_WORD_CHARS, words,
                                                                    schemas.REFINEMENT_TEXT_FIELDS))
    out = {"reasoning_trace": "", "dimensions": [], "final": [], "status": "ok" if res.ok else "failed",
           "error": res.error, "attempts": res.attempts, "inputs_sample": samples, "repair": None,
           "parent": list(parent_dimensions), "label_guard": res.label_guard, "avoided": list(res.avoided)}
    value = res.value
    if not res.ok:
        fixed = schemas.repair_refinement(res.raw, perspective, names, words)
        if fixed is not None:
            value, out["repair"] = fixed
            out.update(status="ok", error=None)
    if value is not None:
        v = value
        dims = [{"label": d.label.strip(), "rationale": d.rationale, "justification": d.justification,
                 "mapped": d.mapped} for d in v.dimensions]
        out.update(reasoning_trace=v.reasoning_trace, final=[d["label"] for d in dims],
                   dimensions=schemas.annotate_changes(dims, parent_dimensions))
    return out


def knowledge_check(base, fields: dict, reject_unfinished_text: bool = False):
    """The Layer-3 / single-agent validation: `base` (dimensions), then no entry may contradict the item's
    fields (gender, size, price, category: grounding.contradiction), then (optionally) no analysis may stop
    mid-sentence. A broken rule raises InvalidOutput: the answer is retried, and recorded failed after the
    last attempt; it is never accepted as is."""
    def check(ans) -> None:
        if base is not None:
            base(ans)
        knowledge = {p: [e.model_dump() for e in getattr(ans, p)] for p in ("user_demand", "product_attribute")}
        bad = contradicted_entries(knowledge, fields)
        if bad:
            raise InvalidOutput("contradicts the item's data: " + "; ".join(
                f"{p} '{d}' {why}" for p, d, why in bad[:4]))
        if reject_unfinished_text:
            cut = [(p, e["dimension"], w) for p, es in knowledge.items() for e in es
                   for w in schemas.unfinished_fields(e)]
            if cut:
                raise InvalidOutput("text cut short: " + "; ".join(f"{p} '{d}' {w}" for p, d, w in cut[:4]))
    return check


def _knowledge_row(res, fields: dict) -> dict:
    row = {"status": "ok" if res.ok else "failed", "failure_reason": None if res.ok else res.error,
           "user_demand": [], "product_attribute": [], "grounding_rate": float("nan"), "attempts": res.attempts,
           "latency_s": round(res.latency_s, 3), "completion_tokens": res.completion_tokens,
           "live_calls": res.live_calls, "raw": res.raw}
    if res.ok:
        knowledge = {p: [e.model_dump() for e in getattr(res.value, p)] for p in ("user_demand", "product_attribute")}
        grounded, rate = ground_knowledge(knowledge, fields)
        row.update(user_demand=grounded["user_demand"], product_attribute=grounded["product_attribute"],
                   grounding_rate=rate)
    return row


def item_knowledge_agent(ctx: AgentContext, item: dict, category_context: str, demand_dims: list[str],
                         attribute_dims: list[str], field_names: str) -> dict:
    """Layer 3 (Prompt 4): evidence-grounded knowledge for one item along its subcategory's dimensions.
    The prompt lists instructions and dimensions first and the item last (prefix reuse across items)."""
    agent = "item_knowledge"
    fields = inputs.item_fields(item)
    prompt = render(agent, ctx.template(agent), field_names=field_names, category_path=category_context,
                    demand_dimensions=", ".join(demand_dims), attribute_dimensions=", ".join(attribute_dims),
                    item=inputs.render_item(fields))
    lines = ctx.layer3_output == "lines"
    if ctx.layer3_output not in ("json", "lines"):
        raise ValueError(f"layer3_output must be 'json' or 'lines', not {ctx.layer3_output!r}")
    res = call_structured(ctx.backend, ctx.cache, agent=agent, subject=str(item["item_id"]), messages=_messages(prompt),
                          schema_model=schemas.ItemKnowledgeAnswer,
                          json_schema=schemas.knowledge_schema(demand_dims, attribute_dims),
                          max_tokens=MAX_TOKENS[agent], max_attempts=ctx.max_attempts,
                          check=knowledge_check(schemas.make_knowledge_check(demand_dims, attribute_dims), fields,
                                                ctx.reject_unfinished_text), use_grammar=ctx.use_grammar,
                          text_format=KnowledgeLines(demand_dims, attribute_dims) if lines else None,
                          retry=LINES_RETRY if lines else DEFAULT_RETRY)
    return _knowledge_row(res, fields)


def single_agent(ctx: AgentContext, item: dict, field_names: str) -> dict:
    """Baseline: one prompt, the item in, knowledge out, no taxonomy (the paper's Figure 7 foil)."""
    agent = "single_agent"
    fields = inputs.item_fields(item)
    prompt = render(agent, ctx.template(agent), field_names=field_names, item=inputs.render_item(fields))
    res = call_structured(ctx.backend, ctx.cache, agent=agent, subject=str(item["item_id"]), messages=_messages(prompt),
                          schema_model=schemas.ItemKnowledgeAnswer, json_schema=schemas.single_agent_schema(),
                          max_tokens=MAX_TOKENS[agent], max_attempts=ctx.single_agent_attempts or ctx.max_attempts,
                          check=knowledge_check(schemas.check_single_agent, fields, ctx.reject_unfinished_text),
                          use_grammar=ctx.use_grammar)
    return _knowledge_row(res, fields)
