"""The QA report of a release run, drawn in a child process while the run computes its metrics.

Why a process (issue 15): drawing the report (matplotlib, ~1.5 s at 100k rows on an idle
machine, plus ~0.7 s to import it) ran after the leakage and utility metrics, on the critical
path of every release. Drawn in a thread it was slower still (session 7: matplotlib holds the
GIL while the neighbour search hands it back and forth). A child process has its own
interpreter: it imports matplotlib while the run checks its rows, draws the data sections
(distributions, correlations, seasonality) as soon as the fidelity metrics exist, and adds the
privacy, ML and header parts once the metric rows are final. The dbt process never imports
matplotlib.

The child is a fresh ``python -m synthdb.report.drawing`` (not a fork of dbt's multi-threaded
process), talking over its stdin/stdout pipes: length-prefixed pickles in, one reply out. Real
rows travel through the pipe only (never a file, never a log line). The child exits when its
stdin closes, so an abandoned run (``close``) or a dead dbt leaves no process behind. A drawing
that fails fails the run where it always did: ``result`` raises.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from concurrent.futures import wait
from pathlib import Path
from typing import IO, Any

import synthdb
from synthdb.errors import SynthdbError

_LENGTH = struct.Struct("!Q")
SECTIONS, REPORT, OK, FAILED = b"s", b"r", b"o", b"f"  # message kinds


class DrawingError(SynthdbError):
    """The QA report could not be drawn (the run fails; nothing is published)."""


def _read(stream: IO[bytes]) -> bytes | None:
    """One length-prefixed message (a one-byte kind, then a pickle), or None at the end."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def _write(stream: IO[bytes], message: bytes) -> None:
    stream.write(_LENGTH.pack(len(message)))
    stream.write(message)
    stream.flush()


class DrawingProcess:
    """The parent's handle on one report's drawing process (one run, one report).

    Messages are pickled at once and written to the pipe by a thread: the child reads them
    only after its imports, and a run never waits for that (writing 4 MB of training rows into
    the pipe of a child still importing took 1.2 s in the run's thread).
    """

    separate = True  # drawn in a process of its own

    def __init__(self) -> None:
        root = str(Path(synthdb.__file__).resolve().parents[1])  # this very synthdb
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=root + (os.pathsep + path if path else ""))
        self._proc = subprocess.Popen([sys.executable, "-m", "synthdb.report.drawing"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_all, daemon=True,
                                        name="synthdb-drawing-pipe")
        self._writer.start()
        self._sent_report = False

    def sections(self, evidence: dict[str, Any], real: Any, synthetic: Any,
                 fidelity: dict[str, Any]) -> None:
        """Have the data sections drawn now (``html.data_sections`` of these inputs)."""
        self._send(SECTIONS, evidence, real, synthetic, fidelity)

    def report(self, evidence: dict[str, Any], real: Any, synthetic: Any, out_path: Path) -> None:
        """Have the whole report written to ``out_path`` (``html.render_html``, with the data
        sections drawn before if ``sections`` was called); returns at once."""
        self._send(REPORT, evidence, real, synthetic, str(out_path))
        self._sent_report = True

    def result(self) -> Path:
        """Wait for the report; its path, or :class:`DrawingError` if it was not drawn."""
        self._outbox.put(None)
        raw = None
        try:
            if self._sent_report:
                raw = _read(self._proc.stdout)  # type: ignore[arg-type]
        finally:
            self._end(kill=raw is None)
        if raw is None:
            raise DrawingError(f"the QA report's drawing process ended without a report "
                               f"(exit code {self._proc.returncode})")
        if raw[:1] != OK:
            raise DrawingError(f"the QA report could not be drawn: {pickle.loads(raw[1:])}")
        return Path(pickle.loads(raw[1:]))

    def close(self) -> None:
        """End the process now (a failed run) and wait for it."""
        self._outbox.put(None)
        self._end(kill=True)

    def _end(self, kill: bool) -> None:
        if kill and self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._writer.join()
        self._proc.stdout.close()  # type: ignore[union-attr]

    def _send(self, kind: bytes, *args: Any) -> None:
        self._outbox.put(kind + pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL))

    def _write_all(self) -> None:
        stdin = self._proc.stdin
        try:
            while (message := self._outbox.get()) is not None:
                _write(stdin, message)  # type: ignore[arg-type]
        except OSError:
            pass  # the process ended: result() says so
        finally:
            try:
                stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass


