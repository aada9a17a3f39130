"""Agent answer validation: the rules the schemas and checks enforce, on hand-made answers."""
import pytest

from reaseq_core.knowledge import schemas
from reaseq_core.knowledge.templates import AGENTS, load_template, placeholders, render
from reaseq_core.llm.fake import schema_filler
from reaseq_core.llm.structured import InvalidOutput, validate_answer


def tax(dims):
    return schemas.TaxonomyAnswer(decisions=["a.", "b."], analysis="x.", dimensions=dims)


def test_layer1_labels():
    schemas.make_taxonomy_check("demand")(tax(["Gift Giving", "Scent Mood", "Longevity", "Occasion"]))
    with pytest.raises(InvalidOutput, match="Brand"):
        schemas.make_taxonomy_check("demand")(tax(["Gift Giving", "Brand", "Longevity", "Occasion"]))
    with pytest.raises(InvalidOutput, match="Women's"):             # a category name is no user demand
        schemas.make_taxonomy_check("demand", {"Women's", "Cologne"})(tax(["Gift Giving", "Women's", "Mood", "Value"]))
    schemas.make_taxonomy_check("attribute")(tax(["Brand", "Concentration", "Volume", "Scent Family"]))
    schemas.make_taxonomy_check("attribute")(tax(["Price", "Concentration", "Volume", "Scent Family"]))
    with pytest.raises(InvalidOutput, match="Sales Rank"):
        schemas.make_taxonomy_check("attribute")(tax(["Brand", "Sales Rank", "Volume", "Scent Family"]))
    with pytest.raises(InvalidOutput, match="repeats an earlier label"):
        schemas.make_taxonomy_check("attribute")(tax(["Volume", "volume ", "Brand", "Scent Family"]))


@pytest.mark.parametrize("label, kind", [
    ("Gift for", "function word"), ("Price over the", "function word"), ("Cluttered but", "function word"),
    ("Love it", "function word"), ("Skin &", "function word"),
    ("Item Weight", "data field"), ("Shipping Weight", "data field"), ("ASIN", "data field"),
    ("Item Model Num", "data field"), ("Product Dimensions", "data field"), ("Titles", "data field"),
    ("Category", "data field"), ("Attributes", "placeholder"), ("Products", "placeholder"),
    ("Price over the category", "form"), ("24 Hour Wear", "form"), ("Skin Skin", "repeated word"),
    ("Genders", "repeated"), ("gender", "repeated"), ("Product Category", "data field"),
    ("Title and Brand", "data field"), ("Other Skin Care", "placeholder"),
    ("Cluttered but nice", "opinion"), ("A really great", "opinion"), ("Pop Culture etcetera", "opinion"),
    ("Great Value", "opinion"), ("The Recipes", "opinion"), ("Posture Support", "prompt example"),
    ("Armrest Types", "prompt example"), ("Description and Brand", "data field"), ("Brand Details", "data field"),
    ("Gender Identity", "overlap"), ("Gender and Age", "overlap"), ("None", "placeholder"),
    ("Product Path", "data field"), ("None of above", "opinion"),
    ("Unknown Dimension", "opinion")])
def test_label_rules_refuse_with_the_reason(label, kind):
    why = schemas.label_problem(label, ["Gender"], "attribute")
    assert why is not None and why.split(":")[0] == kind, why


def test_label_rules_per_perspective():
    assert schemas.label_problem("Price", [], "attribute") is None            # a product property (price level)
    assert schemas.label_problem("Price", [], "demand").startswith("product field")   # the motivation is Budget
    assert schemas.label_problem("Budget", [], "demand") is None
    assert schemas.label_problem("Skin Care", [], "demand", {"Skin Care"}).startswith("category name")
    assert schemas.label_problem("Skin Care", [], "attribute", {"Skin Care"}).startswith("category name")
    assert schemas.label_problem("Skin Care", [], "attribute") is None
    assert schemas.label_problem("Anti-Aging Care", [], "demand") is None      # hyphenated words are whole words
    assert schemas.label_problem("Scent", [], "demand", avoid=("scents",)).startswith("avoided")
    # opinion words are whole words: labels that merely contain their letters pass
    for ok in ("Fine Lines", "Theme", "Goodwill Gifting", "Nail Care", "Anti-Aging Care", "Bestseller Appeal"):
        assert schemas.label_problem(ok, [], "demand") is None, ok


