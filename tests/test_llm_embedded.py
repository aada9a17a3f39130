"""The embedded backend: model integrity (no model needed) and, behind the `llm` marker, a handful of short
real calls to Qwen2.5-Coder-1.5B-Instruct (validity and shape only: greedy text differs between builds)."""
import json

import pytest

from reaseq_core.llm import embedded
from reaseq_core.llm.cache import CallCache
from reaseq_core.llm.structured import call_structured


def test_refuses_wrong_size(tmp_path):
    bad = tmp_path / "m.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(embedded.ModelIntegrityError, match="refusing to load"):
        embedded.verify_model(bad)


def test_refuses_wrong_hash(tmp_path, monkeypatch):
    bad = tmp_path / "m.gguf"
    bad.write_bytes(b"x" * 1000)
    monkeypatch.setattr(embedded, "MODEL_BYTES", 1000)          # right size, wrong content
    with pytest.raises(embedded.ModelIntegrityError, match="does not match"):
        embedded.verify_model(bad)
    b = embedded.EmbeddedBackend(model_path=bad)
    with pytest.raises(embedded.ModelIntegrityError):
        b.llm                                                     # the backend never hands it to llama.cpp


def test_assembly_refuses_corrupt_chunks(tmp_path, monkeypatch):
    parts = []
    for i in range(3):
        p = tmp_path / f"part{i}"
        p.write_bytes(bytes([i]) * 10)
        parts.append(p)
    monkeypatch.setattr(embedded, "part_paths", lambda: parts)
    monkeypatch.setattr(embedded, "MODEL_BYTES", 30)
    with pytest.raises(embedded.ModelIntegrityError):
        embedded.ensure_model(tmp_path / "models")
    assert not (tmp_path / "models" / embedded.MODEL_FILE).exists()       # nothing half-verified left behind
    assert not list((tmp_path / "models").glob("*.partial"))


@pytest.fixture(scope="module")
def backend():
    return embedded.EmbeddedBackend()


@pytest.mark.llm
def test_model_is_verified_and_answers(backend):
    path = embedded.ensure_model()
    assert path.stat().st_size == embedded.MODEL_BYTES
    c = backend.complete([{"role": "user", "content": "Say OK."}], max_tokens=8)
    assert c.completion_tokens >= 1 and c.prompt_tokens > 5 and c.latency_s > 0 and c.text.strip()


@pytest.mark.llm
def test_schema_grammar_gives_valid_json(backend, tmp_path):
    from pydantic import BaseModel, Field

    class Kw(BaseModel):
        keywords: list[str] = Field(min_length=3, max_length=3)

    schema = {"type": "object", "properties": {"keywords": {"type": "array", "minItems": 3, "maxItems": 3,
                                                            "items": {"type": "string", "maxLength": 12}}},
              "required": ["keywords"]}
    r = call_structured(backend, CallCache(tmp_path / "c.jsonl"), agent="test", subject="perfume",
                        messages=[{"role": "user", "content": "Three keywords for a women's perfume, as JSON."}],
                        schema_model=Kw, json_schema=schema, max_tokens=40)
    assert r.ok, r.error
    assert len(r.value.keywords) == 3 and all(len(k) <= 12 for k in r.value.keywords)
    rec = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])
    assert rec["model_hash"] == embedded.MODEL_SHA256 and rec["status"] == "ok" and rec["completion_tokens"] > 0


@pytest.mark.llm
def test_grammar_fast_path_gives_the_stock_chains_tokens(backend):
    """Greedy grammar decoding that checks the top token first must produce exactly the text of
    llama-cpp-python's stock chain (grammar over the whole vocabulary), and must have taken both branches."""
    schema = {"type": "object", "properties": {"dimension": {"type": "string", "enum": ["Scent Family", "Longevity"]},
                                               "keywords": {"type": "array", "minItems": 2, "maxItems": 3,
                                                            "items": {"type": "string", "maxLength": 14}}},
              "required": ["dimension", "keywords"], "additionalProperties": False}
    msgs = [{"role": "user", "content": "Title: Davidoff Cool Water Eau De Toilette Spray for Men, 4.2 Ounce. "
                                        "Pick a dimension and keywords, as JSON."}]
    texts = {}
    for fast in (False, True):
        backend.llm.fast_grammar = fast
        backend.reset_prefix_cache()
        texts[fast] = backend.complete(msgs, max_tokens=40, temperature=0.0, json_schema=schema).text
    backend.llm.fast_grammar = backend.fast_grammar
    stats = backend.llm.grammar_stats
    assert texts[True] == texts[False]
    assert json.loads(texts[True])["dimension"] in ("Scent Family", "Longevity")
    assert stats.top_allowed > 0 and stats.runner_up_allowed + stats.full_passes > 0   # a top token was rejected
