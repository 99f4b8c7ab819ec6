"""Targeted tests of the Gaussian copula and the mock generator on frames with known structure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthdb.errors import ConfigError, EmptyInputError, UnsupportedColumnError
from synthdb.generators import ColumnSpec, GaussianCopula, MockGenerator, infer_specs

N = 6000


def _tvd(a: pd.Series, b: pd.Series) -> float:
    pa, pb = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return 0.5 * float(pa.subtract(pb, fill_value=0).abs().sum())


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=N)
    income = np.exp(10 + 0.8 * x + 0.3 * rng.normal(size=N))
    return pd.DataFrame(
        {
            "x": x,
            "income": np.round(income, 2),
            "visits": pd.array(
                np.where(rng.random(N) < 0.82, 0, rng.integers(1, 500, N)), dtype="Int64"
            ),
            "segment": pd.Series(
                np.where(x + rng.normal(size=N) > 0, "gold", "basic"), dtype=object
            ),
            "city": pd.Series(rng.choice([f"city{i}" for i in range(400)], N), dtype=object),
            "active": pd.array(rng.random(N) < 0.4, dtype="boolean"),
            "score": pd.Series(np.where(x > 1.0, np.nan, x * 2 + 1)),
        }
    )


@pytest.fixture(scope="module")
def fitted(mixed: pd.DataFrame) -> GaussianCopula:
    return GaussianCopula(random_state=0).fit(mixed)


def test_zero_inflation_kept(mixed: pd.DataFrame, fitted: GaussianCopula) -> None:
    out = fitted.sample(N, seed=1)
    assert abs((out["visits"] == 0).mean() - 0.82) < 0.025
    assert out["visits"].dtype == "Int64"


def test_rank_correlation_kept(mixed: pd.DataFrame, fitted: GaussianCopula) -> None:
    out = fitted.sample(N, seed=2)
    real = mixed["x"].corr(mixed["income"], method="spearman")
    syn = out["x"].corr(out["income"], method="spearman")
    assert real > 0.9 and abs(real - syn) < 0.05
    # a categorical follows the number it depends on
    real_gap = mixed.groupby("segment")["x"].mean().diff().iloc[-1]
    syn_gap = out.groupby("segment")["x"].mean().diff().iloc[-1]
    assert np.sign(real_gap) == np.sign(syn_gap) and abs(syn_gap) > 0.5 * abs(real_gap)


def test_nulls_modelled_jointly(mixed: pd.DataFrame, fitted: GaussianCopula) -> None:
    out = fitted.sample(N, seed=3)
    # in the source, score is NULL exactly when x > 1: nulls must go with high x
    assert (
        out.loc[out["score"].isna(), "x"].mean() > out.loc[out["score"].notna(), "x"].mean() + 1.0
    )
    assert abs(out["score"].isna().mean() - mixed["score"].isna().mean()) < 0.03


def test_extremes_never_emitted(mixed: pd.DataFrame, fitted: GaussianCopula) -> None:
    out = fitted.sample(20_000, seed=4)
    assert out["income"].max() <= mixed["income"].quantile(0.99) + 1e-6
    assert out["income"].min() >= mixed["income"].quantile(0.01) - 1e-6
    assert out["income"].max() < mixed["income"].max()
    # prices keep their two decimals
    assert np.allclose(out["income"] * 100, np.round(out["income"] * 100))


def test_rare_categories_suppressed() -> None:
    rng = np.random.default_rng(1)
    values = np.array(["common_a"] * 500 + ["common_b"] * 300 + ["rare_1"] * 3 + ["rare_2"] * 9)
    frame = pd.DataFrame({"c": rng.permutation(values), "v": rng.normal(size=len(values))})
    gen = GaussianCopula(rare_min_count=10, random_state=0).fit(frame)
    out = gen.sample(20_000, seed=0)
    assert set(out["c"]) == {"common_a", "common_b"}
    assert abs((out["c"] == "common_a").mean() - 500 / 800) < 0.02  # resampled proportionally
    assert gen.describe()["privacy"]["categories_suppressed"] == 2
    assert "rare_1" not in repr(gen.__dict__)  # the model itself does not hold rare values


def test_high_cardinality_categorical(mixed: pd.DataFrame, fitted: GaussianCopula) -> None:
    out = fitted.sample(N, seed=5)
    assert out["city"].nunique() > 300
    assert _tvd(mixed["city"], out["city"]) < 0.15


def test_seasonal_timestamps_keep_calendar_parts() -> None:
    rng = np.random.default_rng(3)
    days = pd.date_range("2013-01-01", "2014-12-31", freq="D")
    w = np.where(days.day_of_week < 5, 4.0, 1.0) * np.where(days.month.isin([6, 7, 8]), 2.5, 1.0)
    n = 20_000
    d = rng.choice(days.to_numpy(), n, p=w / w.sum())
    hp = np.r_[np.full(6, 0.1), np.full(4, 3.0), np.full(8, 1.0), np.full(6, 0.4)]
    hours = rng.choice(24, n, p=hp / hp.sum())
    minutes = rng.integers(0, 60, n)
    ts = pd.Series(d + hours.astype("timedelta64[h]") + minutes.astype("timedelta64[m]"))
    frame = pd.DataFrame({"ts": ts.dt.tz_localize("UTC"), "delay": hours * 3 + rng.normal(size=n)})
    gen = GaussianCopula(random_state=0).fit(
        frame, infer_specs(frame, {"ts": "timestamp with time zone"})
    )
    out = gen.sample(n, seed=1)
    assert out["ts"].dtype == frame["ts"].dtype
    for part in ("day_of_week", "month", "hour"):
        assert _tvd(getattr(frame["ts"].dt, part), getattr(out["ts"].dt, part)) < 0.04, part
    assert (out["ts"].dt.second == 0).all()  # minute resolution kept
    syn_rho = out["delay"].corr(out["ts"].dt.hour, method="spearman")
    assert syn_rho > 0.8


def test_dates_stay_dates() -> None:
    rng = np.random.default_rng(4)
    d = pd.Series(
        pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 5000, 3000), unit="D")
    )
    frame = pd.DataFrame({"d": d.astype("datetime64[us]")})
    out = (
        GaussianCopula(random_state=0)
        .fit(frame, infer_specs(frame, {"d": "date"}))
        .sample(2000, seed=0)
    )
    assert (out["d"] == out["d"].dt.normalize()).all()
    # k_day tails (default): never before the day of the 10th (rare_min_count) earliest date
    srt = frame["d"].sort_values().reset_index(drop=True)
    assert out["d"].min() >= srt[9] and out["d"].max() <= srt[len(srt) - 10]
    strict = GaussianCopula(random_state=0, datetime_tail="quantile")
    out_q = strict.fit(frame, infer_specs(frame, {"d": "date"})).sample(2000, seed=0)
    assert out_q["d"].min() >= frame["d"].quantile(0.01) - pd.Timedelta(days=1)
    assert out_q["d"].max() <= frame["d"].quantile(0.99)


def test_deterministic_with_seed_fresh_without(fitted: GaussianCopula) -> None:
    a, b = fitted.sample(500, seed=11), fitted.sample(500, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c, d = fitted.sample(500), fitted.sample(500)
    assert not c["x"].equals(d["x"])
    chunks = list(fitted.sample_chunks(1050, seed=11, chunk_size=200))
    assert [len(c) for c in chunks] == [200] * 5 + [50]
    assert sum(len(c) for c in chunks) == 1050


def test_fit_deterministic_with_random_state(mixed: pd.DataFrame) -> None:
    a = GaussianCopula(random_state=5, max_train_rows=2000).fit(mixed).sample(300, seed=1)
    b = GaussianCopula(random_state=5, max_train_rows=2000).fit(mixed).sample(300, seed=1)
    pd.testing.assert_frame_equal(a, b)


def test_no_training_rows_copied(mixed: pd.DataFrame, fitted: GaussianCopula) -> None:
    out = fitted.sample(N, seed=6)
    cols = ["x", "income", "score"]
    merged = out[cols].merge(mixed[cols], how="inner", on=cols)
    assert len(merged) == 0


def test_text_and_id_columns_refused_by_name() -> None:
    n = 200
    frame = pd.DataFrame(
        {
            "customer id": [f"c-{i:05d}" for i in range(n)],
            "note": [f"free text number {i} with words" for i in range(n)],
            "v": np.arange(n, dtype=float),
        }
    )
    specs = infer_specs(frame, {"customer id": "uuid"})
    assert [s.kind for s in specs] == ["id", "text", "float"]
    with pytest.raises(UnsupportedColumnError) as err:
        GaussianCopula().fit(frame, specs)
    assert "'customer id'" in str(err.value) and "'note'" in str(err.value)
    assert "mock" in str(err.value)
    assert err.value.columns == ["customer id", "note"]
    # with passthrough_mock they are filled (ids unique) instead of refused
    gen = GaussianCopula(passthrough_mock={"customer id", "note"}, random_state=0).fit(frame, specs)
    out = gen.sample(300, seed=0)
    assert out["customer id"].is_unique and not set(out["customer id"]) & set(frame["customer id"])
    assert gen.describe()["columns"]["note"]["filled_by"] == "mock"


def test_user_can_declare_text_categorical() -> None:
    frame = pd.DataFrame({"t": [f"v{i % 150}" for i in range(200)]})
    assert infer_specs(frame)[0].kind == "text"
    spec = [ColumnSpec(name="t", kind="categorical")]
    out = GaussianCopula(rare_min_count=1, random_state=0).fit(frame, spec).sample(100, seed=0)
    assert set(out["t"]) <= set(frame["t"])


def test_empty_frame_refused() -> None:
    with pytest.raises(EmptyInputError):
        GaussianCopula().fit(pd.DataFrame({"a": pd.Series([], dtype=float)}))


def test_all_null_and_constant_columns() -> None:
    frame = pd.DataFrame(
        {
            "nothing": pd.Series([None] * 50, dtype="Int64"),
            "same": ["k"] * 50,
            "v": np.linspace(0, 1, 50),
        }
    )
    specs = infer_specs(frame)
    assert [s.kind for s in specs[:2]] == ["constant", "constant"]
    out = GaussianCopula(random_state=0).fit(frame, specs).sample(40, seed=0)
    assert out["nothing"].isna().all() and out["nothing"].dtype == "Int64"
    assert (out["same"] == "k").all()


def test_hostile_column_names() -> None:
    names = ["a b", 'x"; DROP TABLE t; --', "it's", "ünï cödé", ""]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({n: rng.normal(size=100) for n in names})
    gen = GaussianCopula(random_state=0).fit(frame)
    out = gen.sample(10, seed=0)
    assert list(out.columns) == names
    json.dumps(gen.describe())


def test_describe_is_json_and_names_controls(fitted: GaussianCopula) -> None:
    desc = json.loads(json.dumps(fitted.describe()))
    assert desc["method"] == "gaussian_copula"
    assert desc["privacy"]["rare_min_count"] == 10
    assert desc["privacy"]["tail_quantile"] == 0.01
    assert desc["privacy"]["rows_trained_on"] == N
    assert desc["columns"]["visits"]["kind"] == "integer"


def test_max_train_rows_bounds_training(mixed: pd.DataFrame) -> None:
    gen = GaussianCopula(max_train_rows=1000, random_state=0).fit(mixed)
    assert gen.describe()["privacy"]["rows_trained_on"] == 1000
    assert gen.describe()["privacy"]["rows_input"] == N


def test_pg_types_drive_kinds() -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([1, 2, 3, 4] * 10, dtype="Int64"),
            "n": [1.25, 2.5, 3.75, 4.0] * 10,
            "d": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"] * 10),
            "u": [f"{i:08x}-0000-4000-8000-000000000000" for i in range(40)],
        }
    )
    specs = infer_specs(frame, {"i": "integer", "n": "numeric(12,2)", "d": "date", "u": "uuid"})
    assert [s.kind for s in specs] == ["integer", "float", "date", "id"]
    assert specs[1].scale == 2


def test_bad_parameters_and_unfitted() -> None:
    with pytest.raises(ConfigError):
        GaussianCopula(tail_quantile=0.7).fit(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(ConfigError):
        GaussianCopula().sample(5)


def test_mock_generator_schema_only() -> None:
    specs = [
        ColumnSpec("id", "id", nullable=False, pg_type="uuid"),
        ColumnSpec("email", "text", nullable=False),
        ColumnSpec("n", "integer", nullable=True, bounds=(1, 9)),
        ColumnSpec("ts", "datetime", nullable=False, pg_type="timestamp with time zone"),
        ColumnSpec("tier", "categorical", nullable=False, categories=["a", "b"]),
    ]
    gen = MockGenerator(seed=3).fit(None, specs)
    a, b = gen.sample(500, seed=1), gen.sample(500, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a["id"].is_unique and a["email"].str.contains("@").all()
    assert a["n"].dtype == "Int64" and a["n"].dropna().between(1, 9).all()
    assert str(a["ts"].dtype).endswith("UTC]")
    assert set(a["tier"]) == {"a", "b"}
    assert sum(len(c) for c in gen.sample_chunks(250, chunk_size=100)) == 250


def test_mock_uuids_are_the_rng_bytes_as_version_4_text() -> None:
    """random_uuids writes the text with numpy into one Arrow buffer (no Python string per
    value); each value must still be the canonical text of the rng's 16 bytes, version 4."""
    import uuid

    import numpy as np

    from synthdb.generators._output import take_series
    from synthdb.generators.mock import random_uuids

    values = random_uuids(1000, np.random.default_rng(11))
    raw = np.random.default_rng(11).integers(0, 256, size=(1000, 16), dtype=np.uint8)
    expected = [str(uuid.UUID(bytes=bytes(r), version=4)) for r in raw]
    assert list(values) == expected and len(set(expected)) == 1000
    assert len(random_uuids(0, np.random.default_rng(1))) == 0
    codes = np.where(np.arange(1000) % 3 == 0, -1, np.arange(1000))
    as_objects = take_series(values, codes, object)  # NULL codes stay None, the rest text
    assert as_objects.isna().sum() == 334 and as_objects[1] == expected[1]


