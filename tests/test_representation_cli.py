"""`reaseq represent ...`: registered, and a missing dataset is a one-line error naming the command to run."""
from __future__ import annotations

from reaseq_core.cli import build_parser, main


def test_represent_commands_are_registered():
    args = build_parser().parse_args(["represent", "tables", "--dataset", "beauty", "--small"])
    assert args.small and args.func.__name__ == "_tables"
    args = build_parser().parse_args(["represent", "build", "--title-only"])
    assert args.func.__name__ == "_build" and args.title_only


def test_missing_dataset_names_the_ingest_command(tmp_path, capsys):
    for action in ("build", "tables"):
        assert main(["--home", str(tmp_path), "represent", action, "--dataset", "beauty"]) == 2
        err = capsys.readouterr().err
        assert "reaseq data ingest --dataset beauty" in err and "Traceback" not in err
