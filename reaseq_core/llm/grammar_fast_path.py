"""Grammar-constrained greedy decoding without checking the whole vocabulary at every token.

llama-cpp-python's sampler chain applies the JSON-schema grammar to every one of the model's ~151k
candidate tokens before it picks one; on this CPU that check costs more than the forward pass itself
(structured decoding ran at ~8 tokens/s against ~25 unconstrained). llama.cpp's own command-line sampler
avoids it: pick the token first, ask the grammar about that one token, and only when the grammar rejects it
constrain the whole vocabulary and pick again. For greedy decoding (temperature 0, which the knowledge
agents use for their first attempt) both orders choose the same token:

- if the unconstrained argmax is allowed, it is also the argmax over the allowed tokens;
- if it is not, the next candidates are checked in logit order; the first allowed one is the argmax over
  the allowed tokens once the rejected ones are masked (-inf, as the grammar would mask them);
- if none of the top 16 is allowed, the full grammar pass runs and greedy picks as the stock chain does.

So the generated text is identical (tests/test_llm_embedded.py checks it against the stock chain on the real
model) and the call cache keys do not change. Sampling at temperature > 0 keeps the stock chain.

A call with a label constraint (label_guard.py) gets its own chain: penalties -> grammar -> label guard ->
greedy (or top-k / typical / top-p / min-p / temperature / seeded dist, as the stock chain samples). The
guard looks at the most likely token the grammar allows; in the greedy fast path that is the token the top
check found, and when the guard bans something the full grammar pass runs before the ban, so greedy takes
the argmax over the allowed, unbanned tokens exactly as the guarded stock chain does.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np

TOP_CHECK = 16          # candidates checked one by one before the whole vocabulary is
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


def _candidates(cur_p) -> np.ndarray:
    """A writable numpy view of llama.cpp's candidate array (id, logit, p)."""
    arr = cur_p.contents
    n = int(arr.size)
    raw = (ctypes.c_char * (n * _TOKEN_DATA.itemsize)).from_address(ctypes.addressof(arr.data.contents))
    return np.frombuffer(raw, dtype=_TOKEN_DATA)


class _PySampler:
    """A llama.cpp sampler implemented in Python (apply + accept callbacks)."""

    def __init__(self, llama_cpp):
        self.lib = llama_cpp
        # keep the callbacks referenced for as long as llama.cpp may call them
        self._apply = llama_cpp.llama_sampler_i_apply(self.apply)
        self._accept = llama_cpp.llama_sampler_i_accept(self.accept)
        self.iface = llama_cpp.llama_sampler_i()
        self.iface.apply, self.iface.accept = self._apply, self._accept
        self.iface.name = llama_cpp.llama_sampler_i_name(0)
        self.iface.reset = llama_cpp.llama_sampler_i_reset(0)
        self.iface.clone = llama_cpp.llama_sampler_i_clone(0)
        self.iface.free = llama_cpp.llama_sampler_i_free(0)
        self.sampler = llama_cpp.llama_sampler()
        self.sampler.iface = ctypes.pointer(self.iface)
        self.sampler.ctx = None

    def apply(self, _smpl, cur_p) -> None:
        raise NotImplementedError

    def accept(self, _smpl, token) -> None:
        raise NotImplementedError


class _GrammarCheck(_PySampler):
    """Runs the grammar on the top candidate first (and, with a label guard, skips the tokens it bans)."""

    def __init__(self, llama_cpp, grammar_sampler, guard=None):
        super().__init__(llama_cpp)
        self.grammar, self.guard = grammar_sampler, guard
        self.top_allowed = self.runner_up_allowed = self.full_passes = 0
        self._full = False                    # did this step's check already run the grammar on every candidate
        self._one = llama_cpp.llama_token_data()
        self._one_array = llama_cpp.llama_token_data_array(data=ctypes.pointer(self._one), size=1, selected=-1,
                                                           sorted=False)

    def _allowed(self, token: int, logit: float) -> bool:
        self._one.id, self._one.logit, self._one.p = token, logit, 0.0
        self._one_array.size, self._one_array.selected, self._one_array.sorted = 1, -1, False
        self.lib.llama_sampler_apply(self.grammar, ctypes.byref(self._one_array))
        return not (math.isinf(self._one.logit) and self._one.logit < 0)

    def apply(self, _smpl, cur_p) -> None:
        cand = _candidates(cur_p)
        top = self._top_allowed(cur_p, cand)
        if self.guard is None or top is None or not self.guard.may_steer(top):
            return
        if not self._full:                    # steering needs every candidate judged by the grammar
            self.lib.llama_sampler_apply(self.grammar, cur_p)
        self.guard.steer(cand, top)           # among what the grammar allows; lifted if it would leave nothing

    def _top_allowed(self, cur_p, cand) -> int | None:
        """Mask candidates so that greedy picks the most likely token the grammar allows; return its id."""
        logits, ids = cand["logit"], cand["id"]
        self._full = False
        best = int(np.argmax(logits))
        if self._allowed(int(ids[best]), float(logits[best])):
            self.top_allowed += 1
            return int(ids[best])
        # the next candidates by logit (ties: lower index first, as the greedy sampler breaks them); the
        # first one the grammar allows is the argmax over the allowed tokens once the rejected ones are -inf
        top = np.argpartition(-logits, TOP_CHECK)[:TOP_CHECK]
        top = top[np.lexsort((top, -logits[top]))]
        rejected = [best]
        for i in (int(j) for j in top if j != best):
            if self._allowed(int(ids[i]), float(logits[i])):
                logits[rejected] = -np.inf
                self.runner_up_allowed += 1
                return int(ids[i])
            rejected.append(i)
        self.full_passes += 1                 # none of them: constrain every candidate, as the stock chain does
        self.lib.llama_sampler_apply(self.grammar, cur_p)
        self._full = True
        if not np.isfinite(logits).any():
            return None
        return int(ids[int(np.argmax(logits))])

    def accept(self, _smpl, token) -> None:
        self.lib.llama_sampler_accept(self.grammar, token)
        if self.guard is not None:
            self.guard.accept(int(token))


