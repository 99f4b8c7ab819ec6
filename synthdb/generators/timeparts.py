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

import numpy as np

US_HOUR = 3_600_000_000
US_DAY = 24 * US_HOUR
_RESOLUTIONS = (US_DAY, US_HOUR, 60_000_000, 1_000_000, 1_000, 1)


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
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        step = {"month": 1, "quarter": 3, "year": 12}[grain]
        months = months - months % step
        days = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
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


def _month_start_day(ym: np.ndarray) -> np.ndarray:
    return ym.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def reassemble(
    trend_us: np.ndarray,
    parts: dict[str, np.ndarray],
    lo: int,
    hi: int,
    res: int,
    grain: str | None = None,
) -> np.ndarray:
    """Microseconds since epoch whose calendar parts equal ``parts``, near ``trend_us``.

    With a calendar ``grain`` the result is a period start inside [lo, hi]."""
    t = np.asarray(trend_us, dtype=np.int64)
    day = np.floor_divide(t, US_DAY)
    tod = t - day * US_DAY
    lo_day, hi_day = lo // US_DAY, hi // US_DAY
    if "month" in parts:
        ym = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        dom = day - _month_start_day(ym)
        year = np.floor_divide(ym, 12)
        best = day.copy()
        best_cost = np.full(len(day), np.inf)
        for dy in (-1, 0, 1):
            ym_c = (year + dy) * 12 + parts["month"]
            start = _month_start_day(ym_c)
            length = _month_start_day(ym_c + 1) - start
            cand = start + np.minimum(dom, length - 1)
            cost = np.abs(cand - day).astype(float)
            cost = cost + np.where((cand < lo_day) | (cand > hi_day), 1e6, 0.0)
            better = cost < best_cost
            best = np.where(better, cand, best)
            best_cost = np.where(better, cost, best_cost)
        day = best
    if "dow" in parts:
        cur = (day + 3) % 7
        delta = (parts["dow"] - cur + 3) % 7 - 3
        if "month" in parts:
            month_of = day.astype("datetime64[D]").astype("datetime64[M]")
            moved = (day + delta).astype("datetime64[D]").astype("datetime64[M]")
            delta = np.where(moved != month_of, np.where(delta < 0, delta + 7, delta - 7), delta)
        day = day + delta
    if "hour" in parts:
        tod = parts["hour"] * US_HOUR + tod % US_HOUR
    out = day * US_DAY + tod
    out = np.floor_divide(out, res) * res
    if grain is not None:
        first, last = grain_bounds(lo, hi, grain)
        return np.clip(floor_to_grain(np.clip(out, lo, hi), grain), first, last)
    return np.clip(out, lo, hi)
