"""Page chrome shared by every view: page config, the dataset selector, and the missing-artifact message.

Message boxes follow one rule, which the page tests rely on: `st.error` means the page itself could not show
an artifact (it lacks its declared shape, or a page bug); what the artifacts say went wrong (a failed agent, a
failed LLM call) is content and is shown with `st.warning`."""
from __future__ import annotations

import os
from contextlib import contextmanager

import streamlit as st

from reaseq_core import catalogue as cat
from reaseq_core.errors import MissingArtifact, ReaSeqError
from reaseq_core.status import stage_command

from . import access


def page(title: str, icon: str = "🔎") -> str:
    """Configure the page, draw the sidebar dataset selector; returns the chosen dataset (or stops)."""
    st.set_page_config(page_title=f"{title} · ReaSeq workbench", page_icon=icon, layout="wide")
    st.title(title)
    return dataset_selector()


def dataset_selector() -> str:
    """Sidebar selectbox over store.datasets(); the choice survives page switches (kept outside widget state)."""
    datasets = access.store().datasets()
    if not datasets:
        st.warning(f"No dataset in the artifact store at `{access.store().root}`. "
                   f"Run `{cat.DATASET_CARD.producing_command('beauty')}` first.")
        st.stop()
    chosen = st.session_state.get("dataset_choice")
    if chosen not in datasets:
        default = os.environ.get("REASEQ_APP_DATASET", "beauty")  # `reaseq app --dataset` sets it
        chosen = default if default in datasets else datasets[0]
    st.session_state["dataset_choice"] = chosen

    def _keep():
        st.session_state["dataset_choice"] = st.session_state["_dataset_widget"]

    st.sidebar.selectbox("Dataset", datasets, index=datasets.index(chosen), key="_dataset_widget",
                         on_change=_keep, help="every dataset in the artifact store")
    st.sidebar.caption(f"artifact store: `{access.store().root}`")
    return st.session_state["dataset_choice"]


def show_missing(err: MissingArtifact) -> None:
    command = err.command
    dataset = st.session_state.get("dataset_choice")
    if dataset and command == cat.ITEM_KNOWLEDGE.producing_command(dataset):
        # the catalogue's knowledge command holds a placeholder category: name the real next one
        command = stage_command(access.store(), dataset, cat.ITEM_KNOWLEDGE.stage)
    st.info(f"**Not produced yet:** {err.what}.\n\nRun `{command}` to produce it.", icon="⏳")


@contextmanager
def needs_artifacts():
    """Run a block that reads artifacts; a missing one becomes a message naming its command, and the page
    stops there (no traceback). Other user-facing errors are shown as one line."""
    try:
        yield
    except MissingArtifact as e:
        show_missing(e)
        st.stop()
    except ReaSeqError as e:
        st.error(str(e))
        st.stop()


def provenance_caption(prov: dict) -> None:
    if not prov:
        return
    bits = [f"created {prov.get('created', '?')}", f"code {prov.get('code_version', '?')}"]
    if prov.get("dataset_hash"):
        bits.append(f"dataset hash {prov['dataset_hash']}")
    st.caption("Provenance: " + " · ".join(bits))
