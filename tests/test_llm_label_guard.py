"""The label guard's logic on a toy vocabulary (no model): where it finds labels in a JSON prefix, when it
steers (a refused label must take another word; a label out of words must close) and when it cannot."""
import numpy as np

from reaseq_core.knowledge import schemas
from reaseq_core.llm.label_guard import JsonLabelTracker, LabelConstraint, LabelGuard, VocabTables
from reaseq_core.llm.grammar_fast_path import _TOKEN_DATA

VOCAB = [b'"', b'",', b'"]', b" Identity", b"Gender", b"s", b" Care", b"Skin", b'r"', b"Gende", b" for", b"x"]
TOK = {p: i for i, p in enumerate(VOCAB)}


def test_tracker_finds_labels_at_their_path_only():
    t = JsonLabelTracker(("dimensions", "*", "label"))
    t.feed('{"reasoning_trace": "kept \\"label\\" as is", "dimensions": [{"label": "Gender", "rationale": "new", '
           '"mapped": ["label"]}, {"label": "Scent')
    assert t.labels == ["Gender"] and t.current == "Scent"
    t.feed(' Mood"}, {"rationale": "adapted"')
    assert t.labels == ["Gender", "Scent Mood"] and t.current is None
    flat = JsonLabelTracker(("dimensions", "*"))
    flat.feed('{"decisions": ["a, b", "c"], "analysis": "x", "dimensions": ["Budget", "Gift Giv')
    assert flat.labels == ["Budget"] and flat.current == "Gift Giv"


def _guard(prefix: str, max_words: int = 3, new_word_chars=None) -> LabelGuard:
    rule = schemas.label_constraint(("dimensions", "*"), "demand", {"Skin Care"}, new_word_chars or 99)(())
    c = LabelConstraint(rule.path, rule.refuse, max_words=max_words, new_word_chars=new_word_chars, rules=rule.rules)
    g = LabelGuard(c, VocabTables(VOCAB))
    g.tracker.feed(prefix)
    return g


def _cand(logits: dict, vocab: list = VOCAB) -> np.ndarray:
    """llama.cpp's candidate array over `vocab`: the given pieces at their logits, every other one -inf."""
    cand = np.zeros(len(vocab), dtype=_TOKEN_DATA)
    cand["id"] = np.arange(len(vocab))
    cand["logit"] = -np.inf
    for piece, v in logits.items():
        cand["logit"][vocab.index(piece)] = v
    return cand


ALL = {p: 0.0 for p in VOCAB}                          # every token allowed by the grammar, equally likely


def _left(g: LabelGuard, top: bytes, allowed=None) -> set[bytes]:
    """The tokens still allowed after the guard steered from `top` (the model's most likely token)."""
    cand = _cand({**(allowed or ALL), top: 1.0})
    g.steer(cand, TOK[top])
    return {VOCAB[i] for i in np.flatnonzero(np.isfinite(cand["logit"]))}


def test_a_repeat_must_take_another_word():
    g = _guard('{"dimensions": ["Gender", "Gender')
    assert g.may_steer(TOK[b'",']) and not g.may_steer(TOK[b"x"])
    assert g.may_steer(TOK[b"s"])                        # "Genders" is "Gender" again
    assert _left(g, b'",') == {b" Identity", b" Care", b" for"}          # only a new word is left
    assert g.steered == {"repeated": 1}
    g = _guard('{"dimensions": ["Gender", "Gender')
    left = _left(g, b"x")                                # mid-word: the model writes its word ...
    assert b"x" in left and b"s" not in left and not left & {b'"', b'",', b'"]'}    # ... but cannot close here


def test_closing_with_a_word_end_in_one_token_is_checked_too():
    g = _guard('{"dimensions": ["Gender", "Gende')
    assert g.may_steer(TOK[b'r"'])                       # 'r"' would close "Gender": a repeat
    left = _left(g, b'r"')
    assert b'r"' not in left and b"Gender" in left and b" Identity" in left


def test_category_name_and_function_word_take_another_word():
    g = _guard('{"dimensions": ["Skin Care')
    assert _left(g, b'"]') == {b" Identity", b" Care", b" for"} and g.steered == {"category name": 1}
    g = _guard('{"dimensions": ["Gift for')
    assert b'"' not in _left(g, b'"') and g.steered == {"function word": 1}
    g = _guard('{"dimensions": ["Budget')
    assert not g.may_steer(TOK[b'",']) and _left(g, b'",') == set(VOCAB)   # fine as it is


