"""Structured output: ask for JSON (schema grammar / JSON mode), parse tolerantly, validate, retry a bounded
number of times, and otherwise report the failure with its reason. Nothing invalid is silently accepted.

Every attempt goes through the call cache. Attempt 0 is greedy (temperature 0). A retry changes what
matters: it shows the model its previous answer and the rule it broke (appended after the original prompt,
so the prompt's prefix is reused; or, with RetryPolicy.show_previous_answer False, only the rule, noted at
the prompt's end, since a model shown its answer tends to copy it), names the labels to avoid where the rule
was about labels, and samples at the policy's temperature with a fixed seed per attempt: a retry has its own cache key, and a resumed run
replays exactly the attempts it made before. The call log records per attempt its `seed`, `temperature` and
`prompt_change`.

A label constraint (label_guard.py) travels with the call; the labels refused by an attempt are added to
the next attempt's constraint, so a backend that decodes with it cannot produce them again.

`BackendUnavailable` (the endpoint cannot be reached) is raised to the caller untouched: an outage is no
answer, so it is neither logged nor counted as an attempt.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

from pydantic import BaseModel, ValidationError

from .backend import BackendUnavailable, LLMBackend, messages_text
from .cache import CallCache, call_key
from .label_guard import LabelConstraint

RETRY_TEMPERATURE = 0.4
RETRY_FEEDBACK = ("That answer is invalid: {error}. Reply again with the whole corrected JSON object, "
                  "following every rule of the task.")
ERROR_NOTE = ("Note: an earlier answer for this item was refused: {error}. Do not make that mistake; every "
              "statement must agree with the item's data.")
AVOID_FEEDBACK = ("That answer is invalid: {error}. Do not use these labels again: {avoid}. Reply again with the "
                  "whole corrected JSON object, following every rule of the task; every label must be new.")


@dataclass(frozen=True)
class RetryPolicy:
    """Temperature per attempt (the last value repeats); the seed of attempt k > 0 is k (attempt 0 is greedy).
    The default is the policy every shipped call-log entry was made with: changing it would change the cache
    keys of retried calls."""
    temperatures: tuple[float, ...] = (0.0, RETRY_TEMPERATURE)
    # True: the retry shows the previous answer and its error (a follow-up turn). False: the original prompt
    # with the error noted at its end, the answer not shown (a model shown its answer tends to copy it, token
    # by token, even at temperature 1 under top-p 0.95)
    show_previous_answer: bool = True

    def temperature(self, attempt: int) -> float:
        return self.temperatures[min(attempt, len(self.temperatures) - 1)]

    @staticmethod
    def seed(attempt: int) -> int | None:
        return None if attempt == 0 else attempt


DEFAULT_RETRY = RetryPolicy()
# label agents (taxonomies): each retry samples hotter, so a confident wrong answer is not simply repeated
LABEL_RETRY = RetryPolicy(temperatures=(0.0, 0.5, 0.7, 0.9, 1.0))


class InvalidOutput(ValueError):
    """The answer parsed but breaks a rule the schema cannot express (missing dimension, ...). `labels` are
    the labels that broke it: the retry's prompt and label constraint avoid them."""

    def __init__(self, message: str, labels: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.labels = tuple(labels)


@dataclass
class StructuredResult:
    ok: bool
    value: BaseModel | None
    raw: str
    error: str | None
    attempts: int
    live_calls: int = 0            # calls that reached the backend (cache misses)
    latency_s: float = 0.0         # summed latency of all attempts (cached ones report their original latency)
    completion_tokens: int = 0
    keys: list[str] = field(default_factory=list)
    label_guard: dict | None = None   # the accepted (or last) attempt's label-guard report, when a constraint was used
    avoided: tuple[str, ...] = ()     # labels refused by earlier attempts, avoided by the later ones


_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.S)


def parse_json_tolerant(text: str):
    """json.loads with strict=False (grammars let raw newlines into strings); strips code fences and, as a
    last resort, takes the outermost {...} span. Raises ValueError with the parser's message."""
    s = _FENCE.sub("", text.strip())
    try:
        return json.loads(s, strict=False)
    except json.JSONDecodeError as e:
        first, last = s.find("{"), s.rfind("}")
        if 0 <= first < last:
            try:
                return json.loads(s[first:last + 1], strict=False)
            except json.JSONDecodeError:
                pass
        raise ValueError(f"not valid JSON: {e.msg} at char {e.pos}") from None


def validate_answer(text: str, schema_model: type[BaseModel], check: Callable[[BaseModel], None] | None,
                    finish_reason: str = "stop") -> tuple[BaseModel | None, str | None]:
    """(value, None) when valid, else (None, reason)."""
    value, err, _ = _validate(text, schema_model, check, finish_reason)
    return value, err


def _validate(text: str, schema_model, check, finish_reason: str = "stop", text_format=None):
    """(value, reason, labels that broke a rule). `text_format` (optional) parses a non-JSON answer."""
    try:
        obj = text_format.parse(text) if text_format is not None else parse_json_tolerant(text)
    except ValueError as e:
        reason = str(e)
        if finish_reason == "length":
            reason = "output cut at max_tokens; " + reason
        return None, reason, ()
    try:
        value = schema_model.model_validate(obj)
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(map(str, er['loc'])) or '<root>'}: {er['msg']}" for er in e.errors()[:4])
        return None, f"schema violation: {errs}", ()
    if check is not None:
        try:
            check(value)
        except InvalidOutput as e:
            return None, str(e), e.labels
    return value, None, ()


