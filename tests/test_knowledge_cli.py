"""`reaseq knowledge build / show / calls` end to end through the OpenAI-compatible backend, against a local
stub server that answers with schema-valid filler (plumbing: no model, no knowledge), and `reaseq status`."""
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.cli import main
from reaseq_core.llm.fake import schema_filler
from reaseq_core.store import ArtifactStore


@pytest.fixture()
def stub_url():
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            content = json.dumps(schema_filler(body["response_format"]["schema"]))
            out = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_build_show_calls_status(beauty, tmp_store, stub_url, tmp_path, capsys):
    shutil.copytree(tmp_store.stage_dir("beauty", "data"), ArtifactStore(tmp_path).stage_dir("beauty", "data"))
    home = str(tmp_path)
    rc = main(["--home", home, "knowledge", "build", "--dataset", "beauty", "--category", "Fragrance",
               "--then-category", "Bath & Body", "--limit", "2", "--single-agent-limit", "1", "--backend", "openai",
               "--base-url", stub_url, "--model", "stub", "--concurrency", "2", "--no-progress"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items_processed"] == 4 and out["cache_misses"] > 0
    store = ArtifactStore(tmp_path)
    df = store.read("beauty", cat.ITEM_KNOWLEDGE)
    assert sorted(df["primary_category"].unique()) == ["Bath & Body", "Fragrance"]
    assert (df["backend"] == "openai").all() and (df["model"] == "stub").all()
    iid = df["item_id"].iloc[0]
    assert main(["--home", home, "knowledge", "show", "--dataset", "beauty", "--item", iid]) == 0
    assert iid in capsys.readouterr().out
    assert main(["--home", home, "knowledge", "calls", "--dataset", "beauty", "--tail", "1"]) == 0
    assert "status=ok" in capsys.readouterr().out
    assert main(["--home", home, "status", "--json", "--dataset", "beauty"]) == 0
    rep = json.loads(capsys.readouterr().out)
    k = rep["datasets"]["beauty"]["knowledge"]
    assert k["exists"] and k["figures"]["Fragrance / multi_agent"].startswith("2 ok of 492, 0 failed, ")


def test_build_needs_a_selection(beauty, tmp_store, tmp_path, capsys):
    shutil.copytree(tmp_store.stage_dir("beauty", "data"), ArtifactStore(tmp_path).stage_dir("beauty", "data"))
    assert main(["--home", str(tmp_path), "knowledge", "build", "--dataset", "beauty", "--backend", "openai",
                 "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]) == 2
    assert "--category" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "knowledge", "build", "--dataset", "beauty", "--category", "Perfume",
                 "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]) == 2
    assert "no primary category 'Perfume'" in capsys.readouterr().err
