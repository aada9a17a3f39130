"""One self-contained HTML report of the result tables, for people without the workbench.

`build_report(store, dataset, keys)` returns the text of a single HTML file that opens with no server and no
network: the plotly.js library is inlined once in <head> and every figure is a div plus an inline script. For
each result table (default: every result table of the dataset's full run) it shows the table (mean ± std where a
'<col>_std' sibling exists, full values), a chart of its headline metric, protocol, split, seeds, deviations
from the paper, notes (a smoke run's "not a result" warning stands out), the paper's own figures where the table
has them, the learning curves its stage saved (or why there are none), and the provenance of every artifact it
used (created, code version, dataset hash, seeds, a digest of the recorded configuration). A header gives the
dataset, its content hash, the date, the code version and how many items have knowledge.

`reaseq report` (report_cli.py) writes it to a file; the workbench's Results page offers the same HTML as a
download. The chart builders here (`result_chart`, `default_metric`) are the ones the Results page draws with.
All text from artifacts is escaped (html.escape).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import re
import textwrap
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from . import catalogue as cat
from .catalogue import Artifact, ArtifactShapeError
from .errors import ReaSeqError
from .results import ResultTable, list_tables, read_table
from .store import ArtifactStore, code_version

# ---- which column a chart shows -------------------------------------------------------------------------
# Counts, sizes and timings are context, not results: a chart never defaults to them.
_CONTEXT_COLUMN = re.compile(r"^(n|n_.*|.*_n|seeds|n_seeds|users.*|items.*|queries|entries|largest_bucket)$"
                             r"|(^|_)(wall|cpu|seconds|time)(_|$)|_s$|_s_per_seed$|per_s$", re.IGNORECASE)
# Result columns in the order a reader looks for them (the first pattern a column matches ranks it).
_METRIC_ORDER = ("auc", "hr@", "acc", "recall", "ndcg", "grounded", "grounding", "unique_share", "usage",
                 "perplexity", "ppl", "mse", "share", "rate", "impr", "delta")


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The numeric value columns, result metrics first (in _METRIC_ORDER), then other numbers, then counts
    and timings."""
    numeric = [c for c in df.columns if not c.endswith("_std") and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c]) and df[c].notna().any()]

    def rank(c: str) -> tuple:
        if _CONTEXT_COLUMN.search(c):
            return (len(_METRIC_ORDER) + 1, 0)
        low = c.lower()
        hits = [i for i, p in enumerate(_METRIC_ORDER) if p in low]
        return (min(hits) if hits else len(_METRIC_ORDER), 0 if f"{c}_std" in df.columns else 1)

    return sorted(numeric, key=rank)   # sorted() is stable: table order within a rank


def default_metric(df: pd.DataFrame) -> str | None:
    cols = metric_columns(df)
    return cols[0] if cols else None


