"""AUC / GAUC / segment metrics against values computed by hand on tiny examples."""
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from reaseq_core.ranking.metrics import auc, gauc, segment_metrics


def test_auc_hand_computed():
    # positives 0.9, 0.3; negatives 0.8, 0.1 -> pairs won: (0.9>0.8), (0.9>0.1), (0.3>0.1); lost (0.3<0.8) = 3/4
    assert auc([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]) == pytest.approx(0.75)


def test_auc_ties_count_half():
    assert auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    # positives 0.5, 0.2 vs negative 0.5: tie (1/2) + loss (0) over 2 pairs = 0.25
    assert auc([1, 1, 0], [0.5, 0.2, 0.5]) == pytest.approx(0.25)


def test_auc_one_class_is_nan_and_bad_input_raises():
    assert math.isnan(auc([1, 1], [0.1, 0.2]))
    with pytest.raises(ValueError):
        auc([1, 0, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        auc([1, 0], [0.1, float("nan")])


def test_auc_matches_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.normal(size=500) + y * 0.5, 1)   # rounding makes ties
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def _toy_frame():
    # user A (hot): labels 1,0,0 scores .9,.1,.5 -> AUC 1.0, 3 impressions
    # user B (cold): labels 1,0 scores .2,.6      -> AUC 0.0, 2 impressions
    # user C (hot): labels 1,1                    -> one class, skipped by GAUC
    return pd.DataFrame({"user_id": list("AAABBCC"), "label": [1, 0, 0, 1, 0, 1, 1],
                         "score": [0.9, 0.1, 0.5, 0.2, 0.6, 0.7, 0.3],
                         "segment": ["hot"] * 3 + ["cold"] * 2 + ["hot"] * 2})


def test_gauc_is_impression_weighted_and_skips_one_class_users():
    f = _toy_frame()
    assert gauc(f["user_id"], f["label"], f["score"]) == pytest.approx((3 * 1.0 + 2 * 0.0) / 5)
    assert math.isnan(gauc(["C", "C"], [1, 1], [0.7, 0.3]))


def test_segment_metrics_hand_computed():
    m = segment_metrics(_toy_frame())
    # overall: positives .9,.2,.7,.3 vs negatives .1,.5,.6 -> 3+1+3+1 = 8 of 12 pairs
    assert m["overall"]["auc"] == pytest.approx(8 / 12)
    assert m["overall"]["gauc"] == pytest.approx(0.6)
    # hot: positives .9,.7,.3 vs negatives .1,.5 -> 2+2+1 = 5 of 6
    assert m["hot"]["auc"] == pytest.approx(5 / 6)
    assert m["hot"]["gauc"] == pytest.approx(1.0)
    assert m["cold"]["auc"] == pytest.approx(0.0)
    assert m["cold"]["gauc"] == pytest.approx(0.0)
    assert (m["overall"]["n"], m["hot"]["n"], m["cold"]["n"]) == (7, 5, 2)


def test_segment_metrics_names_missing_columns():
    with pytest.raises(ValueError, match="segment"):
        segment_metrics(pd.DataFrame({"user_id": [1], "label": [1], "score": [0.1]}))