def call_structured(backend: LLMBackend, cache: CallCache, *, agent: str, subject: str, messages: list[dict],
                    schema_model: type[BaseModel], json_schema: dict | None = None, max_tokens: int = 512,
                    max_attempts: int = 3, check: Callable[[BaseModel], None] | None = None,
                    use_grammar: bool = True, retry: RetryPolicy = DEFAULT_RETRY,
                    label_constraint: Callable[[tuple[str, ...]], LabelConstraint] | None = None,
                    text_format=None) -> StructuredResult:
    """`label_constraint(avoid)` builds the attempt's label constraint; `avoid` holds the labels earlier attempts
    were refused for. Raises BackendUnavailable (never logged) when the endpoint cannot be reached.

    `text_format` (optional, e.g. knowledge.lines.KnowledgeLines) asks for an answer in its own text format
    instead of JSON: it is described in the call key, a backend that can decode in it (`supports_text_format`)
    gets it, any other is asked in plain text, and `text_format.parse` turns the answer into the object
    `schema_model` validates."""
    schema = (json_schema or schema_model.model_json_schema()) if use_grammar and text_format is None else None
    res = StructuredResult(ok=False, value=None, raw="", error=None, attempts=0)
    base_messages, last_invalid, avoid = messages, None, ()
    for attempt in range(max_attempts):
        messages, prompt_change = base_messages, None
        if last_invalid is not None:          # (raw answer, reason) of the previous attempt
            if retry.show_previous_answer:
                feedback = (AVOID_FEEDBACK.format(error=last_invalid[1], avoid=", ".join(avoid)) if avoid
                            else RETRY_FEEDBACK.format(error=last_invalid[1]))
                if text_format is not None:
                    feedback = feedback.replace("JSON object", text_format.retry_noun)
                messages = base_messages + [{"role": "assistant", "content": last_invalid[0]},
                                            {"role": "user", "content": feedback}]
                prompt_change = f"previous answer and its error appended (attempt {attempt - 1}: {last_invalid[1]})"
            else:                             # the prompt's prefix is kept, so the KV cache still serves it
                last = base_messages[-1]
                messages = base_messages[:-1] + [{**last, "content": last["content"] + "\n\n" + ERROR_NOTE.format(
                    error=last_invalid[1])}]
                prompt_change = f"error noted at the end of the prompt, answer not shown (attempt {attempt - 1}: " \
                                f"{last_invalid[1]})"
            if avoid:
                prompt_change += f"; labels to avoid: {list(avoid)}"
        constraint = label_constraint(avoid) if label_constraint is not None and schema is not None else None
        params = {"max_tokens": max_tokens, "temperature": retry.temperature(attempt), "seed": retry.seed(attempt),
                  "json_schema": schema}
        if constraint is not None:           # only then: the keys of calls without a constraint stay as they were
            params["label_constraint"] = constraint.describe()
        if text_format is not None:
            params["text_format"] = text_format.describe()
        key = call_key(backend.name, backend.model, backend.model_hash, messages, params)
        res.keys.append(key)
        res.attempts = attempt + 1
        rec = cache.get(key)
        if rec is not None:
            text, finish = rec["response"], rec.get("finish_reason", "stop")
            res.latency_s += float(rec.get("latency_s") or 0)
            res.completion_tokens += int(rec.get("completion_tokens") or 0)
            res.label_guard = rec.get("label_guard")
            value, err, bad_labels = _validate(text, schema_model, check, finish, text_format)
        else:
            res.live_calls += 1
            log = {"key": key, "agent": agent, "subject": subject, "attempt": attempt, "seed": params["seed"],
                   "temperature": params["temperature"], "prompt_change": prompt_change,
                   "backend": backend.name, "model": backend.model, "model_hash": backend.model_hash,
                   "params": params, "prompt": messages_text(messages)}
            kw = {"constraint": constraint} if constraint is not None else {}
            if text_format is not None and getattr(backend, "supports_text_format", False):
                kw["text_format"] = text_format
            try:
                comp = backend.complete(messages, max_tokens=max_tokens, temperature=params["temperature"],
                                        seed=params["seed"], json_schema=schema, **kw)
            except BackendUnavailable:
                raise                         # an outage is no answer: not logged, not an attempt
            except Exception as e:  # noqa: BLE001 - any other backend failure is logged with its reason, then retried
                cache.append({**log, "response": "", "prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0,
                              "finish_reason": "error", "status": "error", "error": f"{type(e).__name__}: {e}"})
                res.error = f"backend error: {type(e).__name__}: {e}"
                continue
            text, finish = comp.text, comp.finish_reason
            value, err, bad_labels = _validate(text, schema_model, check, finish, text_format)
            res.latency_s += comp.latency_s
            res.completion_tokens += comp.completion_tokens
            res.label_guard = comp.extra.get("label_guard") if constraint is not None else None
            extra = {"label_guard": res.label_guard} if constraint is not None else {}
            for k in ("sampled_tokens", "forced_tokens", "prompt_tokens_reused", "parallel_slots"):
                if k in comp.extra:
                    extra[k] = comp.extra[k]
            cache.append({**log, "response": text, "prompt_tokens": comp.prompt_tokens,
                          "completion_tokens": comp.completion_tokens, "latency_s": round(comp.latency_s, 4),
                          "finish_reason": finish, "status": "ok" if err is None else "invalid", "error": err, **extra})
        res.raw = text
        if err is None:
            res.ok, res.value, res.error = True, value, None
            return res
        res.error = err
        avoid = tuple(dict.fromkeys(avoid + tuple(bad_labels)))
        res.avoided = avoid
        last_invalid = (text[:4000], err)
    return res
