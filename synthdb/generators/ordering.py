"""How concentrated each column's values are: the sequential trees' ``"fewest_values"`` order.

The trees draw each column from the leaves of a tree on the columns before it. A leaf is a box
of earlier values, so a column that is (nearly) a sum or difference of earlier ones is drawn
from a box around a diagonal: a blur of a few units. On a spread-out column (a departure time
over the day) that blur stays inside a decile; on a concentrated one (a delay with a third of
the rows between -5 and -2 minutes) it moves the spike into its neighbours. Drawn in the input
order (departure time, scheduled time, delay) flights' delay lost 0.06 of univariate accuracy;
drawn before the times it is a column of its own given the earlier ones, and the blur lands on
the times instead. Ordering columns by their effective number of values, fewest first, puts
categories and spiky numbers first and spread-out numbers and timestamps last — the order in
which blur costs least.

The count is read from the input values, not from the latent scores: scores spread tied values
over their tie's interval, so ties (the spikes) are invisible there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the counts are read on at most this many rows (every k-th row: no random draw)
MAX_ROWS = 200_000


def effective_values(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> dict[str, float]:
    """exp(entropy) of each column's non-null value frequencies: the number of equally frequent
    values that would be as unpredictable (1 for a constant, n for distinct values).
    Columns that cannot be counted (unhashable values) are given ``inf`` (drawn last)."""
    step = max(1, -(-len(frame) // max(1, int(max_rows))))
    rows = frame.iloc[::step]
    out: dict[str, float] = {}
    for name in rows.columns:
        try:
            counts = rows[name].value_counts(dropna=True).to_numpy(dtype=float)
        except TypeError:
            out[name] = float("inf")
            continue
        if counts.sum() <= 0:
            out[name] = float("inf")
            continue
        p = counts / counts.sum()
        out[name] = float(np.exp(-(p * np.log(p)).sum()))
    return out
