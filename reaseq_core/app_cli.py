"""`reaseq app`: start the analyst workbench (Streamlit) on 127.0.0.1, or precompute its UMAP projection.

    reaseq app [--port 8501] [--dataset beauty]     serve app/Home.py and print its URL
    reaseq app --build-umap [--dataset beauty]      compute gbr/umap_<hash>.parquet once and exit
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .config import REPO_ROOT
from .errors import ReaSeqError
from .store import ArtifactStore

APP_ENTRY = REPO_ROOT / "app" / "Home.py"


def streamlit_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP_ENTRY), "--server.address", "127.0.0.1",
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]


def _run(args) -> int:
    store = ArtifactStore(args.home)
    if args.build_umap:
        from .viz.umap_cache import build_embedding_projection
        df, name = build_embedding_projection(store, args.dataset, force=args.force)
        print(f"{store.path(args.dataset, 'gbr', name)}: {len(df)} points "
              f"({(df['token_type'] == 'fill').sum()} [FILL] tokens)")
        return 0
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
    p.add_argument("--build-umap", action="store_true",
                   help="compute the Embeddings view's UMAP projection (gbr/umap_<hash>.parquet) and exit")
    p.add_argument("--force", action="store_true", help="with --build-umap: recompute even if stored")
    p.set_defaults(func=_run)
