"""Matplotlib figures for the QA report, returned as base64 PNG data URIs.

The report must open offline, years later, on a privacy officer's laptop: every figure is
inlined (Agg backend, no JavaScript libraries, no fonts from the network). Figures show the real
data only through aggregates: histogram bins cut at the real 1st/99th percentiles (so no real
minimum or maximum is drawn) and category bars without values rarer than ``min_count``.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from synthdb.metrics._columns import NULL_TOKEN, as_float, as_text  # noqa: E402

REAL, SYN = "#4c72b0", "#dd8452"
_MAX_BARS = 15


def to_data_uri(fig: plt.Figure) -> str:
    """Render ``fig`` to an inline PNG and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def numeric_distribution(real: pd.Series, synthetic: pd.Series, kind: str, title: str) -> str:
    """Overlaid density histograms on bins spanning the real 1st-99th percentile."""
    r, s = as_float(real, kind), as_float(synthetic, kind)
    r, s = r[~np.isnan(r)], s[~np.isnan(s)]
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    if len(r):
        lo, hi = np.quantile(r, [0.01, 0.99])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, 31)
        for data, color, label in ((r, REAL, "real"), (s, SYN, "synthetic")):
            if len(data):
                ax.hist(
                    np.clip(data, lo, hi), edges, density=True, alpha=0.55, color=color, label=label
                )
        if kind == "datetime":
            ticks = np.linspace(lo, hi, 4)
            ax.set_xticks(ticks, [pd.Timestamp(t, unit="s").strftime("%Y-%m-%d") for t in ticks])
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return to_data_uri(fig)


def categorical_distribution(
    real: pd.Series, synthetic: pd.Series, title: str, min_count: int
) -> str:
    """Side-by-side bars of category shares; rare real values pooled into "(other)"."""
    r, s = pd.Series(as_text(real)), pd.Series(as_text(synthetic))
    counts = r.value_counts()
    shown = [v for v in counts.index if counts[v] >= min_count][:_MAX_BARS]

    def shares(x: pd.Series) -> np.ndarray:
        vc = x.value_counts(normalize=True)
        main = [float(vc.get(v, 0.0)) for v in shown]
        return np.array([*main, max(0.0, 1.0 - sum(main))])

    labels = ["NULL" if v == NULL_TOKEN else str(v)[:18] for v in shown] + ["(other)"]
    pr, ps = shares(r), shares(s)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    ax.bar(x - 0.2, pr, 0.4, color=REAL, label="real")
    ax.bar(x + 0.2, ps, 0.4, color=SYN, label="synthetic")
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return to_data_uri(fig)


# Columns drawn in the correlation heatmaps. The figure grows with the square of the columns:
# 100 columns took 13 s and 0.5 GB, 250 took 43 s and 1.9 GB (issue 12: a 500-column contract
# spent most of 22 min and 4 GB here). The metrics still cover every column.
HEATMAP_MAX_COLUMNS = 30


def heatmap_columns(r: np.ndarray, s: np.ndarray, limit: int = HEATMAP_MAX_COLUMNS) -> list[int]:
    """Indices of at most ``limit`` columns: those with the largest correlation differences."""
    n = r.shape[0]
    if n <= limit:
        return list(range(n))
    worst = np.nan_to_num(np.abs(r - s), nan=0.0).max(axis=1)
    return sorted(np.argsort(-worst, kind="stable")[:limit].tolist())


def heatmaps(
    columns: list[str], real: list[list[float | None]], synthetic: list[list[float | None]]
) -> str:
    """Three panels: real correlations, synthetic correlations, absolute difference.

    At most HEATMAP_MAX_COLUMNS columns are drawn: the ones whose correlations differ most
    between real and synthetic; the panel titles say how many of how many.
    """
    r = np.array([[np.nan if v is None else v for v in row] for row in real], dtype=float)
    s = np.array([[np.nan if v is None else v for v in row] for row in synthetic], dtype=float)
    total = len(columns)
    keep = heatmap_columns(r, s)
    r, s = r[np.ix_(keep, keep)], s[np.ix_(keep, keep)]
    columns = [columns[i] for i in keep]
    n = len(columns)
    note = "" if n == total else f" ({n} of {total} columns, largest differences)"
    size = max(3.0, 0.35 * n + 2)
    # constrained layout keeps each colour bar's tick labels clear of the next panel
    fig, axes = plt.subplots(1, 3, figsize=(3.4 * size, size), layout="constrained")
    labels = [c[:16] for c in columns]
    panels = (
        (r, "real", -1, 1, "coolwarm"),
        (s, "synthetic", -1, 1, "coolwarm"),
        (np.abs(r - s), "|difference|", 0, 1, "Reds"),
    )
    for ax, (m, title, vmin, vmax, cmap) in zip(axes, panels, strict=True):
        im = ax.imshow(m, vmin=vmin, vmax=vmax, cmap=cmap)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        ax.set_title(title + note, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    return to_data_uri(fig)


def seasonality_plot(column: str, parts: dict) -> str:
    """Bars of day-of-week / month / hour shares, real vs synthetic."""
    names = list(parts)
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 2.4), squeeze=False)
    for ax, part in zip(axes[0], names, strict=True):
        pr, ps = np.array(parts[part]["real"]), np.array(parts[part]["synthetic"])
        x = np.arange(len(pr))
        ax.bar(x - 0.2, pr, 0.4, color=REAL, label="real")
        ax.bar(x + 0.2, ps, 0.4, color=SYN, label="synthetic")
        ax.set_title(f"{column[:24]}: {part.replace('_', ' ')}", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    return to_data_uri(fig)


def distance_histogram(hist: dict) -> str:
    """DCR histograms: synthetic→train, synthetic→holdout and the holdout→train baseline."""
    edges = np.array(hist["edges"])
    centers = (edges[:-1] + edges[1:]) / 2
    fig, ax = plt.subplots(figsize=(6, 2.8))
    styles = {
        "synthetic_to_train": (SYN, "synthetic → train"),
        "synthetic_to_holdout": (REAL, "synthetic → holdout"),
        "holdout_to_train": ("#999999", "holdout → train (baseline)"),
    }
    for key, (color, label) in styles.items():
        counts = np.array(hist["counts"].get(key, []), dtype=float)
        if len(counts) and counts.sum():
            ax.plot(centers, counts / counts.sum(), color=color, label=label, lw=2)
    ax.set_xlabel("distance to closest record", fontsize=8)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return to_data_uri(fig)
