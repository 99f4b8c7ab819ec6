"""The release gate: privacy checks with thresholds and verdicts, plus informational utility.

``evaluate_release`` is what the synthetic materialization calls. It returns flat
:class:`MetricRow` records that the adapter stores in ``synthdb_audit.metrics``; the dbt tests
and the publish step read those same rows, so the verdict is computed exactly once, here.

Fail-closed: a gated check that cannot be computed (too few rows, bad setting) yields a row with
``passed=False`` and the reason in ``details``, never a silent pass. ``details`` carries counts
and statistics only, never a source value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from synthdb.errors import ConfigError, SynthdbError
from synthdb.metrics import distances as dist
from synthdb.metrics import privacy, utility
from synthdb.metrics._columns import check_same_columns

CHECKS = ("k_anonymity", "rare_categories", "no_leakage", "utility")


@dataclass
class GateThresholds:
    """Thresholds of the release gate (one per privacy check)."""

    quasi_identifiers: list[str] = field(default_factory=list)
    k: int = 5
    rare_columns: list[str] | None = None  # None = all categorical/text columns
    rare_min_count: int = 10
    dcr_share_max: float = 0.55
    identical_match_tolerance: float = 0.0  # synthetic share <= holdout share + tolerance
    mia_advantage_max: float = 0.10
    sample_size: int = 50_000
    seed: int | None = 0

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first unusable setting."""
        if not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"gate: k must be an integer >= 1 (got {self.k!r})")
        if not isinstance(self.rare_min_count, int) or self.rare_min_count < 1:
            raise ConfigError(
                f"gate: rare_min_count must be an integer >= 1 (got {self.rare_min_count!r})"
            )
        for name in ("dcr_share_max", "mia_advantage_max", "identical_match_tolerance"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"gate: {name} must be a number in [0, 1] (got {value!r})")
        if not isinstance(self.sample_size, int) or self.sample_size < 2:
            raise ConfigError(
                f"gate: sample_size must be an integer >= 2 (got {self.sample_size!r})"
            )
        if isinstance(self.quasi_identifiers, str):
            raise ConfigError(
                "gate: quasi_identifiers must be a list of column names, not a string"
            )
        if isinstance(self.rare_columns, str):
            raise ConfigError("gate: rare_columns must be a list of column names, not a string")


@dataclass
class MetricRow:
    """One stored metric: ``passed`` is None for informational rows."""

    check: str  # 'k_anonymity' | 'rare_categories' | 'no_leakage' | 'utility'
    metric: str
    value: float | None
    threshold: float | None
    passed: bool | None
    details: dict = field(default_factory=dict)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _k_anonymity_rows(synthetic: pd.DataFrame, t: GateThresholds) -> list[MetricRow]:
    if not t.quasi_identifiers:
        return [
            MetricRow(
                "k_anonymity",
                "min_class_size",
                None,
                float(t.k),
                None,
                {"reason": "no quasi_identifiers configured; k-anonymity not evaluated"},
            )
        ]
    res = privacy.k_anonymity(synthetic, t.quasi_identifiers, t.k)
    ok = res["rows"] == 0 or res["rows_below_k"] == 0
    return [
        MetricRow(
            "k_anonymity", "min_class_size", _num(res["min_class_size"]), float(t.k), ok, res
        ),
        MetricRow("k_anonymity", "rows_below_k", float(res["rows_below_k"]), None, None, {}),
    ]


def _rare_rows(synthetic: pd.DataFrame, t: GateThresholds) -> list[MetricRow]:
    res = privacy.rare_categories(synthetic, t.rare_columns, t.rare_min_count)
    res["rule"] = "passes when no value appears fewer than threshold times in the release"
    return [
        MetricRow(
            "rare_categories",
            "rare_values",
            float(res["rare_values"]),
            float(t.rare_min_count),
            res["rare_values"] == 0,
            res,
        )
    ]


