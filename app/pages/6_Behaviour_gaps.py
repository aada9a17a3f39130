"""Behaviour gaps: a user's timeline (time on x, category as colour) with the temporal (TD) and category (CD)
discontinuity flags, the model filter and Delta p labels (paper Section 4.1: discontinuity location, Eq. for
Delta p_t and the P_L / P_U partition); filters to find users with many or few gaps."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools  # noqa: E402

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, charts, ui  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402

# The timeline draws items at their time, coloured by category: columns beyond the declared ones.
TIMELINE_COLUMNS = ("ts_from", "ts_to", "cat_from", "cat_to")

dataset = ui.page("Behaviour gaps", "🕳️")
with ui.needs_artifacts():
    loc = access.read(dataset, cat.LOCATION, need=TIMELINE_COLUMNS)
lookup = access.item_lookup(dataset)


@st.cache_data(show_spinner=False, max_entries=8)
def per_user(root: str, dataset: str, stamp: int, variant: str) -> pd.DataFrame:
    d = loc[loc["variant"] == variant]
    return (d.groupby("user_id")
            .agg(events=("t", lambda t: int(t.max()) + 2), td=("td", "sum"), cd=("cd", "sum"),
                 flagged=("flagged", "sum"), P_L=("role", lambda r: int((r == "P_L").sum())),
                 P_U=("role", lambda r: int((r == "P_U").sum())))
            .reset_index())


# The location summary's figures per scheme, as (column, key in the summary, format)
SUMMARY_COLUMNS = (("gaps", "gaps", "{:,}"), ("after the rule", "after_rule", "{:,}"),
                   ("rule share", "rule_share", "{:.1%}"), ("after the model filter", "after_model", "{:,}"),
                   ("kept of the rule's", "model_keeps_share_of_rule", "{:.1%}"),
                   ("after a Swing filter", "after_model_swing", "{:,}"), ("[FILL] ratio", "fill_ratio", "{:.1%}"),
                   ("users with a [FILL]", "users_with_fill", "{:,}"), ("P_L positions", "p_l_positions", "{:,}"),
                   ("P_L share of items", "p_l_share_of_items", "{:.1%}"))


def summary_table(summ: dict) -> pd.DataFrame:
    """One row per location scheme with the candidates left after each stage and the [FILL] ratio."""
    rows = []
    for name, v in summ.get("variants", {}).items():
        row = {"scheme": name}
        for col, key, fmt in SUMMARY_COLUMNS:
            val = v.get(key)
            row[col] = fmt.format(val) if isinstance(val, (int, float)) else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def declutter(fig, width_px: int = 1300, char_px: float = 6.5):
    """Give each gap label a row of its own where it would overlap another: labels are placed left to right
    on the first row (alternating above / below the line, then further out) whose last label ends before this
    one starts, widths estimated from the text at the chart's font size. Returns the number of rows used."""
    anns = list(fig.layout.annotations or ())
    xs = [x for tr in fig.data for x in (tr.x if tr.x is not None else ())]
    if not anns or not xs:
        return 0
    stamps = pd.to_datetime(pd.Series(xs))
    span = max(1, (stamps.max() - stamps.min()).value)
    ns_per_px = span / (0.92 * width_px)
    ends: dict[int, float] = {}
    placed = sorted(((pd.Timestamp(a.x).value, a) for a in anns), key=lambda p: p[0])
    for x, a in placed:
        half = (len(str(a.text)) * char_px / 2 + 6) * ns_per_px
        level = next(k for k in itertools.count() if ends.get(k, -float("inf")) < x - half)
        ends[level] = x + half
        a.y = (1 if level % 2 == 0 else -1) * (0.12 + 0.1 * (level // 2))
    rows = max(ends) + 1
    reach = 0.12 + 0.1 * ((rows - 1) // 2) + 0.1
    fig.update_layout(annotations=[a for _, a in placed], yaxis=dict(range=[-max(0.4, reach), max(0.4, reach)]),
                      height=int(360 + 40 * max(0, (rows - 2) // 2 * 2)))
    return rows


variants = sorted(loc["variant"].unique())
c1 = st.columns([1, 3])[0]
variant = c1.radio("Location scheme", variants, horizontal=True, key="variant",
                   help="TD: temporal discontinuity; CD: category discontinuity; TDUCD: their union")
if access.exists(dataset, cat.LOCATION_SUMMARY):
    with ui.needs_artifacts():
        summ = access.read(dataset, cat.LOCATION_SUMMARY)
    with st.expander("Location summary: candidates per stage and the [FILL] ratio, per scheme", expanded=True):
        table = summary_table(summ)
        st.dataframe(table.style.apply(lambda r: ["font-weight: bold" if r["scheme"] == variant else ""] * len(r),
                                       axis=1), hide_index=True, width="stretch", key="location_summary")
        users_info, conf = summ.get("users", {}), summ.get("config", {})
        parts = [f"{summ['gaps']:,} gaps between consecutive items" if summ.get("gaps") is not None else None,
                 f"{users_info['users']:,} users" if users_info.get("users") else None,
                 users_info.get("rule"),
                 f"a gap is temporal (TD) above {conf['tau_time_days']} days, categorical (CD) when the primary "
                 "category changes" if conf.get("tau_time_days") is not None else None,
                 f"the model filter keeps a candidate when SASRec ranks the next item worse than "
                 f"{conf['rank_threshold']} (the model did not see it coming)"
                 if conf.get("rank_threshold") is not None else None,
                 f"[FILL] ratio: {summ['fill_ratio_definition']}" if summ.get("fill_ratio_definition") else None]
        st.caption(" · ".join(p for p in parts if p))

stamp = access.store().require(dataset, cat.LOCATION).stat().st_mtime_ns
users = per_user(str(access.store().root), dataset, stamp, variant)
lo, hi = int(users["flagged"].min()), int(users["flagged"].max())
f1, f2, f3 = st.columns([2, 1, 2])
rng = f1.slider("Flagged gaps per user (after the model filter)", lo, max(hi, lo + 1), (lo, max(hi, lo + 1)),
                key="range")
order = f2.radio("Order", ["many gaps first", "few gaps first"], key="order")
sel = users[(users["flagged"] >= rng[0]) & (users["flagged"] <= rng[1])]
sel = sel.sort_values(["flagged", "events"], ascending=order == "few gaps first")
f3.caption(f"{len(sel):,} of {len(users):,} users in range · mean {users['flagged'].mean():.2f} flagged gaps per user")
if sel.empty:
    st.info("No user in this range.")
    st.stop()
flagged_of = dict(zip(sel["user_id"], sel["flagged"]))  # one lookup table, not a re-index per option
user = f3.selectbox("User", sel["user_id"].tolist()[:2000], key="user",
                    format_func=lambda u: f"{u} ({int(flagged_of[u])} flagged)")

g = loc[(loc["variant"] == variant) & (loc["user_id"] == user)].sort_values("t")
row = users.set_index("user_id").loc[user]
m = st.columns(6)
for col, (k, v) in zip(m, [("events", row["events"]), ("TD gaps", row["td"]), ("CD gaps", row["cd"]),
                           ("flagged", row["flagged"]), ("P_L (labelled)", row["P_L"]),
                           ("P_U (to fill)", row["P_U"])]):
    col.metric(k, int(v))
timeline = charts.user_timeline(g, lookup)
label_rows = declutter(timeline)
st.plotly_chart(timeline, key="timeline")
st.caption("Segments: grey = no discontinuity; orange = TD/CD candidate the model filter dropped; red, bold = "
           "flagged after the model filter (✔). Δp = p(b_t+1 | history up to t+1) − p(b_t+1 | history up to t) "
           "where computed." + (f" Labels that would overlap are set on {label_rows} rows above and below the line."
                                          if label_rows > 2 else ""))
show = g[["t", "item_from", "item_to", "gap_days", "cat_from", "cat_to", "td", "cd", "model_rank", "flagged",
          "delta_p", "role"]].copy()
show.insert(2, "title_from", show["item_from"].map(lambda i: (lookup.get(i) or {}).get("title")))
show.insert(4, "title_to", show["item_to"].map(lambda i: (lookup.get(i) or {}).get("title")))
st.dataframe(show, hide_index=True, width="stretch")
