"""Calculated calendar columns: detect ``month = month(ts)`` at fit time, recompute after sampling.

Tables often carry a timestamp together with columns computed from it (``year``, ``month``,
``hour``, ``day_of_week`` …). Modelled as separate copula dimensions they disagree with the
timestamp in many rows (a synthetic flight in March with ``month = 7``), which recipients notice
at once and which breaks every query that filters on one and groups by the other. So such a
column is not modelled at all: ``fit`` finds it, ``sample`` computes it from the synthetic
timestamp, and the two agree in every row, including NULLs.

A column counts as derived from a datetime column only on strong evidence, because a wrongly
derived column would lose its own distribution: on every training row it equals the calendar part
of the base (compared exactly, in the base's own time zone), it is NULL exactly where the base is
NULL, there are at least ``MIN_ROWS`` non-null rows, and the part takes more than one value (a
constant ``year = 2013`` matches by coincidence and stays an ordinary constant column).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

#: fewer non-null training rows than this are too little evidence for a derivation
MIN_ROWS = 20

#: numeric calendar parts, in the order they are tried (first match wins)
NUMERIC_PARTS: dict[str, Callable[[Any], Any]] = {
    "year": lambda dt: dt.year,
    "quarter": lambda dt: dt.quarter,
    "month": lambda dt: dt.month,
    "day": lambda dt: dt.day,
    "hour": lambda dt: dt.hour,
    "minute": lambda dt: dt.minute,
    "day_of_week": lambda dt: dt.day_of_week,  # Monday = 0 (pandas, Python)
    "isodow": lambda dt: dt.day_of_week + 1,  # Monday = 1 … Sunday = 7 (ISO, EXTRACT(ISODOW))
    "dow_sunday0": lambda dt: (dt.day_of_week + 1) % 7,  # Sunday = 0 (PostgreSQL EXTRACT(DOW))
    "day_of_year": lambda dt: dt.day_of_year,
}
#: text calendar parts (English names, as pandas and to_char(..., 'FMDay') spell them)
NAME_PARTS: dict[str, Callable[[Any], Any]] = {
    "day_name": lambda dt: dt.day_name(),
    "month_name": lambda dt: dt.month_name(),
}
PARTS = {**NUMERIC_PARTS, **NAME_PARTS}


def part_values(base: pd.Series, part: str) -> pd.Series:
    """The calendar ``part`` of every value of ``base`` (local time of a tz-aware column)."""
    return PARTS[part](base.dt)


def _is_string_column(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or s.dtype == object


def _matches(col: pd.Series, base_null: np.ndarray, parts: dict[str, np.ndarray]) -> str | None:
    """The first part ``col`` equals on every non-null row (NULL exactly where base is), or None."""
    null = col.isna().to_numpy()
    if not np.array_equal(null, base_null):
        return None
    vals = col[~null]
    if pd.api.types.is_numeric_dtype(vals.dtype) and not pd.api.types.is_bool_dtype(vals.dtype):
        x = vals.to_numpy(dtype=float)
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            return None
        for part, p in parts.items():
            # cheap look at the first rows before comparing all of them
            if part in NUMERIC_PARTS and np.array_equal(x[:200], p[:200]):
                if np.array_equal(x, p):
                    return part
        return None
    if _is_string_column(vals):
        values = vals.to_numpy(dtype=object)
        if not all(isinstance(v, str) for v in values[:1000]):
            return None
        text = values.astype(str)
        for part, p in parts.items():
            head = p[:200].astype(np.int64).astype(str) if part in NUMERIC_PARTS else p[:200]
            if not np.array_equal(text[:200], head.astype(str)):
                continue
            ps = p.astype(np.int64).astype(str) if part in NUMERIC_PARTS else p
            if np.array_equal(text, ps.astype(str)):
                return part
    return None


def detect(
    frame: pd.DataFrame, kinds: list[str], exclude: set[int] | None = None
) -> dict[int, tuple[int, str]]:
    """``{column position: (base position, part)}`` for columns that are calendar parts.

    ``kinds`` are the ColumnSpec kinds in column order; bases are date/datetime columns,
    candidates integer, float (whole numbers), categorical and constant-free columns. Positions,
    not names, so duplicate column names cannot confuse the mapping. A base is never derived.
    """
    exclude = exclude or set()
    bases = [i for i, k in enumerate(kinds) if k in ("date", "datetime") and i not in exclude]
    cands = [
        i
        for i, k in enumerate(kinds)
        if k in ("integer", "float", "categorical") and i not in exclude
    ]
    found: dict[int, tuple[int, str]] = {}
    for b in bases:
        base = frame.iloc[:, b]
        base_null = base.isna().to_numpy()
        if (~base_null).sum() < MIN_ROWS or not cands:
            continue
        nonnull = base[~base_null]
        parts: dict[str, np.ndarray] | None = None
        for c in cands:
            if c in found:
                continue
            col = frame.iloc[:, c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                continue  # its fixed category list may not cover synthetic parts
            if parts is None:  # computed lazily, once per base; constant parts never match
                parts = {}
                for p, f in PARTS.items():
                    v = np.asarray(f(nonnull.dt), dtype=float if p in NUMERIC_PARTS else object)
                    if len(pd.unique(v)) > 1:
                        parts[p] = v
            part = _matches(col, base_null, parts)
            if part is not None:
                found[c] = (b, part)
    return found


def compute(base: pd.Series, part: str, dtype: Any) -> pd.Series:
    """Column ``part(base)`` in ``dtype`` (the source column's), NULL where ``base`` is NULL."""
    null = base.isna().to_numpy()
    vals = part_values(base, part)
    if part in NAME_PARTS or _is_string_column(pd.Series([], dtype=dtype)):
        if part in NUMERIC_PARTS:
            vals = pd.Series(np.asarray(vals, dtype=float)).fillna(0).astype(np.int64).astype(str)
        out = np.where(null, None, np.asarray(vals, dtype=object))
        return pd.Series(out, dtype=object).astype(dtype)
    x = np.asarray(vals, dtype=float)
    x = np.where(null, np.nan, x)
    dt = pd.api.types.pandas_dtype(dtype)
    if isinstance(dt, np.dtype) and dt.kind in "iu":
        return pd.Series(x.astype(dt))
    return pd.Series(x).astype(dt)