class _GuardStep(_PySampler):
    """The label guard as a chain step after a full grammar pass (sampling, or the fast path switched off)."""

    def __init__(self, llama_cpp, guard):
        super().__init__(llama_cpp)
        self.guard = guard

    def apply(self, _smpl, cur_p) -> None:
        self.guard.apply_after_grammar(_candidates(cur_p))

    def accept(self, _smpl, token) -> None:
        self.guard.accept(int(token))


def _add_custom(chain, llama_cpp, custom: _PySampler) -> None:
    llama_cpp.llama_sampler_chain_add(chain.sampler, ctypes.pointer(custom.sampler))
    # custom samplers are removed from the chain before it is freed (llama.cpp must not free them)
    chain.custom_samplers.append((llama_cpp.llama_sampler_chain_n(chain.sampler) - 1, custom))


def _grammar_sampler(llama_cpp, llm, grammar):
    g = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, grammar._grammar.encode("utf-8"),
                                             grammar._root.encode("utf-8"))
    if not g:
        raise ValueError("llama.cpp could not parse the grammar built from the JSON schema")
    return g


def greedy_grammar_chain(llm, grammar, *, repeat_penalty: float = 1.0, frequency_penalty: float = 0.0,
                         presence_penalty: float = 0.0, guard=None):
    """The stock chain's penalties -> grammar -> greedy, with the grammar step checking the top token first."""
    import llama_cpp
    from llama_cpp import _internals
    chain = _internals.LlamaSampler()
    chain.add_penalties(n_vocab=llm._n_vocab, penalty_last_n=llm.last_n_tokens_size, penalty_repeat=repeat_penalty,
                        penalty_freq=frequency_penalty, penalty_present=presence_penalty)
    g = _grammar_sampler(llama_cpp, llm, grammar)
    check = _GrammarCheck(llama_cpp, g, guard)
    _add_custom(chain, llama_cpp, check)
    chain._exit_stack.callback(lambda: llama_cpp.llama_sampler_free(g))
    chain.add_greedy()
    llm.grammar_stats = check
    return chain


def guarded_chain(llm, grammar, guard, *, temp: float, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
                  typical_p: float = 1.0, repeat_penalty: float = 1.0, frequency_penalty: float = 0.0,
                  presence_penalty: float = 0.0, **_):
    """The stock chain with the label guard after the grammar: greedy at temperature 0, else the stock
    sampling steps with the call's seed."""
    import llama_cpp
    from llama_cpp import _internals
    if temp == 0.0 and llm.fast_grammar:
        return greedy_grammar_chain(llm, grammar, repeat_penalty=repeat_penalty, frequency_penalty=frequency_penalty,
                                    presence_penalty=presence_penalty, guard=guard)
    chain = _internals.LlamaSampler()
    chain.add_penalties(n_vocab=llm._n_vocab, penalty_last_n=llm.last_n_tokens_size, penalty_repeat=repeat_penalty,
                        penalty_freq=frequency_penalty, penalty_present=presence_penalty)
    chain.add_grammar(llm._model, grammar)
    _add_custom(chain, llama_cpp, _GuardStep(llama_cpp, guard))
    if temp == 0.0:
        chain.add_greedy()
    else:                                  # the stock chain's sampling steps (llama.py, Llama._init_sampler)
        chain.add_top_k(top_k)
        chain.add_typical(typical_p, 1)
        chain.add_top_p(top_p, 1)
        chain.add_min_p(min_p, 1)
        chain.add_temp(temp)
        chain.add_dist(llm._seed)
    return chain


def llama_class():
    """llama_cpp.Llama with the fast path for greedy grammar-constrained calls (`fast_grammar` switches it)."""
    from llama_cpp import Llama

    class FastGrammarLlama(Llama):
        fast_grammar = True
        grammar_stats: _GrammarCheck | None = None
        label_guard = None                 # set by EmbeddedBackend.complete for one call with a label constraint

        def _init_sampler(self, **kw):
            grammar = kw.get("grammar")
            if (self.label_guard is not None and grammar is not None and kw.get("logits_processor") is None
                    and not kw.get("mirostat_mode")):
                rest = {k: v for k, v in kw.items() if k != "grammar"}
                return guarded_chain(self, grammar, self.label_guard, **rest)
            if (self.fast_grammar and grammar is not None and kw.get("temp") == 0.0
                    and kw.get("logits_processor") is None and not kw.get("mirostat_mode")):
                return greedy_grammar_chain(self, grammar, repeat_penalty=kw.get("repeat_penalty", 1.0),
                                            frequency_penalty=kw.get("frequency_penalty", 0.0),
                                            presence_penalty=kw.get("presence_penalty", 0.0))
            return super()._init_sampler(**kw)

    return FastGrammarLlama
