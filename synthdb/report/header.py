"""The QA report's header: who the release is for and what the numbers were measured on.

A reader of the report (privacy officer, recipient) must see, each named: recipient, model,
version, purpose, retention, and the row counts that are easy to confuse — rows in the source,
rows trained on (a capped sample), rows released, and the evaluation sample the plots and
metrics use (issue 11: "real rows 200000 · synthetic rows 10000" for a 336,776-row source was
misread). The generator's settings are a table, not a raw dict.

The report is rendered by the synthetic step, before the release exists; publish knows the
version, purpose and retention. So the header's facts are also embedded as JSON in the page,
and :func:`stamp_release` re-renders the header with the release's facts when publish copies
the report into the release folder.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

FACTS_ID = "report-facts"
_SECTION = re.compile(r'<section id="release-header">.*?</section>', re.S)
_FACTS = re.compile(r'<script type="application/json" id="report-facts">(.*?)</script>', re.S)

# (key in facts, label); None values print as a dash or the given placeholder
_RELEASE_ROWS = (
    ("recipient", "Recipient"),
    ("model", "Model"),
    ("version", "Version"),
    ("purpose", "Purpose"),
    ("retention", "Retention"),
    ("run_id", "Run id"),
    ("method", "Method"),
)
_COUNT_ROWS = (
    ("source", "Source rows"),
    ("training", "Training rows (the generator's sample)"),
    ("holdout", "Holdout rows (kept out of training, for the leakage checks)"),
    ("released", "Released rows"),
    ("evaluation_real", "Evaluation sample, real rows (plots and metrics)"),
    ("evaluation_synthetic", "Evaluation sample, synthetic rows (plots and metrics)"),
)
_NOT_YET = "assigned at publish"


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _count(x: Any) -> str:
    if x is None:
        return "–"
    try:
        return f"{int(x):,}"
    except (TypeError, ValueError):
        return _e(x)


def header_facts(evidence: Mapping[str, Any], n_real: int, n_synthetic: int) -> dict[str, Any]:
    """The facts the header shows, from the run's evidence and the frames the report uses."""
    release = dict(evidence.get("release") or {})
    counts = dict(evidence.get("row_counts") or {})
    generator = evidence.get("generator")
    method = generator.get("method") if isinstance(generator, Mapping) else generator
    return {
        "model": evidence.get("model"),
        "run_id": evidence.get("run_id"),
        "method": method,
        "recipient": release.get("recipient"),
        "version": release.get("version"),
        "purpose": release.get("purpose"),
        "retention": release.get("retention"),
        "source": counts.get("source"),
        "training": counts.get("training", n_real),
        "holdout": counts.get("holdout"),
        "released": counts.get("released"),
        "evaluation_real": n_real,
        "evaluation_synthetic": n_synthetic,
        "mock_columns": sorted(mock_columns(evidence)),
    }


def mock_columns(evidence: Mapping[str, Any]) -> set[str]:
    """Columns filled by the mock generator (fake values, never learned from the source)."""
    generator = evidence.get("generator")
    if not isinstance(generator, Mapping):
        return set()
    privacy = generator.get("privacy") or {}
    return {str(c) for c in privacy.get("mock_columns") or []}


def render_header(facts: Mapping[str, Any], generated: str) -> str:
    """The ``release-header`` section (two named tables) plus the facts as JSON."""
    def row(label: str, value: str) -> str:
        return f"<tr><th>{_e(label)}</th><td>{value}</td></tr>"

    release = []
    for key, label in _RELEASE_ROWS:
        value = facts.get(key)
        if value is None:
            text = _NOT_YET if key in ("version",) else "–"
        else:
            text = _e(value)
        release.append(row(label, text))
    release.append(row("Report generated", _e(generated)))
    counts = [row(label, _count(facts.get(key))) for key, label in _COUNT_ROWS]
    mocked = facts.get("mock_columns") or []
    note = ("" if not mocked else
            "<p class='meta'>Mock columns (fake values, not learned from the source): "
            + ", ".join(_e(c) for c in mocked) + "</p>")
    payload = json.dumps(dict(facts), default=str).replace("</", "<\\/")
    return (
        '<section id="release-header"><div class="facts">'
        f'<table id="release-facts">{"".join(release)}</table>'
        f'<table id="row-counts">{"".join(counts)}</table></div>{note}'
        f'<script type="application/json" id="{FACTS_ID}">{payload}</script></section>'
    )


def stamp_release(page: str, release: Mapping[str, Any], generated: str) -> str:
    """``page`` with its header re-rendered to carry the release's facts (version, ...)."""
    match = _FACTS.search(page)
    if match is None or _SECTION.search(page) is None:
        return page  # a report from before headers existed: leave it as it is
    facts = json.loads(match.group(1).replace("<\\/", "</"))
    facts.update({k: v for k, v in release.items() if v is not None})
    section = render_header(facts, generated)
    return _SECTION.sub(lambda _m: section, page, count=1)


def _flat(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, (list, tuple)):
        out.append((prefix, ", ".join(str(v) for v in value) or "–"))
    else:
        out.append((prefix, "–" if value is None else str(value)))


def generator_tables(generator: Any, mocked: set[str]) -> str:
    """Generator settings as a settings table and a per-column table."""
    if not isinstance(generator, Mapping):
        return ('<table id="generator-settings"><tr><th>generator</th>'
                f"<td>{_e(generator if generator else '–')}</td></tr></table>")
    settings: list[tuple[str, str]] = []
    for key, value in generator.items():
        if key not in ("columns", "derived_columns"):
            _flat(str(key), value, settings)
    parts = ['<table id="generator-settings"><tr><th>setting</th><th>value</th></tr>']
    parts += [f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in settings]
    parts.append("</table>")
    columns = generator.get("columns") or {}
    names = list(columns) + sorted(c for c in mocked if c not in columns)
    if names:
        parts.append('<table id="generator-columns"><tr><th>column</th><th>produced by</th>'
                     "<th>kind</th><th>notes</th></tr>")
        for name in names:
            info = columns.get(name) or {}
            if name in mocked:
                produced = "mock (fake values, not learned from the source)"
            elif "derived_from" in info:
                produced = "derived"
            else:
                produced = "synthesize (learned)"
            notes = "; ".join(f"{label} {info[key]}" for key, label in (
                ("conditional_on", "conditional on"), ("null_with", "NULL together with"),
                ("derived_from", "derived from"), ("part", "part")) if info.get(key))
            parts.append(f"<tr><td>{_e(name)}</td><td>{_e(produced)}</td>"
                         f"<td>{_e(info.get('kind', '–'))}</td><td>{_e(notes or '–')}</td></tr>")
        parts.append("</table>")
    return "".join(parts)
