"""Grounding classes (supported / beyond / contradicted) on real shipped Beauty items and on hand-made edge
cases, the mid-sentence rule, the Layer-2 parent diff, and the Layer-3 validation that refuses a contradicted
entry (with the FAKE backend of reaseq_core/llm/fake.py: plumbing, not a model)."""
import json

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.knowledge import agents, grounding as gr
from reaseq_core.knowledge.inputs import item_fields
from reaseq_core.knowledge.pipeline import call_cache
from reaseq_core.knowledge.schemas import parent_diff, unfinished_fields, unfinished_taxonomy_fields, unfinished_text
from reaseq_core.llm.fake import FakeBackendForTests
from reaseq_core.store import ArtifactStore

# the shipped Beauty items named in the issue (their rows as the items table holds them)
HUGO = {"item_id": "B000093A0U", "title": "Hugo By Hugo Boss For Women. Eau De Toilette Spray 1.3 Ounces",
        "brand": "HUGO BOSS", "price": 22.55, "category_path": ["Beauty", "Fragrance", "Men's", "Eau de Toilette"],
        "attributes": {}, "description": None, "sales_rank": 50000.0}
PRADA = {"item_id": "9788072216", "title": "Prada Candy By Prada Eau De Parfum Spray 1.7 Oz For Women",
         "brand": "Prada", "price": 65.86, "category_path": ["Beauty", "Fragrance", "Women's", "Eau de Parfum"],
         "attributes": {}, "description": None, "sales_rank": 78916.0}


def entry(analysis, evidence=("title",), keywords=("a1", "b2", "c3"), dimension="Dim"):
    return {"dimension": dimension, "analysis": analysis, "keywords": list(keywords), "evidence": list(evidence)}


def cls(e, item):
    return gr.classify_entry(e, item_fields(item))


# ---- the cases ----------------------------------------------------------------------------------
def test_hugo_boss_gender_claims_are_contradicted_whichever_side():
    women = entry("The item is for women, which aligns with the 'Men's' category.", ["category", "Brand"],
                  ["women", "category", "gender"], "Gender")
    men = entry("The item is for men, which aligns with the 'Men's' category.", ["category", "Brand"],
                ["men", "category", "occasion"], "Occasion")
    c, why = cls(women, HUGO)
    assert c == gr.CONTRADICTED and why.startswith("gender") and "Men's" in why
    c, why = cls(men, HUGO)
    assert c == gr.CONTRADICTED and "title says women" in why


def test_bare_field_names_are_no_evidence():
    # "Brand" as evidence for a claim about the category: the brand's value (HUGO BOSS) carries nothing of it
    e = entry("The item is a spray, which is a common type of fragrance.", ["category", "Brand"],
              ["type", "category", "spray"], "Type")
    c, why = cls(e, HUGO)
    assert c == gr.BEYOND and "spray" in why
    # the same claim citing the title, whose value says "Spray": supported
    assert cls({**e, "evidence": ["title"]}, HUGO)[0] == gr.SUPPORTED


def test_prada_candy_notes_are_beyond_and_price_claims_are_checked():
    notes = entry("The item contains ingredients such as lavender, rosemary, and vanilla, which are common in",
                  ["ingredients"], ["ingredients", "fragrance", "common ingredients"], "Ingredients")
    assert cls(notes, PRADA)[0] == gr.BEYOND
    budget = entry("The item costs $65.86, which falls within the budget of $50-100.", ["price", "sales_rank"],
                   ["budget", "price", "cost"], "Budget")
    assert cls(budget, PRADA)[0] == gr.SUPPORTED            # the price agrees, the range holds it
    cheap = {**PRADA, "price": 12.0}
    c, why = cls(budget, cheap)
    assert c == gr.CONTRADICTED and "price" in why
    c, why = cls(entry("The item is priced at $8.95, within the budget range of $50 to $100."), {**PRADA,
                                                                                                "price": 8.95})
    assert c == gr.CONTRADICTED and "$50-100" in why
    assert cls(entry("It is within the user's budget of $20."), {**PRADA, "price": 23.34})[0] == gr.CONTRADICTED
    assert cls(entry("It is within the user's budget of $100."), {**PRADA, "price": 23.34})[0] != gr.CONTRADICTED


def test_prada_gender_brand_and_size():
    assert cls(entry("The item is for women's fragrance.", ["title", "brand"],
                     ["women's fragrance", "gender", "target audience"], "Gender"), PRADA)[0] == gr.SUPPORTED
    assert cls(entry("The item is by Prada, a well-known luxury brand.", ["brand"],
                     ["brand", "luxury brand", "Prada"], "Brand"), PRADA)[0] == gr.SUPPORTED
    assert cls(entry("A 1.7 ounce bottle.", ["title"], dimension="Size"), PRADA)[0] == gr.SUPPORTED
    assert cls(entry("A 50 ml bottle.", ["title"], dimension="Size"), PRADA)[0] == gr.SUPPORTED   # 1.7 oz = 50 ml
    c, why = cls(entry("A 3.4 oz bottle.", ["title"], dimension="Size"), PRADA)
    assert c == gr.CONTRADICTED and why.startswith("size")
    c, why = cls(entry("An eau de toilette for the evening."), PRADA)
    assert c == gr.CONTRADICTED and why.startswith("category")


