"""`reaseq rank ablation`: Tables 3-4 analogues (all variants x seeds) written to the artifact store."""
from __future__ import annotations

from ..store import ArtifactStore
from .ablation import TABLE3_VARIANTS, TABLE4_VARIANTS, run_ablation


def _ablation(args) -> int:
    variants = args.variants
    if args.table4_only:
        variants = ["Base"] + TABLE4_VARIANTS
    out = run_ablation(args.dataset, seeds=tuple(args.seeds), small=args.small, epochs=args.epochs,
                       max_len=args.max_len, neg_ratio=args.neg_ratio, variants=variants,
                       store=ArtifactStore(args.home))
    for t in (out["table3"], out["table4"]):
        print(t.to_markdown())
        if t.notes:
            print(t.notes + "\n")
    print(f"ablation suite: {out['wall_s']:.0f} s wall, {out['cpu_s']:.0f} s CPU")
    return 0


def register(sub) -> None:
    p = sub.add_parser("rank", help="reasoning-enhanced CTR ranking (Sec. 2.2): Tables 3-4")
    rsub = p.add_subparsers(dest="rank_command", metavar="ACTION", required=True)
    a = rsub.add_parser("ablation", help="train every variant x seed; write table3/table4/runs.parquet")
    a.add_argument("--dataset", default="beauty")
    a.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a.add_argument("--epochs", type=int, default=2)
    a.add_argument("--max-len", type=int, default=50)
    a.add_argument("--neg-ratio", type=int, default=1)
    a.add_argument("--variants", nargs="+", choices=TABLE3_VARIANTS + TABLE4_VARIANTS, default=None)
    a.add_argument("--table4-only", action="store_true",
                   help="only Base and the Table 4 arms (e.g. after new knowledge vectors appeared)")
    a.add_argument("--small", action="store_true", help="3,000 users, 1 epoch (smoke configuration)")
    a.set_defaults(func=_ablation)