def test_out_of_words_closes_or_falls_back():
    g = _guard('{"dimensions": ["Daily Skin Routine', max_words=3)
    assert g.may_steer(TOK[b" Care"])                    # a 4th word: not allowed, the label closes instead
    assert _left(g, b" Care") == {b'"', b'",', b'"]'} and g.steered == {"word budget": 1}
    g = _guard('{"dimensions": ["Budget", "Gift for', max_words=2)
    assert _left(g, b'"') == set(VOCAB) and g.fallbacks == {"function word": 1}   # cannot steer: validation refuses
    g = _guard('{"dimensions": ["Hair Long', max_words=3, new_word_chars=8)
    assert g.may_steer(TOK[b" Care"])                    # past the soft character budget no word starts


def test_a_ban_that_would_leave_nothing_is_lifted():
    g = _guard('{"dimensions": ["Gender", "Gender')
    assert _left(g, b'",', allowed={b'",': 0.0}) == {b'",'}     # the grammar allows nothing but closing
    assert g.lifted == 1 and g.stats()["fallbacks"] == 1


def test_outside_labels_nothing_is_banned():
    g = _guard('{"decisions": ["Gender')
    assert not g.may_steer(TOK[b'",']) and _left(g, b'",') == set(VOCAB)
    g.apply_after_grammar(_cand({b'",': 1.0}))
    assert g.stats()["steered"] == {}


