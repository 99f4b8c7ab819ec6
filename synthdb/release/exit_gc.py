"""Skip the interpreter's cyclic garbage collections at exit (issue 15: seconds of every build).

When CPython exits it tears its modules down and runs full cyclic garbage collections between
the phases. A dbt process that ran a release holds millions of tracked objects (dbt's
manifest, scikit-learn, SciPy, pandas, matplotlib), so after a 100k-row build's last node
these collections took ~1.5 s of the 3.6 s before the process ended (perf: 59 % of the time in
``gc_collect_main``; the same project without the synthetic step ends in 0.9 s). The
forkserver of the sampling workers preloads the same libraries and pays it again when it
exits, after dbt.

``gc.freeze()`` in an exit handler moves every live object into the permanent generation,
which collections skip; the operating system takes the memory back at exit anyway. Exit
handlers (``atexit``, ``weakref.finalize``: logging, temporary folders, the multiprocessing
helpers) all still run, in their usual order. What is skipped are finalizers of objects that
are garbage only through a reference cycle at the very end, which CPython never promises to
run at exit.
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def freeze_at_exit() -> None:
    """Register (once per process) an exit handler that freezes the garbage collector."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True


freeze_at_exit()  # importing the module registers it (the forkserver preloads it)
