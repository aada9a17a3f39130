"""Slot decoding: several answers decoded together in one llama.cpp batch, in a line format whose fixed
parts are inserted rather than generated.

Two levers, both measured by `bench/bench_knowledge.py`:

- **Parallel sequences.** Up to `n_slots` requests share one llama.cpp context (one sequence id each, a
  unified KV cache). Every step decodes one batch holding the next token of every sequence that is
  generating plus a chunk of any prompt still being read, so the weights are read once for several
  tokens. A new request starts from the longest prompt prefix any sequence already holds (the shared
  instructions and taxonomy), copied in the KV cache, not recomputed.
- **Fixed parts are not generated.** An answer follows a `Program`: literal text (headers, a dimension's
  label, separators) alternating with free `Slot`s the model fills. Literal text is tokenised and fed in
  the next batch; only slot tokens are sampled, from the tokens the slot allows:
  - a `text` slot (one sentence) cannot contain the field separator or a line break, and can only be
    closed after a full stop: the sentence is finished by the model, never cut by a character cap;
  - a `list` slot holds `min_items`..`max_items` short items separated by ';' (no commas, no separator),
    each at most `item_tokens` tokens.
  A slot that reaches its token cap without finishing is closed anyway and the answer is validated like
  any other (an unfinished sentence is then refused by the caller's rules, and retried).

Sampling is greedy at temperature 0 (argmax over the allowed tokens) and otherwise seeded top-p sampling,
so an attempt is reproducible from its seed. The engine runs in one background thread; `complete()` may be
called from several threads at once and each call waits for its own answer.
"""
from __future__ import annotations

import ctypes
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from .backend import Completion

SENTENCE_END = (".", "!", "?")


@dataclass(frozen=True)
class Slot:
    kind: str                     # "text" (one sentence) | "list" (items separated by ';')
    end: str                      # what closes it: "|" (the field separator) or "\n" (end of line)
    max_tokens: int = 32          # text: tokens of the sentence
    soft_tokens: int = 20         # text: from here on, tokens that end a sentence are favoured, more at each token
    min_items: int = 1            # list
    max_items: int = 1
    item_tokens: int = 8          # list: tokens per item

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in ("kind", "end", "max_tokens", "soft_tokens", "min_items",
                                               "max_items", "item_tokens")}


@dataclass(frozen=True)
class Program:
    """Literal strings and slots, in order. The answer is their concatenation."""
    steps: tuple                  # of str | Slot

    def describe(self) -> list:
        return [s if isinstance(s, str) else s.describe() for s in self.steps]


class VocabMasks:
    """Boolean masks over the vocabulary, built once per model from the token pieces."""

    def __init__(self, pieces: list[bytes], control: np.ndarray):
        n = len(pieces)
        text = [p.decode("utf-8", errors="replace") for p in pieces]
        self.text = text
        ok = np.array([bool(t) and not c for t, c in zip(text, control)], dtype=bool)
        has = lambda chars: np.array([any(ch in t for ch in chars) for t in text], dtype=bool)  # noqa: E731
        bad_any = has("|\n\r\t<>")
        self.sentence = ok & ~bad_any & ~has(";:")                      # inside a text slot (one sentence)
        self.item = ok & ~bad_any & ~has(";,:()")                       # inside a list item
        self.bar = np.array([t.strip() == "|" for t in text], dtype=bool) & ok
        self.semi = np.array([t.strip() == ";" for t in text], dtype=bool) & ok
        self.newline = np.array([t == "\n" for t in text], dtype=bool) & ok
        self.ends_sentence = np.array([t.rstrip().endswith(SENTENCE_END) for t in text], dtype=bool) & self.sentence
        self.blank = np.array([not t.strip() for t in text], dtype=bool)
        self.punct = np.array([bool(t.strip()) and not any(ch.isalnum() for ch in t) for t in text], dtype=bool)
        assert self.bar.any() and self.semi.any() and self.newline.any(), "vocabulary lacks '|', ';' or a line break"

    def end_mask(self, end: str) -> np.ndarray:
        return self.bar if end == "|" else self.newline


