"""Seasonality of datetime columns: calendar-part distributions and day-to-day autocorrelation.

Marginal KS on a timestamp ignores weekly and yearly rhythm (a generator can match the overall
range yet put as many orders on Sundays as on Mondays). We compare, per datetime column, the
distribution of day of week, month and (when the real data has times) hour with a TV complement,
and the lag-1 autocorrelation of the daily row counts, real vs synthetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthdb.metrics._columns import as_float, frame_kinds
from synthdb.metrics.utility import _col

_PARTS = {"day_of_week": 7, "month": 12, "hour": 24}


def _timestamps(series: pd.Series) -> pd.Series:
    secs = as_float(series, "datetime")
    secs = secs[~np.isnan(secs)]
    return pd.Series(pd.to_datetime(secs, unit="s"))


def _part(ts: pd.Series, part: str) -> np.ndarray:
    if part == "day_of_week":
        return ts.dt.day_of_week.to_numpy()
    if part == "month":
        return ts.dt.month.to_numpy() - 1
    return ts.dt.hour.to_numpy()


def _freq(codes: np.ndarray, size: int) -> np.ndarray:
    counts = np.bincount(codes.astype(np.int64), minlength=size)[:size].astype(float)
    return counts / counts.sum() if counts.sum() else counts


def lag1_autocorrelation(ts: pd.Series) -> float | None:
    """Lag-1 autocorrelation of the number of rows per calendar day (days without rows = 0)."""
    if len(ts) < 3:
        return None
    days = ts.dt.floor("D")
    counts = days.value_counts()
    full = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
    series = counts.reindex(full, fill_value=0).to_numpy(dtype=float)
    if len(series) < 3 or np.std(series[:-1]) == 0 or np.std(series[1:]) == 0:
        return None
    return float(np.corrcoef(series[:-1], series[1:])[0, 1])


def seasonality(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, Any]:
    """Per datetime column: TV complement of day of week / month / hour, and lag-1 ACF."""
    out: dict[str, Any] = {}
    for name, kind in frame_kinds(real).items():
        if kind != "datetime":
            continue
        r, s = _timestamps(real[_col(real, name)]), _timestamps(synthetic[_col(synthetic, name)])
        if not len(r) or not len(s):
            continue
        has_time = bool((r.dt.floor("D") != r).any())
        col: dict[str, Any] = {"parts": {}}
        for part, size in _PARTS.items():
            if part == "hour" and not has_time:
                continue
            p, q = _freq(_part(r, part), size), _freq(_part(s, part), size)
            col["parts"][part] = {
                "score": float(1.0 - 0.5 * np.abs(p - q).sum()),
                "real": p.tolist(),
                "synthetic": q.tolist(),
            }
        acf_r, acf_s = lag1_autocorrelation(r), lag1_autocorrelation(s)
        col["lag1_autocorrelation"] = {"real": acf_r, "synthetic": acf_s}
        scores = [v["score"] for v in col["parts"].values()]
        col["score"] = float(np.mean(scores)) if scores else None
        out[name] = col
    return out
