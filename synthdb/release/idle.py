"""How many cores sat idle while this run worked: whether a second process would get a core.

Why: the QA report is drawn in a child process only where a core is idle, else in a thread
(synthdb.report.drawing). The 1-minute load average, which decided that before, lags: it still
counts work that ended seconds ago (a build's own source load, the benchmark's floor), so an
idle 2-core machine read 1.5 and the report was drawn in the run's thread (evidence 1.4-2.5 s
instead of 0.4 s, issue 15, session 9). The kernel's idle time over the run's own first
stages (read, fit, write: several seconds) says what the machine had to spare just now.

Linux only (``/proc/stat``); elsewhere :func:`snapshot` gives None and the caller falls back
to the load average.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuTimes:
    """The machine's idle and total CPU time (clock ticks, summed over its cores)."""

    idle: int
    total: int
    cores: int


def snapshot() -> CpuTimes | None:
    """The machine's CPU times now, or None where the kernel does not tell them."""
    try:
        lines = _STAT.read_text().splitlines()
    except OSError:
        return None
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    head = lines[0].split() if lines else []
    if not cores or len(head) < 5 or head[0] != "cpu":
        return None
    ticks = [int(x) for x in head[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return CpuTimes(idle=idle, total=sum(ticks[:8]), cores=cores)


def idle_cores(since: CpuTimes | None, now: CpuTimes | None = None) -> float | None:
    """Cores idle on average between ``since`` and ``now`` (default: now), or None when
    either is unknown or no time has passed."""
    now = snapshot() if now is None else now
    if since is None or now is None or now.total <= since.total:
        return None
    return (now.idle - since.idle) / (now.total - since.total) * now.cores
