"""Utility checks that can block a release: per-model thresholds on the signals recipients need.

The scores of ``utility.py`` are informational: nothing stops a release whose correlation of
``dep_delay`` and ``arr_delay`` fell from 0.91 to 0.56. A model may declare (config
``synth.utility``) what it must keep; each declared threshold becomes a stored metric of check
``utility`` with a verdict, and a failed one stops the publish exactly as a privacy check does
(the run's verdict is the conjunction of every gated metric):

* ``min_accuracy`` — the overall fidelity score (mean of column shapes and pair trends) at least;
* ``max_column_distance`` — every column's KS statistic (numbers, timestamps) or total variation
  distance (categories) at most;
* ``critical_pairs`` — ``[{columns: [a, b], tolerance: 0.03}]``: the Spearman rank correlation of
  each declared pair within ``tolerance`` of the real one;
* ``max_seasonality_tvd`` — day-of-week, month and hour distributions of every timestamp column
  within this total variation distance;
* ``unseen_combinations`` — ``[{columns: [carrier, origin, dest], max_share: 0.001}]``: at most
  this share of synthetic rows carry a combination of those columns that no training row has;
  ``max_share: holdout`` uses the share of the holdout's own rows as the limit.

Values in ``details`` are statistics and column names only, never a source value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError
from synthdb.metrics import seasonality, utility
from synthdb.metrics._columns import as_float, as_text, frame_kinds
from synthdb.metrics.gate import MetricRow

KEYS = (
    "min_accuracy",
    "max_column_distance",
    "critical_pairs",
    "max_seasonality_tvd",
    "unseen_combinations",
)


@dataclass
class UtilityThresholds:
    """The declared utility thresholds of one model (all optional)."""

    min_accuracy: float | None = None
    max_column_distance: float | None = None
    critical_pairs: list[dict[str, Any]] = field(default_factory=list)
    max_seasonality_tvd: float | None = None
    unseen_combinations: list[dict[str, Any]] = field(default_factory=list)

    def declared(self) -> bool:
        return any(
            v not in (None, [])
            for v in (
                self.min_accuracy,
                self.max_column_distance,
                self.critical_pairs,
                self.max_seasonality_tvd,
                self.unseen_combinations,
            )
        )

    def columns(self) -> list[str]:
        """Every column the thresholds name."""
        names = [c for p in self.critical_pairs for c in p["columns"]]
        names += [c for g in self.unseen_combinations for c in g["columns"]]
        return list(dict.fromkeys(names))


def _share(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{where} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _group(raw: Any, where: str, size: int | None, limit_key: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), list):
        raise ConfigError(f"{where} must be a mapping with 'columns' (a list) and '{limit_key}'")
    cols = raw["columns"]
    if not all(isinstance(c, str) and c for c in cols) or len(set(cols)) != len(cols):
        raise ConfigError(f"{where}.columns must be distinct column names, got {cols!r}")
    if (size is not None and len(cols) != size) or len(cols) < 2:
        want = f"exactly {size}" if size else "at least 2"
        raise ConfigError(f"{where}.columns must name {want} columns, got {cols!r}")
    unknown = sorted(set(raw) - {"columns", limit_key})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if limit_key not in raw:
        raise ConfigError(f"{where} needs '{limit_key}'")
    limit = raw[limit_key]
    if not (limit_key == "max_share" and limit == "holdout"):
        limit = _share(limit, f"{where}.{limit_key}")
    return {"columns": list(cols), limit_key: limit}


def parse_utility(raw: Any, where: str) -> UtilityThresholds:
    """Validate a model's ``synth.utility`` mapping; errors name the model and the key."""
    if raw is None:
        return UtilityThresholds()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    out = UtilityThresholds()
    for key in ("min_accuracy", "max_column_distance", "max_seasonality_tvd"):
        if raw.get(key) is not None:
            setattr(out, key, _share(raw[key], f"{where}.{key}"))
    for key, size, limit in (
        ("critical_pairs", 2, "tolerance"),
        ("unseen_combinations", None, "max_share"),
    ):
        items = raw.get(key) or []
        if not isinstance(items, list):
            raise ConfigError(f"{where}.{key} must be a list, got {type(items).__name__}")
        setattr(
            out, key, [_group(g, f"{where}.{key}[{i}]", size, limit) for i, g in enumerate(items)]
        )
    return out


def _row(
    metric: str, value: float | None, threshold: float, passed: bool, **details: Any
) -> MetricRow:
    return MetricRow("utility", metric, value, threshold, passed, details)


def _spearman(frame: pd.DataFrame, a: str, b: str, kinds: dict[str, Any]) -> float | None:
    x = as_float(frame[a], kinds[a])
    y = as_float(frame[b], kinds[b])
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return None
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


def _unseen_share(train: pd.DataFrame, other: pd.DataFrame, cols: list[str]) -> float:
    """Share of ``other``'s rows (all ``cols`` present) whose combination no training row has."""

    def keys(frame: pd.DataFrame) -> pd.MultiIndex:
        part = pd.DataFrame({c: as_text(frame[c]) for c in cols})
        present = frame[cols].notna().all(axis=1).to_numpy()
        return pd.MultiIndex.from_frame(part[present])

    k = keys(other)
    return float((~k.isin(keys(train))).mean()) if len(k) else 0.0


