"""The QA report drawn in a child process (synthdb.report.drawing) is the report drawn in
process: same sections, same figures; a drawing that fails raises, and no process is left."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from synthdb.metrics import report_metrics
from synthdb.report import render_html
from synthdb.report.drawing import DrawingError, DrawingProcess, DrawingThread, start_drawing


def frame(seed: int, n: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    return pd.DataFrame({
        "band": pd.Series(np.array(["a", "b", "c"])[np.digitize(z, [-0.5, 0.5])], dtype="str"),
        "amount": np.round(np.exp(3 + 0.5 * z), 2),
        "at": pd.Timestamp("2024-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h"),
        "flag": pd.array(z + rng.normal(0, 1, n) > 0, dtype="boolean"),
    })


def without_time(page: str) -> str:
    """The report's own drawing time is the one thing two drawings may differ in."""
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "<generated>", page)


@pytest.fixture(scope="module")
def inputs():
    train, holdout, synthetic = frame(1), frame(2), frame(3)
    seen: list[dict] = []
    metrics = report_metrics(train, holdout, synthetic, {"target": "flag"},
                             on_fidelity=seen.append)
    assert len(seen) == 1 and all(seen[0][k] == metrics[k] for k in seen[0])
    evidence = {"run_id": "r1", "model": "m", "metrics": metrics, "metric_rows": [],
                "thresholds": {"rare_min_count": 10}, "generator": {"method": "x"}}
    return evidence, train, synthetic, seen[0]


def test_same_report_as_drawn_in_process(inputs, tmp_path):
    evidence, train, synthetic, fidelity = inputs
    plain = render_html(evidence, train, synthetic, tmp_path / "plain.html").read_text()
    early = DrawingProcess()  # data sections first, from the fidelity part alone
    early.sections({"thresholds": evidence["thresholds"], "generator": evidence["generator"]},
                   train, synthetic, fidelity)
    early.report(evidence, train, synthetic, tmp_path / "early.html")
    assert early.result() == tmp_path / "early.html"
    late = DrawingProcess()  # everything at the end
    late.report(evidence, train, synthetic, tmp_path / "late.html")
    assert late.result() == tmp_path / "late.html"
    assert "<img" in plain and "Column distributions" in plain
    for path in ("early.html", "late.html"):
        assert without_time((tmp_path / path).read_text()) == without_time(plain)


def test_a_failed_drawing_raises_and_ends_the_process(inputs, tmp_path):
    evidence, train, synthetic, fidelity = inputs
    broken = DrawingProcess()  # a column the synthetic sample lacks: the drawing fails
    broken.sections({"thresholds": {}, "generator": {}}, train, synthetic.drop(columns="band"),
                    fidelity)
    broken.report(evidence, train, synthetic, tmp_path / "never.html")
    with pytest.raises(DrawingError, match="could not be drawn: KeyError"):
        broken.result()
    assert broken._proc.returncode is not None and not (tmp_path / "never.html").exists()
    abandoned = DrawingProcess()  # a run that fails before its evidence stage
    abandoned.sections({"thresholds": {}, "generator": {}}, train, synthetic, fidelity)
    abandoned.close()
    assert abandoned._proc.returncode is not None  # ended, not left behind
    with pytest.raises(DrawingError, match="ended without a report"):
        abandoned.result()


def test_the_thread_draws_the_same_report_and_raises_its_error(inputs, tmp_path):
    """Where no core is idle the report is drawn in a thread at the end, as before."""
    evidence, train, synthetic, fidelity = inputs
    plain = render_html(evidence, train, synthetic, tmp_path / "plain.html").read_text()
    thread = DrawingThread()
    thread.sections({"thresholds": {}, "generator": {}}, train, synthetic, fidelity)
    thread.report(evidence, train, synthetic, tmp_path / "thread.html")
    assert thread.result() == tmp_path / "thread.html"
    assert without_time((tmp_path / "thread.html").read_text()) == without_time(plain)
    broken = DrawingThread()
    broken.report(evidence, train, synthetic.drop(columns="band"), tmp_path / "never.html")
    broken.close()
    with pytest.raises(KeyError):
        broken.result()
    chosen = start_drawing()  # a process where a core is idle, else a thread
    assert isinstance(chosen, DrawingThread | DrawingProcess)
    chosen.close()
    # the run's own measure of idle cores decides when it has one (synthdb.release.idle)
    busy, spare = start_drawing(0.1), start_drawing(1.2)
    assert isinstance(busy, DrawingThread) and not busy.separate
    assert isinstance(spare, DrawingProcess) and spare.separate
    busy.close()
    spare.close()


def test_idle_cores_are_measured_from_the_kernels_cpu_times():
    """Cores idle on average between two snapshots of /proc/stat: idle (+ iowait) ticks over
    all ticks, times the cores; unknown without a first snapshot or elapsed time."""
    from synthdb.release import idle

    assert idle.idle_cores(idle.CpuTimes(100, 1000, 2), idle.CpuTimes(600, 2000, 2)) == 1.0
    assert idle.idle_cores(idle.CpuTimes(100, 1000, 4), idle.CpuTimes(100, 2000, 4)) == 0.0
    assert idle.idle_cores(None) is None
    assert idle.idle_cores(idle.CpuTimes(0, 5, 2), idle.CpuTimes(0, 5, 2)) is None
    first = idle.snapshot()
    assert first is not None and first.cores >= 1  # Linux: the test machine's kernel tells
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # keep one core busy meanwhile
        pass
    spare = idle.idle_cores(first)
    assert spare is not None and 0.0 <= spare <= first.cores - 0.5
