"""Train SASRec with configuration overrides and print its leave-one-out metrics beside the shipped model's.

Nothing is written to the artifact store: this is for tuning, and a setting worth keeping goes into
`SASRecConfig` and is shipped with `reaseq gbr sasrec`.

    python scripts/sasrec_sweep.py --set d=128 --set dropout=0.3 [--set n_negatives=8192 ...] [--out FILE.json]

Each `--set` run group is one training run; separate runs with `--run`:

    python scripts/sasrec_sweep.py --run d=128 --run n_negatives=8192,lr=1e-3
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

from reaseq_core import catalogue as cat
from reaseq_core.gbr import report
from reaseq_core.gbr.pipeline import Context, GBRConfig, user_sequences
from reaseq_core.gbr.sasrec import SASRecConfig, evaluate, train_sasrec
from reaseq_core.store import ArtifactStore


def parse_overrides(text: str) -> dict:
    fields = {f.name: f.type for f in dataclasses.fields(SASRecConfig)}
    out = {}
    for part in filter(None, text.split(",")):
        if "=" not in part:
            raise SystemExit(f"--run/--set: '{part}' is not name=value")
        k, v = part.split("=", 1)
        if k not in fields:
            raise SystemExit(f"--run/--set: '{k}' is not a SASRecConfig field ({', '.join(fields)})")
        default = getattr(SASRecConfig(), k)
        out[k] = type(default)(float(v)) if isinstance(default, int) and not isinstance(default, bool) else type(default)(v)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--run", action="append", default=[], help="one run: name=value[,name=value...]")
    ap.add_argument("--set", action="append", default=[], help="an override shared by every run")
    ap.add_argument("--out", help="write the rows as JSON here")
    ap.add_argument("--trace-test", action="store_true",
                    help="also score the test items after every validation evaluation (diagnostic: how much the "
                         "test figure moves with the epoch that validation would select; not used for selection)")
    args = ap.parse_args(argv)
    shared = parse_overrides(",".join(args.set))
    runs = [parse_overrides(r) for r in args.run] or [{}]
    store = ArtifactStore()
    ctx = Context(GBRConfig(dataset=args.dataset, item_space="title"), store, log=print)
    _, seqs = user_sequences(ctx)
    shipped = store.read(args.dataset, cat.SASREC_METRICS) if store.exists(args.dataset, cat.SASREC_METRICS) else None
    rows = []
    for over in runs:
        cfg = SASRecConfig(**{**shared, **over})
        t0 = time.time()
        trace = []

        def test_each_epoch(model, row):
            m = evaluate(model, seqs, "test")
            trace.append({**row, "test_recall@10": m["recall@10"], "test_ndcg@10": m["ndcg@10"]})
            print(f"  epoch {row['epoch']}: valid N@10 {row['valid_ndcg@10']:.4f}, test R@10 "
                  f"{m['recall@10']:.4f} N@10 {m['ndcg@10']:.4f}", flush=True)

        res = train_sasrec(seqs, len(ctx.item_ids), cfg, log=print,
                           on_evaluation=test_each_epoch if args.trace_test else None)
        t = res.metrics["test"]
        rows.append({"overrides": {**shared, **over}, "epochs": res.epochs, "train_seconds": res.train_seconds,
                     "wall_seconds": round(time.time() - t0, 1), "test": t, "valid": res.metrics["valid"],
                     "history": res.history, "test_trace": trace})
        print(json.dumps({k: rows[-1][k] for k in ("overrides", "epochs", "train_seconds")}), flush=True)
    ref = report.SASREC_REFERENCE
    print(f"\n{args.dataset}, leave-one-out, full ranking over {len(ctx.item_ids)} items, history excluded; "
          f"reference {ref}")
    print(f"{'run':<44} {'epochs':>6} {'train s':>8} {'R@10':>7} {'N@10':>7}")
    if shipped:
        c = shipped["config"]
        print(f"{'shipped (' + str(c.get('d')) + 'd, lr ' + str(c.get('lr')) + ')':<44} {shipped['epochs']:>6} "
              f"{shipped['train_seconds']:>8.0f} {shipped['test']['recall@10']:>7.4f} {shipped['test']['ndcg@10']:>7.4f}")
    for r in rows:
        name = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "defaults"
        print(f"{name:<44} {r['epochs']:>6} {r['train_seconds']:>8.0f} {r['test']['recall@10']:>7.4f} "
              f"{r['test']['ndcg@10']:>7.4f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
