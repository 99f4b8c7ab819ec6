"""Self-contained HTML (and JSON) QA report of one release.

Layout: header (recipient, model, version, purpose, retention, named row counts; see
synthdb.report.header), report card (one verdict per check) with the thresholds statement,
metric table, per-column distributions (at most synthdb.report.columns.PLOT_MAX_COLUMNS plots;
every column's distance in a table), correlation heatmaps, seasonality, privacy distance
histograms, ML utility and group parity tables. Everything is inline: the file
has no network references, so it renders identically offline and can be archived as evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from synthdb.metrics._columns import frame_kinds
from synthdb.metrics.full import jsonable
from synthdb.metrics.seasonality import seasonality
from synthdb.metrics.utility import _sample, correlation_matrices, fidelity_columns
from synthdb.report import plots
from synthdb.report.columns import column_distances, plotted_columns
from synthdb.report.header import generator_tables, header_facts, mock_columns, render_header

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
.meta{color:#555;font-size:13px}
.card{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.check{border-radius:6px;padding:10px 14px;min-width:150px;font-weight:600}
.pass{background:#e3f4e6;color:#1b6b2a;border:1px solid #9fd3aa}
.fail{background:#fbe4e4;color:#9b1c1c;border:1px solid #eaa}
.info{background:#eef1f6;color:#3a4a66;border:1px solid #c7cfdd}
.statement{font-size:14px;background:#fafafa;border:1px solid #eee;padding:8px 12px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f4f4f4}
.plots{display:flex;flex-wrap:wrap;gap:8px}.plots img{border:1px solid #eee}
.facts{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
"""

_CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.getElementById('img-status').textContent = 'images decoded: ' + ok + '/' + imgs.length;
});
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return _e(x)


