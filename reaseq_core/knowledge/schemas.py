"""The answer of every knowledge agent, as pydantic models, plus the JSON schemas sent as grammars, plus the
label rules of the taxonomies.

The grammar schemas are built per call: Layer 3's schema lists the item's taxonomy labels as an enum, so
a small model cannot invent a dimension; the pydantic check then rejects a missing or repeated one.
Lengths are bounded in both, which bounds the tokens an item costs.

Taxonomy labels (Layers 1 and 2) are 1-3 whole words (the grammar's pattern), and `label_problem` refuses a
label that repeats an earlier one or contains one (orthogonal dimensions), repeats a word, ends in a function
word, names a data field, is a placeholder, holds an opinion or filler word, copies a prompt example, names
a category (for demand also a part of a compound category name) or (demand) names a product field. The same rule runs twice: while decoding,
as a label constraint (llm/label_guard.py: a refused label cannot be closed, so it cannot be produced), and
after decoding, as validation (for backends that cannot decode with it).

Which labels name data fields (refused in both perspectives): the bookkeeping of the catalogue, whose
value says nothing about what a product is or why it is bought: title / name, identifiers (ASIN, UPC, SKU,
model number), catalogue position (category, path, subcategory, sales rank), logistics (shipping, shipping /
item / package weight, product / package dimensions), listing dates, images, links, descriptions, reviews.
Brand and price are fields too, but their values characterise the product (maker; price level), so the
attribute taxonomy may keep them as dimensions (Beauty has no merchant key-values: brand and price are two
of its few structured product properties); a demand dimension is a motivation, so there the field is
refused and its motivation form is asked for ("Budget", "Brand Loyalty").
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from ..llm.label_guard import LabelConstraint
from ..llm.structured import InvalidOutput

L1_MIN_DIMS, L1_MAX_DIMS = 4, 6        # Layer 1 taxonomy size
L2_MIN_DIMS, L2_MAX_DIMS = 4, 4        # Layer 2 refined dimensions per perspective (compact: tokens per item)
LABEL_MAX = 15                         # single-agent labels (its schema is unchanged: shipped cache keys)
LABEL_WORDS = 3                        # taxonomy labels: 1-3 whole words, never cut at a character cap
L1_NEW_WORD_CHARS = 24                 # no word starts once a Layer-1 label is this long
L2_NEW_WORD_CHARS = 12                 # Layer 2: keeps labels near the paper's "<= 15 characters" (Prompt 3)
ANALYSIS_MAX = 90
# Layers 1-2 text fields: caps with room for the short sentences the prompts ask for (at 70 characters, most
# justifications were cut; a text that still ends mid-sentence is reported, not refused: make_taxonomy_check)
L1_DECISION_MAX, L1_ANALYSIS_MAX = 160, 300
L2_TRACE_MAX, L2_JUSTIFICATION_MAX = 400, 120
KEYWORD_MAX = 24
EVIDENCE_MAX = 40
SINGLE_AGENT_DIMS = 4

# a word: an acronym (SPF), or letters with no capital inside, optionally 's and one hyphenated part
# (Women's, Anti-Aging); "&" may join words. No capital inside a word and no free apostrophe: a word cannot
# be glued onto another ("MasksFor") or trail off ("title' ico").
_PART = "[A-Za-z][a-z]{0,19}"
_WORD = f"([A-Z]{{2,4}}|{_PART}('s)?(-{_PART})?)"
LABEL_PATTERN = f"^{_WORD}( ({_WORD}|&)){{0,{LABEL_WORDS - 1}}}$"
_LABEL_RE = re.compile(LABEL_PATTERN)

class TaxonomyAnswer(BaseModel):
    """Layer 1 (Prompts 1 and 2): clustering decisions, analysis, final dimension labels."""
    decisions: list[str] = Field(min_length=2, max_length=8)
    analysis: str = Field(max_length=400)
    dimensions: list[str] = Field(min_length=L1_MIN_DIMS, max_length=L1_MAX_DIMS)


class RefinedDimension(BaseModel):
    label: str = Field(min_length=2, max_length=130)    # at most 3 words (LABEL_PATTERN)
    rationale: Literal["inherited", "adapted", "new"]
    justification: str = Field(max_length=160)
    mapped: list[str] = Field(min_length=1, max_length=4)


class RefinementAnswer(BaseModel):
    """Layer 2 (Prompt 3): reasoning trace and justified dimensions. The paper's third part, the final label
    list, is the justified labels in order: the agent builds it (agents.py), so the two cannot disagree."""
    reasoning_trace: str = Field(max_length=600)
    dimensions: list[RefinedDimension] = Field(min_length=3, max_length=L2_MAX_DIMS)   # 3: after a label repair


class KnowledgeEntry(BaseModel):
    dimension: str = Field(min_length=1, max_length=40)
    analysis: str = Field(min_length=3, max_length=ANALYSIS_MAX + 110)   # the line format caps tokens, not characters
    keywords: list[str] = Field(min_length=3, max_length=5)
    evidence: list[str] = Field(min_length=1, max_length=3)


class ItemKnowledgeAnswer(BaseModel):
    """Layer 3 (Prompt 4) and the single-agent baseline: per-perspective knowledge entries."""
    user_demand: list[KnowledgeEntry] = Field(min_length=1, max_length=6)
    product_attribute: list[KnowledgeEntry] = Field(min_length=1, max_length=6)


# ---- label rules -----------------------------------------------------------------------------------
def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def _singular(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def label_key(label: str) -> str:
    """What two labels must differ in: case, spacing, hyphens / underscores, apostrophes and plural -s aside."""
    words = re.sub(r"[_\-/]", " ", label.lower().replace("'", "")).split()
    return " ".join(_singular(w) for w in words)


def _keys(labels) -> set[str]:
    return {label_key(x) for x in labels}


# A label ending in one of these is cut short ("Gift for", "Price over the", "Cluttered but"): articles,
# prepositions, possessives and demonstratives, conjunctions, pronouns, auxiliaries.
FUNCTION_WORDS = {"a", "an", "the", "of", "over", "and", "or", "nor", "for", "with", "without", "to", "in", "on",
                  "at", "by", "from", "into", "onto", "per", "as", "than", "vs", "via", "about", "under", "between",
                  "across", "your", "their", "its", "our", "my", "his", "her", "this", "that", "these", "those", "&",
                  "but", "yet", "so", "if", "because", "while", "although", "though", "unless", "whether", "when",
                  "where", "which", "who", "whose", "it", "i", "we", "you", "they", "is", "are", "was", "were", "be",
                  "been", "has", "have", "had", "can", "will", "not", "very"}
# Data fields: catalogue bookkeeping, identifiers, logistics (see the module docstring for why).
FIELD_LABELS = _keys([
    "title", "product title", "item title", "example title", "name", "product name", "item name",
    "asin", "upc", "ean", "isbn", "sku", "id", "item id", "product id", "model", "model number", "model num",
    "item model number", "item model num", "part number", "category", "category path", "subcategory",
    "sub category", "sales rank", "sales_rank", "salesrank", "rank", "best sellers rank", "weight", "item weight",
    "shipping weight", "package weight", "product weight", "dimension", "product dimension", "item dimension",
    "package dimension", "product dim", "shipping", "domestic shipping", "international shipping", "shipping info",
    "date first available", "date first listed", "release date", "image", "image url", "imurl", "url", "link",
    "related", "also bought", "also viewed", "bought together", "description", "product description", "detail",
    "product detail", "review", "customer review", "rating", "star rating"])
# Placeholders: words about taxonomies, not a dimension of one.
PLACEHOLDER_LABELS = _keys([
    "attribute", "product attribute", "item attribute", "product", "item", "feature", "product feature",
    "item feature", "other", "misc", "miscellaneous", "general", "user need", "user motivation", "motivation",
    "need", "demand", "user demand", "user", "customer", "info", "information", "data", "property",
    "product property", "characteristic", "aspect", "none", "unknown", "null", "nothing", "not applicable"])
# Words that name a data field wherever they stand in a label ("Product Category", "Title and Brand",
# "Product Name": the title under another name).
FIELD_WORDS = frozenset(_keys(["title", "name", "category", "subcategory", "rank", "asin", "upc", "ean", "isbn", "sku",
                               "url", "imurl", "description", "detail", "path"]))
# A label starting with one of these is a leftover bin ("Other Skin Care"), not a dimension.
BIN_WORDS = frozenset(_keys(["other", "misc", "miscellaneous", "general", "various"]))
# Opinion and filler words copied from reviews ("Cluttered but nice", "A really great", "Pop Culture etcetera")
# or standing in for a dimension ("None of above", "Unknown Dimension"): a label names a dimension, not a
# verdict on an item. Refused wherever they stand in a label.
OPINION_WORDS = frozenset(_keys([
    "nice", "great", "good", "bad", "awesome", "amazing", "lovely", "really", "excellent", "perfect", "wonderful",
    "terrible", "horrible", "cluttered", "best", "worst", "favorite", "favourite", "etc", "etcetera", "stuff",
    "thing", "okay", "none", "unknown", "dimension"]))
# A label starting with an article is a phrase lifted from a text ("A really great"), not a dimension name.
ARTICLES = frozenset({"a", "an", "the"})
# The prompts' example labels (Layer 1 illustrates labels with office chairs, a category of neither shipped
# dataset): a small model copies the examples it is shown, so a copy is refused.
PROMPT_EXAMPLE_LABELS = _keys(["Armrest Type", "Backrest Material", "Seat Height Range", "Long Work Hours",
                               "Posture Support", "Home Office Setup"])
# Words of those examples that belong to office chairs, per perspective: a label holding one is a near-copy
# ("Long Workhours", "Postural Support", "Home Setup", "Long-Working Environment"), which the exact-label rule
# above lets through. These word forms are refused and cannot be written. (Refusing every word that merely
# starts with such a stem made the model invent "Posturality" at every retry, so Skin Care's Layer 1 ended in
# a repair; a made-up form is reported by the dictionary check instead.)
PROMPT_EXAMPLE_WORDS = {
    "demand": frozenset(_keys(["work", "works", "working", "worker", "workhours", "workday", "workplace", "hours",
                               "posture", "postural", "support", "supportive", "office", "officer", "setup", "chair"])),
    "attribute": frozenset(_keys(["armrest", "backrest", "seat", "seating", "chair"])),
}
# The examples' words glued into one ("Longworkhours", "Homeofficesetup", "Posturerecovery": with the word
# forms banned, the model wrote them without spaces). A label word holding one of these is refused; shorter
# example words ("work", "seat") are not searched inside words ("Artwork", "Seattle").
PROMPT_EXAMPLE_GLUED = {"demand": ("workhour", "posture", "postural", "office", "setup"),
                        "attribute": ("armrest", "backrest")}
# A word this long is words glued together ("Entertainmentinfo", "Entertainmentsupport": Magazine's Arts, Music &
# Photography, once the examples' words were refused); English label words stop short of it ("Entertainment" 13,
# "Personalization" 15).
GLUED_WORD_LETTERS = 16
# The prompts' own vocabulary for what a label is ("product aspect", "attributes", "motivations"): a label made
# of it names no dimension of any category. Cannot be written either.
PROMPT_META_WORDS = frozenset(_keys(["aspect", "attribute", "motivation", "expression", "taxonomy", "cluster",
                                     "orthogonal", "perspective"]))
# Demand only: product fields, where a demand dimension names why users buy ("Budget", not "Price").
NOT_DEMAND_LABELS = _keys(["brand", "manufacturer", "price", "product type", "type"])


def forbidden_labels(perspective: str) -> set[str]:
    """Label keys a perspective refuses (besides category names and repeats)."""
    return FIELD_LABELS | PLACEHOLDER_LABELS | (NOT_DEMAND_LABELS if perspective == "demand" else set())


def demand_name_words(category: str) -> frozenset:
    """The words of a primary category's name ("Bath & Body" -> bath, body): a demand label holding one names
    the category ("Fragrance and Gender", "Body Care"), not why its buyers buy."""
    return frozenset(w for w in label_key(re.sub(r"[^A-Za-z' ]+", " ", category)).split() if w not in FUNCTION_WORDS)


def category_words_refused(category: str | None, perspective: str, parent: list[str] = ()) -> frozenset:
    """The words a label of `perspective` may not hold for `category`: demand_name_words for demand labels
    (none for attribute labels or without a category), less the words a parent label holds (Layer 2: an
    inherited label stays valid)."""
    if perspective != "demand" or not category:
        return frozenset()
    return demand_name_words(category) - {w for d in parent for w in label_key(str(d)).split()}


def label_problem(label: str, earlier: list[str], perspective: str, also_forbidden: set[str] = frozenset(),
                  avoid: tuple[str, ...] = (), forbidden_words: frozenset = frozenset()) -> str | None:
    """Why `label` cannot follow `earlier` in a taxonomy of `perspective`, or None when it can. The text before
    the first colon names the kind of problem (the label guard counts them)."""
    s = label.strip()          # the grammar allows no outer spaces; a label still being decoded may end in one
    if not s:
        return "empty: an empty label"
    if not _LABEL_RE.match(s):
        return f"form: '{label}' is not 1-{LABEL_WORDS} whole words of letters"
    key = label_key(s)
    words = key.split()
    if len(set(words)) != len(words):
        return f"repeated word: '{label}' repeats a word"
    if key in _keys(earlier):
        return f"repeated: '{label}' repeats an earlier label"
    for e in earlier:       # LabelConstraint.no_overlap: the guard steers away from this while decoding
        if set(label_key(e).split()) <= set(words):
            return f"overlap: '{label}' contains the earlier label '{e}' (dimensions must not overlap)"
    if s.split()[-1].lower() in FUNCTION_WORDS:
        return f"function word: '{label}' ends in '{s.split()[-1]}'"
    if key in FIELD_LABELS or set(words) & FIELD_WORDS:
        return f"data field: '{label}' names a data field, not a product property or user motivation"
    if key in PLACEHOLDER_LABELS or words[0] in BIN_WORDS:
        return f"placeholder: '{label}' names no dimension"
    if key in PROMPT_EXAMPLE_LABELS or set(words) & PROMPT_EXAMPLE_WORDS.get(perspective, frozenset()):
        return f"prompt example: '{label}' copies an example of the prompt, not a dimension of this category"
    if any(len(p) >= GLUED_WORD_LETTERS for w in words for p in w.split("-")):
        return f"glued words: '{label}' holds a word of {GLUED_WORD_LETTERS} or more letters, words written together"
    if any(g in w for w in words for g in PROMPT_EXAMPLE_GLUED.get(perspective, ())):
        return (f"prompt example: '{label}' glues words of the prompt's examples together, not a dimension of "
                f"this category")
    if set(words) & PROMPT_META_WORDS:
        return f"prompt word: '{label}' repeats the prompt's word for a dimension instead of naming one"
    if set(words) & OPINION_WORDS or words[0] in ARTICLES:
        return (f"opinion: '{label}' holds an opinion, a filler word or a phrase lifted from a text (a label "
                f"names what differs between items or buyers)")
    if perspective == "demand" and key in NOT_DEMAND_LABELS:
        return (f"product field: '{label}' is a product field, not a user motivation (name why users buy, "
                f"e.g. Budget instead of Price)")
    if set(words) & forbidden_words:
        return (f"category word: '{label}' holds a word of the category's name "
                f"({', '.join(sorted(set(words) & forbidden_words))}), not a user motivation")
    if key in _keys(also_forbidden):
        what = "a user motivation" if perspective == "demand" else "a product aspect"
        return f"category name: '{label}' is a category name, not {what}"
    if key in _keys(avoid):
        return f"avoided: '{label}' was refused in an earlier attempt"
    return None


def check_labels(labels: list[str], perspective: str, also_forbidden: set[str] = frozenset(),
                 what: str = "dimension label", forbidden_words: frozenset = frozenset()) -> None:
    """Raise InvalidOutput naming every refused label and why (the labels go to the retry's avoid list)."""
    problems, bad = [], []
    for i, x in enumerate(labels):
        why = label_problem(x, labels[:i], perspective, also_forbidden, forbidden_words=forbidden_words)
        if why:
            problems.append(why.split(": ", 1)[1])
            bad.append(x)
    if problems:
        raise InvalidOutput(f"{what}(s) refused: " + "; ".join(problems), labels=bad)


def label_constraint(path: tuple[str, ...], perspective: str, also_forbidden: set[str], new_word_chars: int,
                     forbidden_words: frozenset = frozenset(), text_fields: tuple = ()):
    """The factory call_structured calls per attempt: the label rules as a decoding constraint, plus the
    labels refused by earlier attempts. `forbidden_words` (demand_name_words) cannot be written either.
    `text_fields` ((path, cap), ...: TAXONOMY_TEXT_FIELDS, REFINEMENT_TEXT_FIELDS) are the answer's sentence
    fields, which the guard makes end a sentence within their caps."""
    forbidden = sorted(_keys(also_forbidden))

    def make(avoid: tuple[str, ...]) -> LabelConstraint:
        def refuse(label: str, earlier: list[str]) -> str | None:
            return label_problem(label, earlier, perspective, also_forbidden, avoid, forbidden_words)
        rules = {"version": 1, "perspective": perspective, "words": LABEL_WORDS, "pattern": LABEL_PATTERN,
                 "category_names": forbidden, "avoid": sorted(_keys(avoid))}
        if forbidden_words:         # named only when set, so the keys of calls made before it existed stay valid
            rules["category_words"] = sorted(forbidden_words)
        refused = (FIELD_LABELS | PLACEHOLDER_LABELS | PROMPT_EXAMPLE_LABELS | _keys(avoid)
                   | _keys(also_forbidden) | (NOT_DEMAND_LABELS if perspective == "demand" else set()))

        def refused_keys(earlier: list[str]) -> set[str]:
            return refused | _keys(earlier)
        return LabelConstraint(path, refuse, max_words=LABEL_WORDS, new_word_chars=new_word_chars, rules=rules,
                               banned_words=(FIELD_WORDS | OPINION_WORDS | PROMPT_META_WORDS | forbidden_words
                                             | PROMPT_EXAMPLE_WORDS.get(perspective, frozenset())),
                               banned_first_words=BIN_WORDS | ARTICLES,
                               word_key=label_key, last_word_bans=frozenset(FUNCTION_WORDS), refused_keys=refused_keys,
                               no_overlap=True, text_fields=tuple(text_fields))
    return make


def make_taxonomy_check(perspective: str, also_forbidden: set[str] = frozenset(),
                        forbidden_words: frozenset = frozenset()):
    """Layer 1's rules on the labels (check_labels). Its texts are not refused when they end mid-sentence: with
    the answer shown again, the model repeated the same unfinished texts at every retry (docs/results.md); the
    stored texts are checked and reported instead (summary.taxonomy_rule_check)."""
    def check(ans: TaxonomyAnswer) -> None:
        check_labels(ans.dimensions, perspective, also_forbidden, forbidden_words=forbidden_words)
    return check


def make_refinement_check(perspective: str, also_forbidden: set[str] = frozenset(),
                          forbidden_words: frozenset = frozenset()):
    """Layer 2's rules on the refined labels (check_labels); its texts as for Layer 1."""
    def check(ans: RefinementAnswer) -> None:
        check_labels([d.label for d in ans.dimensions], perspective, also_forbidden, "refined dimension label",
                     forbidden_words)
    return check


def repair_labels(raw: str, schema_model, labels_of, drop, refused, min_left: int):
    """Last resort after every attempt failed only because of refused labels: drop those labels, keep the
    answer if at least `min_left` remain. Returns (answer, note) or None. The note goes into the artifact, so
    a repaired answer is never mistaken for one the model produced as is."""
    from ..llm.structured import parse_json_tolerant
    try:
        ans = schema_model.model_validate(parse_json_tolerant(raw))
    except ValueError:   # not JSON, or not the schema (pydantic's ValidationError is a ValueError): not repairable,
        return None      # and the caller keeps the attempt's own failure reason
    labels = labels_of(ans)
    bad = [x for i, x in enumerate(labels) if refused(x, labels[:i])]
    keep = [x for x in labels if x not in bad]
    if not bad or len(keep) < min_left or any(refused(x, keep[:i]) for i, x in enumerate(keep)):
        return None
    return drop(ans, set(bad)), f"repaired: removed label(s) {bad} that broke the label rules"


def repair_taxonomy(raw: str, perspective: str, also_forbidden: set[str], forbidden_words: frozenset = frozenset()):
    return repair_labels(raw, TaxonomyAnswer, lambda a: a.dimensions,
                         lambda a, bad: a.model_copy(update={"dimensions": [d for d in a.dimensions if d not in bad]}),
                         lambda x, earlier: label_problem(x, earlier, perspective, also_forbidden,
                                                          forbidden_words=forbidden_words), 3)


def repair_refinement(raw: str, perspective: str, also_forbidden: set[str], forbidden_words: frozenset = frozenset()):
    return repair_labels(raw, RefinementAnswer, lambda a: [d.label for d in a.dimensions],
                         lambda a, bad: a.model_copy(update={"dimensions": [d for d in a.dimensions
                                                                            if d.label not in bad]}),
                         lambda x, earlier: label_problem(x, earlier, perspective, also_forbidden,
                                                          forbidden_words=forbidden_words), 3)


# ---- Layer 2: what changed from the parent -------------------------------------------------------------
def annotate_changes(dimensions: list[dict], parent: list[str]) -> list[dict]:
    """Make each refined dimension's rationale match what it did, and say what changed from the parent.

    Rule: `inherited` means the parent's label unchanged (same label_key); a changed label is `adapted` or
    `new`. The model's word is kept where it agrees with the labels; a changed label it called inherited
    becomes `adapted` when it shares a word with a parent label, else `new`; an unchanged label it called
    adapted / new becomes `inherited`. Adds `rationale_model` (the model's word), `parent` (the parent label
    it comes from, None for new or where no parent label shares a word) and `change` (one readable line).
    Idempotent; older taxonomies are annotated the same way when they are next written."""
    by_key = {label_key(p): p for p in parent}
    out = []
    for d in dimensions:
        label = d["label"]
        claimed = d.get("rationale_model", d.get("rationale"))
        same = by_key.get(label_key(label))
        words = set(label_key(label).split())
        related = [p for p in parent if words & set(label_key(p).split())]
        if same is not None:
            rationale, src, change = "inherited", same, f"unchanged from the parent's '{same}'"
        elif claimed == "new":
            rationale, src, change = "new", None, "new for this subcategory"
        elif related:
            rationale, src = "adapted", related[0]
            change = f"adapted from the parent's '{related[0]}'"
        elif claimed == "adapted":
            rationale, src, change = "adapted", None, "adapted (no parent label shares a word with it)"
        else:
            rationale, src, change = "new", None, "new for this subcategory (called inherited, but no parent has it)"
        out.append({**d, "rationale": rationale, "rationale_model": claimed, "parent": src, "change": change})
    return out


CHANGE_KINDS = ("inherited", "adapted", "new", "dropped")


def parent_diff(dimensions: list[dict], parent: list[str]) -> list[dict]:
    """What a Layer-2 refinement changed from its parent taxonomy, one row per label: parent label, refined
    label, change (inherited / adapted / new / dropped) and a note. Parent labels come first in their order
    (each with the refined label that keeps or adapts it, or 'dropped'), then the new labels. Works on stored
    refinements with or without annotate_changes' fields (they are recomputed from the labels).
      parent [Gender, Occasion, Budget], refined [Gender, Event Type, Skin Type]  (Event Type called adapted)
      -> Gender/Gender inherited; Occasion/- dropped; Budget/- dropped; -/Event Type adapted (no parent label
         shares a word with it); -/Skin Type new"""
    dims = annotate_changes([{k: v for k, v in d.items() if k not in ("parent", "change")} for d in dimensions],
                            parent)
    rows, used = [], set()
    for p in parent:
        hit = next((d for i, d in enumerate(dims) if i not in used and d["parent"] == p), None)
        if hit is None:
            rows.append({"parent": p, "refined": None, "change": "dropped", "note": "not in the refinement"})
            continue
        used.add(dims.index(hit))
        rows.append({"parent": p, "refined": hit["label"], "change": hit["rationale"], "note": hit["change"]})
    for i, d in enumerate(dims):
        if i not in used:
            rows.append({"parent": None, "refined": d["label"], "change": d["rationale"], "note": d["change"]})
    return rows


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


def _label() -> dict:
    return {"type": "string", "pattern": LABEL_PATTERN}


# the sentence fields of the taxonomy answers, with their caps in the grammar (label_constraint's text_fields)
TAXONOMY_TEXT_FIELDS = ((("decisions", "*"), L1_DECISION_MAX), (("analysis",), L1_ANALYSIS_MAX))
REFINEMENT_TEXT_FIELDS = ((("reasoning_trace",), L2_TRACE_MAX), (("dimensions", "*", "justification"),
                                                                  L2_JUSTIFICATION_MAX))


def taxonomy_schema() -> dict:
    return _obj({"decisions": _arr(_str(L1_DECISION_MAX), 2, 4), "analysis": _str(L1_ANALYSIS_MAX),
                 "dimensions": _arr(_label(), L1_MIN_DIMS, L1_MAX_DIMS)})


def refinement_schema() -> dict:
    dim = _obj({"label": _label(), "rationale": {"type": "string", "enum": ["inherited", "adapted", "new"]},
                "justification": _str(L2_JUSTIFICATION_MAX), "mapped": _arr(_str(25), 1, 2)})
    return _obj({"reasoning_trace": _str(L2_TRACE_MAX), "dimensions": _arr(dim, L2_MIN_DIMS, L2_MAX_DIMS)})


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


# ---- text fields end where a sentence ends -------------------------------------------------------------
TERMINAL = (".", "!", "?", "…")


def unfinished_text(text: str, cap: int | None = None) -> str | None:
    """Why a generated sentence field (an analysis, a reasoning trace, a justification) stops short, or None.
    A finished text ends with '.', '!' or '?' (closing quotes / brackets after it allowed). Otherwise it is cut:
    - 'mid-word': it ends inside a word (at the field's length cap, or on a character that ends no word);
    - 'mid-sentence': it ends after a function word ("...which are common in"), a comma / colon / dash, or a
      whole word without a full stop ("...in the Men's Eau").
      >>> unfinished_text("The item is for women.") is None
      True
      >>> unfinished_text("...which are common in")
      "mid-sentence: ends after 'in'"
      >>> unfinished_text("...sets, and sc", cap=15)
      "mid-word: ends at the 15-character cap inside 'sc'"
    """
    t = str(text or "").rstrip()
    if not t:
        return None
    body = t.rstrip("\"'”’)]»")
    if body.endswith(TERMINAL):
        return None
    last = re.split(r"[\s,;:/(]+", body)[-1] if body else ""
    if cap is not None and len(str(text)) >= cap - 1 and body[-1:].isalnum():
        return f"mid-word: ends at the {cap}-character cap inside '{last}'"
    if body[-1:] and not body[-1].isascii():
        return f"mid-word: ends on '{body[-1]}'"
    if body[-1:] in ",;:-–—(&":
        return f"mid-sentence: ends with '{body[-1]}'"
    if last.lower() in FUNCTION_WORDS or last.lower() in {"such", "like"}:
        return f"mid-sentence: ends after '{last}'"
    return f"mid-sentence: no full stop after '{last}'"


_GARBLE = re.compile(r"(?:[^\w\s]\s*){5,}")      # five punctuation marks in a row: ". . . (. . .)"


def garbled_text(text: str) -> str | None:
    """Why a generated text is punctuation noise, or None ('...which is high-quality. . . . (. . .)')."""
    m = _GARBLE.search(str(text or ""))
    return f"garbled: '{m.group(0).strip()[:20]}'" if m else None


def noise_fields(entry: dict) -> list[str]:
    """'field: why' for each text field of an entry that is noise: an analysis with punctuation runs, a keyword
    or evidence entry without a letter or digit."""
    out = []
    why = garbled_text(entry.get("analysis", ""))
    if why:
        out.append(f"analysis: {why}")
    for f in ("keywords", "evidence"):
        bad = [x for x in entry.get(f) or [] if not any(ch.isalnum() for ch in str(x)) or garbled_text(x)]
        if bad:
            out.append(f"{f}: no word in {bad[:2]}")
    return out


def unfinished_fields(entry: dict, cap: int | None = ANALYSIS_MAX) -> list[str]:
    """'field: why' for each text field of a Layer-3 / single-agent entry that stops short (its analysis)
    or is noise (noise_fields)."""
    why = unfinished_text(entry.get("analysis", ""), cap)
    noise = noise_fields(entry)
    if why:                                   # a cut analysis is reported as cut, noise or not
        noise = [f"analysis: {why}"] + [n for n in noise if not n.startswith("analysis:")]
    return noise


def taxonomy_text_fields(taxonomy: dict) -> list[dict]:
    """Every sentence field of a taxonomy artifact: Layer 1's reasoning (its analysis) and decisions, Layer 2's
    reasoning trace and justifications. Rows: category, subcategory (None for Layer 1), perspective, field,
    text."""
    out = []
    for cat_name, node in (taxonomy.get("categories") or {}).items():
        for persp in ("demand", "attribute"):
            l1 = node.get(persp) or {}
            for fname, text in [("reasoning", l1.get("reasoning", ""))] + [
                    (f"decisions[{i}]", d) for i, d in enumerate(l1.get("decisions") or [])]:
                out.append({"category": cat_name, "subcategory": None, "perspective": persp, "field": fname,
                            "text": text})
        for sub, s in (node.get("subcategories") or {}).items():
            for persp in ("demand", "attribute"):
                l2 = s.get(persp) or {}
                out += [{"category": cat_name, "subcategory": sub, "perspective": persp, "field": fname, "text": text}
                        for fname, text in [("reasoning_trace", l2.get("reasoning_trace", ""))] + [
                            (f"dimensions[{i}].justification", d.get("justification", ""))
                            for i, d in enumerate(l2.get("dimensions") or [])]]
    return out


def unfinished_taxonomy_fields(taxonomy: dict) -> list[dict]:
    """The sentence fields of a taxonomy artifact (taxonomy_text_fields) that stop short, each with `why`."""
    return [{**r, "why": why} for r in taxonomy_text_fields(taxonomy) if (why := unfinished_text(r["text"]))]
