"""`reaseq app`: start the analyst workbench (Streamlit) on 127.0.0.1, or precompute its UMAP projection.

    reaseq app [--port 8501] [--dataset beauty]          serve app/Home.py and print its URL
    reaseq app umap [--dataset beauty] [--force]         compute the viz stage's UMAP projection once and exit
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from . import catalogue as cat
from .config import REPO_ROOT
from .errors import ReaSeqError
from .store import ArtifactStore

APP_ENTRY = REPO_ROOT / "app" / "Home.py"


def streamlit_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP_ENTRY), "--server.address", "127.0.0.1",
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def _umap(args) -> int:
    from .viz.umap_cache import build_embedding_projection
    store = ArtifactStore(args.home)
    df, key = build_embedding_projection(store, args.dataset, force=args.force)
    print(f"{store.path(args.dataset, cat.UMAP, inputs=key)}: {len(df)} points "
          f"({(df['token_type'] == 'fill').sum()} [FILL] tokens)")
    return 0


def _run(args) -> int:
    if args.app_command == "umap" or args.build_umap:
        return _umap(args)
    store = ArtifactStore(args.home)
    if not APP_ENTRY.exists():
        raise ReaSeqError(f"{APP_ENTRY}: the workbench entry page is missing")
    if shutil.which("streamlit") is None and not _has_streamlit():
        raise ReaSeqError("streamlit is not installed: pip install -e '.[app]'")
    env = dict(os.environ)
    env["REASEQ_HOME"] = str(store.root)
    env["REASEQ_APP_DATASET"] = args.dataset
    print(f"ReaSeq workbench: http://127.0.0.1:{args.port}  (dataset {args.dataset}, store {store.root}); "
          "Ctrl-C stops it", flush=True)
    proc = subprocess.Popen(streamlit_command(args.port), cwd=REPO_ROOT, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
        return 0


def _has_streamlit() -> bool:
    try:
        import streamlit  # noqa: F401
        return True
    except ImportError:
        return False


def register(subparsers) -> None:
    p = subparsers.add_parser("app", help="start the analyst workbench (Streamlit) and print its URL")
    p.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1 (default 8501)")
    p.add_argument("--dataset", default="beauty", help="dataset selected when the app opens")
    # the old spelling of `reaseq app umap`, kept while the app's pages still print it
    p.add_argument("--build-umap", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--force", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_run)
    sub = p.add_subparsers(dest="app_command", metavar="ACTION")
    u = sub.add_parser("umap", help="compute the Embeddings view's UMAP projection once and exit")
    # SUPPRESS: `reaseq app --dataset X umap` keeps X unless the subcommand names its own
    u.add_argument("--dataset", default=argparse.SUPPRESS, help="dataset (default beauty)")
    u.add_argument("--force", action="store_true", default=argparse.SUPPRESS,
                   help="recompute even when a projection of the same inputs is stored")
