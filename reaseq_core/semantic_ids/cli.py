"""`reaseq sid build`: RQ-VAE semantic IDs (appendix C) + residual k-means baseline, with the SID report."""
from __future__ import annotations

from ..store import ArtifactStore
from .build import build_sids
from .rqvae import RQVAEConfig


def _build(args) -> int:
    cfg = RQVAEConfig(latent_dim=args.latent_dim, levels=args.levels, codebook_size=args.codebook_size,
                      beta=args.beta, epochs=args.epochs, seed=args.seed)
    out = build_sids(args.dataset, ArtifactStore(args.home), vectors=args.vectors, cfg=cfg)
    print(format_report(out["report"]))
    return 0


def format_report(rep: dict) -> str:
    lines = [f"semantic IDs from {rep['vectors']} vectors (coverage {rep['coverage']}), "
             f"L={rep['config']['levels']} K={rep['config']['codebook_size']} d'={rep['config']['latent_dim']}"]
    for name in ("rqvae", "residual_kmeans"):
        r = rep[name]
        lv = "; ".join(f"L{x['level']} usage {x['usage']:.1%} ppl {x['perplexity']:.1f}" for x in r["levels"])
        lines.append(f"  {name:16s} unique {r['unique_share']:.1%}  largest bucket {r['largest_bucket']}  "
                     f"recon mse {r['recon_mse']:.4f}  | {lv}")
    return "\n".join(lines)


def register(sub) -> None:
    p = sub.add_parser("sid", help="semantic item IDs (RQ-VAE, appendix C)")
    ssub = p.add_subparsers(dest="sid_command", metavar="ACTION", required=True)
    b = ssub.add_parser("build", help="train the RQ-VAE; write sids.parquet + sid_report.json (knowledge_* with --vectors knowledge) and sid_table.json")
    b.add_argument("--dataset", default="beauty")
    b.add_argument("--vectors", choices=["title", "knowledge"], default="title",
                   help="item vectors to tokenise (knowledge: items without knowledge keep their title vector)")
    b.add_argument("--levels", type=int, default=3)
    b.add_argument("--codebook-size", type=int, default=256)
    b.add_argument("--latent-dim", type=int, default=32)
    b.add_argument("--beta", type=float, default=0.25)
    b.add_argument("--epochs", type=int, default=100)
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=_build)