def test_banned_words_cannot_start_a_word():
    vocab = [b"Other", b" Title", b"Title", b"Skin", b" Care", b'"', b" Categories", b"title"]
    rule = schemas.label_constraint(("dimensions", "*"), "attribute", set(), 99)(())
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["')
    c = _cand_of(vocab)
    g.steer(c, 0)                                        # "Other" as a first word: a leftover bin
    left = {vocab[i] for i in np.flatnonzero(np.isfinite(c["logit"]))}
    assert b"Other" not in left and b"Title" not in left and b"Skin" in left and g.steered == {"banned word": 1}
    g.tracker.feed("Skin")
    c = _cand_of(vocab)
    g.steer(c, 1)                                        # " Title" / " Categories" as a later word: data fields
    left = {vocab[i] for i in np.flatnonzero(np.isfinite(c["logit"]))}
    assert not left & {b" Title", b" Categories"} and b" Care" in left and b"title" in left   # mid-word is fine


def _cand_of(vocab):
    cand = np.zeros(len(vocab), dtype=_TOKEN_DATA)
    cand["id"] = np.arange(len(vocab))
    cand["logit"] = 0.0
    return cand


def test_the_last_word_cannot_complete_a_refused_label_or_be_a_function_word():
    vocab = [b"Product", b" Name", b" and", b" Type", b" Shade", b'"', b"Type", b" for", b" &"]
    rule = schemas.label_constraint(("dimensions", "*"), "attribute", set(), 99)(())
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Product Name Type", "Product Name')
    c = _cand_of(vocab)
    assert g.may_steer(2)                               # " and" would be the last word: a function word
    g.steer(c, 2)
    left = {vocab[i] for i in np.flatnonzero(np.isfinite(c["logit"]))}
    assert not left & {b" and", b" for", b" &", b" Type"} and b" Shade" in left   # " Type" would repeat a label
    g2 = LabelGuard(rule, VocabTables(vocab))
    g2.tracker.feed('{"dimensions": ["Product')         # two words still to go: nothing banned yet
    assert not g2.may_steer(2) and not g2.may_steer(3)


def test_a_banned_word_spelt_in_pieces_is_caught_at_its_last_piece():
    """Magazine's attribute taxonomy wrote "Brand Subcategory Subtype" at 5 of 5 attempts: "Subcategory" came
    as " Sub" + "category", and only whole-word tokens were banned. The piece that would finish a banned word
    (or, on the last word, a word completing a refused label) is banned now; other continuations are not."""
    vocab = [b'"', b'",', b" Brand", b" Sub", b"category", b"categor", b"ies", b"type", b" Type", b"ject", b"Sub"]
    tok = {p: i for i, p in enumerate(vocab)}
    rule = schemas.label_constraint(("dimensions", "*"), "attribute", set(), 99)(())
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Brand Sub')
    cand = np.zeros(len(vocab), dtype=_TOKEN_DATA)
    cand["id"] = np.arange(len(vocab))
    cand["logit"] = 0.0
    cand["logit"][tok[b"category"]] = 1.0
    assert g.may_steer(tok[b"category"]) and not g.may_steer(tok[b"ject"])
    g.steer(cand, tok[b"category"])
    left = {vocab[i] for i in np.flatnonzero(np.isfinite(cand["logit"]))}
    assert b"category" not in left and b"ject" in left and b"type" in left
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Subcategor')                       # the plural's last piece too
    assert g.may_steer(tok[b"ies"])
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Brand Kind Subtype", "Brand Kind Sub')   # last word: no repeat finished
    assert g.may_steer(tok[b"type"]) and not g.may_steer(tok[b"ject"])


def test_a_label_cannot_contain_an_earlier_one():
    """Orthogonal dimensions: after "Brand", neither "Brand Type" nor "Brand and Price" (Magazine's attribute
    taxonomy wrote both); after "Age Group", "Age" may start a label but "Group" may not follow it."""
    vocab = [b'"', b'",', b"Brand", b" Brand", b" Type", b" Group", b" Range", b"Age", b"Price", b"Gro", b"up"]
    tok = {p: i for i, p in enumerate(vocab)}
    rule = schemas.label_constraint(("dimensions", "*"), "attribute", set(), 99)(())
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Brand", "')
    assert g.may_steer(tok[b"Brand"]) and not g.may_steer(tok[b"Price"])
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Age Group", "Price", "Age')
    assert g.may_steer(tok[b" Group"]) and not g.may_steer(tok[b" Range"])
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Age Group", "Age Gro')                     # spelt in pieces
    assert g.may_steer(tok[b"up"])


def test_a_refused_label_of_several_words_cannot_be_completed():
    """"Pop Culture" is a category name: refused at closing, the model had to add a word and wrote "Pop Culture
    ert". Now the word that would complete it cannot be written, wherever the label stands; a one-word refused
    label ("Entertainment") is still refused only at closing, so it may start a longer label."""
    vocab = [b'"', b'",', b"Pop", b" Culture", b" Music", b"Cult", b"ure", b"Entertainment", b" Value"]
    tok = {p: i for i, p in enumerate(vocab)}
    names = {"Pop Culture", "Entertainment"}
    rule = schemas.label_constraint(("dimensions", "*"), "demand", names, 99)(())
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Pop')
    assert g.may_steer(tok[b" Culture"]) and not g.may_steer(tok[b" Music"])
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Pop Cult')
    assert g.may_steer(tok[b"ure"])
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["')
    assert not g.may_steer(tok[b"Entertainment"])
    g.tracker.feed("Entertainment")
    assert g.may_steer(tok[b'",']) and not g.may_steer(tok[b" Value"])


def test_a_hyphen_starts_a_word_for_the_guard_too():
    """"By-Age Group" after "Age": label_key reads "By-Age" as two words, so "Age" after the hyphen is an
    overlap, and so is a banned word after a hyphen ("Brand-Title")."""
    vocab = [b'"', b'",', b"By", b"-", b"Age", b"Title", b"Range", b"Ag", b"e"]
    tok = {p: i for i, p in enumerate(vocab)}
    rule = schemas.label_constraint(("dimensions", "*"), "attribute", set(), 99)(())
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Age", "By-')
    assert g.may_steer(tok[b"Age"]) and g.may_steer(tok[b"Title"]) and not g.may_steer(tok[b"Range"])
    g = LabelGuard(rule, VocabTables(vocab))
    g.tracker.feed('{"dimensions": ["Age", "By-Ag')
    assert g.may_steer(tok[b"e"])


def test_overlap_steering_follows_the_constraint():
    """The guard steers away from overlaps only where the constraint declares the rule (schemas sets it), and
    the call key names the rule only when it is off."""
    from dataclasses import replace
    vocab = [b'"', b'",', b"By", b"-", b"Age", b"Title", b"Range", b"Ag", b"e"]
    tok = {p: i for i, p in enumerate(vocab)}
    rule = schemas.label_constraint(("dimensions", "*"), "attribute", set(), 99)(())
    assert rule.no_overlap and "no_overlap" not in rule.describe()
    off = replace(rule, no_overlap=False)
    assert off.describe()["no_overlap"] is False
    for c, steers in ((rule, True), (off, False)):
        g = LabelGuard(c, VocabTables(vocab))
        g.tracker.feed('{"dimensions": ["Age", "By-')
        assert g.may_steer(tok[b"Age"]) is steers and g.may_steer(tok[b"Title"])


# ---- sentence fields: no closing before a sentence has ended, a pull towards ending it near the cap --------
TEXT_VOCAB = [b'"', b'",', b'."', b" and", b" skin", b".", b" It", b"3", b" dry"]
TT = {p: i for i, p in enumerate(TEXT_VOCAB)}


def _text_guard(prefix: str, cap: int = 40) -> LabelGuard:
    rule = schemas.label_constraint(("dimensions", "*"), "demand", set(), 99, text_fields=((("analysis",), cap),))(())
    g = LabelGuard(rule, VocabTables(TEXT_VOCAB))
    g.tracker.feed(prefix)
    return g


def _pick(g: LabelGuard, logits: dict) -> bytes:
    """The greedy pick after the guard steered from the model's most likely token."""
    cand = _cand(logits, TEXT_VOCAB)
    g.steer(cand, int(cand["id"][int(np.argmax(cand["logit"]))]))
    return TEXT_VOCAB[int(np.argmax(cand["logit"]))]


def test_tracker_finds_text_fields_at_their_paths_only():
    t = JsonLabelTracker(("dimensions", "*"), {("analysis",): 300, ("decisions", "*"): 160})
    t.feed('{"decisions": ["Kept one, dropped')
    assert t.current_text == "Kept one, dropped" and t.text_cap == 160 and t.current is None
    t.feed(' two."], "analysis": "The ')
    assert t.current_text == "The " and t.text_cap == 300
    t.feed('end.", "dimensions": ["Bud')
    assert t.current_text is None and t.current == "Bud"


def test_a_text_field_cannot_close_before_its_sentence_ends():
    g = _text_guard('{"analysis": "Soothes dry')             # 18 characters of 40: before the soft point
    assert g.may_steer(TT[b'"']) and not g.may_steer(TT[b" skin"])
    assert _pick(g, {b'"': 2.0, b'",': 1.5, b" skin": 1.0, b".": 0.5}) == b" skin"
    assert g.steered == {"unfinished sentence": 1}
    g = _text_guard('{"analysis": "Soothes dry skin')
    assert _pick(g, {b'."': 2.0, b" and": 1.0}) == b'."'      # a full stop and the quote in one token: fine
    g = _text_guard('{"analysis": "Costs 3')                   # "3." may be a decimal point, not an ending
    assert _pick(g, {b'."': 2.0, b"3": 1.0}) == b"3"


def test_past_the_soft_point_the_sentence_is_pulled_to_an_end_then_closed():
    g = _text_guard('{"analysis": "It soothes dry skin after a long day')   # 35 characters of 40 (soft 24)
    assert g.may_steer(TT[b" and"])
    assert _pick(g, {b" and": 5.0, b" skin": 4.0, b".": 1.0}) == b"."
    assert g.steered == {"sentence end pulled": 1}
    g = _text_guard('{"analysis": "It soothes dry skin after it.')
    assert _pick(g, {b" It": 5.0, b'"': 0.0, b'",': 0.0}) in {b'"', b'",'}   # ended past the soft point: close
    g = _text_guard('{"analysis": "Dry.')                       # ended early: the model may go on
    assert _pick(g, {b" It": 5.0, b'"': 0.0}) == b" It"


def test_a_text_the_grammar_must_close_is_a_counted_fallback():
    g = _text_guard('{"analysis": "It soothes dry skin after a long day at wo')
    assert _pick(g, {b'"': 0.0}) == b'"' and g.lifted == 1 and g.stats()["fallbacks"] == 1


def test_text_fields_go_into_the_call_key_only_when_set():
    plain = schemas.label_constraint(("dimensions", "*"), "demand", set(), 24)(()).describe()
    with_text = schemas.label_constraint(("dimensions", "*"), "demand", set(), 24,
                                         text_fields=schemas.TAXONOMY_TEXT_FIELDS)(()).describe()
    assert "text_fields" not in plain
    assert with_text["text_fields"] == [["decisions.*", schemas.L1_DECISION_MAX], ["analysis", schemas.L1_ANALYSIS_MAX]]
