"""Gaussian copula generator with empirical marginals and privacy controls on by default.

Each column becomes one or more latent dimensions (null flag, value, calendar parts); the joint
structure is one correlation matrix of normal scores. Why this design:

* empirical marginals (quantile tables, frequency intervals) keep spikes, skew and several modes;
* nulls and calendar parts are dimensions of the copula, so "NULL when X is large" and "busy on
  Mondays at 8" survive;
* privacy controls are structural: categories seen fewer than ``rare_min_count`` times are not
  even stored in the fitted model (draws that land in their pooled interval are resampled among
  the frequent categories, in proportion to their frequency — no "Other" value is invented, so
  the output fits the column's type); numbers and timestamps are sampled only inside the
  protected quantiles ``[tail_quantile, 1 - tail_quantile]``; continuous values are
  interpolated between quantiles, so rows are not copied;
* everything is vectorised numpy; training uses at most ``max_train_rows`` rows (marginals and a
  correlation matrix need no more) and sampling streams in chunks, so memory is flat in ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError, EmptyInputError, UnsupportedColumnError

from . import derived as derived_mod
from . import identities as identities_mod
from . import timeparts
from ._memory import release_free_memory
from ._output import constant_series, datetime_series, numeric_series, take_series
from .conditional import ConditionalIntervals, ConditionalQuantiles, choose_parents
from .correlation import shrunk_correlation
from .marginals import IntervalMarginal, QuantileMarginal, attenuation, ecdf_scores
from .mock import _frame, mock_column
from .specs import ColumnSpec, infer_specs
from .subjects import check_subjects, withhold_rare_by_subject

VERSION = "1"
#: a (month, weekday) cell gets its own timestamp trend table from this many training rows
CELL_MIN_ROWS = 30
#: a category gets its own table of a number that depends on it from this many training rows
CELL_MIN_ROWS_CONDITIONAL = 50
_EPS = 1e-9


def _null_flag(null: np.ndarray) -> IntervalMarginal | None:
    """Null indicator as a 2-outcome marginal (outcome 1 = NULL), or None if never null."""
    if not null.any():
        return None
    return IntervalMarginal(np.array([(~null).sum(), null.sum()]))


def null_flag_scores(
    flag: IntervalMarginal | None, null: np.ndarray, rng: np.random.Generator, atten: list[float]
) -> list[np.ndarray]:
    """The null flag's latent scores (none without a flag); records its attenuation factor."""
    if flag is None:
        return []
    atten.append(attenuation(flag.width))
    return [flag.to_uniform(null.astype(np.int64), rng)]


