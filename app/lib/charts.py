"""Plotly figure builders for the workbench (pure functions of data frames, so tests can call them)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from reaseq_core.report import result_chart


def category_tree(paths: list[dict], max_depth: int = 4) -> go.Figure:
    """Sunburst of the category tree from card['categories']['paths'] ([{path: 'A > B > C', items: n}]).

    Paths deeper than max_depth are folded into their ancestor at that depth, so the chart stays legible;
    every item is still counted.
    """
    counts: dict[tuple, int] = {}
    for p in paths:
        parts = tuple(x.strip() for x in p["path"].split(">") if x.strip())[:max_depth] or ("(no category)",)
        counts[parts] = counts.get(parts, 0) + int(p["items"])
    nodes: dict[tuple, int] = {}
    for parts, n in counts.items():
        for k in range(1, len(parts) + 1):
            nodes[parts[:k]] = nodes.get(parts[:k], 0) + n
    ids = [" > ".join(k) for k in nodes]
    labels = [k[-1] for k in nodes]
    parents = [" > ".join(k[:-1]) for k in nodes]
    fig = go.Figure(go.Sunburst(ids=ids, labels=labels, parents=parents, values=list(nodes.values()),
                                branchvalues="total", hovertemplate="%{id}<br>%{value} items<extra></extra>",
                                maxdepth=3))
    fig.update_layout(margin=dict(t=10, l=10, r=10, b=10), height=460)
    return fig


def histogram_from_card(hist: dict, x_title: str, y_title: str = "count") -> go.Figure:
    """Bar chart of a pre-binned histogram {edges: [...], counts: [...]} (bins labelled by their edges)."""
    edges, counts = hist["edges"], hist["counts"]

    def fmt(v: float) -> str:
        return f"{v:g}" if v >= 1 or v == 0 else f"{v:.2g}"

    labels = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        labels.append("same day" if hi <= 1e-6 else f"[{fmt(lo)}, {fmt(hi)})")
    fig = go.Figure(go.Bar(x=labels, y=counts, hovertemplate="%{x}: %{y}<extra></extra>"))
    fig.update_layout(xaxis_title=x_title, yaxis_title=y_title, margin=dict(t=10, l=10, r=10, b=10), height=320)
    return fig


def bar_with_error(df: pd.DataFrame, label_col: str, metric: str, title: str = "") -> go.Figure:
    """One mark per row with ± std error bars from '<metric>_std' when the table has it: horizontal (long row
    labels wrapped along the y axis), and, where the values sit far from 0 (AUC 0.74 vs 0.76), an axis fitted
    to the data with dots instead of bars. The same builder draws the HTML report's charts
    (reaseq_core.report.result_chart)."""
    return result_chart(df, label_col, metric, title)


def user_timeline(gaps: pd.DataFrame, titles: dict | None = None) -> go.Figure:
    """A user's behaviour timeline from location rows (one row per consecutive pair t -> t+1).

    Items are points at their time, coloured by primary category; each gap between consecutive items is
    drawn as a segment, marked when it is a temporal (TD) or category (CD) discontinuity, and labelled with
    Delta p where the model filter computed it; flagged gaps (kept after the model filter) are drawn bold.
    """
    titles = titles or {}
    g = gaps.sort_values("t")
    pts = pd.concat([
        pd.DataFrame({"t": g["t"], "item": g["item_from"], "ts": g["ts_from"], "category": g["cat_from"]}),
        pd.DataFrame({"t": g["t"] + 1, "item": g["item_to"], "ts": g["ts_to"], "category": g["cat_to"]}),
    ]).drop_duplicates("t").sort_values("t")
    pts["time"] = pd.to_datetime(pts["ts"], unit="s")
    pts["title"] = pts["item"].map(lambda i: (titles.get(i) or {}).get("title") or i)
    pts["category"] = pts["category"].fillna("(none)")
    fig = px.scatter(pts, x="time", y=[0] * len(pts), color="category", hover_name="title",
                     hover_data={"item": True, "t": True, "time": True, "category": True})
    fig.update_traces(marker=dict(size=14, line=dict(width=1, color="#333")))
    for r in g.itertuples():
        x0, x1 = pd.to_datetime(r.ts_from, unit="s"), pd.to_datetime(r.ts_to, unit="s")
        kinds = [k for k, on in (("TD", r.td), ("CD", r.cd)) if bool(on)]
        flagged = bool(r.flagged)
        colour = "#d62728" if flagged else ("#ff9f40" if kinds else "#bbbbbb")
        fig.add_trace(go.Scatter(x=[x0, x1], y=[0, 0], mode="lines", showlegend=False, hoverinfo="skip",
                                 line=dict(color=colour, width=6 if flagged else (3 if kinds else 1))))
        label = "+".join(kinds)
        dp = getattr(r, "delta_p", np.nan)
        if dp is not None and not (isinstance(dp, float) and np.isnan(dp)):
            label += f" Δp={dp:+.3f}"
        if flagged:
            label += " ✔"
        if label:
            mid = x0 + (x1 - x0) / 2
            fig.add_annotation(x=mid, y=0.12 if r.t % 2 == 0 else -0.12, text=label, showarrow=False,
                               font=dict(size=10, color=colour))
    fig.update_layout(yaxis=dict(visible=False, range=[-0.4, 0.4]), height=360, xaxis_title="time",
                      margin=dict(t=10, l=10, r=10, b=10), legend_title_text="category")
    # keep point traces above the gap segments
    fig.data = tuple(sorted(fig.data, key=lambda tr: tr.mode != "lines"))
    return fig


def umap_scatter(df: pd.DataFrame, colour: str, highlight: set | None = None) -> go.Figure:
    """Scattergl of UMAP coordinates; fills drawn as diamonds; `customdata` carries the row index so a
    selection maps back to rows."""
    fig = go.Figure()
    for key, part in df.groupby(colour, sort=True, dropna=False):
        is_fill = part["token_type"].eq("fill")
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers", name=str(key),
            customdata=np.stack([part.index.to_numpy()], axis=1),
            text=part["label"],
            hovertemplate="%{text}<extra>" + str(key) + "</extra>",
            marker=dict(size=np.where(is_fill, 9, 4).tolist(),
                        symbol=np.where(is_fill, "diamond", "circle").tolist(),
                        opacity=0.85 if not highlight else 1.0,
                        line=dict(width=np.where(is_fill, 1, 0).tolist(), color="#222"))))
    fig.update_layout(height=620, margin=dict(t=10, l=10, r=10, b=10), dragmode="lasso",
                      xaxis=dict(showticklabels=False, title="UMAP-1"), yaxis=dict(showticklabels=False,
                                                                                    title="UMAP-2"))
    return fig


def fmt_time(ts) -> str:
    try:
        return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError):
        return "?"
