"""The artifact store: locations, provenance, atomic writes, missing-artifact messages."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reaseq_core.errors import MissingArtifact
from reaseq_core.results import ResultTable, list_tables, read_table, write_table
from reaseq_core.store import ArtifactStore


def test_round_trips_with_provenance(tmp_path):
    s = ArtifactStore(tmp_path)
    s.write_json("d", "ranking", "x.json", {"a": 1}, {"config": {"lr": 0.1}})
    s.write_parquet("d", "gbr", "t.parquet", pd.DataFrame({"u": ["a", "b"]}))
    s.write_numpy("d", "representation", "v.npz", {"ids": np.array(["a"]), "vectors": np.ones((1, 3), np.float32)})
    assert s.read_json("d", "ranking", "x.json") == {"a": 1}
    assert s.read_parquet("d", "gbr", "t.parquet")["u"].tolist() == ["a", "b"]
    assert s.read_numpy("d", "representation", "v.npz")["vectors"].shape == (1, 3)
    prov = s.provenance("d", "ranking", "x.json")
    assert prov["config"] == {"lr": 0.1} and prov["stage"] == "ranking" and prov["code_version"]
    assert {a.name for a in s.list("d")} == {"x.json", "t.parquet", "v.npz"}


def test_provenance_carries_the_dataset_hash(tmp_path, beauty, tmp_store):
    tmp_store.write_json("beauty", "bench", "probe.json", {"headline": {}})
    assert tmp_store.provenance("beauty", "bench", "probe.json")["dataset_hash"] == beauty.content_hash


def test_failed_write_leaves_no_partial_file(tmp_path):
    s = ArtifactStore(tmp_path)
    s.write_json("d", "gbr", "keep.json", {"v": 1})

    class Boom:
        def to_parquet(self, path, index=False):
            open(path, "wb").write(b"half")
            raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        s.write_parquet("d", "gbr", "keep.json", Boom())
    assert json.loads(s.path("d", "gbr", "keep.json").read_text()) == {"v": 1}
    assert sorted(p.name for p in s.stage_dir("d", "gbr").iterdir()) == ["keep.json", "keep.json.prov.json"]


def test_missing_artifact_names_the_command(tmp_path):
    s = ArtifactStore(tmp_path)
    with pytest.raises(MissingArtifact) as exc:
        s.read_json("beauty", "gbr", "table5.json")
    assert "reaseq gbr run --dataset beauty" in str(exc.value)
    with pytest.raises(ValueError):
        s.path("beauty", "nonsense", "x")


def test_result_tables(tmp_path):
    s = ArtifactStore(tmp_path)
    t = ResultTable(name="table9_demo", title="Demo", dataset="d", dataset_hash="h", split="loo",
                    protocol="p", seeds=[0, 1, 2], deviations=["one"], columns=["arm", "AUC", "AUC_std"],
                    rows=[{"arm": "a", "AUC": 0.61234, "AUC_std": 0.001}])
    write_table(s, "ranking", t)
    assert list_tables(s, "d") == [("ranking", "table9_demo")]
    back = read_table(s, "d", "ranking", "table9_demo")
    assert back.rows == t.rows
    md = back.to_markdown()
    assert "0.6123 ± 0.0010" in md and "Seeds: 0, 1, 2" in md and "one" in md
