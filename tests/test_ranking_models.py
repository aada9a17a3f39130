"""Shapes and masks of every attention path, GSU top-K with -inf padding, and ESU dedup+gather == naive."""
import numpy as np
import pandas as pd
import pytest
import torch

from reaseq_core.data.ingest import Dataset
from reaseq_core.ranking.attention import multi_head_attention
from reaseq_core.ranking.base_gsu_esu import TargetAttentionESU, category_gsu
from reaseq_core.ranking.compression import InterestAnchorCompression
from reaseq_core.ranking.data import build_ctr_data
from reaseq_core.ranking.features import ItemEncoder, add_user_context_features, build_item_features
from reaseq_core.ranking.reaseq_ranker import VARIANTS, ReaSeqRanker
from reaseq_core.ranking.retrieval import esu_dedup_gather, esu_naive, semantic_gsu_topk
from reaseq_core.ranking.train import make_batch


def test_attention_never_attends_to_padding():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 1, 8), torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    valid = torch.tensor([[True, True, False, False], [False, False, False, False]])
    out = multi_head_attention(q, k, v, valid, heads=2)
    assert out.shape == (2, 1, 8)
    k2, v2 = k.clone(), v.clone()
    k2[0, 2:] = 100.0                       # huge keys/values at padded slots must not matter
    v2[0, 2:] = -100.0
    torch.testing.assert_close(multi_head_attention(q, k2, v2, valid, heads=2), out)
    assert torch.equal(out[1], torch.zeros(1, 8))       # all keys masked -> zeros, not NaN
    # with one valid key the output is exactly that key's value
    one = torch.tensor([[False, True, False, False]] * 2)
    torch.testing.assert_close(multi_head_attention(q, k, v, one, heads=2)[:, 0], v[:, 1])


def test_semantic_gsu_scores_padding_minus_inf_before_topk():
    # unit vectors: row 0 padding (zeros: cosine 0 would beat negative similarities if not masked)
    vecs = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    history = torch.tensor([[0, 0, 2, 3], [0, 1, 2, 4]])
    target = torch.tensor([1, 4])
    rows, valid = semantic_gsu_topk(history, target, vecs, k=3)
    # user 0: sims item2=-1, item3=0, padding would be 0 -> must take 3 then 2, third slot invalid
    assert rows[0, :2].tolist() == [3, 2] and valid[0].tolist() == [True, True, False]
    # user 1 (target 4 = [.6,.8]): item4 1.0, item1 .6, item2 -.6
    assert rows[1].tolist() == [4, 1, 2] and valid[1].all()


def test_category_gsu_keeps_most_recent_same_category():
    cat = torch.tensor([0, 1, 2, 1, 1, 2])            # row 0 padding, category 0 = unknown
    history = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 0, 2, 5]])
    target = torch.tensor([4, 1])
    rows, valid = category_gsu(history, target, cat, k=2)
    assert rows[0].tolist() == [4, 3] and valid[0].all()      # most recent two of category 1
    assert not valid[1].any()                                   # user 1 has no category-1 history


def tiny_dataset(n_items=20, n_users=12, seed=0):
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(n_items)], "brand": [f"b{k % 4}" for k in range(n_items)],
                          "primary_category": [f"c{k % 3}" for k in range(n_items)],
                          "leaf_category": [f"l{k % 5}" for k in range(n_items)],
                          "price": rng.uniform(1, 50, n_items), "sales_rank": rng.uniform(1, 1e5, n_items)})
    rows = []
    for u in range(n_users):
        seq = rng.choice(n_items, size=rng.integers(4, 9), replace=False)
        rows += [(f"u{u}", f"i{it}", 1000 + 86400 * p, "review", p) for p, it in enumerate(seq)]
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "event_type", "position"])
    return Dataset("tiny", items, inter, pd.DataFrame(), {"content_hash": "x"})


