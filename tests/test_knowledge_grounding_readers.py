"""Every reader of stored knowledge gives grounding one meaning (grounding.py: supported / beyond / contradicted;
`grounded` = supported; an item's rate = its supported share), whatever flags the rows were stored with: the
re-grounded rows (knowledge.report.regrounded), the knowledge summary, the shipped summary and grounding table,
and the Single- vs multi-agent page on the committed store."""
import json
import math

import pandas as pd
import pytest

from reaseq_core import catalogue as cat
from reaseq_core.knowledge import grounding as gr
from reaseq_core.knowledge.report import grounding_table, regrounded
from reaseq_core.knowledge.summary import knowledge_summary
from test_app_pages import committed_env, frame, clean, run_page  # noqa: F401 (fixture)

PRADA = {"item_id": "9788072216", "title": "Prada Candy By Prada Eau De Parfum Spray 1.7 Oz For Women",
         "brand": "Prada", "price": 65.86, "category_path": ["Beauty", "Fragrance", "Women's", "Eau de Parfum"],
         "attributes": "{}", "description": None, "sales_rank": 78916.0, "primary_category": "Fragrance"}
ITEMS = pd.DataFrame([PRADA])


def stale(dimension, analysis, evidence, grounded=True):
    """An entry as rows stored before the classes hold it: a `grounded` flag of the older check, no class."""
    return {"dimension": dimension, "analysis": analysis, "keywords": ["k1"], "evidence": evidence,
            "grounded": grounded, "grounding_note": "old check"}


# by the rules of grounding.py: the title bears out "Prada" (supported); a 3.4 oz claim disagrees with the
# title's 1.7 Oz (contradicted); evening wear is world knowledge the fields do not carry (beyond)
ENTRIES = {"user_demand": [stale("Brand", "Made by Prada.", ["title"]),
                           stale("Occasion", "Evening wear for galas.", ["category"])],
           "product_attribute": [stale("Size", "A 3.4 oz bottle.", ["title"])]}


def rows(failed=False):
    base = {"item_id": PRADA["item_id"], "primary_category": "Fragrance", "latency_s": 10.0, "completion_tokens": 50,
            "attempts": 1}
    ok = {**base, "setup": "multi_agent", "status": "ok", "failure_reason": None, "grounding_rate": 1.0,
          **{p: json.dumps(v) for p, v in ENTRIES.items()}}
    out = [ok]
    if failed:
        out.append({**base, "setup": "single_agent", "status": "failed", "failure_reason": "invalid JSON",
                    "grounding_rate": float("nan"), "user_demand": None, "product_attribute": None})
    return pd.DataFrame(out)


def test_regrounded_rows_replace_stale_flags_and_rates():
    out = regrounded(rows(failed=True), ITEMS)
    ok = out[out["status"] == "ok"].iloc[0]
    ents = json.loads(ok["user_demand"]) + json.loads(ok["product_attribute"])
    assert [e["grounding"] for e in ents] == [gr.SUPPORTED, gr.BEYOND, gr.CONTRADICTED]
    assert [e["grounded"] for e in ents] == [True, False, False]        # the stored True flags are gone
    assert ents[2]["grounding_note"].startswith("size")
    assert ok["grounding_rate"] == pytest.approx(1 / 3)                  # the stored rate was 1.0
    assert (ok["supported"], ok["beyond"], ok["contradicted"]) == (1, 1, 1)
    bad = out[out["status"] != "ok"].iloc[0]
    assert math.isnan(bad["grounding_rate"]) and (bad["supported"], bad["beyond"], bad["contradicted"]) == (0, 0, 0)


def test_regrounded_names_the_row_of_an_unknown_item():
    r = rows().assign(item_id="NOT-AN-ITEM")
    with pytest.raises(KeyError, match=r"row 1 \(item 'NOT-AN-ITEM', multi_agent\)"):
        regrounded(r, ITEMS)
    r = rows().assign(user_demand="[{broken")
    with pytest.raises(ValueError, match="field 'user_demand' is not JSON"):
        regrounded(r, ITEMS)


def test_summary_reclassifies_with_the_items_table():
    s = knowledge_summary(rows(failed=True), items_total={"Fragrance": 10}, items=ITEMS)
    m = s["setups"]["multi_agent"]
    assert (m["entries"], m["grounded_entries"], m["beyond_entries"], m["contradicted_entries"],
            m["unclassified_entries"]) == (3, 1, 1, 1, 0)
    assert m["grounding_rate"] == pytest.approx(0.3333)
    assert s["categories"]["Fragrance"]["single_agent"]["grounding_rate"] is None     # no entries: no rate
    assert s["categories"]["Fragrance"]["multi_agent"]["items_total"] == 10


