"""Differentially private copula fit: noise calibration, inf = exact path, shape and bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthdb.errors import ConfigError
from synthdb.generators import GaussianCopula
from synthdb.generators.dp import laplace_counts, laplace_values

BOUNDS = {"age": (0, 100), "income": (-20_000, 200_000), "ts": ("2019-06-01", "2022-01-01")}


def _frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n).round().clip(18, 90)
    return pd.DataFrame(
        {
            "age": pd.array(age.astype(int), dtype="Int64"),
            "income": np.where(rng.random(n) < 0.1, np.nan, age * 1000 + rng.normal(0, 5000, n)),
            "cat": rng.choice(["x", "y", "z"], n, p=[0.6, 0.3, 0.1]).astype(object),
            "flag": rng.random(n) < 0.3,
            "ts": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 700 * 86400, n), unit="s"),
        }
    )


def test_laplace_scale_matches_epsilon_and_sensitivity() -> None:
    # variance of Laplace(b) is 2 b^2, b = sensitivity / epsilon
    n = 20_000
    for sens, eps in ((1.0, 0.5), (4.0, 2.0)):
        b = sens / eps
        x = laplace_values(np.zeros(n), sens, eps)
        assert abs(x.mean()) < 5 * np.sqrt(2 * b * b / n)
        assert x.var() == pytest.approx(2 * b * b, rel=0.08)
    # discrete Laplace on counts: same scale, integer valued
    y = laplace_counts(np.full(n, 100), 2.0, 0.5) - 100
    assert np.all(y == np.round(y))
    assert y.var() == pytest.approx(2 * 4.0**2, rel=0.1)


def test_epsilon_inf_equals_non_dp_for_same_seed() -> None:
    df = _frame()
    a = GaussianCopula(random_state=3).fit(df).sample(2000, seed=9)
    b = GaussianCopula(random_state=3, epsilon=float("inf")).fit(df).sample(2000, seed=9)
    pd.testing.assert_frame_equal(a, b)


def test_dp_fit_keeps_columns_dtypes_bounds_and_records_budget() -> None:
    df = _frame()
    model = GaussianCopula(epsilon=1.0, epsilon_split=0.6, dp_bounds=BOUNDS, random_state=0)
    out = model.fit(df).sample(4000, seed=1)
    assert list(out.columns) == list(df.columns)
    assert list(out.dtypes) == list(df.dtypes)
    assert out["age"].dropna().between(0, 100).all()
    assert out["income"].dropna().between(-20_000, 200_000).all()
    assert out["ts"].dropna().between(pd.Timestamp("2019-06-01"), pd.Timestamp("2022-01-01")).all()
    assert set(out["cat"].dropna()) <= {"x", "y", "z"}
    priv = model.describe()["privacy"]
    assert priv["epsilon"] == 1.0 and priv["delta"] == 0.0
    assert priv["epsilon_split"]["correlation"] == pytest.approx(0.4)
    assert priv["epsilon_spent"] == pytest.approx(1.0)
    assert priv["leaks"]["observed_category_domains"] == ["cat"]
    assert priv["reproducible"] is False
    # utility at a generous epsilon: the age-income dependence survives the noise
    big = GaussianCopula(epsilon=20.0, dp_bounds=BOUNDS, random_state=0).fit(df)
    s = big.sample(4000, seed=1).dropna()
    assert np.corrcoef(s["age"].astype(float), s["income"])[0, 1] > 0.4
    assert abs(s["cat"].eq("x").mean() - 0.6) < 0.05


def test_dp_refuses_unbounded_columns_and_bad_settings() -> None:
    df = _frame(200)
    with pytest.raises(ConfigError, match=r"'age'.*'income'"):
        GaussianCopula(epsilon=1.0, dp_bounds={"ts": BOUNDS["ts"]}).fit(df)
    with pytest.raises(ConfigError, match="epsilon must be"):
        GaussianCopula(epsilon=0).fit(df)
    with pytest.raises(ConfigError, match="epsilon_split"):
        GaussianCopula(epsilon=1.0, epsilon_split=0.0, dp_bounds=BOUNDS).fit(df)


def test_rare_category_dropped_from_noisy_counts() -> None:
    df = _frame(3000)
    df.loc[0, "cat"] = "singleton"
    out = GaussianCopula(epsilon=50.0, dp_bounds=BOUNDS, random_state=0).fit(df).sample(3000, 1)
    assert "singleton" not in set(out["cat"].dropna())


def test_numpy_int_and_bool_columns_never_get_nulls_from_noise() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"k": rng.integers(0, 5, 500), "b": rng.random(500) < 0.5})
    for _ in range(5):  # low epsilon: the NULL cell is mostly noise
        out = GaussianCopula(epsilon=0.1, dp_bounds={"k": (0, 10)}).fit(df).sample(500, 0)
        assert out.dtypes.tolist() == df.dtypes.tolist()
        assert out["k"].between(0, 10).all() and out.notna().all().all()


def _evening_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Weekday events at local 17:00-19:00 in Chicago, February-April 2021 (DST from 14 March)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2021-02-01", "2021-04-30", freq="D")
    days = days[days.day_of_week < 5]
    local = pd.to_datetime(rng.choice(days.values, n)) + pd.to_timedelta(
        rng.integers(17 * 3600, 19 * 3600, n), unit="s"
    )
    return pd.DataFrame({"ts": pd.Series(local).dt.tz_localize("America/Chicago")})


def test_dp_timestamps_keep_local_evening_peak_across_dst() -> None:
    # Modelled in UTC, the peak sits at 23-01 UTC in winter and 22-00 UTC in summer; hour and
    # trend sampled apart then put winter rows at 16:00 local (~13 % of rows, 17-18 only ~75 %)
    # and spill Friday evenings into Saturday (UTC weekday). In local wall time none of that.
    df = _evening_frame()
    model = GaussianCopula(epsilon=5.0, dp_bounds={"ts": ("2021-01-15", "2021-05-15")})
    out = model.fit(df).sample(3000, seed=1)["ts"]
    assert out.dtype == df["ts"].dtype
    # OpenDP's noise is not seeded: in ~2.5 % of fits a never-NULL column gets a small noisy
    # NULL share (dp._null_threshold); 2 of 40 fits here, 7 and 12 NULLs of 3000
    assert out.isna().mean() < 0.05
    out = out.dropna()
    hour = out.dt.hour
    assert hour.isin([17, 18]).mean() > 0.9  # uniform would be 2/24; UTC model ~0.75
    assert (hour == 16).mean() < 0.06  # UTC model ~0.13
    assert out.dt.day_of_week.lt(5).mean() > 0.98  # UTC model ~0.96
    # naive bounds are local wall-clock time of the column's zone
    wall = out.dt.tz_localize(None)
    assert wall.between(pd.Timestamp("2021-01-15"), pd.Timestamp("2021-05-15")).all()
    assert model.describe()["privacy"]["epsilon_spent"] == pytest.approx(5.0)


def test_dp_nulls_match_exact_fit_object_none_and_all_null_column() -> None:
    rng = np.random.default_rng(2)
    n = 1500
    df = pd.DataFrame(
        {
            "txt": pd.Series(rng.choice(["a", "b", None], n, p=[0.5, 0.3, 0.2]), dtype=object),
            "unused": pd.Series([None] * n, dtype=object),
        }
    )
    exact = GaussianCopula(random_state=0).fit(df).sample(n, seed=1)
    dp = GaussianCopula(epsilon=5.0).fit(df).sample(n, seed=1)
    for out in (exact, dp):
        assert out.dtypes.tolist() == df.dtypes.tolist()
        # object NULLs are None (NaN would read as the text "nan" downstream)
        assert all(v is None for v in out["txt"][out["txt"].isna()])
        assert 0.1 < out["txt"].isna().mean() < 0.3
        # an all-NULL column stays all NULL (was refused under DP: no category to emit)
        assert all(v is None for v in out["unused"])