def label_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(df with a label column, its name): the text columns joined with ' · ' (e.g. pool · arm), so every row
    has its own label; the row number is appended where labels still repeat."""
    text = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]) and df[c].notna().any()]
    if not text:
        return df.assign(row=[f"row {i + 1}" for i in range(len(df))]), "row"
    if len(text) == 1 and not df[text[0]].astype(str).duplicated().any():
        return df, text[0]
    labels = df[text].astype(str).agg(" · ".join, axis=1)
    if labels.duplicated().any():
        labels = labels + [f" (row {i + 1})" for i in range(len(df))]
    name = " · ".join(text)
    return df.assign(**{name: labels.tolist()}), name


def wrap_label(text: str, width: int = 36) -> str:
    """A long category label broken into lines (plotly's <br>) so axis labels are not squashed; characters
    plotly would read as markup are escaped."""
    lines = textwrap.wrap(str(text), width=width, break_long_words=True) or [""]
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def zoom_range(values: list[float], errors: list[float] | None) -> list[float] | None:
    """An axis range around the data (mean ± std, with a margin) when the values sit far from 0 (AUC 0.74 vs
    0.76): a zero-based axis would hide the differences. None when 0 belongs on the axis."""
    pairs = [(v, (e if e is not None and e == e else 0.0)) for v, e in zip(values, errors or [None] * len(values))
             if v is not None and v == v]
    if not pairs:
        return None
    lo = min(v - e for v, e in pairs)
    hi = max(v + e for v, e in pairs)
    if lo <= 0 <= hi or hi - lo > 0.5 * max(abs(lo), abs(hi)):
        return None
    pad = max((hi - lo) * 0.15, 1e-9 if hi == lo else 0.0, abs(hi) * 0.002)
    return [lo - pad, hi + pad]


def result_chart(df: pd.DataFrame, label_col: str, metric: str, title: str = ""):
    """One horizontal bar (or, on a zoomed axis, one dot) per row with ± std error bars from '<metric>_std'.

    Horizontal, so long row labels are read along the y axis (wrapped, never squashed); where the values sit far
    from 0 the axis is fitted to the data and the marks are dots, since a bar cut off above 0 would misstate
    its length."""
    import plotly.graph_objects as go
    std_col = f"{metric}_std"
    values = [None if pd.isna(v) else float(v) for v in df[metric]]
    errors = [None if pd.isna(v) else float(v) for v in df[std_col]] if std_col in df.columns else None
    labels = [wrap_label(x) for x in df[label_col].astype(str)]
    rng = zoom_range(values, errors)
    err = dict(type="data", array=[e if e is not None else 0.0 for e in errors], visible=True) if errors else None
    hover = "%{y}<br>" + html.escape(metric, quote=False) + " = %{x:.4f}" + \
            (" ± %{error_x.array:.4f}" if errors else "") + "<extra></extra>"
    if rng:
        trace = go.Scatter(x=values, y=labels, mode="markers", marker=dict(size=11), error_x=err,
                           hovertemplate=hover)
    else:
        trace = go.Bar(x=values, y=labels, orientation="h", error_x=err, hovertemplate=hover)
    fig = go.Figure(trace)
    lines = sum(lab.count("<br>") + 1 for lab in labels)
    x_title = html.escape(metric, quote=False) + (" (axis fitted to the data, not from 0)" if rng else "")
    fig.update_layout(title=html.escape(title, quote=False), height=max(220, 90 + 22 * lines + 10 * len(labels)),
                      margin=dict(t=40 if title else 10, l=10, r=20, b=40),
                      xaxis=dict(title=x_title, range=rng, zeroline=not rng),
                      yaxis=dict(autorange="reversed", automargin=True, type="category"))
    return fig


# ---- learning curves -----------------------------------------------------------------------------------
@dataclass
class Curve:
    title: str
    source: Artifact
    figure: object | None = None      # a plotly figure, or None with `skipped` saying why
    skipped: str | None = None
    caption: str = ""


_LEGEND = dict(orientation="h", yanchor="bottom", y=1.02, x=0)   # above the plot, clear of a second axis


def _line_figure(series: list[tuple[str, str, list[float], list]], y_title: str, x_title: str = "epoch"):
    """Lines from (legend group, name, y values, x values); one colour per group."""
    import plotly.express as px
    import plotly.graph_objects as go
    palette = px.colors.qualitative.Plotly
    groups = list(dict.fromkeys(g for g, _, _, _ in series))
    fig = go.Figure()
    for g, name, ys, xs in series:
        colour = palette[groups.index(g) % len(palette)]
        first = name == next(n for gg, n, _, _ in series if gg == g)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=html.escape(g, quote=False),
                                 legendgroup=g, showlegend=first, line=dict(color=colour),
                                 hovertemplate=html.escape(name, quote=False) + "<br>" + x_title +
                                 " %{x}: %{y:.4f}<extra></extra>"))
    longest = max((len(xs) for _, _, _, xs in series), default=0)
    fig.update_layout(height=380, margin=dict(t=30, l=10, r=10, b=40), xaxis_title=x_title,
                      xaxis=dict(dtick=1 if longest <= 20 else None),   # whole epochs, not 1.2, 1.4 ...
                      yaxis_title=y_title, legend=_LEGEND)
    return fig


def _float_list(value, where: str) -> list[float]:
    if not isinstance(value, (list, tuple)) and not hasattr(value, "tolist"):
        raise ArtifactShapeError(f"{where}: {type(value).__name__}, expected a list of numbers")
    out = list(value.tolist() if hasattr(value, "tolist") else value)
    if not all(isinstance(v, (int, float)) for v in out):
        raise ArtifactShapeError(f"{where}: expected a list of numbers, got {out[:5]}")
    return [float(v) for v in out]


def _ranking_curves(store: ArtifactStore, dataset: str, table: ResultTable) -> list[Curve]:
    art = cat.RANKING_RUNS
    runs = store.read(dataset, art)
    methods = [str(r.get("method")) for r in table.rows]
    mine = runs[runs["variant"].isin(methods)]
    where = store.path(dataset, art)
    if mine.empty:
        return [Curve("Validation AUC per epoch", art, skipped=f"{art.name()} holds no run of this table's "
                      f"methods ({', '.join(methods)})")]
    series = []
    for r in mine.itertuples():
        ys = _float_list(r.valid_auc_per_epoch, f"{where}, variant {r.variant} seed {r.seed}, "
                                                "column 'valid_auc_per_epoch'")
        series.append((r.variant, f"{r.variant} seed {r.seed}", ys, list(range(1, len(ys) + 1))))
    return [Curve("Validation AUC per epoch (one line per seed)", art, _line_figure(series, "valid AUC"),
                  caption=f"{len(mine)} trainings; the test figures come from each run's best epoch "
                          "(column best_epoch).")]


def _table6_curves(store: ArtifactStore, dataset: str, table: ResultTable) -> list[Curve]:
    art = cat.TABLE6_RUNS
    runs = store.read(dataset, art)
    where = store.path(dataset, art)
    series = []
    for method, rec in runs.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("per_seed"), list):
            raise ArtifactShapeError(f"{where}, method {method!r}: expected an object with a 'per_seed' list")
        for i, run in enumerate(rec["per_seed"]):
            if "valid_auc_per_epoch" not in run:
                raise ArtifactShapeError(f"{where}, method {method!r}, per_seed[{i}]: "
                                         "'valid_auc_per_epoch' is missing")
            ys = _float_list(run["valid_auc_per_epoch"], f"{where}, method {method!r}, per_seed[{i}], "
                                                         "'valid_auc_per_epoch'")
            series.append((method, f"{method} seed {run.get('seed', i)}", ys, list(range(1, len(ys) + 1))))
    if not series:
        return [Curve("DIN validation AUC per epoch", art, skipped=f"{art.name()} holds no runs")]
    return [Curve("DIN validation AUC per epoch (one line per seed)", art, _line_figure(series, "valid AUC"))]


def _sasrec_curve(store: ArtifactStore, dataset: str, table: ResultTable) -> list[Curve]:
    art = cat.SASREC_METRICS
    hist = store.read(dataset, art)["history"]
    where = store.path(dataset, art)
    if not hist:
        return [Curve("SASRec training", art, skipped=f"{art.name()} has an empty 'history'")]
    for i, h in enumerate(hist):
        if not isinstance(h, dict) or "epoch" not in h:
            raise ArtifactShapeError(f"{where}, history[{i}]: expected an object with 'epoch'")
    keys = [k for k in hist[0] if k not in ("epoch", "seconds")]
    series = [(k, k, [float(h[k]) for h in hist if k in h], [h["epoch"] for h in hist if k in h]) for k in keys]
    import plotly.graph_objects as go
    fig = go.Figure()
    for name, _, ys, xs in series:   # the loss on its own axis: it is on another scale than the metrics
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=html.escape(name, quote=False),
                                 yaxis="y2" if name == "loss" else "y"))
    fig.update_layout(height=380, margin=dict(t=30, l=10, r=10, b=40), xaxis_title="epoch", legend=_LEGEND,
                      yaxis=dict(title="validation metric"),
                      yaxis2=dict(title="training loss", overlaying="y", side="right", showgrid=False))
    return [Curve("SASRec (the Δp and filter model of the location step): training loss and validation", art,
                  fig, caption="SASRec scores the gaps that Table 5's location schemes keep.")]


def _sid_curves(store: ArtifactStore, dataset: str, table: ResultTable) -> list[Curve]:
    out = []
    for art in (cat.SID_REPORT, cat.KNOWLEDGE_SID_REPORT):
        if not store.exists(dataset, art):
            out.append(Curve(f"RQ-VAE training ({art.key})", art,
                             skipped=f"not produced: run `{art.producing_command(dataset)}`"))
            continue
        rep = store.read(dataset, art)
        training = rep.get("training")
        if not isinstance(training, dict):
            out.append(Curve(f"RQ-VAE training ({rep['vectors']} vectors)", art,
                             skipped=f"{art.name()} records no per-epoch 'training' losses"))
            continue
        where = store.path(dataset, art)
        series = [(k, k, ys, list(range(1, len(ys) + 1)))
                  for k, v in training.items() if isinstance(v, list)
                  for ys in [_float_list(v, f"{where}, training '{k}'")]]
        cap = f"dead-code restarts: {training['dead_code_restarts']}" if "dead_code_restarts" in training else ""
        out.append(Curve(f"RQ-VAE training losses ({rep['vectors']} vectors)", art,
                         _line_figure(series, "loss"), caption=cap))
    return out


def _table5_curves(store: ArtifactStore, dataset: str, table: ResultTable) -> list[Curve]:
    """The LLaDA runs' curves (table5_runs: each run's 'curve', one point per epoch), then SASRec's."""
    art = cat.TABLE5_RUNS
    where = store.path(dataset, art)
    acc, loss = [], []
    for i, run in enumerate(store.read(dataset, art)):
        if not isinstance(run, dict) or "model" not in run:
            raise ArtifactShapeError(f"{where}, run {i}: expected an object with 'model'")
        curve = run.get("curve")
        if not curve:
            continue
        if not isinstance(curve, list) or not all(isinstance(c, dict) and "epoch" in c for c in curve):
            raise ArtifactShapeError(f"{where}, run {i} ({run['model']}): 'curve' must be a list of objects with 'epoch'")
        xs = [c["epoch"] for c in curve]
        name = f"{run['model']} seed {run.get('seed')}"
        loss.append((run["model"], name, [float(c["train_loss"]) for c in curve], xs))
        if all("val_acc_mask" in c for c in curve):
            acc.append((run["model"], name, [100 * float(c["val_acc_mask"]) for c in curve], xs))
    out = []
    if acc:
        out.append(Curve("LLaDA validation IB-ACC[MASK] per epoch, % (one line per seed)", art,
                         _line_figure(acc, "validation IB-ACC[MASK] %"),
                         caption="Validation = 10% of the training users (not the held-out test users); "
                                 "each run keeps the weights of its best validation epoch (early stopping)."))
    if loss:
        out.append(Curve("LLaDA training loss per epoch (one line per seed)", art, _line_figure(loss, "training loss"),
                         caption="The losses differ in kind (InfoNCE, 1 - cos, Euclidean distance), so compare "
                                 "a model's seeds, not the models."))
    if not out:
        out.append(Curve("LLaDA training", art, skipped=f"{art.name()} records no per-epoch curve "
                                                        "(produced before curves were saved)"))
    if store.exists(dataset, cat.SASREC_METRICS):
        out.extend(_sasrec_curve(store, dataset, table))
    return out