@pytest.mark.parametrize("label, perspective", [
    ("Long Workhours", "demand"), ("Postural Support", "demand"), ("Home Office", "demand"),
    ("Long-Working Environment", "demand"), ("Home-Officer", "demand"),
    ("Seating Comfort", "attribute"), ("Armrests", "attribute"),
    ("Longworkhours", "demand"), ("Homeofficesetup", "demand"), ("Posturerecovery", "demand")])   # Magazine, glued
def test_near_copies_of_the_prompt_examples_are_refused(label, perspective):
    # the office-chair examples of the Layer-1 prompts, copied with another word form (Fragrance and Bath & Body)
    why = schemas.label_problem(label, [], perspective)
    assert why is not None and why.startswith("prompt example"), why


def test_prompt_words_and_category_words_are_refused():
    for label in ("Product Aspect", "Attributes List", "Motivations"):
        why = schemas.label_problem(label, [], "attribute")
        assert why is not None and why.split(":")[0] in ("prompt word", "placeholder"), (label, why)
    assert schemas.label_problem("Product Aspect", [], "attribute").startswith("prompt word")
    assert schemas.demand_name_words("Bath & Body") == {"bath", "body"}
    assert schemas.demand_name_words("Tools & Accessories") == {"tool", "accessory"}
    words = schemas.demand_name_words("Fragrance")
    assert schemas.label_problem("Fragrance and Gender", [], "demand", forbidden_words=words).startswith("category word")
    assert schemas.label_problem("Gender", [], "demand", forbidden_words=words) is None
    assert schemas.label_problem("Long Lasting", [], "demand", forbidden_words=words) is None   # not a near-copy
    for ok in ("Artwork", "Homework Help", "Network"):       # short example words are not searched inside words
        assert schemas.label_problem(ok, [], "demand") is None, ok
    for glued in ("Entertainmentinfo", "Entertainmentsupport", "Sci-Fi Entertainmentsource"):
        assert schemas.label_problem(glued, [], "demand").startswith("glued words"), glued
    for ok in ("Entertainment", "Personalization", "Anti-Inflammatory"):
        assert schemas.label_problem(ok, [], "demand") is None, ok
    check = schemas.make_taxonomy_check("demand", forbidden_words=schemas.demand_name_words("Bath & Body"))
    with pytest.raises(InvalidOutput) as e:
        check(tax(["Relaxation", "Body Care", "Budget", "Gifting"]))
    assert e.value.labels == ("Body Care",)


def test_refused_labels_travel_with_the_error():
    with pytest.raises(InvalidOutput) as e:
        schemas.make_taxonomy_check("demand")(tax(["Gift for", "Title", "Mood", "Mood"]))
    assert e.value.labels == ("Gift for", "Title", "Mood")
    assert "ends in 'for'" in str(e.value) and "data field" in str(e.value)


def refined(labels, rationale="inherited"):
    return schemas.RefinementAnswer(reasoning_trace="t.", dimensions=[
        schemas.RefinedDimension(label=x, rationale=rationale, justification="j.", mapped=["m"]) for x in labels])


def test_layer2_rules():
    schemas.make_refinement_check("demand")(refined(["Scent", "Mood", "Gift Giving", "Season"]))
    with pytest.raises(InvalidOutput, match="repeats an earlier label"):
        schemas.make_refinement_check("demand")(refined(["Scent", "Mood", "Gift Giving", "mood"]))
    with pytest.raises(InvalidOutput, match="ends in 'of'"):
        schemas.make_refinement_check("attribute")(refined(["Scent", "Mood", "Type of", "Season"]))
    value, err = validate_answer('{"reasoning_trace": "t", "dimensions": []}', schemas.RefinementAnswer, None)
    assert value is None and "schema violation" in err and "dimensions" in err


