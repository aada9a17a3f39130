"""The bring-your-own-catalogue format: a real Beauty slice written as CSV and parquet, then broken."""
from __future__ import annotations

import json

import pytest

from reaseq_core.data import ingest, load_dataset
from reaseq_core.errors import DataError
from reaseq_core.store import ArtifactStore


@pytest.fixture(scope="module")
def slice_frames(beauty):
    users = beauty.interactions["user_id"].drop_duplicates().head(300)
    inter = beauty.interactions[beauty.interactions["user_id"].isin(users)]
    items = beauty.items[beauty.items["item_id"].isin(inter["item_id"])].copy()
    return items, inter


def _write_csv(folder, items, inter):
    folder.mkdir(parents=True, exist_ok=True)
    out = items[["item_id", "title", "brand", "price"]].copy()
    out["category_path"] = items["category_path"].map(lambda p: " > ".join(p))
    out["attributes"] = items["attributes"].map(json.dumps)
    out.to_csv(folder / "items.csv", index=False)
    x = inter[["user_id", "item_id", "timestamp"]].copy()
    x.to_csv(folder / "interactions.csv", index=False)
    return folder


def test_csv_round_trip(slice_frames, tmp_path):
    items, inter = slice_frames
    folder = _write_csv(tmp_path / "mine", items, inter)
    store = ArtifactStore(tmp_path / "store")
    card = ingest("mine", store, path=folder)
    ds = load_dataset("mine", store)
    assert card["counts"]["items"] == len(items) and card["counts"]["interactions"] == len(inter)
    got = ds.items.set_index("item_id").loc[items["item_id"], "category_path"].tolist()
    assert got == items["category_path"].tolist()
    assert ds.interactions.groupby("user_id")["item_id"].agg(list).to_dict() == \
        inter.groupby("user_id")["item_id"].agg(list).to_dict()


def test_parquet_with_iso_dates(slice_frames, tmp_path):
    import pandas as pd
    items, inter = slice_frames
    folder = tmp_path / "pq"
    folder.mkdir()
    items[["item_id", "title", "category_path", "brand"]].to_parquet(folder / "items.parquet")
    x = inter[["user_id", "item_id"]].copy()
    x["timestamp"] = pd.to_datetime(inter["timestamp"], unit="s").dt.strftime("%Y-%m-%d")
    x.to_parquet(folder / "interactions.parquet")
    store = ArtifactStore(tmp_path / "store")
    ingest("pq", store, path=folder)
    assert (load_dataset("pq", store).interactions["timestamp"].sort_values().to_numpy()
            == inter["timestamp"].sort_values().to_numpy()).all()


@pytest.mark.parametrize("breakage, row, field", [
    ("drop_title", 1, "title"),
    ("bad_timestamp", 8, "timestamp"),
    ("unknown_item", 12, "item_id"),
    ("bad_price", 5, "price"),
    ("bad_attributes", 3, "attributes"),
])
def test_generic_errors_name_file_row_field(slice_frames, tmp_path, breakage, row, field):
    items, inter = slice_frames
    items, inter = items.copy(), inter.copy()
    if breakage == "drop_title":
        items = items.drop(columns="title")
        items["title"] = None
    folder = _write_csv(tmp_path / "bad", items, inter)
    if breakage == "drop_title":
        df = __import__("pandas").read_csv(folder / "items.csv").drop(columns="title")
        df.to_csv(folder / "items.csv", index=False)
    elif breakage in ("bad_timestamp", "unknown_item"):
        lines = (folder / "interactions.csv").read_text().splitlines()
        u, i, t = lines[row - 1].split(",")
        lines[row - 1] = f"{u},{i},not-a-date" if breakage == "bad_timestamp" else f"{u},GHOST,{t}"
        (folder / "interactions.csv").write_text("\n".join(lines) + "\n")
    else:
        df = __import__("pandas").read_csv(folder / "items.csv", dtype=str)
        df.loc[row - 2, field] = "cheap" if field == "price" else "{not json"
        df.to_csv(folder / "items.csv", index=False)
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(DataError) as exc:
        ingest("bad", store, path=folder)
    err = exc.value
    assert err.field == field and err.row == row, str(err)
    assert not (store.root / "bad" / "data").exists()