# The stage artifacts that hold a table's learning curves, and why the others have none.
CURVE_SOURCES: dict[str, Callable] = {
    cat.TABLE3_ABLATION.key: _ranking_curves, cat.TABLE4_REPRESENTATION.key: _ranking_curves,
    cat.TABLE5.key: _table5_curves, cat.TABLE6.key: _table6_curves, cat.SID_TABLE.key: _sid_curves,
}
_CURVE_INPUTS = {cat.TABLE3_ABLATION.key: cat.RANKING_RUNS, cat.TABLE4_REPRESENTATION.key: cat.RANKING_RUNS,
                 cat.TABLE5.key: cat.TABLE5_RUNS, cat.TABLE6.key: cat.TABLE6_RUNS}
NO_CURVE_REASONS = {
    cat.TABLE1_HR.key: "no training: retrieval with a frozen pre-trained encoder",
    cat.TABLE2_SMHR.key: "no training: retrieval with a frozen pre-trained encoder",
    cat.GROUNDING_TABLE.key: "no training: knowledge generated by a pre-trained LLM",
}


def learning_curves(store: ArtifactStore, dataset: str, table: ResultTable) -> list[Curve]:
    """The curves the table's stage saved; a Curve with `skipped` set where there are none, saying why."""
    fn = CURVE_SOURCES.get(table.name)
    if fn is None:
        reason = NO_CURVE_REASONS.get(table.name, "the stage that writes this table saves no per-epoch history")
        return [Curve("Learning curves", cat.get(table.name), skipped=reason)]
    need = _CURVE_INPUTS.get(table.name)
    if need is not None and not store.exists(dataset, need):
        return [Curve("Learning curves", need,
                      skipped=f"{need.name()} not produced: run `{need.producing_command(dataset)}`")]
    return fn(store, dataset, table)


