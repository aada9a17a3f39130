"""`reaseq data ingest | describe | splits`."""
from __future__ import annotations

import json

from ..errors import ReaSeqError
from ..store import ArtifactStore
from .ingest import ADAPTERS, KNOWN, ingest, load_dataset

DEFAULT_DATASET = "beauty"


def _ingest_names(args) -> list[str]:
    """The dataset names to ingest. Raw files given by hand need a name chosen by hand: defaulting to
    'beauty' would silently replace the Beauty tables with another category."""
    given = [flag for flag, v in (("--path", args.path), ("--reviews", args.reviews), ("--meta", args.meta)) if v]
    if args.dataset is None:
        if given:
            raise ReaSeqError(f"{' / '.join(given)} given without --dataset: name the dataset these files "
                              "become, e.g. --dataset instruments")
        return [DEFAULT_DATASET]
    if args.dataset == "all":
        if given:
            raise ReaSeqError(f"--dataset all ingests the known datasets from their own folders and cannot "
                              f"take {' / '.join(given)}: pass a single --dataset NAME")
        return list(KNOWN)
    return [args.dataset]


def _ingest(args) -> int:
    store = ArtifactStore(args.home)
    for name in _ingest_names(args):
        card = ingest(name, store, path=args.path, fmt=args.format, data_dir=args.data_dir, force=args.force,
                      reviews=args.reviews, meta=args.meta)
        c = card["counts"]
        state = "already ingested (unchanged raw files), skipped" if card.get("skipped") else \
            f"ingested in {card['ingest_seconds']} s"
        print(f"{name}: {state}: {c['users']:,} users, {c['items']:,} items, {c['interactions']:,} interactions, "
              f"hash {card['content_hash']} -> {store.stage_dir(name, 'data')}")
    return 0


def describe_card(card: dict) -> str:
    c, s, g, cat = card["counts"], card["sequence_length"], card["gap_days"], card["categories"]
    out = [f"dataset {card['dataset']}  (hash {card['content_hash']}, source {card['source']})",
           f"  users {c['users']:,}  items {c['items']:,}  interactions {c['interactions']:,}  "
           f"brands {c['brands']:,}  demand expressions {c['demand_expressions']:,}",
           "  coverage: " + ", ".join(f"{k} {v:.1%}" for k, v in card["coverage"].items()),
           f"  sequence length: min {s['min']:.0f}, median {s['median']:.0f}, mean {s['mean']:.2f}, "
           f"p90 {s['p90']:.0f}, p99 {s['p99']:.0f}, max {s['max']:.0f}; users with >= 20: {s['users_with_20_or_more']:,}",
           f"  gap between consecutive events (days): median {g.get('median', 0):.0f}, "
           f"same day {g['share_same_day']:.1%}, p90 {g.get('p90', 0):.0f}",
           f"  categories: {cat['distinct_paths']} paths, {cat['distinct_leaves']} leaves, depth "
           f"{cat['depth']['min']}..{cat['depth']['max']}",
           "  primary categories: " + ", ".join(f"{k} {v:,}" for k, v in cat["primary"].items())]
    rep = {k: v for k, v in card["ingest_report"].items() if not isinstance(v, list)}
    out.append("  ingest report: " + json.dumps(rep))
    return "\n".join(out)


def _describe(args) -> int:
    ds = load_dataset(args.dataset, ArtifactStore(args.home))
    print(json.dumps(ds.card, indent=2) if args.json else describe_card(ds.card))
    return 0


def register(sub) -> None:
    p = sub.add_parser("data", help="ingest and describe datasets")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    i = dsub.add_parser("ingest", help="raw files -> canonical parquet + dataset card (idempotent)")
    i.add_argument("--dataset", default=None,
                   help=f"{', '.join(KNOWN)}, 'all', or a new name with --path / --reviews / --meta "
                   f"(default: {DEFAULT_DATASET})")
    i.add_argument("--path", default=None,
                   help="folder with the raw files: the generic format, or one Amazon 2018 / 2023 category "
                   "(reviews <Category>_5.json.gz, <Category>.json.gz or <Category>.jsonl[.gz], plus meta_<Category>.*)")
    i.add_argument("--reviews", default=None, metavar="FILE",
                   help="the Amazon reviews file to ingest (overrides discovery in --path; --path may be omitted)")
    i.add_argument("--meta", default=None, metavar="FILE",
                   help="the Amazon metadata file to ingest (overrides discovery in --path)")
    i.add_argument("--format", default=None, choices=sorted(ADAPTERS),
                   help="raw format (default: the known dataset's; for a new name guessed from the files, else generic)")
    i.add_argument("--data-dir", default=None, help="directory holding raw dataset folders ($REASEQ_DATA_DIR)")
    i.add_argument("--force", action="store_true", help="re-ingest even if unchanged")
    i.set_defaults(func=_ingest)
    d = dsub.add_parser("describe", help="print the dataset card")
    d.add_argument("--dataset", default="beauty")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_describe)
