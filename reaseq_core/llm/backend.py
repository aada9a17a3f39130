"""The interface every LLM backend implements.

A backend turns chat messages into one completion. It says who it is (`name`, `model`, `model_hash`) so
that the call cache can key on exactly what produced an answer, and it reports the tokens and latency
it measured so that throughput can be computed from the call log alone.

An endpoint that cannot be reached (refused connection, timeout, 5xx, rate limit) is not an answer: the
backend retries it with a bounded exponential back-off and then raises `BackendUnavailable`, which the
structured-output layer never logs as a failed answer and the knowledge build turns into one error that
names the endpoint (nothing is marked failed; a re-run continues where it stopped).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import ReaSeqError

if TYPE_CHECKING:
    from .label_guard import LabelConstraint


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str = "stop"            # "stop" | "length" (hit max_tokens) | backend-specific
    extra: dict = field(default_factory=dict)


class BackendUnavailable(ReaSeqError):
    """The LLM endpoint could not be reached (connection refused, timeout, 5xx, rate limit) after the
    backend's bounded back-off. An outage, not an invalid answer: callers must not record it as a failure."""

    def __init__(self, endpoint: str, cause: str, attempts: int, waited_s: float, note: str = ""):
        self.endpoint, self.cause, self.attempts, self.waited_s, self.note = endpoint, cause, attempts, waited_s, note
        super().__init__(f"LLM endpoint {endpoint} is unavailable: {cause} after {attempts} attempts "
                         f"({waited_s:.1f} s of back-off)" + (f"; {note}" if note else ""))

    def with_note(self, note: str) -> "BackendUnavailable":
        """The same outage, with what the caller was doing when it happened."""
        return BackendUnavailable(self.endpoint, self.cause, self.attempts, self.waited_s, note)


@runtime_checkable
class LLMBackend(Protocol):
    name: str          # "embedded" | "openai" | "fake"
    model: str         # model name as the backend knows it
    model_hash: str    # sha256 of the weights where known, else the served model name

    def complete(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0,
                 seed: int | None = None, json_schema: dict | None = None,
                 constraint: LabelConstraint | None = None) -> Completion:
        """One chat completion. `json_schema` asks for JSON output constrained by that schema (grammar
        or JSON mode, whatever the backend offers). `constraint` restricts label strings while decoding
        (no repeat, whole words, refused labels); a backend that cannot apply it during decoding ignores it
        and says so in `Completion.extra["label_guard"]` (the answer is validated afterwards either way).
        Raises BackendUnavailable when the endpoint cannot be reached."""
        ...


def messages_text(messages: list[dict]) -> str:
    """The prompt as one readable string (for the call log and the app)."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)
