"""`reaseq represent build | tables`: item vectors (paper 2.1.2) and the Tables 1-2 analogues (4.1.1)."""
from __future__ import annotations

from .. import catalogue as cat
from ..data import load_dataset
from ..store import ArtifactStore

SMALL_CATEGORY = "Fragrance"   # the small configuration: one primary category (492 Beauty items)


def small_subset(dataset) -> set[str]:
    items = dataset.items
    return set(items.loc[items["primary_category"] == SMALL_CATEGORY, "item_id"].astype(str))


def _build(args) -> int:
    from .knowledge_vectors import build_knowledge_vectors, dataset_with_clean_text
    from .title_vectors import build_title_vectors
    store = ArtifactStore(args.home)
    ds = load_dataset(args.dataset, store)
    arrays = build_title_vectors(dataset_with_clean_text(ds), store)
    print(f"title vectors: {len(arrays['item_ids']):,} items -> {store.path(ds.name, cat.TITLE_VECTORS)}")
    if args.title_only:
        return 0
    if not store.exists(ds.name, cat.ITEM_KNOWLEDGE):      # knowledge is optional: say so and stop here
        print(f"no knowledge yet ({store.path(ds.name, cat.ITEM_KNOWLEDGE)} missing): knowledge vectors skipped; "
              f"run `{cat.ITEM_KNOWLEDGE.producing_command(ds.name)}` first")
        return 0
    for key, rep in build_knowledge_vectors(ds, store).items():
        skipped = ", ".join(f"{k} {v}" for k, v in rep["skipped"].items() if v) or "none"
        state = f"{rep['items']:,} items" if rep["items"] else "no items with usable knowledge: not written"
        print(f"{key}: {state} (left out: {skipped})")
    return 0


def _tables(args) -> int:
    from .tables import build_tables
    store = ArtifactStore(args.home)
    ds = load_dataset(args.dataset, store)
    subset = small_subset(ds) if args.small else None
    out = build_tables(ds, store, item_subset=subset, run=cat.SMALL_RUN if args.small else None)
    print(out["table1"].to_markdown())
    print(out["table2"].to_markdown())
    fig7 = out["figure7"]
    print(f"figure 7 examples: {fig7['items'] if fig7 else 0} items with multi- and single-agent knowledge")
    print(f"written to {store.path(ds.name, cat.TABLE1_HR, run=cat.SMALL_RUN if args.small else None).parent}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("represent", help="item vectors (title, knowledge-enhanced) and the Tables 1-2 analogues")
    rsub = p.add_subparsers(dest="represent_command", metavar="ACTION", required=True)
    b = rsub.add_parser("build", help="title vectors for every item + knowledge vectors where knowledge exists")
    b.add_argument("--dataset", default="beauty")
    b.add_argument("--title-only", action="store_true", help="only the title vectors (no knowledge needed)")
    b.set_defaults(func=_build)
    t = rsub.add_parser("tables", help="HR@k (Table 1) and SM-HR@k (Table 2) per arm, and the Figure 7 examples")
    t.add_argument("--dataset", default="beauty")
    t.add_argument("--small", action="store_true",
                   help=f"only the {SMALL_CATEGORY} category; written as the '{cat.SMALL_RUN}' run, beside the full one")
    t.set_defaults(func=_tables)
