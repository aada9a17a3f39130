"""`FakeBackendForTests`: a scripted stand-in for an LLM, for plumbing unit tests only.

It answers from a function of the messages (or a fixed list of replies), counts its calls, and can
sleep to imitate latency. Nothing it says is knowledge; no artifact the project ships is made with it.
"""
from __future__ import annotations

import time
from typing import Callable

from .backend import Completion


class FakeBackendForTests:
    name = "fake"

    def __init__(self, reply: Callable[[list[dict], dict | None], str] | list[str], *, delay_s: float = 0.0,
                 model: str = "fake-model"):
        self._reply = reply
        self._replies = list(reply) if isinstance(reply, list) else None
        self.model = model
        self.model_hash = "fake"
        self.delay_s = delay_s
        self.calls: list[list[dict]] = []
        self.params: list[dict] = []          # temperature, seed and label constraint of every call
        self.max_concurrency = 1

    supports_text_format = True      # answers a text-format call with the format's own example (schema_echo_reply)

    def complete(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0,
                 seed: int | None = None, json_schema: dict | None = None, constraint=None,
                 text_format=None) -> Completion:
        self.calls.append(messages)
        self.params.append({"temperature": temperature, "seed": seed, "constraint": constraint,
                            "text_format": text_format})
        if self.delay_s:
            time.sleep(self.delay_s)
        if self._replies is not None:
            text = self._replies.pop(0) if self._replies else "{}"
        elif text_format is not None and self._reply is schema_echo_reply:
            text = text_format.example()
        else:
            text = self._reply(messages, json_schema)
        extra = {"label_guard": "not applied (fake backend)"} if constraint is not None else {}
        return Completion(text=text, prompt_tokens=sum(len(m["content"].split()) for m in messages),
                          completion_tokens=len(text.split()), latency_s=self.delay_s, extra=extra)


SENTENCE_KEYS = {"decisions", "analysis", "reasoning_trace", "justification"}


def schema_filler(schema: dict, words: tuple[str, ...] = ("alpha", "beta", "gamma", "delta", "omega", "sigma")):
    """A JSON value that satisfies `schema` (the subset the knowledge agents use): the first enum value,
    minItems array entries (distinct strings; one object per enum value where an array's objects carry an
    enum 'dimension'), strings cut to maxLength (a sentence field ends with a full stop), whole capitalised words where a string has a `pattern`
    (the knowledge labels). For plumbing tests: it is valid, not meaningful."""
    counter = iter(range(10**6))
    labels = [w.title() for w in words] + [f"{a.title()} {b.title()}" for a in words for b in words if a != b]
    label_counter = iter(range(10**6))

    def fill(s: dict, key: str = ""):
        if "enum" in s:
            return s["enum"][0]
        t = s.get("type")
        if t == "object":
            return {k: fill(v, k) for k, v in s["properties"].items()}
        if t == "array":
            it = s["items"]
            dim = it.get("properties", {}).get("dimension", {}) if it.get("type") == "object" else {}
            if "enum" in dim:
                return [{**fill(it), "dimension": d} for d in dim["enum"]]
            if key == "evidence":
                return ["title"]
            if key in ("final", "dimensions") and it.get("type") == "object":
                return [fill(it, "dimension") for _ in range(s.get("minItems", 1))]
            return [fill(it, key) for _ in range(s.get("minItems", 1))]
        if t == "string" and "pattern" in s:          # a label: one or two distinct capitalised words
            return labels[next(label_counter) % len(labels)]
        if t == "string":
            w = f"{words[next(counter) % len(words)]} {next(counter)}"
            if key in SENTENCE_KEYS:                   # texts the agents' checks want to end a sentence
                return (w[: s.get("maxLength", 40) - 1] + ".")
            return w[: s.get("maxLength", 40)]
        return None

    value = fill(schema)
    # Layer 2 lists its labels twice (justified dimensions, final list): keep them consistent
    if isinstance(value, dict) and "final" in value and "dimensions" in value:
        value["final"] = [d["label"] for d in value["dimensions"]]
    return value


def schema_echo_reply(messages: list[dict], schema: dict | None) -> str:
    """Reply function for FakeBackendForTests: a schema-valid JSON answer."""
    import json
    return json.dumps(schema_filler(schema or {"type": "object", "properties": {}}))
