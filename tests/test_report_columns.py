"""A wide release draws at most PLOT_MAX_COLUMNS distribution plots and still lists every column."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from synthdb.report import render_html
from synthdb.report.columns import PLOT_MAX_COLUMNS, ColumnDistance, plotted_columns


def wide(seed: int, ncol: int = 120, nrow: int = 400, shifted: tuple[int, ...] = ()) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(ncol):
        if i % 5 == 4:
            data[f"c{i}"] = pd.Series(rng.choice(["a", "b", "c", "d"], size=nrow), dtype="str")
        else:
            data[f"c{i}"] = rng.normal(loc=3.0 if i in shifted else 0.0, size=nrow)
    return pd.DataFrame(data)


def test_wide_report_caps_plots_and_lists_every_column(tmp_path):
    real = wide(1)
    synthetic = wide(2, shifted=(7, 93))  # these two differ most from the real columns
    evidence = {
        "run_id": "wide",
        "model": "wide",
        "metric_rows": [],
        "thresholds": {"quasi_identifiers": ["c0"]},
    }
    page = render_html(evidence, real, synthetic, tmp_path / "wide.html").read_text()
    plotted = re.findall(r'<img class="plot distribution" alt="distribution of ([^"]+)"', page)
    assert len(plotted) == PLOT_MAX_COLUMNS < 120
    assert {"c7", "c93", "c0"} <= set(plotted)  # the worst two, and the quasi-identifier
    assert f"{PLOT_MAX_COLUMNS} of 120 columns plotted (those that differ most, declared" in page
    table = re.search(r'<table id="column-distances">(.*?)</table>', page, re.S).group(1)
    listed = re.findall(r"<tr><td>(c\d+)</td>", table)
    assert sorted(listed) == sorted(real.columns)
    assert listed[:2] in (["c7", "c93"], ["c93", "c7"])  # sorted by distance, largest first
    assert table.count("<td>yes</td>") == PLOT_MAX_COLUMNS


def test_narrow_report_plots_every_column_without_a_note(tmp_path):
    real, synthetic = wide(1, ncol=6), wide(2, ncol=6)
    page = render_html({"run_id": "n", "metric_rows": []}, real, synthetic, tmp_path / "n.html")
    assert page.read_text().count('class="plot distribution"') == 6
    assert "columns plotted" not in page.read_text()


def test_plotted_columns_puts_declared_columns_first_and_unknown_distances_before_known():
    d = [ColumnDistance(f"x{i}", "numeric", "KS distance", i / 10) for i in range(5)]
    d.append(ColumnDistance("nan", "numeric", "KS distance", None))
    assert plotted_columns(d, first=["x0"], limit=3) == ["x0", "x4", "nan"]
    assert plotted_columns(d, limit=10) == [c.name for c in d]
