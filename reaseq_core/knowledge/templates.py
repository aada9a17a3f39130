"""Prompt templates: plain text files in `prompts/<agent>.txt` that a person edits.

Placeholders are `${name}` (string.Template); a literal dollar sign is `$$`. A template's sha256 goes into
the provenance of everything made with it, so an edited prompt never mixes silently with old outputs.
"""
from __future__ import annotations

import hashlib
import string
from pathlib import Path

from ..errors import ReaSeqError

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"

# Paper appendix B: Prompt 1 (demand taxonomy), 2 (attribute taxonomy), 3 (refinement), 4 (item knowledge);
# plus the single-agent baseline of Figure 7.
AGENTS = {
    "demand_taxonomy": "Layer 1, user demand orientation (Prompt Template 1)",
    "attribute_taxonomy": "Layer 1, product attribute taxonomy (Prompt Template 2)",
    "dimension_refinement": "Layer 2, dimension refinement per subcategory (Prompt Template 3)",
    "item_knowledge": "Layer 3, item-specific knowledge generation (Prompt Template 4)",
    "single_agent": "single-agent baseline: item in, knowledge out, no taxonomy (Figure 7 foil)",
}


# Variants of an agent's template for another answer format: (agent, format) -> file stem
VARIANTS = {("item_knowledge", "lines"): "item_knowledge_lines"}


def load_variant(agent: str, fmt: str) -> str:
    """The shipped template of `agent` for answer format `fmt` ("json" is the agent's own file)."""
    if fmt == "json":
        return load_template(agent)
    stem = VARIANTS.get((agent, fmt))
    if stem is None:
        raise ReaSeqError(f"agent '{agent}' has no template for the '{fmt}' answer format")
    return (PROMPT_DIR / f"{stem}.txt").read_text(encoding="utf-8")


def template_path(agent: str) -> Path:
    if agent not in AGENTS:
        raise ReaSeqError(f"unknown agent '{agent}'; agents are {', '.join(AGENTS)}")
    return PROMPT_DIR / f"{agent}.txt"


def load_template(agent: str) -> str:
    p = template_path(agent)
    if not p.exists():
        raise ReaSeqError(f"{p}: prompt template missing")
    return p.read_text(encoding="utf-8")


def template_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def placeholders(text: str) -> set[str]:
    return {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)
            if m.group("named") or m.group("braced")}


def render(agent: str, text: str, **values) -> str:
    """Fill a template; a missing or unknown placeholder is an error naming the agent and the name."""
    need = placeholders(text)
    missing = sorted(need - set(values))
    if missing:
        raise ReaSeqError(f"prompt template '{agent}': no value for placeholder(s) {', '.join('${' + m + '}' for m in missing)}")
    try:
        return string.Template(text).substitute(**{k: str(v) for k, v in values.items()})
    except ValueError as e:
        raise ReaSeqError(f"prompt template '{agent}': {e} (write a literal dollar sign as $$)") from None
