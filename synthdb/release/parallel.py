"""Sample a fitted generator in chunks on every core: same rows for a seed, any worker count.

Why: sampling and encoding rows is CPU work in Python/numpy, one core at a time, while
PostgreSQL waits for the COPY (issue 15). Chunks are independent, so worker processes can each
draw one: chunk ``i`` is ``generator.sample(rows_i, seed=chunk_seed(seed, i))``, a seed derived
with numpy's ``SeedSequence`` spawn key ``(i,)``. What a chunk holds depends only on the run's
seed, the chunk's index and the chunk size, never on which worker drew it or how many there
are; the chunks are handed on in index order. So the release is identical for 1 or 16 workers.

Workers are started with ``forkserver`` (a fresh single-threaded server process forks them):
forking dbt's multi-threaded process directly could copy a lock held by another thread. The
fitted generator is pickled once and sent to each worker when it starts. At most
``2 x workers`` chunks are in flight, so memory stays flat in the number of rows. A generator
that cannot be pickled is sampled in this process with the same chunk seeds (same rows).

Workers also encode their chunk for COPY (``encode``), so the main process only streams bytes.
``SYNTHDB_SAMPLE_WORKERS`` sets the worker count (default: the cores this process may use;
``1`` samples in this process).

Start-up (session 6): measured on the 1M demo at load ~7, the first chunk from two workers
arrived after 8.6-10.8 s while one in-process sampler had made eight chunks by then. Each
worker imported, on its own, what unpickling the generator needs (``synthdb.generators``:
scikit-learn, SciPy; 1.1 CPU-s) and re-ran the parent's main script as multiprocessing's spawn
preparation does (under dbt ``bin/dbt`` imports ``dbt.cli.main``: 1.3 CPU-s; Python 3.11
drops ``'__main__'`` from the forkserver's preload list). Now the forkserver preloads those
modules and the main script's top-level imports, so workers fork with them already imported,
and ``warm_up`` starts it at the beginning of the read stage, where it imports while
PostgreSQL evaluates the contract.
"""

from __future__ import annotations

import ast
import os
import pickle
import sys
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from synthdb.generators import LAZY_IMPORTS as GENERATOR_IMPORTS

_STATE: dict[str, Any] = {}


def chunk_seed(seed: int, index: int) -> int:
    """The 64-bit seed of chunk ``index`` of a run seeded ``seed`` (SeedSequence spawn key)."""
    words = np.random.SeedSequence(int(seed) % 2**128, spawn_key=(int(index),)).generate_state(
        2, np.uint32)
    return (int(words[0]) << 32) | int(words[1])


def chunk_sizes(n: int, chunk_size: int) -> list[int]:
    """Rows per chunk: full chunks of ``chunk_size`` and a remainder (one empty chunk if 0)."""
    size = max(1, int(chunk_size))
    full, rest = divmod(int(n), size)
    return [size] * full + ([rest] if rest or not full else [])


def several_chunks(n: float, chunk_size: int) -> bool:
    """Whether ``n`` rows are sampled in more than one chunk, so in the workers (if any)."""
    return len(chunk_sizes(int(n), chunk_size)) > 1


def default_workers() -> int:
    """``SYNTHDB_SAMPLE_WORKERS``, else the number of cores this process may run on."""
    value = os.environ.get("SYNTHDB_SAMPLE_WORKERS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# Imported once in the forkserver, so every worker forks with them: the COPY encoder, the
# generators with the scikit-learn and SciPy they import on first use (what unpickling and
# sampling a fitted generator imports) and their numpy/pandas.
# synthdb.release.exit_gc: the server holds the same libraries as dbt and exits after it.
PRELOAD = ["numpy", "pandas", "synthdb.release.pgbinary", "synthdb.generators",
           *GENERATOR_IMPORTS, "synthdb.release.exit_gc"]


def main_script_imports() -> list[str]:
    """Modules the main script imports at its top level that this process has imported.

    A forkserver worker re-runs the parent's main script before it takes work (spawn
    preparation); with these preloaded in the server, the re-run only looks them up.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return [n for n in names if n in sys.modules and n != "__main__"]


def warm_up(workers: int | None = None) -> bool:
    """Start the forkserver now, preloading what workers need; False when none will run.

    Idempotent and cheap to call again (a running server is kept). Call it as early as the
    run knows it will sample, so the server's imports overlap other work.
    """
    workers = default_workers() if workers is None else max(1, int(workers))
    if workers <= 1:
        return False
    import multiprocessing
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD + main_script_imports())
    forkserver.ensure_running()
    return True


def _draw(generator: Any, rows: int, seed: int, encode: Callable | None) -> tuple[int, Any]:
    frame = generator.sample(rows, seed=seed)
    return len(frame), (encode(frame) if encode is not None else frame)


def _init_worker(payload: bytes) -> None:
    _STATE["generator"], _STATE["encode"] = pickle.loads(payload)


def _worker_chunk(rows: int, seed: int) -> tuple[int, Any]:
    return _draw(_STATE["generator"], rows, seed, _STATE["encode"])


def sample_chunks(generator: Any, n: int, seed: int, chunk_size: int,
                  encode: Callable[[Any], Any] | None = None,
                  workers: int | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(rows, chunk)`` in chunk order; ``chunk`` is the frame, or ``encode(frame)``.

    ``encode`` must be picklable (a module-level function or an object of a module-level
    class) to run in the workers.
    """
    sizes = chunk_sizes(n, chunk_size)
    seeds = [chunk_seed(seed, i) for i in range(len(sizes))]
    workers = default_workers() if workers is None else max(1, int(workers))
    workers = min(workers, len(sizes))
    payload = None
    if workers > 1:
        try:
            payload = pickle.dumps((generator, encode))
        except (pickle.PicklingError, TypeError, AttributeError):
            payload = None
    if payload is None:
        for rows, s in zip(sizes, seeds, strict=True):
            yield _draw(generator, rows, s, encode)
        return
    yield from _in_workers(payload, sizes, seeds, workers)


def _in_workers(payload: bytes, sizes: list[int], seeds: list[int],
                workers: int) -> Iterator[tuple[int, Any]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    warm_up(workers)
    context = multiprocessing.get_context("forkserver")
    pending: deque = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_init_worker, initargs=(payload,)) as pool:
        try:
            jobs = iter(zip(sizes, seeds, strict=True))
            for rows, s in jobs:
                pending.append(pool.submit(_worker_chunk, rows, s))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                result = pending.popleft().result()
                nxt = next(jobs, None)
                if nxt is not None:
                    pending.append(pool.submit(_worker_chunk, *nxt))
                yield result
        finally:
            for job in pending:
                job.cancel()