# ---- knowledge coverage --------------------------------------------------------------------------------
def _share(part: int, whole: int) -> str:
    share = part / whole if whole else 0.0
    return "<0.1%" if 0 < share < 0.001 else f"{share:.1%}"   # a few items must not read as none


def knowledge_coverage(store: ArtifactStore, dataset: str) -> tuple[str, list[Artifact]]:
    """(one sentence on how many items have knowledge, the artifacts it was read from)."""
    card_items = None
    if store.exists(dataset, cat.DATASET_CARD):
        card_items = store.read(dataset, cat.DATASET_CARD)["counts"].get("items")
    if store.exists(dataset, cat.KNOWLEDGE_VECTORS) and store.exists(dataset, cat.TITLE_VECTORS):
        from .representation.item_space import load_item_space
        cov = load_item_space(dataset, "knowledge", store).coverage()
        return (f"knowledge vectors for {cov['knowledge']} of {cov['items']} items "
                f"({_share(cov['knowledge'], cov['items'])}); {cov['rule']}.",
                [cat.KNOWLEDGE_VECTORS, cat.TITLE_VECTORS])
    if store.exists(dataset, cat.KNOWLEDGE_SUMMARY):
        # items per setup, summed over the primary categories (each item has one; `reaseq status` reads the same)
        per_setup: dict[str, int] = {}
        for category, setups in store.read(dataset, cat.KNOWLEDGE_SUMMARY)["categories"].items():
            for setup, f in setups.items():
                if "items_ok" not in f:
                    raise ArtifactShapeError(f"{store.path(dataset, cat.KNOWLEDGE_SUMMARY)}, categories."
                                             f"{category}.{setup}: 'items_ok' is missing")
                per_setup[setup] = per_setup.get(setup, 0) + int(f["items_ok"])
        parts = [f"{setup.replace('_', '-')}: {ok} items" + (f" ({_share(ok, card_items)})" if card_items else "")
                 for setup, ok in sorted(per_setup.items())]
        of = f", of {card_items} items in the catalogue" if card_items else ""
        unknown = "" if card_items else \
            f" (catalogue size unknown: run `{cat.DATASET_CARD.producing_command(dataset)}`)"
        text = (f"items with knowledge{of}: {'; '.join(parts)}{unknown}; knowledge vectors are not in this store."
                if parts else "no knowledge yet.")
        return text, [cat.KNOWLEDGE_SUMMARY] + ([cat.DATASET_CARD] if card_items else [])
    return (f"no knowledge yet (run `{cat.ITEM_KNOWLEDGE.producing_command(dataset)}`).", [])


