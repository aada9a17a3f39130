"""`build_sids` through the artifact store: the vector source picks the catalogue entries, a small run is written
beside the full one, the knowledge space keeps title vectors for items without knowledge, and the SID table
reads the reports of its own run. Synthetic clustered vectors with a tiny RQ-VAE (plumbing, not quality)."""
from __future__ import annotations

import numpy as np
import pytest

from reaseq_core import catalogue as cat
from reaseq_core.errors import MissingArtifact
from reaseq_core.semantic_ids.build import build_sids
from reaseq_core.semantic_ids.cli import format_report
from reaseq_core.semantic_ids.rqvae import RQVAEConfig
from reaseq_core.semantic_ids.status import status
from reaseq_core.store import ArtifactStore

TINY = RQVAEConfig(latent_dim=4, levels=3, codebook_size=8, epochs=2, batch_size=64, kmeans_iters=3)


@pytest.fixture()
def store(tmp_path) -> ArtifactStore:
    """A temporary store with a dataset card, title vectors for 120 items and knowledge vectors for 30."""
    rng = np.random.default_rng(0)
    s = ArtifactStore(tmp_path)
    s.write("toy", cat.DATASET_CARD, {"dataset": "toy", "content_hash": "toyhash", "counts": {}, "coverage": {},
                                      "categories": {}, "ingest_report": {}})
    ids = np.array([f"i{n:03d}" for n in range(120)])
    centres = rng.normal(size=(6, 16))
    title = centres[rng.integers(6, size=120)] + 0.1 * rng.normal(size=(120, 16))
    title /= np.linalg.norm(title, axis=1, keepdims=True)
    s.write("toy", cat.TITLE_VECTORS, {"item_ids": ids, "vectors": title.astype(np.float32)})
    s.write("toy", cat.KNOWLEDGE_VECTORS, {"item_ids": ids[::4],
                                           "vectors": (2 * rng.normal(size=(30, 16))).astype(np.float32)})
    return s


def test_sources_write_their_own_entries(store):
    title = build_sids("toy", store, vectors="title", cfg=TINY, show_progress=False)
    assert store.read("toy", cat.SIDS)["item_id"].tolist() == [f"i{n:03d}" for n in range(120)]
    assert not store.exists("toy", cat.KNOWLEDGE_SIDS)
    assert title["report"]["coverage"]["knowledge"] == 0
    knowledge = build_sids("toy", store, vectors="knowledge", cfg=TINY, show_progress=False)
    cov = store.read("toy", cat.KNOWLEDGE_SID_REPORT)["coverage"]
    assert cov["knowledge"] == 30 and cov["title"] == 90 and "title vector" in cov["rule"]
    assert store.provenance("toy", cat.KNOWLEDGE_SIDS)["coverage"] == cov
    assert knowledge["report"]["vector_mean_sq_norm"] == pytest.approx(1.0, abs=1e-5)   # normalised once
    weights = store.read("toy", cat.KNOWLEDGE_RQVAE)
    assert weights["config"]["epochs"] == 2 and "adapter.weight" in weights["state_dict"]
    table = store.read("toy", cat.SID_TABLE)
    assert table["name"] == "sid_table" and table["dataset_hash"] == "toyhash"
    assert [(r["vectors"], r["items_with_knowledge"]) for r in table["rows"]] == \
        [("title", 0), ("title", 0), ("knowledge", 30), ("knowledge", 30)]
    st = status(store, "toy")
    assert st["vectors"] == "title" and st["from_knowledge_vectors"]["coverage"]["knowledge"] == 30
    assert "knowledge vectors" in format_report(knowledge["report"])


def test_small_run_stays_beside_the_full_one(store):
    build_sids("toy", store, vectors="title", cfg=TINY, show_progress=False, run=cat.SMALL_RUN)
    for art in (cat.SIDS, cat.SID_REPORT, cat.RQVAE, cat.SID_TABLE):
        assert store.exists("toy", art, run=cat.SMALL_RUN) and not store.exists("toy", art)
        assert store.path("toy", art, run=cat.SMALL_RUN).parent.name == cat.SMALL_RUN
    assert status(store, "toy") is None                      # status shows the full run only
    with pytest.raises(MissingArtifact, match="reaseq sid build --dataset toy --vectors knowledge --small"):
        store.read("toy", cat.KNOWLEDGE_SIDS, run=cat.SMALL_RUN)


def test_missing_title_vectors_name_the_command(tmp_path):
    with pytest.raises(MissingArtifact, match="reaseq represent build --dataset toy --title-only"):
        build_sids("toy", ArtifactStore(tmp_path), cfg=TINY, show_progress=False)


def test_small_config_and_cli_flag():
    from reaseq_core.cli import build_parser
    assert RQVAEConfig.small().epochs == 20 and RQVAEConfig.small(epochs=3).epochs == 3
    assert RQVAEConfig.small().codebook_size == RQVAEConfig().codebook_size
    args = build_parser().parse_args(["sid", "build", "--small", "--vectors", "knowledge"])
    assert args.small and args.vectors == "knowledge" and args.epochs is None
