"""Column kinds and canonical values shared by every metric.

Metrics receive frames straight from the database (Int64, float64, str/object, boolean,
datetime64 naive or UTC) and from generators, whose dtypes may differ slightly for the same
column (Int64 in training, float64 in the synthetic output). Every metric therefore works on a
*canonical* view: numbers and datetimes as float64 with NaN for NULL, everything else as Python
strings with one sentinel for NULL. Comparing or hashing canonical values is what makes an exact
match between a synthetic and a training row independent of dtype quirks.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["numeric", "datetime", "boolean", "categorical"]

#: Stand-in for NULL in categorical columns; NULL is a value of its own in every metric.
NULL_TOKEN = "\x00<NULL>"


def column_kind(series: pd.Series) -> Kind:
    """Classify a column into the four kinds the metrics distinguish."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_object_dtype(dtype):
        # psycopg hands DATE columns over as datetime.date objects.
        sample = series.dropna().head(20)
        if len(sample) and all(isinstance(v, _dt.date) for v in sample):
            return "datetime"
        if len(sample) and all(isinstance(v, (bool, np.bool_)) for v in sample):
            return "boolean"
    return "categorical"


def frame_kinds(frame: pd.DataFrame) -> dict[str, Kind]:
    """Kind of every column of ``frame``, keyed by column name."""
    return {str(c): column_kind(frame[c]) for c in frame.columns}


def as_float(series: pd.Series, kind: Kind | None = None) -> np.ndarray:
    """Numbers, booleans and datetimes as float64 (datetimes in seconds since epoch); NaN = NULL."""
    kind = kind or column_kind(series)
    if kind == "datetime":
        values = series
        if not pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = pd.to_datetime(values, errors="coerce")
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        values = values.astype("datetime64[ns]")
        ints = values.to_numpy(dtype="int64", na_value=np.iinfo(np.int64).min)
        out = ints.astype("float64") / 1e9
        out[ints == np.iinfo(np.int64).min] = np.nan
        return out
    if kind == "boolean":
        return pd.Series(series, dtype="boolean").to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def as_text(series: pd.Series) -> np.ndarray:
    """Values as Python strings (object array) with :data:`NULL_TOKEN` for NULL."""
    mask = series.isna().to_numpy()
    out = series.astype(object).to_numpy(dtype=object, copy=True)
    out[mask] = NULL_TOKEN
    # str columns need no per-value conversion (the common, 1M-row case); others do.
    if not (
        pd.api.types.is_string_dtype(series.dtype)
        and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    ):
        out[~mask] = [str(v) for v in out[~mask]]
    return out


def canonical_frame(frame: pd.DataFrame, kinds: dict[str, Kind] | None = None) -> pd.DataFrame:
    """A frame whose columns compare equal across dtypes: float64 or object strings.

    Columns are renamed to positions so names with spaces, quotes or semicolons never matter.
    """
    kinds = kinds or frame_kinds(frame)
    data = {}
    for i, col in enumerate(frame.columns):
        kind = kinds[str(col)]
        if kind == "categorical":
            data[i] = as_text(frame[col])
        else:
            values = as_float(frame[col], kind)
            # -0.0 and 0.0 hash differently; NaN payloads too. Normalise both.
            data[i] = np.where(np.isnan(values), np.nan, values + 0.0)
    return pd.DataFrame(data, index=pd.RangeIndex(len(frame)))


def _text_hash(series: pd.Series) -> np.ndarray:
    """Hash of :func:`as_text` values; str columns skip the per-value Python objects."""
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
        series.dtype
    ):
        # Same hash as hashing the object array of the same strings (checked in the tests).
        filled = series.fillna(NULL_TOKEN)
        return pd.util.hash_pandas_object(filled, index=False).to_numpy()
    return pd.util.hash_array(as_text(series))


def row_hashes(frame: pd.DataFrame, kinds: dict[str, Kind] | None = None) -> np.ndarray:
    """64-bit hash per row of the canonical view (NULL equals NULL).

    Column hashes are combined directly instead of hashing a canonical frame: building that
    frame from a million Python strings per column cost more than the hashing itself.
    """
    kinds = kinds or frame_kinds(frame)
    out = np.zeros(len(frame), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in frame.columns:
            kind = kinds[str(col)]
            if kind == "categorical":
                h = _text_hash(frame[col])
            else:
                values = as_float(frame[col], kind)
                # -0.0 and 0.0 hash differently; NaN payloads too. Normalise both.
                h = pd.util.hash_array(np.where(np.isnan(values), np.nan, values + 0.0))
            out = (out ^ h) * np.uint64(0x100000001B3) + np.uint64(0x9E3779B97F4A7C15)
    return out


def is_identifier_like(series: pd.Series, max_unique_ratio: float = 0.5) -> bool:
    """True when a text column looks like a key (most values distinct), not a category."""
    n = int(series.notna().sum())
    if n < 20:
        return False
    return series.nunique(dropna=True) > max_unique_ratio * n


def check_same_columns(**frames: pd.DataFrame) -> list[str]:
    """Column names shared by every frame, in the first frame's order; error if they differ."""
    from synthdb.errors import ConfigError

    names = list(frames)
    first = frames[names[0]]
    cols = [str(c) for c in first.columns]
    for name in names[1:]:
        other = [str(c) for c in frames[name].columns]
        if set(other) != set(cols):
            missing = sorted(set(cols) - set(other))
            extra = sorted(set(other) - set(cols))
            raise ConfigError(
                f"metrics: the {name} frame's columns differ from the {names[0]} frame "
                f"(missing {missing}, unexpected {extra})"
            )
    return cols