class _SlotState:
    def __init__(self, slot: Slot):
        self.slot = slot
        self.tokens = 0              # text: tokens so far; list: tokens of the current item
        self.items = 0               # list: items closed so far
        self.text = ""               # the current sentence / item
        self.history: list[int] = []  # every token of the slot (separators included)

    def repeats(self) -> list[int]:
        """Tokens that would repeat an n-gram of this slot: n = 3 in a sentence, 2 in a list (so 'Katy Perry,
        Katy Perry, ...' or 'spray; spray; spray' cannot be written; the model has to say something else)."""
        n = 3 if self.slot.kind == "text" else 2
        h = self.history
        if len(h) < n - 1:
            return []
        tail = tuple(h[len(h) - (n - 1):])
        return [h[i + n - 1] for i in range(len(h) - n + 1) if tuple(h[i:i + n - 1]) == tail]


class Request:
    def __init__(self, prompt: list[int], program: Program, max_tokens: int, temperature: float, seed: int | None,
                 tokenize):
        self.prompt, self.program = prompt, program
        self.max_tokens, self.temperature = max_tokens, temperature
        self.rng = np.random.default_rng(seed if seed is not None else 0)
        self.tokenize = tokenize
        self.step = 0                       # index into program.steps
        self.state: _SlotState | None = None
        self.pending: list[int] = []        # tokens to feed next
        self.out_tokens: list[int] = []     # answer tokens (forced and sampled)
        self.out = bytearray()
        self.sampled = self.forced = 0
        self.reused = 0                     # prompt tokens found in the KV cache
        self.finish = "stop"
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.t0 = self.t1 = 0.0

    # the program -----------------------------------------------------------------------------------
    def advance(self) -> bool:
        """Move past literal steps (queueing their tokens); True when a slot is open, False when done."""
        while self.step < len(self.program.steps):
            s = self.program.steps[self.step]
            if isinstance(s, Slot):
                self.state = _SlotState(s)
                return True
            toks = self.tokenize(s)
            self.pending.extend(toks)
            self.out_tokens.extend(toks)
            self.out.extend(s.encode("utf-8"))
            self.forced += len(toks)
            self.step += 1
        self.state = None
        return False


