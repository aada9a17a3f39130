"""The LLM layer: one interface over an embedded llama.cpp model and any OpenAI-compatible endpoint,
with a content-addressed call cache (the call log) and structured (schema-validated) output.

- backend.py     the interface (`LLMBackend`, `Completion`) every backend implements
- embedded.py    llama-cpp-python in-process; the model rebuilt from its PyPI chunk wheels, sha256-checked
- openai_backend.py  any OpenAI-compatible server (vLLM, llama.cpp server, hosted APIs)
- fake.py        `FakeBackendForTests`, a scripted backend for plumbing tests only
- label_guard.py `LabelConstraint`: label rules applied while decoding (no repeat, whole words, refused
                 labels), embedded backend only; grammar_fast_path.py puts it in llama.cpp's sampler chain
- cache.py       `CallCache`: append-only JSONL, key = hash(backend, model, model hash, prompt, params)
- structured.py  `call_structured`: JSON mode / schema grammar, tolerant parsing, pydantic validation,
                 bounded retries; failures come back as a reason, never as silently accepted output
An endpoint that cannot be reached raises `BackendUnavailable` (backend.py) after a bounded back-off.
"""
from .backend import BackendUnavailable, Completion, LLMBackend
from .cache import CallCache
from .structured import StructuredResult, call_structured

__all__ = ["BackendUnavailable", "Completion", "LLMBackend", "CallCache", "StructuredResult", "call_structured"]
