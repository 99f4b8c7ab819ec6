"""The HTML QA report renders in headless Chromium with its report card and plots, offline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthdb.metrics import GateThresholds, evaluate_release, report_metrics
from synthdb.report import render_html, render_json

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def frames(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, 0.7], [0.7, 1]], n)
    frame = pd.DataFrame(
        {
            "age band": pd.Series(
                np.array(["18-29", "30-44", "45-64", "65+"])[np.digitize(z[:, 0], [-0.8, 0, 0.8])],
                dtype="str",
            ),
            'amount "eur";': np.round(np.exp(4 + 0.6 * z[:, 1]), 2),
            "region": pd.Series(rng.choice(["north", "south", "<b>east</b>"], n), dtype="str"),
            "visits": pd.array(rng.poisson(3, n), dtype="Int64"),
            "ordered_at": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h"),
            "churned": pd.array(z[:, 1] + rng.normal(0, 1, n) > 0.5, dtype="boolean"),
        }
    )
    frame.loc[rng.random(n) < 0.05, "visits"] = None
    return frame


@pytest.fixture(scope="module")
def evidence_and_frames():
    train, holdout, synthetic = frames(1), frames(2), frames(3)
    config = {
        "quasi_identifiers": ["age band", "region"],
        "k": 10,
        "target": "churned",
        "protected_attributes": ["age band"],
    }
    metrics = report_metrics(train, holdout, synthetic, config)
    rows = evaluate_release(
        train, holdout, synthetic, GateThresholds(quasi_identifiers=["age band", "region"], k=10)
    )
    evidence = {
        "run_id": "run-test-0001",
        "model": "customers_synthetic",
        "generator": {"method": "gaussian_copula", "correlation": {"shrinkage": 0.01},
                      "privacy": {"rare_min_count": 10, "mock_columns": ["region"]},
                      "columns": {"visits": {"kind": "integer", "null_with": "age band"}}},
        "row_counts": {"source": 336776, "training": 1500, "holdout": 375, "released": 336508},
        "release": {"recipient": "partner_x"},
        "metric_rows": rows,
        "thresholds": GateThresholds(quasi_identifiers=["age band", "region"], k=10),
        "metrics": metrics,
    }
    return evidence, train, synthetic


def artifacts_dir(tmp_path: Path) -> Path:
    base = Path(
        os.environ.get(
            "SYNTHDB_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"
        )
    )
    try:
        base.mkdir(parents=True, exist_ok=True)
        return base
    except OSError:
        return tmp_path


def test_report_renders_in_headless_chromium(evidence_and_frames, tmp_path):
    assert Path(CHROMIUM).exists() and shutil.which(CHROMIUM), (
        f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (the Makefile does)"
    )
    evidence, train, synthetic = evidence_and_frames
    out = render_html(evidence, train, synthetic, tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    # self-contained: no network reference at view time
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<b>east</b>" not in text  # values are escaped, not interpreted

    profile = tmp_path / "profile"
    base = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(
        [*base, "--virtual-time-budget=5000", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [c for c in console if re.search(r"error|uncaught", c, re.I)], console
    html = dom.stdout
    assert 'id="report-card"' in html
    assert 'data-check="no_leakage" data-verdict="PASS"' in html
    assert 'data-check="k_anonymity"' in html
    assert "k ≥ 10 on {age band, region}" in html
    n_img = html.count("<img")
    assert n_img >= 9  # 6 columns + heatmaps + seasonality + privacy
    m = re.search(r"images decoded: (\d+)/(\d+)", html)
    assert m, "the page script did not run"
    assert m.group(1) == m.group(2) == str(n_img)
    assert re.search(r'<p class="meta" id="img-status" hidden="">images decoded', html)  # not shown

    # the header names each fact; the generator settings are a table, not a raw dict
    facts = re.search(r'<table id="release-facts">(.*?)</table>', html, re.S).group(1)
    for label, value in (("Recipient", "partner_x"), ("Model", "customers_synthetic"),
                         ("Version", "assigned at publish"), ("Purpose", "–")):
        assert re.search(rf"<th>{label}</th><td>{value}</td>", facts), (label, facts)
    counts = re.search(r'<table id="row-counts">(.*?)</table>', html, re.S).group(1)
    for label, value in (("Source rows", "336,776"), ("Released rows", "336,508"),
                         (r"Training rows \(the generator's sample\)", "1,500"),
                         (r"Evaluation sample, synthetic rows \(plots and metrics\)", "1,500")):
        assert re.search(rf"<th>{label}</th><td>{value}</td>", counts), (label, counts)
    assert "{'method'" not in html and "{&#x27;method" not in html
    assert "<td>correlation.shrinkage</td><td>0.01</td>" in html
    assert "<td>region</td><td>mock (fake values, not learned from the source)</td>" in html

    shot = artifacts_dir(tmp_path) / "report.png"
    res = subprocess.run(
        [*base, "--window-size=1280,2400", f"--screenshot={shot}", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few KB


def test_report_json_and_failing_card(evidence_and_frames, tmp_path):
    evidence, train, _ = evidence_and_frames
    path = render_json(evidence, tmp_path / "report.json")
    doc = json.loads(path.read_text())
    assert doc["run_id"] == "run-test-0001"
    assert {r["check"] for r in doc["metric_rows"]} >= {"no_leakage", "utility"}
    assert doc["thresholds_statement"][0] == "k ≥ 10 on {age band, region}"
    leaky = evaluate_release(train, frames(2), train.copy(), GateThresholds())
    bad = render_html(
        {**evidence, "metric_rows": leaky, "metrics": {}}, train, train, tmp_path / "bad.html"
    )
    assert 'data-check="no_leakage" data-verdict="FAIL"' in bad.read_text()


def test_publish_stamps_the_release_facts_into_the_header(evidence_and_frames, tmp_path):
    from synthdb.report.header import stamp_release

    evidence, train, synthetic = evidence_and_frames
    page = render_html(evidence, train, synthetic, tmp_path / "run.html").read_text()
    assert "<th>Version</th><td>assigned at publish</td>" in page
    stamped = stamp_release(page, {"recipient": "partner_x", "version": 3, "purpose": "churn",
                                   "retention": "P90D"}, generated="2026-01-01T00:00:00+00:00")
    for label, value in (("Version", "3"), ("Purpose", "churn"), ("Retention", "P90D"),
                         ("Recipient", "partner_x"), ("Model", "customers_synthetic")):
        assert f"<th>{label}</th><td>{value}</td>" in stamped, label
    assert "<th>Source rows</th><td>336,776</td>" in stamped
    assert stamped.count('id="release-header"') == 1
    assert stamped.replace(stamped[stamped.index('<section id="release-header">'):
                                   stamped.index("</section>") + 10], "") == page.replace(
        page[page.index('<section id="release-header">'):page.index("</section>") + 10], "")


def test_publish_adds_the_joined_release_section_of_a_group(evidence_and_frames, tmp_path):
    from synthdb.report.joined import add_joined_section

    evidence, train, synthetic = evidence_and_frames
    page = render_html(evidence, train, synthetic, tmp_path / "run.html").read_text()
    assert add_joined_section(page, None) == page  # published alone: no section
    group = {"id": "g1", "tables": ["customers", "orders", "addresses"],
             "foreign_keys": [{"table": "orders", "column": "customer_id",
                               "references": "customers(customer_id)"}],
             "checks": [{"check": "joined_k_anonymity",
                         "metric": "min_subjects_per_class:customers>(orders, addresses)",
                         "value": 71, "threshold": 5, "passed": True},
                        {"check": "joined_rare_categories",
                         "metric": "rare_root_values:orders.kind", "value": 1, "threshold": 0,
                         "passed": False}]}
    once = add_joined_section(page, group)
    assert once.count('id="joined-release"') == 1
    assert once.index('id="release-header"') < once.index('id="joined-release"') < once.index(
        "<h2>Report card</h2>")
    assert "customers, orders, addresses" in once and "orders.customer_id" in once
    assert ("data-check='joined_k_anonymity' data-verdict='PASS'><td>joined_k_anonymity</td>"
            "<td>min_subjects_per_class:customers&gt;(orders, addresses)</td><td>71</td>") in once
    assert "data-check='joined_rare_categories' data-verdict='FAIL'" in once
    assert add_joined_section(once, group) == once  # stamped again: replaced, not doubled