def test_layer2_rationale_matches_the_labels():
    parent = ["Gender", "Occasion", "Budget", "Scent"]
    dims = [{"label": "Gender", "rationale": "new"},             # unchanged label: inherited, whatever was said
            {"label": "Evening Wear", "rationale": "inherited"},  # changed, no shared word: new
            {"label": "Scent Strength", "rationale": "inherited"},  # changed, shares "Scent": adapted from it
            {"label": "Budgets", "rationale": "adapted"},         # the parent's label (plural aside): inherited
            {"label": "Longevity", "rationale": "adapted"}]       # model's adapted kept, no parent named
    out = schemas.annotate_changes(dims, parent)
    assert [d["rationale"] for d in out] == ["inherited", "new", "adapted", "inherited", "adapted"]
    assert [d["parent"] for d in out] == ["Gender", None, "Scent", "Budget", None]
    assert [d["rationale_model"] for d in out] == ["new", "inherited", "inherited", "adapted", "adapted"]
    assert out[0]["change"] == "unchanged from the parent's 'Gender'" and "adapted from" in out[2]["change"]
    assert schemas.annotate_changes(out, parent) == out                      # idempotent


def entry(dim):
    return {"dimension": dim, "analysis": "abc", "keywords": ["a", "b", "c"], "evidence": ["title"]}


def test_layer3_dimensions_exactly_once():
    check = schemas.make_knowledge_check(["U1", "U2"], ["P1", "P2"])
    ok = schemas.ItemKnowledgeAnswer(user_demand=[entry("U1"), entry("U2")], product_attribute=[entry("P1"), entry("P2")])
    check(ok)
    missing = schemas.ItemKnowledgeAnswer(user_demand=[entry("U1")], product_attribute=[entry("P1"), entry("P2")])
    with pytest.raises(InvalidOutput, match="missing dimension"):
        check(missing)
    extra = schemas.ItemKnowledgeAnswer(user_demand=[entry("U1"), entry("U2"), entry("X")],
                                        product_attribute=[entry("P1"), entry("P2")])
    with pytest.raises(InvalidOutput, match="not in the taxonomy"):
        check(extra)
    with pytest.raises(Exception):                         # 2 keywords: below the paper's 3-5
        schemas.KnowledgeEntry(dimension="U1", analysis="abc", keywords=["a", "b"], evidence=["title"])


def test_grammar_schemas_accept_their_own_filler():
    ks = schemas.knowledge_schema(["U1", "U2"], ["P1", "P2"])
    assert ks["properties"]["user_demand"]["items"]["properties"]["dimension"]["enum"] == ["U1", "U2"]
    assert ks["properties"]["user_demand"]["minItems"] == ks["properties"]["user_demand"]["maxItems"] == 2
    schemas.ItemKnowledgeAnswer.model_validate(schema_filler(ks))
    schemas.RefinementAnswer.model_validate(schema_filler(schemas.refinement_schema()))
    schemas.TaxonomyAnswer.model_validate(schema_filler(schemas.taxonomy_schema()))


def test_templates_render_and_refuse_missing_values():
    for agent in AGENTS:
        text = load_template(agent)
        assert placeholders(text), agent
        assert render(agent, text, **{p: "X" for p in placeholders(text)})
    from reaseq_core.errors import ReaSeqError
    with pytest.raises(ReaSeqError, match=r"\$\{item\}"):
        render("single_agent", load_template("single_agent"), field_names="title")
    # the item comes last: everything before it is shared by all items of a subcategory (prefix reuse)
    t = load_template("item_knowledge")
    assert t.rstrip().endswith("${item}\n</item>") and t.index("${demand_dimensions}") < t.index("${item}")


def test_label_repair_is_recorded_and_bounded():
    import json
    raw = json.dumps({"decisions": ["a.", "b."], "analysis": "x.",
                      "dimensions": ["Fragrance", "Gender", "Occasion", "Budget", "Purpose"]})
    fixed = schemas.repair_taxonomy(raw, "demand", {"Fragrance"})
    assert fixed is not None
    ans, note = fixed
    assert ans.dimensions == ["Gender", "Occasion", "Budget", "Purpose"] and "['Fragrance']" in note
    # too few left after removal: no repair
    raw2 = json.dumps({"decisions": ["a.", "b."], "analysis": "x.",
                       "dimensions": ["Fragrance", "Brand", "Price", "Gender", "Budget"]})
    assert schemas.repair_taxonomy(raw2, "demand", {"Fragrance"}) is None
    # nothing refused (it failed for another reason): no repair
    raw3 = json.dumps({"decisions": ["a.", "b."], "analysis": "x.", "dimensions": ["Mood", "Season", "Gift", "Value"]})
    assert schemas.repair_taxonomy(raw3, "demand", set()) is None
    assert schemas.repair_taxonomy("not json", "demand", set()) is None


