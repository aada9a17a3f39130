"""`reaseq llm serve --parallel N`: llama.cpp's llama-server with N slots. The command line is checked always;
the server itself runs (marker `llm`) where scripts/build_llama_server.sh has built it, and two requests go to
it at once through the OpenAI-compatible backend."""
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from reaseq_core.llm import cli


def test_parallel_command_line_has_slots_a_shared_pool_and_the_model_name():
    cmd = cli.parallel_serve_command("/x/llama-server", "/m/model.gguf", "127.0.0.1", 8771, 2, 2048, 4)
    assert cmd[0] == "/x/llama-server"
    assert cmd[cmd.index("--parallel") + 1] == "4" and "--cont-batching" in cmd
    assert cmd[cmd.index("--ctx-size") + 1] == str(4 * 2048)           # n_ctx per slot, one pool
    assert cmd[cmd.index("--alias") + 1] == "qwen2.5-coder-1.5b-instruct-q4_k_m"


def test_parallel_without_a_server_binary_says_how_to_build_it(monkeypatch, tmp_path):
    from reaseq_core.errors import ReaSeqError
    monkeypatch.setattr(cli, "llama_server_binary", lambda: None)
    args = type("A", (), {"host": "127.0.0.1", "allow_remote": False, "parallel": 4, "port": 1, "n_threads": 2,
                          "n_ctx": 512})()
    with pytest.raises(ReaSeqError, match="scripts/build_llama_server.sh"):
        cli._serve(args)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.llm
@pytest.mark.skipif(cli.llama_server_binary() is None, reason="llama-server not built (scripts/build_llama_server.sh)")
def test_parallel_server_answers_two_requests_at_once():
    from reaseq_core.llm.openai_backend import OpenAIBackend
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "reaseq_core.cli", "llm", "serve", "--port", str(port),
                             "--parallel", "2", "--n-ctx", "1024"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        b = OpenAIBackend(base_url=f"http://127.0.0.1:{port}/v1", model="qwen2.5-coder-1.5b-instruct-q4_k_m",
                          api_key="none", max_concurrency=2, retry_budget_s=60.0)
        msgs = [[{"role": "user", "content": f"Name a colour. Answer in one word. ({i})"}] for i in range(2)]
        deadline = time.time() + 120
        while True:                       # the model loads first; the backend's back-off covers a short wait
            try:
                b.complete(msgs[0], max_tokens=4)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(2)
        with ThreadPoolExecutor(2) as ex:
            outs = list(ex.map(lambda m: b.complete(m, max_tokens=8), msgs))
        assert all(o.text.strip() and o.completion_tokens >= 1 for o in outs)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
