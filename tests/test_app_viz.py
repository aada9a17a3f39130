"""Exact cosine neighbours (hand-computed), the UMAP key of reproducible inputs, and the `reaseq app`
command line."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reaseq_core import catalogue as cat
from reaseq_core.app_cli import register, streamlit_command
from reaseq_core.catalogue import ArtifactShapeError
from reaseq_core.errors import MissingArtifact
from reaseq_core.store import ArtifactStore
from reaseq_core.viz import exact_cosine_neighbours, inputs_key, latest_projection, read_projection, stale_inputs
from reaseq_core.viz.umap_cache import array_digest, current_projection_key, projection_inputs


def test_exact_cosine_neighbours_by_hand():
    # pool: e1, e2, and a vector at 45 degrees; query (1, 0.1) is closest to e1, then the diagonal, then e2
    pool = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    got = exact_cosine_neighbours(np.array([[1.0, 0.1]]), ["e1", "e2", "d"], pool, k=3)[0]
    assert [i for i, _ in got] == ["e1", "d", "e2"]
    q = np.array([1.0, 0.1]) / np.linalg.norm([1.0, 0.1])
    expected = [q @ [1, 0], q @ (np.array([1, 1]) / np.sqrt(2)), q @ [0, 1]]
    assert np.allclose([s for _, s in got], expected, atol=1e-6)
    assert all(isinstance(i, str) for i, _ in got)


def test_an_item_is_not_its_own_neighbour():
    pool = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    got = exact_cosine_neighbours(pool, ["a", "b", "c"], pool, k=2, exclude_ids=["a", "b", "c"])
    assert [i for i, _ in got[0]] == ["b", "c"] and [i for i, _ in got[1]] == ["a", "c"]


def test_neighbours_refuse_vectors_from_different_spaces():
    with pytest.raises(ValueError, match="different spaces"):
        exact_cosine_neighbours(np.ones((1, 3)), ["a"], np.ones((1, 4)))


def _vector_store(tmp_path, title_prov: dict) -> ArtifactStore:
    """A private store with a dataset card, title vectors and case-view fill vectors."""
    store = ArtifactStore(tmp_path)
    store.write("beauty", cat.DATASET_CARD, {"dataset": "beauty", "content_hash": "abc", "counts": {},
                                              "coverage": {}, "categories": {}, "ingest_report": {}})
    rng = np.random.default_rng(0)
    store.write("beauty", cat.TITLE_VECTORS, {"item_ids": np.array(["a", "b", "c"]),
                                              "vectors": rng.normal(size=(3, 4)).astype(np.float32)}, title_prov)
    store.write("beauty", cat.FILL_VECTORS, {"fill_ids": np.array(["f1"]), "vectors": np.ones((1, 4), np.float16),
                                             "item_space": np.asarray("title")}, {})
    return store


def test_the_key_survives_a_re_encode_but_not_a_change_of_content(tmp_path):
    store = _vector_store(tmp_path, {"encoder": "enc-1", "items": 3})
    key = current_projection_key(store, "beauty")
    assert len(key) == 12 and key == inputs_key(projection_inputs(store, "beauty"))
    # set-up re-encodes the title vectors (new bytes, new creation time): same encoder and items, same key
    rng = np.random.default_rng(1)
    store.write("beauty", cat.TITLE_VECTORS, {"item_ids": np.array(["a", "b", "c"]),
                                              "vectors": rng.normal(size=(3, 4)).astype(np.float32)},
                {"encoder": "enc-1", "items": 3})
    assert current_projection_key(store, "beauty") == key
    # another encoder, other fills or another dataset are other inputs
    store.write("beauty", cat.TITLE_VECTORS, {"item_ids": np.array(["a", "b", "c"]), "vectors": np.ones((3, 4))},
                {"encoder": "enc-2", "items": 3})
    assert current_projection_key(store, "beauty") != key
    assert array_digest({"v": np.ones(2)}) != array_digest({"v": np.zeros(2)})
    assert array_digest({"v": np.ones(2)}) == array_digest({"v": np.ones(2)})


def test_the_key_needs_the_encoder_in_the_vectors_provenance(tmp_path):
    store = _vector_store(tmp_path, {"items": 3})
    with pytest.raises(ArtifactShapeError, match=r"title_vectors.*\['encoder'\]"):
        current_projection_key(store, "beauty")
    store.path("beauty", cat.TITLE_VECTORS).unlink()
    with pytest.raises(MissingArtifact, match="reaseq represent build --dataset beauty --title-only"):
        current_projection_key(store, "beauty")


def test_a_stored_projection_is_current_until_an_input_changes(tmp_path):
    store = _vector_store(tmp_path, {"encoder": "enc-1", "items": 3})
    assert latest_projection(store, "beauty") is None
    key = current_projection_key(store, "beauty")
    frame = pd.DataFrame({"point_id": ["a"], "token_type": ["item"], "x": [0.0], "y": [1.0], "nn_ids": [["b"]],
                          "nn_sims": [[0.5]]})
    store.write("beauty", cat.UMAP, frame, {"inputs": projection_inputs(store, "beauty")}, inputs=key)
    assert store.path("beauty", cat.UMAP, inputs=key).parent.name == "viz"
    assert latest_projection(store, "beauty") == key
    df, prov = read_projection(store, "beauty", key)
    assert df["point_id"].tolist() == ["a"] and json.dumps(prov["inputs"])
    assert stale_inputs(store, "beauty", key) == []
    store.write("beauty", cat.FILL_VECTORS, {"fill_ids": np.array(["f1"]), "vectors": np.zeros((1, 4), np.float16),
                                             "item_space": np.asarray("title")}, {})
    assert stale_inputs(store, "beauty", key) == ["fill_vectors"]


def test_app_command_line():
    import argparse
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["app", "--port", "8600", "--dataset", "magazine"])
    assert (args.port, args.dataset, args.app_command) == (8600, "magazine", None)
    args = parser.parse_args(["app", "umap", "--dataset", "magazine", "--force"])
    assert (args.app_command, args.dataset, args.force) == ("umap", "magazine", True)
    args = parser.parse_args(["app", "--dataset", "magazine", "umap"])
    assert (args.app_command, args.dataset, args.force) == ("umap", "magazine", False)
    assert cat.UMAP.producing_command("beauty") == "reaseq app umap --dataset beauty"
    cmd = streamlit_command(8600)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app/Home.py")
    for flag, value in (("--server.address", "127.0.0.1"), ("--server.port", "8600"),
                        ("--server.headless", "true"), ("--browser.gatherUsageStats", "false")):
        assert cmd[cmd.index(flag) + 1] == value
