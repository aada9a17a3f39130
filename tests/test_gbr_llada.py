"""The tiny LLaDA: masking and attention never touch padding; SASRec prefixes are exact; a short real
training run on a Beauty slice learns far above the in-batch chance level."""
from dataclasses import asdict

import numpy as np
import pytest
import torch

from reaseq_core.gbr.labels import FILL, ITEM, LABELED, PAD, Corpus, build_corpus
from reaseq_core.gbr.llada import (LLaDAConfig, TinyLLaDA, dynamic_mask, evaluate_ib, model_inputs,
                                   train_llada)
from reaseq_core.gbr.sasrec import SASRec, SASRecConfig, _pad, train_sasrec, train_sasrec_seeds, transition_scores


def _kinds():
    return torch.tensor([[ITEM, LABELED, FILL, LABELED, PAD, PAD],
                         [LABELED, LABELED, LABELED, ITEM, ITEM, PAD],
                         [ITEM, FILL, PAD, PAD, PAD, PAD]])


def test_dynamic_mask_only_touches_labeled_positions():
    kinds = _kinds()
    gen = torch.Generator().manual_seed(0)
    total = torch.zeros(kinds.shape)
    for _ in range(2000):
        m, t = dynamic_mask(kinds, gen)
        assert not (m & (kinds != LABELED)).any()          # never padding, items or [FILL]
        assert ((t > 0) & (t <= 1)).all()
        total += m.float()
    # E[m_i] = E[t] = 1/2 on every P_L position
    assert (total[kinds == LABELED] / 2000).tolist() == pytest.approx([0.5] * 5, abs=0.05)
    m, _ = dynamic_mask(kinds, gen, t=torch.ones(3))
    assert torch.equal(m, kinds == LABELED)
    tokens = torch.tensor([[5, 6, 0, 7, 0, 0], [1, 2, 3, 4, 5, 0], [8, 0, 0, 0, 0, 0]])
    inp, is_fill, padding = model_inputs(tokens, kinds, m)
    assert torch.equal(padding, kinds == PAD) and not (is_fill & padding).any()
    assert (inp[is_fill] == 0).all()                        # the ground truth never leaks into the input


def test_padding_is_not_attended_to():
    torch.manual_seed(0)
    vecs = np.random.default_rng(0).normal(size=(10, 16)).astype(np.float32)
    model = TinyLLaDA(vecs, LLaDAConfig(d_model=32, n_heads=4, n_layers=2, dropout=0.0)).eval()
    kinds = _kinds()
    tokens = torch.tensor([[5, 6, 0, 7, 0, 0], [1, 2, 3, 4, 5, 0], [8, 0, 0, 0, 0, 0]])
    mask = torch.zeros_like(kinds, dtype=torch.bool)
    out1 = model(*model_inputs(tokens, kinds, mask))
    tokens2 = tokens.clone()
    tokens2[kinds == PAD] = 9                               # garbage behind the padding
    inp, is_fill, padding = model_inputs(tokens2, kinds, mask)
    inp[padding] = 9
    out2 = model(inp, is_fill, padding)
    real = kinds != PAD
    assert torch.allclose(out1[real], out2[real], atol=1e-5)
    # a shorter batch (padding trimmed) gives the same outputs for the real tokens
    out3 = model(*model_inputs(tokens[2:, :2], kinds[2:, :2], mask[2:, :2]))
    assert torch.allclose(out1[2, :2], out3[0], atol=1e-5)


def test_sasrec_prefix_outputs_equal_separate_prefix_runs():
    torch.manual_seed(0)
    model = SASRec(30, SASRecConfig(d=16, n_heads=2, max_len=10, dropout=0.0)).eval()
    s = np.array([3, 7, 1, 9, 4])
    sc = transition_scores(model, [s, np.array([2, 5])])
    with torch.no_grad():
        for j in range(1, len(s)):                          # prediction from b_1..b_j alone
            lp = torch.log_softmax(model.logits(model(_pad([s[:j]], j))[0, -1]), -1)
            assert sc[0]["p_next"][j - 1] == pytest.approx(float(lp[s[j]].exp()), rel=1e-4)
            if j >= 2:   # p(b_{j+1} | b_1..b_{j-1}) is the prediction from the shorter prefix
                lp2 = torch.log_softmax(model.logits(model(_pad([s[:j - 1]], j - 1))[0, -1]), -1)
                assert sc[0]["p_skip"][j - 1] == pytest.approx(float(lp2[s[j]].exp()), rel=1e-4)
            assert sc[0]["rank_next"][j - 1] == int((lp > lp[s[j]]).sum()) + 1
    assert np.isnan(sc[0]["p_skip"][0]) and len(sc[1]["p_next"]) == 1


