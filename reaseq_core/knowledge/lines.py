"""Layer 3's compact answer: one line per dimension instead of a JSON object, same content.

    [user demand]
    Skin Comfort: The gel soothes dry skin after shaving. | soothing; dry skin; aftershave | title
    ...
    [product attribute]
    Size: The bottle holds 1.3 ounces. | 1.3 oz; bottle; travel size | 1.3 Ounces

Each line carries what a JSON entry carries (dimension, analysis, keywords, evidence), without repeating
the four keys, quotes and brackets for every dimension: ~40% fewer tokens per item. With the embedded
backend the headers, the dimension labels and the separators are inserted, not generated (llm/slots.py),
and each analysis is one sentence the model ends itself. `parse` turns the text back into the JSON shape
`schemas.ItemKnowledgeAnswer` validates, so both formats pass the same checks (dimensions, grounding,
contradictions, unfinished text) and are stored alike.
"""
from __future__ import annotations

import re

from ..llm.slots import Program, Slot

HEADERS = {"user_demand": "[user demand]", "product_attribute": "[product attribute]"}
ANALYSIS = Slot("text", "|", max_tokens=26, soft_tokens=15)
KEYWORDS = Slot("list", "|", min_items=3, max_items=4, item_tokens=5)
EVIDENCE = Slot("list", "\n", min_items=1, max_items=2, item_tokens=10)


class KnowledgeLines:
    """The text format of one Layer-3 answer for a subcategory's dimensions (call_structured `text_format`)."""

    retry_noun = "answer, every line in the same format"

    def __init__(self, demand_dims: list[str], attribute_dims: list[str]):
        self.dims = {"user_demand": list(demand_dims), "product_attribute": list(attribute_dims)}

    def describe(self) -> dict:
        """What shapes the answer (it goes into the call key)."""
        return {"format": "knowledge_lines/1", "dims": self.dims,
                "slots": [ANALYSIS.describe(), KEYWORDS.describe(), EVIDENCE.describe()]}

    def program(self) -> Program:
        steps: list = []
        lit = ""
        for persp, dims in self.dims.items():
            lit += HEADERS[persp] + "\n"
            for d in dims:
                steps += [lit + f"{d}:", ANALYSIS, KEYWORDS, EVIDENCE]
                lit = ""
        return Program(tuple(steps))

    def example(self) -> str:
        """A well-formed answer with placeholder content (plumbing tests)."""
        out = []
        for persp, dims in self.dims.items():
            out.append(HEADERS[persp])
            out += [f"{d}: The item says nothing about this. | alpha; beta; gamma | title" for d in dims]
        return "\n".join(out) + "\n"

    def parse(self, text: str) -> dict:
        return parse_lines(text)


_HEADER_OF = {v: k for k, v in HEADERS.items()}


def parse_lines(text: str) -> dict:
    """The JSON shape of an answer in the line format. Raises ValueError naming the line that breaks it."""
    out: dict[str, list] = {"user_demand": [], "product_attribute": []}
    section = None
    lines = str(text).replace("\r", "").strip().strip("`").split("\n")
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        key = re.sub(r"[*#\s]+", " ", line).strip().lower()
        if key in _HEADER_OF:
            section = _HEADER_OF[key]
            continue
        if section is None:
            raise ValueError(f"line {no}: '{line[:60]}' comes before the [user demand] header")
        label, colon, rest = line.partition(":")
        if not colon:
            raise ValueError(f"line {no}: no 'dimension:' at the start of '{line[:60]}'")
        parts = rest.split("|")
        if len(parts) != 3:
            raise ValueError(f"line {no} ('{label.strip()[:30]}'): {len(parts)} field(s), expected 3 separated by '|' "
                             "(analysis | keywords | evidence)")
        analysis, kws, ev = (p.strip() for p in parts)
        out[section].append({"dimension": label.strip().strip("*").strip(), "analysis": analysis,
                             "keywords": [k.strip() for k in kws.split(";") if k.strip()],
                             "evidence": [e.strip() for e in ev.split(";") if e.strip()]})
    if not out["user_demand"] and not out["product_attribute"]:
        raise ValueError("no dimension lines found")
    return out
