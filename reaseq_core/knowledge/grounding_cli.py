"""`reaseq knowledge grounding --dataset beauty`: classify every stored knowledge entry as supported / beyond
the data / contradicted (grounding.py), print the shares per setup and category, count the analyses that stop
mid-sentence, and write the result table `grounding_classes` (no LLM call: it reads the artifacts)."""
from __future__ import annotations

from .. import catalogue as cat
from ..errors import ReaSeqError
from ..store import ArtifactStore


def run(args) -> int:
    from ..data import load_dataset
    from ..results import write_table
    from .report import grounding_classes_table
    from .schemas import unfinished_taxonomy_fields
    store = ArtifactStore(args.home)
    if not store.exists(args.dataset, cat.ITEM_KNOWLEDGE):
        raise ReaSeqError(f"no item knowledge for {args.dataset}: run `reaseq knowledge build --dataset "
                          f"{args.dataset}` first ({store.path(args.dataset, cat.ITEM_KNOWLEDGE)})")
    ds = load_dataset(args.dataset, store)
    knowledge = store.read(args.dataset, cat.ITEM_KNOWLEDGE)
    table = grounding_classes_table(knowledge, ds)
    print(table.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if store.exists(args.dataset, cat.TAXONOMY):
        cut = unfinished_taxonomy_fields(store.read(args.dataset, cat.TAXONOMY))
        print(f"taxonomy text fields that stop mid-sentence (Layers 1-2): {len(cut)}")
    if not args.no_write:
        write_table(store, cat.GROUNDING_CLASSES, table,
                    {"items_file_created": store.provenance(args.dataset, cat.ITEM_KNOWLEDGE).get("created")},
                    run=args.run)
        print(f"-> {store.path(args.dataset, cat.GROUNDING_CLASSES, run=args.run)}")
    return 0


def add_parser(sub) -> None:
    g = sub.add_parser("grounding", help="supported / beyond / contradicted shares of the stored knowledge "
                                         "(result table grounding_classes; no LLM)")
    g.add_argument("--dataset", required=True)
    g.add_argument("--run", default=None, help="write the table as this named run (default: the full run)")
    g.add_argument("--no-write", action="store_true", help="print only")
    g.set_defaults(func=run)
