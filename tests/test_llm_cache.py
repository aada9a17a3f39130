"""The call cache / call log and structured output, with FakeBackendForTests (plumbing only)."""
import json

import pytest
from pydantic import BaseModel, Field

from reaseq_core.llm.cache import CallCache, call_key, read_call_log
from reaseq_core.llm.fake import FakeBackendForTests
from reaseq_core.llm.structured import InvalidOutput, call_structured, parse_json_tolerant


class Answer(BaseModel):
    label: str = Field(max_length=15)
    keywords: list[str] = Field(min_length=3, max_length=5)


MSG = [{"role": "user", "content": "describe"}]


def test_key_depends_on_every_part():
    base = call_key("embedded", "m", "h", MSG, {"t": 0})
    assert base == call_key("embedded", "m", "h", MSG, {"t": 0})
    assert base != call_key("openai", "m", "h", MSG, {"t": 0})
    assert base != call_key("embedded", "m", "h2", MSG, {"t": 0})
    assert base != call_key("embedded", "m", "h", [{"role": "user", "content": "other"}], {"t": 0})
    assert base != call_key("embedded", "m", "h", MSG, {"t": 0.5})


def test_second_run_costs_no_call(tmp_path):
    good = json.dumps({"label": "Scent", "keywords": ["a", "b", "c"]})
    b1 = FakeBackendForTests([good])
    r1 = call_structured(b1, CallCache(tmp_path / "c.jsonl"), agent="t", subject="x", messages=MSG, schema_model=Answer)
    assert r1.ok and r1.live_calls == 1 and len(b1.calls) == 1
    b2 = FakeBackendForTests([])                       # would answer "{}" (invalid) if it were asked
    r2 = call_structured(b2, CallCache(tmp_path / "c.jsonl"), agent="t", subject="x", messages=MSG, schema_model=Answer)
    assert r2.ok and r2.value == r1.value and r2.live_calls == 0 and b2.calls == []


def test_invalid_json_is_retried_then_failed_with_reason(tmp_path):
    b = FakeBackendForTests(["not json at all", '{"label": "way too long a label here", "keywords": ["a","b","c"]}',
                             '{"label": "ok", "keywords": ["a"]}'])
    cache = CallCache(tmp_path / "c.jsonl")
    r = call_structured(b, cache, agent="t", subject="x", messages=MSG, schema_model=Answer, max_attempts=3)
    assert not r.ok and r.value is None and r.attempts == 3 and len(b.calls) == 3
    assert "keywords" in r.error                          # the last attempt's reason
    log = read_call_log(tmp_path / "c.jsonl")
    assert [x["status"] for x in log] == ["invalid", "invalid", "invalid"]
    assert "not valid JSON" in log[0]["error"] and "label" in log[1]["error"]
    assert len({x["key"] for x in log}) == 3              # each retry has its own key (temperature, seed)
    # the failed attempts are reused on a re-run: no new call, same verdict
    b2 = FakeBackendForTests([])
    r2 = call_structured(b2, CallCache(tmp_path / "c.jsonl"), agent="t", subject="x", messages=MSG,
                         schema_model=Answer, max_attempts=3)
    assert not r2.ok and b2.calls == []


def test_retry_recovers(tmp_path):
    b = FakeBackendForTests(['{"label": "x"', '{"label": "Scent", "keywords": ["a","b","c"]}'])
    r = call_structured(b, CallCache(tmp_path / "c.jsonl"), agent="t", subject="x", messages=MSG, schema_model=Answer)
    assert r.ok and r.attempts == 2 and r.value.label == "Scent"


def test_semantic_check_rejects(tmp_path):
    def no_dup(a):
        if len(set(a.keywords)) != len(a.keywords):
            raise InvalidOutput("duplicate keyword")
    b = FakeBackendForTests(['{"label": "s", "keywords": ["a","a","b"]}'] * 2)
    r = call_structured(b, CallCache(tmp_path / "c.jsonl"), agent="t", subject="x", messages=MSG, schema_model=Answer,
                        check=no_dup, max_attempts=2)
    assert not r.ok and r.error == "duplicate keyword"


def test_backend_error_is_logged_and_not_reused(tmp_path):
    class Boom(FakeBackendForTests):
        def complete(self, *a, **k):
            raise TimeoutError("server went away")
    cache = CallCache(tmp_path / "c.jsonl")
    r = call_structured(Boom([]), cache, agent="t", subject="x", messages=MSG, schema_model=Answer, max_attempts=2)
    assert not r.ok and "server went away" in r.error
    assert [x["status"] for x in read_call_log(tmp_path / "c.jsonl")] == ["error", "error"]
    assert len(cache) == 0
    b = FakeBackendForTests(['{"label": "s", "keywords": ["a","b","c"]}'])
    r2 = call_structured(b, CallCache(tmp_path / "c.jsonl"), agent="t", subject="x", messages=MSG, schema_model=Answer)
    assert r2.ok and len(b.calls) == 1


def test_partial_last_line_is_ignored_and_cut(tmp_path):
    p = tmp_path / "c.jsonl"
    good = json.dumps({"label": "Scent", "keywords": ["a", "b", "c"]})
    call_structured(FakeBackendForTests([good]), CallCache(p), agent="t", subject="x", messages=MSG, schema_model=Answer)
    with open(p, "a") as fh:
        fh.write('{"key": "abc", "status": "ok", "resp')      # a kill in the middle of a write
    c = CallCache(p)
    assert c.partial_tail_dropped and len(c) == 1 and c.records_loaded == 1
    c.append({"key": "k2", "status": "ok", "response": "{}"})
    lines = p.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(x) for x in lines)


def test_corrupt_middle_line_names_the_line(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"key": "a", "status": "ok"}\nnot json\n{"key": "b", "status": "ok"}\n')
    from reaseq_core.errors import DataError
    with pytest.raises(DataError, match="line 2"):
        CallCache(p)


def test_call_log_reader_names_a_corrupt_line_and_skips_only_a_partial_tail(tmp_path):
    from reaseq_core.errors import DataError
    p = tmp_path / "c.jsonl"
    p.write_text('{"key": "a", "status": "ok"}\n{"key": "b", "sta')          # a write in progress
    assert [r["key"] for r in read_call_log(p)] == ["a"]
    p.write_text('{"key": "a", "status": "ok"}\nnot json\n{"key": "b", "status": "ok"}\n')
    with pytest.raises(DataError, match="line 2"):
        read_call_log(p)


def test_tolerant_parsing():
    assert parse_json_tolerant('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_tolerant('{"a": "line\nbreak"}') == {"a": "line\nbreak"}   # raw newline (grammar output)
    assert parse_json_tolerant('Sure! {"a": 2} hope this helps') == {"a": 2}
    with pytest.raises(ValueError):
        parse_json_tolerant('{"a": ')


def test_retry_shows_the_broken_rule(tmp_path):
    b = FakeBackendForTests(['{"label": "x", "keywords": ["a"]}', '{"label": "x", "keywords": ["a","b","c"]}'])
    r = call_structured(b, CallCache(tmp_path / "c.jsonl"), agent="t", subject="x", messages=MSG, schema_model=Answer)
    assert r.ok and r.attempts == 2
    retry = b.calls[1]
    assert retry[:1] == MSG                                         # the original prompt first: its prefix is reused
    assert retry[1] == {"role": "assistant", "content": '{"label": "x", "keywords": ["a"]}'}
    assert retry[2]["role"] == "user" and "keywords" in retry[2]["content"] and "invalid" in retry[2]["content"]
