"""QA report of a release: self-contained HTML with inline plots, and the same evidence as JSON."""

from __future__ import annotations

from synthdb.report.html import render_html, render_json, thresholds_statement

__all__ = ["render_html", "render_json", "thresholds_statement"]
