"""`reaseq report`: one self-contained HTML file with the result tables, for people without the workbench.

    reaseq report --dataset beauty --out results.html                  every result table of the full run
    reaseq report --dataset beauty --out t3.html --tables table3_ablation

The file inlines plotly.js, so it opens offline from disk (reaseq_core/report.py says what it holds).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import catalogue as cat
from .store import ArtifactStore, atomic_write


def _run(args) -> int:
    from .report import build_report, resolve_tables
    store = ArtifactStore(args.home)
    text = build_report(store, args.dataset, args.tables)
    out = Path(args.out)
    with atomic_write(out, "w") as fh:   # a cut-short run never leaves half a report behind
        fh.write(text)
    n = len(resolve_tables(store, args.dataset, args.tables))
    print(f"{out}: {n} result table(s) of dataset {args.dataset}, {out.stat().st_size / 1e6:.1f} MB "
          "(self-contained: open it in any browser, offline)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write one self-contained HTML report of the result tables (charts, "
                                      "protocol, deviations, learning curves, provenance)")
    p.add_argument("--dataset", default="beauty", help="dataset in the artifact store (default: beauty)")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--tables", nargs="+", metavar="KEY", default=None,
                   help="catalogue keys of the tables to include (default: every result table of the full "
                        f"run); known: {', '.join(a.key for a in cat.RESULT_TABLES)}")
    p.set_defaults(func=_run)