# ---- provenance ----------------------------------------------------------------------------------------
_STANDARD_PROV = ("artifact", "stage", "dataset", "created", "code_version", "dataset_hash", "seeds", "run")


def config_digest(prov: dict) -> tuple[str, list[str]]:
    """(12-hex digest, keys digested): a hash of everything the stage recorded beyond the standard fields
    (its configuration, model settings, inputs), so two artifacts made the same way share a digest."""
    rest = {k: v for k, v in prov.items() if k not in _STANDARD_PROV}
    if not rest:
        return "none recorded", []
    blob = json.dumps(rest, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:12], sorted(rest)


# ---- HTML -----------------------------------------------------------------------------------------------
def _e(text) -> str:
    return html.escape(str(text))


def _html_table(header: list[str], rows: list[list[str]], numeric: list[bool] | None = None) -> str:
    numeric = numeric or [False] * len(header)
    # long snake_case headers may break after an underscore, so wide tables need less scrolling
    head = "".join(f"<th>{_e(h).replace('_', '_<wbr>')}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="{"num" if n else "txt"}">{_e(v)}</td>'
                                    for v, n in zip(r, numeric)) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _result_table_html(table: ResultTable) -> str:
    df = table.to_frame()
    shown = table.display_frame(all_text=True)
    numeric = [c in df.columns and pd.api.types.is_numeric_dtype(df[c]) for c in shown.columns]
    return _html_table(list(shown.columns), shown.values.tolist(), numeric)


