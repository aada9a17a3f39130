"""`reaseq status` for the representation stage: vector counts and, per pool and arm, HR@k / macro recall
and SM-HR@k (in %, with the item, user and query counts)."""
from __future__ import annotations

from ..store import ArtifactStore
from .tables import ARM_LABELS, POOL_LABELS, SUBSET_CATALOGUE_LABEL

ARM_KEYS = {v: k for k, v in ARM_LABELS.items()}
POOL_KEYS = {**{v: k for k, v in POOL_LABELS.items()}, SUBSET_CATALOGUE_LABEL: "catalogue"}
VECTOR_ARTIFACTS = ("title_vectors.npz", "knowledge_vectors.npz", "single_agent_vectors.npz", "title_makr_vectors.npz")


def _per_arm(table: dict, prefix: str, count_col: str) -> dict:
    out = {}
    for r in table["rows"]:
        key = f"{POOL_KEYS.get(r['pool'], r['pool'])}/{ARM_KEYS.get(r['arm'], r['arm'])}"
        ks = {c: r[c] for c in table["columns"] if c.startswith(f"{prefix}@") and not c.endswith("_std")
              and r.get(c) is not None}
        out[key] = {"items": r["items"], count_col: r[count_col], "macro_recall": r["macro_recall"], **ks}
    return out


def status(store: ArtifactStore, dataset: str) -> dict | None:
    figures: dict = {}
    for name in VECTOR_ARTIFACTS:
        if store.exists(dataset, "representation", name):
            prov = store.provenance(dataset, "representation", name)
            figures[f"{name[:-4]}_items"] = prov.get("items")
    if store.exists(dataset, "representation", "table1_hr.json"):
        figures["hr_percent"] = _per_arm(store.read_json(dataset, "representation", "table1_hr.json"), "HR", "users")
    if store.exists(dataset, "representation", "table2_smhr.json"):
        figures["sm_hr_percent"] = _per_arm(store.read_json(dataset, "representation", "table2_smhr.json"),
                                            "SM-HR", "queries")
    if store.exists(dataset, "representation", "figure7_examples.json"):
        fig7 = store.read_json(dataset, "representation", "figure7_examples.json")
        figures["figure7_items"] = fig7["items"]
    return figures or None
