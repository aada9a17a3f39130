"""Page load time of every workbench page on the Beauty artifacts (server side: the page's script run).

Each page is loaded `--repeats` times in one Streamlit AppTest session: the first load is cold (artifacts
read from disk), the rest are warm (st.cache_data hits). Prints a table and records the result in the store
as the catalogue's `bench_app` artifact, with a "headline" dict. Browser rendering time (the plotly bundle) is not
included: it depends on the client machine.

    python bench/bench_app.py [--dataset beauty] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from reaseq_core import catalogue as cat
from reaseq_core.store import ArtifactStore

APP = Path(__file__).resolve().parent.parent / "app"


def pages() -> list[tuple[str, Path]]:
    return [("Home", APP / "Home.py")] + [(p.stem.split("_", 1)[1], p) for p in sorted((APP / "pages").glob("*.py"))]


def measure(path: Path, repeats: int) -> dict:
    at = AppTest.from_file(str(path), default_timeout=300)
    times, state = [], "ok"
    for _ in range(repeats):
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
    if at.exception:
        state = "exception"
    elif at.error:  # the page could not show an artifact (see app/lib/ui.py)
        state = "error"
    elif any("Not produced yet" in str(i.value) for i in at.info):  # ui.show_missing's message
        state = "artifact missing"
    return {"cold_s": round(times[0], 3), "warm_median_s": round(statistics.median(times[1:] or times), 3),
            "runs": len(times), "state": state}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--home", default=None, help="artifact root (default $REASEQ_HOME or data/artifacts)")
    args = ap.parse_args()
    store = ArtifactStore(args.home)
    os.environ["REASEQ_HOME"] = str(store.root)
    os.environ["REASEQ_APP_DATASET"] = args.dataset
    results = {}
    print(f"{'page':<24}{'cold s':>9}{'warm median s':>15}  state")
    for name, path in pages():
        r = measure(path, args.repeats)
        results[name] = r
        print(f"{name:<24}{r['cold_s']:>9.3f}{r['warm_median_s']:>15.3f}  {r['state']}")
    ok = {k: v for k, v in results.items() if v["state"] == "ok"}
    headline = {"pages_measured": len(results), "pages_with_content": len(ok),
                "max_warm_median_s": max((v["warm_median_s"] for v in ok.values()), default=None),
                "max_cold_s": max((v["cold_s"] for v in ok.values()), default=None)}
    store.write(args.dataset, cat.BENCH_APP,
                {"headline": headline, "pages": results, "repeats": args.repeats,
                 "method": "streamlit.testing AppTest script run, first load cold then warm (cached)",
                 "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}},
                {"config": {"repeats": args.repeats}})
    print("headline:", headline)


if __name__ == "__main__":
    main()