def test_sasrec_evaluation_hook_sees_every_evaluation_and_changes_nothing():
    """The diagnostic hook (test figure per epoch in scripts/sasrec_sweep.py --trace-test) is called once
    per validation evaluation and leaves training and selection as they are."""
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 41, rng.integers(4, 12)) for _ in range(120)]
    cfg = SASRecConfig(d=16, n_heads=2, max_len=10, batch_size=32, max_epochs=4, eval_every=1, patience=10,
                       n_negatives=0, threads=1)
    seen = []

    def hook(model, row):
        seen.append(row["epoch"])
        model.eval()
        with torch.no_grad():
            model(_pad([np.array([1, 2, 3])], 3))

    plain = train_sasrec(seqs, 40, cfg, show_progress=False, log=lambda *_: None)
    traced = train_sasrec(seqs, 40, cfg, show_progress=False, log=lambda *_: None, on_evaluation=hook)
    assert seen == [1, 2, 3, 4]
    assert [r["valid_ndcg@10"] for r in traced.history] == [r["valid_ndcg@10"] for r in plain.history]
    assert traced.metrics["test"] == plain.metrics["test"]


def test_sasrec_seed_selection_keeps_the_best_validation_seed_and_reports_every_seed():
    """The stage trains one SASRec per seed and keeps the best validation NDCG@10; the kept model is the
    same as training that seed alone, and every seed's validation and test figures are reported."""
    rng = np.random.default_rng(1)
    seqs = [rng.integers(1, 41, rng.integers(4, 12)) for _ in range(120)]
    cfg = SASRecConfig(d=16, n_heads=2, max_len=10, batch_size=32, max_epochs=3, eval_every=1, patience=10,
                       n_negatives=0, threads=1)
    quiet = dict(show_progress=False, log=lambda *_: None)
    alone = {s: train_sasrec(seqs, 40, SASRecConfig(**{**asdict(cfg), "seed": s}), **quiet) for s in (0, 1, 2)}
    kept, runs = train_sasrec_seeds(seqs, 40, cfg, (0, 1, 2), **quiet)
    valid = {s: r.metrics["valid"]["ndcg@10"] for s, r in alone.items()}
    best = max(valid, key=lambda s: (valid[s], -s))
    assert len(set(valid.values())) > 1                       # the seeds differ, so the choice matters
    assert [r["seed"] for r in runs] == [0, 1, 2]
    assert [r["selected"] for r in runs] == [s == best for s in (0, 1, 2)]
    assert kept.model.cfg.seed == best
    assert kept.metrics["test"] == alone[best].metrics["test"]
    for r in runs:
        assert r["valid"] == alone[r["seed"]].metrics["valid"] and r["test"] == alone[r["seed"]].metrics["test"]
    with pytest.raises(ValueError, match="at least one seed"):
        train_sasrec_seeds(seqs, 40, cfg, (), **quiet)


@pytest.mark.slow
def test_short_real_training_beats_in_batch_chance():
    """Real Beauty GBR sequences with the committed location/labels (cat.LOCATION, CD variant),
    title vectors, 2 epochs (~160 steps) of the tiny LLaDA at batch size 128, scored on held-out users.

    Chance IB-ACC[MASK] with K = 127 in-batch negatives is 1/128 = 0.78%. With ~1,000 scored sequences
    (~1,500 [MASK] tokens) the s.d. of a chance-level mean is ~0.25 points, so the required 3x chance
    (2.3%) is ~6 s.d. above chance and can only come from the learned context. The untrained model on
    the same batches and negatives is the second reference: training must improve on it.
    """
    from reaseq_core import catalogue as cat
    from reaseq_core.gbr import pipeline
    from reaseq_core.store import ArtifactStore
    store = ArtifactStore()      # the shipped store, read only
    if not store.exists("beauty", cat.LOCATION):
        pytest.skip("the GBR location table is missing: run `reaseq gbr locate`")
    ctx = pipeline.Context(pipeline.GBRConfig(), store, log=lambda *_: None)
    loc = store.read("beauty", cat.LOCATION)
    seq = pipeline._sequences_for_gbr(ctx, loc)
    corpus = build_corpus(seq, loc[loc["variant"] == "CD"], ctx.item_index)
    train_idx, eval_idx = pipeline._split_users(ctx.cfg, corpus.users)
    cfg = LLaDAConfig(batch_size=128, epochs=2, lr=3e-3, max_len=corpus.tokens.shape[1])
    torch.manual_seed(0)
    untrained = evaluate_ib(TinyLLaDA(ctx.item_vectors, cfg), corpus.subset(eval_idx), 128)
    model, rec = train_llada(corpus.subset(train_idx), ctx.item_vectors, cfg, show_progress=False,
                             log=lambda *_: None)
    ev = evaluate_ib(model, corpus.subset(eval_idx), 128)
    assert ev["samples_mask"] >= 4 * 128
    assert ev["acc_mask"] >= 3 / 128, ev
    assert ev["acc_mask"] > untrained["acc_mask"] and ev["ppl_mask"] < untrained["ppl_mask"], (ev, untrained)