class SlotEngine:
    """Decodes `Request`s in parallel on one llama.cpp context. `llm` is a llama_cpp.Llama (its model,
    vocabulary and chat template are used; its own context is not)."""

    def __init__(self, llm, n_slots: int = 4, n_threads: int = 2, ctx_per_slot: int = 2048, chunk: int = 128,
                 kv_unified: bool = True):
        import llama_cpp
        self.lib, self.llm, self.n_slots, self.chunk = llama_cpp, llm, n_slots, chunk
        self.kv_unified = kv_unified
        p = llama_cpp.llama_context_default_params()
        p.n_ctx = n_slots * ctx_per_slot
        p.n_batch = p.n_ubatch = max(512, chunk + n_slots)
        p.n_seq_max = n_slots
        p.n_threads = p.n_threads_batch = n_threads
        # unified: one KV buffer, every sequence attends over the used range of all of them (masked), and a
        # prefix is shared by reference; per-sequence: each attends over its own buffer only, and a prefix
        # from another sequence is a copy of that sequence's whole buffer (llama.cpp copies streams whole)
        p.kv_unified = kv_unified
        p.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(llm._model.model, p)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context for parallel decoding")
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.n_batch = p.n_batch
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, n_slots)
        self.n_vocab = llm.n_vocab()
        vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        from .label_guard import vocab_tables
        pieces = vocab_tables(llm).pieces
        control = np.array([bool(llama_cpp.llama_vocab_is_control(vocab, i)) or bool(llama_cpp.llama_vocab_is_eog(vocab, i))
                            for i in range(self.n_vocab)], dtype=bool)
        self.pieces = pieces
        self.masks = VocabMasks(pieces, control)
        self.cached: list[list[int]] = [[] for _ in range(n_slots)]   # tokens held in the KV cache per sequence
        self.active: list[Request | None] = [None] * n_slots
        self.queue: deque[Request] = deque()
        self.cv = threading.Condition()
        self.thread: threading.Thread | None = None
        self.steps = 0
        self.tokens_decoded = 0
        self.decode_s = self.sample_s = 0.0      # where the time goes (bench_knowledge prints them)
        self._tok_cache: dict[str, list[int]] = {}

    # ---- public ----------------------------------------------------------------------------------------
    def tokenize_text(self, s: str) -> list[int]:
        if s not in self._tok_cache:
            self._tok_cache[s] = self.llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
        return self._tok_cache[s]

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        fmt = getattr(self, "_formatter", None)
        if fmt is None:
            md = self.llm.metadata
            eos = self.llm._model.token_get_text(self.llm.token_eos())
            bos = self.llm._model.token_get_text(self.llm.token_bos()) if self.llm.token_bos() >= 0 else ""
            fmt = self._formatter = Jinja2ChatFormatter(template=md["tokenizer.chat_template"], eos_token=eos,
                                                        bos_token=bos)
        text = fmt(messages=messages).prompt
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def submit(self, messages: list[dict], program: Program, *, max_tokens: int, temperature: float = 0.0,
               seed: int | None = None) -> Request:
        req = Request(self.prompt_tokens(messages), program, max_tokens, temperature, seed, self.tokenize_text)
        with self.cv:
            self.queue.append(req)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="slot-engine", daemon=True)
                self.thread.start()
            self.cv.notify_all()
        return req

    def complete(self, messages: list[dict], program: Program, *, max_tokens: int, temperature: float = 0.0,
                 seed: int | None = None) -> Completion:
        req = self.submit(messages, program, max_tokens=max_tokens, temperature=temperature, seed=seed)
        req.done.wait()
        if req.error is not None:
            raise req.error
        text = bytes(req.out).decode("utf-8", errors="replace")
        return Completion(text=text, prompt_tokens=len(req.prompt), completion_tokens=len(req.out_tokens),
                          latency_s=req.t1 - req.t0, finish_reason=req.finish,
                          extra={"sampled_tokens": req.sampled, "forced_tokens": req.forced,
                                 "prompt_tokens_reused": req.reused, "parallel_slots": self.n_slots})

    # ---- the loop --------------------------------------------------------------------------------------
    def _assign(self) -> None:
        for s in range(self.n_slots):
            if self.active[s] is not None or not self.queue:
                continue
            req = self.queue.popleft()
            req.t0 = time.perf_counter()
            # the longest prefix of this prompt that any sequence holds (keep one token to read for logits)
            best, src = 0, s
            for o in range(self.n_slots):
                n = _common(self.cached[o], req.prompt)
                if n > best or (n == best and o == s):
                    best, src = n, o
            best = min(best, len(req.prompt) - 1)
            if src == s:
                self.lib.llama_memory_seq_rm(self.mem, s, best, -1)
            elif self.kv_unified:
                self.lib.llama_memory_seq_rm(self.mem, s, -1, -1)
                self.lib.llama_memory_seq_cp(self.mem, src, s, 0, best)
            else:                           # streams are copied whole, then cut back to the shared prefix
                self.lib.llama_memory_seq_rm(self.mem, s, -1, -1)
                self.lib.llama_memory_seq_cp(self.mem, src, s, -1, -1)
                self.lib.llama_memory_seq_rm(self.mem, s, best, -1)
            self.cached[s] = list(req.prompt[:best])
            req.reused = best
            req.pending = list(req.prompt[best:])
            if not req.advance():       # a program without slots: only literal text
                self._finish(s, req)
                continue
            self.active[s] = req

    def _finish(self, s: int, req: Request, error: BaseException | None = None) -> None:
        req.t1 = time.perf_counter()
        req.error = error
        self.active[s] = None
        req.done.set()

    def _loop(self) -> None:
        while True:
            with self.cv:
                self._assign()
                while not any(self.active) and not self.queue:
                    if not self.cv.wait(timeout=30):
                        self.thread = None
                        return
                    self._assign()
            try:
                self._step()
            except BaseException as e:  # noqa: BLE001 - every request in flight learns of it
                for s, r in enumerate(self.active):
                    if r is not None:
                        self.cached[s] = []
                        self.lib.llama_memory_seq_rm(self.mem, s, -1, -1)
                        self._finish(s, r, e)

    def _step(self) -> None:
        b, n = self.batch, 0
        wants: list[tuple[int, int]] = []          # (slot, batch index whose logits it samples from)
        budget = self.n_batch
        # generating sequences first (one or a few tokens each), then prompt chunks
        order = sorted((s for s, r in enumerate(self.active) if r is not None),
                       key=lambda s: len(self.active[s].pending))
        for s in order:
            req = self.active[s]
            take = min(len(req.pending), self.chunk, budget - n)
            if take <= 0:
                continue
            pos0 = len(self.cached[s])
            for j in range(take):
                b.token[n] = req.pending[j]
                b.pos[n] = pos0 + j
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = s
                b.logits[n] = 0
                n += 1
            self.cached[s].extend(req.pending[:take])
            del req.pending[:take]
            if not req.pending:
                b.logits[n - 1] = 1
                wants.append((s, n - 1))
        if n == 0:
            return
        b.n_tokens = n
        t0 = time.perf_counter()
        rc = self.lib.llama_decode(self.ctx, b)
        t1 = time.perf_counter()
        self.decode_s += t1 - t0
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc} (batch of {n} tokens; KV cache full?)")
        self.steps += 1
        self.tokens_decoded += n
        for s, i in wants:
            req = self.active[s]
            ptr = self.lib.llama_get_logits_ith(self.ctx, i)
            logits = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,))
            self._sample(s, req, logits)
        self.sample_s += time.perf_counter() - t1

    # ---- one token -------------------------------------------------------------------------------------
    def _pick(self, req: Request, logits: np.ndarray, allowed: np.ndarray, bias: np.ndarray | None = None) -> int:
        if req.temperature <= 0 and bias is None:
            top = int(np.argmax(logits))
            if allowed[top]:
                return top
        z = np.where(allowed, logits, -np.inf)
        if bias is not None:
            z = z + bias
        if req.temperature <= 0:
            return int(np.argmax(z))
        idx = np.flatnonzero(allowed)
        zz = z[idx] / req.temperature
        zz = np.exp(zz - zz.max())
        p = zz / zz.sum()
        order = np.argsort(-p)
        keep = order[: max(1, int(np.searchsorted(np.cumsum(p[order]), 0.95)) + 1)]
        q = p[keep] / p[keep].sum()
        return int(idx[keep[req.rng.choice(len(keep), p=q)]])

    def _sample(self, s: int, req: Request, logits: np.ndarray) -> None:
        st, m = req.state, self.masks
        slot = st.slot
        end = m.end_mask(slot.end)
        bias = None
        if slot.kind == "text":
            t = st.text.rstrip()
            finished = t.endswith(SENTENCE_END)
            # "costs $12." may go on to "$12.45.": after a digit, a full stop may be a decimal point
            decimal = finished and t.endswith(".") and len(t) > 1 and t[-2].isdigit()
            if st.tokens >= slot.max_tokens or (finished and (not decimal or st.tokens >= slot.soft_tokens)):
                allowed = end                         # one sentence: once it has ended, the field closes
            else:
                allowed = m.sentence.copy()
                if finished and not decimal:          # "$8." is not an ending: the decimals or more must follow
                    allowed |= end
                if st.tokens >= slot.soft_tokens:      # a growing pull towards ending the sentence
                    pull = 4.0 + 2.0 * (st.tokens - slot.soft_tokens)
                    bias = np.where(m.ends_sentence, pull, 0.0).astype(np.float32)
            if not st.text.strip():
                allowed = allowed & ~m.blank & ~end
        else:
            has_item = bool(st.text.strip())
            can_sep = st.items + 1 < slot.max_items
            can_end = st.items + 1 >= slot.min_items
            item = m.item if st.text[-1:].isdigit() else m.item & ~m.punct     # "1.7 oz", never ". ."
            if not has_item:
                allowed = item & ~m.blank
            elif st.tokens >= slot.item_tokens:
                allowed = (m.semi if can_sep else 0) | (end if can_end else 0)
            else:
                allowed = item | (m.semi if can_sep else False) | (end if can_end else False)
        rep = [t for t in st.repeats() if not (m.semi[t] or end[t])]     # closing an item is never a repeat
        if rep:
            keep = np.array(allowed, dtype=bool, copy=True)
            keep[rep] = False
            if keep.any():                                # never leave the slot without a way on
                allowed = keep
        tok = self._pick(req, logits, allowed, bias)
        st.history.append(tok)
        piece = self.pieces[tok]
        req.pending.append(tok)
        req.out_tokens.append(tok)
        req.out.extend(piece)
        req.sampled += 1
        text = self.masks.text[tok]
        if end[tok]:
            req.step += 1
            if not req.advance():       # the answer is complete; its last token is never fed
                req.pending.clear()
                self._finish(s, req)
                return
        elif slot.kind == "list" and m.semi[tok]:
            st.items += 1
            st.tokens, st.text = 0, ""
        else:
            st.tokens += 1
            st.text += text
        if len(req.out_tokens) >= req.max_tokens:
            req.finish = "length"
            req.pending.clear()
            self._finish(s, req)


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
