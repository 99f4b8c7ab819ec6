"""Clock-time identities between numbers are recomputed after sampling, in every row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthdb.generators import GaussianCopula, SequentialTrees
from synthdb.generators.identities import clock_minutes, detect, hhmm_of

N = 4000
TAIL = 0.01


def _flights(seed: int = 5) -> pd.DataFrame:
    """A flight-like table: scheduled hhmm from hour and minute, actual = scheduled + delay in
    clock minutes (midnight written 2400), the arrival known on some rows without its delay."""
    rng = np.random.default_rng(seed)
    hour = rng.choice(np.arange(5, 24), N)
    minute = rng.choice(np.arange(0, 60, 5), N)
    sched = 100 * hour + minute
    delay = np.where(rng.random(N) < 0.6, rng.integers(-8, 3, N), rng.gamma(1.2, 40, N).round())
    delay = np.where(rng.random(N) < 0.05, np.nan, delay)
    dep = np.where(np.isnan(delay), np.nan, hhmm_of(clock_minutes(sched) + delay, 2400))
    sched_arr = hhmm_of(clock_minutes(sched) + rng.integers(60, 300, N), 0)
    arr_delay = np.where(np.isnan(delay), np.nan, delay + rng.integers(-20, 20, N))
    arr = np.where(np.isnan(arr_delay), np.nan, hhmm_of(clock_minutes(sched_arr) + arr_delay, 2400))
    lost = ~np.isnan(arr_delay) & (rng.random(N) < 0.03)  # arrival known, delay not
    arr_delay[lost] = np.nan
    carrier = rng.choice(["AA", "B6", "DL", "UA"], N)
    return pd.DataFrame(
        {
            "carrier": pd.Series(carrier, dtype=object),
            "hour": hour.astype(np.int64),
            "minute": minute.astype(np.int64),
            "sched_dep_time": sched.astype(np.int64),
            "dep_delay": delay,
            "dep_time": dep,
            "sched_arr_time": sched_arr.astype(np.int64),
            "arr_delay": arr_delay,
            "arr_time": arr,
        }
    )


def _protected(frame: pd.DataFrame, col: str) -> tuple[float, float]:
    x = frame[col].dropna().to_numpy(dtype=float)
    lo, hi = np.quantile(x, [TAIL, 1 - TAIL])
    return float(np.floor(lo)), float(np.ceil(hi))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _flights()


def test_detects_the_clock_identities(frame: pd.DataFrame) -> None:
    kinds = ["categorical", "integer", "integer", "integer", "float", "float", "integer"]
    kinds += ["float", "float"]
    found = detect(frame, kinds)
    names = {frame.columns[t]: (i.op, [frame.columns[b] for b in i.bases], i.partial)
             for t, i in found.items()}
    assert names == {
        "sched_dep_time": ("hhmm", ["hour", "minute"], False),
        "dep_time": ("hhmm_add", ["sched_dep_time", "dep_delay"], False),
        "arr_time": ("hhmm_add", ["sched_arr_time", "arr_delay"], True),
    }


@pytest.mark.parametrize("cls", [SequentialTrees, GaussianCopula])
def test_identities_hold_in_every_sampled_row(frame: pd.DataFrame, cls: type) -> None:
    gen = cls(random_state=1, tail_quantile=TAIL).fit(frame)
    out = gen.sample(3000, seed=2)
    assert list(out.dtypes) == list(frame.dtypes)
    cols = gen.describe()["columns"]
    assert cols["dep_time"]["identity"] == "hhmm_add"
    assert cols["dep_time"]["latent_dims"] == 0  # computed, not modelled
    assert cols["arr_time"]["partial"] is True and cols["arr_time"]["latent_dims"] > 0
    checks = [
        ("sched_dep_time", 100 * out["hour"] + out["minute"]),
        ("dep_time", hhmm_of(clock_minutes(out["sched_dep_time"]) + out["dep_delay"], 2400)),
        ("arr_time", hhmm_of(clock_minutes(out["sched_arr_time"]) + out["arr_delay"], 2400)),
    ]
    for col, want in checks:
        lo, hi = _protected(frame, col)
        y = out[col].to_numpy(dtype=float)
        want = np.asarray(want, dtype=float)
        known = ~np.isnan(want)
        # never outside the protected range; inside it, the identity holds in every row
        assert np.nanmin(y) >= lo and np.nanmax(y) <= hi, col
        lo, hi = cols[col]["range"]  # the protected quantiles, rounded inwards
        inside = known & (want >= lo) & (want <= hi)
        assert inside.sum() > 0.85 * known.sum(), col
        assert np.array_equal(y[inside], want[inside]), col
        assert np.array_equal(y[known], np.clip(want[known], lo, hi)), col
    # dep_time is NULL exactly where its delay is; arr_time may be known without its delay
    assert np.array_equal(out["dep_time"].isna(), out["dep_delay"].isna())
    assert out["arr_time"].notna()[out["arr_delay"].notna()].all()
    assert out["dep_time"].isna().any() and out["arr_time"].notna()[out["arr_delay"].isna()].any()


def test_a_near_identity_is_not_derived(frame: pd.DataFrame) -> None:
    near = frame.copy()
    off = np.random.default_rng(0).random(N) < 0.01  # one row in a hundred disagrees
    near.loc[off, "sched_dep_time"] = near.loc[off, "sched_dep_time"] + 1
    near.loc[off & (near["sched_dep_time"] % 100 >= 60), "sched_dep_time"] -= 2
    gen = SequentialTrees(random_state=1).fit(near)
    cols = gen.describe()["columns"]
    assert "identity" not in cols["sched_dep_time"]
    assert cols["sched_dep_time"]["latent_dims"] > 0
    # a column that equals the identity in 99 % of the rows is modelled, not computed
    assert "identity" not in cols["dep_time"]


def test_constant_delay_and_detect_off_are_not_derived(frame: pd.DataFrame) -> None:
    const = frame.drop(columns=["hour"]).assign(
        dep_delay=0.0, dep_time=frame["sched_dep_time"].astype(float)
    )
    cols = SequentialTrees(random_state=1).fit(const).describe()["columns"]
    assert "identity" not in cols["dep_time"]  # a constant base is no evidence
    cols = SequentialTrees(random_state=1, detect_derived=False).fit(frame).describe()["columns"]
    assert not any("identity" in c for c in cols.values())


def test_no_cycle_between_mutual_identities() -> None:
    rng = np.random.default_rng(1)
    a = 100 * rng.integers(6, 20, 500) + rng.integers(0, 60, 500)
    d = rng.integers(-30, 90, 500)
    t = hhmm_of(clock_minutes(a) + d, 0)
    frame = pd.DataFrame({"a": a, "d": d, "t": t, "back": -d})
    found = detect(frame, ["integer"] * 4)
    assert len(found) == 1  # t from (a, d) or a from (t, back), never both