def test_calendar_grain_of_coarsened_dates_is_kept():
    """A month-coarsened date (coarsen_date policy) stays on first days of months."""
    import numpy as np
    import pandas as pd

    from synthdb.generators import GaussianCopula, infer_specs

    rng = np.random.default_rng(5)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, 5000), unit="D")
    frame = pd.DataFrame(
        {
            "month": days.to_period("M").to_timestamp(),
            "week": (days - pd.to_timedelta(days.day_of_week, unit="D")).normalize(),
            "quarter": days.to_period("Q").to_timestamp(),
            "x": rng.normal(size=5000),
        }
    )
    specs = infer_specs(
        frame, {"month": "date", "week": "date", "quarter": "date", "x": "double precision"}
    )
    out = GaussianCopula(random_state=1).fit(frame, specs).sample(4000, seed=2)
    assert (out["month"].dt.day == 1).all()
    assert (out["week"].dt.day_of_week == 0).all()
    assert (out["quarter"].dt.day == 1).all() and out["quarter"].dt.month.isin([1, 4, 7, 10]).all()
    assert out["month"].nunique() > 12
    assert out["month"].min() >= frame["month"].min() and out["month"].max() <= frame["month"].max()


def _lag7(ts: pd.Series, days: pd.DatetimeIndex) -> tuple[pd.Series, float]:
    c = ts.dt.normalize().value_counts().reindex(days, fill_value=0).sort_index()
    x = c.to_numpy(dtype=float) - c.mean()
    return c, float(np.sum(x[:-7] * x[7:]) / np.sum(x * x))


