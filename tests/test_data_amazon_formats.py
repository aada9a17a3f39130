"""Any category of the Amazon 2018 and 2023 releases, through the real `reaseq data ingest` entry point.

Every case writes small files in the releases' real raw formats (JSON lines, gzip or not) under category
names other than the shipped one, into tmp_path; the artifact root is a tmp folder too.
"""
from __future__ import annotations

import gzip
import json
import shutil

import pandas as pd
import pytest

from reaseq_core.cli import main
from reaseq_core.data import load_dataset
from reaseq_core.store import ArtifactStore


def write_jsonl(path, records, gz=None):
    """One JSON object per line; raw strings are written as they are (to plant bad lines)."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    gz = path.name.endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def ingest_cli(home, *args) -> int:
    return main(["--home", str(home), "data", "ingest", *args])


def loaded(home, name):
    return load_dataset(name, ArtifactStore(home))


# ---------------------------------------------------------------- Amazon 2018, Musical_Instruments

def review18(user, asin, day, summary):
    return {"overall": 5.0, "verified": True, "reviewTime": "01 1, 2017", "reviewerID": user, "asin": asin,
            "reviewerName": "x", "reviewText": "fine", "summary": summary, "unixReviewTime": 1483228800 + day * 86400}


REVIEWS_18 = [
    review18("U1", "G1", 0, "Great strings for the price"),
    review18("U1", "G2", 3, "Tuner holds pitch"),
    review18("U2", "G1", 1, "Bright tone"),
    review18("U2", "P9", 2, ""),  # no summary: an interaction, not a demand expression
    review18("U3", "G2", 5, "Clip tuner for gigs"),
]
META_18 = [
    {"asin": "G1", "title": "Nickel Electric Guitar Strings &amp; Picks", "brand": "Ernie",
     "category": ["Musical Instruments", "Instrument Accessories", "Guitar Strings"],
     "details": {"ASIN:": "G1", "Item Weight:": "2 ounces"}, "price": "$4.99", "rank": "1,204 in Musical Instruments ("},
    {"asin": "G2", "title": "Clip-On Tuner", "brand": "Snark",
     "category": ["Musical Instruments", "Instrument Accessories", "Tuners"], "details": {}, "price": ""},
    {"asin": "G2", "description": ["Tunes guitar and bass."], "feature": ["clip"]},  # a duplicate line: merged
    {"asin": "Z0", "title": "Never reviewed", "category": ["Musical Instruments"]},
]


@pytest.fixture
def instruments(tmp_path):
    d = tmp_path / "instruments"
    d.mkdir()
    write_jsonl(d / "Musical_Instruments_5.json.gz", REVIEWS_18)
    write_jsonl(d / "meta_Musical_Instruments.json.gz", META_18)
    (d / "notes.txt").write_text("not a raw file")
    return d


def test_2018_any_category_is_found_by_pattern(instruments, tmp_path, capsys):
    home = tmp_path / "home"
    # no --format: a folder with meta_*.json.gz is read as the 2018 release
    assert ingest_cli(home, "--dataset", "instruments", "--path", str(instruments)) == 0
    assert "instruments: ingested" in capsys.readouterr().out
    ds = loaded(home, "instruments")
    c, rep = ds.card["counts"], ds.card["ingest_report"]
    assert (c["users"], c["items"], c["interactions"]) == (3, 3, 5)
    assert rep["adapter"] == "amazon2018_raw"
    assert rep["files"] == ["Musical_Instruments_5.json.gz", "meta_Musical_Instruments.json.gz"]
    assert rep["meta_duplicate_lines_merged"] == 1 and rep["metadata_items_never_reviewed_dropped"] == 1
    items = ds.items.set_index("item_id")
    assert list(ds.items["item_id"]) == ["G1", "G2", "P9"]
    assert items.loc["G1", "title"] == "Nickel Electric Guitar Strings & Picks"
    assert items.loc["G1", "price"] == 4.99 and items.loc["G1", "sales_rank"] == 1204
    assert items.loc["G1", "attributes"] == {"Item Weight": "2 ounces"}
    assert items.loc["G1", "primary_category"] == "Instrument Accessories"  # level 1, as for the known sets
    assert items.loc["G2", "description"] == "Tunes guitar and bass."
    assert items.loc["P9", "flags"] == "no_metadata"
    assert ds.items["product_line_id"].isna().all()  # 2018 has no parent id
    assert list(ds.demand["text"]) == ["Great strings for the price", "Tuner holds pitch", "Bright tone",
                                       "Clip tuner for gigs"]
    assert set(ds.demand["source"]) == {"review_summary"}
    assert list(ds.interactions.query("user_id == 'U2'")["item_id"]) == ["G1", "P9"]


def test_2018_full_review_file_and_uncompressed_json(tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    write_jsonl(d / "Musical_Instruments.json", REVIEWS_18)  # the category's full review file, not gzip
    write_jsonl(d / "meta_Musical_Instruments.json", META_18)
    home = tmp_path / "home"
    assert ingest_cli(home, "--dataset", "mi", "--path", str(d), "--format", "amazon2018") == 0
    assert loaded(home, "mi").card["counts"]["interactions"] == 5


def test_shipped_magazine_files_under_another_category_name(magazine_raw, tmp_path):
    d = tmp_path / "mags"
    d.mkdir()
    shutil.copy(magazine_raw / "Magazine_Subscriptions_5.json.gz", d / "Mags_5.json.gz")
    shutil.copy(magazine_raw / "meta_Magazine_Subscriptions.json.gz", d / "meta_Mags.json.gz")
    home = tmp_path / "home"
    assert ingest_cli(home, "--dataset", "mags", "--path", str(d), "--format", "amazon2018") == 0
    assert ingest_cli(home, "--dataset", "magazine", "--path", str(magazine_raw)) == 0
    mags, magazine = loaded(home, "mags"), loaded(home, "magazine")
    assert mags.card["counts"]["interactions"] == 2375 and mags.card["counts"]["items"] == 157
    assert mags.card["ingest_report"]["files"] == ["Mags_5.json.gz", "meta_Mags.json.gz"]
    assert mags.content_hash == magazine.content_hash  # the file names change nothing in the tables


# ---------------------------------------------------------------- ambiguity and explicit files

@pytest.fixture
def ambiguous(tmp_path):
    d = tmp_path / "ambiguous"
    d.mkdir()
    write_jsonl(d / "Musical_Instruments_5.json.gz", REVIEWS_18[:2])
    write_jsonl(d / "Musical_Instruments.json.gz", REVIEWS_18)
    write_jsonl(d / "meta_Musical_Instruments.json.gz", META_18)
    return d


def test_ambiguous_folder_lists_the_candidates(ambiguous, tmp_path, capsys):
    home = tmp_path / "home"
    assert ingest_cli(home, "--dataset", "mi", "--path", str(ambiguous)) == 2
    err = capsys.readouterr().err
    assert "ambiguous" in err and "Musical_Instruments_5.json.gz" in err and "Musical_Instruments.json.gz" in err
    assert "--reviews FILE --meta FILE" in err and "Traceback" not in err
    assert not (home / "mi").exists()
    # two metadata files are just as ambiguous
    shutil.move(str(ambiguous / "Musical_Instruments.json.gz"), str(tmp_path / "elsewhere.json.gz"))
    write_jsonl(ambiguous / "meta_Books.json.gz", META_18[:1])
    assert ingest_cli(home, "--dataset", "mi", "--path", str(ambiguous)) == 2
    err = capsys.readouterr().err
    assert "meta_Books.json.gz" in err and "meta_Musical_Instruments.json.gz" in err


def test_explicit_reviews_and_meta_override_discovery(ambiguous, tmp_path, capsys):
    home = tmp_path / "home"
    full, meta = ambiguous / "Musical_Instruments.json.gz", ambiguous / "meta_Musical_Instruments.json.gz"
    # a name is required: the default dataset must never be overwritten by other files
    assert ingest_cli(home, "--reviews", str(full), "--meta", str(meta)) == 2
    assert "--dataset" in capsys.readouterr().err
    assert ingest_cli(home, "--dataset", "mi_full", "--reviews", str(full), "--meta", str(meta)) == 0
    assert loaded(home, "mi_full").card["counts"]["interactions"] == 5
    five = ambiguous / "Musical_Instruments_5.json.gz"
    assert ingest_cli(home, "--dataset", "mi_5", "--reviews", str(five), "--meta", str(meta)) == 0
    ds = loaded(home, "mi_5")
    assert ds.card["counts"]["interactions"] == 2 and list(ds.items["item_id"]) == ["G1", "G2"]
    assert ingest_cli(home, "--dataset", "mi_x", "--reviews", str(tmp_path / "nope.json.gz"), "--meta",
                      str(meta)) == 2
    assert "nope.json.gz" in capsys.readouterr().err


# ---------------------------------------------------------------- Amazon 2023, All_Beauty

T0 = 1588687728000  # ms


def review23(user, asin, parent, ms, title):
    return {"rating": 5.0, "title": title, "text": "Works.", "images": [], "asin": asin, "parent_asin": parent,
            "user_id": user, "timestamp": ms, "verified_purchase": True, "helpful_vote": 0}


REVIEWS_23 = [
    review23("AE1", "B02SOLO", "B02SOLO", T0 + 900, "Second within the same second"),
    review23("AE1", "B01CHILD2", "B01PARENT", T0 + 100, "Lovely scent"),  # earlier ms, later in the file
    review23("AE1", "B01CHILD1", "B01PARENT", T0 + 86_400_000, ""),  # no title: no demand expression
    review23("AE2", "B02SOLO", "B02SOLO", T0 + 5_000, "Too greasy &amp; heavy"),
    review23("AE2", "B03NOMETA", "B03NOMETA", T0 + 9_000, "Nice"),
]
META_23 = [
    {"main_category": "All Beauty", "title": "Rose Body Oil, 4 fl oz", "average_rating": 4.5, "rating_number": 12,
     "features": ["Cold pressed"], "description": ["A light oil."], "price": 12.5, "images": [], "videos": [],
     "store": "Petal Co", "categories": [],
     "details": {"Item Form": "Oil", "Best Sellers Rank": {"Beauty & Personal Care": 52301, "Body Oils": 411},
                 "Package Dimensions": "6 x 2 x 2 inches"},
     "parent_asin": "B01PARENT"},
    {"main_category": "All Beauty", "title": "Shea Butter", "average_rating": 3.0, "rating_number": 2,
     "features": [], "description": [], "price": None, "images": [], "videos": [], "store": None,
     "categories": ["Beauty & Personal Care", "Skin Care", "Body", "Moisturizers"], "details": {},
     "parent_asin": "B02SOLO"},
]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_2023_all_beauty(tmp_path, suffix):
    d = tmp_path / "raw"
    d.mkdir()
    write_jsonl(d / f"All_Beauty{suffix}", REVIEWS_23)
    write_jsonl(d / f"meta_All_Beauty{suffix}", META_23)
    home = tmp_path / "home"
    assert ingest_cli(home, "--dataset", "allbeauty", "--path", str(d), "--format", "amazon2023") == 0
    ds = loaded(home, "allbeauty")
    c, rep = ds.card["counts"], ds.card["ingest_report"]
    assert (c["users"], c["items"], c["interactions"]) == (2, 3, 5)
    assert rep["adapter"] == "amazon2023_raw" and rep["reviews_on_variant_asin"] == 2
    assert rep["reviewed_items_without_metadata"] == 1 and rep["items_category_from_main_category"] == 1
    # parent_asin is the item id and the product line; variant asins never become items
    assert set(ds.items["item_id"]) == {"B01PARENT", "B02SOLO", "B03NOMETA"}
    assert (ds.items["product_line_id"] == ds.items["item_id"]).all()
    items = ds.items.set_index("item_id")
    oil = items.loc["B01PARENT"]
    assert oil["brand"] == "Petal Co" and oil["price"] == 12.5 and oil["sales_rank"] == 52301
    assert oil["attributes"] == {"Item Form": "Oil", "Package Dimensions": "6 x 2 x 2 inches"}
    assert oil["category_path"] == ["All Beauty"] and "category_from_main_category" in oil["flags"]
    assert oil["description"] == "A light oil. Cold pressed"
    shea = items.loc["B02SOLO"]
    assert shea["primary_category"] == "Skin Care" and pd.isna(shea["brand"]) and pd.isna(shea["price"])
    assert items.loc["B03NOMETA", "flags"] == "no_metadata"
    # ms -> seconds; order within one second follows the ms, not the file
    ae1 = ds.interactions.query("user_id == 'AE1'")
    assert list(ae1["timestamp"]) == [T0 // 1000, T0 // 1000, (T0 + 86_400_000) // 1000]
    assert list(ae1["item_id"]) == ["B01PARENT", "B02SOLO", "B01PARENT"]
    # review titles are the demand expressions; an empty title gives none
    assert len(ds.demand) == 4 and set(ds.demand["source"]) == {"review_summary"}
    assert "Too greasy & heavy" in set(ds.demand["text"])
    assert dict(zip(ds.demand["text"], ds.demand["category"]))["Too greasy & heavy"] == "Skin Care"


def test_2023_format_is_guessed_and_explicit_files_work(tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    r = write_jsonl(d / "Toys_and_Games.jsonl.gz", REVIEWS_23)
    m = write_jsonl(d / "meta_Toys_and_Games.jsonl.gz", META_23)
    home = tmp_path / "home"
    assert ingest_cli(home, "--dataset", "toys", "--path", str(d)) == 0  # no --format: .jsonl -> 2023
    assert ingest_cli(home, "--dataset", "toys2", "--reviews", str(r), "--meta", str(m)) == 0
    assert loaded(home, "toys").content_hash == loaded(home, "toys2").content_hash


# ---------------------------------------------------------------- bad lines name the file and the line

@pytest.mark.parametrize("case", ["invalid_json", "seconds_not_ms", "no_user", "meta_no_parent"])
def test_2023_bad_lines_name_file_line_and_field(tmp_path, capsys, case):
    d = tmp_path / "raw"
    d.mkdir()
    reviews, meta = list(REVIEWS_23), list(META_23)
    target, line, field = "All_Beauty.jsonl", 3, None
    if case == "invalid_json":
        reviews[2] = json.dumps(reviews[2])[:40]
    elif case == "seconds_not_ms":
        reviews[2] = {**reviews[2], "timestamp": 1588687728}
        field = "timestamp"
    elif case == "no_user":
        reviews[2] = {**reviews[2], "user_id": ""}
        field = "user_id"
    else:
        meta[1] = {k: v for k, v in meta[1].items() if k != "parent_asin"}
        target, line, field = "meta_All_Beauty.jsonl", 2, "parent_asin"
    write_jsonl(d / "All_Beauty.jsonl", reviews)
    write_jsonl(d / "meta_All_Beauty.jsonl", meta)
    home = tmp_path / "home"
    assert ingest_cli(home, "--dataset", "bad", "--path", str(d)) == 2
    err = capsys.readouterr().err.strip()
    assert str(d / target) + f", line {line}" in err and "Traceback" not in err
    if field:
        assert f"field '{field}'" in err
    assert not (home / "bad" / "data").exists()


def test_2018_bad_line_names_file_and_line(instruments, tmp_path, capsys):
    path = instruments / "Musical_Instruments_5.json.gz"
    write_jsonl(path, REVIEWS_18[:3] + [{**REVIEWS_18[3], "unixReviewTime": "soon"}])
    assert ingest_cli(tmp_path / "home", "--dataset", "bad", "--path", str(instruments)) == 2
    err = capsys.readouterr().err
    assert f"{path}, line 4, field 'unixReviewTime'" in err and "'soon'" in err
