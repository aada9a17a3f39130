"""Structured output: ask for JSON (schema grammar / JSON mode), parse tolerantly, validate, retry a bounded
number of times, and otherwise report the failure with its reason. Nothing invalid is silently accepted.

Every attempt goes through the call cache. Attempt 0 is greedy (temperature 0). A retry shows the model
its previous answer and the rule it broke (appended after the original prompt, so the prompt's prefix is
reused) and samples at a low temperature with a fixed seed per attempt: a retry has its own cache key, and a
resumed run replays exactly the attempts it made before.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

from pydantic import BaseModel, ValidationError

from .backend import LLMBackend, messages_text
from .cache import CallCache, call_key

RETRY_TEMPERATURE = 0.4
RETRY_FEEDBACK = ("That answer is invalid: {error}. Reply again with the whole corrected JSON object, "
                  "following every rule of the task.")


class InvalidOutput(ValueError):
    """The answer parsed but breaks a rule the schema cannot express (missing dimension, ...)."""


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
    try:
        obj = parse_json_tolerant(text)
    except ValueError as e:
        reason = str(e)
        if finish_reason == "length":
            reason = "output cut at max_tokens; " + reason
        return None, reason
    try:
        value = schema_model.model_validate(obj)
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(map(str, er['loc'])) or '<root>'}: {er['msg']}" for er in e.errors()[:4])
        return None, f"schema violation: {errs}"
    if check is not None:
        try:
            check(value)
        except InvalidOutput as e:
            return None, str(e)
    return value, None


def call_structured(backend: LLMBackend, cache: CallCache, *, agent: str, subject: str, messages: list[dict],
                    schema_model: type[BaseModel], json_schema: dict | None = None, max_tokens: int = 512,
                    max_attempts: int = 3, check: Callable[[BaseModel], None] | None = None,
                    use_grammar: bool = True) -> StructuredResult:
    schema = (json_schema or schema_model.model_json_schema()) if use_grammar else None
    res = StructuredResult(ok=False, value=None, raw="", error=None, attempts=0)
    base_messages, last_invalid = messages, None
    for attempt in range(max_attempts):
        messages = base_messages
        if last_invalid is not None:          # (raw answer, reason) of the previous attempt
            messages = base_messages + [{"role": "assistant", "content": last_invalid[0]},
                                        {"role": "user", "content": RETRY_FEEDBACK.format(error=last_invalid[1])}]
        params = {"max_tokens": max_tokens, "temperature": 0.0 if attempt == 0 else RETRY_TEMPERATURE,
                  "seed": None if attempt == 0 else attempt, "json_schema": schema}
        key = call_key(backend.name, backend.model, backend.model_hash, messages, params)
        res.keys.append(key)
        res.attempts = attempt + 1
        rec = cache.get(key)
        if rec is not None:
            text, finish = rec["response"], rec.get("finish_reason", "stop")
            res.latency_s += float(rec.get("latency_s") or 0)
            res.completion_tokens += int(rec.get("completion_tokens") or 0)
            value, err = validate_answer(text, schema_model, check, finish)
        else:
            res.live_calls += 1
            try:
                comp = backend.complete(messages, max_tokens=max_tokens, temperature=params["temperature"],
                                        seed=params["seed"], json_schema=schema)
            except Exception as e:  # noqa: BLE001 - any backend failure is logged with its reason, then retried
                cache.append({"key": key, "agent": agent, "subject": subject, "attempt": attempt,
                              "backend": backend.name, "model": backend.model, "model_hash": backend.model_hash,
                              "params": params, "prompt": messages_text(messages), "response": "",
                              "prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0,
                              "finish_reason": "error", "status": "error", "error": f"{type(e).__name__}: {e}"})
                res.error = f"backend error: {type(e).__name__}: {e}"
                continue
            text, finish = comp.text, comp.finish_reason
            value, err = validate_answer(text, schema_model, check, finish)
            res.latency_s += comp.latency_s
            res.completion_tokens += comp.completion_tokens
            cache.append({"key": key, "agent": agent, "subject": subject, "attempt": attempt,
                          "backend": backend.name, "model": backend.model, "model_hash": backend.model_hash,
                          "params": params, "prompt": messages_text(messages), "response": text,
                          "prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens,
                          "latency_s": round(comp.latency_s, 4), "finish_reason": finish,
                          "status": "ok" if err is None else "invalid", "error": err})
        res.raw = text
        if err is None:
            res.ok, res.value, res.error = True, value, None
            return res
        res.error = err
        last_invalid = (text[:4000], err)
    return res
