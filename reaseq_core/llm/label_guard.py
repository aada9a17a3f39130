"""Label constraints: labels that cannot repeat, cannot run past their word budget and cannot end badly,
by construction of the decoding rather than by hoping a retry comes out differently.

A `LabelConstraint` says where the labels sit in the JSON answer (a path such as ("dimensions", "*") for a
list of strings, or ("dimensions", "*", "label") for a field of a list of objects) and gives a rule
`refuse(label, earlier_labels) -> reason | None`. The embedded backend applies it while decoding
(grammar_fast_path.py), on top of the JSON-schema grammar:

- inside a label string, a token that would close the string is banned while the label so far is refused
  (a repeat of an earlier label, a data-field name, a trailing function word, ...);
- a token that would start a word beyond `max_words` is banned, and so is one that would start a new word
  once the label already has `new_word_chars` characters.

So a label ends on a word boundary the model chose, never cut by a character cap, and an already produced
label cannot be produced again. When a ban would leave no token that the grammar allows, the ban is lifted
for that step and counted (`fallbacks`): the answer is then validated and refused like any other, so the
guard never forces broken JSON.

Backends that cannot decode with it (an OpenAI-compatible server, the fake) ignore it; validation applies
the same `refuse` rule afterwards, and the retry prompt lists the labels to avoid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class LabelConstraint:
    path: tuple[str, ...]                                   # JSON keys from the root, "*" for an array element
    refuse: Callable[[str, list[str]], str | None]          # (label, earlier labels) -> reason, or None if fine
    max_words: int = 3
    new_word_chars: int | None = None                       # no new word once the label is this long
    rules: dict = field(default_factory=dict)               # what `refuse` checks, for the call key and the log

    def describe(self) -> dict:
        """What this constraint does, as plain data (it goes into the call key: it changes the answer)."""
        return {"path": ".".join(self.path), "max_words": self.max_words, "new_word_chars": self.new_word_chars,
                "rules": self.rules}


class JsonLabelTracker:
    """Follows a JSON text while it is generated (a valid prefix: the grammar sees to that) and knows whether
    the next character lands inside a label string at `path`, and which labels were completed before."""

    def __init__(self, path: tuple[str, ...]):
        self.path = tuple(path)
        self.stack: list[list] = []     # frames: ["obj", key, expecting_key] or ["arr", None, False]
        self.in_string = self.is_key = self.escape = self.target = False
        self.buf: list[str] = []
        self.labels: list[str] = []

    def _value_path(self) -> tuple[str, ...]:
        return tuple(f[1] if f[0] == "obj" else "*" for f in self.stack)

    def feed(self, text: str) -> None:
        for c in text:
            self._char(c)

    def _char(self, c: str) -> None:
        if self.in_string:
            if self.escape:
                self.escape = False
                self.buf.append(c)
            elif c == "\\":
                self.escape = True
            elif c == '"':
                self.in_string = False
                s = "".join(self.buf)
                if self.is_key:
                    self.stack[-1][1], self.stack[-1][2] = s, False
                elif self.target:
                    self.labels.append(s)
            else:
                self.buf.append(c)
            return
        top = self.stack[-1] if self.stack else None
        if c == '"':
            self.is_key = top is not None and top[0] == "obj" and top[2]
            self.target = not self.is_key and self._value_path() == self.path
            self.in_string, self.buf = True, []
        elif c == "{":
            self.stack.append(["obj", None, True])
        elif c == "[":
            self.stack.append(["arr", None, False])
        elif c in "}]" and self.stack:
            self.stack.pop()
        elif c == "," and top is not None and top[0] == "obj":
            top[1], top[2] = None, True

    @property
    def current(self) -> str | None:
        """The label being written, or None outside a label string."""
        return "".join(self.buf) if self.in_string and self.target else None


class VocabTables:
    """Per token: does it contain a double quote (it closes a label string), how many characters and how
    many spaces it adds to a label before that quote. Built once per model (~150k tokens)."""

    def __init__(self, pieces: list[bytes]):
        n = len(pieces)
        self.pieces = pieces
        self.has_quote = np.zeros(n, dtype=bool)
        self.pre_spaces = np.zeros(n, dtype=np.int32)
        for i, p in enumerate(pieces):
            q = p.find(b'"')
            pre = p if q < 0 else p[:q]
            self.has_quote[i] = q >= 0
            self.pre_spaces[i] = pre.count(b" ")
        self._space_masks: dict[int, np.ndarray] = {}

    def adds_more_spaces_than(self, k: int) -> np.ndarray:
        if k not in self._space_masks:
            self._space_masks[k] = self.pre_spaces > k
        return self._space_masks[k]


def vocab_tables(llm) -> VocabTables:
    """The tables of a llama_cpp.Llama, cached on it."""
    tables = getattr(llm, "_reaseq_vocab_tables", None)
    if tables is None:
        model = llm._model
        tables = VocabTables([model.detokenize([i]) for i in range(llm.n_vocab())])
        llm._reaseq_vocab_tables = tables
    return tables


class LabelGuard:
    """One call's guard: tracks the generated text token by token and says which tokens are banned now."""

    def __init__(self, constraint: LabelConstraint, tables: VocabTables):
        self.c, self.t = constraint, tables
        self.tracker = JsonLabelTracker(constraint.path)
        self.closes_refused = 0        # steps at which closing the label was banned
        self.fallbacks = 0             # steps at which a ban was lifted (it would have left no token)
        self.reasons: dict[str, int] = {}

    def accept(self, token: int) -> None:
        # latin-1 maps bytes 1:1, so quotes and backslashes (ASCII) are seen exactly even inside UTF-8 text
        self.tracker.feed(self.t.pieces[token].decode("latin-1"))

    def ban_mask(self) -> np.ndarray | None:
        """Boolean mask over token ids (True = banned), or None when nothing is banned at this step."""
        cur = self.tracker.current
        if cur is None:
            return None
        spaces_left = self.c.max_words - 1 - cur.count(" ")
        if self.c.new_word_chars is not None and len(cur) >= self.c.new_word_chars:
            spaces_left = 0
        ban = self.t.adds_more_spaces_than(max(0, spaces_left))
        reason = self.c.refuse(cur, self.tracker.labels)
        if reason:
            self.closes_refused += 1
            key = reason.split(":")[0]
            self.reasons[key] = self.reasons.get(key, 0) + 1
            ban = ban | self.t.has_quote
        return ban

    def apply_ban(self, cand: np.ndarray, ban: np.ndarray) -> None:
        """Ban tokens among the candidates the grammar allowed (finite logits); lift the ban if it would leave
        none. `cand` is llama.cpp's candidate array viewed as (id, logit, p)."""
        logits = cand["logit"]
        finite = np.isfinite(logits)
        hit = ban[cand["id"]] & finite
        if not hit.any():
            return
        if (finite & ~hit).any():
            logits[hit] = -np.inf
        else:
            self.fallbacks += 1

    def stats(self) -> dict:
        return {"applied": True, "labels": list(self.tracker.labels), "closes_refused": self.closes_refused,
                "refusal_kinds": self.reasons, "fallbacks": self.fallbacks}
