"""Progress lines of one synthesis run: one line per stage start/end, sampling percentages.

A long synthetic step used to print nothing until it ended (issue 11). The run reports each
stage (read, fit, sample, checks, evidence, swap) as it starts and ends, and while sampling, the
share of rows written at most every ``interval`` seconds (``SYNTHDB_PROGRESS_SECONDS``, default
10). Inside dbt the sink is the adapter logger, so the lines reach dbt's console and
``logs/dbt.log`` alike; outside dbt (tests, scripts) the default sink drops them.

Lines carry stage names, row counts and timings only, never values from the data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# The stages of run_synthesis in order; lap(<stage>) ends one and starts the next.
STAGES = ("read", "fit", "sample_write", "privacy_sql", "leakage_metrics", "evidence", "swap")
LABELS = {
    "read": "read training input",
    "fit": "fit generator",
    "sample_write": "sample and write rows",
    "privacy_sql": "privacy checks (SQL)",
    "leakage_metrics": "leakage and utility checks",
    "evidence": "write evidence (QA report)",
    "swap": "swap staging table in",
}


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("SYNTHDB_PROGRESS_SECONDS", "10")))
    except ValueError:
        return 10.0


class Progress:
    """Reports stages of one model's run to ``sink`` (a one-argument callable)."""

    def __init__(self, model: str, sink: Callable[[str], Any] | None = None,
                 interval: float | None = None) -> None:
        self.model = model
        self.sink = sink
        self.interval = _interval() if interval is None else interval

    def say(self, text: str) -> None:
        if self.sink is not None:
            self.sink(f"{self.model}: {text}")

    def start(self, stage: str) -> None:
        self.say(f"{LABELS.get(stage, stage)} ...")

    def lap(self, stage: str, seconds: float) -> None:
        """``stage`` ended after ``seconds``; the next stage in ``STAGES`` starts."""
        self.say(f"{LABELS.get(stage, stage)} done in {seconds:.1f} s")
        if stage in STAGES and STAGES.index(stage) + 1 < len(STAGES):
            self.start(STAGES[STAGES.index(stage) + 1])

    def chunks(self, frames: Iterable[Any], total: int,
               rows: Callable[[Any], int] = len) -> Iterator[Any]:
        """Pass ``frames`` through, reporting the share of ``total`` rows sampled so far
        (``rows(item)``: the rows an item holds, ``len`` for frames)."""
        done, last = 0, time.monotonic()
        for frame in frames:
            yield frame
            done += rows(frame)
            now = time.monotonic()
            if now - last >= self.interval and done < total:
                last = now
                self.say(f"sampled {done:,} of {total:,} rows ({100 * done / total:.0f} %)")


def dbt_sink() -> Callable[[str], Any] | None:
    """The dbt adapter logger's ``info`` when running inside dbt, else ``None``."""
    try:
        from dbt.adapters.events.logging import AdapterLogger
    except ImportError:  # pragma: no cover - dbt is a dependency, but synthdb works without it
        return None
    return AdapterLogger("synthdb").info
