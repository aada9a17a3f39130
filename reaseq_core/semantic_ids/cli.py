"""`reaseq sid build`: RQ-VAE semantic IDs (appendix C) + residual k-means baseline, with the SID report."""
from __future__ import annotations

from .. import catalogue as cat
from ..store import ArtifactStore
from .build import build_sids
from .rqvae import RQVAEConfig


def _build(args) -> int:
    given = {k: v for k, v in (("latent_dim", args.latent_dim), ("levels", args.levels),
                               ("codebook_size", args.codebook_size), ("beta", args.beta), ("epochs", args.epochs),
                               ("seed", args.seed)) if v is not None}
    cfg = RQVAEConfig.small(**given) if args.small else RQVAEConfig(**given)
    out = build_sids(args.dataset, ArtifactStore(args.home), vectors=args.vectors, cfg=cfg,
                     run=cat.SMALL_RUN if args.small else None)
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
    d = RQVAEConfig()
    p = sub.add_parser("sid", help="semantic item IDs (RQ-VAE, appendix C)")
    ssub = p.add_subparsers(dest="sid_command", metavar="ACTION", required=True)
    b = ssub.add_parser("build", help="train the RQ-VAE; write the SIDs, their report and weights (the knowledge_* "
                                      "entries with --vectors knowledge) and the SID table")
    b.add_argument("--dataset", default="beauty")
    b.add_argument("--vectors", choices=["title", "knowledge"], default="title",
                   help="item vectors to tokenise (knowledge: items without knowledge keep their title vector)")
    b.add_argument("--small", action="store_true",
                   help=f"smoke run ({RQVAEConfig.small().epochs} epochs unless --epochs), written as the "
                        f"'{cat.SMALL_RUN}' run beside the full one")
    b.add_argument("--levels", type=int, default=None, help=f"default {d.levels}")
    b.add_argument("--codebook-size", type=int, default=None, help=f"default {d.codebook_size}")
    b.add_argument("--latent-dim", type=int, default=None, help=f"default {d.latent_dim}")
    b.add_argument("--beta", type=float, default=None, help=f"default {d.beta}")
    b.add_argument("--epochs", type=int, default=None, help=f"default {d.epochs}")
    b.add_argument("--seed", type=int, default=None, help=f"default {d.seed}")
    b.set_defaults(func=_build)
