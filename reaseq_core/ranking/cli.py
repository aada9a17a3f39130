"""`reaseq rank ablation`: Tables 3-4 analogues (all variants x seeds) written to the artifact store."""
from __future__ import annotations

from dataclasses import replace

from ..store import ArtifactStore
from .ablation import TABLE3_KNOWLEDGE_VARIANTS, TABLE3_VARIANTS, TABLE4_VARIANTS, AblationConfig, run_ablation


def config_from_args(args) -> AblationConfig:
    """The configuration the command line asks for: the small smoke run or the full one, with overrides."""
    base = AblationConfig.small_run() if args.small else AblationConfig()
    train = base.train if args.epochs is None else replace(base.train, epochs=args.epochs)
    return replace(base, seeds=tuple(args.seeds), max_len=args.max_len, neg_ratio=args.neg_ratio, train=train)


def _ablation(args) -> int:
    variants = args.variants
    if args.table4_only:
        variants = ["Base"] + TABLE4_VARIANTS
    out = run_ablation(args.dataset, config_from_args(args), variants=variants, store=ArtifactStore(args.home))
    for t in (out["table3"], out["table4"]):
        print(t.to_markdown())
        if t.notes:
            print(t.notes + "\n")
    print(f"ablation suite: {out['wall_s']:.0f} s wall, {out['cpu_s']:.0f} s CPU")
    return 0


def register(sub) -> None:
    defaults = AblationConfig()
    p = sub.add_parser("rank", help="reasoning-enhanced CTR ranking (Sec. 2.2): Tables 3-4")
    rsub = p.add_subparsers(dest="rank_command", metavar="ACTION", required=True)
    a = rsub.add_parser("ablation", help="train every variant x seed; write Tables 3-4 and the per-run table")
    a.add_argument("--dataset", default="beauty")
    a.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds))
    a.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default {defaults.train.epochs}; 1 with --small)")
    a.add_argument("--max-len", type=int, default=defaults.max_len)
    a.add_argument("--neg-ratio", type=int, default=defaults.neg_ratio)
    a.add_argument("--variants", nargs="+", choices=TABLE3_VARIANTS + TABLE4_VARIANTS + TABLE3_KNOWLEDGE_VARIANTS,
                   default=None,
                   help="exactly these variants (an arm whose inputs are missing is an error, never dropped)")
    a.add_argument("--table4-only", action="store_true",
                   help="only Base and the Table 4 arms (e.g. after new knowledge vectors appeared)")
    a.add_argument("--small", action="store_true",
                   help="3,000 users, 1 epoch (smoke configuration, written under ranking/small/)")
    a.set_defaults(func=_ablation)
