"""Calendar columns derived from a timestamp are recomputed after sampling, never modelled."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthdb.errors import ConfigError
from synthdb.generators import GaussianCopula
from synthdb.generators.derived import detect

N = 3000


def _agree(out: pd.DataFrame, col: str, values: pd.Series) -> float:
    """Share of rows where ``col`` equals ``values`` (both NULL counts as agreement)."""
    a, b = out[col], values
    same = (a.astype(object) == b.astype(object)) | (a.isna() & b.isna())
    return float(same.mean())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    minutes = rng.integers(0, 2 * 365 * 24 * 60, N)
    naive = pd.Series(pd.Timestamp("2022-01-01") + pd.to_timedelta(minutes, unit="min"))
    # tz-aware with DST: wall-clock times skipped in spring are moved forward
    ts = naive.dt.tz_localize("America/New_York", ambiguous=True, nonexistent="shift_forward")
    ts[rng.random(N) < 0.15] = pd.NaT
    lookalike = ts.dt.month.astype("Int64")
    lookalike[rng.random(N) < 0.01] = 13  # differs from month(ts) in about 1% of rows
    return pd.DataFrame(
        {
            "ts": ts,
            "year": ts.dt.year.astype("Int64"),
            "month": ts.dt.month.astype("Int64"),
            "day": ts.dt.day.astype("Int64"),
            "hour": ts.dt.hour.astype(float),  # float because of the NULLs
            "dow_name": pd.Series(ts.dt.day_name(), dtype=object).where(ts.notna(), None),
            "month_lookalike": lookalike,
            "amount": np.round(rng.gamma(2.0, 30.0, N), 2),
        }
    )


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> GaussianCopula:
    return GaussianCopula(random_state=0).fit(frame)


def test_detected_and_described(model: GaussianCopula) -> None:
    d = json.loads(json.dumps(model.describe()))
    assert d["derived_columns"] == {
        "year": {"derived_from": "ts", "part": "year"},
        "month": {"derived_from": "ts", "part": "month"},
        "day": {"derived_from": "ts", "part": "day"},
        "hour": {"derived_from": "ts", "part": "hour"},
        "dow_name": {"derived_from": "ts", "part": "day_name"},
    }
    assert d["columns"]["month"]["latent_dims"] == 0
    # the lookalike disagrees on ~1% of rows: it is modelled, not derived
    assert "month_lookalike" not in d["derived_columns"]
    assert d["columns"]["month_lookalike"]["latent_dims"] >= 1
    assert list(d["columns"]) == list(model.names_)


def test_consistent_in_every_row_with_nulls_and_tz(frame: pd.DataFrame, model) -> None:
    out = model.sample(20_000, seed=5)
    assert list(out.columns) == list(frame.columns)
    assert (out.dtypes == frame.dtypes).all()
    ts = out["ts"]
    assert str(ts.dt.tz) == "America/New_York"
    assert 0.10 < ts.isna().mean() < 0.20
    for col, part in [("year", "year"), ("month", "month"), ("day", "day"), ("hour", "hour")]:
        assert _agree(out, col, getattr(ts.dt, part)) == 1.0, col
    assert _agree(out, "dow_name", ts.dt.day_name()) == 1.0
    # NULL exactly where the base is NULL
    assert (out["month"].isna() == ts.isna()).all()
    assert (out["dow_name"].isna() == ts.isna()).all()
    # the lookalike is synthesised on its own, so it disagrees somewhere (and may emit 13)
    assert _agree(out, "month_lookalike", ts.dt.month) < 0.99


def test_local_hour_profile_survives_dst() -> None:
    """Hours are modelled in the column's zone: a 9-to-17 local profile stays 9-to-17 all year."""
    rng = np.random.default_rng(1)
    days = rng.integers(0, 365, N)
    hours = rng.integers(9, 18, N)
    naive = pd.Series(pd.Timestamp("2023-01-01") + pd.to_timedelta(days * 24 + hours, unit="h"))
    df = pd.DataFrame({"ts": naive.dt.tz_localize("Europe/Berlin"), "v": rng.normal(size=N)})
    out = GaussianCopula(random_state=0).fit(df).sample(N, seed=2)
    assert out["ts"].dt.hour.between(9, 17).mean() == 1.0


def test_coincidences_are_not_derivations() -> None:
    rng = np.random.default_rng(2)
    ts = pd.Series(pd.date_range("2021-03-01", periods=40, freq="D"))
    df = pd.DataFrame(
        {
            "ts": ts,
            "const_year": np.full(40, 2021),  # equals year(ts), but the part never varies
            "month": ts.dt.month,
            "noise": rng.integers(1, 13, 40),
        }
    )
    found = detect(df, ["datetime", "integer", "integer", "integer"])
    assert found == {2: (0, "month")}
    # too few rows: no derivation even when equal
    small = df.head(19)
    assert detect(small, ["datetime", "integer", "integer", "integer"]) == {}


def test_declared_and_switched_off(frame: pd.DataFrame) -> None:
    off = GaussianCopula(random_state=0, detect_derived=False).fit(frame)
    assert off.describe()["derived_columns"] == {}
    decl = GaussianCopula(random_state=0, detect_derived=False, derived={"day": ("ts", "day")})
    out = decl.fit(frame).sample(2000, seed=1)
    assert decl.describe()["derived_columns"] == {"day": {"derived_from": "ts", "part": "day"}}
    assert _agree(out, "day", out["ts"].dt.day) == 1.0
    with pytest.raises(ConfigError, match="amount"):
        GaussianCopula(derived={"day": ("amount", "day")}).fit(frame)
    with pytest.raises(ConfigError, match="fortnight"):
        GaussianCopula(derived={"day": ("ts", "fortnight")}).fit(frame)


def test_chunks_stay_consistent(model: GaussianCopula) -> None:
    total = 0
    for chunk in model.sample_chunks(5000, seed=9, chunk_size=1234):
        assert _agree(chunk, "hour", chunk["ts"].dt.hour) == 1.0
        total += len(chunk)
    assert total == 5000
