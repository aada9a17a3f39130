"""Layer 3's line format (knowledge/lines.py) and the slot engine that decodes it (llm/slots.py).

Parsing and the build plumbing run with FakeBackendForTests (its answers are the format's placeholder example,
not knowledge). The engine runs on the real embedded model behind the `llm` marker: labels in the taxonomy's
order, every analysis a finished sentence, 3-4 keywords, 1-2 evidence entries, several items decoded in one
batch, and the shared prompt prefix read once."""
import json

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.knowledge import agents, schemas
from reaseq_core.knowledge.lines import KnowledgeLines, parse_lines
from reaseq_core.knowledge.pipeline import BuildConfig, build_knowledge, call_cache
from reaseq_core.llm.cache import read_call_log
from reaseq_core.llm.fake import FakeBackendForTests, schema_echo_reply
from reaseq_core.llm.slots import Slot
from reaseq_core.store import ArtifactStore

DEMAND = ["Scent Style", "Occasion", "Gift Appeal", "Value"]
ATTRIBUTE = ["Fragrance Type", "Size", "Brand", "Target User"]


def test_lines_parse_into_the_json_shape_and_pass_the_same_checks():
    fmt = KnowledgeLines(DEMAND, ATTRIBUTE)
    obj = fmt.parse(fmt.example())
    ans = schemas.ItemKnowledgeAnswer.model_validate(obj)
    schemas.make_knowledge_check(DEMAND, ATTRIBUTE)(ans)            # every dimension once, in both perspectives
    assert [e.dimension for e in ans.user_demand] == DEMAND
    assert ans.product_attribute[1].keywords == ["alpha", "beta", "gamma"]
    assert ans.product_attribute[1].evidence == ["title"]


def test_lines_program_inserts_headers_labels_and_leaves_three_slots_per_dimension():
    steps = KnowledgeLines(DEMAND, ATTRIBUTE).program().steps
    literals = [s for s in steps if isinstance(s, str)]
    assert literals[0] == "[user demand]\nScent Style:"
    assert literals[len(DEMAND)] == "[product attribute]\nFragrance Type:"
    assert len(literals) == len(DEMAND) + len(ATTRIBUTE)
    assert sum(isinstance(s, Slot) for s in steps) == 3 * (len(DEMAND) + len(ATTRIBUTE))


@pytest.mark.parametrize("text, where", [
    ("Scent Style: fresh | a; b; c | title\n", "line 1"),                                    # no header
    ("[user demand]\nScent Style fresh and light | a; b; c | title\n", "line 2"),            # no colon
    ("[user demand]\nScent Style: Fresh. | a; b; c\n", "line 2 ('Scent Style'): 2 field(s)"),
])
def test_malformed_lines_name_the_line(text, where):
    with pytest.raises(ValueError, match=__import__("re").escape(where)):
        parse_lines(text)


def test_build_with_line_output_stores_the_same_row_shape(beauty, tmp_path):
    store = ArtifactStore(tmp_path)
    fake = FakeBackendForTests(schema_echo_reply)
    out = build_knowledge(beauty, store, fake, BuildConfig(categories=["Fragrance"], limit=3, layer3_output="lines"),
                          progress=False)
    assert out["items_processed"] == 3
    df = store.read("beauty", cat.ITEM_KNOWLEDGE)
    rows = df[df["setup"] == "multi_agent"]
    assert (rows["status"] == "ok").all()
    ud = json.loads(rows.iloc[0]["user_demand"])
    assert [e["dimension"] for e in ud] == json.loads(rows.iloc[0]["dimensions_demand"])
    calls = [r for r in read_call_log(store.path("beauty", cat.LLM_CALLS)) if r["agent"] == "item_knowledge"]
    assert len(calls) == 3
    assert all(c["params"]["text_format"]["format"] == "knowledge_lines/1" and c["params"]["json_schema"] is None
               for c in calls)
    assert calls[0]["response"].startswith("[user demand]\n")
    # the line template is the one recorded (rows and call log), not the JSON one
    from reaseq_core.knowledge.templates import load_variant, template_hash
    assert set(rows["template_hash"]) == {template_hash(load_variant("item_knowledge", "lines"))}
    assert {c["template_hash"] for c in calls} == set(rows["template_hash"])


