"""QA report of a release: self-contained HTML with inline plots, and the same evidence as JSON."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["render_html", "render_json", "thresholds_statement"]


def __getattr__(name: str) -> Any:
    """The names resolve on first use (PEP 562): importing ``synthdb.report.drawing`` (a
    release run's drawing handle) must not import ``html`` and with it matplotlib, 0.33 s in
    the dbt process, which a run whose report is drawn in a child process never uses."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("synthdb.report.html"), name)
