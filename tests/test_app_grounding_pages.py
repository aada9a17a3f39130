"""AppTest of the Taxonomies and Item knowledge pages on the committed Beauty store (read only): the Layer-2
diff against the parent, and each entry's grounding class with the item's shares (a shipped item whose
knowledge holds a contradicted entry, found with grounding.classify_rows, shows it)."""
import pytest

from reaseq_core import catalogue as cat
from test_app_pages import committed_env, frame, no_exception, run_page, texts  # noqa: F401 (fixture)


@pytest.fixture()
def env(committed_env):
    if not committed_env.exists("beauty", cat.ITEM_KNOWLEDGE):
        pytest.skip("no committed knowledge")
    return committed_env


def test_taxonomies_page_shows_what_changed_from_the_parent(env):
    at = run_page("Taxonomies", None)
    no_exception(at)
    assert "What changed from the parent (Layer 1)" in texts(at)
    diffs = [frame(d.value) for d in at.dataframe if list(frame(d.value).columns) == ["parent", "refined", "change",
                                                                                        "note"]]
    assert len(diffs) == 2                                    # demand and attribute
    tax = env.read("beauty", cat.TAXONOMY)
    primary = next(iter(tax["categories"]))
    node = tax["categories"][primary]
    sub = next(iter(node["subcategories"]))
    parent = node["demand"]["dimensions"]
    d = diffs[0]
    assert set(d["change"]) <= {"inherited", "adapted", "new", "dropped"}
    assert [p for p in d["parent"] if p != "—"] == parent     # every parent label is accounted for, in order
    refined = [x["label"] for x in node["subcategories"][sub]["demand"]["dimensions"]]
    assert sorted(r for r in d["refined"] if r != "—") == sorted(refined)


def test_item_knowledge_page_shows_grounding_classes(env):
    from reaseq_core.knowledge.grounding import classify_rows
    classes = classify_rows(env.read("beauty", cat.ITEM_KNOWLEDGE), env.read("beauty", cat.ITEMS))
    bad = classes[classes["grounding"] == "contradicted"].sort_values("setup")    # multi_agent first, if any
    assert len(bad), "the committed store has no contradicted entry (the README states some)"
    case = bad.iloc[0]
    at = run_page("Item_knowledge", None)
    no_exception(at)
    at.text_input(key="search").input(str(case["item_id"])).run()
    no_exception(at)
    at.radio(key="setup").set_value(case["setup"]).run()      # the page opens on the first setup in sorted order
    no_exception(at)
    body = texts(at)
    assert "1 items match" in body
    assert "contradicted by the data" in body and str(case["why"]).split(",")[0] in body
    assert "entries: supported" in body and "contradicted" in body
    shares = [frame(d.value) for d in at.dataframe if "contradicted_share" in frame(d.value).columns]
    assert shares and set(shares[0]["setup"]) >= {"multi_agent"}
