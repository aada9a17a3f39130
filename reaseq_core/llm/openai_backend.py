"""Any OpenAI-compatible chat endpoint through the `openai` client: a hosted API, vLLM, or
`reaseq llm serve` (the embedded model behind llama.cpp's server on 127.0.0.1).

Base URL, model and key come from the arguments, else from REASEQ_OPENAI_BASE_URL / REASEQ_OPENAI_MODEL /
REASEQ_OPENAI_API_KEY (falling back to OPENAI_BASE_URL / OPENAI_API_KEY). `max_concurrency` bounds the
number of requests in flight for servers that batch (vLLM); the knowledge pipeline sends that many items
at once.

Outages (refused connections and other transport errors, timeouts, 429, 5xx; the client wraps httpx's
errors into APIConnectionError / APITimeoutError) are retried with exponential back-off whose total sleep
stays within `retry_budget_s` (a few seconds by default); then `BackendUnavailable` names the base URL.
Other errors (4xx: a bad request, an unknown model) are raised as the client raised them.

A label constraint (llm/label_guard.py) cannot be applied inside a remote server's decoder: it is ignored
here and the answer is validated afterwards (a retry lists the labels to avoid in its prompt).
"""
from __future__ import annotations

import os
import random
import time

from ..errors import ReaSeqError
from .backend import BackendUnavailable, Completion


class OpenAIBackend:
    name = "openai"

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None, *,
                 timeout_s: float = 120.0, max_retries: int = 5, backoff_s: float = 0.25,
                 retry_budget_s: float = 4.0, max_concurrency: int = 1, schema_mode: str = "auto"):
        try:
            import openai
        except ImportError:
            raise ReaSeqError("the openai package is not installed; pip install -e '.[llm]'") from None
        self._openai = openai
        self.base_url = base_url or os.environ.get("REASEQ_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        self.model = model or os.environ.get("REASEQ_OPENAI_MODEL")
        api_key = api_key or os.environ.get("REASEQ_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none"
        if not self.model:
            raise ReaSeqError("no model name for the OpenAI-compatible backend: pass --model or set REASEQ_OPENAI_MODEL")
        # The client's own retries are off: this class retries, so attempts are counted in one place.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
        self.endpoint = self.base_url or str(self.client.base_url)
        self.model_hash = f"served:{self.model}"     # the weights behind an endpoint are not ours to hash
        self.max_retries, self.backoff_s, self.retry_budget_s = max_retries, backoff_s, retry_budget_s
        self.max_concurrency = max(1, max_concurrency)
        # "json_schema": OpenAI / vLLM structured outputs; "json_object": llama.cpp server (schema inside);
        # "auto": json_object+schema for a 127.0.0.1 server (our `reaseq llm serve`), json_schema elsewhere.
        if schema_mode == "auto":
            local = bool(self.base_url) and ("127.0.0.1" in self.base_url or "localhost" in self.base_url)
            schema_mode = "json_object" if local else "json_schema"
        self.schema_mode = schema_mode

    def _response_format(self, schema: dict | None):
        if schema is None:
            return None
        if self.schema_mode == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": False}}
        if self.schema_mode == "json_object":
            return {"type": "json_object", "schema": schema}
        return None                                           # "none": prompt-only, validated afterwards

    def _transient(self) -> tuple[type[BaseException], ...]:
        o = self._openai
        return (o.APITimeoutError, o.APIConnectionError, o.RateLimitError, o.InternalServerError)

    def complete(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0,
                 seed: int | None = None, json_schema: dict | None = None, constraint=None) -> Completion:
        kw = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        rf = self._response_format(json_schema)
        if rf is not None:
            kw["response_format"] = rf
        if seed is not None:
            kw["seed"] = seed
        waited = 0.0
        for attempt in range(self.max_retries + 1):
            t0 = time.perf_counter()
            try:
                out = self.client.chat.completions.create(**kw)
            except self._transient() as e:
                delay = self.backoff_s * (2 ** attempt) * (1 + 0.25 * random.random())
                if attempt == self.max_retries or waited + delay > self.retry_budget_s:
                    raise BackendUnavailable(self.endpoint, f"{type(e).__name__} ({e})", attempt + 1, waited) from None
                time.sleep(delay)
                waited += delay
                continue
            dt = time.perf_counter() - t0
            ch = out.choices[0]
            usage = out.usage
            extra = {"label_guard": "not applied (remote decoder)"} if constraint is not None else {}
            return Completion(text=ch.message.content or "", prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                              completion_tokens=getattr(usage, "completion_tokens", 0) or 0, latency_s=dt,
                              finish_reason=ch.finish_reason or "stop", extra=extra)
        raise AssertionError("unreachable")
