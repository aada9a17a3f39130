"""The shipped knowledge keeps resolving from the shipped call log: a build over shipped items, on a
temporary copy of the committed knowledge stage, reaches no backend (a fake that must not be asked): the
stored taxonomy is kept and every Layer-3 and single-agent prompt, schema and parameter set has the key it
was logged under. Only items none of whose stored entries is contradicted (grounding.py) are taken: a
contradicted entry now makes the answer invalid, so such an item is asked again by design. Entries are compared on
the model's own fields (dimension, analysis, keywords, evidence); the grounding class and note are added on
writing and follow today's rules."""
import json
import shutil

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.knowledge import agents, grounding, inputs
from reaseq_core.knowledge.pipeline import BuildConfig, build_knowledge, call_cache
from reaseq_core.llm.fake import FakeBackendForTests
from reaseq_core.store import ArtifactStore

from conftest import COMMITTED_ROOT


MODEL_FIELDS = ("dimension", "analysis", "keywords", "evidence")


def model_fields(entries) -> list[dict]:
    """The fields the model wrote, of stored entries (JSON text) or of an agent's result (a list)."""
    if isinstance(entries, str):
        entries = json.loads(entries) if entries else []
    return [{k: e.get(k) for k in MODEL_FIELDS} for e in entries]


def without_contradictions(rows, items) -> set[str]:
    """Item ids of the ok rows none of whose stored entries today's rules call contradicted."""
    c = grounding.classify_rows(rows, items)
    bad = set(c.loc[c["grounding"] == grounding.CONTRADICTED, "item_id"])
    return set(rows.loc[rows["status"] == "ok", "item_id"]) - bad


class FakeThatMustNotBeAsked(FakeBackendForTests):
    """Says it is the embedded model the shipped log was made with; any call is a cache miss."""
    name = "embedded"

    def complete(self, messages, **kw):
        self.calls.append(messages)
        raise AssertionError("cache miss: a shipped call was asked again")


@pytest.fixture()
def shipped(beauty, tmp_store, tmp_path):
    knowledge = COMMITTED_ROOT / "beauty" / "knowledge"
    if not knowledge.is_dir():
        pytest.skip("no committed knowledge stage")
    store = ArtifactStore(tmp_path)
    shutil.copytree(tmp_store.stage_dir("beauty", "data"), store.stage_dir("beauty", "data"))
    shutil.copytree(knowledge, store.stage_dir("beauty", "knowledge"))
    return store


def test_shipped_items_resolve_from_the_shipped_call_log(beauty, shipped):
    store = shipped
    df = store.read("beauty", cat.ITEM_KNOWLEDGE)
    cfg = store.provenance("beauty", cat.ITEM_KNOWLEDGE)["config"]       # the attempts the shipped run allowed
    model = store.read("beauty", cat.TAXONOMY)["model"]
    fake = FakeThatMustNotBeAsked([], model=model["model"])
    fake.model_hash = model["model_hash"]
    items = store.read("beauty", cat.ITEMS)
    ma = df[(df["setup"] == "multi_agent") & (df["status"] == "ok")]
    ma = ma[ma["item_id"].isin(without_contradictions(ma, items))]
    # rows of the line-format template (every category's current rows); the JSON rows left from Bath & Body's
    # first build were asked with its earlier taxonomy, so they are regenerated (`--rebuild-template`), not replayed
    from reaseq_core.knowledge.templates import load_variant, template_hash
    ma = ma[ma["template_hash"] == template_hash(load_variant("item_knowledge", "lines"))]
    assert len(ma) >= 2000 and ma["primary_category"].nunique() == 6
    ids = ma.groupby("primary_category")["item_id"].apply(lambda s: sorted(s)[:12]).explode().tolist()
    out = build_knowledge(beauty, store, fake, BuildConfig(categories=sorted(ma["primary_category"].unique()),
                                                           item_ids=ids, max_attempts=cfg["max_attempts"],
                                                           layer3_output="lines"),
                          progress=False)
    assert fake.calls == [] and out["cache_misses"] == 0 and out["items_processed"] == len(ids)
    assert out["reused"]["taxonomies"] == ma["primary_category"].nunique()
    after = store.read("beauty", cat.ITEM_KNOWLEDGE).set_index(["item_id", "setup"])
    before = df.set_index(["item_id", "setup"])
    for iid in ids:
        a, b = after.loc[(iid, "multi_agent")], before.loc[(iid, "multi_agent")]
        assert a["status"] == "ok"
        for persp in ("user_demand", "product_attribute"):
            assert model_fields(a[persp]) == model_fields(b[persp]), (iid, persp)
            assert all(e["grounding"] != grounding.CONTRADICTED for e in json.loads(a[persp]))
        assert a["dimensions_demand"] == b["dimensions_demand"]
    # the refinements stored before the rationale rule now say what changed, their labels as they were
    tax = store.read("beauty", cat.TAXONOMY)
    for node in tax["categories"].values():
        for sub in node["subcategories"].values():
            d = sub["demand"]
            assert d["final"] == [x["label"] for x in d["dimensions"]] and all("change" in x for x in d["dimensions"])
    # the single-agent baseline (its schema and template unchanged) resolves too
    ds = inputs.without_constant_attributes(beauty)
    cache = call_cache(store, "beauty")
    by_id = ds.items.set_index("item_id", drop=False)
    sa = df[df["setup"] == "single_agent"]
    clean = without_contradictions(sa, items) | set(sa.loc[sa["status"] != "ok", "item_id"])
    sa = sa[sa["item_id"].isin(clean)].sort_values("item_id").head(6)
    assert len(sa) == 6
    for r in sa.to_dict("records"):
        # the knowledge stage's provenance holds the config of its latest build (which may have had no
        # single-agent work); a row's own attempt count is the limit its build allowed when the row failed
        limit = int(r["attempts"]) if r["status"] != "ok" else cfg["max_attempts"]
        ctx = agents.AgentContext(fake, cache, max_attempts=cfg["max_attempts"], single_agent_attempts=limit)
        got = agents.single_agent(ctx, by_id.loc[r["item_id"]].to_dict(), inputs.field_names(ds.items))
        assert got["live_calls"] == 0 and got["status"] == r["status"]
        if r["status"] == "ok":
            for persp in ("user_demand", "product_attribute"):
                assert model_fields(got[persp]) == model_fields(r[persp]), (r["item_id"], persp)
    assert fake.calls == []
