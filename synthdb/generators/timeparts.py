"""Timestamps as a trend value plus calendar parts, and back to one consistent timestamp.

A copula on the raw epoch value keeps the long-run distribution but smears weekly, yearly and
daily cycles (a Monday peak becomes noise). So a timestamp is split into a trend (microseconds
since the epoch, an empirical quantile marginal) and calendar parts — day of week, month, hour —
each a discrete dimension of the copula, correlated with everything else. Sampling reassembles:
take the trend's year, move to the sampled month (choosing the year that keeps the trend
closest, within bounds), shift at most three days to the sampled weekday (staying in the
month), set the sampled hour keeping the trend's minutes and seconds, floor to the column's
observed resolution. All vectorised over numpy ``datetime64``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

US_HOUR = 3_600_000_000
US_DAY = 24 * US_HOUR
_RESOLUTIONS = (US_DAY, US_HOUR, 60_000_000, 1_000_000, 1_000, 1)


def wall_micros(s: pd.Series) -> np.ndarray:
    """Microseconds of a datetime Series as local wall-clock time (NaT -> 0; mask separately).

    Calendar parts (and columns derived from them) of a tz-aware column are what people see in
    that zone; UTC hours would blur across DST changes.
    """
    if getattr(s.dtype, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    arr = s.to_numpy(dtype="datetime64[us]")
    return np.where(np.isnat(arr), 0, arr.astype(np.int64))


def bound_micros(value: Any, tz: Any = None) -> int:
    """Microseconds of a declared bound, as wall-clock time in ``tz`` when the column has one."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(tz or "UTC").tz_localize(None)
    return int(ts.value // 1000)


def to_micros(values: np.ndarray) -> np.ndarray:
    """int64 microseconds since the epoch from a naive datetime64 array (no NaT)."""
    return values.astype("datetime64[us]").astype(np.int64)


def resolution(us: np.ndarray) -> int:
    """Coarsest unit (day, hour, minute, second, ms, us) every value is a whole multiple of."""
    sample = us[:50_000]
    for r in _RESOLUTIONS:
        if np.all(sample % r == 0):
            return r
    return 1


def month_of_day(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of day numbers (days since 1970-01-01), in integer arithmetic.

    The same values as ``days.astype("datetime64[D]").astype("datetime64[M]")``, whose
    calendar conversion costs ~20x more per value; sampling converts every timestamp
    several times (the civil-from-days algorithm of H. Hinnant's date library, proleptic
    Gregorian, floor division throughout).
    """
    return _tabled(_month_of_day, days)


def month_start_day(months: np.ndarray) -> np.ndarray:
    """Day number of the first day of each month (months since 1970-01), the inverse of
    :func:`month_of_day` (``.astype("datetime64[M]").astype("datetime64[D]")``)."""
    return _tabled(_month_start_day, months)


#: a conversion of many values spanning at most this many distinct inputs is read from a
#: table of the span (one gather instead of a dozen integer divisions per value)
TABLE_SPAN = 1 << 16


def _tabled(convert: Any, values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.int64)
    if v.size < 4 * 1024:
        return convert(v)
    lo, hi = int(v.min()), int(v.max())
    if hi - lo >= TABLE_SPAN:
        return convert(v)
    return convert(np.arange(lo, hi + 1, dtype=np.int64))[v - lo]


def _month_of_day(days: np.ndarray) -> np.ndarray:
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153  # months since March
    month0 = np.where(mp < 10, mp + 2, mp - 10)  # 0 = January
    year = yoe + era * 400 + (month0 <= 1)
    return (year - 1970) * 12 + month0


def _month_start_day(months: np.ndarray) -> np.ndarray:
    year = 1970 + months // 12
    month0 = months % 12
    y = year - (month0 <= 1)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month0 + 10) % 12) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


GRAIN_SPAN_DAYS = {"week": 7, "month": 32, "quarter": 93, "year": 367}


def calendar_grain(us: np.ndarray) -> str | None:
    """'year', 'quarter', 'month' or 'week' when every value starts such a period, else None.

    A policy such as ``coarsen_date(col, 'month')`` leaves only first days of months; the
    synthetic column must keep that grain, or it would invent days the contract removed.
    """
    sample = us[:50_000]
    if len(sample) == 0 or np.any(sample % US_DAY):
        return None
    days = np.floor_divide(sample, US_DAY)
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    if np.all(months.astype("datetime64[D]").astype(np.int64) == days):
        month_index = months.astype(np.int64) % 12
        if np.all(month_index == 0):
            return "year"
        if np.all(month_index % 3 == 0):
            return "quarter"
        return "month"
    if np.all((days + 3) % 7 == 0):
        return "week"
    return None


def floor_to_grain(us: np.ndarray, grain: str | None) -> np.ndarray:
    """Move each value back to the start of its week / month / quarter / year."""
    if grain is None:
        return us
    days = np.floor_divide(us, US_DAY)
    if grain == "week":
        days = days - (days + 3) % 7
    else:
        months = month_of_day(days)
        step = {"month": 1, "quarter": 3, "year": 12}[grain]
        days = month_start_day(months - months % step)
    return days * US_DAY


def grain_bounds(lo: int, hi: int, grain: str | None) -> tuple[int, int]:
    """The first and last period starts inside [lo, hi] (or the floor of lo if none is)."""
    if grain is None:
        return lo, hi
    first = int(floor_to_grain(np.array([lo]), grain)[0])
    if first < lo:
        first = int(floor_to_grain(np.array([first + GRAIN_SPAN_DAYS[grain] * US_DAY]), grain)[0])
    last = int(floor_to_grain(np.array([hi]), grain)[0])
    if first > last:
        first = last = int(floor_to_grain(np.array([lo]), grain)[0])
    return first, last


def calendar_parts(us: np.ndarray) -> dict[str, np.ndarray]:
    """Day of week (Monday=0), month (0-11) and hour (0-23) as int arrays."""
    days = np.floor_divide(us, US_DAY)
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return {
        "dow": (days + 3) % 7,  # 1970-01-01 was a Thursday
        "month": months % 12,
        "hour": np.floor_divide(us - days * US_DAY, US_HOUR),
    }


PART_SIZES = {"dow": 7, "month": 12, "hour": 24}


def choose_parts(us: np.ndarray, is_date: bool) -> list[str]:
    """Which parts carry information for this column (enough span, varying time of day)."""
    if len(us) < 2:
        return []
    span = int(us.max() - us.min())
    res = resolution(us)
    grain = calendar_grain(us)
    parts = []
    if span >= 14 * US_DAY and res <= US_DAY and grain is None:
        parts.append("dow")
    if span >= 90 * US_DAY:
        parts.append("month")
    if not is_date and res < US_DAY and len(np.unique(calendar_parts(us[:50_000])["hour"])) > 1:
        parts.append("hour")
    return parts


def reassemble(
    trend_us: np.ndarray,
    parts: dict[str, np.ndarray],
    lo: int,
    hi: int,
    res: int,
    grain: str | None = None,
) -> np.ndarray:
    """Microseconds since epoch whose calendar parts equal ``parts``, near ``trend_us``.

    Every step keeps the distribution of days uniform, so daily counts keep their weekly rhythm
    (a nearest-day rule would pile days up at month edges and break the lag-7 autocorrelation):
    the month move mirrors a row across the boundary into a neighbouring month and keeps the
    trend's *relative* position for a month further away (day 31 of 31 goes to day 30 of 30,
    not everything past day 28 to day 28), and the weekday move is an unconstrained
    shift of -3..+3 days, under which every day of the target weekday receives exactly seven
    trend days (it may cross into the next month: month then differs by one in a few % of rows,
    the price of a smooth calendar). Days that land outside [lo, hi] are reflected across the
    bound (hour kept), which refills the edge days instead of piling values onto the bound. With a calendar ``grain`` the result is a period start inside [lo, hi].
    """
    t = np.asarray(trend_us, dtype=np.int64)
    day = np.floor_divide(t, US_DAY)
    tod = t - day * US_DAY
    lo_day, hi_day = lo // US_DAY, hi // US_DAY
    if "month" in parts:
        ym = month_of_day(day)
        start0 = month_start_day(ym)
        frac = (day - start0 + tod / US_DAY) / (month_start_day(ym + 1) - start0)
        year = np.floor_divide(ym, 12)
        best = day.copy()
        best_cost = np.full(len(day), np.inf)
        for dy in (-1, 0, 1):
            ym_c = (year + dy) * 12 + parts["month"]
            start = month_start_day(ym_c)
            length = month_start_day(ym_c + 1) - start
            cand = start + np.minimum(np.floor(frac * length).astype(np.int64), length - 1)
            # a neighbouring month: mirror across the shared boundary, so a row two days before
            # the boundary lands two days after it (no mass thrown to the far end of the month)
            nxt = ym_c == ym + 1
            prv = ym_c == ym - 1
            mirror_next = start + np.minimum(start - 1 - day, length - 1)
            mirror_prev = start + np.maximum(length - 1 - (day - start0), 0)
            cand = np.where(nxt, mirror_next, np.where(prv, mirror_prev, cand))
            cost = np.abs(cand - day).astype(float)
            cost = cost + np.where((cand < lo_day) | (cand > hi_day), 1e6, 0.0)
            better = cost < best_cost
            best = np.where(better, cand, best)
            best_cost = np.where(better, cost, best_cost)
        day = best
    if "dow" in parts:
        cur = (day + 3) % 7
        day = day + (parts["dow"] - cur + 3) % 7 - 3
    if "hour" in parts:
        tod = parts["hour"] * US_HOUR + tod % US_HOUR
    out = day * US_DAY + tod
    out = np.floor_divide(out, res) * res
    if grain is not None:
        first, last = grain_bounds(lo, hi, grain)
        return np.clip(floor_to_grain(np.clip(out, lo, hi), grain), first, last)
    # reflect whole days across the bounds (keeps the hour; the weekday of these few rows
    # changes): the -3..+3 weekday shift took exactly this mass from the edge days
    d = np.floor_divide(out, US_DAY)
    tod = out - d * US_DAY
    d = np.where(d < lo_day, 2 * lo_day - d - 1, d)
    d = np.where(d > hi_day, 2 * hi_day - d + 1, d)
    return np.clip(d * US_DAY + tod, lo, hi)
