"""Review: every verdict analysts saved on cases (item knowledge, taxonomies, single- vs multi-agent
knowledge, GBR fills), filtered by case kind, verdict, reviewer and state; where two or more reviewers
judged the same case, whether they agree (share of cases, Cohen's kappa per pair); the filtered list as CSV.

A verdict is "outdated" when the case has been regenerated since it was judged (its provenance differs),
"not found" when the case or the artifact holding it no longer exists (reaseq_core/review.py)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from lib import access, ui  # noqa: E402
from lib.review_ui import LABELS  # noqa: E402
from reaseq_core import catalogue as cat  # noqa: E402
from reaseq_core import review  # noqa: E402

# where each kind of case is judged, and what its case id is
WHERE = pd.DataFrame([
    {"case kind": "item_knowledge", "page": "Item knowledge", "case id": "item id",
     "what is judged": "the item's knowledge entries"},
    {"case kind": "taxonomy", "page": "Taxonomies", "case id": "category/subcategory/perspective",
     "what is judged": "a subcategory's demand or attribute taxonomy (Layer 1 + Layer 2)"},
    {"case kind": "single_vs_multi", "page": "Single vs multi agent", "case id": "item id",
     "what is judged": "single- vs multi-agent knowledge of the item, side by side"},
    {"case kind": "gbr_fill", "page": "GBR fills", "case id": "fill id",
     "what is judged": "an inferred [FILL] token and its nearest real items"},
])

dataset = ui.page("Review", "✅")
store = access.store()
with ui.needs_artifacts():
    verdicts = review.read_verdicts(store, dataset)

if verdicts.empty:
    st.info("No verdict has been saved yet. To add one, open one of the pages below, pick a case, choose "
            "**good**, **wrong** or **unsure** in its *Verdict on this case* box, give your name and press "
            f"**Save verdict**. Verdicts are stored in the review stage of the artifact store "
            f"(`{store.path(dataset, cat.VERDICTS)}`).")
    st.dataframe(WHERE, hide_index=True, width="stretch")
    st.stop()

with ui.needs_artifacts():
    verdicts = review.with_states(verdicts, review.current_provenances(store, dataset, verdicts))

f1, f2, f3, f4 = st.columns(4)
kinds = f1.multiselect("Case kind", review.CASE_KINDS, default=sorted(set(verdicts["case_kind"])), key="kinds")
chosen = f2.multiselect("Verdict", review.VERDICTS, default=list(review.VERDICTS), key="verdicts",
                        format_func=LABELS.get)
reviewer = f3.selectbox("Reviewer", ["(all)"] + sorted(set(verdicts["reviewer"])), key="reviewer")
states = f4.multiselect("State", review.STATES, default=list(review.STATES), key="states",
                        help="outdated: the case was regenerated after the verdict; not found: the case is gone")

view = verdicts[verdicts["case_kind"].isin(kinds) & verdicts["verdict"].isin(chosen)
                & verdicts["state"].isin(states)]
if reviewer != "(all)":
    view = view[view["reviewer"] == reviewer]

m1, m2, m3, m4 = st.columns(4)
m1.metric("verdicts shown", f"{len(view):,} of {len(verdicts):,}")
m2.metric("cases", f"{view[['case_kind', 'case_id']].drop_duplicates().shape[0]:,}")
m3.metric("reviewers", f"{view['reviewer'].nunique():,}")
m4.metric("outdated", f"{(view['state'] == review.OUTDATED).sum():,}")

shown = view.assign(verdict=view["verdict"].map(LABELS.get),
                    state=view["state"].map(lambda s: "⚠ outdated" if s == review.OUTDATED else s))
st.dataframe(shown[["case_kind", "case_id", "reviewer", "verdict", "note", "timestamp", "state"]],
             hide_index=True, width="stretch", key="list")
st.download_button("Download CSV", review.to_csv(view), file_name=f"review_{dataset}.csv", mime="text/csv",
                   key="csv", help="the filtered list, with the provenance each verdict recorded")

st.subheader("Agreement")
per_case = review.case_agreement(view)
if per_case.empty:
    st.caption("No case shown here has been judged by two or more reviewers yet.")
else:
    share = review.agreement_share(view)
    st.markdown(f"**{per_case['agree'].sum()} of {len(per_case)}** cases judged by two or more reviewers have "
                f"all reviewers agreeing (**{share:.0%}**).")
    st.dataframe(per_case.assign(agree=per_case["agree"].map({True: "agree", False: "✗ disagree"})),
                 hide_index=True, width="stretch", key="agreement")
    pairs = review.pairwise_kappa(view)
    st.dataframe(pairs.style.format({"agreement": "{:.0%}", "kappa": "{:.2f}"}, na_rep="undefined"),
                 hide_index=True, width="stretch", key="kappa")
    st.caption("Cohen's kappa per pair of reviewers over the cases both judged: agreement beyond what their "
               "own verdict frequencies give by chance (undefined when both gave one and the same verdict "
               "throughout).")

with st.expander("Where verdicts are given"):
    st.dataframe(WHERE, hide_index=True, width="stretch")
