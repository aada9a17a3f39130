"""The knowledge part of `reaseq status`: items with knowledge per category and setup, failures with
reasons, grounding rate per setup, measured items/hour."""
from __future__ import annotations

from .. import catalogue as cat
from ..store import ArtifactStore


def status(store: ArtifactStore, dataset: str) -> dict | None:
    if not store.exists(dataset, cat.KNOWLEDGE_SUMMARY):      # the stage has not run: nothing to report
        return None
    s = store.read(dataset, cat.KNOWLEDGE_SUMMARY)
    out: dict = {}
    for category, setups in sorted(s["categories"].items()):
        for setup, f in setups.items():
            total = f.get("items_total")
            first = f.get("first_attempt_ok_share")
            out[f"{category} / {setup}"] = (f"{f['items_ok']} ok" + (f" of {total}" if total else "")
                                            + f", {f['items_failed']} failed"
                                            + (f", {first:.0%} valid at the first attempt" if first is not None else ""))
    for category, t in sorted((s.get("taxonomy") or {}).items()):
        l1 = ", ".join(f"{p} {v['status']} at attempt {v['attempts']}" + (" (repaired)" if v["repaired"] else "")
                       for p, v in t["layer1"].items())
        out[f"taxonomy {category}"] = (f"Layer 1: {l1}; Layer 2: {t['layer2_subcategories']} subcategories, "
                                       f"{t['layer2_first_attempt']} of {t['layer2_refinements']} refinements at the "
                                       f"first attempt, {t['layer2_repaired']} repaired, {t['layer2_fallback']} "
                                       "fell back to the parent"
                                       + (f"; today's rules: {len(t['rules']['labels_refused'])} of "
                                          f"{t['rules']['labels']} labels refused, {len(t['rules']['texts_cut'])} of "
                                          f"{t['rules']['texts']} texts end mid-sentence"
                                          + (f", {len(t['rules']['unknown_words'])} labels with a word in no "
                                             "dictionary" if "unknown_words" in t["rules"] else "")
                                          if "rules" in t else ""))
    for setup, f in s["setups"].items():
        out[f"grounding rate ({setup})"] = f.get("grounding_rate")
        out[f"items/hour ({setup})"] = f.get("items_per_hour")
        out[f"generated tokens/s ({setup})"] = f.get("generated_tokens_per_s")
        if f.get("failure_reasons"):
            out[f"failure reasons ({setup})"] = f["failure_reasons"]
    for setup, c in (s.get("coverage") or {}).items():
        out[f"coverage ({setup})"] = (f"{c['items']:,} items with knowledge"
                                      + (f" of {c['items_total']:,}" if c.get("items_total") else "")
                                      + f"; {c['interaction_share']:.1%} of {c['interactions_total']:,} interactions")
    for agent, t in (s["call_log"].get("throughput") or {}).items():
        out[f"items/hour from the call log ({agent})"] = (f"{t['items_per_hour']} ({t['items']} items, "
                                                          f"{t['parallel_calls']} of {t['calls']} calls in parallel slots)")
    out["llm calls"] = s["call_log"]["calls"]
    return out
