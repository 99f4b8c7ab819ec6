"""Run one generator in a fresh process, so its time and peak RSS are its own.

Called through multiprocessing's *spawn* context: the child imports only what the generator
needs, reads the training frame from a pickle, writes the synthetic frame to another pickle and
returns timings plus ``ru_maxrss`` (peak resident set size of that child alone).

Methods: ``synthdb_copula`` (GaussianCopula), ``synthdb_trees`` (SequentialTrees with its own
default options), both named by class, never "the default generator", ``cart`` (the
synthpop-style baseline in ``gen_cart.py``), ``mostlyai`` (MOSTLY AI's open engine, TabularARGN
with value protection on CPU, trained for ``BENCH_MOSTLY_MINUTES`` minutes), ``sdv``,
``marginals``. ``synthdb_copula_stream`` / ``synthdb_trees_stream`` fit the same way but never
hold the output: ``sample_chunks`` frames are
encoded to Parquet one at a time (to ``out_path``, or ``/dev/null``), so its peak RSS shows
whether memory stays flat as the number of rows grows.
"""

from __future__ import annotations

import os
import pickle
import resource
import time

import pandas as pd


def _peak_rss_mb() -> float:
    """Peak RSS of this process. VmHWM belongs to the address space, so unlike ru_maxrss it
    is not inherited from the (large) parent across fork+exec."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak_rss() -> bool:
    """Restart the VmHWM high-water mark (Linux >= 4.0), so a phase's own peak can be read."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _same_zones(synth, train):
    """Timestamps in the training column's zone (SDV returns UTC for zones with DST), so the
    calendar metrics compare local hours for every method. Outside the timed section."""
    import pandas as pd

    for c in train.columns:
        tz = getattr(train[c].dtype, "tz", None)
        if tz is not None and c in synth and pd.api.types.is_datetime64_any_dtype(synth[c].dtype):
            col = synth[c]
            if getattr(col.dtype, "tz", None) is None:
                col = col.dt.tz_localize("UTC")
            synth[c] = col.dt.tz_convert(tz)
    return synth


#: MOSTLY AI engine training budget in minutes (bench/run.sh --mostly-minutes)
MOSTLY_MINUTES = float(os.environ.get("BENCH_MOSTLY_MINUTES", "3"))


def run(method: str, train_path: str, out_path: str, n: int, seed: int) -> dict:
    with open(train_path, "rb") as fh:
        train = pickle.load(fh)
    # imports happen before the clock starts: we time the work, not the import of a library
    if method in ("synthdb_copula", "synthdb_copula_stream"):
        from synthdb.generators import GaussianCopula
    if method in ("synthdb_trees", "synthdb_trees_stream"):
        from synthdb.generators import SequentialTrees as GaussianCopula  # same API
    if method == "synthdb_trees_leaf100":  # the trees with leaves of >= 100 rows
        from functools import partial

        from synthdb.generators import SequentialTrees

        GaussianCopula = partial(SequentialTrees, min_leaf_rows=100)  # noqa: N806
    if method == "synthdb_trees_ordered":  # the trees with order="fewest_values"
        from functools import partial

        from synthdb.generators import SequentialTrees

        GaussianCopula = partial(SequentialTrees, order="fewest_values")  # noqa: N806
    if method == "cart":
        from gen_cart import CartBaseline
    if method == "mostlyai":
        from mostlyai.engine import TabularARGN
    if method.endswith("_stream"):
        import pyarrow as pa
        import pyarrow.parquet as pq
    elif method == "sdv":
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer
    base_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    if method.startswith(("synthdb_copula", "synthdb_trees")) and not method.endswith("_stream"):
        gen = GaussianCopula(random_state=seed).fit(train)
        t1 = time.perf_counter()
        synth = gen.sample(n, seed=seed)
    elif method == "cart":
        gen = CartBaseline(random_state=seed).fit(train)
        t1 = time.perf_counter()
        synth = gen.sample(n, seed=seed)
    elif method == "mostlyai":
        gen = TabularARGN(
            max_training_time=MOSTLY_MINUTES,
            value_protection=True,
            device="cpu",
            random_state=seed,
        )
        # the engine gets tz-aware timestamps as local wall time, as mostlyai-qa does
        naive = train.copy()
        for c in naive.columns:
            if getattr(naive[c].dtype, "tz", None) is not None:
                naive[c] = naive[c].dt.tz_localize(None)
        gen.fit(naive)
        t1 = time.perf_counter()
        synth = gen.sample(n_samples=n)
        synth = synth[list(train.columns)]
        for c in train.columns:  # the engine returns its own dtypes (strings, naive stamps)
            try:
                if getattr(train[c].dtype, "tz", None) is not None:
                    synth[c] = pd.to_datetime(synth[c]).dt.tz_localize(
                        train[c].dtype.tz, ambiguous="NaT", nonexistent="NaT"
                    )
                else:
                    synth[c] = synth[c].astype(train[c].dtype)
            except (TypeError, ValueError):
                pass
    elif method.endswith("_stream"):
        import gc

        gen = GaussianCopula(random_state=seed).fit(train)
        del train
        gc.collect()
        fit_peak = _peak_rss_mb()
        phase_peak = _reset_peak_rss()
        t1 = time.perf_counter()
        writer, written = None, 0
        for chunk in gen.sample_chunks(n, seed=seed):
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(out_path or "/dev/null", table.schema)
            writer.write_table(table)
            written += len(chunk)
            del chunk, table
        writer.close()
        out_path, synth = "", None
        assert written == n, (written, n)
        sample_peak = _peak_rss_mb() if phase_peak else float("nan")
    elif method == "sdv":
        meta = Metadata.detect_from_dataframes({"table": train})
        gen = GaussianCopulaSynthesizer(meta)
        try:  # SDV 2.x takes and returns {table name: frame}; 1.x plain frames
            gen.fit({"table": train})
        except (TypeError, ValueError, AttributeError):
            gen.fit(train)
        t1 = time.perf_counter()
        synth = gen.sample(n)
        if isinstance(synth, dict):
            synth = synth["table"]
    elif method == "marginals":  # independent columns: the no-correlation baseline
        import numpy as np

        rng = np.random.default_rng(seed)
        t1 = time.perf_counter()
        synth = pd.DataFrame(
            {c: train[c].to_numpy()[rng.integers(0, len(train), n)] for c in train.columns}
        )
        synth = synth.astype(train.dtypes.to_dict())
    else:
        raise ValueError(method)
    t2 = time.perf_counter()
    if synth is not None:
        synth = _same_zones(synth, train)
    if out_path and synth is not None:
        with open(out_path, "wb") as fh:
            pickle.dump(synth, fh)
    out = {
        "fit_s": t1 - t0,
        "sample_s": t2 - t1,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_mb": base_rss,
    }
    if method.endswith("_stream"):
        # the high-water mark was restarted after fitting: the run's peak is the larger phase
        out["fit_peak_rss_mb"] = fit_peak
        out["sample_peak_rss_mb"] = sample_peak
        out["peak_rss_mb"] = max(fit_peak, sample_peak) if phase_peak else out["peak_rss_mb"]
    return out


def run_isolated(method: str, train_path: str, out_path: str, n: int, seed: int) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(run, (method, train_path, out_path, n, seed))
