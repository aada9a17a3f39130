"""Exact cosine neighbours (hand-computed), the UMAP input hash, and the `reaseq app` command line."""
from __future__ import annotations

import numpy as np
import pytest

from reaseq_core.app_cli import register, streamlit_command
from reaseq_core.viz import exact_cosine_neighbours, input_hash


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


def test_input_hash_ignores_float_noise_but_not_content():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 8)).astype(np.float32)
    ids = list("abcde")
    h = input_hash(ids, v, {"n_neighbors": 15})
    assert input_hash(ids, v + 1e-7, {"n_neighbors": 15}) == h          # a bit-level re-encode
    assert input_hash(ids, v + 1e-2, {"n_neighbors": 15}) != h          # different vectors
    assert input_hash(ids[::-1], v, {"n_neighbors": 15}) != h           # different points
    assert input_hash(ids, v, {"n_neighbors": 30}) != h                 # different parameters


def test_app_command_line():
    import argparse
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["app", "--port", "8600", "--dataset", "magazine"])
    assert (args.port, args.dataset, args.build_umap) == (8600, "magazine", False)
    cmd = streamlit_command(8600)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app/Home.py")
    for flag, value in (("--server.address", "127.0.0.1"), ("--server.port", "8600"),
                        ("--server.headless", "true"), ("--browser.gatherUsageStats", "false")):
        assert cmd[cmd.index(flag) + 1] == value