def test_summary_without_items_uses_stored_classes_and_counts_the_rest_apart():
    r = rows()
    fresh = regrounded(r, ITEMS)                       # classes stored with the entries (a row written today)
    mixed = pd.concat([fresh.drop(columns=list(gr.CLASSES)).assign(setup="multi_agent"),
                       r.assign(item_id="OLD", setup="multi_agent")], ignore_index=True)
    m = knowledge_summary(mixed)["setups"]["multi_agent"]
    # the old row's three entries have no class: counted apart, outside the rate (never read as supported)
    assert (m["entries"], m["grounded_entries"], m["contradicted_entries"], m["unclassified_entries"]) == (6, 1, 1, 3)
    assert m["grounding_rate"] == pytest.approx(0.3333)


# ---- the committed store -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped(committed_store):
    if not committed_store.exists("beauty", cat.ITEM_KNOWLEDGE):
        pytest.skip("no committed knowledge")
    return committed_store


def test_shipped_summary_and_grounding_table_follow_todays_rules(shipped):
    kn = shipped.read("beauty", cat.ITEM_KNOWLEDGE)
    items = shipped.read("beauty", cat.ITEMS)
    fresh = regrounded(kn, items)
    summary = shipped.read("beauty", cat.KNOWLEDGE_SUMMARY)
    table = {(r["setup"], r["items"]): r for r in shipped.read("beauty", cat.GROUNDING_TABLE)["rows"]}
    for setup, f in summary["setups"].items():
        g = fresh[(fresh["setup"] == setup) & (fresh["status"] == "ok")]
        assert f["unclassified_entries"] == 0
        assert (f["grounded_entries"], f["beyond_entries"], f["contradicted_entries"]) == (
            g["supported"].sum(), g["beyond"].sum(), g["contradicted"].sum())
        assert f["grounding_rate"] == pytest.approx(g["supported"].sum() / f["entries"], abs=1e-4)
        t = table[(setup, "all")]
        assert t["entries"] == f["entries"]
        assert t["grounded_share"] == pytest.approx(g["supported"].sum() / f["entries"])
        assert t["contradicted_share"] == pytest.approx(g["contradicted"].sum() / f["entries"])
        assert t["mean_item_grounding_rate"] == pytest.approx(g["grounding_rate"].mean())
    # the whole table is what grounding_table computes on the stored knowledge today

    class DS:
        name, content_hash = "beauty", shipped.read("beauty", cat.DATASET_CARD)["content_hash"]
    DS.items = items
    stored, today = shipped.read("beauty", cat.GROUNDING_TABLE)["rows"], grounding_table(kn, DS).rows
    assert len(stored) == len(today) == 4
    for a, b in zip(stored, today):
        assert a == pytest.approx(b, nan_ok=True)


def test_single_vs_multi_page_shows_todays_grounding(committed_env):
    kn = committed_env.read("beauty", cat.ITEM_KNOWLEDGE)
    fresh = regrounded(kn, committed_env.read("beauty", cat.ITEMS))
    at = run_page("Single_vs_multi_agent", None)
    clean(at)
    summary = frame(at.dataframe[0].value).set_index("setup")
    both = fresh.groupby("item_id")["setup"].nunique()
    paired = fresh[fresh["item_id"].isin(both[both >= 2].index)]
    checked_old = 0
    for setup, g in paired.groupby("setup"):
        assert summary.at[setup, "grounding_rate"] == pytest.approx(g["grounding_rate"].mean())
        rows = kn[kn["item_id"].isin(g["item_id"]) & (kn["setup"] == setup)]
        old = rows[rows["user_demand"].map(lambda t: all("grounding" not in e for e in json.loads(t)))]
        if len(old) == len(rows):     # rows stored before the classes (the single-agent baseline; the multi-agent
            # rows of these items were regenerated since): the old check's rate is not what is shown
            assert summary.at[setup, "grounding_rate"] < rows["grounding_rate"].mean() - 0.1
            checked_old += 1
        ents = g["supported"] + g["beyond"] + g["contradicted"]
        assert summary.at[setup, "contradicted_share"] == pytest.approx(g["contradicted"].sum() / ents.sum())
    assert checked_old >= 1
    headers = "\n".join(str(m.value) for m in at.markdown)
    assert "supported," in headers and "contradicted)" in headers