# ---- synthetic edge cases: precision before recall -------------------------------------------------------
@pytest.mark.parametrize("analysis", [
    "Suitable for men and women alike.",                   # unisex: never contradicted
    "Cheaper than the average price of $80 for women's fragrances.",   # a reference, compared the right way
    "Sized for travel.",                                    # no amount
    "The 'Men's' category is next to this one.",            # a quoted category name is a reference
])
def test_not_contradicted(analysis):
    assert cls(entry(analysis), PRADA)[0] != gr.CONTRADICTED


def test_a_field_naming_both_genders_decides_nothing():
    item = {**PRADA, "title": "Pheromones For Women to Attract Men"}
    # the category still says Women's: a claim for men disagrees with it
    assert cls(entry("Made for men."), item)[0] == gr.CONTRADICTED
    item2 = {**item, "category_path": ["Beauty", "Fragrance"]}
    assert cls(entry("Made for men."), item2)[0] != gr.CONTRADICTED


def test_no_price_no_size_means_beyond_not_contradicted():
    item = {**PRADA, "price": None, "title": "Prada Candy Eau De Parfum For Women"}
    assert cls(entry("It costs $200 for a 3.4 oz bottle."), item)[0] != gr.CONTRADICTED


def test_named_category_rule_needs_the_catalogue_names():
    e = entry("It belongs to the Skin Care category.")
    assert gr.classify_entry(e, item_fields(PRADA))[0] != gr.CONTRADICTED
    assert gr.classify_entry(e, item_fields(PRADA), category_names={"Skin Care", "Fragrance"})[0] == gr.CONTRADICTED


def test_ground_knowledge_rate_is_the_supported_share():
    k = {"user_demand": [entry("For women.", ["title"]), entry("For the evening and weddings.", ["category"])],
         "product_attribute": [entry("A 3.4 oz bottle.", ["title"]), entry("By Prada.", ["brand"])]}
    out, rate = gr.ground_knowledge(k, item_fields(PRADA))
    got = [e["grounding"] for p in ("user_demand", "product_attribute") for e in out[p]]
    assert got == [gr.SUPPORTED, gr.BEYOND, gr.CONTRADICTED, gr.SUPPORTED] and rate == 0.5
    assert [e["grounded"] for e in out["user_demand"]] == [True, False]
    assert all(e["grounding_note"] for p in out for e in out[p])
    assert gr.shares(got) == {"supported": 0.5, "beyond": 0.25, "contradicted": 0.25}


# ---- the mid-sentence rule ----------------------------------------------------------------------------
def test_unfinished_text():
    assert unfinished_text("The item is for women.") is None
    assert unfinished_text('It says "fresh."') is None
    assert unfinished_text("...which are common in").startswith("mid-sentence")
    assert unfinished_text("...sets, and sc", cap=15).startswith("mid-word")
    assert unfinished_text("common fragrā").startswith("mid-word")
    assert unfinished_text("...in the Men's Eau").startswith("mid-sentence")
    assert unfinished_fields(entry("The spray lasts for")) == ["analysis: mid-sentence: ends after 'for'"]


# ---- the Layer-2 diff ---------------------------------------------------------------------------------
def test_parent_diff():
    dims = [{"label": "Gender", "rationale": "adapted"}, {"label": "Event Occasion", "rationale": "inherited"},
            {"label": "Skin Type", "rationale": "new"}]
    rows = parent_diff(dims, ["Gender", "Occasion", "Budget"])
    assert [(r["parent"], r["refined"], r["change"]) for r in rows] == [
        ("Gender", "Gender", "inherited"), ("Occasion", "Event Occasion", "adapted"), ("Budget", None, "dropped"),
        (None, "Skin Type", "new")]


# ---- shipped knowledge ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped(committed_store):
    if not committed_store.exists("beauty", cat.ITEM_KNOWLEDGE):
        pytest.skip("no committed knowledge")
    return committed_store


