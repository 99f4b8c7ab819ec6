"""Build output columns with exactly the dtype the source column had (so COPY round-trips)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def numeric_series(values: np.ndarray, null: np.ndarray | None, dtype: Any) -> pd.Series:
    """Numbers (float array) with optional null mask, cast to ``dtype`` (Int64, int64, float64…)."""
    v = np.asarray(values, dtype=float)
    if null is not None and null.any():
        v = np.where(null, np.nan, v)
    s = pd.Series(v)
    dt = pd.api.types.pandas_dtype(dtype)
    if pd.api.types.is_integer_dtype(dt) and not isinstance(dt, np.dtype):
        return s.round().astype(dt)
    if isinstance(dt, np.dtype) and dt.kind in "iu":
        return pd.Series(np.round(v).astype(dt))
    return s.astype(dt)


def datetime_series(
    us: np.ndarray, null: np.ndarray | None, dtype: Any, wall_time: bool = False
) -> pd.Series:
    """Microseconds since epoch to the source datetime dtype.

    For a tz-aware dtype ``us`` is UTC, or with ``wall_time`` the local clock time in the
    dtype's zone: a clock time skipped by a DST change moves forward to the first valid instant,
    a repeated one is read as daylight time, so every value stays a valid, non-null timestamp.
    """
    arr = np.asarray(us, dtype=np.int64).astype("datetime64[us]")
    if null is not None and null.any():
        arr = np.where(null, np.datetime64("NaT", "us"), arr)
    s = pd.Series(arr)
    dt = pd.api.types.pandas_dtype(dtype)
    tz = getattr(dt, "tz", None)
    if tz is not None and wall_time:
        s = s.dt.tz_localize(tz, ambiguous=np.ones(len(s), dtype=bool), nonexistent="shift_forward")
    elif tz is not None:
        s = s.dt.tz_localize("UTC").dt.tz_convert(tz)
    return s.astype(dt)


def take_series(uniques: Any, codes: np.ndarray, dtype: Any) -> pd.Series:
    """Values ``uniques[codes]`` (code -1 = null) in the source dtype."""
    if isinstance(uniques, pd.arrays.NumpyExtensionArray):
        uniques = uniques.to_numpy()
    codes = np.asarray(codes, dtype=np.intp)
    vals = pd.api.extensions.take(uniques, codes, allow_fill=True)
    s = pd.Series(vals)
    try:
        s = s.astype(dtype)
    except (TypeError, ValueError):
        pass
    if s.dtype == object and (codes < 0).any():
        # object columns from the database hold None for NULL; NaN there would read as the
        # text "nan" to anything that stringifies values (exports, embeddings, pandas joins)
        arr = s.to_numpy(dtype=object, copy=True)
        arr[codes < 0] = None
        s = pd.Series(arr, dtype=object)
    return s


def constant_series(value: Any, n: int, dtype: Any) -> pd.Series:
    """``n`` copies of one value (or nulls) in the source dtype."""
    if value is None:
        return (
            pd.Series([None] * n, dtype=object).astype(dtype) if n else pd.Series([], dtype=dtype)
        )
    if not n:
        return pd.Series([], dtype=dtype)
    # one converted value taken n times (a Python list of n copies costs ~0.1 s per 100k rows;
    # pandas 3's repeat() re-infers object strings as str, take() keeps the dtype)
    base = pd.Series([value], dtype=object).astype(dtype)
    return base.take(np.zeros(n, dtype=np.intp)).reset_index(drop=True)
