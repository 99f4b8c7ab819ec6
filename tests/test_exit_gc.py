"""A dbt process (and the sampling workers' forkserver) skips the exit's garbage collections
(synthdb.release.exit_gc): the heap is frozen by an exit handler once the adapter is loaded."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import atexit, gc
# Registered first, so it runs last: after every other exit handler, as the interpreter
# tears down. It reports how many objects the collections will skip.
atexit.register(lambda: print("frozen", gc.get_freeze_count(), flush=True))
{imports}
"""


def _frozen_at_exit(imports: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_loading_the_adapter_freezes_the_heap_at_exit():
    assert _frozen_at_exit("import pandas") == 0  # without the adapter: collected as usual
    assert _frozen_at_exit("import dbt.adapters.synthdb") > 10_000


def test_the_workers_server_preloads_it():
    from synthdb.release import parallel

    assert "synthdb.release.exit_gc" in parallel.PRELOAD
    assert _frozen_at_exit("import synthdb.release.exit_gc") > 0