def _as_printed(v) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else str(v)


def _reference_html(ref) -> str:
    """The paper's figures in whichever shape the table stores them: {columns, rows: [[...]]},
    {columns, name: [values]}, {name: {field: value}}, or {rows: [{...}]}; anything else as JSON."""
    if not isinstance(ref, dict):
        return f"<pre>{_e(json.dumps(ref, indent=2, default=str))}</pre>"
    cols, rest = ref.get("columns"), {k: v for k, v in ref.items() if k != "columns"}
    out = ""
    if isinstance(cols, list) and isinstance(rest.get("rows"), list) and \
            all(isinstance(r, list) for r in rest["rows"]):
        out = _html_table([str(c) for c in cols], [[_as_printed(v) for v in r] for r in rest["rows"]])
        rest.pop("rows")
    elif isinstance(rest.get("rows"), list) and all(isinstance(r, dict) for r in rest["rows"]):
        frame = pd.DataFrame(rest.pop("rows"))
        out = _html_table(list(map(str, frame.columns)),
                          [[_as_printed(v) for v in r] for r in frame.values.tolist()])
    elif isinstance(cols, list):
        named = {k: v for k, v in rest.items() if isinstance(v, list) and len(v) == len(cols)}
        if named:
            out = _html_table(["row"] + [str(c) for c in cols],
                              [[k] + [_as_printed(x) for x in v] for k, v in named.items()])
            rest = {k: v for k, v in rest.items() if k not in named}
    else:
        named = {k: v for k, v in rest.items() if isinstance(v, dict)}
        if named:
            fields = list(dict.fromkeys(f for v in named.values() for f in v))
            out = _html_table(["row"] + fields,
                              [[k] + [_as_printed(v.get(f)) for f in fields] for k, v in named.items()])
            rest = {k: v for k, v in rest.items() if k not in named}
    if rest:
        out += f"<pre>{_e(json.dumps(rest, indent=2, default=str))}</pre>"
    return out


def _figure_html(fig) -> str:
    import plotly.io as pio
    # a fixed template: the default differs inside Streamlit, and the page must offer the same file as the CLI
    fig.update_layout(template="plotly_white")
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, default_width="100%",
                       config={"displaylogo": False, "responsive": True})


