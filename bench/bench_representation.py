"""Benchmark: the representation stage's costs on the real catalogue (paper 4.1.1 evaluation).

Measures, on this machine: Phi's encoding rate on uncached item texts (title texts of a fixed sample,
bypassing the embedding cache), the exact faiss neighbour search behind HR@k for the whole catalogue
(every history item, k = 2000), and the whole HR@k + SM-HR@k evaluation of the title arm on the whole
catalogue (22,363 users, 12,101 items). Needs the title vectors (`reaseq represent build --title-only`).
Prints a table and records the medians in the artifact store (catalogue entry `bench_representation`).

    python bench/bench_representation.py [--dataset beauty] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--encode-sample", type=int, default=512, help="texts encoded per repeat (no cache)")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(2)
    from reaseq_core import catalogue as cat
    from reaseq_core.data import load_dataset
    from reaseq_core.representation import retrieval_metrics as rm
    from reaseq_core.representation.encoder import encode, load_encoder
    from reaseq_core.representation.item_space import load_item_space
    from reaseq_core.representation.knowledge_vectors import clean_item_row
    from reaseq_core.representation.product_line import product_lines
    from reaseq_core.representation.tables import Pool, evaluate_pool
    from reaseq_core.representation.title_vectors import title_text
    from reaseq_core.store import ArtifactStore

    store = ArtifactStore()
    ds = load_dataset(args.dataset, store)
    space = load_item_space(ds.name, "title", store)
    ids, vecs = space.item_ids.tolist(), space.vectors
    rows_all = ds.items.sample(n=min(args.encode_sample, len(ds.items)), random_state=0).to_dict("records")
    texts = [title_text(clean_item_row(r)) for r in rows_all]
    load_encoder()
    sequences = ds.sequences()
    lines = product_lines(ds.items)
    row_of = {i: r for r, i in enumerate(ids)}
    hist_items = np.unique([row_of[i] for s in sequences.values() for i in s[:-1]])
    rows = []
    for r in range(args.repeats):
        t = time.perf_counter()
        encode(texts, cache=None)
        enc_s = time.perf_counter() - t
        t = time.perf_counter()
        rm.neighbours_excluding_self(vecs, hist_items, 2000)
        search_s = time.perf_counter() - t
        t = time.perf_counter()
        evaluate_pool(Pool("catalogue", ids, {"title": vecs}), sequences, lines.line_of)
        eval_s = time.perf_counter() - t
        rows.append({"repeat": r, "encode_texts_per_s": len(texts) / enc_s, "search_s": search_s,
                     "eval_s": eval_s})
    med = {k: statistics.median(x[k] for x in rows) for k in ("encode_texts_per_s", "search_s", "eval_s")}
    print(f"{'repeat':>6} {'Phi texts/s':>12} {'kNN k=2000 s':>13} {'HR+SM-HR eval s':>16}")
    for x in rows:
        print(f"{x['repeat']:>6} {x['encode_texts_per_s']:>12.1f} {x['search_s']:>13.2f} {x['eval_s']:>16.2f}")
    print(f"{'median':>6} {med['encode_texts_per_s']:>12.1f} {med['search_s']:>13.2f} {med['eval_s']:>16.2f}")
    print(f"{len(hist_items):,} history items searched against {len(ids):,} items; {len(texts)} title texts encoded "
          "per repeat without the cache; the eval includes the search, the user loop and 1000 bootstrap resamples")
    store.write(ds.name, cat.BENCH_REPRESENTATION, {
        "headline": {"phi_texts_per_s": round(med["encode_texts_per_s"], 1),
                     "catalogue_knn_k2000_s": round(med["search_s"], 2),
                     "catalogue_title_eval_s": round(med["eval_s"], 2)},
        "rows": rows, "method": "median of repeats in one process; torch threads 2; machine shared with other jobs"},
        {"config": vars(args), "history_items": int(len(hist_items)), "items": len(ids)})


if __name__ == "__main__":
    main()