def _toy_model(head="linear", **kw):
    torch.manual_seed(0)
    vecs = np.random.default_rng(0).normal(size=(10, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return TinyLLaDA(vecs, LLaDAConfig(d_model=32, n_heads=4, n_layers=2, dropout=0.0, head=head, **kw)).eval()


def test_context_head_starts_as_the_context_mean_and_stays_among_real_items():
    from reaseq_core.gbr.llada import reference_prediction
    model = _toy_model("context")
    kinds = _kinds()
    tokens = torch.tensor([[5, 6, 0, 7, 0, 0], [1, 2, 3, 4, 5, 0], [8, 0, 0, 0, 0, 0]])
    mask, _ = dynamic_mask(kinds, torch.Generator().manual_seed(0), t=torch.ones(3))
    inp, is_fill, padding = model_inputs(tokens, kinds, mask)
    sel = mask | (kinds == FILL)
    out = model(inp, is_fill, padding, select=sel)
    ref = reference_prediction("context_mean", model.item_table, inp, is_fill, padding)
    assert torch.allclose(out[sel], ref[sel], atol=1e-6)     # zero query: uniform attention over visible items
    # after any change of the query, the output is still a convex combination of the visible items
    with torch.no_grad():
        model.query.weight.normal_()
    out = model(inp, is_fill, padding, select=sel)
    for b, s in sel.nonzero().tolist():
        visible = model.item_table[inp[b][~is_fill[b] & ~padding[b]]]
        w = torch.linalg.lstsq(visible.T, out[b, s][:, None]).solution.squeeze(1)
        assert torch.allclose(visible.T @ w, out[b, s], atol=1e-4)
        assert w.min() > -1e-3 and w.sum().item() == pytest.approx(1.0, abs=1e-3)


def test_previous_item_reference_takes_the_closest_visible_item_before():
    from reaseq_core.gbr.llada import reference_prediction
    model = _toy_model()
    kinds = torch.tensor([[ITEM, LABELED, FILL, LABELED, ITEM, PAD]])
    tokens = torch.tensor([[5, 6, 0, 7, 8, 0]])
    mask = kinds == LABELED
    inp, is_fill, padding = model_inputs(tokens, kinds, mask)
    pred = reference_prediction("previous_item", model.item_table, inp, is_fill, padding)
    t = model.item_table
    assert torch.equal(pred[0, 1], t[5]) and torch.equal(pred[0, 3], t[5]) and torch.equal(pred[0, 4], t[5])
    kinds2 = torch.tensor([[LABELED, ITEM, PAD]])
    inp2, f2, p2 = model_inputs(torch.tensor([[3, 4, 0]]), kinds2, kinds2 == LABELED)
    # nothing visible before the first position: the next visible item
    assert torch.equal(reference_prediction("previous_item", t, inp2, f2, p2)[0, 0], t[4])


def test_prefix_fills_see_only_their_prefix():
    """Table 6 without the leak: a fill inferred for the prefix of c items equals the model run on that prefix
    alone, and a fill after the c-th item is not part of that prefix."""
    from reaseq_core.gbr.llada import infer_prefix_fills
    model = _toy_model()
    kinds = np.array([[ITEM, FILL, ITEM, ITEM, FILL, ITEM, PAD]], dtype=np.int8)
    tokens = np.array([[1, 0, 2, 3, 0, 4, 0]])
    corpus = Corpus(np.array(["u"]), tokens, kinds, np.full(kinds.shape, -1, np.int32))
    pf = infer_prefix_fills(model, corpus)
    # prefixes of 2, 3 items hold the first fill; of 4 items both fills
    assert sorted(zip(pf["cut"].tolist(), pf["position"].tolist())) == [(2, 1), (3, 1), (4, 1), (4, 4)]
    for c, end in ((2, 3), (3, 4), (4, 6)):
        tk, kd = torch.from_numpy(tokens[:, :end]), torch.from_numpy(kinds[:, :end]).long()
        fill = kd == FILL
        alone = model(*model_inputs(tk, kd, torch.zeros_like(fill)), select=fill)
        for n in np.nonzero(pf["cut"] == c)[0]:
            np.testing.assert_allclose(pf["vectors"][n], alone[0, pf["position"][n]].detach().numpy(), atol=1e-5)


def test_strip_fills_keeps_items_in_order():
    from reaseq_core.gbr.labels import strip_fills
    kinds = np.array([[ITEM, FILL, LABELED, PAD], [FILL, ITEM, ITEM, FILL]], dtype=np.int8)
    tokens = np.array([[4, 0, 5, 0], [0, 6, 7, 0]])
    bare = strip_fills(Corpus(np.array(["a", "b"]), tokens, kinds, np.full(kinds.shape, -1, np.int32)))
    assert bare.tokens.tolist() == [[4, 5], [6, 7]]
    assert bare.kinds.tolist() == [[ITEM, LABELED], [ITEM, ITEM]]


def test_weight_average_follows_the_ema_formula_and_swaps_back():
    from reaseq_core.gbr.llada import WeightAverage
    model = _toy_model("context")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    avg = WeightAverage(model, 0.75)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    avg.update(model)
    after = {k: v.clone() for k, v in model.state_dict().items()}
    changed = [k for k in avg.avg if not torch.equal(before[k], after[k])]
    assert changed, "the toy model has trainable weights"
    for k in changed:
        assert torch.allclose(avg.avg[k], 0.75 * before[k] + 0.25 * after[k], atol=1e-6)
    raw = avg.swap_in(model)
    for k in changed:
        assert torch.allclose(model.state_dict()[k], avg.avg[k])
        assert torch.equal(raw[k], after[k])
    model.load_state_dict(raw)
    assert all(torch.equal(model.state_dict()[k], after[k]) for k in after)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, 1.0)


def _toy_corpus(n=64, s=6, items=10, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, items + 1, size=(n, s))
    kinds = np.full((n, s), ITEM)
    kinds[:, 2] = LABELED
    kinds[:, 4] = LABELED
    return Corpus(np.array([f"u{i}" for i in range(n)]), tokens, kinds, np.full(kinds.shape, -1, np.int32))


def test_training_with_weight_averaging_keeps_the_average():
    """A decay near 0 averages nothing (the kept model is the trained one); a decay near 1 keeps the
    average, which after a few steps is still almost the initial weights."""
    vecs = np.random.default_rng(0).normal(size=(10, 16)).astype(np.float32)
    base = dict(d_model=32, n_heads=4, n_layers=2, dropout=0.0, batch_size=16, epochs=1, lr=1e-2, seed=3,
                head="context")
    plain, _ = train_llada(_toy_corpus(), vecs, LLaDAConfig(**base), show_progress=False, log=lambda *_: None)
    none, _ = train_llada(_toy_corpus(), vecs, LLaDAConfig(**base, ema=1e-9), show_progress=False,
                          log=lambda *_: None)
    slow, _ = train_llada(_toy_corpus(), vecs, LLaDAConfig(**base, ema=0.999), show_progress=False,
                          log=lambda *_: None)
    torch.manual_seed(3)
    init = TinyLLaDA(vecs, LLaDAConfig(**base)).state_dict()
    p, n, w = plain.state_dict(), none.state_dict(), slow.state_dict()
    moved = [k for k in p if p[k].dtype.is_floating_point and not torch.allclose(p[k], init[k], atol=1e-4)]
    assert moved, "training changed the weights"
    for k in moved:
        assert torch.allclose(n[k], p[k], atol=1e-5)
        # the slow average moved at most ~1 - 0.999^4 of the way from the initial weights
        assert (w[k] - init[k]).abs().max() <= 0.01 * (p[k] - init[k]).abs().max() + 1e-6
