"""`reaseq data describe`, `reaseq status --json`, and one-line errors, through the real entry point."""
from __future__ import annotations

import json
import subprocess
import sys


def run(*args, env_home):
    return subprocess.run([sys.executable, "-m", "reaseq_core.cli", "--home", str(env_home), *args],
                          capture_output=True, text=True, timeout=300)


def test_describe_and_status(beauty, tmp_store):
    out = run("data", "describe", "--dataset", "beauty", env_home=tmp_store.root)
    assert out.returncode == 0, out.stderr
    assert "users 22,363  items 12,101  interactions 198,502" in out.stdout
    assert "median 6, mean 8.88" in out.stdout and "same day 43.9%" in out.stdout
    st = run("status", "--json", env_home=tmp_store.root)
    assert st.returncode == 0, st.stderr
    report = json.loads(st.stdout)
    data = report["datasets"]["beauty"]["data"]
    assert data["exists"] and data["figures"]["interactions"] == 198502
    assert data["figures"]["content_hash"] == beauty.content_hash
    assert set(report["datasets"]["beauty"]) == {"data", "knowledge", "representation", "semantic_ids",
                                                 "ranking", "gbr", "bench"}


def test_user_errors_are_one_line_without_traceback(tmp_path):
    out = run("data", "describe", "--dataset", "nothere", env_home=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: dataset 'nothere' is missing: run `reaseq data ingest --dataset nothere` to produce it"]
    out = run("data", "ingest", "--dataset", "nothere", env_home=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--path" in out.stderr