def _leakage_rows(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    t: GateThresholds,
    d: dist.Distances | SynthdbError | None = None,
) -> list[MetricRow]:
    rows: list[MetricRow] = []
    ims = privacy.identical_match_share(train, holdout, synthetic)
    allowance = privacy.identical_share_noise(ims)
    limit = ims["holdout_share"] + t.identical_match_tolerance + allowance
    ims["rule"] = (
        "synthetic share <= holdout share + tolerance + sampling allowance "
        f"(one-sided z = {privacy.IDENTICAL_SHARE_Z} on the pooled share)"
    )
    ims["tolerance"] = t.identical_match_tolerance
    ims["sampling_allowance"] = allowance
    rows.append(
        MetricRow(
            "no_leakage",
            "identical_match_share",
            ims["synthetic_share"],
            limit,
            ims["synthetic_share"] <= limit + 1e-12,
            ims,
        )
    )
    if d is None:
        d = distances_or_error(train, holdout, synthetic, t)
    if isinstance(d, SynthdbError):
        reason = {"error": str(d)}
        rows.append(MetricRow("no_leakage", "dcr_share", None, t.dcr_share_max, False, reason))
        rows.append(
            MetricRow("no_leakage", "mia_advantage", None, t.mia_advantage_max, False, reason)
        )
        return rows
    summary = dist.distance_summary(d)
    share = summary["dcr_share"]
    rows.append(
        MetricRow(
            "no_leakage", "dcr_share", share, t.dcr_share_max, share <= t.dcr_share_max, summary
        )
    )
    mia = dist.membership_inference(d, t.seed)
    rows.append(
        MetricRow(
            "no_leakage",
            "mia_advantage",
            mia["advantage"],
            t.mia_advantage_max,
            mia["advantage"] <= t.mia_advantage_max,
            mia,
        )
    )
    rows.append(MetricRow("no_leakage", "mia_auc", mia["auc"], None, None, {}))
    out = dist.outlier_recreation(d)
    rows.append(
        MetricRow("no_leakage", "outliers_recreated", float(out["recreated"]), None, None, out)
    )
    return rows


def fidelity_scores(train: pd.DataFrame, synthetic: pd.DataFrame, t: GateThresholds
                    ) -> dict[str, Any]:
    """Column shapes, column pair trends and their overall quality score (sampled, seeded)."""
    shapes = utility.column_shapes(train, synthetic, t.sample_size, t.seed)
    trends = utility.column_pair_trends(train, synthetic, t.sample_size, t.seed)
    return {"column_shapes": shapes, "column_pair_trends": trends,
            "quality_score": utility.quality_score(shapes, trends)}


def _utility_rows(
    train: pd.DataFrame, synthetic: pd.DataFrame, t: GateThresholds,
    fidelity: dict[str, Any] | None = None,
) -> list[MetricRow]:
    if fidelity is None:
        fidelity = fidelity_scores(train, synthetic, t)
    shapes, trends = fidelity["column_shapes"], fidelity["column_pair_trends"]
    overall = fidelity["quality_score"]
    shape_details = {
        "columns": {c: v["score"] for c, v in shapes["columns"].items()},
        "skipped_identifier_like": shapes["skipped_identifier_like"],
    }
    trend_details = {"pairs": len(trends["pairs"])}
    return [
        MetricRow("utility", "column_shapes", _num(shapes["score"]), None, None, shape_details),
        MetricRow(
            "utility", "column_pair_trends", _num(trends["score"]), None, None, trend_details
        ),
        MetricRow("utility", "overall_quality", _num(overall), None, None, {}),
    ]


def distances_or_error(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, t: GateThresholds
) -> dist.Distances | SynthdbError:
    """Nearest-neighbour distances, or the user-facing reason they cannot be computed."""
    try:
        return dist.compute_distances(train, holdout, synthetic, t.sample_size, t.seed)
    except SynthdbError as exc:
        return exc


def align_frames(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Holdout and synthetic with train's column order and labels (error if columns differ)."""
    cols = check_same_columns(train=train, holdout=holdout, synthetic=synthetic)
    by_name = {str(c): c for c in train.columns}
    order = [by_name[c] for c in cols]
    holdout = holdout[[_match(holdout, c) for c in cols]].set_axis(order, axis=1)
    synthetic = synthetic[[_match(synthetic, c) for c in cols]].set_axis(order, axis=1)
    return holdout, synthetic


def evaluate_release(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    thresholds: GateThresholds,
    *,
    distances: dist.Distances | SynthdbError | None = None,
    fidelity: dict[str, Any] | None = None,
) -> list[MetricRow]:
    """Compute every gated privacy check and the informational utility scores.

    ``k_anonymity`` and ``rare_categories`` are measured on the release (``synthetic``), the
    table the recipient gets; ``no_leakage`` compares it with train and holdout.
    ``distances`` and ``fidelity`` (:func:`fidelity_scores` of the same frames and thresholds)
    let :func:`synthdb.metrics.report_metrics` reuse the neighbour search and the column
    shapes / pair trends it computed for the report (issue 15: they were computed twice).
    """
    thresholds.validate()
    holdout, synthetic = align_frames(train, holdout, synthetic)
    rows: list[MetricRow] = []
    rows += _k_anonymity_rows(synthetic, thresholds)
    rows += _rare_rows(synthetic, thresholds)
    rows += _leakage_rows(train, holdout, synthetic, thresholds, distances)
    if len(train) and len(synthetic):
        rows += _utility_rows(train, synthetic, thresholds, fidelity)
    return rows


def _match(frame: pd.DataFrame, name: str) -> Any:
    for c in frame.columns:
        if str(c) == name:
            return c
    raise ConfigError(f"gate: column {name!r} missing")
