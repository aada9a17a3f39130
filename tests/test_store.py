"""The artifact store: locations, provenance, atomic writes, shape checks, missing-artifact messages."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reaseq_core import catalogue as cat
from reaseq_core.catalogue import Artifact, ArtifactShapeError
from reaseq_core.errors import MissingArtifact
from reaseq_core.results import ResultTable, list_tables, read_table, write_table
from reaseq_core.store import ArtifactStore

DEMO_JSON = Artifact("demo_json", "ranking", "demo.json", "json", "demo cmd", "demo", keys={"a": int})
DEMO_TABLE = Artifact("demo_parquet", "gbr", "demo_{seed}.parquet", "parquet", "demo cmd", "demo",
                      columns={"u": "str", "n": "int"})
DEMO_NPZ = Artifact("demo_npz", "representation", "demo.npz", "npz", "demo cmd", "demo", arrays=("item_ids", "vectors"))


def test_round_trips_with_provenance(tmp_path):
    s = ArtifactStore(tmp_path)
    s.write("d", DEMO_JSON, {"a": 1}, {"config": {"lr": 0.1}})
    s.write("d", DEMO_TABLE, pd.DataFrame({"u": ["a", "b"], "n": [1, 2]}), seed=3)
    s.write("d", DEMO_NPZ, {"item_ids": np.array(["a"]), "vectors": np.ones((1, 3), np.float32)})
    assert s.read("d", DEMO_JSON) == {"a": 1}
    assert s.read("d", DEMO_TABLE, seed=3)["u"].tolist() == ["a", "b"]
    assert s.path("d", DEMO_TABLE, seed=3).name == "demo_3.parquet"
    assert s.read("d", DEMO_NPZ)["vectors"].shape == (1, 3)
    prov = s.provenance("d", DEMO_JSON)
    assert prov["config"] == {"lr": 0.1} and prov["stage"] == "ranking" and prov["code_version"]
    assert {a.name for a in s.list("d")} == {"demo.json", "demo_3.parquet", "demo.npz"}


def test_small_runs_live_apart_and_are_not_listed_with_full_runs(tmp_path):
    s = ArtifactStore(tmp_path)
    s.write("d", DEMO_JSON, {"a": 1})
    s.write("d", DEMO_JSON, {"a": 2}, run=cat.SMALL_RUN)
    assert s.path("d", DEMO_JSON, run=cat.SMALL_RUN).parent.name == cat.SMALL_RUN
    assert s.read("d", DEMO_JSON) == {"a": 1} and s.read("d", DEMO_JSON, run=cat.SMALL_RUN) == {"a": 2}
    assert [i.name for i in s.list("d")] == ["demo.json"]
    assert [i.name for i in s.list("d", run=cat.SMALL_RUN)] == ["demo.json"]
    assert s.provenance("d", DEMO_JSON, run=cat.SMALL_RUN)["run"] == cat.SMALL_RUN


def test_shapes_are_checked_on_write_and_on_read(tmp_path):
    s = ArtifactStore(tmp_path)
    with pytest.raises(ArtifactShapeError, match="key 'a' is missing"):
        s.write("d", DEMO_JSON, {"b": 1})
    with pytest.raises(ArtifactShapeError, match="column 'n'"):
        s.write("d", DEMO_TABLE, pd.DataFrame({"u": ["a"], "n": ["x"]}), seed=0)
    with pytest.raises(ArtifactShapeError, match=r"arrays \['vectors'\]"):
        s.write("d", DEMO_NPZ, {"item_ids": np.array(["a"])})
    assert not s.exists("d", DEMO_JSON)
    # a file changed behind the catalogue's back fails on read, naming the file and the field
    p = s.path("d", DEMO_JSON)
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps({"a": "one"}))
    with pytest.raises(ArtifactShapeError) as exc:
        s.read("d", DEMO_JSON)
    assert str(p) in str(exc.value) and "key 'a'" in str(exc.value)


def test_provenance_carries_the_dataset_hash(beauty, tmp_store):
    tmp_store.write("beauty", DEMO_JSON, {"a": 1})
    assert tmp_store.provenance("beauty", DEMO_JSON)["dataset_hash"] == beauty.content_hash


def test_failed_write_leaves_no_partial_file(tmp_path):
    s = ArtifactStore(tmp_path)
    keep = Artifact("keep", "gbr", "keep.parquet", "parquet", "cmd", "demo", columns={"v": "int"})
    s.write("d", keep, pd.DataFrame({"v": [1]}))

    class Boom(pd.DataFrame):
        def to_parquet(self, path, index=False):
            open(path, "wb").write(b"half")
            raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        s.write("d", keep, Boom({"v": [2]}))
    assert s.read("d", keep)["v"].tolist() == [1]
    assert sorted(p.name for p in s.stage_dir("d", "gbr").iterdir()) == ["keep.parquet", "keep.parquet.prov.json"]


def test_missing_artifact_names_the_command(tmp_path):
    s = ArtifactStore(tmp_path)
    with pytest.raises(MissingArtifact) as exc:
        s.read("beauty", cat.TABLE5)
    assert "reaseq gbr run --dataset beauty" in str(exc.value)
    with pytest.raises(MissingArtifact) as exc:
        s.read("beauty", cat.TABLE5, run=cat.SMALL_RUN)
    assert "reaseq gbr run --dataset beauty --small" in str(exc.value)
    with pytest.raises(ValueError, match="needs seed"):
        s.path("beauty", cat.LLADA, model="GBR-C")
    with pytest.raises(ValueError):
        s.stage_dir("beauty", "nonsense")


def test_result_tables(tmp_path):
    s = ArtifactStore(tmp_path)
    t = ResultTable(name="table6", title="Demo", dataset="d", dataset_hash="h", split="loo",
                    protocol="p", seeds=[0, 1, 2], deviations=["one"], columns=["arm", "AUC", "AUC_std"],
                    rows=[{"arm": "a", "AUC": 0.61234, "AUC_std": 0.001}])
    write_table(s, cat.TABLE6, t)
    write_table(s, cat.TABLE6, t, run=cat.SMALL_RUN)
    assert list_tables(s, "d") == [cat.TABLE6]
    back = read_table(s, "d", cat.TABLE6)
    assert back.rows == t.rows
    md = back.to_markdown()
    assert "0.6123 ± 0.0010" in md and "Seeds: 0, 1, 2" in md and "one" in md
    with pytest.raises(ValueError, match="written as catalogue entry"):
        write_table(s, cat.TABLE5, t)
