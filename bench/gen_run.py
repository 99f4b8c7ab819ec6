"""Run one generator in a fresh process, so its time and peak RSS are its own.

Called through multiprocessing's *spawn* context: the child imports only what the generator
needs, reads the training frame from a pickle, writes the synthetic frame to another pickle and
returns timings plus ``ru_maxrss`` (peak resident set size of that child alone).
"""

from __future__ import annotations

import pickle
import resource
import time


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


def run(method: str, train_path: str, out_path: str, n: int, seed: int) -> dict:
    with open(train_path, "rb") as fh:
        train = pickle.load(fh)
    # imports happen before the clock starts: we time the work, not the import of a library
    if method == "synthdb":
        from synthdb.generators import GaussianCopula
    elif method == "sdv":
        from sdv.metadata import Metadata
        from sdv.single_table import GaussianCopulaSynthesizer
    base_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    if method == "synthdb":
        gen = GaussianCopula(random_state=seed).fit(train)
        t1 = time.perf_counter()
        synth = gen.sample(n, seed=seed)
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
        import pandas as pd

        rng = np.random.default_rng(seed)
        t1 = time.perf_counter()
        synth = pd.DataFrame(
            {c: train[c].to_numpy()[rng.integers(0, len(train), n)] for c in train.columns}
        )
        synth = synth.astype(train.dtypes.to_dict())
    else:
        raise ValueError(method)
    t2 = time.perf_counter()
    if out_path:
        with open(out_path, "wb") as fh:
            pickle.dump(synth, fh)
    return {
        "fit_s": t1 - t0,
        "sample_s": t2 - t1,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_mb": base_rss,
    }


def run_isolated(method: str, train_path: str, out_path: str, n: int, seed: int) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(run, (method, train_path, out_path, n, seed))
