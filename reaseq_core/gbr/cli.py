"""`reaseq gbr ...`: generative behaviour reasoning (paper section 3), step by step or end to end.

    reaseq gbr run      [--small] [--no-table6]   the whole stage: sasrec, locate, table5, fills, table6
    reaseq gbr sasrec   [--small]                  train SASRec, write its metrics
    reaseq gbr locate   [--small]                  location + Delta p labels -> location table and summary
    reaseq gbr table5   [--small]                  5 LLaDA variants x seeds -> Table 5
    reaseq gbr fills    [--small]                  infer fills + nearest items -> case-view fills and vectors
    reaseq gbr table6   [--small]                  DIN Base vs Base + fills -> Table 6
Common options: --dataset, --item-space title|knowledge, --seeds. Artifacts: the gbr entries of
reaseq_core/catalogue.py; --small writes them under gbr/small/.
"""
from __future__ import annotations

import time

from .. import catalogue as cat
from ..results import read_table
from ..store import ArtifactStore
from . import pipeline


def _cfg(args) -> pipeline.GBRConfig:
    kw = {"dataset": args.dataset, "item_space": args.item_space}
    cfg = pipeline.GBRConfig.small_config(**kw) if args.small else pipeline.GBRConfig(**kw)
    if args.seeds:
        cfg.seeds = tuple(args.seeds)
    return cfg


def _ctx(args) -> pipeline.Context:
    return pipeline.Context(_cfg(args), ArtifactStore(args.home))


def _print_table(args, art: cat.Artifact) -> None:
    run = cat.SMALL_RUN if args.small else None
    print(read_table(ArtifactStore(args.home), args.dataset, art, run=run).to_markdown())


def _timed(step: str, fn):
    """A step run on its own records its wall time in run_timings (total = the sum of the recorded steps),
    so bench/bench_gbr.py reports the stage's wall time however it was run."""
    def wrapped(args) -> int:
        t0 = time.time()
        rc = fn(args)
        ctx_store, run = ArtifactStore(args.home), (cat.SMALL_RUN if args.small else None)
        t = ctx_store.read(args.dataset, cat.RUN_TIMINGS, run=run) if ctx_store.exists(
            args.dataset, cat.RUN_TIMINGS, run=run) else {}
        t[step] = round(time.time() - t0, 1)
        t["total"] = round(sum(v for k, v in t.items() if k != "total"), 1)
        ctx_store.write(args.dataset, cat.RUN_TIMINGS, t, {"dataset": args.dataset, "note": "steps run one by one"},
                        run=run)
        return rc
    return wrapped


def _run(args) -> int:
    pipeline.run_all(_cfg(args), ArtifactStore(args.home), table6_enabled=not args.no_table6)
    _print_table(args, cat.TABLE5)
    if not args.no_table6:
        _print_table(args, cat.TABLE6)
    return 0


def _sasrec(args) -> int:
    _, m = pipeline.run_sasrec(_ctx(args))
    print({k: round(v, 4) for k, v in m["test"].items()})
    return 0


def _locate(args) -> int:
    _, s = pipeline.run_location(_ctx(args))
    for v, x in s["variants"].items():
        print(f"{v}: gaps {x['gaps']:,} -> rule {x['after_rule']:,} -> model {x['after_model']:,}; "
              f"[FILL] ratio {x['fill_ratio']:.2%}; P_L {x['p_l_positions']:,}")
    return 0


def _table5(args) -> int:
    pipeline.run_table5(_ctx(args))
    _print_table(args, cat.TABLE5)
    return 0


def _fills(args) -> int:
    info = pipeline.run_fills(_ctx(args))
    for m, x in info.items():
        print(f"{m}: {x['fills']:,} fills for {x['users_with_fills']:,} users ({x['fills_per_s']:.0f} fills/s)")
    return 0


def _table6(args) -> int:
    pipeline.run_table6(_ctx(args))
    _print_table(args, cat.TABLE6)
    return 0


def _findings(args) -> int:
    from .findings import run_findings
    run_findings(_ctx(args))
    _print_table(args, cat.GBR_FINDINGS)
    return 0


def register(sub) -> None:
    p = sub.add_parser("gbr", help="generative behaviour reasoning (Sec. 3): location, LLaDA, fills, Tables 5-6")
    gsub = p.add_subparsers(dest="gbr_command", metavar="ACTION", required=True)
    steps = {"run": (_run, "the whole stage end to end"),
             "sasrec": (_timed("sasrec", _sasrec), "train SASRec (leave-one-out)"),
             "locate": (_timed("location", _locate), "beyond-log location + Delta p labels"),
             "table5": (_timed("table5", _table5), "train/evaluate the 5 LLaDA variants x seeds + references"),
             "fills": (_timed("fills", _fills), "infer fills and their nearest real items"),
             "table6": (_timed("table6", _table6), "DIN CTR, Base vs Base + fills (no leak, every user)"),
             "findings": (_findings, "what moved IB-ACC[MASK]: one LLaDA design piece at a time (seed 0)")}
    for name, (fn, help_text) in steps.items():
        s = gsub.add_parser(name, help=help_text)
        s.add_argument("--dataset", default="beauty")
        s.add_argument("--item-space", default="title", choices=["title", "knowledge"])
        s.add_argument("--seeds", type=int, nargs="+", default=None)
        s.add_argument("--small", action="store_true", help="small smoke configuration, written under gbr/small/")
        if name == "run":
            s.add_argument("--no-table6", action="store_true", help="skip the DIN comparison")
        s.set_defaults(func=fn)
