"""Import what a run needs after its read while PostgreSQL evaluates the training input.

Why: scikit-learn and SciPy take about a second to import on the 2-core machine (issue 15), a
fixed cost that every release paid on the critical path before its first row was read (the
generators imported them at module level). The generators now import them where they first fit
(``synthdb.generators``: constructing and checking a generator stays cheap), and the read stage
imports them in a thread while the read's query runs on the server: the reading thread then only
waits on its socket, without the GIL.

The run waits for the thread (:func:`finish`) before anything else may import these modules:
two threads importing the same package at once can deadlock on the module locks of a package
with import cycles, so the imports never overlap each other, only the server's work. A module
that fails to import here is ignored: the code that needs it imports it again and raises there,
with its own message.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable


def start(modules: Iterable[str]) -> threading.Thread | None:
    """Import ``modules`` in a daemon thread now; None when there is nothing to import."""
    modules = tuple(modules)
    if not modules:
        return None
    thread = threading.Thread(target=_import_all, args=(modules,), name="synthdb-warmup",
                              daemon=True)
    thread.start()
    return thread


def finish(thread: threading.Thread | None) -> None:
    """Wait until the imports started by :func:`start` are done (no-op for None)."""
    if thread is not None:
        thread.join()


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the user of the module imports it again and raises
            pass
