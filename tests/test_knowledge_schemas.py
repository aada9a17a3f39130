"""Agent answer validation: the rules the schemas and checks enforce, on hand-made answers."""
import pytest

from reaseq_core.knowledge import schemas
from reaseq_core.knowledge.templates import AGENTS, load_template, placeholders, render
from reaseq_core.llm.fake import schema_filler
from reaseq_core.llm.structured import InvalidOutput, validate_answer


def tax(dims):
    return schemas.TaxonomyAnswer(decisions=["a.", "b."], analysis="x", dimensions=dims)


def test_layer1_labels():
    schemas.make_taxonomy_check("demand")(tax(["Gift Giving", "Scent Mood", "Longevity", "Occasion"]))
    with pytest.raises(InvalidOutput, match="Brand"):
        schemas.make_taxonomy_check("demand")(tax(["Gift Giving", "Brand", "Longevity", "Occasion"]))
    with pytest.raises(InvalidOutput, match="Women's"):             # a category name is no user demand
        schemas.make_taxonomy_check("demand", {"Women's", "Cologne"})(tax(["Gift Giving", "Women's", "Mood", "Value"]))
    schemas.make_taxonomy_check("attribute")(tax(["Brand", "Concentration", "Volume", "Scent Family"]))
    with pytest.raises(InvalidOutput, match="Sales Rank"):
        schemas.make_taxonomy_check("attribute")(tax(["Brand", "Sales Rank", "Volume", "Scent Family"]))
    with pytest.raises(InvalidOutput, match="repeated"):
        schemas.make_taxonomy_check("attribute")(tax(["Volume", "volume ", "Brand", "Scent Family"]))


def refined(labels, final):
    return schemas.RefinementAnswer(reasoning_trace="t", final=final, dimensions=[
        schemas.RefinedDimension(label=x, rationale="inherited", justification="j", mapped=["m"]) for x in labels])


def test_layer2_rules():
    schemas.make_refinement_check("demand")(refined(["A1", "B2", "C3", "D4"], ["A1", "B2", "C3", "D4"]))
    with pytest.raises(InvalidOutput, match="does not list"):
        schemas.make_refinement_check("demand")(refined(["A1", "B2", "C3", "D4"], ["A1", "B2", "C3", "E5"]))
    with pytest.raises(Exception):                        # label over 15 characters: pydantic rejects it
        refined(["A label far too long", "B2", "C3", "D4"], ["A1", "B2", "C3", "D4"])
    value, err = validate_answer('{"reasoning_trace": "t", "dimensions": [], "final": []}', schemas.RefinementAnswer,
                                 None)
    assert value is None and "schema violation" in err and "dimensions" in err


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
    raw = json.dumps({"decisions": ["a.", "b."], "analysis": "x",
                      "dimensions": ["Fragrance", "Gender", "Occasion", "Budget", "Purpose"]})
    fixed = schemas.repair_taxonomy(raw, "demand", {"Fragrance"})
    assert fixed is not None
    ans, note = fixed
    assert ans.dimensions == ["Gender", "Occasion", "Budget", "Purpose"] and "['Fragrance']" in note
    # too few left after removal: no repair
    raw2 = json.dumps({"decisions": ["a.", "b."], "analysis": "x",
                       "dimensions": ["Fragrance", "Brand", "Price", "Gender", "Budget"]})
    assert schemas.repair_taxonomy(raw2, "demand", {"Fragrance"}) is None
    # nothing forbidden (it failed for another reason): no repair
    raw3 = json.dumps({"decisions": ["a.", "b."], "analysis": "x", "dimensions": ["A1", "B2", "C3", "D4"]})
    assert schemas.repair_taxonomy(raw3, "demand", set()) is None
    assert schemas.repair_taxonomy("not json", "demand", set()) is None
