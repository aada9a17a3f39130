"""The answer of every knowledge agent, as pydantic models, plus the JSON schemas sent as grammars.

The grammar schemas are built per call: Layer 3's schema lists the item's taxonomy labels as an enum, so
a small model cannot invent a dimension; the pydantic check then rejects a missing or repeated one.
Lengths are bounded in both, which bounds the tokens an item costs.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..llm.structured import InvalidOutput

L1_MIN_DIMS, L1_MAX_DIMS = 4, 6        # Layer 1 taxonomy size
L2_MIN_DIMS, L2_MAX_DIMS = 4, 4        # Layer 2 refined dimensions per perspective (compact: tokens per item)
LABEL_MAX = 15                         # paper, Prompt 3: "a concise dimension label (<= 15 characters)"
ANALYSIS_MAX = 90
KEYWORD_MAX = 24
EVIDENCE_MAX = 40
SINGLE_AGENT_DIMS = 4


class TaxonomyAnswer(BaseModel):
    """Layer 1 (Prompts 1 and 2): clustering decisions, analysis, final dimension labels."""
    decisions: list[str] = Field(min_length=2, max_length=8)
    analysis: str = Field(max_length=400)
    dimensions: list[str] = Field(min_length=L1_MIN_DIMS, max_length=L1_MAX_DIMS)


class RefinedDimension(BaseModel):
    label: str = Field(min_length=2, max_length=LABEL_MAX)
    rationale: Literal["inherited", "adapted", "new"]
    justification: str = Field(max_length=160)
    mapped: list[str] = Field(min_length=1, max_length=4)


class RefinementAnswer(BaseModel):
    """Layer 2 (Prompt 3): reasoning trace, justified dimensions, final label list."""
    reasoning_trace: str = Field(max_length=600)
    dimensions: list[RefinedDimension] = Field(min_length=3, max_length=L2_MAX_DIMS)
    final: list[str] = Field(min_length=3, max_length=L2_MAX_DIMS)   # 3: after a label repair (see repair_refinement)


class KnowledgeEntry(BaseModel):
    dimension: str = Field(min_length=1, max_length=40)
    analysis: str = Field(min_length=3, max_length=ANALYSIS_MAX + 40)
    keywords: list[str] = Field(min_length=3, max_length=5)
    evidence: list[str] = Field(min_length=1, max_length=3)


class ItemKnowledgeAnswer(BaseModel):
    """Layer 3 (Prompt 4) and the single-agent baseline: per-perspective knowledge entries."""
    user_demand: list[KnowledgeEntry] = Field(min_length=1, max_length=6)
    product_attribute: list[KnowledgeEntry] = Field(min_length=1, max_length=6)


# ---- semantic checks the schema cannot express ------------------------------------------------------
def _norm(s: str) -> str:
    return " ".join(s.lower().split())


# Labels that name a metadata field rather than a dimension: a user-demand dimension is a motivation (Prompt 1,
# "user-centricity"), and no perspective's dimension is the bookkeeping of the data (rank, path, title).
FIELD_LABELS = {"title", "titles", "example title", "sales rank", "sales_rank", "rank", "category path", "category",
                "categories", "subcategory", "product title"}
NOT_DEMAND_LABELS = FIELD_LABELS | {"brand", "brands", "price", "product type", "product types", "product features",
                                    "user motivations", "user motivation", "user needs"}


def forbidden_labels(perspective: str) -> set[str]:
    return NOT_DEMAND_LABELS if perspective == "demand" else FIELD_LABELS


def _check_labels(labels: list[str], forbidden: set[str], perspective: str) -> None:
    bad = [x for x in labels if _norm(x) in forbidden]
    if bad:
        what = ("product fields or category names, not user motivations; replace them with reasons why users buy"
                if perspective == "demand" else "data fields (rank, path, title), not product properties")
        raise InvalidOutput(f"dimension label(s) {bad} are {what}")


def make_taxonomy_check(perspective: str, also_forbidden: set[str] = frozenset()):
    def check(ans: TaxonomyAnswer) -> None:
        dims = [_norm(d) for d in ans.dimensions]
        if len(set(dims)) != len(dims):
            raise InvalidOutput(f"repeated dimension label in {ans.dimensions}")
        if any(not d for d in dims):
            raise InvalidOutput("empty dimension label")
        _check_labels(ans.dimensions, forbidden_labels(perspective) | {_norm(x) for x in also_forbidden}, perspective)
    return check


def make_refinement_check(perspective: str, also_forbidden: set[str] = frozenset()):
    def check(ans: RefinementAnswer) -> None:
        check_refinement(ans)
        _check_labels([d.label for d in ans.dimensions], forbidden_labels(perspective) | {_norm(x) for x in also_forbidden},
                      perspective)
    return check


def repair_labels(raw: str, schema_model, labels_of, drop, forbidden: set[str], min_left: int):
    """Last resort after every attempt failed only because of forbidden labels: drop those labels, keep the
    answer if at least `min_left` remain. Returns (answer, note) or None. The note goes into the artifact, so
    a repaired answer is never mistaken for one the model produced as is."""
    from ..llm.structured import parse_json_tolerant
    try:
        ans = schema_model.model_validate(parse_json_tolerant(raw))
    except ValueError:   # not JSON, or not the schema (pydantic's ValidationError is a ValueError): not repairable,
        return None      # and the caller keeps the attempt's own failure reason
    bad = [x for x in labels_of(ans) if _norm(x) in forbidden]
    keep = [x for x in labels_of(ans) if _norm(x) not in forbidden]
    if not bad or len(keep) < min_left or len({_norm(x) for x in keep}) != len(keep):
        return None
    return drop(ans, {_norm(x) for x in bad}), f"repaired: removed label(s) {bad} that broke the label rule"


def repair_taxonomy(raw: str, perspective: str, also_forbidden: set[str]):
    forbidden = forbidden_labels(perspective) | {_norm(x) for x in also_forbidden}
    return repair_labels(raw, TaxonomyAnswer, lambda a: a.dimensions,
                         lambda a, bad: a.model_copy(update={"dimensions": [d for d in a.dimensions if _norm(d) not in bad]}),
                         forbidden, 3)


def repair_refinement(raw: str, perspective: str, also_forbidden: set[str]):
    forbidden = forbidden_labels(perspective) | {_norm(x) for x in also_forbidden}
    try:
        from ..llm.structured import parse_json_tolerant
        check_refinement(RefinementAnswer.model_validate(parse_json_tolerant(raw)))
    except ValueError:   # unparseable, off-schema or InvalidOutput: only answers that break nothing but the label
        return None      # rule are repaired; the caller keeps the attempt's own failure reason
    return repair_labels(raw, RefinementAnswer, lambda a: [d.label for d in a.dimensions],
                         lambda a, bad: a.model_copy(update={
                             "dimensions": [d for d in a.dimensions if _norm(d.label) not in bad],
                             "final": [f for f in a.final if _norm(f) not in bad]}),
                         forbidden, 3)


def check_refinement(ans: RefinementAnswer) -> None:
    labels = [_norm(d.label) for d in ans.dimensions]
    if len(set(labels)) != len(labels):
        raise InvalidOutput(f"repeated refined dimension label in {[d.label for d in ans.dimensions]}")
    if set(labels) != {_norm(f) for f in ans.final}:
        raise InvalidOutput(f"final taxonomy {ans.final} does not list the justified dimensions "
                            f"{[d.label for d in ans.dimensions]}")


def make_knowledge_check(demand_dims: list[str], attribute_dims: list[str]):
    """Every taxonomy dimension exactly once per perspective; nothing else."""
    def check(ans: ItemKnowledgeAnswer) -> None:
        for persp, want in (("user_demand", demand_dims), ("product_attribute", attribute_dims)):
            got = [_norm(e.dimension) for e in getattr(ans, persp)]
            missing = [d for d in want if _norm(d) not in got]
            if missing:
                raise InvalidOutput(f"{persp}: missing dimension(s) {missing}")
            extra = [e.dimension for e in getattr(ans, persp) if _norm(e.dimension) not in {_norm(d) for d in want}]
            if extra:
                raise InvalidOutput(f"{persp}: dimension(s) not in the taxonomy {extra}")
            if len(set(got)) != len(got):
                raise InvalidOutput(f"{persp}: a dimension appears twice")
    return check


def check_single_agent(ans: ItemKnowledgeAnswer) -> None:
    for persp in ("user_demand", "product_attribute"):
        got = [_norm(e.dimension) for e in getattr(ans, persp)]
        if len(set(got)) != len(got):
            raise InvalidOutput(f"{persp}: a dimension appears twice")


# ---- grammar schemas ------------------------------------------------------------------------------
def _str(max_len: int, min_len: int = 1) -> dict:
    return {"type": "string", "minLength": min_len, "maxLength": max_len}


def _arr(items: dict, lo: int, hi: int) -> dict:
    return {"type": "array", "items": items, "minItems": lo, "maxItems": hi}


def _obj(props: dict) -> dict:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def taxonomy_schema() -> dict:
    return _obj({"decisions": _arr(_str(120), 2, 4), "analysis": _str(200),
                 "dimensions": _arr(_str(24, 2), L1_MIN_DIMS, L1_MAX_DIMS)})


def refinement_schema() -> dict:
    dim = _obj({"label": _str(LABEL_MAX, 2), "rationale": {"type": "string", "enum": ["inherited", "adapted", "new"]},
                "justification": _str(70), "mapped": _arr(_str(25), 1, 2)})
    return _obj({"reasoning_trace": _str(250), "dimensions": _arr(dim, L2_MIN_DIMS, L2_MAX_DIMS),
                 "final": _arr(_str(LABEL_MAX, 2), L2_MIN_DIMS, L2_MAX_DIMS)})


def _entry(dimension: dict) -> dict:
    return _obj({"dimension": dimension, "analysis": _str(ANALYSIS_MAX, 3),
                 "keywords": _arr(_str(KEYWORD_MAX), 3, 5), "evidence": _arr(_str(EVIDENCE_MAX), 1, 2)})


def knowledge_schema(demand_dims: list[str], attribute_dims: list[str]) -> dict:
    return _obj({
        "user_demand": _arr(_entry({"type": "string", "enum": list(demand_dims)}), len(demand_dims), len(demand_dims)),
        "product_attribute": _arr(_entry({"type": "string", "enum": list(attribute_dims)}),
                                  len(attribute_dims), len(attribute_dims))})


def single_agent_schema() -> dict:
    e = _entry(_str(LABEL_MAX, 2))
    return _obj({"user_demand": _arr(e, SINGLE_AGENT_DIMS, SINGLE_AGENT_DIMS),
                 "product_attribute": _arr(e, SINGLE_AGENT_DIMS, SINGLE_AGENT_DIMS)})
