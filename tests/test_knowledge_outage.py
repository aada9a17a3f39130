"""An unreachable LLM endpoint is an outage, not a failed answer: `reaseq knowledge build` with the real
`openai` client against a closed local port and against a small local server that refuses, answers 503,
then answers (schema-valid filler: plumbing, no model, no knowledge)."""
import json
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.cli import main
from reaseq_core.llm.backend import BackendUnavailable
from reaseq_core.llm.cache import read_call_log
from reaseq_core.llm.fake import schema_filler
from reaseq_core.llm.openai_backend import OpenAIBackend
from reaseq_core.store import ArtifactStore


def _closed_port() -> int:
    """A port nothing listens on: bound, read, closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlakyServer:
    """An OpenAI-compatible stub on 127.0.0.1 that answers schema-valid filler. `start_after_s` delays the
    listening socket (connections are refused until then); requests whose 1-based number is in `fail` get a
    503; `down_after` answers the first N requests and 503s every later one until `down_after` is reset."""

    def __init__(self, port: int | None = None, *, start_after_s: float = 0.0, fail=(), down_after: int | None = None):
        self.port = port or _closed_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.requests = 0
        self.answered = 0
        self.fail, self.down_after = set(fail), down_after
        self.httpd = None
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1
                down = outer.down_after is not None and outer.answered >= outer.down_after
                if outer.requests in outer.fail or down:
                    data = b'{"error": {"message": "model loading"}}'
                    self.send_response(503)
                else:
                    outer.answered += 1
                    content = json.dumps(schema_filler(body["response_format"]["schema"]))
                    data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                       "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": content}}],
                                       "usage": {"prompt_tokens": 10, "completion_tokens": 20,
                                                 "total_tokens": 30}}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def serve():
            time.sleep(start_after_s)
            self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), H)
            self.httpd.serve_forever()

        threading.Thread(target=serve, daemon=True).start()

    def close(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture()
def home(beauty, tmp_store, tmp_path):
    shutil.copytree(tmp_store.stage_dir("beauty", "data"), ArtifactStore(tmp_path).stage_dir("beauty", "data"))
    return tmp_path


def _build(home, url, *extra):
    return main(["--home", str(home), "knowledge", "build", "--dataset", "beauty", "--category", "Fragrance",
                 "--backend", "openai", "--base-url", url, "--model", "stub", "--no-progress", *extra])


def _nothing_failed(store: ArtifactStore):
    calls = read_call_log(store.path("beauty", cat.LLM_CALLS))
    assert [r for r in calls if r["status"] != "ok"] == []              # an outage is never a logged answer
    tax = store.read("beauty", cat.TAXONOMY)
    for node in tax["categories"].values():
        assert all(node[p]["status"] == "ok" for p in ("demand", "attribute"))
        for sub in node["subcategories"].values():
            assert all(sub[p]["status"] == "ok" for p in ("demand", "attribute"))
    df = store.read("beauty", cat.ITEM_KNOWLEDGE)
    assert (df["status"] == "ok").all()
    return calls, tax, df


def test_closed_port_stops_the_build_with_one_error_naming_the_endpoint(home, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    t0 = time.perf_counter()
    rc = _build(home, url, "--limit", "2", "--retry-budget-s", "0.5")
    took = time.perf_counter() - t0
    assert rc == 2 and took < 30
    out, err = capsys.readouterr()
    assert out == ""                                                  # no "items processed" report
    assert err.count("\n") == 1 and err.startswith("error: LLM endpoint " + url)
    assert "APIConnectionError" in err and "nothing marked failed" in err
    store = ArtifactStore(home)
    calls, tax, df = _nothing_failed(store)
    assert calls == [] and tax["categories"] == {} and len(df) == 0   # no taxonomy recorded as failed


def test_default_back_off_is_a_few_seconds_and_bounded():
    b = OpenAIBackend(base_url=f"http://127.0.0.1:{_closed_port()}/v1", model="m", backoff_s=0.01, retry_budget_s=0.1)
    assert OpenAIBackend(base_url="http://127.0.0.1:9/v1", model="m").retry_budget_s == 4.0
    with pytest.raises(BackendUnavailable) as e:
        b.complete([{"role": "user", "content": "hi"}], max_tokens=5)
    assert e.value.endpoint == b.base_url and e.value.waited_s <= 0.1 and e.value.attempts >= 2


def test_back_off_rides_out_a_refusing_then_busy_server(home, capsys):
    server = FlakyServer(start_after_s=0.4, fail=(1,))          # refused for 0.4 s, then one 503, then answers
    try:
        rc = _build(home, server.url, "--limit", "2", "--retry-budget-s", "8")
    finally:
        server.close()
    assert rc == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["items_processed"] == 2
    calls, tax, df = _nothing_failed(ArtifactStore(home))
    assert len(df) == 2 and server.requests == server.answered + 1 == len(calls) + 1


def test_outage_mid_build_keeps_what_was_done_and_a_rerun_continues(home, capsys):
    server = FlakyServer(down_after=7)          # Layer 1 (2) + Layer 2 (2 per subcategory) + a few items, then 503s
    try:
        rc = _build(home, server.url, "--limit", "6", "--write-every", "1", "--retry-budget-s", "0.3")
        err = capsys.readouterr().err
        assert rc == 2 and f"LLM endpoint {server.url} is unavailable" in err and "InternalServerError" in err
        store = ArtifactStore(home)
        calls, tax, df = _nothing_failed(store)
        done = len(df)
        assert len(calls) == 7 and 0 < done < 6                       # items finished before the outage are kept
        server.down_after = None                                      # the server is back
        asked_before = server.answered
        assert _build(home, server.url, "--limit", "6") == 0
        report = json.loads(capsys.readouterr().out)
        calls2, _, df2 = _nothing_failed(store)
        assert report["items_processed"] == 6 and len(df2) == 6
        assert set(df["item_id"]) <= set(df2["item_id"])
        assert server.answered - asked_before == len(calls2) - len(calls) == 6 - done   # only the missing items
    finally:
        server.close()
