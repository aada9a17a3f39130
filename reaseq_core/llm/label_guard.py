"""Label constraints: labels that cannot repeat, cannot run past their word budget and cannot end badly,
by construction of the decoding rather than by hoping a retry comes out differently.

A `LabelConstraint` says where the labels sit in the JSON answer (a path such as ("dimensions", "*") for a
list of strings, or ("dimensions", "*", "label") for a field of a list of objects) and gives a rule
`refuse(label, earlier_labels) -> reason | None`. The embedded backend applies it while decoding
(grammar_fast_path.py), on top of the JSON-schema grammar, which already makes a label 1-3 whole words:

- no token may close a label that `refuse` refuses (a repeat of an earlier label, a data-field name, a
  trailing function word, ...); when the model wants to close one, it must add a word instead;
- the label's last possible word cannot be a function word, nor the word that would complete a refused
  label (so a three-word repeat cannot be written either), and banned words (data-field words anywhere,
  leftover-bin words such as "Other" first) cannot be written at all;
- a word the label has no room for (`max_words`, or `new_word_chars` reached) makes it close instead.

So a label ends on a word boundary the model chose, never cut by a character cap, and an already produced
label cannot be produced again. A banned word spelt in several tokens ("Sub" + "category") is caught at
its last piece. Where the guard cannot steer (a refused label with no word left, a last piece that also
carries other letters) it lets the model go on and counts a fallback: the answer is then validated and
refused like any other, and the retry avoids the label. A ban that would leave no token the grammar allows
is lifted, so the guard never forces broken JSON.

The same guard can finish the answer's sentence fields (`text_fields`: JSON paths with their character
caps, e.g. Layer 1's analysis). A JSON-schema grammar closes a string at its `maxLength`, so a long text
used to stop mid-word ("...sets, and sc"). Inside such a field the guard

- does not let the string close unless its text ends a sentence ('.', '!' or '?'; a full stop after a digit
  may be a decimal point, so it does not count);
- from `text_soft` of the cap on, adds a growing pull to the tokens that end a sentence (as the slot decoder
  does for Layer 3's analyses), and once a sentence has ended there, only lets the string close.

A text the grammar closes at its cap anyway (no sentence end came in time) is a lifted ban, counted as a
fallback; the stored texts are checked afterwards (schemas.unfinished_text).

Backends that cannot decode with it (an OpenAI-compatible server, the fake) ignore it; validation applies
the same `refuse` rule afterwards, and the retry prompt lists the labels to avoid.
"""
from __future__ import annotations

import re
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
    banned_words: frozenset = frozenset()                   # words no label may contain (as word_key gives them)
    banned_first_words: frozenset = frozenset()             # words no label may start with
    word_key: Callable[[str], str] = str.lower              # how a written word is compared with those
    last_word_bans: frozenset = frozenset()                 # words no label may end with (function words)
    refused_keys: Callable[[list[str]], set] | None = None  # earlier labels -> label keys refused now
    no_overlap: bool = True                                 # no label may contain every word of an earlier one
    text_fields: tuple = ()                                 # ((path, character cap), ...): sentences to finish
    text_soft: float = 0.6                                  # share of a text field's cap where the pull starts

    def describe(self) -> dict:
        """What this constraint does, as plain data (it goes into the call key: it changes the answer).
        `no_overlap` is named only when off, so the keys of calls made before it was a field stay valid."""
        out = {"path": ".".join(self.path), "max_words": self.max_words, "new_word_chars": self.new_word_chars,
               "rules": self.rules, "banned_words": sorted(self.banned_words),
               "banned_first_words": sorted(self.banned_first_words), "last_word_bans": sorted(self.last_word_bans)}
        if not self.no_overlap:
            out["no_overlap"] = False
        if self.text_fields:        # named only when set, so the keys of calls made before it existed stay valid
            out["text_fields"] = [[".".join(p), int(cap)] for p, cap in self.text_fields]
            out["text_soft"] = self.text_soft
        return out


SENTENCE_END = (".", "!", "?")


def sentence_finished(text: str) -> bool:
    """Whether a text ends a sentence: '.', '!' or '?' last (closing quotes / brackets after it allowed), a
    full stop not right after a digit ("costs $12." may go on to "$12.45")."""
    t = text.rstrip().rstrip("'\u201d\u2019)]")
    if not t.endswith(SENTENCE_END):
        return False
    return not (t.endswith(".") and len(t) > 1 and t[-2].isdigit())