def _setup(max_len=6):
    ds = tiny_dataset()
    ids = ds.items["item_id"].to_numpy()
    vecs = np.random.default_rng(1).normal(size=(len(ids), 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    data = build_ctr_data(ds, ids, vecs, max_len=max_len)
    sids = pd.DataFrame({"item_id": ids, "sid_1": np.arange(len(ids)) % 4, "sid_2": np.arange(len(ids)) % 3})
    feats = build_item_features(ds, data, sids)
    add_user_context_features(ds, data)
    return ds, data, feats


@pytest.mark.parametrize("variant", ["Base", "Retrieval", "Compression", "Compression+SID",
                                     "Retrieval+Compression+SID", "Base+title vectors"])
def test_every_variant_scores_and_ignores_padding(variant):
    ds, data, feats = _setup()
    v = VARIANTS[variant]
    torch.manual_seed(0)
    model = ReaSeqRanker(feats, data.table, gsu=v["gsu"], compression=v["compression"], use_sid=v["use_sid"],
                         feature_vectors=data.table if v["vectors"] else None, gsu_k=3)
    model.eval()
    batch = make_batch(data, np.arange(len(data.samples)))
    out = model(batch)
    assert out.shape == (len(data.samples),) and torch.isfinite(out).all()
    # prepend extra padding columns: identical scores (padding is masked everywhere)
    padded = dict(batch, history=torch.cat([torch.zeros(len(out), 5, dtype=torch.long), batch["history"]], 1))
    torch.testing.assert_close(model(padded), out)


def test_compression_anchor_shapes_and_masks():
    torch.manual_seed(0)
    comp = InterestAnchorCompression(x_dim=12, d_model=8, n_anchors=3, heads=2)
    x_seq, x_t = torch.randn(2, 5, 12), torch.randn(2, 12)
    valid = torch.tensor([[False, False, True, True, True], [False] * 5])
    assert comp.compress(x_seq, valid).shape == (2, 3, 8)
    out = comp(x_t, x_seq, valid)
    assert out.shape == (2, 8) and torch.equal(out[1], torch.zeros(8))
    x2 = x_seq.clone()
    x2[0, :2] = 50.0
    torch.testing.assert_close(comp(x_t, x2, valid)[0], out[0])


def test_esu_dedup_gather_equals_naive_per_candidate():
    ds, data, feats = _setup(max_len=8)
    torch.manual_seed(0)
    encoder = ItemEncoder(feats, use_sid=True)
    esu = TargetAttentionESU(encoder.dim, d_model=16, heads=4)
    # one request: one user's history, all catalogue items as candidates (heavy overlap of retrieved items)
    user_hist = torch.as_tensor(data.history[data.split_index("test")[0]])
    candidates = torch.arange(1, len(data.item_ids) + 1)
    history = user_hist.expand(len(candidates), -1)
    unit = torch.as_tensor(data.table)
    rows, valid = semantic_gsu_topk(history, candidates, unit, k=4)
    with torch.no_grad():
        naive = esu_naive(esu, encoder, candidates, rows, valid)
        dedup = esu_dedup_gather(esu, encoder, candidates, rows, valid)
    assert naive.shape == (len(candidates), 16)
    torch.testing.assert_close(dedup, naive, rtol=1e-5, atol=1e-6)
    assert len(torch.unique(rows)) < rows.numel()          # the test really exercises overlap


def test_precomputed_gsu_gives_the_same_scores():
    from reaseq_core.ranking.reaseq_ranker import precompute_gsu
    ds, data, feats = _setup()
    for gsu in ("category", "semantic"):
        torch.manual_seed(0)
        model = ReaSeqRanker(feats, data.table, gsu=gsu, compression=True, use_sid=True, gsu_k=3).eval()
        live = model(make_batch(data, np.arange(len(data.samples))))
        precompute_gsu(data, feats, k=3, chunk=7)
        cached = model(make_batch(data, np.arange(len(data.samples))))
        data.sample_features = {"user_context": data.sample_features["user_context"]}
        torch.testing.assert_close(cached, live)


def test_a_knowledge_space_gsu_is_precomputed_under_its_own_key():
    """The '(knowledge)' variants retrieve over another vector table: the precomputed rows under
    gsu_semantic_knowledge_* equal the live top-k over that table, and differ from the title table's."""
    from reaseq_core.ranking.reaseq_ranker import precompute_gsu
    ds, data, feats = _setup()
    other = np.random.default_rng(1).normal(size=data.table.shape).astype(np.float32)
    other[0] = 0.0
    torch.manual_seed(0)
    model = ReaSeqRanker(feats, other, gsu="semantic", compression=True, use_sid=True, gsu_k=3,
                         space="knowledge").eval()
    live = model(make_batch(data, np.arange(len(data.samples))))
    precompute_gsu(data, feats, k=3, chunk=7, spaces={"knowledge": other})
    assert {"gsu_semantic_rows", "gsu_semantic_knowledge_rows"} <= set(data.sample_features)
    assert not np.array_equal(data.sample_features["gsu_semantic_rows"],
                              data.sample_features["gsu_semantic_knowledge_rows"])
    cached = model(make_batch(data, np.arange(len(data.samples))))
    data.sample_features = {"user_context": data.sample_features["user_context"]}
    torch.testing.assert_close(cached, live)
