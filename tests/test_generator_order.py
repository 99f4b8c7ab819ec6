"""The sequential trees' ``fewest_values`` conditioning order: a concentrated column drawn
before the spread-out ones it sums with keeps its spikes; shared nulls survive any order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthdb.errors import ConfigError
from synthdb.generators import SequentialTrees
from synthdb.generators.ordering import effective_values


def _sum_frame(n: int = 12_000, seed: int = 0) -> pd.DataFrame:
    """``total = start + delay``: start spread over 1,000 values, delay piled on a few minutes
    (the departure time / scheduled time / delay triple of flights, in that input order)."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 1000, n).astype(float)
    delay = rng.choice(np.arange(-6, 7), n, p=np.r_[1, 2, 4, 8, 12, 16, 20, 14, 9, 6, 4, 3, 1] / 100)
    late = rng.random(n) < 0.3  # and a long tail of late ones: a number, not a category
    delay[late] = 7 + np.floor(rng.exponential(40.0, late.sum())).astype(int)
    frame = pd.DataFrame({"start": start, "total": start + delay, "delay": delay.astype(float)})
    gone = rng.random(n) < 0.05  # cancelled: no start, no total, no delay
    frame.loc[gone, ["start", "total", "delay"]] = np.nan
    return frame


def _tvd(a: pd.Series, b: pd.Series) -> float:
    """Distance of the on-time minutes' frequencies (late ones in one bin)."""
    a, b = a.clip(upper=7), b.clip(upper=7)
    p = a.value_counts(normalize=True)
    q = b.value_counts(normalize=True)
    return float(p.sub(q, fill_value=0.0).abs().sum() / 2)


def test_effective_values_counts_spikes_not_rows() -> None:
    frame = pd.DataFrame({"const": [1] * 8, "two": [0, 1] * 4, "distinct": range(8)})
    eff = effective_values(frame)
    assert eff["const"] == pytest.approx(1.0)
    assert eff["two"] == pytest.approx(2.0)
    assert eff["distinct"] == pytest.approx(8.0)


def test_fewest_values_draws_the_spiky_column_first_and_keeps_its_spikes() -> None:
    frame = _sum_frame()
    blurred = SequentialTrees(random_state=1).fit(frame)
    ordered = SequentialTrees(random_state=1, order="fewest_values").fit(frame)
    assert ordered.describe()["correlation"]["columns_in_order"] == ["delay", "start", "total"]
    before = _tvd(frame["delay"], blurred.sample(len(frame), seed=2)["delay"])
    out = ordered.sample(len(frame), seed=2)
    after = _tvd(frame["delay"], out["delay"])
    # drawn last from boxes around the diagonal start = total - delay, the spikes smear into
    # their neighbours; drawn first the delay is a plain column (sampling noise only)
    assert after < 0.03 < before, (after, before)
    # the relation still holds roughly: the sum is drawn given both its parts
    ok = out.dropna()
    assert np.median(np.abs(ok["total"] - ok["start"] - ok["delay"])) <= 15


def test_shared_null_flag_drawn_before_a_follower_that_comes_first() -> None:
    frame = _sum_frame()
    gen = SequentialTrees(random_state=3, order="fewest_values").fit(frame)
    # the flag belongs to the group's leader (start, first in the input); delay comes first
    flags = [j for j, d in enumerate(gen.dims_) if d.role == "flag"]
    values = [j for j, d in enumerate(gen.dims_) if d.role == "value"]
    assert len(flags) == 1 and flags[0] < min(values)
    out = gen.sample(3_000, seed=4)
    nulls = out[["start", "total", "delay"]].isna()
    assert (nulls.nunique(axis=1) == 1).all()  # NULL together or not at all
    assert 0.02 < nulls["delay"].mean() < 0.08


def test_unknown_order_is_refused() -> None:
    with pytest.raises(ConfigError, match="order must be one of"):
        SequentialTrees(order="greedy").fit(_sum_frame(200))


def test_auto_orders_large_tables_only_and_keeps_parent_columns_first() -> None:
    from synthdb.generators.context import context_name
    from synthdb.generators.sequential import AUTO_ORDER_MIN_ROWS

    small = _sum_frame(AUTO_ORDER_MIN_ROWS - 1)
    assert SequentialTrees(random_state=0).fit(small).describe()["correlation"][
        "columns_in_order"
    ] == ["start", "total", "delay"]
    large = _sum_frame(AUTO_ORDER_MIN_ROWS)
    large.insert(0, context_name("spread"), np.arange(len(large)) % 997)
    gen = SequentialTrees(random_state=0).fit(large)
    info = gen.describe()["correlation"]
    assert info["order"] == "auto" and info["order_used"] == "fewest_values"
    # the parent's column (spread, 997 values) stays first: children are drawn given it
    assert info["columns_in_order"] == [context_name("spread"), "delay", "start", "total"]


def test_fewest_values_draws_derived_calendar_parts_early_and_the_trend_last() -> None:
    """A timestamp's hour, also a column of its own (derived), is drawn where that column's
    few values put it: before spread-out numbers, so they are drawn given it. The trend
    (thousands of values) stays last, and without derived calendar columns the parts stay
    with it."""
    rng = np.random.default_rng(4)
    n = 4000
    hour = rng.choice(np.arange(6, 22), n)
    stamp = pd.Series(
        pd.Timestamp("2023-01-01")
        + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
        + pd.to_timedelta(hour, unit="h")
        + pd.to_timedelta(rng.integers(0, 60, n), unit="min")
    )
    stamp[rng.random(n) < 0.05] = pd.NaT
    frame = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, n).round(2) + hour * 10,
            "stamp": stamp,
            "kind": pd.Series(rng.choice(["a", "b", "c"], n), dtype=object),
            "hour": stamp.dt.hour.astype("Int64"),
        }
    )

    def order(f: pd.DataFrame) -> list[tuple[str, str]]:
        gen = SequentialTrees(order="fewest_values", random_state=0).fit(f)
        return [(str(gen.names_[gen.model_pos_[d.col]]), d.role) for d in gen.dims_]

    seq = order(frame)
    parts = [j for j, (c, r) in enumerate(seq) if c == "stamp" and r == "part"]
    assert parts and ("hour", "value") not in seq, seq  # hour is derived, not modelled
    assert seq.index(("kind", "value")) < seq.index(("stamp", "flag")) < parts[0], seq
    assert parts[-1] < seq.index(("amount", "value")), seq
    assert seq[-1] == ("stamp", "trend"), seq
    seq = order(frame.drop(columns=["hour"]))
    assert seq.index(("amount", "value")) < seq.index(("stamp", "flag")), seq
    assert seq[-1] == ("stamp", "trend"), seq
