"""CTR data layout, DIN masking, and a short real DIN run on a Beauty slice."""
import numpy as np
import pandas as pd
import pytest
import torch

from reaseq_core.data.ingest import Dataset
from reaseq_core.ranking.data import build_ctr_data
from reaseq_core.ranking.din import DIN, DINConfig, run_din_experiment
from reaseq_core.ranking.train import make_batch


def tiny_dataset(n_items=12):
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(n_items)]})
    seqs = {"u1": ["i0", "i1", "i2", "i3", "i4", "i5"], "u2": ["i6", "i7", "i8"], "u3": ["i9", "i10", "i11", "i0"]}
    rows = [(u, it, 1000 + p, "review", p) for u, s in seqs.items() for p, it in enumerate(s)]
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "event_type", "position"])
    return Dataset(name="tiny", items=items, interactions=inter, demand=pd.DataFrame(), card={"content_hash": "x"})


def unit_vectors(n, d, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_history_is_events_before_target_right_aligned():
    ds = tiny_dataset()
    ids = ds.items["item_id"].to_numpy()
    data = build_ctr_data(ds, ids, unit_vectors(len(ids), 8), neg_ratio=2, max_len=3)
    row = {iid: k + 1 for k, iid in enumerate(ids)}
    s = data.samples
    for k in range(len(s)):
        u, p = s.at[k, "user_id"], s.at[k, "position"]
        seq = ds.interactions[ds.interactions["user_id"] == u]["item_id"].tolist()
        before = [row[i] for i in seq[:p]][-3:]
        expected = [0] * (3 - len(before)) + before
        assert data.history[k].tolist() == expected, (u, p)
        assert data.target[k] == row[s.at[k, "target_item"]]
    # u1 (6 events): test target = position 5, valid = 4, train = 1..3
    u1 = s[(s["user_id"] == "u1") & (s["label"] == 1)]
    assert dict(zip(u1["position"], u1["split"])) == {1: "train", 2: "train", 3: "train", 4: "valid", 5: "test"}
    # each positive has exactly 2 negatives, never an item the user touched
    assert (s["label"] == 0).sum() == 2 * (s["label"] == 1).sum()
    neg = s[s["label"] == 0]
    for u, it in zip(neg["user_id"], neg["target_item"]):
        assert it not in set(ds.interactions[ds.interactions["user_id"] == u]["item_id"])


def test_extra_history_is_appended_for_its_user_only():
    ds = tiny_dataset()
    ids = ds.items["item_id"].to_numpy()
    extra = {"u2": unit_vectors(2, 8, seed=1)}
    data = build_ctr_data(ds, ids, unit_vectors(len(ids), 8), max_len=3, extra_history=extra)
    assert data.history.shape[1] == 3 + 2 and data.n_extra == 2
    u2 = (data.samples["user_id"] == "u2").to_numpy()
    assert (data.history[u2, 3:] == [len(ids) + 1, len(ids) + 2]).all()
    assert (data.history[~u2, 3:] == 0).all()
    np.testing.assert_allclose(data.table[len(ids) + 1: len(ids) + 3], extra["u2"])
    assert data.protocol["extra_history"]["users_with_extra"] == 1


def test_din_ignores_padding_and_uses_extras():
    ds = tiny_dataset()
    ids = ds.items["item_id"].to_numpy()
    data = build_ctr_data(ds, ids, unit_vectors(len(ids), 8), max_len=4,
                          extra_history={"u2": unit_vectors(1, 8, seed=3)})
    torch.manual_seed(0)
    model = DIN(data.table, dim=8)
    batch = make_batch(data, np.arange(len(data.samples)))
    out = model(batch)
    assert out.shape == (len(data.samples),)
    # changing the padding row's vector must not change any score
    model.table[0] = 5.0
    torch.testing.assert_close(model(batch), out)
    # changing the fill vector changes u2's scores and nothing else
    model.table[-1] = -model.table[-1]
    out2 = model(batch)
    u2 = torch.tensor((data.samples["user_id"] == "u2").to_numpy())
    assert not torch.allclose(out2[u2], out[u2])
    torch.testing.assert_close(out2[~u2], out[~u2])


def test_build_ctr_data_names_missing_vectors():
    ds = tiny_dataset()
    ids = ds.items["item_id"].to_numpy()[:-1]
    with pytest.raises(ValueError, match="have no vector"):
        build_ctr_data(ds, ids, unit_vectors(len(ids), 8))


def title_vectors_for(beauty, tmp_store):
    """Title vectors: the shipped store's copy when it exists (read only), else built into the test store."""
    from reaseq_core.errors import MissingArtifact
    from reaseq_core.representation.knowledge_vectors import dataset_with_clean_text
    from reaseq_core.representation.item_space import load_item_space
    from reaseq_core.representation.title_vectors import build_title_vectors
    from reaseq_core.store import ArtifactStore
    try:
        space = load_item_space("beauty", "title", ArtifactStore())
        return space.item_ids, space.vectors
    except MissingArtifact:
        z = build_title_vectors(dataset_with_clean_text(beauty), tmp_store, show_progress=False)
        return z["item_ids"], z["vectors"]


@pytest.mark.slow
def test_din_real_short_run_beats_random(beauty, tmp_store):
    """A 3,000-user Beauty slice, 5 epochs, title vectors.

    Margin: the test split has ~3,000 positives and ~3,000 negatives; under a random scorer AUC has
    std sqrt((n+ + n- + 1) / (12 n+ n-)) ~= 0.0075, so AUC > 0.55 is more than 6 standard deviations
    above chance -- a model that learned nothing cannot pass by luck.
    """
    ids, vecs = title_vectors_for(beauty, tmp_store)
    r = run_din_experiment(beauty, ids, vecs, seeds=(0,), cfg=DINConfig.small_slice(), show_progress=False)
    n_test = r["protocol"]["n_test"]
    assert 5000 < n_test < 7000
    assert r["mean"]["overall"]["auc"] > 0.55, r["summary"]
    assert r["mean"]["overall"]["gauc"] > 0.55, r["summary"]
    assert set(r["per_seed"][0]) >= {"overall", "hot", "cold", "best_epoch", "wall_s"}


def test_per_sample_extra_history_reaches_only_its_sample():
    """Extras keyed by (user, position): only that sample (its positive and its negatives) gets them."""
    ds = tiny_dataset()
    ids = ds.items["item_id"].to_numpy()
    extra = {("u1", 3): unit_vectors(1, 8, seed=1), ("u1", 5): unit_vectors(2, 8, seed=2)}
    data = build_ctr_data(ds, ids, unit_vectors(len(ids), 8), neg_ratio=1, max_len=3, extra_history=extra)
    s = data.samples
    assert data.n_extra == 2
    at3 = ((s["user_id"] == "u1") & (s["position"] == 3)).to_numpy()
    at5 = ((s["user_id"] == "u1") & (s["position"] == 5)).to_numpy()
    assert (data.history[at3, 3] > len(ids)).all() and (data.history[at3, 4] == 0).all()
    assert (data.history[at5, 3:] > len(ids)).all()
    assert (data.history[~(at3 | at5), 3:] == 0).all()
    np.testing.assert_allclose(data.table[data.history[at5, 3:][0]], extra[("u1", 5)])
    assert data.protocol["extra_history"]["samples_with_extra"] == int(at3.sum() + at5.sum())
