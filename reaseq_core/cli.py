"""The `reaseq` command line.

Each stage adds its own subcommands: a module listed in STAGE_CLI_MODULES defines
`register(subparsers)` and sets `func` on its parsers. Errors meant for people (ReaSeqError) are
printed as one line, without a traceback, and exit with status 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .errors import ReaSeqError
from .store import ArtifactStore

STAGE_CLI_MODULES = [
    "reaseq_core.data.cli",
    "reaseq_core.llm.cli",
    "reaseq_core.knowledge.cli",
    "reaseq_core.representation.cli",
    "reaseq_core.semantic_ids.cli",
    "reaseq_core.ranking.cli",
    "reaseq_core.gbr.cli",
    "reaseq_core.app_cli",
    "reaseq_core.notebooks_cli",
    "reaseq_core.report_cli",
]


def _status(args) -> int:
    from .status import collect_status, format_status
    report = collect_status(ArtifactStore(args.home), datasets=[args.dataset] if args.dataset else None)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_status(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reaseq", description="ReaSeq workbench: data -> knowledge -> "
                                     "representation -> semantic IDs -> ranking -> behaviour reasoning -> app")
    parser.add_argument("--home", default=None, help="artifact root (default: $REASEQ_HOME or data/artifacts)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    st = sub.add_parser("status", help="what every stage has produced, with provenance and headline figures")
    st.add_argument("--json", action="store_true", help="emit one JSON object")
    st.add_argument("--dataset", default=None, help="only this dataset")
    st.set_defaults(func=_status)
    for mod_name in STAGE_CLI_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name and mod_name.startswith(e.name):  # stage not present in this build
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ReaSeqError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; everything written so far is kept and the next run resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
