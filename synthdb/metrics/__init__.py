"""Privacy and utility metrics over pandas frames (no database inside; DESIGN §5).

``synthdb.metrics.gate.evaluate_release`` is the release gate; ``report_metrics`` computes the
full privacy and utility set for the QA report.
"""

from __future__ import annotations

from synthdb.metrics.full import report_metrics
from synthdb.metrics.gate import GateThresholds, MetricRow, evaluate_release

__all__ = ["GateThresholds", "MetricRow", "evaluate_release", "report_metrics"]