class JsonLabelTracker:
    """Follows a JSON text while it is generated (a valid prefix: the grammar sees to that) and knows whether
    the next character lands inside a label string at `path`, and which labels were completed before; given
    `text_paths` (path -> character cap), also whether it lands inside one of those text fields."""

    def __init__(self, path: tuple[str, ...], text_paths: dict | None = None):
        self.path = tuple(path)
        self.text_paths = {tuple(k): int(v) for k, v in (text_paths or {}).items()}
        self.text_cap: int | None = None     # the cap of the text field being written, else None
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
            self.text_cap = None if self.is_key else self.text_paths.get(self._value_path())
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

    @property
    def current_text(self) -> str | None:
        """The text-field string being written, or None outside one."""
        return "".join(self.buf) if self.in_string and self.text_cap is not None else None


class VocabTables:
    """Per token of the model's vocabulary: does it contain a double quote (it closes a label string), how
    many bytes come before that quote, does it start with a space (it starts a new word). Built once per
    model (~150k tokens); the ban masks derived from them are shared by every call."""

    def __init__(self, pieces: list[bytes]):
        n = len(pieces)
        self.pieces = pieces
        self.has_quote = np.zeros(n, dtype=bool)
        self.pre_len = np.zeros(n, dtype=np.int32)
        self.starts_space = np.zeros(n, dtype=bool)
        for i, p in enumerate(pieces):
            q = p.find(b'"')
            self.has_quote[i] = q >= 0
            self.pre_len[i] = len(p) if q < 0 else q
            self.starts_space[i] = p.startswith(b" ")
        self.pure_close = self.has_quote & (self.pre_len == 0)
        # a token whose text (up to a quote) ends a sentence: "." / " it." / '."'
        self.ends_sentence = np.array([p[:q].decode("latin-1").rstrip().endswith(SENTENCE_END)
                                       for p, q in zip(pieces, self.pre_len)], dtype=bool)
        self.only_new_word = ~self.starts_space           # ban mask: anything but a token that starts a word
        self.only_close = ~self.pure_close                 # ban mask: anything but closing the label now

    def word_mask(self, words: frozenset, key: Callable[[str], str]) -> np.ndarray:
        """Tokens that are one of `words` (compared through `key`), with or without a leading space."""
        cache = self.__dict__.setdefault("_word_masks", {})
        if (words, key) not in cache:
            mask = np.zeros(len(self.pieces), dtype=bool)
            if words:
                for i, p in enumerate(self.pieces):
                    w = p.strip(b" ")
                    if 1 < len(w) < 20 and w.isalpha():
                        mask[i] = key(w.decode("ascii")) in words
            cache[(words, key)] = mask
        return cache[(words, key)]

    def bare_lower_ids(self) -> dict[str, list[int]]:
        """Lower-cased letters-only tokens without a leading space -> their ids (word continuations)."""
        if "_bare_lower" not in self.__dict__:
            out: dict[str, list[int]] = {}
            for i, p in enumerate(self.pieces):
                if p and not p.startswith(b" ") and p.isalpha():
                    out.setdefault(p.decode("ascii").lower(), []).append(i)
            self._bare_lower = out
        return self._bare_lower

    def word_ids(self, key: Callable[[str], str]) -> tuple[dict, dict]:
        """(key -> ids of tokens that are that word with a leading space, key -> ids of the bare word)."""
        cache = self.__dict__.setdefault("_word_ids", {})
        if key not in cache:
            spaced: dict[str, list[int]] = {}
            bare: dict[str, list[int]] = {}
            for i, p in enumerate(self.pieces):
                w = p[1:] if p.startswith(b" ") else p
                if 0 < len(w) < 20 and (w.isalpha() or w == b"&"):
                    (spaced if p.startswith(b" ") else bare).setdefault(key(w.decode("ascii")), []).append(i)
            cache[key] = (spaced, bare)
        return cache[key]

    def pre_text(self, token: int) -> str:
        p = self.pieces[token]
        return p[: self.pre_len[token]].decode("latin-1")


