"""Utility metrics rank good releases above bad ones, on data with known structure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthdb.metrics import report_metrics
from synthdb.metrics.ml import group_parity, ml_utility
from synthdb.metrics.seasonality import seasonality
from synthdb.metrics.utility import column_pair_trends, column_shapes, ks_complement, tv_complement

COV = [[1.0, 0.8, -0.5], [0.8, 1.0, -0.3], [-0.5, -0.3, 1.0]]


def mvn(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal([0, 0, 0], COV, n)
    return pd.DataFrame(
        {
            "x 1": x[:, 0],
            "x;2": x[:, 1],
            "cat'3": pd.Series(np.where(x[:, 2] > 0.3, "hi", "lo"), dtype="str"),
        }
    )


def independent_marginals(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns}
    )


def test_definitions_on_tiny_inputs():
    assert ks_complement(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, np.nan])) == 1.0
    assert ks_complement(np.array([1.0, 2.0]), np.array([5.0, 6.0])) == 0.0
    a = np.array(["x", "x", "y", "y"], dtype=object)
    b = np.array(["x", "y", "y", "y"], dtype=object)
    assert tv_complement(a, b) == pytest.approx(0.75)


def test_pair_trends_rank_independent_marginals_below_a_faithful_sample():
    real, good = mvn(5000, 1), mvn(5000, 2)
    bad = independent_marginals(mvn(5000, 3), 4)
    good_score = column_pair_trends(real, good)["score"]
    bad_score = column_pair_trends(real, bad)["score"]
    assert good_score > 0.97
    assert bad_score < good_score - 0.1
    # marginals are equally good for both, so column shapes must not tell them apart
    assert abs(column_shapes(real, good)["score"] - column_shapes(real, bad)["score"]) < 0.03
    pairs = {tuple(p["columns"]): p for p in column_pair_trends(real, bad)["pairs"]}
    assert pairs[("x 1", "x;2")]["metric"] == "CorrelationSimilarity"
    assert pairs[("x 1", "cat'3")]["metric"] == "ContingencySimilarity"


def test_seasonality_sees_a_lost_weekly_rhythm():
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    weights = np.where(days.day_of_week < 5, 5.0, 1.0)
    weights /= weights.sum()

    def draw(n: int, p: np.ndarray) -> pd.DataFrame:
        idx = rng.choice(len(days), n, p=p)
        ts = days[idx] + pd.to_timedelta(rng.integers(8, 18, n), unit="h")
        return pd.DataFrame({"ordered at": ts})

    real, good = draw(20000, weights), draw(20000, weights)
    flat = draw(20000, np.full(len(days), 1.0 / len(days)))
    s_good = seasonality(real, good)["ordered at"]
    s_flat = seasonality(real, flat)["ordered at"]
    assert s_good["parts"]["day_of_week"]["score"] > 0.97
    assert s_flat["parts"]["day_of_week"]["score"] < 0.85
    assert "hour" in s_good["parts"]
    acf = s_good["lag1_autocorrelation"]
    assert acf["real"] is not None and acf["synthetic"] is not None


def test_ml_utility_and_group_parity():
    train, holdout, good = mvn(4000, 1), mvn(4000, 2), mvn(4000, 3)
    bad = independent_marginals(good, 5)
    res_good = ml_utility(train, holdout, good, "cat'3")
    res_bad = ml_utility(train, holdout, bad, "cat'3")
    assert res_good["task"] == "classification" and res_good["score_name"] == "roc_auc"
    assert res_good["ratio"] > 0.95
    assert res_bad["ratio"] < 0.7
    reg = ml_utility(train, holdout, good, "x 1")
    assert reg["task"] == "regression" and reg["train_on_real"] > 0.5

    # a numeric target with many values: the statistic is the group mean
    y_real = np.r_[np.linspace(0.5, 1.5, 60), np.linspace(2.5, 3.5, 43)]
    y_syn = np.r_[np.linspace(1.5, 2.5, 50), np.linspace(2.5, 3.5, 50)]
    real = pd.DataFrame({"g": ["a"] * 60 + ["b"] * 40 + ["c"] * 3, "y": y_real})
    syn = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50, "y": y_syn})
    gp = group_parity(real, syn, ["g"], "y", min_group_size=10)
    groups = {g["group"]: g for g in gp["attributes"]["g"]["groups"]}
    assert set(groups) == {"a", "b", "(small groups)"}  # "c" is pooled, never named
    assert gp["statistic"] == "mean"
    assert groups["a"]["real_target"] == pytest.approx(1.0)
    assert groups["a"]["synthetic_target"] == pytest.approx(2.0)
    assert gp["attributes"]["g"]["max_abs_gap"] == pytest.approx(1.0)


def test_report_metrics_is_json_with_everything():
    train, holdout, syn = mvn(3000, 1), mvn(3000, 2), mvn(3000, 3)
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(3000), unit="h")
    for f in (train, holdout, syn):
        f["when"] = ts
        f.loc[::7, "x 1"] = np.nan
    out = report_metrics(
        train, holdout, syn, {"target": "cat'3", "protected_attributes": ["cat'3"], "k": 3}
    )
    text = json.dumps(out, allow_nan=False)
    assert '"dcr_share"' in text
    for key in (
        "gate",
        "privacy",
        "column_shapes",
        "column_pair_trends",
        "seasonality",
        "ml_utility",
    ):
        assert key in out
    assert 0.4 < out["privacy"]["distances"]["dcr_share"] < 0.6
    assert out["quality_score"] > 0.9
    assert "when" in out["seasonality"]


def test_group_parity_pools_small_groups_and_ignores_unknown_synthetic_values():
    from synthdb.metrics.ml import group_parity

    real = pd.DataFrame(
        {"g": ["a"] * 30 + ["b"] * 20 + [None] * 12, "y": [1.0] * 30 + [0.0] * 20 + [5.0] * 12}
    )
    syn = pd.DataFrame({"g": ["a"] * 10 + ["zz"] * 5 + [None] * 2, "y": [2.0] * 17})
    out = group_parity(real, syn, ["g"], "y", min_group_size=15)["attributes"]["g"]
    groups = {g["group"]: g for g in out["groups"]}
    assert set(groups) == {"a", "b", "(small groups)"}  # 12 NULL rows < 15: pooled
    assert groups["a"]["real_target"] == 1.0 and groups["a"]["synthetic_share"] == 10 / 17
    # "zz" never occurs in the real data and NULL is a small group: both pooled.
    assert groups["(small groups)"]["synthetic_share"] == 7 / 17
    assert groups["b"]["synthetic_target"] is None
    out = group_parity(real, syn, ["g"], "y", min_group_size=5)["attributes"]["g"]
    groups = {g["group"]: g for g in out["groups"]}
    assert set(groups) == {"a", "b", "(NULL)"}  # no real small group: no pooled label
    assert sum(g["synthetic_share"] for g in groups.values()) == 12 / 17  # "zz" in no group