def test_daily_profile_weekly_rhythm_and_calendar_edges() -> None:
    """Daily counts keep their weekly rhythm (lag-7 autocorrelation), a one-day holiday dip and
    the first and last days of the range (k_day tails do not cut 1-3 January away)."""
    rng = np.random.default_rng(11)
    days = pd.date_range("2019-01-01", "2019-12-31", freq="D")
    w = np.where(days.day_of_week == 5, 0.6, 1.0) * np.where(days == "2019-07-04", 0.2, 1.0)
    n = 40_000
    d = rng.choice(days.to_numpy(), n, p=w / w.sum())
    ts = pd.Series(d + rng.integers(6 * 60, 22 * 60, n).astype("timedelta64[m]"))
    frame = pd.DataFrame({"ts": ts, "v": rng.normal(size=n)})
    out = GaussianCopula(random_state=0).fit(frame).sample(n, seed=3)
    real_c, real_acf = _lag7(frame["ts"], days)
    syn_c, syn_acf = _lag7(out["ts"], days)
    assert abs(real_acf - syn_acf) < 0.1, (real_acf, syn_acf)
    assert syn_c["2019-07-04"] < 0.5 * syn_c["2019-07-11"]  # the holiday survives
    assert syn_c.iloc[:3].min() > 0.5 * syn_c.mean() and syn_c.iloc[-3:].min() > 0.5 * syn_c.mean()
    # month x weekday joint: months with five Tuesdays are not short of Tuesday rows per day
    tue = out["ts"][out["ts"].dt.day_of_week == 1]
    per_day = tue.dt.normalize().value_counts()
    assert per_day.std() / per_day.mean() < 0.15


