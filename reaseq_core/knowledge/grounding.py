"""Grounding check: is the evidence an agent cites for a knowledge entry supported by the item's metadata?

The paper (2.1.1, Layer 3) asks agents to cite the attributes or metadata fields behind each
characterization, and claims this "enables downstream verification"; it does not measure it. Here every
evidence string of an entry is checked against the item fields the agent was shown (inputs.item_fields):
- a field name ("title", "brand", "price", "attributes.<key>", an attribute key) is supported when that
  field is present and non-empty for the item;
- "field: value" is supported when the field is present and the value's words occur in that field;
- any other string is a quoted phrase, supported when at least two thirds of its content words (and at
  least one) occur in the item's metadata text.
An entry is grounded when it cites at least one piece of evidence and all of it is supported. The
grounding rate of an item is the share of its entries that are grounded.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
STOPWORDS = {"a", "an", "the", "and", "or", "of", "for", "with", "in", "on", "to", "by", "is", "it", "its", "this",
             "that", "as", "at", "be", "from", "item", "product", "field", "value", "s"}
FIELD_ALIASES = {"title": "title", "name": "title", "product title": "title", "brand": "brand",
                 "price": "price", "sales rank": "sales_rank", "sales_rank": "sales_rank", "salesrank": "sales_rank",
                 "rank": "sales_rank", "category": "category", "category path": "category",
                 "category_path": "category", "categories": "category", "description": "description",
                 "attributes": "attributes", "details": "attributes"}
SUPPORT_SHARE = 2 / 3


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def _flat(fields: dict) -> dict[str, str]:
    """Field name -> text, with attributes flattened to 'attributes.<key>' and their bare keys."""
    out = {}
    for k, v in fields.items():
        if isinstance(v, dict):
            out["attributes"] = "; ".join(f"{a}: {b}" for a, b in v.items())
            for a, b in v.items():
                out[f"attributes.{a.lower()}"] = str(b)
                out.setdefault(a.lower(), str(b))
        else:
            out[k] = str(v)
    return out


def _field_of(name: str, flat: dict[str, str]) -> str | None:
    n = " ".join(name.strip().strip("'\"` ").lower().replace("-", " ").split())
    if n in flat:
        return n
    if n.replace(" ", "_") in flat:
        return n.replace(" ", "_")
    alias = FIELD_ALIASES.get(n)
    if alias is not None:
        return alias
    if n.startswith(("attribute ", "attributes.")):
        key = n.split(".", 1)[-1] if "." in n else n.split(" ", 1)[1]
        return f"attributes.{key}"
    return None


def _phrase_supported(phrase: str, haystack: set[str], haystack_text: str) -> bool:
    ws = words(phrase)
    if not ws:
        return False
    if " ".join(ws) in haystack_text:
        return True
    return sum(w in haystack for w in ws) / len(ws) >= SUPPORT_SHARE


def check_evidence(evidence: str, fields: dict) -> tuple[bool, str]:
    """(supported, why) for one cited piece of evidence."""
    flat = _flat(fields)
    all_text = " ".join(flat.values())
    all_words = set(words(all_text))
    ev = evidence.strip()
    if not ev:
        return False, "empty evidence"
    field = _field_of(ev, flat)
    if field is not None:
        if flat.get(field, "").strip():
            return True, f"field '{field}' present"
        return False, f"cites field '{field}', which this item does not have"
    if ":" in ev:
        head, value = ev.split(":", 1)
        field = _field_of(head, flat)
        if field is not None:
            if not flat.get(field, "").strip():
                return False, f"cites field '{field}', which this item does not have"
            fw = set(words(flat[field]))
            if _phrase_supported(value, fw, " ".join(words(flat[field]))):
                return True, f"value found in field '{field}'"
            return False, f"'{value.strip()}' is not in field '{field}'"
    if _phrase_supported(ev, all_words, " ".join(words(all_text))):
        return True, "phrase found in the item"
    return False, f"'{ev}' is not in the item's metadata"


def ground_entry(entry: dict, fields: dict) -> dict:
    """The entry with 'grounded' and 'grounding_note' added."""
    ev = [e for e in entry.get("evidence") or [] if isinstance(e, str)]
    if not ev:
        return {**entry, "grounded": False, "grounding_note": "no evidence cited"}
    results = [(e, *check_evidence(e, fields)) for e in ev]
    bad = [f"{why}" for e, ok, why in results if not ok]
    return {**entry, "grounded": not bad, "grounding_note": "; ".join(bad) if bad else "all evidence supported"}


def ground_knowledge(knowledge: dict, fields: dict) -> tuple[dict, float]:
    """Ground every entry of {'user_demand': [...], 'product_attribute': [...]}; returns (knowledge, rate)."""
    out, n, ok = {}, 0, 0
    for persp in ("user_demand", "product_attribute"):
        out[persp] = [ground_entry(e, fields) for e in knowledge.get(persp, [])]
        n += len(out[persp])
        ok += sum(e["grounded"] for e in out[persp])
    return out, (ok / n if n else 0.0)
