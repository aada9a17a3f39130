"""`reaseq status` for the representation stage: vector counts and, per pool and arm, HR@k / macro recall
and SM-HR@k (in %, with the item, user and query counts)."""
from __future__ import annotations

from .. import catalogue as cat
from ..store import ArtifactStore
from .tables import ARM_LABELS, POOL_LABELS, SUBSET_CATALOGUE_LABEL

ARM_KEYS = {v: k for k, v in ARM_LABELS.items()}
POOL_KEYS = {**{v: k for k, v in POOL_LABELS.items()}, SUBSET_CATALOGUE_LABEL: "catalogue"}
VECTOR_ARTIFACTS = (cat.TITLE_VECTORS, cat.KNOWLEDGE_VECTORS, cat.SINGLE_AGENT_VECTORS, cat.TITLE_MAKR_VECTORS)


def _per_arm(table: dict, prefix: str, count_col: str) -> dict:
    out = {}
    for r in table["rows"]:
        key = f"{POOL_KEYS.get(r['pool'], r['pool'])}/{ARM_KEYS.get(r['arm'], r['arm'])}"
        ks = {c: r[c] for c in table["columns"] if c.startswith(f"{prefix}@") and not c.endswith("_std")
              and r.get(c) is not None}
        out[key] = {"items": r["items"], count_col: r[count_col], "macro_recall": r["macro_recall"], **ks}
    return out


def status(store: ArtifactStore, dataset: str) -> dict | None:
    """Figures of the full run; each artifact not built yet is simply absent from them."""
    figures: dict = {}
    for art in VECTOR_ARTIFACTS:
        if store.exists(dataset, art):
            figures[f"{art.key}_items"] = store.provenance(dataset, art).get("items")
    if store.exists(dataset, cat.TABLE1_HR):
        figures["hr_percent"] = _per_arm(store.read(dataset, cat.TABLE1_HR), "HR", "users")
    if store.exists(dataset, cat.TABLE2_SMHR):
        figures["sm_hr_percent"] = _per_arm(store.read(dataset, cat.TABLE2_SMHR), "SM-HR", "queries")
    if store.exists(dataset, cat.FIGURE7_EXAMPLES):
        figures["figure7_items"] = store.read(dataset, cat.FIGURE7_EXAMPLES)["items"]
    return figures or None
