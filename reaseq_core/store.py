"""The artifact store: one place that decides where every stage's outputs live.

Layout: <root>/<dataset>/<stage>/<name>, each artifact with a sidecar <name>.prov.json holding its
provenance (dataset hash, config, code version, and whatever the stage adds: prompt-template hashes,
model hashes, seeds). Writes are atomic: data goes to a temporary file in the same folder and is
renamed into place, so a crash never leaves a partial artifact. The app and the notebooks only read
through this module.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .catalogue import DATASET_CARD, SMALL_RUN, STAGES, Artifact, ArtifactShapeError, lookup
from .config import REPO_ROOT, artifact_root
from .errors import MissingArtifact

def code_version() -> str:
    """Git commit of the code (with '+dirty' when tracked code outside data/ has local changes), else 'unknown'."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=5).stdout.strip()
        if not sha:
            return "unknown"
        # only code counts: artifacts and datasets change while a stage runs, which is not a code change
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)data"], cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_UMASK = os.umask(0)
os.umask(_UMASK)


def _publish(tmp: str | Path) -> None:
    """mkstemp makes 0600 files; give artifacts the usual permissions (0666 minus the umask)."""
    os.chmod(tmp, 0o666 & ~_UMASK)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file beside `path`; on success rename it over `path`, on error delete it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path for writers that want a filename (parquet, np.save, torch.save)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _publish(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=False, default=_json_default)
        fh.write("\n")


def _json_default(o: Any) -> Any:
    try:
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


@dataclass(frozen=True)
class ArtifactInfo:
    dataset: str
    stage: str
    name: str
    path: Path
    provenance: dict
    entry: Artifact | None = None      # its catalogue entry (None: a file the catalogue does not know)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.is_file() else sum(
            p.stat().st_size for p in self.path.rglob("*") if p.is_file())


class ArtifactStore:
    """Reads and writes every stage's artifacts under one root, with provenance.

    Every method takes a catalogue entry (`reaseq_core.catalogue`), never a file name; `run` namespaces a
    configuration (`run="small"` -> <stage>/small/<file>), and `**params` fill the entry's file-name pattern.
    Reads and writes check the entry's declared shape.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = artifact_root(root)

    # ---- locations -------------------------------------------------------------------------
    def path(self, dataset: str, art: Artifact, *, run: str | None = None, **params) -> Path:
        rel = art.name(**params)
        return self.root / dataset / art.stage / (f"{run}/{rel}" if run else rel)

    def stage_dir(self, dataset: str, stage: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
        return self.root / dataset / stage

    @staticmethod
    def _prov_path(path: Path) -> Path:
        return path.with_name(path.name + ".prov.json")

    def exists(self, dataset: str, art: Artifact, *, run: str | None = None, **params) -> bool:
        return self.path(dataset, art, run=run, **params).exists()

    def require(self, dataset: str, art: Artifact, *, run: str | None = None, **params) -> Path:
        """Path of an existing artifact, or MissingArtifact naming the command that makes it."""
        p = self.path(dataset, art, run=run, **params)
        if not p.exists():
            cmd = art.producing_command(dataset) + (" --small" if run == SMALL_RUN else "")
            raise MissingArtifact(f"{art.stage} artifact '{p.name}' for dataset '{dataset}'", cmd)
        return p

    # ---- provenance ------------------------------------------------------------------------
    def make_provenance(self, dataset: str, art: Artifact, name: str, provenance: dict | None,
                        run: str | None = None) -> dict:
        prov = {"artifact": name, "stage": art.stage, "dataset": dataset, "created": _now(),
                "code_version": code_version()}
        if run:
            prov["run"] = run
        card = self.path(dataset, DATASET_CARD)
        if art.stage != "data" and card.exists():
            prov["dataset_hash"] = json.loads(card.read_text(encoding="utf-8"))["content_hash"]
        prov.update(provenance or {})
        return prov

    def provenance(self, dataset: str, art: Artifact, *, run: str | None = None, **params) -> dict:
        p = self._prov_path(self.path(dataset, art, run=run, **params))
        if not p.exists():
            return {}
        return json.loads(p.read_text(encoding="utf-8"))

    # ---- typed writers / readers ------------------------------------------------------------
    def write(self, dataset: str, art: Artifact, obj: Any, provenance: dict | None = None, *,
              run: str | None = None, **params) -> Path:
        """Write `obj` as the artifact (DataFrame, JSON value, dict of arrays, torch object or text)."""
        p = self.path(dataset, art, run=run, **params)
        art.check(obj, f"{p} (being written)")
        if art.kind == "json":
            write_json_atomic(p, obj)
        elif art.kind == "parquet":
            with atomic_path(p) as tmp:
                obj.to_parquet(tmp, index=False)
        elif art.kind == "npz":
            import numpy as np
            with atomic_path(p) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **obj)
        elif art.kind == "torch":
            import torch
            with atomic_path(p) as tmp:
                torch.save(obj, tmp)
        elif art.kind == "text":
            with atomic_write(p, "w") as fh:
                fh.write(obj)
        else:
            raise ValueError(f"{art.key}: {art.kind} artifacts are written by their own writer, at store.path()")
        write_json_atomic(self._prov_path(p), self.make_provenance(dataset, art, p.name, provenance, run))
        return p

    def read(self, dataset: str, art: Artifact, *, run: str | None = None, **params) -> Any:
        """The artifact as its kind reads (DataFrame, JSON value, dict of arrays, torch object, text),
        checked against the catalogue's shape."""
        p = self.require(dataset, art, run=run, **params)
        if art.kind == "json":
            obj = json.loads(p.read_text(encoding="utf-8"))
        elif art.kind == "parquet":
            import pandas as pd
            obj = pd.read_parquet(p)
        elif art.kind == "npz":
            import numpy as np
            with np.load(p, allow_pickle=False) as z:
                obj = {k: z[k] for k in z.files}
        elif art.kind == "torch":
            import torch
            obj = torch.load(p, map_location="cpu", weights_only=False)
        elif art.kind == "text":
            obj = p.read_text(encoding="utf-8")
        elif art.kind == "jsonl":
            obj = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        else:
            raise ValueError(f"{art.key}: {art.kind} artifacts are read by their own reader, at store.path()")
        art.check(obj, str(p))
        return obj

    # ---- listing ---------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def list(self, dataset: str | None = None, stage: str | None = None,
             run: str | None = None) -> list[ArtifactInfo]:
        """Every stored artifact of a run (None: the full run), with its catalogue entry (None if unknown)."""
        out = []
        for ds in ([dataset] if dataset else self.datasets()):
            for st in ([stage] if stage else STAGES):
                d = self.root / ds / st / (run or "")
                if not d.is_dir():
                    continue
                for p in sorted(d.rglob("*")):
                    rel = p.relative_to(d).as_posix()
                    if not p.is_file() or p.name.startswith(".") or p.name.endswith(".prov.json"):
                        continue
                    if run is None and rel.split("/")[0] == SMALL_RUN:
                        continue
                    prov_p = self._prov_path(p)
                    prov = json.loads(prov_p.read_text(encoding="utf-8")) if prov_p.exists() else {}
                    out.append(ArtifactInfo(ds, st, rel, p, prov, lookup(st, rel)))
        return out
