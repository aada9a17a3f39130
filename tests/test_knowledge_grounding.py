"""The grounding check, on hand-made items whose verdicts are worked out by hand."""
from reaseq_core.knowledge.grounding import check_evidence, ground_entry, ground_knowledge
from reaseq_core.knowledge.inputs import item_fields

ITEM = {"item_id": "X1", "title": "Prada Candy Eau De Parfum Spray 1.7 Oz For Women", "brand": "Prada",
        "price": 65.86, "sales_rank": 78916.0, "category_path": ["Beauty", "Fragrance", "Women's", "Eau de Parfum"],
        "attributes": {"sales_type": "Beauty"}, "description": None}
FIELDS = item_fields(ITEM)


def test_item_fields_shape():
    assert FIELDS == {"title": "Prada Candy Eau De Parfum Spray 1.7 Oz For Women", "brand": "Prada", "price": "65.86",
                      "sales_rank": "78916 in Beauty", "category": "Beauty > Fragrance > Women's > Eau de Parfum"}


def test_field_names():
    assert check_evidence("title", FIELDS)[0]
    assert check_evidence("Brand", FIELDS)[0]
    assert check_evidence("sales rank", FIELDS)[0]
    ok, why = check_evidence("description", FIELDS)          # this item has no description
    assert not ok and "does not have" in why


def test_field_with_value():
    assert check_evidence("brand: Prada", FIELDS)[0]
    ok, why = check_evidence("brand: Chanel", FIELDS)
    assert not ok and "not in field 'brand'" in why
    assert check_evidence("price: 65.86", FIELDS)[0]
    assert not check_evidence("price: 12.00", FIELDS)[0]


def test_quoted_phrases():
    assert check_evidence('"Eau De Parfum Spray"', FIELDS)[0]          # contiguous
    assert check_evidence("1.7 oz spray", FIELDS)[0]                    # words 1.7, oz, spray: 3/3 present
    assert check_evidence("women parfum vanilla", FIELDS)[0]            # 2 of 3 content words = 2/3: supported
    ok, why = check_evidence("vanilla caramel notes", FIELDS)           # 0 of 3
    assert not ok and "not in the item's metadata" in why
    assert not check_evidence("for the", FIELDS)[0]                     # only stopwords: nothing to check


def test_entry_without_evidence_or_claim():
    # check_evidence resolves what a citation points at; it is no verdict on the claim (the classes, the rate and
    # the bare-field-name rule are tested in test_knowledge_grounding_classes.py)
    none = {"dimension": "Value", "analysis": "For women.", "keywords": ["women"], "evidence": []}
    g = ground_entry(none, FIELDS)
    assert (g["grounding"], g["grounded"], g["grounding_note"]) == ("beyond", False, "no evidence cited")
    # a title that resolves but whose value does not carry the claim ("x" is no claim word): beyond, not grounded
    bare = {"dimension": "Scent", "analysis": "x", "keywords": ["a", "b", "c"], "evidence": ["title", "brand: Prada"]}
    assert all(check_evidence(e, FIELDS)[0] for e in bare["evidence"])
    g = ground_entry(bare, FIELDS)
    assert g["grounding"] == "beyond" and not g["grounded"] and g["grounding_note"].startswith("no claim")
    out, rate = ground_knowledge({"user_demand": [none], "product_attribute": [bare]}, FIELDS)
    assert rate == 0.0 and [e["grounded"] for e in out["product_attribute"]] == [False]


def test_key_value_attributes():
    item = {**ITEM, "attributes": {"Format": "Print Magazine", "Publisher": "Conde Nast"}}
    f = item_fields(item)
    assert f["attributes"] == {"Format": "Print Magazine", "Publisher": "Conde Nast"}
    assert check_evidence("attributes.format", f)[0]
    assert check_evidence("Publisher: Conde Nast", f)[0]
    assert not check_evidence("Publisher: Hearst", f)[0]
    assert not check_evidence("attributes.language", f)[0]
