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

from .config import REPO_ROOT, artifact_root
from .errors import MissingArtifact

STAGES = ("data", "knowledge", "representation", "semantic_ids", "ranking", "gbr", "bench")

# The command that produces each stage's artifacts, shown whenever one is missing.
STAGE_COMMANDS = {
    "data": "reaseq data ingest --dataset {dataset}",
    "knowledge": "reaseq knowledge build --dataset {dataset}",
    "representation": "reaseq represent build --dataset {dataset}",
    "semantic_ids": "reaseq sid build --dataset {dataset}",
    "ranking": "reaseq rank ablation --dataset {dataset}",
    "gbr": "reaseq gbr run --dataset {dataset}",
    "bench": "python bench/run_all.py",
}


def code_version() -> str:
    """Git commit of the working tree (with '+dirty' when it has local changes), else 'unknown'."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=5).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
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

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.is_file() else sum(
            p.stat().st_size for p in self.path.rglob("*") if p.is_file())


class ArtifactStore:
    """Reads and writes every stage's artifacts under one root, with provenance."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = artifact_root(root)

    # ---- locations -------------------------------------------------------------------------
    def path(self, dataset: str, stage: str, name: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage '{stage}'; stages are {', '.join(STAGES)}")
        return self.root / dataset / stage / name

    def stage_dir(self, dataset: str, stage: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        return self.root / dataset / stage

    @staticmethod
    def _prov_path(path: Path) -> Path:
        return path.with_name(path.name + ".prov.json")

    def exists(self, dataset: str, stage: str, name: str) -> bool:
        return self.path(dataset, stage, name).exists()

    def require(self, dataset: str, stage: str, name: str) -> Path:
        """Path of an existing artifact, or MissingArtifact naming the command that makes it."""
        p = self.path(dataset, stage, name)
        if not p.exists():
            raise MissingArtifact(f"{stage} artifact '{name}' for dataset '{dataset}'",
                                  STAGE_COMMANDS[stage].format(dataset=dataset))
        return p

    # ---- provenance ------------------------------------------------------------------------
    def make_provenance(self, dataset: str, stage: str, name: str, provenance: dict | None) -> dict:
        prov = {"artifact": name, "stage": stage, "dataset": dataset, "created": _now(),
                "code_version": code_version()}
        card = self.root / dataset / "data" / "dataset_card.json"
        if stage != "data" and card.exists():
            with contextlib.suppress(Exception):
                prov["dataset_hash"] = json.loads(card.read_text())["content_hash"]
        prov.update(provenance or {})
        return prov

    def provenance(self, dataset: str, stage: str, name: str) -> dict:
        p = self._prov_path(self.path(dataset, stage, name))
        if not p.exists():
            return {}
        return json.loads(p.read_text(encoding="utf-8"))

    def _write_prov(self, dataset, stage, name, provenance) -> None:
        write_json_atomic(self._prov_path(self.path(dataset, stage, name)),
                          self.make_provenance(dataset, stage, name, provenance))

    # ---- typed writers / readers ------------------------------------------------------------
    def write_json(self, dataset: str, stage: str, name: str, obj: Any, provenance: dict | None = None) -> Path:
        p = self.path(dataset, stage, name)
        write_json_atomic(p, obj)
        self._write_prov(dataset, stage, name, provenance)
        return p

    def read_json(self, dataset: str, stage: str, name: str) -> Any:
        return json.loads(self.require(dataset, stage, name).read_text(encoding="utf-8"))

    def write_parquet(self, dataset: str, stage: str, name: str, df, provenance: dict | None = None) -> Path:
        p = self.path(dataset, stage, name)
        with atomic_path(p) as tmp:
            df.to_parquet(tmp, index=False)
        self._write_prov(dataset, stage, name, provenance)
        return p

    def read_parquet(self, dataset: str, stage: str, name: str, **kw):
        import pandas as pd
        return pd.read_parquet(self.require(dataset, stage, name), **kw)

    def write_numpy(self, dataset: str, stage: str, name: str, arrays: dict, provenance: dict | None = None) -> Path:
        """Several named arrays in one .npz file."""
        import numpy as np
        p = self.path(dataset, stage, name)
        with atomic_path(p) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        self._write_prov(dataset, stage, name, provenance)
        return p

    def read_numpy(self, dataset: str, stage: str, name: str) -> dict:
        import numpy as np
        with np.load(self.require(dataset, stage, name), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def write_torch(self, dataset: str, stage: str, name: str, obj: Any, provenance: dict | None = None) -> Path:
        import torch
        p = self.path(dataset, stage, name)
        with atomic_path(p) as tmp:
            torch.save(obj, tmp)
        self._write_prov(dataset, stage, name, provenance)
        return p

    def read_torch(self, dataset: str, stage: str, name: str) -> Any:
        import torch
        return torch.load(self.require(dataset, stage, name), map_location="cpu", weights_only=False)

    def write_text(self, dataset: str, stage: str, name: str, text: str, provenance: dict | None = None) -> Path:
        p = self.path(dataset, stage, name)
        with atomic_write(p, "w") as fh:
            fh.write(text)
        self._write_prov(dataset, stage, name, provenance)
        return p

    # ---- listing ---------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def list(self, dataset: str | None = None, stage: str | None = None) -> list[ArtifactInfo]:
        out = []
        for ds in ([dataset] if dataset else self.datasets()):
            for st in ([stage] if stage else STAGES):
                d = self.root / ds / st
                if not d.is_dir():
                    continue
                for p in sorted(d.iterdir()):
                    if p.name.startswith(".") or p.name.endswith(".prov.json"):
                        continue
                    out.append(ArtifactInfo(ds, st, p.name, p, self.provenance(ds, st, p.name)))
        return out