def _provenance_html(store: ArtifactStore, dataset: str, arts: list[Artifact]) -> str:
    rows, details = [], []
    for art in {a.key: a for a in arts}.values():   # each artifact once, in order
        if not store.exists(dataset, art):
            continue
        prov = store.provenance(dataset, art)
        if not prov:
            rows.append([f"{art.stage}/{art.name()}", "no provenance recorded", "", "", "", ""])
            continue
        digest, keys = config_digest(prov)
        seeds = prov.get("seeds")
        rows.append([f"{art.stage}/{art.name()}", prov.get("created", "not recorded"),
                     prov.get("code_version", "not recorded"), prov.get("dataset_hash", "not recorded"),
                     ", ".join(map(str, seeds)) if seeds else ("none" if seeds == [] else "not recorded"),
                     digest + (f" (of {', '.join(keys)})" if keys else "")])
        details.append(f"<details><summary>{_e(art.stage)}/{_e(art.name())}: full provenance</summary>"
                       f"<pre>{_e(json.dumps(prov, indent=2, default=str))}</pre></details>")
    if not rows:
        return "<p>No provenance: none of the artifacts exists.</p>"
    return _html_table(["artifact", "created", "code version", "dataset hash", "seeds", "config digest"],
                       rows) + "".join(details)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:0 24px 48px;