def utility_rows(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    t: UtilityThresholds,
    model: str,
    sample_size: int | None = 50_000,
    seed: int | None = 0,
) -> list[MetricRow]:
    """One gated ``utility`` row per declared threshold (none when nothing is declared)."""
    if not t.declared():
        return []
    kinds = frame_kinds(train)
    _check_declared_columns(train, t, kinds, model)
    return [
        *_shape_rows(train, synthetic, t, sample_size, seed),
        *_pair_rows(train, synthetic, t, kinds),
        *_seasonality_rows(train, synthetic, t),
        *_unseen_rows(train, holdout, synthetic, t),
    ]


def _check_declared_columns(
    train: pd.DataFrame, t: UtilityThresholds, kinds: dict[str, Any], model: str
) -> None:
    """A threshold on a column the release lacks, or a correlation of a category, is a config
    error named before any figure is computed (never a silently skipped check)."""
    missing = [c for c in t.columns() if c not in train.columns]
    if missing:
        raise ConfigError(
            f"model {model}: synth.utility names column(s) {', '.join(map(repr, missing))} "
            "that the released table does not have (or that are mocked)"
        )
    for pair in t.critical_pairs:
        for c in pair["columns"]:
            if kinds.get(c) not in ("numeric", "datetime", "boolean"):
                raise ConfigError(
                    f"model {model}: synth.utility.critical_pairs: column {c!r} is not a number "
                    "or timestamp, so it has no rank correlation"
                )


def _shape_rows(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    t: UtilityThresholds,
    sample_size: int | None,
    seed: int | None,
) -> list[MetricRow]:
    """Overall accuracy (shapes and pair trends) and each column's KS/TVD distance."""
    if t.min_accuracy is None and t.max_column_distance is None:
        return []
    rows: list[MetricRow] = []
    shapes = utility.column_shapes(train, synthetic, sample_size, seed)
    if t.min_accuracy is not None:
        trends = utility.column_pair_trends(train, synthetic, sample_size, seed)
        score = utility.quality_score(shapes, trends)
        ok = score is not None and score >= t.min_accuracy
        rows.append(_row("min_accuracy", score, t.min_accuracy, ok, score="overall_quality"))
    if t.max_column_distance is not None:
        for name, col in shapes["columns"].items():
            d = 1.0 - float(col["score"])
            kind = "KS" if col["metric"] == "KSComplement" else "TVD"
            rows.append(_row(f"column_distance:{name}", d, t.max_column_distance,
                             d <= t.max_column_distance, distance=kind, column=name))
    return rows


def _pair_rows(
    train: pd.DataFrame, synthetic: pd.DataFrame, t: UtilityThresholds, kinds: dict[str, Any]
) -> list[MetricRow]:
    """Each critical pair's rank correlation, real against synthetic, within its tolerance."""
    rows: list[MetricRow] = []
    for pair in t.critical_pairs:
        a, b = pair["columns"]
        real, syn = _spearman(train, a, b, kinds), _spearman(synthetic, a, b, kinds)
        gap = None if real is None or syn is None else abs(real - syn)
        ok = gap is not None and gap <= pair["tolerance"]
        rows.append(_row(f"pair_correlation:{a}|{b}", gap, pair["tolerance"], ok,
                         real=real, synthetic=syn, method="spearman"))
    return rows


def _seasonality_rows(
    train: pd.DataFrame, synthetic: pd.DataFrame, t: UtilityThresholds
) -> list[MetricRow]:
    """Calendar-part TVD (day of week, month, hour) of every timestamp column."""
    if t.max_seasonality_tvd is None:
        return []
    rows: list[MetricRow] = []
    for name, col in seasonality.seasonality(train, synthetic).items():
        for part, v in col["parts"].items():
            tvd = 1.0 - float(v["score"])
            rows.append(_row(f"seasonality_tvd:{name}.{part}", tvd, t.max_seasonality_tvd,
                             tvd <= t.max_seasonality_tvd, column=name, part=part))
    return rows


def _unseen_rows(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, t: UtilityThresholds
) -> list[MetricRow]:
    """Share of synthetic combinations of a column group never seen in training, against a
    fixed limit or the holdout's own share (``max_share: holdout``)."""
    rows: list[MetricRow] = []
    for group in t.unseen_combinations:
        cols = group["columns"]
        share = _unseen_share(train, synthetic, cols)
        limit = group["max_share"]
        own = _unseen_share(train, holdout, cols) if len(holdout) else None
        threshold = own if limit == "holdout" else limit
        ok = threshold is not None and share <= threshold
        rows.append(_row("unseen_combinations:" + "|".join(cols), share,
                         float(threshold) if threshold is not None else None, ok,
                         columns=cols, holdout_share=own, limit=str(limit)))
    return rows