class DrawingThread:
    """The same handle, drawing the whole report in a thread of this process at ``report``
    (how every report was drawn before): where no core is idle a second process only competes
    with the run's own metrics (session 8, load 4-10: the synthetic node 0.3-5.7 s slower in 6
    of 7 pairs), and the run's thread has nothing else to do while the report is drawn."""

    separate = False

    def __init__(self) -> None:
        self._job: Any = None

    def sections(self, evidence: dict[str, Any], real: Any, synthetic: Any,
                 fidelity: dict[str, Any]) -> None:
        """Nothing yet: the data sections are drawn with the rest at ``report``."""

    def report(self, evidence: dict[str, Any], real: Any, synthetic: Any, out_path: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from synthdb.report.html import render_html

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthdb-drawing")
        self._job = pool.submit(render_html, evidence, real, synthetic, out_path)
        pool.shutdown(wait=False)

    def result(self) -> Path:
        if self._job is None:
            raise DrawingError("the QA report was never asked for")
        return self._job.result()  # a failed drawing raises its own error, as it always did

    def close(self) -> None:
        if self._job is not None:
            wait([self._job])  # the drawing ends before the run is failed


#: cores idle on average during the run's read, fit and write that mean a core is free. On the
#: idle 2-core machine the demo's run alone saw about 0.3 idle cores at 100k rows, once just
#: under (its read overlaps the imports, its fit ML utility's boosting threads), 0.4 at 1M and
#: 0.6 at 5M (session 10's bench); beside another busy job it saw 0.0-0.1 (load 1.7-2.2).
SPARE_CORES = 0.2


def idle_core(spare: float | None = None) -> bool:
    """Whether a core is idle: ``spare`` (cores idle on average while the run worked so far,
    synthdb.release.idle) is at least :data:`SPARE_CORES`; where that is unknown, the 1-minute load
    average is at least half a core below the cores this process may use (an idle 2-core
    machine running one build: 1.0-1.4; at 2.0 the process was 0.9 s slower in one pair; the
    average lags, so a build right after other work read 1.5 on an idle machine)."""
    if spare is not None:
        return spare >= SPARE_CORES
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return os.getloadavg()[0] + 0.5 < cores


def start_drawing(spare: float | None = None) -> DrawingProcess | DrawingThread:
    """A drawing process where a core is idle (:func:`idle_core` of ``spare``; the data
    sections are drawn while the run computes its metrics: the 100k node 0.5 s faster in 3 of
    3 pairs at load 1-1.4), else the report drawn in a thread at the end. Same report either
    way."""
    return DrawingProcess() if idle_core(spare) else DrawingThread()


def main() -> None:
    """The child: imports matplotlib, then draws what the messages ask for."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the replies
    from synthdb.report.html import data_sections, render_html

    drawn: list[str] | None = None
    failed: str | None = None
    while (message := _read(sys.stdin.buffer)) is not None:
        kind = message[:1]
        if failed is None:
            try:
                args = pickle.loads(message[1:])
                if kind == SECTIONS:
                    drawn = data_sections(*args)
                else:
                    path = render_html(*args, drawn=drawn)
            except Exception as exc:  # noqa: BLE001 - told to the parent, which fails the run
                failed = f"{type(exc).__name__}: {exc}"
        if kind == REPORT:
            reply = OK + pickle.dumps(str(path)) if failed is None else FAILED + pickle.dumps(failed)
            _write(replies, reply)
            return


if __name__ == "__main__":
    main()