color:#1d2330;line-height:1.45}
h1{margin-bottom:4px} h2{border-top:2px solid #d9dee8;padding-top:18px;margin-top:40px} h3{margin-bottom:6px}
.meta{color:#4a5263} .scroll{overflow-x:auto;margin:8px 0 12px} table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d9dee8;padding:4px 8px;vertical-align:top} th{background:#f2f4f8;text-align:left} td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.txt{min-width:8em;max-width:28em} .warn{background:#fff4e0;border-left:4px solid #e8a317;padding:8px 12px;margin:10px 0}
.skip{color:#6b7385;font-style:italic} pre{background:#f6f7f9;padding:8px;overflow-x:auto;font-size:12px}
ul.dev li{margin-bottom:3px} nav li{margin:2px 0} details{margin:4px 0}
"""


def _table_section(store: ArtifactStore, dataset: str, art: Artifact, table: ResultTable) -> str:
    e = _e
    parts = [f'<h2 id="{e(art.key)}">{e(table.title)}</h2>',
             f'<p class="meta">catalogue key <code>{e(art.key)}</code> · stage {e(art.stage)} · '
             f'dataset {e(table.dataset)} (hash <code>{e(table.dataset_hash)}</code>)</p>']
    if table.not_a_result:
        parts.append('<div class="warn"><b>Not a result.</b> This table comes from a smoke configuration; '
                     'see its deviations and notes.</div>')
    parts.append(_result_table_html(table))
    df = table.to_frame()
    metric = default_metric(df)
    if metric:
        chart_df, label_col = label_frame(df)
        std = " (error bars: ± std over seeds)" if f"{metric}_std" in df.columns else ""
        parts.append(_figure_html(result_chart(chart_df, label_col, metric, f"{metric}{std}")))
    else:
        parts.append('<p class="skip">No chart: the table has no numeric column.</p>')
    parts.append(f"<p><b>Protocol.</b> {e(table.protocol)}</p><p><b>Split.</b> {e(table.split)}</p>"
                 f"<p><b>Seeds.</b> {e(table.seeds_text)}</p>")
    dev = "".join(f"<li>{e(d)}</li>" for d in table.deviations) or "<li>none stated</li>"
    parts.append(f'<h3>Deviations from the paper</h3><ul class="dev">{dev}</ul>')
    parts.append(f"<h3>Notes</h3><p>{e(table.notes)}</p>" if table.notes else
                 '<h3>Notes</h3><p class="skip">none</p>')
    if table.paper_reference:
        parts.append("<h3>The paper's own figures</h3>" + _reference_html(table.paper_reference))
    parts.append("<h3>Learning curves</h3>")
    curves = learning_curves(store, dataset, table)
    used = [art]
    for c in curves:
        if c.figure is None:
            parts.append(f'<p class="skip">{e(c.title)}: none shown ({e(c.skipped)}).</p>')
            continue
        used.append(c.source)
        parts.append(f"<p><b>{e(c.title)}</b> <span class='meta'>from {e(c.source.stage)}/"
                     f"{e(c.source.name())}</span></p>" + _figure_html(c.figure) +
                     (f'<p class="meta">{e(c.caption)}</p>' if c.caption else ""))
    parts.append("<h3>Provenance</h3>" + _provenance_html(store, dataset, used))
    return f'<section class="table">{"".join(parts)}</section>'


def resolve_tables(store: ArtifactStore, dataset: str, keys: list[str] | None = None) -> list[Artifact]:
    """The result tables to report: the named catalogue keys (an unknown key is an error listing the known
    ones), or every result table of the dataset's full run."""
    known = {a.key: a for a in cat.RESULT_TABLES}
    if keys:
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise ReaSeqError(f"unknown result table {', '.join(map(repr, unknown))}; known result tables: "
                              f"{', '.join(known)}")
        return [known[k] for k in dict.fromkeys(keys)]
    arts = list_tables(store, dataset)
    if not arts:
        cmds = ", ".join(f"`{c}`" for c in dict.fromkeys(a.producing_command(dataset) for a in cat.RESULT_TABLES))
        raise ReaSeqError(f"no result table is stored for dataset '{dataset}' in {store.root}; they are produced "
                          f"by {cmds}")
    return arts


def build_report(store: ArtifactStore, dataset: str, keys: list[str] | None = None) -> str:
    """The report as the text of one self-contained HTML file (see the module docstring)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ReaSeqError("plotly is not installed: pip install -e '.[app]'") from None
    arts = resolve_tables(store, dataset, keys)
    tables = [(a, read_table(store, dataset, a)) for a in arts]   # MissingArtifact names a missing one's command
    card_hash = store.read(dataset, cat.DATASET_CARD)["content_hash"] if store.exists(dataset, cat.DATASET_CARD) \
        else None
    hashes = sorted({t.dataset_hash for _, t in tables})
    coverage, cov_arts = knowledge_coverage(store, dataset)
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    e = _e
    head = [f"<h1>ReaSeq results: {e(dataset)}</h1>",
            f'<p class="meta">dataset <b>{e(dataset)}</b> · content hash <code>'
            f'{e(card_hash or ", ".join(hashes))}</code>'
            f"{'' if card_hash else ' (from the tables; the dataset card is not in this store)'}"
            f" · generated {e(now)} · code version <code>{e(code_version())}</code></p>",
            f"<p><b>Knowledge coverage.</b> {e(coverage)}</p>"]
    stale = [t.title for _, t in tables if card_hash and t.dataset_hash != card_hash]
    if stale:
        head.append(f'<div class="warn"><b>Made on another version of the dataset</b> (hash differs from '
                    f'{e(card_hash)}): {e("; ".join(stale))}</div>')
    smoke = [t.title for _, t in tables if t.not_a_result]
    if smoke:
        head.append(f'<div class="warn"><b>Not results</b> (smoke configurations): {e("; ".join(smoke))}</div>')
    toc = "".join(f'<li><a href="#{e(a.key)}">{e(t.title)}</a></li>' for a, t in tables)
    head.append(f"<nav><ul>{toc}</ul></nav>")
    if cov_arts:
        head.append("<h3>Provenance of the coverage figures</h3>" + _provenance_html(store, dataset, cov_arts))
    body = "".join(_table_section(store, dataset, a, t) for a, t in tables)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>ReaSeq results: {e(dataset)}</title><style>{_CSS}</style>"
            # plotly.js inlined once: the file opens with no server and no network
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
            + "".join(head) + body + "</body></html>\n")