def test_shipped_contradicted_row_and_shipped_table_matches(shipped):
    from reaseq_core.knowledge.report import grounding_classes_table
    kn = shipped.read("beauty", cat.ITEM_KNOWLEDGE)
    items = shipped.read("beauty", cat.ITEMS)
    # a single-agent row that turns 5.914 ml (the title's 0.2 fl oz) into 177.42 ml, twice, and into 0.2 ml
    row = kn[(kn["item_id"] == "B005TT8T46") & (kn["setup"] == "single_agent")]
    c = gr.classify_rows(row, items)         # the raw table: paths as arrays, attributes as JSON text
    bad = c[c["grounding"] == gr.CONTRADICTED]
    assert len(bad) == 3 and all(str(w).startswith("size: says ") for w in bad["why"])
    assert sum("177.42" in str(w) for w in bad["why"]) == 2
    table = shipped.read("beauty", cat.GROUNDING_CLASSES)
    rows = {(r["setup"], r["category"]): r for r in table["rows"]}
    assert {("multi_agent", "Fragrance"), ("multi_agent", "Bath & Body"), ("single_agent", "Fragrance")} <= set(rows)
    for r in table["rows"]:
        assert r["supported_share"] + r["beyond_share"] + r["contradicted_share"] == pytest.approx(1.0)
    # the stored table is what the rules give on the stored knowledge today

    class DS:
        name, content_hash = "beauty", table["dataset_hash"]
    DS.items = items
    fresh = {(r["setup"], r["category"]): r for r in grounding_classes_table(kn, DS).rows}
    for k, r in rows.items():
        assert fresh[k]["contradicted_share"] == pytest.approx(r["contradicted_share"])
        assert fresh[k]["entries"] == r["entries"]


def test_shipped_taxonomy_text_fields_are_checked(shipped):
    tax = shipped.read("beauty", cat.TAXONOMY)
    cut = unfinished_taxonomy_fields(tax)
    assert all(r["why"].startswith(("mid-word", "mid-sentence")) for r in cut)
    assert {r["category"] for r in cut} <= set(tax["categories"])


# ---- Layer-3 validation: a contradicted entry is retried, then recorded failed (FAKE backend) -----------
DEMAND, ATTRIBUTE = ["Gender", "Budget"], ["Size", "Form"]


def _answer(gender_text: str) -> str:
    def e(dim, text, ev):
        return {"dimension": dim, "analysis": text, "keywords": ["k1", "k2", "k3"], "evidence": [ev]}
    return json.dumps({"user_demand": [e("Gender", gender_text, "title"), e("Budget", "It costs $65.86.", "price")],
                       "product_attribute": [e("Size", "A 1.7 oz bottle.", "title"), e("Form", "A spray.", "title")]})


def _ctx(tmp_path, replies, attempts=3):
    fake = FakeBackendForTests(replies)       # the FAKE backend: canned replies, no model
    return fake, agents.AgentContext(fake, call_cache(ArtifactStore(tmp_path), "beauty"), max_attempts=attempts)


def test_fake_backend_contradicted_entry_is_retried_then_accepted(tmp_path):
    fake, ctx = _ctx(tmp_path, [_answer("The item is for men."), _answer("The item is for women.")])
    r = agents.item_knowledge_agent(ctx, PRADA, "Fragrance > Women's", DEMAND, ATTRIBUTE, "title, brand, price")
    assert r["status"] == "ok" and r["attempts"] == 2 and len(fake.calls) == 2
    assert "contradicts the item's data" in fake.calls[1][-1]["content"]      # the retry names the rule broken
    assert [e["grounding"] for e in r["user_demand"] + r["product_attribute"]] == [gr.SUPPORTED] * 4
    assert r["grounding_rate"] == 1.0


def test_fake_backend_contradicted_every_attempt_is_recorded_failed(tmp_path):
    fake, ctx = _ctx(tmp_path, [_answer("The item is for men.")] * 3)
    r = agents.item_knowledge_agent(ctx, PRADA, "Fragrance > Women's", DEMAND, ATTRIBUTE, "title, brand, price")
    assert r["status"] == "failed" and r["attempts"] == 3 and len(fake.calls) == 3
    assert "contradicts the item's data" in r["failure_reason"] and "gender" in r["failure_reason"]
    assert r["user_demand"] == [] and r["product_attribute"] == []
    log = [json.loads(x) for x in (tmp_path / "beauty" / "knowledge" / "llm_calls.jsonl").read_text().splitlines()]
    assert [x["status"] for x in log] == ["invalid"] * 3


def test_fake_backend_unfinished_text_is_refused_only_when_asked(tmp_path):
    cut = _answer("The item is for women, which are common in")
    fake, ctx = _ctx(tmp_path, [cut, cut])
    r = agents.item_knowledge_agent(ctx, PRADA, "Fragrance > Women's", DEMAND, ATTRIBUTE, "title, brand, price")
    assert r["status"] == "ok" and len(fake.calls) == 1
    fake, ctx = _ctx(tmp_path / "strict", [cut, cut], attempts=2)
    ctx.reject_unfinished_text = True
    r = agents.item_knowledge_agent(ctx, PRADA, "Fragrance > Women's", DEMAND, ATTRIBUTE, "title, brand, price")
    assert r["status"] == "failed" and "text cut short" in r["failure_reason"]