def test_top_items_selection_spans_categories_and_taxonomy_only_builds_no_items(beauty, tmp_path):
    store = ArtifactStore(tmp_path)
    fake = FakeBackendForTests(schema_echo_reply)
    cats = sorted(set(beauty.items["primary_category"].dropna()))
    out = build_knowledge(beauty, store, fake, BuildConfig(categories=cats, top_items=40, min_sub_items=3,
                                                           taxonomy_only=True), progress=False)
    assert out["items_processed"] == 0 and not store.exists("beauty", cat.ITEM_KNOWLEDGE) or \
        store.read("beauty", cat.ITEM_KNOWLEDGE).empty
    tax = store.read("beauty", cat.TAXONOMY)["categories"]
    top = set(beauty.interactions["item_id"].value_counts().index[:40])
    from reaseq_core.knowledge import inputs
    sel = beauty.items[beauty.items["item_id"].isin(top)]
    want = {}
    for r in sel.to_dict("records"):
        want.setdefault(r["primary_category"], []).append(inputs.subcategory_of(r, r["primary_category"]))
    expect = {c: {s for s in subs if subs.count(s) >= 3} for c, subs in want.items()}
    expect = {c: s for c, s in expect.items() if s}
    assert set(tax) == set(expect)                                   # categories without a big-enough subcategory wait
    for c, subs in expect.items():
        assert set(tax[c]["subcategories"]) == subs


@pytest.mark.llm
@pytest.mark.parametrize("kv_unified", [True, False], ids=["shared-kv", "kv-per-sequence"])
def test_slot_engine_decodes_items_together_in_the_line_format(beauty, tmp_path, kv_unified):
    from concurrent.futures import ThreadPoolExecutor

    from reaseq_core.knowledge import inputs
    from reaseq_core.knowledge.templates import load_variant
    from reaseq_core.llm.embedded import EmbeddedBackend
    # a KV buffer per sequence copies a prefix held by another sequence whole (bench_knowledge --kv own)
    backend = EmbeddedBackend(slots=2, kv_unified=kv_unified)
    ctx = agents.AgentContext(backend, call_cache(ArtifactStore(tmp_path), "beauty"), max_attempts=2,
                              templates={"item_knowledge": load_variant("item_knowledge", "lines")},
                              layer3_output="lines", reject_unfinished_text=True)
    items = beauty.items[beauty.items["primary_category"] == "Fragrance"].head(3).to_dict("records")
    fnames = inputs.field_names(beauty.items)
    run = lambda it: agents.item_knowledge_agent(ctx, it, "Fragrance > Women's", DEMAND, ATTRIBUTE, fnames)  # noqa
    first = run(items[0])                                            # reads the shared prefix
    with ThreadPoolExecutor(2) as ex:
        rows = [first] + list(ex.map(run, items[1:]))
    for r in rows:
        assert r["status"] == "ok", r["failure_reason"]
        assert [e["dimension"] for e in r["user_demand"]] == DEMAND
        assert [e["dimension"] for e in r["product_attribute"]] == ATTRIBUTE
        for e in r["user_demand"] + r["product_attribute"]:
            assert schemas.unfinished_text(e["analysis"]) is None, e["analysis"]    # a sentence the model ended
            assert 3 <= len(e["keywords"]) <= 4 and 1 <= len(e["evidence"]) <= 2
            assert all("," not in k and ";" not in k for k in e["keywords"])
    calls = read_call_log(ctx.cache.path)
    live = [c for c in calls if c["agent"] == "item_knowledge"]
    assert all(c["parallel_slots"] == 2 and c["forced_tokens"] > 0 and c["sampled_tokens"] > 0 for c in live)
    # the two later items found the instructions and dimensions in the KV cache
    later = [c for c in live if c["subject"] != str(items[0]["item_id"])]
    assert all(c["prompt_tokens_reused"] > 0.5 * c["prompt_tokens"] for c in later), \
        [(c["prompt_tokens_reused"], c["prompt_tokens"]) for c in later]
    assert backend.engine().steps > 0


def test_only_missing_skips_items_that_have_knowledge(beauty, tmp_path):
    from reaseq_core.knowledge.pipeline import KnowledgeBuild
    store = ArtifactStore(tmp_path)
    fake = FakeBackendForTests(schema_echo_reply)
    build_knowledge(beauty, store, fake, BuildConfig(categories=["Fragrance"], limit=3), progress=False)
    done = set(store.read("beauty", cat.ITEM_KNOWLEDGE)["item_id"])
    sel = KnowledgeBuild(beauty, store, fake, BuildConfig(categories=["Fragrance"], only_missing=True,
                                                          layer3_output="lines"), progress=False).selection("Fragrance")
    assert len(sel) == 492 - 3 and not (set(sel["item_id"]) & done)


