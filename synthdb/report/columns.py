"""Which columns get a distribution plot in the QA report, and every column's distance.

One matplotlib figure per column made a 500-column report take minutes and hundreds of MB
(issue 12). The report draws at most PLOT_MAX_COLUMNS distribution plots: declared
quasi-identifiers first (the columns a privacy officer checks), then the columns whose real and
synthetic distributions differ most (largest KS distance or total variation distance, the
complements of the column-shape scores the evidence already carries). Nothing is hidden: the
report lists every column's distance in one table, and says how many columns were plotted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from synthdb.metrics import utility

# At most this many per-column distribution plots (about 0.4 s and one small PNG each). Below it
# every fidelity column is plotted, as before; the distance table always lists every column.
PLOT_MAX_COLUMNS = 40


@dataclass(frozen=True)
class ColumnDistance:
    """One column's real-vs-synthetic distance: ``1 - score`` of its KS or TV complement."""

    name: str
    kind: str
    metric: str
    distance: float | None


def _distance_name(metric: str) -> str:
    return {"KSComplement": "KS distance", "TVComplement": "TV distance"}.get(metric, metric)


def column_distances(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str],
    metrics: Mapping[str, Any],
) -> list[ColumnDistance]:
    """Distances of every fidelity column, read from the evidence or computed if it has none."""
    shapes = (metrics.get("column_shapes") or {}).get("columns")
    if not shapes or not set(kinds) <= set(shapes):
        shapes = utility.column_shapes(real, synthetic, sample_size=50_000)["columns"]
    out = []
    for name, kind in kinds.items():
        info = shapes.get(name) or {}
        score = None if info.get("score") is None else float(info["score"])
        distance = None if score is None or not math.isfinite(score) else max(0.0, 1.0 - score)
        out.append(ColumnDistance(name, kind, _distance_name(str(info.get("metric", "–"))), distance))
    return out


def plotted_columns(
    distances: list[ColumnDistance],
    first: Iterable[str] = (),
    limit: int = PLOT_MAX_COLUMNS,
) -> list[str]:
    """Names of at most ``limit`` columns to plot, in the frame's column order.

    Columns named in ``first`` (declared quasi-identifiers) come before the rest; the rest are
    taken by largest distance (a column without a distance counts as the largest: it is unknown).
    """
    names = [d.name for d in distances]
    if len(names) <= limit:
        return names
    wanted = set(map(str, first))
    by_distance = sorted(
        distances,
        key=lambda d: (
            d.name not in wanted,
            -(float("inf") if d.distance is None else d.distance),
        ),
    )
    keep = {d.name for d in by_distance[:limit]}
    return [n for n in names if n in keep]
