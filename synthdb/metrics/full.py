"""The full metric set for the QA report, as one JSON-serialisable dict.

The gate (``gate.evaluate_release``) is the part with verdicts; the report needs more: DCR
histograms, correlation matrices, seasonality, ML utility and group parity. This module runs them
all once, so the HTML report only formats numbers and never recomputes anything.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError, SynthdbError
from synthdb.metrics import distances as dist
from synthdb.metrics import ml, seasonality
from synthdb.metrics.gate import (
    GateThresholds,
    align_frames,
    distances_or_error,
    evaluate_release,
    fidelity_scores,
)

_GATE_KEYS = {f.name for f in dataclasses.fields(GateThresholds)}
_EXTRA_KEYS = {"target", "protected_attributes", "min_group_size"}


def thresholds_from_config(config: Mapping[str, Any] | GateThresholds | None) -> GateThresholds:
    """Build :class:`GateThresholds` from a config mapping, refusing unknown keys."""
    if isinstance(config, GateThresholds):
        return config
    config = dict(config or {})
    unknown = set(config) - _GATE_KEYS - _EXTRA_KEYS
    if unknown:
        raise ConfigError(f"metrics: unknown metric settings {sorted(unknown)}")
    return GateThresholds(**{k: v for k, v in config.items() if k in _GATE_KEYS})


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and NaN to plain JSON types (NaN/inf become None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def report_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    config: Mapping[str, Any] | GateThresholds | None = None,
    ml_baseline: ml.MlBaseline | None = None,
    on_fidelity: Callable[[dict], None] | None = None,
) -> dict:
    """Privacy and utility metrics for the QA report.

    ``config`` holds the :class:`GateThresholds` fields plus optional ``target`` (ML utility and
    group parity), ``protected_attributes`` (list of columns) and ``min_group_size``.
    ``ml_baseline``: ML utility's train-on-real half computed earlier (``ml.ml_baseline``).
    ``on_fidelity`` is called with the fidelity part (``column_shapes``, ``column_pair_trends``,
    ``quality_score``, ``seasonality``; JSON-ready, the very values of the result) as soon as it
    is computed, which is first: a release run has the report's data sections drawn from it in
    another process while distances and ML utility are computed (synthdb.report.drawing).
    """
    extras = dict(config) if isinstance(config, Mapping) else {}
    t = thresholds_from_config(config)
    t.validate()
    holdout, synthetic = align_frames(train, holdout, synthetic)
    scores = fidelity_scores(train, synthetic, t)  # the gate's utility rows reuse them
    fidelity: dict[str, Any] = {**scores,
                                "seasonality": seasonality.seasonality(train, synthetic)}
    if on_fidelity is not None:
        on_fidelity(jsonable(fidelity))
    d = distances_or_error(train, holdout, synthetic, t)
    rows = evaluate_release(train, holdout, synthetic, t, distances=d, fidelity=scores)
    out: dict[str, Any] = {
        "thresholds": dataclasses.asdict(t),
        "rows": {"train": len(train), "holdout": len(holdout), "synthetic": len(synthetic)},
        "gate": [dataclasses.asdict(r) for r in rows],
    }
    privacy: dict[str, Any] = {}
    if isinstance(d, SynthdbError):
        privacy["error"] = str(d)
    else:
        privacy["distances"] = dist.distance_summary(d)
        privacy["distance_histograms"] = dist.distance_histograms(d)
        privacy["membership_inference"] = dist.membership_inference(d, t.seed)
        privacy["outliers"] = dist.outlier_recreation(d)
    out["privacy"] = privacy
    out.update(fidelity)
    target = extras.get("target")
    if target:
        out["ml_utility"] = ml.ml_utility(train, holdout, synthetic, target, t.sample_size, t.seed,
                                          baseline=ml_baseline)
        protected = list(extras.get("protected_attributes") or [])
        if protected:
            out["group_parity"] = ml.group_parity(
                train,
                synthetic,
                protected,
                target,
                int(extras.get("min_group_size", t.rare_min_count)),
            )
    return jsonable(out)