def test_a_slot_cannot_repeat_its_own_ngrams():
    from reaseq_core.llm.slots import _SlotState
    st = _SlotState(Slot("text", "|"))
    st.history = [5, 6, 7, 5, 6]
    assert st.repeats() == [7]                 # "5 6 7 ... 5 6" may not go on with 7 (a repeated trigram)
    st = _SlotState(Slot("list", "|", min_items=3, max_items=4))
    st.history = [5, 6, 9, 5]
    assert st.repeats() == [6]                 # in a list, a repeated bigram: 'Katy Perry; Katy Perry'
    st.history = [5, 6]
    assert st.repeats() == []


def test_recheck_fails_stored_rows_with_punctuation_noise_and_keeps_the_rest(beauty, tmp_path):
    from reaseq_core.knowledge.pipeline import recheck_rows
    store = ArtifactStore(tmp_path)
    fake = FakeBackendForTests(schema_echo_reply)
    build_knowledge(beauty, store, fake, BuildConfig(categories=["Fragrance"], limit=3, layer3_output="lines"),
                    progress=False)
    df = store.read("beauty", cat.ITEM_KNOWLEDGE)
    i = df.index[df["setup"] == "multi_agent"][0]
    ud = json.loads(df.at[i, "user_demand"])
    ud[1]["analysis"] = "It is a leave-in product. . . . (. . .). . .(. ."
    df.at[i, "user_demand"] = json.dumps(ud)
    store.write("beauty", cat.ITEM_KNOWLEDGE, df, store.provenance("beauty", cat.ITEM_KNOWLEDGE))
    out = recheck_rows(store, "beauty", now="T")
    assert out["rows_failed_now"] == 1 and out["items"] == [str(df.at[i, "item_id"])]
    after = store.read("beauty", cat.ITEM_KNOWLEDGE)
    assert after.at[i, "status"] == "failed" and "garbled" in after.at[i, "failure_reason"]
    assert (after.drop(index=i)["status"] == "ok").all()
    summary = store.read("beauty", cat.KNOWLEDGE_SUMMARY)          # rewritten: the failed row is not knowledge
    assert summary["categories"]["Fragrance"]["multi_agent"]["items_failed"] == 1
    assert recheck_rows(store, "beauty")["rows_failed_now"] == 0           # nothing more to fail


def test_a_line_format_retry_notes_the_error_without_showing_the_answer(tmp_path):
    """Shown its refused answer, the model copied it token for token even at temperature 1.0; a line-format
    retry keeps the original prompt (its prefix cached), notes the error at its end, and samples hotter."""
    from reaseq_core.llm.cache import CallCache
    from reaseq_core.llm.structured import call_structured
    fmt = KnowledgeLines(DEMAND, ATTRIBUTE)
    bad = fmt.example().replace("Size:", "Volume:", 1)            # a dimension the taxonomy does not have
    fake = FakeBackendForTests([bad, fmt.example()])               # FAKE answers: the format's placeholder
    cache = CallCache(tmp_path / "calls.jsonl")
    prompt = [{"role": "user", "content": "Describe the item."}]
    res = call_structured(fake, cache, agent="item_knowledge", subject="i1", messages=prompt,
                          schema_model=schemas.ItemKnowledgeAnswer, check=schemas.make_knowledge_check(DEMAND, ATTRIBUTE),
                          text_format=fmt, retry=agents.LINES_RETRY)
    assert res.ok and res.attempts == 2
    retry = fake.calls[1]
    assert len(retry) == 1 and retry[0]["content"].startswith("Describe the item.\n\nNote: an earlier answer")
    assert "Volume" not in retry[0]["content"].split("Note:")[0] and bad not in retry[0]["content"]
    assert [p["temperature"] for p in fake.params] == [0.0, 0.7] and fake.params[1]["seed"] == 1
    log = read_call_log(tmp_path / "calls.jsonl")
    assert log[0]["prompt_change"] is None
    assert log[1]["prompt_change"].startswith("error noted at the end of the prompt, answer not shown (attempt 0: ")
