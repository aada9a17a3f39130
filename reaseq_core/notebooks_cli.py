"""`reaseq notebooks`: start JupyterLab on 127.0.0.1 in notebooks/, where the py:percent files open as notebooks.

    reaseq notebooks [--port 8888] [--browser]       serve notebooks/ headless and print the URL to open

Jupytext (its contents manager and JupyterLab extension) reads notebooks/*.py as notebooks; a settings
override, written to a private temporary config dir for this server only, makes a double click open a .py
file with the "Jupytext Notebook" viewer instead of the text editor. Nothing is written to ~/.jupyter.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from .config import REPO_ROOT
from .errors import ReaSeqError
from .store import ArtifactStore

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
# .py files open as notebooks (the setting `jupytext-config set-default-viewer` would write to ~/.jupyter);
# no news prompt (the server is offline-friendly and never fetches the feed).
LAB_OVERRIDES = {"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}},
                 "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}


def lab_command(port: int, open_browser: bool = False) -> list[str]:
    return [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={NOTEBOOK_DIR}",
            f"--ServerApp.open_browser={open_browser}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--ServerApp.allow_root={os.geteuid() == 0}"]  # containers often run as root


def lab_env(config_dir: Path, token: str, home: Path) -> dict[str, str]:
    """The server's environment: a private labconfig layer with LAB_OVERRIDES, the token, the store."""
    (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
    (config_dir / "labconfig" / "default_setting_overrides.json").write_text(json.dumps(LAB_OVERRIDES))
    env = dict(os.environ, JUPYTER_TOKEN=token, REASEQ_HOME=str(home))
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(config_dir), env.get("JUPYTER_CONFIG_PATH")]))
    return env


def _run(args) -> int:
    try:
        import jupyterlab  # noqa: F401
        import jupytext  # noqa: F401
    except ImportError:
        raise ReaSeqError("jupyterlab / jupytext are not installed: pip install -e '.[notebooks]'") from None
    store = ArtifactStore(args.home)
    # Keep Jupyter's token (any local user can reach 127.0.0.1) but print the tokenised URL: nothing to type.
    token = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="reaseq-lab-") as tmp:
        env = lab_env(Path(tmp), token, store.root)
        print(f"ReaSeq notebooks: http://127.0.0.1:{args.port}/lab?token={token}  (folder {NOTEBOOK_DIR}, "
              f"store {store.root}); Ctrl-C stops it", flush=True)
        proc = subprocess.Popen(lab_command(args.port, args.browser), cwd=NOTEBOOK_DIR, env=env)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the server too, and remove tmp
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)


def register(subparsers) -> None:
    p = subparsers.add_parser("notebooks", help="start JupyterLab on notebooks/ (py:percent files open as "
                              "notebooks) and print its URL")
    p.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default 8888)")
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=False,
                   help="also open a browser (default: --no-browser, headless)")
    p.set_defaults(func=_run)
