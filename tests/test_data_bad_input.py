"""Bad input gets one clear error naming the file, line and field, and nothing half-written is left.

Every case starts from a real copy of the real Beauty / Magazine files and breaks it one way.
"""
from __future__ import annotations

import gzip
import json
import shutil

import pytest

from reaseq_core.data import ingest, load_dataset
from reaseq_core.errors import DataError
from reaseq_core.store import ArtifactStore

ITEM = "Amazon_Beauty.item"
INTER = "beauty5_interactions.tsv.gz"


@pytest.fixture
def beauty_copy(beauty_raw, tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    for f in (ITEM, INTER):
        shutil.copy(beauty_raw / f, d / f)
    return d


def _edit_interactions(folder, edit):
    lines = gzip.decompress((folder / INTER).read_bytes()).decode().splitlines(keepends=True)
    lines = edit(lines)
    (folder / INTER).write_bytes(gzip.compress("".join(lines).encode()))


def _ingest_fails(folder, tmp_path, fmt="amazon2014") -> DataError:
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(DataError) as exc:
        ingest("broken", store, path=folder, fmt=fmt)
    assert not (store.root / "broken" / "data").exists(), "a failed ingest must leave nothing behind"
    return exc.value


def test_unparseable_timestamp_names_line_and_field(beauty_copy, tmp_path):
    def edit(lines):
        u, i, _ = lines[5].rstrip("\n").split("\t")
        lines[5] = f"{u}\t{i}\tyesterday\n"
        return lines
    _edit_interactions(beauty_copy, edit)
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.path.endswith(INTER) and err.row == 6 and err.field == "timestamp"
    assert "yesterday" in str(err)


def test_dropped_column(beauty_copy, tmp_path):
    _edit_interactions(beauty_copy, lambda lines: ["\t".join(l.rstrip("\n").split("\t")[:2]) + "\n" for l in lines])
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.field == "timestamp" and "missing column" in str(err) and err.row == 1


def test_unknown_item_in_interactions(beauty_copy, tmp_path):
    def edit(lines):
        u, _, t = lines[100].rstrip("\n").split("\t")
        lines[100] = f"{u}\tNOT_AN_ITEM\t{t}\n"
        return lines
    _edit_interactions(beauty_copy, edit)
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.row == 101 and err.field == "item_id" and "NOT_AN_ITEM" in str(err)


def test_truncated_gzip(beauty_copy, tmp_path):
    data = (beauty_copy / INTER).read_bytes()
    (beauty_copy / INTER).write_bytes(data[: len(data) // 2])
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.path.endswith(INTER) and "truncated" in str(err)


def test_empty_item_file(beauty_copy, tmp_path):
    (beauty_copy / ITEM).write_bytes(b"")
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.path.endswith(ITEM) and "empty" in str(err)


def test_wrong_encoding_names_the_line(beauty_copy, tmp_path):
    raw = (beauty_copy / ITEM).read_bytes().split(b"\n")
    raw[42] = raw[42].replace(b"\t", b"\xe9\t", 1)  # a latin-1 byte in line 43
    (beauty_copy / ITEM).write_bytes(b"\n".join(raw))
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.row == 43 and "UTF-8" in str(err)


def test_row_with_a_missing_field(beauty_copy, tmp_path):
    raw = (beauty_copy / ITEM).read_text(encoding="utf-8").split("\n")
    raw[10] = raw[10].rsplit("\t", 1)[0]  # drop the brand field of line 11
    (beauty_copy / ITEM).write_text("\n".join(raw), encoding="utf-8")
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.row == 11 and "6 fields instead of 7" in str(err)


def test_bad_category_list(beauty_copy, tmp_path):
    raw = (beauty_copy / ITEM).read_text(encoding="utf-8").split("\n")
    cols = raw[20].split("\t")
    cols[4] = "'Beauty', 'Makeup"  # unterminated quote
    raw[20] = "\t".join(cols)
    (beauty_copy / ITEM).write_text("\n".join(raw), encoding="utf-8")
    err = _ingest_fails(beauty_copy, tmp_path)
    assert err.row == 21 and err.field == "categories"


def test_invalid_json_line_in_2018_metadata(magazine_raw, tmp_path):
    d = tmp_path / "mag"
    shutil.copytree(magazine_raw, d)
    meta = d / "meta_Magazine_Subscriptions.json.gz"
    lines = gzip.decompress(meta.read_bytes()).decode().splitlines(keepends=True)
    lines[7] = lines[7][: len(lines[7]) // 2] + "\n"
    meta.write_bytes(gzip.compress("".join(lines).encode()))
    err = _ingest_fails(d, tmp_path, fmt="amazon2018")
    assert err.row == 8 and "invalid JSON" in str(err) and err.path.endswith(meta.name)


def test_failed_reingest_keeps_the_previous_good_version(beauty_copy, tmp_path):
    store = ArtifactStore(tmp_path / "store")
    good = ingest("mine", store, path=beauty_copy, fmt="amazon2014")
    _edit_interactions(beauty_copy, lambda lines: lines[:3] + ["x\ty\tz\n"] + lines[3:])
    with pytest.raises(DataError):
        ingest("mine", store, path=beauty_copy, fmt="amazon2014", force=True)
    assert load_dataset("mine", store).content_hash == good["content_hash"]
    leftovers = [p.name for p in (store.root / "mine").iterdir() if p.name.startswith(".")]
    assert leftovers == []