class _Column:
    """One source column's piece of the copula: latent dims at fit, a Series at sampling."""

    dims = 0
    suppressed = 0
    #: a column whose null mask equals an earlier column's has no null flag of its own; it is
    #: null exactly where that column is (``GaussianCopula.null_leader_``)
    flag: IntervalMarginal | None = None

    @property
    def atten(self) -> list[float]:
        """Correlation attenuation factor per latent dim (filled by ``scores``)."""
        if "_atten" not in self.__dict__:
            self._atten: list[float] = []
        return self._atten

    @atten.setter
    def atten(self, value: list[float]) -> None:
        self._atten = value

    def scores(self, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        return []

    def decode(
        self, u: np.ndarray, rng: np.random.Generator, null: np.ndarray | None = None
    ) -> pd.Series:
        """Series from the latent block ``u``; ``null`` is the mask of a shared null flag."""
        raise NotImplementedError

    def _null(self, u: np.ndarray, shared: np.ndarray | None) -> np.ndarray | None:
        """Null mask from the own flag (first latent dim) or the shared one."""
        if self.flag is not None:
            return self.flag.from_uniform(u[:, 0]) == 1
        return shared

    def info(self) -> dict[str, Any]:
        return {}


class _Constant(_Column):
    def __init__(self, spec: ColumnSpec, s: pd.Series) -> None:
        nonnull = s.dropna()
        self.value = None if len(nonnull) == 0 else nonnull.iloc[0]
        self.dtype = s.dtype

    def decode(
        self, u: np.ndarray, rng: np.random.Generator, null: np.ndarray | None = None
    ) -> pd.Series:
        return constant_series(self.value, len(u), self.dtype)

    def info(self) -> dict[str, Any]:
        return {"always_null": self.value is None}


class _Mock(_Column):
    def __init__(self, spec: ColumnSpec, s: pd.Series) -> None:
        self.spec = ColumnSpec(**{**spec.__dict__, "dtype": str(s.dtype)})

    def decode(
        self, u: np.ndarray, rng: np.random.Generator, null: np.ndarray | None = None
    ) -> pd.Series:
        return mock_column(self.spec, len(u), rng)

    def info(self) -> dict[str, Any]:
        return {"filled_by": "mock"}


class _Numeric(_Column):
    """float / integer: optional null flag + value (quantile table, or intervals if few values)."""

    def __init__(
        self,
        spec: ColumnSpec,
        s: pd.Series,
        tail_q: float,
        discrete_max: int,
        own_flag: bool = True,
        parent: pd.Series | None = None,
        rows_per_knot: int = 1,
    ) -> None:
        self.dtype = s.dtype
        null = s.isna().to_numpy()
        x = s.to_numpy(dtype=float, na_value=np.nan)[~null]
        self.flag = _null_flag(null) if own_flag else None
        integer = spec.kind == "integer"
        scale = 0 if integer else spec.scale
        uniq, counts = np.unique(x, return_counts=True)
        self.values: np.ndarray | None = None
        self.cond: ConditionalQuantiles | None = None
        self.cond_codes: ConditionalIntervals | None = None
        if len(uniq) <= discrete_max and len(x) >= 3 * len(uniq):
            # Repeating small domain: exact frequencies. Values outside the protected quantiles
            # are moved to the nearest allowed value (top/bottom coding), never emitted.
            self.values = uniq
            self.marginal: Any = IntervalMarginal(counts)
            qlo, qhi = np.quantile(x, [tail_q, 1.0 - tail_q])
            allowed = np.flatnonzero((uniq >= qlo - 1e-12) & (uniq <= qhi + 1e-12))
            if len(allowed) == 0:
                allowed = np.array([int(np.argmin(np.abs(uniq - np.median(x))))])
            self.code_lo, self.code_hi = int(allowed[0]), int(allowed[-1])
            self.lo, self.hi = float(uniq[self.code_lo]), float(uniq[self.code_hi])
            if parent is not None:
                self.cond_codes = ConditionalIntervals(
                    np.searchsorted(uniq, x),
                    parent[~null],
                    self.marginal,
                    min_cell=rows_per_knot,
                )
        else:
            self.marginal = QuantileMarginal(
                x,
                tail_q,
                integer=integer,
                decimals=scale,
                rows_per_knot=rows_per_knot,
                top_code=True,
            )
            self.lo, self.hi = self.marginal.lo, self.marginal.hi
            if parent is not None:
                self.cond = ConditionalQuantiles(
                    x,
                    parent[~null],
                    self.marginal,
                    tail_q,
                    min_rows=CELL_MIN_ROWS_CONDITIONAL,
                    rows_per_knot=rows_per_knot,
                    integer=integer,
                    decimals=scale,
                )
        if spec.bounds is not None:
            blo, bhi = spec.bounds
            self.lo = self.lo if blo is None else max(self.lo, float(blo))
            self.hi = self.hi if bhi is None else min(self.hi, float(bhi))
        self.dims = (self.flag is not None) + 1

    def scores(self, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        null = s.isna().to_numpy()
        x = s.to_numpy(dtype=float, na_value=np.nan)
        out = null_flag_scores(self.flag, null, rng, self.atten)
        _, tie_counts = np.unique(x[~null], return_counts=True)
        self.atten.append(attenuation(tie_counts) if len(tie_counts) < len(x) - null.sum() else 1.0)
        u = np.full(len(s), np.nan)
        if self.values is not None:
            codes = np.searchsorted(self.values, x[~null])
            marg = self.cond_codes if self.cond_codes is not None else self.marginal
            u[~null] = marg.to_uniform(codes, rng)
        elif self.cond is not None:
            u[~null] = self.cond.to_uniform(x[~null], rng)
        else:
            u[~null] = self.marginal.to_uniform(x[~null], rng)
        out.append(u)
        return out

    def decode(
        self,
        u: np.ndarray,
        rng: np.random.Generator,
        null: np.ndarray | None = None,
        parent: pd.Series | None = None,
    ) -> pd.Series:
        null = self._null(u, null)
        uv = u[:, -1]
        if self.values is not None:
            if self.cond_codes is not None and parent is not None:
                codes = self.cond_codes.from_uniform(uv, parent)
            else:
                codes = self.marginal.from_uniform(uv)
            v = self.values[np.clip(codes, self.code_lo, self.code_hi)]
        elif self.cond is not None and parent is not None:
            v = self.cond.from_uniform(uv, parent)
        else:
            v = self.marginal.from_uniform(uv)
        return numeric_series(np.clip(v, self.lo, self.hi), null, self.dtype)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "marginal": "discrete" if self.values is not None else "quantile_table"
        }
        for cond in (self.cond, self.cond_codes):
            if cond is not None:
                out.update(cond.info())
        return out


class _Categorical(_Column):
    """Optional null flag + categories (the pooled rare ones included) as frequency intervals.

    NULL is a latent dimension of its own (as for numbers), not one more category: a category
    interval sits somewhere inside the normal scale, so "NULL here exactly when NULL there"
    (all fields of an optional sub-record) cannot be expressed by correlating two such
    dimensions, while two tail flags correlate cleanly (and identical masks share one flag).
    """

    def __init__(
        self,
        spec: ColumnSpec,
        s: pd.Series,
        rare_min_count: int,
        protect: bool,
        own_flag: bool = True,
        parent: pd.Series | None = None,
    ) -> None:
        self.dtype = s.dtype
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        null = codes < 0
        self.flag = _null_flag(null) if own_flag else None
        counts = np.bincount(codes[~null], minlength=len(uniques))
        keep = counts >= (rare_min_count if protect else 1)
        if not keep.any():
            raise UnsupportedColumnError(
                f"column {spec.name!r}: every value occurs fewer than rare_min_count="
                f"{rare_min_count} times, so none may be emitted; use the mock generator for it, "
                "drop it, or lower rare_min_count",
                [spec.name],
            )
        kept_idx = np.flatnonzero(keep)
        self.suppressed = int((~keep).sum())
        # Only frequent values are stored in the model: rare ones never leave fit().
        self.uniques = pd.Series(uniques).iloc[kept_idx].array
        self.kept_p = counts[kept_idx] / counts[kept_idx].sum()
        # Outcome table: kept categories, then the rare pool; ordered by frequency.
        out_codes = list(range(len(kept_idx)))  # code into self.uniques; -2 rare pool
        out_counts = list(counts[kept_idx])
        if self.suppressed:
            out_codes.append(-2)
            out_counts.append(int(counts[~keep].sum()))
        order = np.argsort(-np.asarray(out_counts), kind="stable")
        self.outcome_code = np.asarray(out_codes, dtype=np.int64)[order]
        self.marginal = IntervalMarginal(np.asarray(out_counts)[order])
        # source factorize code -> outcome position (for fit scores)
        pos_of = {int(c): i for i, c in enumerate(self.outcome_code)}
        src_to_kept = np.full(len(uniques), -2, dtype=np.int64)
        src_to_kept[kept_idx] = np.arange(len(kept_idx))
        self._src_to_outcome = np.array([pos_of[int(k)] for k in src_to_kept], dtype=np.int64)
        self._fit_codes = codes
        self.cond: ConditionalIntervals | None = None
        if parent is not None:
            self.cond = ConditionalIntervals(
                self._src_to_outcome[codes[~null]],
                parent[~null],
                self.marginal,
                min_cell=rare_min_count,
            )
        self.dims = (self.flag is not None) + 1

    def scores(self, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        codes = self._fit_codes
        null = codes < 0
        out = null_flag_scores(self.flag, null, rng, self.atten)
        u = np.full(len(codes), np.nan)
        marg = self.cond if self.cond is not None else self.marginal
        u[~null] = marg.to_uniform(self._src_to_outcome[codes[~null]], rng)
        out.append(u)
        self.atten.append(attenuation(self.marginal.width))
        del self._fit_codes, self._src_to_outcome  # fit-time only
        return out

    def decode(
        self,
        u: np.ndarray,
        rng: np.random.Generator,
        null: np.ndarray | None = None,
        parent: pd.Series | None = None,
    ) -> pd.Series:
        null = self._null(u, null)
        if self.cond is not None and parent is not None:
            pos = self.cond.from_uniform(u[:, -1], parent)
        else:
            pos = self.marginal.from_uniform(u[:, -1])
        codes = self.outcome_code[pos]
        rare = codes == -2
        if rare.any():
            codes[rare] = rng.choice(len(self.kept_p), size=int(rare.sum()), p=self.kept_p)
        if null is not None:
            codes[null] = -1
        return take_series(self.uniques, codes, self.dtype)

    def info(self) -> dict[str, Any]:
        out = {"categories_emitted": len(self.uniques), "categories_suppressed": self.suppressed}
        if self.cond is not None:
            out.update(self.cond.info())
        return out


class _Datetime(_Column):
    """date / datetime / timestamptz: null flag + trend + calendar parts (dow, month, hour)."""

    def __init__(
        self,
        spec: ColumnSpec,
        s: pd.Series,
        tail_q: float,
        k: int,
        tail: str = "k_day",
        own_flag: bool = True,
    ) -> None:
        self.dtype = s.dtype
        self.is_date = spec.kind == "date"
        null = s.isna().to_numpy()
        us = self._micros(s)[~null]
        self.flag = _null_flag(null) if own_flag else None
        self.res = timeparts.US_DAY if self.is_date else timeparts.resolution(us)
        bounds = None
        if spec.bounds is not None:
            bounds = tuple(
                None if b is None else timeparts.bound_micros(b, getattr(s.dtype, "tz", None))
                for b in spec.bounds
            )
        self.tail = tail if len(us) >= 2 else "quantile"
        if self.tail == "k_day":
            # Calendar edges stay whole: emitted values start at the day of the k-th earliest
            # value (or the protected quantile, if that is earlier) and end with the day of the
            # k-th latest, so each tail day holds at least k training rows. The quantile rule
            # alone would cut the first and last ~1% of a year of events (days 1-3 of January)
            # out of the calendar, and daily counts with empty edge days lose their weekly rhythm.
            kk = int(min(max(k, 1), len(us)))
            srt = np.partition(us, [kk - 1, len(us) - kk])
            qlo, qhi = np.quantile(us.astype(float), [tail_q, 1.0 - tail_q])
            lo_k = np.floor(min(float(srt[kk - 1]), qlo) / timeparts.US_DAY) * timeparts.US_DAY
            hi_k = np.floor(max(float(srt[len(us) - kk]), qhi) / timeparts.US_DAY)
            hi_k = min((hi_k + 1) * timeparts.US_DAY - 1, float(us.max()))
            blo, bhi = bounds if bounds is not None else (None, None)
            bounds = (
                lo_k if blo is None else max(lo_k, blo),
                hi_k if bhi is None else min(hi_k, bhi),
            )
            trend_q = 0.0
        else:
            trend_q = tail_q
        # k rows per knot: a table of a small cell would otherwise run through the training
        # timestamps themselves
        self.trend = QuantileMarginal(us.astype(float), trend_q, bounds=bounds, rows_per_knot=k)
        lo = int(np.ceil(self.trend.lo / self.res) * self.res)
        hi = int(np.floor(self.trend.hi / self.res) * self.res)
        if lo > hi:
            lo = hi = int(np.floor(np.median(us) / self.res) * self.res)
        self.lo, self.hi = lo, hi
        self.grain = timeparts.calendar_grain(us)
        self.parts = timeparts.choose_parts(us, self.is_date)
        cal = timeparts.calendar_parts(us)
        self.part_marginals = {
            p: IntervalMarginal(np.bincount(cal[p], minlength=timeparts.PART_SIZES[p]) + 0.0)
            for p in self.parts
        }
        # Weekday given month: months hold four or five of each weekday, so sampling the two
        # parts independently would misplace whole days (five January Tuesdays sharing four
        # Tuesdays' worth of rows). The weekday score is a conditional PIT given the month.
        self.dow_given_month: list[IntervalMarginal | None] = []
        if "dow" in self.parts and "month" in self.parts:
            joint = np.bincount(cal["month"] * 7 + cal["dow"], minlength=84).reshape(12, 7)
            self.dow_given_month = [
                IntervalMarginal(joint[m] + 0.0) if joint[m].sum() >= CELL_MIN_ROWS else None
                for m in range(12)
            ]
        # One trend table per (month, weekday) cell: the sampled month and weekday pick their
        # own table, so the day drawn already has them and keeps the real day-to-day profile
        # (holidays, busy days). Moving a trend day to the sampled month and weekday instead
        # would average days over a week and move mass across month boundaries. Cells with
        # few rows use the overall trend and those moves.
        self.cell_parts = [p for p in ("month", "dow") if p in self.parts]
        self.cell_tables: dict[int, QuantileMarginal] = {}
        if self.cell_parts:
            key = self._cell_key(cal)
            counts = np.bincount(key)
            tb = (self.trend.lo, self.trend.hi)
            for key_k in np.flatnonzero(counts >= CELL_MIN_ROWS):
                self.cell_tables[int(key_k)] = QuantileMarginal(
                    us[key == key_k].astype(float), trend_q, bounds=tb, rows_per_knot=k
                )
        self.week_shift = self._week_shift(us) if "dow" in self.cell_parts else 0.0
        self.dims = (self.flag is not None) + 1 + len(self.parts)

    @staticmethod
    def _week_shift(us: np.ndarray) -> float:
        """Share of rows to move one week (same weekday), shrinking the daily profile.

        The cell tables reproduce the training data's daily counts, and those include count
        noise; sampling adds its own, so the synthetic days would vary twice as much as real
        ones (and the weekly rhythm, measured by the lag-7 autocorrelation, would fade). Moving
        a share ``g`` of rows one week back or forth turns the profile into
        ``c_d - g * (c_d - (c_{d-7} + c_{d+7}) / 2)`` (inside a month; a move that would leave
        the month is not made, which keeps the first and last weeks balanced): empirical-Bayes shrinkage towards the
        neighbouring same weekdays with ``g = noise variance / var(c_d - neighbours)``, the
        noise variance of a daily count being about its mean (Poisson).
        """
        days = np.floor_divide(us, timeparts.US_DAY)
        c = np.bincount(days - days.min()).astype(float)
        if len(c) < 8 * 7:
            return 0.0
        r = c[7:-7] - 0.5 * (c[:-14] + c[14:])
        var = float(np.var(r))
        return float(np.clip(c.mean() / var, 0.0, 1.0)) if var > 0 else 1.0

    def _cell_key(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        key = np.zeros(len(parts[self.cell_parts[0]]), dtype=np.int64)
        for p in self.cell_parts:
            key = key * timeparts.PART_SIZES[p] + parts[p]
        return key

    _micros = staticmethod(timeparts.wall_micros)

    def scores(self, s: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
        null = s.isna().to_numpy()
        us = self._micros(s)
        out = null_flag_scores(self.flag, null, rng, self.atten)
        cal = timeparts.calendar_parts(us[~null])
        tv = self.trend.to_uniform(us[~null], rng)
        if self.cell_tables:
            # inside a cell the trend score is the rank within that cell, the value its own
            # table inverts at sampling (month and weekday are dimensions of their own)
            key = self._cell_key(cal)
            x = us[~null]
            for k in self.cell_tables:
                rows = np.flatnonzero(key == k)
                tv[rows] = ecdf_scores(x[rows], rng)
        t = np.full(len(s), np.nan)
        t[~null] = tv
        out.append(t)
        _, tie_counts = np.unique(us[~null], return_counts=True)
        self.atten.append(attenuation(tie_counts) if len(tie_counts) < (~null).sum() else 1.0)
        for p in self.parts:
            u = np.full(len(s), np.nan)
            pu = self.part_marginals[p].to_uniform(cal[p], rng)
            if p == "dow":
                for m, marg in enumerate(self.dow_given_month):
                    if marg is not None:
                        rows = np.flatnonzero(cal["month"] == m)
                        pu[rows] = marg.to_uniform(cal["dow"][rows], rng)
            u[~null] = pu
            out.append(u)
            self.atten.append(attenuation(self.part_marginals[p].width))
        return out

    def decode(
        self, u: np.ndarray, rng: np.random.Generator, null: np.ndarray | None = None
    ) -> pd.Series:
        null = self._null(u, null)
        j = int(self.flag is not None)
        parts = {
            p: self.part_marginals[p].from_uniform(u[:, j + 1 + i])
            for i, p in enumerate(self.parts)
        }
        if self.dow_given_month:
            ud = u[:, j + 1 + self.parts.index("dow")]
            for m, marg in enumerate(self.dow_given_month):
                if marg is not None:
                    sel = np.flatnonzero(parts["month"] == m)
                    parts["dow"][sel] = marg.from_uniform(ud[sel])
        t = self.trend.from_uniform(u[:, j])
        if self.cell_tables and len(u):
            key = self._cell_key(parts)
            order = np.argsort(key, kind="stable")
            ks = key[order]
            starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
            ends = np.r_[starts[1:], len(ks)]
            for a, b in zip(starts, ends, strict=True):
                table = self.cell_tables.get(int(ks[a]))
                if table is not None:
                    rows = order[a:b]
                    t[rows] = table.from_uniform(u[rows, j])
            if self.week_shift > 0:
                week = 7 * timeparts.US_DAY * rng.choice(np.array([-1, 1]), size=len(t))
                week = np.where(rng.random(len(t)) < self.week_shift, week, 0)
                # stay inside the bounds and the month (a move across a month boundary would
                # be undone by the month part and pile rows onto other weekdays)
                moved = t + week
                same = _month_of(moved) == _month_of(t)
                week = np.where(same & (moved >= self.lo) & (moved <= self.hi), week, 0)
                t = t + week
        trend = np.round(t).astype(np.int64)
        us = timeparts.reassemble(trend, parts, self.lo, self.hi, self.res, self.grain)
        return datetime_series(us, null, self.dtype, wall_time=True)

    def info(self) -> dict[str, Any]:
        return {
            "calendar_parts": list(self.parts),
            "calendar_grain": self.grain,
            "tail_strategy": self.tail,
            "trend_cells": len(self.cell_tables),
            "week_shift": round(float(self.week_shift), 4),
        }


def shared_null_groups(frame: pd.DataFrame, candidates: list[int]) -> dict[int, int]:
    """``{follower position: leader position}`` for columns with identical, partial null masks.

    Optional sub-records (all of a person's fields missing when no person was recorded) leave
    several columns null in exactly the same rows. One flag for the group makes them null
    together in every synthetic row; separate flags, however correlated, would mix the
    patterns and create rows no source row resembles. Leaders come first in column order.
    """
    first: dict[bytes, int] = {}
    out: dict[int, int] = {}
    for i in candidates:
        null = frame.iloc[:, i].isna().to_numpy()
        if not null.any() or null.all():
            continue
        key = np.packbits(null).tobytes()
        if key in first:
            out[i] = first[key]
        else:
            first[key] = i
    return out


def _month_of(us: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of microsecond timestamps (any numeric dtype)."""
    days = np.floor_divide(np.asarray(us, dtype=np.float64), timeparts.US_DAY).astype(np.int64)
    return timeparts.month_of_day(days)


class GaussianCopula:
    """Gaussian copula synthesizer (scikit-learn style: configure, ``fit``, ``sample``).

    Parameters
    ----------
    rare_min_count: categories seen fewer times than this in training are never emitted.
    tail_quantile: numbers are sampled within these protected quantiles (timestamps too, with
        ``datetime_tail="quantile"``).
    datetime_tail: ``"k_day"`` (default): timestamps are sampled from the start of the day of
        the ``rare_min_count``-th earliest value (or the protected quantile if earlier) to the
        end of the day of the ``rare_min_count``-th latest, so every emitted tail day holds at
        least that many training rows and calendar edges (1-3 January) are not cut away;
        ``"quantile"``: within the protected quantiles, like numbers.
    max_train_rows: larger inputs are uniformly subsampled to this many rows for fitting.
    chunk_size: rows per chunk in ``sample_chunks`` (memory is flat in the number of rows).
    random_state: seed for fitting randomness (subsample, tie-breaking); None = fresh.
    passthrough_mock: names of id/text columns to fill from the mock generator instead of
        refusing them (e.g. random UUIDs for a key column).
    discrete_max_unique: numeric columns with at most this many distinct values are modelled as
        an ordered discrete domain with exact frequencies.
    epsilon: None (default) or ``inf`` = the exact fit above; a number > 0 = a differentially
        private fit with that budget (see ``synthdb.generators.dp``; not reproducible by seed).
    delta: delta the caller allows; the DP fit uses pure-epsilon mechanisms and spends 0.
    epsilon_split: share of epsilon for the marginals; the rest goes to the correlations.
    dp_bounds: ``{column: (lo, hi)}`` data-independent bounds of number/timestamp columns
        (needed under DP unless the ColumnSpec declares bounds).
    dp_tau_rows: rows subsampled for the noisy Kendall's tau under DP.
    detect_derived: find columns that are a calendar part of a datetime column (``month`` of
        ``time_hour``) and compute them from the synthetic timestamp instead of modelling them,
        so they agree in every row; likewise clock-time identities between numbers
        (``sched_dep_time = 100 * hour + minute``, ``dep_time = sched_dep_time + dep_delay``
        in clock minutes: ``identities.py``). Skipped under DP (the check reads the data);
        declare calendar parts.
    derived: ``{column: (datetime column, part)}`` declared derivations (parts: see
        ``synthdb.generators.derived.PARTS``); used with and without DP.
    conditional_numbers: a number that a categorical column explains (correlation ratio of
        ranks >= 0.5: coordinates given a neighbourhood) is modelled per category, with one
        quantile table per category of at least 50 training rows (see ``conditional.py``).
    """

    def __init__(
        self,
        rare_min_count: int = 10,
        tail_quantile: float = 0.01,
        max_train_rows: int = 200_000,
        chunk_size: int = 100_000,
        random_state: int | None = None,
        passthrough_mock: set[str] | None = None,
        discrete_max_unique: int = 32,
        epsilon: float | None = None,
        delta: float = 0.0,
        epsilon_split: float = 0.5,
        dp_bounds: dict[str, tuple[Any, Any]] | None = None,
        dp_tau_rows: int = 20_000,
        datetime_tail: str = "k_day",
        detect_derived: bool = True,
        derived: dict[str, tuple[str, str]] | None = None,
        conditional_numbers: bool = True,
    ) -> None:
        self.rare_min_count = rare_min_count
        self.tail_quantile = tail_quantile
        self.max_train_rows = max_train_rows
        self.chunk_size = chunk_size
        self.random_state = random_state
        self.passthrough_mock = passthrough_mock
        self.discrete_max_unique = discrete_max_unique
        self.epsilon = epsilon
        self.delta = delta
        self.epsilon_split = epsilon_split
        self.dp_bounds = dp_bounds
        self.dp_tau_rows = dp_tau_rows
        self.datetime_tail = datetime_tail
        self.detect_derived = detect_derived
        self.derived = derived
        self.conditional_numbers = conditional_numbers

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if not (isinstance(self.rare_min_count, (int, np.integer)) and self.rare_min_count >= 1):
            raise ConfigError(
                f"GaussianCopula: rare_min_count must be an integer >= 1, got {self.rare_min_count!r}"
            )
        if not (0.0 <= float(self.tail_quantile) < 0.5):
            raise ConfigError(
                f"GaussianCopula: tail_quantile must be in [0, 0.5), got {self.tail_quantile!r}"
            )
        if self.datetime_tail not in ("k_day", "quantile"):
            raise ConfigError(
                "GaussianCopula: datetime_tail must be 'k_day' or 'quantile', "
                f"got {self.datetime_tail!r}"
            )
        if int(self.max_train_rows) < 1 or int(self.chunk_size) < 1:
            raise ConfigError("GaussianCopula: max_train_rows and chunk_size must be >= 1")
        from .dp import check_params

        check_params(self.epsilon, self.delta, self.epsilon_split)

    def _dp_active(self) -> bool:
        """A finite epsilon means a DP fit; None and inf mean the exact fit."""
        return self.epsilon is not None and float(self.epsilon) != float("inf")

    def fit(
        self,
        frame: pd.DataFrame,
        specs: list[ColumnSpec] | None = None,
        subjects: Any = None,
    ) -> GaussianCopula:
        """Learn marginals and the correlation of normal scores from ``frame``.

        ``subjects``: the subject (person/entity) of each row, if the release declares one;
        categories are then emitted only when held by ``rare_min_count`` distinct subjects
        (synthdb.generators.subjects).
        """
        self._check_params()
        if frame is None or len(frame) == 0 or len(frame.columns) == 0:
            raise EmptyInputError(
                "GaussianCopula.fit: the training input has no rows (or no columns)"
            )
        specs = list(specs) if specs is not None else infer_specs(frame)
        names = list(frame.columns)
        by_name = {s.name: s for s in specs}
        missing = [c for c in names if c not in by_name]
        unknown = [s.name for s in specs if s.name not in set(names)]
        if missing or unknown:
            raise ConfigError(
                f"GaussianCopula.fit: specs do not match the frame (no spec for {missing}, "
                f"not in frame: {unknown})"
            )
        mock = set(self.passthrough_mock or ())
        refused = [c for c in names if by_name[c].kind in ("id", "text") and c not in mock]
        if refused:
            raise UnsupportedColumnError(
                "GaussianCopula cannot model identifier or free-text columns "
                f"{', '.join(repr(c) for c in refused)}: their values are (nearly) unique, so a "
                "copula could only copy them. Drop them from the contract, declare them "
                "categorical if they really repeat, or fill them with the mock generator "
                "(passthrough_mock).",
                refused,
            )
        rng = np.random.default_rng(self.random_state)
        n_input = len(frame)
        if subjects is not None:
            subjects = check_subjects(subjects, n_input)
        if n_input > self.max_train_rows:
            idx = np.sort(rng.choice(n_input, size=int(self.max_train_rows), replace=False))
            frame = frame.iloc[idx]
            subjects = subjects[idx] if subjects is not None else None
        frame = frame.reset_index(drop=True)
        self.subject_withheld_: dict[str, int] | None = None
        if subjects is not None:
            protected = [c for c in names if by_name[c].kind == "categorical" and c not in mock]
            frame, self.subject_withheld_ = withhold_rare_by_subject(
                frame, protected, subjects, int(self.rare_min_count), self.random_state)
        self.dp_ = None
        self.null_leader_: dict[int, int] = {}
        self.parent_: dict[int, int] = {}
        self.names_ = names
        self.dtypes_ = list(frame.dtypes)
        self.derived_ = self._find_derived(frame, names, by_name, mock)
        self.identities_ = self._find_identities(frame, names, by_name, mock)
        computed = set(self.derived_) | {i.target for i in self.identities_ if not i.partial}
        keep = [i for i in range(len(names)) if i not in computed]
        frame = frame.iloc[:, keep]
        # position of each modelled column among the output columns
        self.model_pos_ = keep
        if self._dp_active():
            from .dp import fit_dp

            fit_dp(self, frame, [by_name[names[i]] for i in keep], mock, rng)
            self.chol_ = np.linalg.cholesky(self.corr_) if len(self.corr_) else self.corr_
            self.n_input_rows_ = n_input
            self.n_train_rows_ = len(frame)
            self.specs_ = [by_name[c] for c in names]
            return self
        q = float(self.tail_quantile)
        self.columns_: list[_Column] = []
        blocks: list[np.ndarray] = []
        atten: list[float] = []
        modelled = [
            i
            for i, c in enumerate(names[k] for k in keep)
            if c not in mock and by_name[c].kind != "constant"
        ]
        self.null_leader_ = shared_null_groups(frame, modelled)
        self.parent_ = self._choose_parents(frame, [names[k] for k in keep], by_name, mock)
        for i, c in enumerate(names[k] for k in keep):
            s = frame.iloc[:, i]
            spec = by_name[c]
            kind = spec.kind
            own = i not in self.null_leader_
            parent = frame.iloc[:, self.parent_[i]] if i in self.parent_ else None
            if c in mock:
                col: _Column = _Mock(spec, s)
            elif kind == "constant" or s.notna().sum() == 0:
                col = _Constant(spec, s)
            elif kind in ("float", "integer"):
                col = _Numeric(
                    spec,
                    s,
                    q,
                    self.discrete_max_unique,
                    own_flag=own,
                    parent=parent,
                    rows_per_knot=int(self.rare_min_count),
                )
            elif kind in ("categorical", "boolean"):
                col = _Categorical(
                    spec,
                    s,
                    int(self.rare_min_count),
                    kind == "categorical",
                    own_flag=own,
                    parent=parent,
                )
            elif kind in ("date", "datetime"):
                col = _Datetime(
                    spec, s, q, int(self.rare_min_count), self.datetime_tail, own_flag=own
                )
            else:  # pragma: no cover - kinds validated above
                raise UnsupportedColumnError(f"column {c!r}: unsupported kind {kind!r}", [c])
            col.kind = kind  # type: ignore[attr-defined]
            blocks.extend(col.scores(s, rng))
            atten.extend(col.atten)
            self.columns_.append(col)
        # The subjects reach _fit_joint (the sequential model's value pairs) for this call only:
        # a fitted model never keeps them.
        self._fit_subjects = subjects
        try:
            self._fit_joint(blocks, atten, rng)
        finally:
            del self._fit_subjects
        self.n_input_rows_ = n_input
        self.n_train_rows_ = len(frame)
        self.specs_ = [by_name[c] for c in names]
        return self

    def _fit_joint(
        self, blocks: list[np.ndarray], atten: list[float], rng: np.random.Generator
    ) -> None:
        """The dependence between the latent scores: here one correlation of normal scores.

        ``blocks`` are the training rows' uniform scores per latent dim (NaN where a column is
        null), in column order. Subclasses model the same scores differently (``sequential``).
        """
        if blocks:
            from scipy.special import ndtri  # on first fit: synthdb.release.warmup

            u = np.column_stack(blocks)
            z = ndtri(np.clip(u, _EPS, 1 - _EPS))
            del u
            assert len(atten) == z.shape[1]
            self.corr_, self.shrinkage_ = shrunk_correlation(z, rng, attenuation=np.asarray(atten))
            del z
        else:
            self.corr_, self.shrinkage_ = np.zeros((0, 0)), 0.0
        self.chol_ = np.linalg.cholesky(self.corr_) if len(self.corr_) else self.corr_

    def _choose_parents(
        self, frame: pd.DataFrame, names: list[Any], by_name: dict, mock: set
    ) -> dict[int, int]:
        """Numbers modelled per category of a categorical column that explains them."""
        if not self.conditional_numbers:
            return {}
        numeric, categorical, discrete = [], [], []
        for i, c in enumerate(names):
            kind = by_name[c].kind
            if c in mock or frame.iloc[:, i].notna().sum() == 0:
                continue
            if kind in ("float", "integer"):
                if frame.iloc[:, i].nunique() > self.discrete_max_unique:
                    numeric.append(i)
                else:
                    discrete.append(i)
            elif kind in ("categorical", "boolean"):
                discrete.append(i)
                if kind == "categorical":
                    categorical.append(i)
        return choose_parents(
            frame,
            numeric,
            categorical,
            discrete,
            min_rows=max(CELL_MIN_ROWS_CONDITIONAL, int(self.rare_min_count)),
        )

    def _find_derived(
        self, frame: pd.DataFrame, names: list[Any], by_name: dict, mock: set
    ) -> dict[int, tuple[int, str]]:
        """Declared plus (outside DP) detected derivations, by column position."""
        pos = {c: i for i, c in enumerate(names)}
        kinds = [by_name[c].kind for c in names]
        out: dict[int, tuple[int, str]] = {}
        for col, decl in (self.derived or {}).items():
            try:
                base, part = decl
            except (TypeError, ValueError):
                base, part = None, None
            if col not in pos or base not in pos or part not in derived_mod.PARTS:
                raise ConfigError(
                    f"GaussianCopula: derived[{col!r}] = {decl!r} must name a column of the "
                    f"input, a datetime column of the input and a part among "
                    f"{sorted(derived_mod.PARTS)}"
                )
            if kinds[pos[base]] not in ("date", "datetime") or base == col:
                raise ConfigError(
                    f"GaussianCopula: derived[{col!r}]: base column {base!r} is not a date or "
                    "timestamp column"
                )
            out[pos[col]] = (pos[base], part)
        if self.detect_derived and not self._dp_active():
            exclude = {pos[c] for c in mock if c in pos} | set(out)
            exclude |= {b for b, _ in out.values()}
            for c, v in derived_mod.detect(frame, kinds, exclude).items():
                out.setdefault(c, v)
        bases = {b for b, _ in out.values()}
        if bases & set(out):  # a base must be modelled; drop chains rather than guess
            out = {c: v for c, v in out.items() if c not in bases}
        return out

    def _find_identities(
        self, frame: pd.DataFrame, names: list[Any], by_name: dict, mock: set
    ) -> list[identities_mod.Identity]:
        """Detected (outside DP) clock-time identities, bases before their users."""
        if not self.detect_derived or self._dp_active():
            return []
        kinds = [by_name[c].kind for c in names]
        exclude = {i for i, c in enumerate(names) if c in mock}
        found = identities_mod.detect(
            frame, kinds, exclude, set(self.derived_), float(self.tail_quantile)
        )
        return identities_mod.ordered(found)

    # --------------------------------------------------------------- sample
    def sample(self, n: int, seed: int | None = None) -> pd.DataFrame:
        """``n`` synthetic rows; same seed and model give the same rows."""
        chunks = list(self.sample_chunks(n, seed=seed))
        return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)

    def sample_chunks(
        self, n: int, seed: int | None = None, chunk_size: int | None = None
    ) -> Iterator[pd.DataFrame]:
        """Yield frames of at most ``chunk_size`` rows totalling ``n`` (at least one frame)."""
        if not hasattr(self, "columns_"):
            raise ConfigError("GaussianCopula: call fit() before sampling")
        if int(n) < 0:
            raise ConfigError(f"GaussianCopula: number of rows must be >= 0, got {n}")
        n = int(n)
        size = int(chunk_size or self.chunk_size)
        rng = np.random.default_rng(seed)
        order = self._decode_order()
        offsets = np.concatenate([[0], np.cumsum([c.dims for c in self.columns_])]).astype(int)
        start = 0
        while True:
            m = min(size, n - start)
            if start:
                # the previous chunk's arrays are gone (the consumer holds at most its frame)
                release_free_memory()
            yield self._sample_chunk(rng, m, order, offsets)
            start += m
            if start >= n:
                return

    def _sample_chunk(
        self, rng: np.random.Generator, m: int, order: list[int], offsets: np.ndarray
    ) -> pd.DataFrame:
        """One chunk of ``m`` rows, columns decoded in ``order`` (leaders and parents first);
        its temporaries die on return, so chunks do not pile up."""
        u = self._latent(rng, m)
        return self._decode_chunk(u, rng, order, offsets)

    def _latent(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """``m`` rows of latent uniform scores, one column per latent dim."""
        from scipy.special import ndtr  # on first use: synthdb.release.warmup

        d = self.chol_.shape[0]
        z = rng.standard_normal((m, d)) @ self.chol_.T if d else np.zeros((m, 0))
        return np.clip(ndtr(z), _EPS, 1 - _EPS)

    def _decode_chunk(
        self, u: np.ndarray, rng: np.random.Generator, order: list[int], offsets: np.ndarray
    ) -> pd.DataFrame:
        """The output frame from latent scores ``u`` (columns, shared nulls, derived columns)."""
        m = len(u)
        cols: list[pd.Series | None] = [None] * len(self.names_)
        leaders = getattr(self, "null_leader_", {})
        parents = getattr(self, "parent_", {})
        for i in order:
            col, pos, j = self.columns_[i], self.model_pos_[i], offsets[i]
            block = u[:, j : j + col.dims] if col.dims else np.empty((m, 0))
            kw: dict[str, Any] = {}
            if i in leaders:
                kw["null"] = cols[self.model_pos_[leaders[i]]].isna().to_numpy()
            if i in parents:
                kw["parent"] = cols[self.model_pos_[parents[i]]]
            cols[pos] = col.decode(block, rng, **kw).reset_index(drop=True)
        for pos, (base, part) in self.derived_.items():
            cols[pos] = derived_mod.compute(cols[base], part, self.dtypes_[pos])
        for ident in getattr(self, "identities_", []):
            cols[ident.target] = identities_mod.compute(ident, cols, self.dtypes_[ident.target])
        return _frame(cols, self.names_)

    def _decode_order(self) -> list[int]:
        """Model columns in an order where null leaders and parents come before dependants."""
        deps: dict[int, set[int]] = {i: set() for i in range(len(self.columns_))}
        for f, lead in getattr(self, "null_leader_", {}).items():
            deps[f].add(lead)
        for child, par in getattr(self, "parent_", {}).items():
            deps[child].add(par)
        order: list[int] = []
        done: set[int] = set()
        while len(order) < len(deps):
            ready = [i for i in deps if i not in done and deps[i] <= done]
            if not ready:  # pragma: no cover - leaders and parents never depend on dependants
                raise ConfigError("GaussianCopula: circular column dependencies")
            order.extend(ready)
            done.update(ready)
        return order

    # ------------------------------------------------------------- describe
    def describe(self) -> dict:
        """JSON-serialisable record of the method and the privacy controls in force."""
        if not hasattr(self, "columns_"):
            raise ConfigError("GaussianCopula: call fit() before describe()")
        cols = {}
        leaders, parents = getattr(self, "null_leader_", {}), getattr(self, "parent_", {})
        for i, (pos, col) in enumerate(zip(self.model_pos_, self.columns_, strict=True)):
            cols[str(self.names_[pos])] = {
                "kind": col.kind,  # type: ignore[attr-defined]
                "latent_dims": int(col.dims),
                **col.info(),
            }
            if i in leaders:
                lead = self.names_[self.model_pos_[leaders[i]]]
                cols[str(self.names_[pos])]["null_with"] = str(lead)
            if i in parents:
                par = self.names_[self.model_pos_[parents[i]]]
                cols[str(self.names_[pos])]["conditional_on"] = str(par)
        derived_info = {
            str(self.names_[pos]): {"derived_from": str(self.names_[base]), "part": part}
            for pos, (base, part) in self.derived_.items()
        }
        for pos, (base, part) in self.derived_.items():
            cols[str(self.names_[pos])] = {
                "kind": self.specs_[pos].kind,
                "latent_dims": 0,
                "derived_from": str(self.names_[base]),
                "part": part,
            }
        for ident in getattr(self, "identities_", []):
            entry = identities_mod.describe(ident, self.names_)
            if ident.partial:
                cols[str(self.names_[ident.target])].update(entry)
            else:
                kind = self.specs_[ident.target].kind
                cols[str(self.names_[ident.target])] = {"kind": kind, "latent_dims": 0, **entry}
        cols = {str(n): cols[str(n)] for n in self.names_ if str(n) in cols}
        out = {
            "method": "gaussian_copula",
            "version": VERSION,
            "marginals": "empirical (quantile tables / frequency intervals)",
            "correlation": {
                "dims": int(self.corr_.shape[0]),
                "estimator": "pairwise-complete normal scores, Ledoit-Wolf shrinkage, PD repair",
                "shrinkage": round(float(self.shrinkage_), 6),
            },
            "privacy": {
                "rare_min_count": int(self.rare_min_count),
                "rare_strategy": "resample_among_frequent",
                "categories_suppressed": int(sum(c.suppressed for c in self.columns_)),
                **({"rare_counted_in": "subjects",
                    "categories_withheld_by_subject": dict(self.subject_withheld_)}
                   if getattr(self, "subject_withheld_", None) is not None else {}),
                "tail_quantile": float(self.tail_quantile),
                "tail_strategy": "sample_within_protected_quantiles",
                "datetime_tail": getattr(self, "datetime_tail", "quantile"),
                "rows_input": int(self.n_input_rows_),
                "rows_trained_on": int(self.n_train_rows_),
                "max_train_rows": int(self.max_train_rows),
                "mock_columns": sorted(str(c) for c in (self.passthrough_mock or ())),
            },
            "columns": cols,
            "derived_columns": derived_info,
        }
        dp_info = getattr(self, "dp_", None)
        if dp_info:
            out["marginals"] = "noisy histograms (differential privacy)"
            out["correlation"] = {
                "dims": int(self.corr_.shape[0]),
                "estimator": "noisy Kendall's tau, sin(pi/2 tau), PD repair",
            }
            out["privacy"].update(dp_info)
        return out