def test_taxonomy_rule_check_finds_refused_labels_and_cut_texts():
    from reaseq_core.knowledge.summary import taxonomy_rule_check
    node = {"demand": {"dimensions": ["Budget", "Cluttered but", "Budget"], "reasoning": "Users buy gifts, sets, and sc"},
            "attribute": {"dimensions": ["Scent Family"], "reasoning": "Attributes come from the titles."},
            "subcategories": {"Women's": {"demand": {
                "reasoning_trace": "Kept Budget.",
                "dimensions": [{"label": "Budget", "justification": "Price matters for women's perfume."},
                               {"label": "Item Weight", "justification": "The weight of the"}]}}}}
    k = taxonomy_rule_check(node)
    assert k["labels"] == 6 and k["texts"] == 5
    assert [(r["where"], r["label"]) for r in k["labels_refused"]] == [
        ("Layer 1 demand", "Cluttered but"), ("Layer 1 demand", "Budget"), ("Women's demand", "Item Weight")]
    assert [r["why"].split(":")[0] for r in k["labels_refused"]] == ["function word", "repeated", "data field"]
    assert [(r["where"], r["field"]) for r in k["texts_cut"]] == [
        ("Layer 1 demand", "reasoning"), ("Women's demand", "dimensions[1].justification")]


def test_taxonomy_rule_check_with_the_category_refuses_its_name_words_in_demand_labels():
    from reaseq_core.knowledge.summary import taxonomy_rule_check
    node = {"demand": {"dimensions": ["Hair & Scalp", "Styling", "Budget", "Routine"]},
            "attribute": {"dimensions": ["Hair Type", "Form", "Size", "Brand"]},
            "subcategories": {"Shampoo": {"demand": {"parent": ["Hair & Scalp", "Styling", "Budget", "Routine"],
                                                     "dimensions": [{"label": "Hair & Scalp"}, {"label": "Care Level"},
                                                                    {"label": "Budget"}, {"label": "Routine"}]}}}}
    assert taxonomy_rule_check(node)["labels_refused"] == []            # without the category: no such rule
    k = taxonomy_rule_check(node, category="Hair Care")
    # Layer 1 demand "Hair & Scalp" holds "hair"; the attribute side and the inherited label in Layer 2 are
    # not refused for it; "Care Level" in Layer 2 holds "care", which no parent label holds
    assert [(r["where"], r["label"]) for r in k["labels_refused"]] == [
        ("Layer 1 demand", "Hair & Scalp"), ("Shampoo demand", "Care Level")]
    assert all(r["why"].startswith("category word") for r in k["labels_refused"])


def test_labels_with_words_in_no_dictionary_are_reported():
    """A misspelt or cut label word ("Suppport", "Aspec") is in neither the encoder's vocabulary nor the
    category's item texts; a plural, a domain word of the items ("Keratin") and an ordinary word are known."""
    import pandas as pd

    from reaseq_core.knowledge.summary import (category_known_words, encoder_words, taxonomy_rule_check,
                                               unknown_words)
    vocab = encoder_words()
    assert len(vocab) > 20_000 and {"posture", "support", "aspect"} <= vocab and not {"suppport", "aspec"} & vocab
    items = pd.DataFrame({"primary_category": ["Hair Care", "Makeup"], "brand": ["Acme", None],
                          "title": ["Keratin Smoothing Shampoo", "Paraben Free Lipstick"], "description": [None, None]})
    known = category_known_words(items, "Hair Care")
    assert unknown_words("Keratin Treatments", known) == [] and unknown_words("Posture Suppport", known) == ["suppport"]
    assert unknown_words("Paraben Free", known) == ["paraben"]          # a word of another category's items
    assert unknown_words("Colort Brushes", known) == ["colort"]        # only -s / -es come off: "colort" is not "color"
    node = {"demand": {"dimensions": ["Posture Suppport", "Budget"]},
            "attribute": {"dimensions": ["Product Aspec", "Keratin Level"]}}
    k = taxonomy_rule_check(node, known)
    assert [(r["where"], r["label"], r["words"]) for r in k["unknown_words"]] == [
        ("Layer 1 demand", "Posture Suppport", "suppport"), ("Layer 1 attribute", "Product Aspec", "aspec")]
    assert "unknown_words" not in taxonomy_rule_check(node)          # no dictionary given: no check


