"""Template versions and promotion: which template text the build uses for each agent of a dataset.

The shipped templates in `prompts/<agent>.txt` are the default. A version saved from the Prompt lab (or by
`reaseq knowledge promote`) is a text file in the store (catalogue entry `prompt_version`, one file per
agent and sha12) and is never overwritten. Promoting a version makes it the template `reaseq knowledge
build` uses for that dataset: the promotion log (catalogue entry `prompt_promotions`) records who promoted
what when, with the old and the new template's sha256. The old text stays where it was (the shipped file,
or its own version file; a shipped text is also stored as a version when it is replaced), so a promotion
can be undone by promoting the old version back.

Items store the sha256 of the template their knowledge came from (`template_hash`), so the items made
with an older version are known: `reaseq knowledge build --rebuild-template AGENT` regenerates them.
"""
from __future__ import annotations

import datetime as _dt
import getpass

import pandas as pd

from .. import catalogue as cat
from ..errors import ReaSeqError
from ..store import ArtifactStore
from .templates import AGENTS, load_template, load_variant, placeholders, template_hash

# the agent whose template made each setup's knowledge rows (item_knowledge.parquet, column `setup`)
SETUP_OF_AGENT = {"item_knowledge": "multi_agent", "single_agent": "single_agent"}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _check_agent(agent: str) -> None:
    if agent not in AGENTS:
        raise ReaSeqError(f"unknown agent '{agent}'; agents are {', '.join(AGENTS)}")


def save_version(store: ArtifactStore, dataset: str, agent: str, text: str, *, origin: str = "edited") -> str:
    """Store a template text as a version (idempotent: same text, same file); returns its sha12. A template
    whose placeholders differ from the shipped one is refused (the agent could not fill it)."""
    _check_agent(agent)
    want, got = placeholders(load_template(agent)), placeholders(text)
    if want != got:
        raise ReaSeqError(f"template for '{agent}': placeholders {sorted(got)} differ from the expected {sorted(want)}")
    sha = template_hash(text)
    if not store.exists(dataset, cat.PROMPT_VERSION, agent=agent, sha12=sha[:12]):
        store.write(dataset, cat.PROMPT_VERSION, text, {"agent": agent, "template_sha256": sha, "origin": origin},
                    agent=agent, sha12=sha[:12])
    return sha[:12]


def read_version(store: ArtifactStore, dataset: str, agent: str, sha12: str) -> str:
    if not store.exists(dataset, cat.PROMPT_VERSION, agent=agent, sha12=sha12):
        raise ReaSeqError(f"no saved version {sha12} of '{agent}' in dataset '{dataset}' "
                          f"({store.path(dataset, cat.PROMPT_VERSION, agent=agent, sha12=sha12)})")
    return store.read(dataset, cat.PROMPT_VERSION, agent=agent, sha12=sha12)


def versions(store: ArtifactStore, dataset: str, agent: str) -> dict[str, str]:
    """sha12 -> text of every stored version of an agent's template."""
    out = {}
    for a in store.list(dataset, cat.PROMPT_VERSION.stage):
        if a.entry is cat.PROMPT_VERSION and a.path.parent.name == agent:
            out[a.path.stem] = a.path.read_text(encoding="utf-8")
    return out


def promotions(store: ArtifactStore, dataset: str) -> dict:
    """The promotion log: {"active": {agent: sha256}, "history": [record, ...]} (empty when none)."""
    if not store.exists(dataset, cat.PROMPT_PROMOTIONS):
        return {"active": {}, "history": []}
    return store.read(dataset, cat.PROMPT_PROMOTIONS)


def build_template(store: ArtifactStore, dataset: str, agent: str) -> str:
    """The template text `reaseq knowledge build` uses for `agent` on `dataset`: the promoted version, or the
    shipped template when none was promoted."""
    _check_agent(agent)
    sha = promotions(store, dataset)["active"].get(agent)
    if not sha:
        return load_template(agent)
    text = read_version(store, dataset, agent, sha[:12])
    if template_hash(text) != sha:
        raise ReaSeqError(f"{store.path(dataset, cat.PROMPT_VERSION, agent=agent, sha12=sha[:12])}: the text's sha256 "
                          f"{template_hash(text)[:12]}... is not the promoted {sha[:12]}... (the file was edited)")
    return text


def answer_template(store: ArtifactStore, dataset: str, agent: str, fmt: str = "json") -> str:
    """The template a build with Layer-3 answer format `fmt` uses for `agent`. The answer format concerns the
    multi-agent Layer 3 only: for it and a format other than JSON, that format's shipped template
    (templates.load_variant; an unknown format is an error); otherwise build_template (the promoted version,
    else the shipped file)."""
    if fmt == "json" or agent != "item_knowledge":
        return build_template(store, dataset, agent)
    return load_variant(agent, fmt)


def promote(store: ArtifactStore, dataset: str, agent: str, text: str, *, who: str | None = None,
            note: str = "", experiment: str | None = None) -> dict:
    """Make `text` the template the build uses for `agent` on `dataset`; returns the promotion record
    (agent, who, when, old_sha256, new_sha256, note, experiment). The old text is kept as a version."""
    who = (who or "").strip() or getpass.getuser()
    old = build_template(store, dataset, agent)
    old_sha, new_sha = template_hash(old), template_hash(text)
    if old_sha == new_sha:
        raise ReaSeqError(f"'{agent}': version {new_sha[:12]} is already the template the build uses")
    save_version(store, dataset, agent, old, origin="kept at promotion")   # the old text stays readable
    save_version(store, dataset, agent, text, origin="promoted")
    log = promotions(store, dataset)
    rec = {"agent": agent, "who": who, "when": _now(), "old_sha256": old_sha, "new_sha256": new_sha,
           "shipped": new_sha == template_hash(load_template(agent)), "note": note, "experiment": experiment}
    log = {"active": {**log["active"], agent: new_sha}, "history": [*log["history"], rec]}
    if rec["shipped"]:
        log["active"].pop(agent)          # back to the shipped file: no override left
    store.write(dataset, cat.PROMPT_PROMOTIONS, log, {"last_promotion": rec})
    return rec


def stale_items(store: ArtifactStore, dataset: str, agent: str, fmt: str = "json") -> pd.DataFrame:
    """Knowledge rows of the agent's setup whose template_hash is not the hash of the template a build with
    answer format `fmt` uses (rows made with an older version, or with the other answer format): columns
    item_id, primary_category, template_hash, status."""
    if agent not in SETUP_OF_AGENT:
        raise ReaSeqError(f"--rebuild-template works on the item-level agents ({', '.join(SETUP_OF_AGENT)}); "
                          f"for '{agent}' (a taxonomy agent) use --rebuild-taxonomy")
    cols = ["item_id", "primary_category", "template_hash", "status"]
    if not store.exists(dataset, cat.ITEM_KNOWLEDGE):
        return pd.DataFrame(columns=cols)
    df = store.read(dataset, cat.ITEM_KNOWLEDGE)
    current = template_hash(answer_template(store, dataset, agent, fmt))
    rows = df[(df["setup"] == SETUP_OF_AGENT[agent]) & (df["template_hash"].astype(str) != current)]
    return rows[cols].reset_index(drop=True)