def _rows(evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = evidence.get("metric_rows") or evidence.get("rows")
    if rows is None:
        rows = (evidence.get("metrics") or {}).get("gate", [])
    return [dataclasses.asdict(r) if dataclasses.is_dataclass(r) else dict(r) for r in rows]


def _thresholds(evidence: Mapping[str, Any]) -> dict[str, Any]:
    t = evidence.get("thresholds") or (evidence.get("metrics") or {}).get("thresholds") or {}
    return dataclasses.asdict(t) if dataclasses.is_dataclass(t) else dict(t)


def thresholds_statement(t: Mapping[str, Any]) -> list[str]:
    """Plain-language thresholds, e.g. "k ≥ 10 on {age_band, region, product}"."""
    out = []
    qis = t.get("quasi_identifiers") or []
    if qis:
        out.append(f"k ≥ {t.get('k', 5)} on {{{', '.join(map(str, qis))}}}")
    if "rare_min_count" in t:
        cols = t.get("rare_columns")
        where = "all categorical columns" if cols is None else "{" + ", ".join(map(str, cols)) + "}"
        out.append(f"no value emitted fewer than {t['rare_min_count']} times in {where}")
    if "identical_match_tolerance" in t:
        out.append(f"identical-match share ≤ holdout share + {t['identical_match_tolerance']:g}"
                   " + sampling allowance (one-sided 1 % test)")
    if "dcr_share_max" in t:
        out.append(f"DCR share ≤ {t['dcr_share_max']:g} (ideal 0.5)")
    if "mia_advantage_max" in t:
        out.append(f"membership-inference advantage ≤ {t['mia_advantage_max']:g}")
    return out


def _card(rows: list[dict[str, Any]]) -> str:
    checks: dict[str, list[bool | None]] = {}
    for r in rows:
        checks.setdefault(r["check"], []).append(r.get("passed"))
    parts = []
    for check, verdicts in checks.items():
        gated = [v for v in verdicts if v is not None]
        if not gated:
            cls, word = "info", "INFO"
        elif all(gated):
            cls, word = "pass", "PASS"
        else:
            cls, word = "fail", "FAIL"
        parts.append(
            f'<div class="check {cls}" data-check="{_e(check)}" data-verdict="{word}">'
            f"{_e(check.replace('_', ' '))}: {word}</div>"
        )
    return '<div class="card" id="report-card">' + "".join(parts) + "</div>"


def _metric_table(rows: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{_e(r['check'])}</td><td>{_e(r['metric'])}</td><td>{_fmt(r.get('value'))}</td>"
        f"<td>{_fmt(r.get('threshold'))}</td><td>{'info' if r.get('passed') is None else ('pass' if r['passed'] else 'FAIL')}</td></tr>"
        for r in rows
    )
    return (
        '<table id="metric-rows"><tr><th>check</th><th>metric</th><th>value</th>'
        f"<th>threshold</th><th>verdict</th></tr>{body}</table>"
    )


def _table(header: list[str], rows: list[list[Any]], table_id: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table id="{_e(table_id)}"><tr>{head}</tr>{body}</table>'


def _img(uri: str, alt: str, cls: str) -> str:
    return f'<img class="{cls}" alt="{_e(alt)}" src="{uri}">'


def data_sections(
    evidence: Mapping[str, Any], real: pd.DataFrame, synthetic: pd.DataFrame,
    metrics: Mapping[str, Any],
) -> list[str]:
    """The sections drawn from the rows and the fidelity metrics alone: column distributions,
    correlations, seasonality (most of the drawing). They need no privacy or ML result, so a
    release run has them drawn in another process while those are computed
    (synthdb.report.drawing), from ``evidence``'s ``thresholds`` and ``generator`` and
    ``metrics``' ``column_shapes``, ``column_pair_trends`` and ``seasonality``.
    """
    synthetic = synthetic[[c for c in real.columns]]
    kinds, skipped = fidelity_columns(real)
    t, mocked = _thresholds(evidence), mock_columns(evidence)
    return [*_distribution_section(real, synthetic, kinds, skipped, metrics, t, mocked),
            *_correlation_section(real, synthetic, kinds, metrics),
            *_seasonality_section(real, synthetic, metrics)]


def render_html(
    evidence: Mapping[str, Any],
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    out_path: str | Path,
    drawn: list[str] | None = None,
) -> Path:
    """Write the QA report for one release and return its path.

    ``evidence`` carries ``run_id``, ``model``, ``generator`` (a description), the metric rows
    (``metric_rows``; MetricRow objects or dicts), optionally ``thresholds`` and ``metrics`` (the
    dict of :func:`synthdb.metrics.report_metrics`), which supplies the privacy histograms, ML
    utility and group parity sections. ``real`` is the training data the generator saw.
    The report is a list of sections, each drawn by its own function from the same inputs.
    ``drawn``: :func:`data_sections` of the same inputs, drawn beforehand.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    metrics = evidence.get("metrics") or {}
    rows = _rows(evidence)
    t = _thresholds(evidence)
    mocked = mock_columns(evidence)
    generated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    parts: list[str] = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>synthdb QA report {_e(evidence.get('run_id', ''))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Synthetic release QA report: {_e(evidence.get('model', ''))}</h1>",
        render_header(header_facts(evidence, len(real), len(synthetic)), generated),
        "<h2>Report card</h2>",
        _card(rows),
        "<div class='statement' id='thresholds'>Thresholds: "
        + "; ".join(_e(s) for s in thresholds_statement(t))
        + "</div>",
        _metric_table(rows),
        "<h2>Generator settings</h2>",
        generator_tables(evidence.get("generator"), mocked),
    ]
    parts += drawn if drawn is not None else data_sections(evidence, real, synthetic, metrics)
    parts += _privacy_section(metrics.get("privacy") or {})
    parts += _ml_utility_section(metrics.get("ml_utility"))
    parts += _group_parity_section(metrics.get("group_parity"))
    # for the rendering test only (images decoded/total); not shown to readers
    parts.append("<p class='meta' id='img-status' hidden>images not checked</p>")
    parts.append(f"<script>{_CHECK_SCRIPT}</script></body></html>")
    out_path.write_text("\n".join(parts), encoding="utf-8")
    return out_path


def _distribution_section(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str],
    skipped: list[str],
    metrics: Mapping[str, Any],
    t: Mapping[str, Any],
    mocked: set[str],
) -> list[str]:
    """Per-column distributions: at most PLOT_MAX_COLUMNS plots (those that differ most,
    declared quasi-identifiers first), and every column's distance in a table."""
    min_count = int(t.get("rare_min_count", 10))
    by_name = {str(c): c for c in real.columns}
    distances = column_distances(real, synthetic, kinds, metrics)
    qis = [str(c) for c in t.get("quasi_identifiers") or () if str(c) in kinds]
    chosen = plotted_columns(distances, first=qis)
    parts = ["<h2>Column distributions (real vs synthetic)</h2>"]
    if len(chosen) < len(kinds):
        first = ", declared quasi-identifiers first" if qis else ""
        parts.append(
            f"<p id='plotted-columns'>{len(chosen)} of {len(kinds)} columns plotted (those that"
            f" differ most{first}); the table below lists every column's distance.</p>"
        )
    parts.append("<div class='plots'>")
    shapes = {d.name: 1.0 - d.distance for d in distances if d.distance is not None}
    for name in chosen:
        col = by_name[name]
        title = f"{name[:40]}" + (f" (score {shapes[name]:.3f})" if name in shapes else "")
        if name in mocked:
            title = f"{name[:40]} (mock: fake values)"
        if kinds[name] in ("numeric", "datetime"):
            uri = plots.numeric_distribution(real[col], synthetic[col], kinds[name], title)
        else:
            uri = plots.categorical_distribution(real[col], synthetic[col], title, min_count)
        parts.append(_img(uri, f"distribution of {name}", "plot distribution"))
    parts.append("</div>")
    plotted = set(chosen)
    ranked = sorted(distances, key=lambda d: -1.0 if d.distance is None else -d.distance)
    parts.append(
        _table(
            ["column", "kind", "measure", "distance (0 = same)", "plotted"],
            [[d.name, d.kind, d.metric, d.distance, d.name in plotted] for d in ranked],
            "column-distances",
        )
    )
    if skipped:
        parts.append(
            "<p>Key-like columns not plotted: " + ", ".join(_e(c) for c in skipped) + "</p>"
        )
    return parts


def _correlation_section(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str],
    metrics: Mapping[str, Any],
) -> list[str]:
    """Real and synthetic correlation heatmaps, side by side."""
    corr = (metrics.get("column_pair_trends") or {}).get("correlation")
    if corr is None:
        # only the matrices: the pair scores of column_pair_trends cost 16 s at 500 columns
        corr = correlation_matrices(
            _sample(real, 50_000, 0), _sample(synthetic, 50_000, 0), list(kinds), kinds
        )
    if len(corr["columns"]) < 2:
        return []
    uri = plots.heatmaps(corr["columns"], corr["real"], corr["synthetic"])
    return ["<h2>Correlations</h2>", _img(uri, "correlation heatmaps", "plot heatmap")]


def _seasonality_section(
    real: pd.DataFrame, synthetic: pd.DataFrame, metrics: Mapping[str, Any]
) -> list[str]:
    """Calendar profiles (day of week, month, hour) of every timestamp column."""
    seas = metrics.get("seasonality")
    if seas is None and any(k == "datetime" for k in frame_kinds(real).values()):
        seas = seasonality(real, synthetic)
    if not seas:
        return []
    parts = ["<h2>Seasonality</h2>"]
    srows = []
    for col, info in seas.items():
        uri = plots.seasonality_plot(col, info["parts"])
        parts.append(_img(uri, f"seasonality of {col}", "plot seasonality"))
        acf = info.get("lag1_autocorrelation", {})
        srows.append([col, info.get("score"), acf.get("real"), acf.get("synthetic")])
    parts.append(
        _table(
            ["column", "calendar score", "lag-1 ACF real", "lag-1 ACF synthetic"],
            srows,
            "seasonality",
        )
    )
    return parts


def _privacy_section(priv: Mapping[str, Any]) -> list[str]:
    """Distances to closest records: histograms, quantiles, DCR share, MIA, outliers."""
    if not priv.get("distance_histograms"):
        return []
    uri = plots.distance_histogram(priv["distance_histograms"])
    q = priv["distances"]["dcr_quantiles"]
    qrows = [[k, *[v.get(x) for x in ("q01", "q05", "q10", "q50")]] for k, v in q.items()]
    mia = priv.get("membership_inference", {})
    out = priv.get("outliers", {})
    summary = [
        priv["distances"].get("dcr_share"),
        mia.get("auc"),
        mia.get("advantage"),
        f"{out.get('recreated', '–')}/{out.get('extreme_records', '–')}",
    ]
    return [
        "<h2>Privacy: distances to closest records</h2>",
        _img(uri, "DCR histograms", "plot privacy"),
        _table(["DCR", "1%", "5%", "10%", "50%"], qrows, "dcr-quantiles"),
        _table(
            ["DCR share", "MIA AUC", "MIA advantage", "extreme records re-created"],
            [summary],
            "privacy-summary",
        ),
    ]


def _ml_utility_section(mlu: Mapping[str, Any] | None) -> list[str]:
    """Train on synthetic, test on the real holdout, against train on real."""
    if not mlu or "error" in mlu:
        return []
    keys = ("target", "task", "score_name", "train_on_real", "train_on_synthetic", "ratio")
    return [
        "<h2>ML utility (train on synthetic, test on real holdout)</h2>",
        _table(
            ["target", "task", "score", "train on real", "train on synthetic", "ratio"],
            [[mlu[k] for k in keys]],
            "ml-utility",
        ),
    ]


def _group_parity_section(gp: Mapping[str, Any] | None) -> list[str]:
    """Per protected attribute: each group's share and target statistic, real vs synthetic."""
    if not gp:
        return []
    parts = [f"<h2>Group parity ({_e(gp['statistic'])} of {_e(gp['target'])})</h2>"]
    header = ["attribute", "group", "real share", "synthetic share", "real target",
              "synthetic target"]
    keys = ("group", "real_share", "synthetic_share", "real_target", "synthetic_target")
    for attr, info in gp["attributes"].items():
        grows = [[attr, *[g[k] for k in keys]] for g in info["groups"]]
        parts.append(_table(header, grows, f"parity-{attr}"))
    return parts


def render_json(evidence: Mapping[str, Any], out_path: str | Path) -> Path:
    """The same evidence as a JSON file (metric rows, thresholds, full metrics)."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    doc = {k: v for k, v in evidence.items() if k not in ("metric_rows", "rows", "thresholds")}
    doc["metric_rows"] = _rows(evidence)
    doc["thresholds"] = _thresholds(evidence)
    doc["thresholds_statement"] = thresholds_statement(doc["thresholds"])
    out_path.write_text(
        json.dumps(jsonable(doc), indent=2, allow_nan=False, default=str), encoding="utf-8"
    )
    return out_path
