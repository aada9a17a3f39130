"""The verdict box: a reviewer's verdict (good / wrong / unsure) on the case a page shows, and the verdicts
already given on it, marked "outdated" where the case has been regenerated since (reaseq_core/review.py).

Verdicts are saved in the store the app reads (the app's --home / $REASEQ_HOME). The reviewer's name is
remembered for the session, across pages."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from reaseq_core import review
from reaseq_core.errors import ReaSeqError

from . import access

REVIEWER = "reviewer_name"          # session memory of the name (widget state is dropped on a page switch)
REVIEWER_WIDGET = "review:reviewer"
LABELS = {"good": "✅ good", "wrong": "❌ wrong", "unsure": "❔ unsure"}


def key(case_kind: str, case_id: str, field: str) -> str:
    """Widget key of one field of a case's box (per case, so a choice never carries over to another case)."""
    return f"review:{case_kind}:{case_id}:{field}"


def _remember_reviewer() -> None:
    st.session_state[REVIEWER] = st.session_state[REVIEWER_WIDGET].strip()


def verdict_box(dataset: str, case_kind: str, case_id: str, reviewed_provenance: dict) -> None:
    """Radio good/wrong/unsure, a note, the reviewer's name and Save; below, every verdict on this case."""
    case_id = str(case_id)
    store = access.store()
    with st.container(border=True):
        st.markdown(f"##### Verdict on this case · {case_kind} `{case_id}`")
        c1, c2, c3 = st.columns([1.2, 3, 1.5])
        verdict = c1.radio("Verdict", review.VERDICTS, index=None, format_func=LABELS.get,
                           key=key(case_kind, case_id, "verdict"))
        note = c2.text_area("Note", key=key(case_kind, case_id, "note"), height=80,
                            placeholder="what is right or wrong about it (optional)")
        if REVIEWER_WIDGET not in st.session_state:   # a page switch dropped the widget: restore the name
            st.session_state[REVIEWER_WIDGET] = st.session_state.get(REVIEWER, "")
        reviewer = c3.text_input("Reviewer", key=REVIEWER_WIDGET, on_change=_remember_reviewer,
                                 placeholder="your name")
        if c3.button("Save verdict", key=key(case_kind, case_id, "save"), type="primary"):
            if not verdict or not reviewer.strip():
                st.warning("Choose a verdict and give your name to save it.")
            else:
                try:
                    review.save_verdict(store, dataset, case_kind, case_id, verdict, reviewer,
                                        reviewed_provenance, note)
                except review.ReviewError as e:
                    st.warning(str(e))
                else:
                    st.session_state[REVIEWER] = reviewer.strip()
                    st.success(f"Saved: {reviewer.strip()} judged this case **{verdict}**.")
        try:
            mine = review.case_verdicts(store, dataset, case_kind, case_id)
        except ReaSeqError as e:   # the stored verdict table lacks its shape: the page cannot show it
            st.error(str(e))
            return
        if mine.empty:
            st.caption("No verdict on this case yet.")
            return
        mine = mine.assign(state=[review.state(r, reviewed_provenance) for r in mine.to_dict("records")])
        shown = pd.DataFrame({
            "reviewer": mine["reviewer"], "verdict": mine["verdict"].map(LABELS.get), "note": mine["note"],
            "saved": mine["timestamp"],
            "state": mine["state"].map(lambda s: "⚠ outdated: regenerated since" if s == review.OUTDATED else s)})
        st.dataframe(shown, hide_index=True, width="stretch", key=key(case_kind, case_id, "existing"))
        if mine["reviewer"].nunique() >= 2:
            agree = mine["verdict"].nunique() == 1
            st.caption("Reviewers " + ("agree." if agree else "**disagree** on this case."))
        if (mine["state"] == review.OUTDATED).any():
            st.caption("An outdated verdict judged an earlier version of this case; save a new one to update it.")
