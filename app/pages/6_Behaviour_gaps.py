"""Behaviour gaps: a user's timeline (time on x, category as colour) with the temporal (TD) and category (CD)
discontinuity flags, the model filter and Delta p labels (paper Section 4.1: discontinuity location, Eq. for
Delta p_t and the P_L / P_U partition); filters to find users with many or few gaps."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


variants = sorted(loc["variant"].unique())
c1, c2 = st.columns([1, 3])
variant = c1.radio("Location scheme", variants, horizontal=True, key="variant",
                   help="TD: temporal discontinuity; CD: category discontinuity; TDUCD: their union")
if access.exists(dataset, cat.LOCATION_SUMMARY):
    with ui.needs_artifacts():
        summ = access.read(dataset, cat.LOCATION_SUMMARY)
    block = {"variant": summ["variants"].get(variant), "users": summ["users"], "gaps": summ["gaps"],
             "config": summ["config"]}
    with c2.expander("Location summary ([FILL] ratio and candidates per stage)", expanded=False):
        st.json(block)

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
st.plotly_chart(charts.user_timeline(g, lookup), key="timeline")
st.caption("Segments: grey = no discontinuity; orange = TD/CD candidate the model filter dropped; red, bold = "
           "flagged after the model filter (✔). Δp = p(b_t+1 | history up to t+1) − p(b_t+1 | history up to t) "
           "where computed.")
show = g[["t", "item_from", "item_to", "gap_days", "cat_from", "cat_to", "td", "cd", "model_rank", "flagged",
          "delta_p", "role"]].copy()
show.insert(2, "title_from", show["item_from"].map(lambda i: (lookup.get(i) or {}).get("title")))
show.insert(4, "title_to", show["item_to"].map(lambda i: (lookup.get(i) or {}).get("title")))
st.dataframe(show, hide_index=True, width="stretch")
