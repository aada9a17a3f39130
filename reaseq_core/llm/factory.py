"""One place that turns a backend choice (CLI flags, the app's prompt lab) into a backend object."""
from __future__ import annotations

from ..errors import ReaSeqError

BACKENDS = ("embedded", "openai")
RETRY_BUDGET_S = 4.0       # default total back-off while an endpoint is unreachable, before the build stops


def make_backend(kind: str = "embedded", base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None, *, n_threads: int | None = None, max_concurrency: int = 1,
                 timeout_s: float = 120.0, retry_budget_s: float = RETRY_BUDGET_S, slots: int = 1):
    if kind == "embedded":
        from .embedded import EmbeddedBackend
        return EmbeddedBackend(model_path=model if model and model.endswith(".gguf") else None, n_threads=n_threads,
                               slots=slots)
    if kind == "openai":
        from .openai_backend import OpenAIBackend
        return OpenAIBackend(base_url=base_url, model=model, api_key=api_key, max_concurrency=max_concurrency,
                             timeout_s=timeout_s, retry_budget_s=retry_budget_s)
    raise ReaSeqError(f"unknown LLM backend '{kind}' (choose {' / '.join(BACKENDS)})")