def test_optional_subrecord_is_null_together() -> None:
    """Columns null in exactly the same rows (an optional sub-record) stay null together.

    Before null groups (and with NULL as one more category), 44 % of synthetic MplsStops
    rows had a null pattern that no source row had.
    """
    rng = np.random.default_rng(3)
    n = 8000
    person = rng.random(n) < 0.16  # no person recorded: all four fields missing
    frame = pd.DataFrame(
        {
            "kind": pd.Series(rng.choice(["traffic", "suspicious"], n), dtype=object),
            "race": pd.Series(
                np.where(person, None, rng.choice(["A", "B", "C", "D"], n)), dtype=object
            ),
            "gender": pd.Series(np.where(person, None, rng.choice(["F", "M"], n)), dtype=object),
            "searched": pd.array(np.where(person, None, rng.random(n) < 0.1), dtype="boolean"),
            "age": pd.array(np.where(person, None, rng.integers(16, 90, n)), dtype="Int64"),
            "citation": pd.Series(
                np.where(rng.random(n) < 0.6, None, rng.choice(["Y", "N"], n)), dtype=object
            ),
        }
    )
    gen = GaussianCopula(random_state=0).fit(frame)
    assert sorted(gen.null_leader_.values()) == [1, 1, 1]  # race leads gender/searched/age
    assert gen.describe()["columns"]["age"]["null_with"] == "race"
    out = gen.sample(20000, seed=1)
    mask = out[["race", "gender", "searched", "age"]].isna()
    assert (mask.nunique(axis=1) == 1).all()  # all four null or none
    assert abs(mask["race"].mean() - person.mean()) < 0.02
    # object columns keep None (not NaN) for NULL, like the source
    assert out["race"][mask["race"]].map(lambda v: v is None).all()
    # an independent null pattern keeps its own flag and rate
    assert abs(out["citation"].isna().mean() - frame["citation"].isna().mean()) < 0.02


