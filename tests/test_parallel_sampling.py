"""Parallel chunk sampling (synthdb.release.parallel): same rows for a seed, any worker count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from synthdb.generators import build_generator, infer_specs
from synthdb.release import parallel, pgio

TYPES = {"age": "integer", "income": "numeric(12,2)", "region": "text", "active": "boolean",
         "seen": "timestamp with time zone"}


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({
        "age": pd.array(rng.integers(18, 90, n), dtype="Int64"),
        "income": np.round(rng.lognormal(10, 0.5, n), 2),
        "region": pd.Series(rng.choice(["north", "south", "east", "west"], n), dtype="str"),
        "active": pd.array(rng.random(n) < 0.4, dtype="boolean"),
        "seen": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n),
                                                             unit="s")).tz_localize("UTC"),
    })
    frame.loc[rng.random(n) < 0.05, "income"] = np.nan
    generator = build_generator(rare_min_count=10, random_state=1)
    return generator.fit(frame, infer_specs(frame, TYPES))


def _columns():
    return [pgio.PgColumn(c, t, "X", False) for c, t in TYPES.items()]


def test_same_rows_whatever_the_number_of_workers(fitted):
    runs = {}
    for workers in (1, 2, 3):
        chunks = list(parallel.sample_chunks(fitted, 2500, seed=11, chunk_size=400,
                                             workers=workers))
        assert [r for r, _ in chunks] == [400] * 6 + [100]
        runs[workers] = pd.concat([c for _, c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(runs[1], runs[2])
    pd.testing.assert_frame_equal(runs[1], runs[3])
    other = pd.concat([c for _, c in parallel.sample_chunks(fitted, 2500, seed=12,
                                                            chunk_size=400, workers=2)])
    assert not other.reset_index(drop=True).equals(runs[1])  # the seed matters
    # chunks differ from one another (independent streams, not one stream repeated)
    assert not runs[1].iloc[:100].reset_index(drop=True).equals(
        runs[1].iloc[400:500].reset_index(drop=True))


def test_encoded_in_workers_and_copied_the_same(fitted, fresh_db):
    encoder = pgio.FrameEncoder(_columns())
    assert encoder.binary
    one = list(parallel.sample_chunks(fitted, 1000, seed=3, chunk_size=300, encode=encoder,
                                      workers=1))
    two = list(parallel.sample_chunks(fitted, 1000, seed=3, chunk_size=300, encode=encoder,
                                      workers=2))
    assert one == two and all(isinstance(b, bytes) for _, b in two)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE TABLE t (age integer, income numeric(12,2), region text, "
                     "active boolean, seen timestamptz)")
        written = pgio.write_encoded(conn, sql.Identifier("t"), encoder, iter(two), freeze=True)
        assert written == 1000
        assert conn.execute("SELECT count(*), count(DISTINCT region) FROM t").fetchone() == (
            1000, 4)


def test_chunk_seeds_are_stable_and_distinct():
    seeds = [parallel.chunk_seed(7, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert seeds[3] == parallel.chunk_seed(7, 3) != parallel.chunk_seed(8, 3)
    assert parallel.chunk_sizes(0, 10) == [0] and parallel.chunk_sizes(20, 10) == [10, 10]


def test_workers_fork_with_the_generator_modules_imported():
    """warm_up preloads in the forkserver what unpickling a generator imports (and the main
    script's imports), so a worker does not import scikit-learn/SciPy on its own (~1.1 CPU-s
    each, issue 15). Checked in a worker of the same server, before it has unpickled
    anything: ``eval`` is a builtin, so it travels by name."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    assert parallel.warm_up(1) is False  # one worker: sampled in this process, no server
    assert parallel.warm_up(2) is True
    # the generators import scikit-learn/SciPy on first fit (synthdb.generators.LAZY_IMPORTS):
    # the server preloads those too, or every worker would import them for its first chunk
    wanted = ("synthdb.generators.copula", "sklearn.tree", "scipy.special", "scipy.sparse")
    probe = f"[m in __import__('sys').modules for m in {wanted!r}]"
    with ProcessPoolExecutor(max_workers=1,
                             mp_context=multiprocessing.get_context("forkserver")) as pool:
        assert pool.submit(eval, probe).result() == [True] * len(wanted)
    imports = parallel.main_script_imports()
    assert all(isinstance(name, str) and name != "__main__" for name in imports)
