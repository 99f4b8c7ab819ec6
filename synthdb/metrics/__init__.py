"""Privacy and utility metrics over pandas frames (no database inside; DESIGN §5).

``synthdb.metrics.gate.evaluate_release`` is the release gate; ``report_metrics`` computes the
full privacy and utility set for the QA report.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["LAZY_IMPORTS", "GateThresholds", "MetricRow", "evaluate_release", "report_metrics"]

# Imported on first use (PEP 562), as scikit-learn and SciPy are inside the modules: a model's
# config check imports synthdb.metrics.utility_checks, a run that measures no ML utility (mock,
# deidentify, no report target) never needs scikit-learn's ensembles, and drawing a report needs
# neither.
# What the metrics import on first use (ML utility's boosting and scores, KS, the leakage ROC):
# a learning run imports them while its training input is read (synthdb.release.warmup).
LAZY_IMPORTS = ("sklearn.ensemble", "sklearn.metrics", "scipy.stats")

_WHERE = {"report_metrics": "synthdb.metrics.full", "GateThresholds": "synthdb.metrics.gate",
          "MetricRow": "synthdb.metrics.gate", "evaluate_release": "synthdb.metrics.gate"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