def vocab_tables(llm) -> VocabTables:
    """The tables of a llama_cpp.Llama, cached on it."""
    tables = getattr(llm, "_reaseq_vocab_tables", None)
    if tables is None:
        model = llm._model
        tables = VocabTables([model.detokenize([i]) for i in range(llm.n_vocab())])
        llm._reaseq_vocab_tables = tables
    return tables


class LabelGuard:
    """One call's guard. It follows the generated text token by token. Inside a label, no token may close it
    while the label it would close is refused, and at the token the model would pick (the most likely one
    the grammar allows) it steers at two points:

    - the model wants to close the label but the label is refused: only a token that starts a new word is
      allowed (a repeated "Gender" becomes "Gender Identity"); when the label has no word left to add, the
      guard cannot steer (a fallback: the label is then refused by validation and avoided by the retry);
    - the model wants to start a word the label has no room for: only closing is allowed, if the label as it
      stands is acceptable, else a fallback.

    Words the constraint bans (data-field words anywhere, leftover-bin words first) cannot start a word, and
    the last possible word cannot be a function word or complete a refused label.

    Steering at the model's own word boundaries keeps labels made of the model's words: a ban is never
    escaped by gluing letters onto a word it considered finished."""

    def __init__(self, constraint: LabelConstraint, tables: VocabTables):
        self.c, self.t = constraint, tables
        self.tracker = JsonLabelTracker(constraint.path, dict(constraint.text_fields))
        self.steered: dict[str, int] = {}      # kind of problem -> steps at which the guard changed the token
        self.fallbacks: dict[str, int] = {}    # kind of problem -> steps at which it could not steer
        self.lifted = 0                        # bans lifted because the grammar allowed nothing else
        self.drops: list[float] = []           # per steer: logit of the model's pick minus that of the steered one

    def accept(self, token: int) -> None:
        # latin-1 maps bytes 1:1, so quotes and backslashes (ASCII) are seen exactly even inside UTF-8 text
        self.tracker.feed(self.t.pieces[token].decode("latin-1"))

    def _count(self, d: dict, reason: str) -> None:
        kind = reason.split(":")[0]
        d[kind] = d.get(kind, 0) + 1

    def _words_left(self, cur: str) -> int:
        if self.c.new_word_chars is not None and len(cur) >= self.c.new_word_chars:
            return 0
        return self.c.max_words - 1 - cur.count(" ")

    def _closes_refused(self, cur: str, token: int) -> str | None:
        """Why closing the label with `token` (and the letters it writes before its quote) is refused."""
        return self.c.refuse(cur + self.t.pre_text(token), self.tracker.labels)

    def _word_ban(self, cur: str) -> np.ndarray | None:
        """Tokens that would write a banned word as the label's next word, or None when no word is banned.
        A word is started by a token with a leading space, or by any token at the label's start or after a
        space written alone."""
        c = self.c
        if cur == "":
            base = self.t.word_mask(c.banned_words | c.banned_first_words, c.word_key) & ~self.t.starts_space
        elif cur.endswith(" "):
            base = self.t.word_mask(c.banned_words, c.word_key) & ~self.t.starts_space
        else:
            base = self.t.word_mask(c.banned_words, c.word_key) & self.t.starts_space
        last = self._last_words(cur) | self._overlap_words(cur)
        ids = []
        if last:
            spaced, bare = self.t.word_ids(c.word_key)
            lookup = bare if (cur == "" or cur.endswith(" ")) else spaced
            ids = [i for w in last for i in lookup.get(w, ())]
        ids += self._glue_ids(cur)
        if not ids:
            return base if base.any() else None
        ban = base.copy()
        ban[ids] = True
        return ban

    def _overlap_words(self, cur: str, written: str | None = None) -> set[str]:
        """Words that would make the label contain every word of an earlier label ("Brand" after "Brand",
        "Group" in "Age ..." after "Age Group"): with the words of `written` (default: all of `cur`, the
        word in progress counted as finished), the one word each earlier label still lacks. Nothing when the
        constraint allows overlaps."""
        if not self.c.no_overlap or not self.tracker.labels:
            return set()
        have = set(self.c.word_key(cur if written is None else written).split())
        out = set()
        for e in self.tracker.labels:
            missing = set(self.c.word_key(e).split()) - have
            if len(missing) == 1:
                out |= missing
        return out

    def _glue_ids(self, cur: str) -> list[int]:
        """Tokens that would finish the word being written (no space yet) as a banned word: "Sub" + "category",
        "Subcategor" + "ies". Whole-word tokens are banned where a word starts; this covers a word spelt in
        several tokens. So do the words that would complete a refused label of two or more words, and on the
        label's last possible word the function words and one-word refused labels."""
        if not cur or cur.endswith(" "):
            return []
        # the word in progress: after the last space, hyphen, underscore or slash ("By-" + "Age": label_key
        # reads "By-Age" as two words)
        part = re.split(r"[ \-_/]", cur)[-1]
        head = cur[:len(cur) - len(part)]
        low = part.lower()
        if low and not low.isalpha():
            return []
        words = set(self.c.banned_words) | (set(self.c.banned_first_words) if not head.strip() else set())
        words |= self._overlap_words(cur, written=head)
        if self.c.refused_keys is not None and head.strip():
            words |= self._completions(head.strip())
        if self._words_left(cur) <= 0:
            words |= set(self.c.last_word_bans)
            if self.c.refused_keys is not None and not head.strip():
                words |= {k for k in self.c.refused_keys(self.tracker.labels) if " " not in k}
        bare = self.t.bare_lower_ids()
        out = []
        for w in words:
            forms = {w, w + "s"} | ({w[:-1] + "ies"} if w.endswith("y") else set())
            for f in forms:
                if len(f) > len(low) and f.startswith(low):
                    out += bare.get(f[len(low):], ())
        return out

    def _last_words(self, cur: str) -> set[str]:
        """Words the label's next word may not be: any word that would complete a refused label of two or more
        words ("Pop" + "Culture" for a category "Pop Culture": forced to go on, the model wrote "Pop Culture
        ert"); when it is the label's last possible word, also the function words and the word that would
        complete a one-word refused label."""
        if not cur.strip():
            return set()
        # the next word is the last one: a spaced token would start it, or a space was just written alone
        starts_last = ((not cur.endswith(" ") and self._words_left(cur) == 1)
                       or (cur.endswith(" ") and self._words_left(cur) == 0))
        memo = self.__dict__.setdefault("_last_memo", {})
        key = (cur.strip(), len(self.tracker.labels), starts_last)
        if key not in memo:
            out = set(self.c.last_word_bans) if starts_last else set()
            if self.c.refused_keys is not None:
                out |= self._completions(cur.strip())
            memo[key] = out
        return memo[key]

    def _completions(self, head: str) -> set[str]:
        """The words that, after the words of `head` (non-empty), make a refused label (memoized per head and
        number of finished labels: the refused keys change only when a label is finished)."""
        memo = self.__dict__.setdefault("_completion_memo", {})
        key = (head, len(self.tracker.labels))
        if key not in memo:
            prefix = self.c.word_key(head) + " "
            memo[key] = {k[len(prefix):] for k in self.c.refused_keys(self.tracker.labels)
                         if k.startswith(prefix) and " " not in k[len(prefix):]}
        return memo[key]

    def may_steer(self, top: int) -> bool:
        """Whether the guard would change a greedy pick of `top` (cheap: the fast path's question)."""
        cur = self.tracker.current
        if cur is None:
            text = self.tracker.current_text
            if text is None:
                return False
            if self.t.has_quote[top]:
                return not sentence_finished(text + self.t.pre_text(top))
            return len(text) >= self._soft()
        words = self._word_ban(cur)
        if words is not None and words[top]:
            return True
        if self.t.has_quote[top]:
            return self._closes_refused(cur, top) is not None
        return bool(self.t.starts_space[top]) and self._words_left(cur) <= 0

    def steer(self, cand: np.ndarray, top: int) -> None:
        """Ban tokens among the candidates the grammar allowed (finite logits), given `top`, the most likely of
        them: every closing token that would close a refused label; if `top` is one of those, everything but a
        new word (or, with no word left, nothing: a fallback); if `top` starts a word the label has no room
        for, everything but closing (if the label is fine as it stands). `cand` is llama.cpp's candidate array
        viewed as (id, logit, p); a ban that would leave no candidate is lifted."""
        cur = self.tracker.current
        if cur is None:
            if self.tracker.current_text is not None:
                self._steer_text(cand, top, self.tracker.current_text)
            return
        logits, ids = cand["logit"], cand["id"]
        finite = np.isfinite(logits)
        closers = np.flatnonzero(finite & self.t.has_quote[ids])
        refused = {int(ids[j]): self._closes_refused(cur, int(ids[j])) for j in closers}
        ban = np.zeros(len(cand), dtype=bool)
        ban[closers] = [refused[int(ids[j])] is not None for j in closers]
        words_left = self._words_left(cur)
        word_ban = self._word_ban(cur)
        if word_ban is not None:              # a data-field word, a leftover-bin first word: never written
            if word_ban[top]:
                self._count(self.steered, "banned word")
            ban |= word_ban[ids]
        top_reason = refused.get(top)
        if top_reason is not None:
            if self.t.pre_len[top] > 0:           # a word end and the quote in one token: ban closing only
                self._count(self.steered, top_reason)
            elif words_left > 0:                  # the model meant to stop here: it gets another word instead
                self._count(self.steered, top_reason)
                ban |= self.t.only_new_word[ids]
            else:
                self._count(self.fallbacks, top_reason)
                return
        elif self.t.starts_space[top] and words_left <= 0:
            reason = self.c.refuse(cur, self.tracker.labels)
            if reason is not None:
                self._count(self.fallbacks, reason)
                return
            self._count(self.steered, "word budget")
            ban |= self.t.only_close[ids]
        self.apply_ban(cand, ban, by_position=True)

    def _soft(self) -> int:
        return int(self.tracker.text_cap * self.c.text_soft)

    def _steer_text(self, cand: np.ndarray, top: int, text: str) -> None:
        """Inside a text field: no closing before a sentence has ended; past the soft point a pull towards
        ending the sentence, and once it has ended, only closing."""
        logits, ids = cand["logit"], cand["id"]
        finite = np.isfinite(logits)
        ban = np.zeros(len(cand), dtype=bool)
        for j in np.flatnonzero(finite & self.t.has_quote[ids]):
            ban[j] = not sentence_finished(text + self.t.pre_text(int(ids[j])))
        soft = self._soft()
        if len(text) >= soft:
            if sentence_finished(text):
                ban |= self.t.only_close[ids]
                if not self.t.pure_close[top]:
                    self._count(self.steered, "sentence ended: close")
            else:
                pull = 4.0 + 0.5 * (len(text) - soft)         # ~2 per token of ~4 characters, as the slots do
                ends = finite & self.t.ends_sentence[ids] & ~ban
                if ends.any():
                    before = int(np.argmax(np.where(finite, logits, -np.inf)))
                    logits[ends] += pull
                    if int(np.argmax(np.where(finite, logits, -np.inf))) != before:
                        self._count(self.steered, "sentence end pulled")
        if self.t.has_quote[top] and not sentence_finished(text + self.t.pre_text(top)):
            self._count(self.steered, "unfinished sentence")
        self.apply_ban(cand, ban, by_position=True)

    def apply_ban(self, cand: np.ndarray, ban: np.ndarray, by_position: bool = False) -> None:
        """Set banned candidates that the grammar allowed to -inf, unless that would leave none (then the ban
        is lifted and counted). `ban` is indexed by token id, or by candidate position with `by_position`."""
        logits = cand["logit"]
        finite = np.isfinite(logits)
        hit = (ban if by_position else ban[cand["id"]]) & finite
        if not hit.any():
            return
        if (finite & ~hit).any():
            if hit[int(np.argmax(np.where(finite, logits, -np.inf)))]:     # the model's pick was banned
                self.drops.append(round(float(logits[finite].max() - logits[finite & ~hit].max()), 2))
            logits[hit] = -np.inf
        else:
            self.lifted += 1

    def apply_after_grammar(self, cand: np.ndarray) -> None:
        """The guard as a step after a full grammar pass (sampling): steer from the most likely allowed token."""
        if self.tracker.current is None and self.tracker.current_text is None:
            return
        logits = cand["logit"]
        if not np.isfinite(logits).any():
            return
        self.steer(cand, int(cand["id"][int(np.argmax(logits))]))

    def stats(self) -> dict:
        return {"applied": True, "labels": list(self.tracker.labels), "steered": self.steered,
                "fallbacks": sum(self.fallbacks.values()) + self.lifted, "fallback_kinds": self.fallbacks,
                "steer_drops": self.drops}
