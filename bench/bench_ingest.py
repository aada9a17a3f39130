"""Benchmark: Beauty ingest wall time and peak memory (goal: < 30 s and < 1 GiB on a 2-core CPU).

Each repetition ingests the real raw files into a fresh temporary store in a child process, so the peak
resident memory (ru_maxrss of the child) is that of the ingest alone. Prints a table, records the medians
in the artifact store (catalogue entry bench_ingest).

    python bench/bench_ingest.py [--dataset beauty] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = """
import sys, time
from reaseq_core.data import ingest
from reaseq_core.store import ArtifactStore
t = time.perf_counter()
card = ingest(sys.argv[1], ArtifactStore(sys.argv[2]), force=True)
print(time.perf_counter() - t, card["counts"]["interactions"])
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, args.dataset, tmp], capture_output=True, text=True,
                                 check=True)
            wall = time.perf_counter() - t0
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            inner, n = out.stdout.split()
            rows.append({"repeat": r, "process_wall_s": wall, "ingest_s": float(inner), "peak_rss_mib": peak_mib,
                         "interactions": int(n)})
    med = {k: statistics.median(x[k] for x in rows) for k in ("process_wall_s", "ingest_s", "peak_rss_mib")}
    print(f"{'repeat':>6} {'ingest s':>9} {'process s':>10} {'peak RSS MiB':>13}")
    for x in rows:
        print(f"{x['repeat']:>6} {x['ingest_s']:>9.2f} {x['process_wall_s']:>10.2f} {x['peak_rss_mib']:>13.0f}")
    print(f"{'median':>6} {med['ingest_s']:>9.2f} {med['process_wall_s']:>10.2f} {med['peak_rss_mib']:>13.0f}")
    print(f"goal: ingest < 30 s and peak < 1024 MiB -> "
          f"{'met' if med['process_wall_s'] < 30 and med['peak_rss_mib'] < 1024 else 'NOT met'}")
    print("peak RSS is the maximum over child processes so far (ru_maxrss of RUSAGE_CHILDREN), i.e. an upper bound")
    from reaseq_core import catalogue as cat
    from reaseq_core.store import ArtifactStore
    ArtifactStore().write(args.dataset, cat.BENCH_INGEST, {
        "headline": {"ingest_median_s": round(med["ingest_s"], 2),
                     "process_median_s": round(med["process_wall_s"], 2),
                     "peak_rss_mib": round(med["peak_rss_mib"])},
        "rows": rows, "method": "child process per repeat, fresh temporary store, median of repeats"},
        {"config": vars(args)})


if __name__ == "__main__":
    main()
