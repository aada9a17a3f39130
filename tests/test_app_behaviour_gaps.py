"""Behaviour gaps on the committed Beauty store: the location summary is a table (one row per scheme, the
stored figures), and the timeline's gap labels do not overlap (same row => disjoint estimated extents)."""
from __future__ import annotations

import json

import pandas as pd

from reaseq_core import catalogue as cat
from test_app_pages import DATASET, clean, run_page
from test_app_prompt_lab import committed_env  # noqa: F401  (fixture: REASEQ_HOME at the committed store)


def test_location_summary_table_and_timeline_labels(committed_env):  # noqa: F811
    summ = committed_env.read(DATASET, cat.LOCATION_SUMMARY)
    at = run_page("Behaviour_gaps", None)
    clean(at)
    assert not at.json, "the location summary is shown as a table, not raw JSON"
    table = next(d.value for d in at.dataframe if "scheme" in getattr(d.value, "columns", []))
    table = table.data if hasattr(table, "data") else table          # a Styler carries its frame
    assert sorted(table["scheme"]) == sorted(summ["variants"])
    td = table.set_index("scheme").loc["TD"]
    assert td["gaps"] == f"{summ['variants']['TD']['gaps']:,}"
    assert td["[FILL] ratio"] == f"{summ['variants']['TD']['fill_ratio']:.1%}"
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    anns = fig["layout"].get("annotations", [])
    assert len(anns) >= 3, "the default user (most flagged gaps first) has labelled gaps"
    xs = [x for tr in fig["data"] for x in tr.get("x", [])]
    t = pd.to_datetime(pd.Series(xs), format="ISO8601")
    ns_per_px = max(1, (t.max() - t.min()).value) / (0.92 * 1300)
    by_row: dict[float, list[tuple[float, float]]] = {}
    for a in anns:
        x, half = pd.Timestamp(a["x"]).value, (len(a["text"]) * 6.5 / 2 + 6) * ns_per_px
        by_row.setdefault(round(a["y"], 3), []).append((x - half, x + half))
    for y, spans in by_row.items():
        spans.sort()
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), f"labels overlap on row y={y}"
    top = max(abs(a["y"]) for a in anns)
    assert fig["layout"]["yaxis"]["range"][1] > top                  # every row inside the plot
