"""The content-addressed call cache, which is also the call log.

Every LLM call is one JSON line appended to the call log (catalogue entry `llm_calls`):
    key, agent, subject, attempt, seed, temperature, prompt_change, backend, model, model_hash, params,
    prompt, response, prompt_tokens, completion_tokens, latency_s, status ("ok" | "invalid" | "error"),
    error, created, and label_guard where the call carried a label constraint
(records written before `seed` / `temperature` / `prompt_change` existed carry them inside `params`, or
not at all). The key is sha256 over (backend, model, model hash, messages, params): the same question to
the same weights is never asked twice, so re-running a stage costs no LLM call and an interrupted run
resumes where it stopped. Records with status "invalid" are reused too (the answer exists; the retry that
follows it has different params, hence its own key); "error" records (a backend that failed on the
request) are logged but not reused. An unreachable endpoint is not logged at all (BackendUnavailable: no
answer was given).

Appends are one write of one line followed by fsync, so a kill loses at most the line being written;
a partial last line is ignored on load and cut off before the next append.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
from pathlib import Path

REUSABLE = {"ok", "invalid"}


def call_key(backend: str, model: str, model_hash: str, messages: list[dict], params: dict) -> str:
    blob = json.dumps({"backend": backend, "model": model, "model_hash": model_hash, "messages": messages,
                       "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


class CallCache:
    """Append-only JSONL call log with an in-memory index key -> latest reusable record."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._index: dict[str, dict] = {}
        self.records_loaded = 0
        self.partial_tail_dropped = False
        self.hits = 0
        self.misses = 0
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        complete_end = data.rfind(b"\n") + 1          # bytes after the last newline are a partial line
        if complete_end < len(data):
            self.partial_tail_dropped = True
            with open(self.path, "r+b") as fh:        # cut it off so the next append starts a clean line
                fh.truncate(complete_end)
        for lineno, raw in enumerate(data[:complete_end].splitlines(), 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as e:
                from ..errors import DataError
                raise DataError(self.path, f"corrupt call-log line ({e.msg})", row=lineno) from None
            self.records_loaded += 1
            if rec.get("status") in REUSABLE:
                self._index[rec["key"]] = rec

    def get(self, key: str) -> dict | None:
        rec = self._index.get(key)
        if rec is None:
            self.misses += 1
        else:
            self.hits += 1
        return rec

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def append(self, record: dict) -> dict:
        record = {**record, "created": record.get("created") or _now()}
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            if record.get("status") in REUSABLE:
                self._index[record["key"]] = record
        return record

    def records(self) -> list[dict]:
        """Every reusable record currently indexed (latest per key)."""
        return list(self._index.values())


def read_call_log(path: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """All records of a call log, newest last (what the app shows); a partial last line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                break          # a write in progress (or killed): CallCache cuts it off on its next open
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError as e:
                from ..errors import DataError
                raise DataError(path, f"corrupt call-log line ({e.msg})", row=lineno) from None
    return out[-limit:] if limit else out
