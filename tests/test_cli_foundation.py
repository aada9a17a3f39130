"""`reaseq data describe`, `reaseq status --json`, and one-line errors, through the real entry point; every
command `reaseq status` prints runs as printed (it parses with the real `reaseq` argument parser)."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.cli import build_parser
from reaseq_core.status import collect_status, format_status, knowledge_category_order, printed_commands

REPO = Path(__file__).resolve().parent.parent


def run(*args, env_home):
    return subprocess.run([sys.executable, "-m", "reaseq_core.cli", "--home", str(env_home), *args],
                          capture_output=True, text=True, timeout=300)


def assert_runs_as_printed(cmd: str) -> None:
    """A `reaseq ...` command parses with the real parser; a `python <script>` names a script of the repo."""
    argv = shlex.split(cmd)
    if argv[0] == "reaseq":
        try:
            args = build_parser().parse_args(argv[1:])
        except SystemExit as e:
            pytest.fail(f"`{cmd}` does not parse with the reaseq parser (exit {e.code})")
        assert getattr(args, "func", None), f"`{cmd}` names no subcommand"
    elif argv[0] == "python":
        assert (REPO / argv[1]).is_file(), f"`{cmd}`: {argv[1]} is not a script of the repository"
    else:
        pytest.fail(f"`{cmd}` is not a command (neither `reaseq ...` nor `python <script>`)")


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
    assert list(report["datasets"]["beauty"]) == list(cat.STAGES)


def test_status_commands_parse_for_a_dataset_with_only_its_data(beauty, tmp_store):
    """Every stage but data is missing: each shows a command, and each parses. The knowledge one names the
    primary category with the most interactions."""
    report = collect_status(tmp_store, ["beauty"])
    stages = report["datasets"]["beauty"]
    missing = [s for s, e in stages.items() if not e["exists"]]
    assert set(missing) >= set(cat.STAGES) - {"data", "bench"}
    cmds = printed_commands(report)
    assert len(cmds) >= len(missing)
    for cmd in cmds:
        assert_runs_as_printed(cmd)
        assert f"`{cmd}`" in format_status(report)
    top = knowledge_category_order(tmp_store, "beauty")[0][0]
    assert shlex.split(stages["knowledge"]["command"])[-2:] == ["--category", top]


def test_status_of_the_committed_store_names_the_next_knowledge_category(committed_store):
    """On the committed store (knowledge for some categories), `next` names the category with the most
    interactions that has no knowledge yet, and every printed command parses."""
    store = committed_store
    report = collect_status(store, ["beauty"])
    for cmd in printed_commands(report):
        assert_runs_as_printed(cmd)
    order = knowledge_category_order(store, "beauty")
    with_knowledge = set(store.read("beauty", cat.ITEM_KNOWLEDGE)["primary_category"].dropna())
    assert {c for c, _, has in order if has} == with_knowledge
    todo = [c for c, _, has in order if not has]
    knowledge = report["datasets"]["beauty"]["knowledge"]
    assert knowledge["exists"]
    if todo:
        assert shlex.split(knowledge["next"])[-2:] == ["--category", todo[0]]
        counts = {c: n for c, n, _ in order}
        assert counts[todo[0]] == max(counts[c] for c in todo)


def test_user_errors_are_one_line_without_traceback(tmp_path):
    out = run("data", "describe", "--dataset", "nothere", env_home=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: dataset 'nothere' is missing: run `reaseq data ingest --dataset nothere` to produce it"]
    out = run("data", "ingest", "--dataset", "nothere", env_home=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--path" in out.stderr
