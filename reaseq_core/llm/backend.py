"""The interface every LLM backend implements.

A backend turns chat messages into one completion. It says who it is (`name`, `model`, `model_hash`) so
that the call cache can key on exactly what produced an answer, and it reports the tokens and latency
it measured so that throughput can be computed from the call log alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str = "stop"            # "stop" | "length" (hit max_tokens) | backend-specific
    extra: dict = field(default_factory=dict)


@runtime_checkable
class LLMBackend(Protocol):
    name: str          # "embedded" | "openai" | "fake"
    model: str         # model name as the backend knows it
    model_hash: str    # sha256 of the weights where known, else the served model name

    def complete(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0,
                 seed: int | None = None, json_schema: dict | None = None) -> Completion:
        """One chat completion. `json_schema` asks for JSON output constrained by that schema (grammar
        or JSON mode, whatever the backend offers)."""
        ...


def messages_text(messages: list[dict]) -> str:
    """The prompt as one readable string (for the call log and the app)."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)