def test_numbers_and_nested_categories_follow_their_category() -> None:
    """Coordinates stay in their neighbourhood and the precinct matches it (conditional tables).

    One correlation matrix cannot place 40 neighbourhoods on a map: before per-category tables
    synthetic coordinates fell anywhere in the city.
    """
    rng = np.random.default_rng(5)
    n = 20000
    hoods = np.array([f"hood{i}" for i in range(40)])
    centre = rng.uniform(0, 100, size=(40, 2))
    h = rng.choice(40, size=n, p=np.r_[np.full(39, 0.99 / 39), 0.01])
    lat = centre[h, 0] + rng.normal(0, 1.0, n)
    lon = centre[h, 1] + rng.normal(0, 1.0, n)
    precinct = (np.arange(40) % 5 + 1)[h]
    frame = pd.DataFrame(
        {
            "neighborhood": pd.Series(hoods[h], dtype=object),
            "lat": lat,
            "long": lon,
            "precinct": precinct.astype(np.int64),
            "noise": rng.normal(size=n),
        }
    )
    # one row of hood0 recorded in the wrong precinct: a combination seen once, never emitted
    frame.loc[int(np.flatnonzero(h == 0)[0]), "precinct"] = 5
    gen = GaussianCopula(random_state=0).fit(frame)
    assert gen.parent_ == {1: 0, 2: 0, 3: 0}  # lat, long, precinct given neighborhood
    info = gen.describe()["columns"]
    assert info["lat"]["per_category_tables"] == 40
    assert info["precinct"]["conditional_on"] == "neighborhood"
    out = gen.sample(20000, seed=2)
    c = centre[pd.Index(hoods).get_indexer(out["neighborhood"])]
    # within 4 sd of the neighbourhood centre (the city is 100 wide)
    assert (np.abs(out["lat"] - c[:, 0]) < 4).mean() > 0.99
    assert (np.abs(out["long"] - c[:, 1]) < 4).mean() > 0.99
    # per-category tables stay inside the column's protected quantiles
    for col in ("lat", "long"):
        lo, hi = np.quantile(frame[col], [0.01, 0.99])
        assert out[col].min() >= lo - 1e-9 and out[col].max() <= hi + 1e-9
    want = (np.arange(40) % 5 + 1)[pd.Index(hoods).get_indexer(out["neighborhood"])]
    assert (out["precinct"].to_numpy() == want).all()
    # the unrelated column has no parent and keeps its distribution
    assert abs(out["noise"].std() - 1.0) < 0.1
    # switched off: the coordinates scatter across the city
    flat = GaussianCopula(random_state=0, conditional_numbers=False).fit(frame).sample(5000, seed=2)
    c = centre[pd.Index(hoods).get_indexer(flat["neighborhood"])]
    assert (np.abs(flat["lat"] - c[:, 0]) < 4).mean() < 0.5


@pytest.mark.parametrize("trees", [False, True])
def test_numbers_keep_their_outer_deciles_without_entering_the_tails(trees: bool) -> None:
    """Scores beyond the protected quantiles take the bound (top/bottom coding): the lowest
    and highest deciles keep their 10 % (stretching the table over the unit line left 9.2 %),
    and no value lies outside the protected quantiles."""
    from synthdb.generators import SequentialTrees

    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(50.0, 10.0, 20_000)})
    cls = SequentialTrees if trees else GaussianCopula
    out = cls(random_state=0, tail_quantile=0.01).fit(frame).sample(100_000, seed=1)["x"]
    lo, d1, d9, hi = np.quantile(frame["x"], [0.01, 0.1, 0.9, 0.99])
    assert out.min() >= lo - 1e-9 and out.max() <= hi + 1e-9
    assert 0.095 <= (out <= d1).mean() <= 0.105
    assert 0.095 <= (out >= d9).mean() <= 0.105
