"""The OpenAI-compatible backend: against a local stub server (retries, backoff, JSON mode; no model) and,
behind the `llm` marker, a real round trip through `reaseq llm serve`."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reaseq_core.llm.openai_backend import OpenAIBackend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StubServer:
    """Answers /v1/chat/completions like an OpenAI server; fails the first `fail_first` requests with 503."""

    def __init__(self, fail_first: int = 0):
        self.requests: list[dict] = []
        self.fail_first = fail_first
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if len(outer.requests) <= outer.fail_first:
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "busy"}}')
                    return
                out = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": '{"ok": true}'}}],
                       "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
                data = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_round_trip_with_schema_and_retries():
    stub = StubServer(fail_first=2)
    try:
        b = OpenAIBackend(base_url=stub.url, model="stub-model", api_key="k", backoff_s=0.01, max_retries=3)
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
        c = b.complete([{"role": "user", "content": "hi"}], max_tokens=5, json_schema=schema)
        assert c.text == '{"ok": true}' and c.prompt_tokens == 7 and c.completion_tokens == 3
        assert len(stub.requests) == 3                                # two 503s, then success
        req = stub.requests[-1]
        assert req["max_tokens"] == 5 and req["temperature"] == 0.0
        assert req["response_format"] == {"type": "json_object", "schema": schema}    # local server style
        assert b.model_hash == "served:stub-model"
    finally:
        stub.close()


def test_gives_up_after_bounded_retries():
    stub = StubServer(fail_first=100)
    try:
        b = OpenAIBackend(base_url=stub.url, model="m", backoff_s=0.01, max_retries=2)
        from reaseq_core.errors import ReaSeqError
        with pytest.raises(ReaSeqError, match="after 3 attempts"):
            b.complete([{"role": "user", "content": "hi"}], max_tokens=5)
        assert len(stub.requests) == 3
    finally:
        stub.close()


def test_remote_endpoints_get_json_schema_style():
    b = OpenAIBackend(base_url="https://api.example.com/v1", model="m", api_key="k")
    rf = b._response_format({"type": "object"})
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == {"type": "object"}


@pytest.mark.llm
def test_reaseq_llm_serve_round_trip(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "w")      # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen([sys.executable, "-m", "reaseq_core.cli", "llm", "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
        b = OpenAIBackend(base_url=f"http://127.0.0.1:{port}/v1", model="qwen2.5-coder-1.5b-instruct-q4_k_m",
                          api_key="x", timeout_s=120)
        schema = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 10}},
                  "required": ["colour"]}
        c = b.complete([{"role": "user", "content": "Colour of the sky on a clear day, as JSON."}], max_tokens=20,
                       json_schema=schema)
        assert isinstance(json.loads(c.text, strict=False)["colour"], str)
        assert c.completion_tokens > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