def test_taxonomy_text_caps_leave_room_and_cut_texts_are_reported_not_refused():
    """Layers 1-2's sentence fields have caps with room for the asked-for sentences; an answer whose text ends
    mid-sentence still passes the label checks (retrying made the model repeat it), and the rule check of the
    stored taxonomy reports it."""
    from reaseq_core.knowledge.summary import taxonomy_rule_check
    l1, l2 = schemas.taxonomy_schema()["properties"], schemas.refinement_schema()["properties"]
    assert l1["analysis"]["maxLength"] == schemas.L1_ANALYSIS_MAX >= 300
    assert l1["decisions"]["items"]["maxLength"] == schemas.L1_DECISION_MAX >= 160
    assert l2["reasoning_trace"]["maxLength"] == schemas.L2_TRACE_MAX >= 400
    assert l2["dimensions"]["items"]["properties"]["justification"]["maxLength"] == schemas.L2_JUSTIFICATION_MAX >= 120
    ans = schemas.TaxonomyAnswer(decisions=["Grouped gifts.", "Create dimensions:"], analysis="They are distinct, and",
                                 dimensions=["Gift Giving", "Budget", "Mood", "Occasion"])
    schemas.make_taxonomy_check("demand")(ans)
    k = taxonomy_rule_check({"demand": {"dimensions": ans.dimensions, "reasoning": ans.analysis,
                                        "decisions": ans.decisions}})
    assert [(r["field"], r["why"].split(":")[0]) for r in k["texts_cut"]] == [
        ("reasoning", "mid-sentence"), ("decisions[1]", "mid-sentence")]


def test_structured_line_shows_what_an_untitled_item_is():
    """Amazon 2018 Magazine items have no titles: the attribute agent saw only publisher and category path and
    answered Brand / Price / Size / Form / Color. Such an item shows its description's opening and its
    details that are not data fields; an item with a title is unchanged."""
    from reaseq_core.knowledge.inputs import structured_line
    untitled = {"brand": "Meredith", "category": "Magazine Subscriptions > Home & Garden",
                "description": "Better Homes & Gardens offers beautiful photography and tons of fresh, seasonal "
                               "ideas for adding charm to your home. Improve your curb appeal and make your space "
                               "extra cozy with this longstanding guide to home decor.",
                "attributes": {"Format:": "Print Magazine", "Shipping:": "only within the U.S.",
                               "Publisher:": "Meredith"}}
    line = structured_line(untitled)
    assert line.startswith("brand: Meredith; category: Magazine Subscriptions > Home & Garden; Format: Print Magazine")
    assert "description: Better Homes & Gardens offers" in line and line.endswith("...")
    assert "Shipping" not in line and "Publisher" not in line
    assert len(line.split("description: ")[1]) <= 163                 # the opening, cut at a word
    titled = {"title": "NARS Cream Blush", "brand": "NARS", "price": "60.00", "category": "Beauty > Makeup",
              "description": "A blush.", "attributes": {"Finish": "Matte"}}
    assert structured_line(titled) == "title: NARS Cream Blush; brand: NARS; price: 60.00; category: Beauty > Makeup"


def test_demand_labels_avoid_the_parts_of_a_compound_category_name():
    """Magazine's demand taxonomy for "Cooking, Food & Wine" was Reading / Cooking / Wine / Food / Gifts."""
    import types

    import pandas as pd

    from reaseq_core.knowledge.agents import _category_names
    items = pd.DataFrame({"primary_category": ["Cooking, Food & Wine"] * 2,
                          "category_path": [["Magazine Subscriptions", "Cooking, Food & Wine", "Recipes & Techniques"],
                                            ["Magazine Subscriptions", "Cooking, Food & Wine", "Special Diet"]]})
    names = _category_names(types.SimpleNamespace(items=items), "Cooking, Food & Wine", "demand")
    assert {"Cooking", "Food", "Wine", "Recipes", "Techniques", "Special Diet", "Cooking, Food & Wine"} <= names
    attr = _category_names(types.SimpleNamespace(items=items), "Cooking, Food & Wine", "attribute")
    assert "Recipes & Techniques" in attr and "Wine" not in attr          # whole names only
    assert schemas.label_problem("Wine", [], "demand", names).startswith("category name")
    assert schemas.label_problem("Wine Pairing", [], "demand", names) is None
