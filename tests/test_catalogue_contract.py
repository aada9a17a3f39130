"""The catalogue's contract with the committed store: every committed artifact is a catalogue entry, loads
through the store and has the declared shape; no artifact file name is spelled outside the catalogue."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from reaseq_core import catalogue as cat
from reaseq_core.store import ArtifactStore

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "data" / "artifacts"


def _committed_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "data/artifacts"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    return [p for p in out if not p.endswith(".prov.json")]


def test_every_committed_artifact_is_a_catalogue_entry_with_its_shape():
    files = _committed_files()
    assert len(files) >= 30, "the committed Beauty store is missing"
    store = ArtifactStore(SHIPPED)
    seen = set()
    for rel in files:
        _, _, dataset, stage, *rest = rel.split("/")
        name = "/".join(rest)
        entry = cat.lookup(stage, name)
        assert entry is not None, f"{rel} is not in the catalogue"
        assert entry.committed, f"{rel} is committed but its entry {entry.key} says it is not shipped"
        params = dict(zip(entry.params, re.fullmatch(
            re.escape(entry.filename).replace(r"\{", "{").replace(r"\}", "}").format(
                **{p: "(.+)" for p in entry.params}), name).groups()))
        obj = store.read(dataset, entry, **params)          # checks the declared shape
        assert obj is not None
        if entry.kind == "jsonl":   # an append-only log: every record carries its own provenance
            assert all(isinstance(r, dict) for r in obj), f"{rel}: a line is not a JSON object"
        else:
            prov = store.provenance(dataset, entry, **params)
            assert prov.get("stage") == stage, f"{rel}: provenance sidecar missing or wrong"
        seen.add(entry.key)
    # every entry that says it is shipped is shipped
    assert {a.key for a in cat.CATALOGUE.values() if a.committed} <= seen


def test_no_artifact_file_name_outside_the_catalogue():
    names = {a.filename for a in cat.CATALOGUE.values() if not a.params}
    stems = {a.filename.split("{")[0] for a in cat.CATALOGUE.values() if a.params}
    roots = ["reaseq_core", "app", "notebooks", "bench"]
    offenders = []
    for root in roots:
        for p in (REPO / root).rglob("*.py"):
            if p.name == "catalogue.py":
                continue
            text = p.read_text(encoding="utf-8")
            for n in names:
                if re.search(r"['\"/]" + re.escape(n) + r"['\"]", text):
                    offenders.append(f"{p.relative_to(REPO)}: {n}")
            for s in stems:
                if re.search(r"['\"]" + re.escape(s) + r"\{", text):   # an f-string spelling the pattern
                    offenders.append(f"{p.relative_to(REPO)}: {s}...")
    assert not offenders, "artifact file names spelled outside reaseq_core/catalogue.py:\n" + "\n".join(offenders)


@pytest.mark.parametrize("entry", list(cat.CATALOGUE.values()), ids=lambda a: a.key)
def test_entries_name_a_real_command(entry):
    from reaseq_core.cli import build_parser
    cmd = entry.producing_command("beauty")
    if cmd.startswith("python "):
        assert (REPO / cmd.split()[1]).is_file(), f"{entry.key}: {cmd} names a script that does not exist"
    else:
        assert cmd.startswith("reaseq "), f"{entry.key}: {cmd!r} is not a command"
        args = ["Fragrance" if a == "CATEGORY" else a for a in cmd.split()[1:]]
        build_parser().parse_args(args)   # exits (SystemExit) on an unknown command or flag
