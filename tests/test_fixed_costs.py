"""What a release pays whatever its size (issue 15): work started only where it is used.

The read stage starts the sampling workers' server (2-3 CPU-s of imports in another process)
only when the rows will be sampled in more than one chunk; a 100k-row release (one chunk) is
sampled in the dbt process, where that server only took a core from the fit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from synthdb.errors import EmptyInputError
from synthdb.release import pgio, stages, training
from synthdb.release.config import parse_synth_config
from synthdb.release.modes import MODES
from synthdb.release.progress import Progress
from synthdb.release.related import Child
from synthdb.release.synthesize import SynthesisRequest


@pytest.fixture()
def source(fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("CREATE TABLE src.people AS SELECT i AS id, (i % 7)::text AS band "
                     "FROM generate_series(1, 3000) i")
        conn.execute("ANALYZE src.people")
        conn.execute("CREATE VIEW src.contract AS SELECT band FROM src.people WHERE id > 0")
        conn.commit()
        yield conn


def context(conn, mode: str, **synth) -> stages.RunContext:
    cfg = parse_synth_config({"source": "contract", "mode": mode, **synth}, "m")
    request = SynthesisRequest(model="m", source=("src", "contract"), target=("s", "m"),
                               config=cfg)
    return stages.RunContext(conn=conn, request=request, mode=MODES[mode], run_id="r" * 32,
                             seed=1, progress=Progress("m"))


def test_workers_only_for_more_than_one_chunk(source):
    # the planner's estimate of the contract (3000 rows), no row read
    assert not MODES["synthesize"].samples_in_workers(context(source, "synthesize"))
    assert MODES["synthesize"].samples_in_workers(
        context(source, "synthesize", chunk_size=1000))
    # synth.rows decides when it is set
    assert not MODES["synthesize"].samples_in_workers(
        context(source, "synthesize", chunk_size=1000, rows=900))
    assert MODES["synthesize"].samples_in_workers(context(source, "synthesize", rows=200_000))
    # mock never plans the relation: its rows are synth.rows
    assert MODES["mock"].samples_in_workers(context(source, "mock", rows=5000, chunk_size=1000))
    assert not MODES["mock"].samples_in_workers(context(source, "mock", rows=500))
    # deidentify copies in SQL; a child table draws in this process
    assert not MODES["deidentify"].samples_in_workers(
        context(source, "deidentify", chunk_size=100))
    assert not Child().samples_in_workers(context(source, "synthesize", chunk_size=100))


def in_a_new_interpreter(code: str, lazy_package: str | None = None) -> None:
    """Run ``code`` in a new Python (what it imports is all this process has not); with
    ``lazy_package``, also check that an unknown name of that package, whose names resolve on
    first use, still raises AttributeError."""
    code = textwrap.dedent(code)
    if lazy_package:
        code += textwrap.dedent(f"""
            import {lazy_package}
            try:
                {lazy_package}.nothing
            except AttributeError:
                pass
            else:
                raise AssertionError("unknown names must still raise AttributeError")
        """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_check_imports_no_scikit_learn():
    """The model's config check (run by the adapter before the run connects) leaves
    scikit-learn and SciPy to the stages that use them; the package's names still resolve."""
    in_a_new_interpreter("""
        import sys
        from synthdb.release.config import parse_synth_config
        parse_synth_config({"source": "c", "utility": {"min_accuracy": 0.5}}, "m")
        heavy = sorted(m for m in ("sklearn", "scipy", "matplotlib") if m in sys.modules)
        assert not heavy, heavy
        from synthdb.metrics import GateThresholds, MetricRow, evaluate_release, report_metrics
        from synthdb.metrics.full import report_metrics as full
        assert report_metrics is full and GateThresholds and MetricRow and evaluate_release
    """, lazy_package="synthdb.metrics")


def test_run_reaches_its_read_without_scikit_learn_and_imports_it_meanwhile():
    """Everything a learning run does before its read (the run's modules, the mode, building
    and checking the configured generator) leaves scikit-learn and SciPy to the warm-up thread
    the read stage starts (synthdb.release.warmup), which imports all the fit and the metrics
    need; a module that cannot be imported there is left to the code that needs it."""
    in_a_new_interpreter("""
        import sys
        import synthdb.release.synthesize
        from synthdb.generators import build_generator
        from synthdb.release import warmup
        from synthdb.release.modes import MODES
        for method in ("sequential_trees", "gaussian_copula"):
            generator = build_generator(method=method)
            getattr(generator, "_check_params", lambda: None)()
        heavy = sorted(m for m in ("sklearn", "scipy", "matplotlib") if m in sys.modules)
        assert not heavy, heavy
        wanted = MODES["synthesize"].imports_after_read
        assert {"sklearn.tree", "sklearn.ensemble", "scipy.stats"} <= set(wanted)
        warmup.finish(warmup.start(wanted + ("synthdb_no_such_module",)))
        missing = [m for m in wanted if m not in sys.modules]
        assert not missing, missing
        assert warmup.start(()) is None and MODES["mock"].imports_after_read == ()
    """)


@pytest.fixture()
def counted_view(source):
    """A contract whose every evaluation of a row is counted: nextval() in its select list
    (volatile, so PostgreSQL evaluates it for a count(*) of the view too)."""
    source.execute("CREATE SEQUENCE src.evaluated")
    source.execute("CREATE VIEW src.counted AS SELECT band, nextval('src.evaluated') AS seq "
                   "FROM src.people")
    source.commit()
    return source


def evaluations(conn) -> int:
    return conn.execute("SELECT last_value FROM src.evaluated").fetchone()[0]


def read_counted(conn, seed: int = 1, estimate: float | None = None, **synth):
    cfg = parse_synth_config({"source": "counted", **synth}, "m")
    request = SynthesisRequest(model="m", source=("src", "counted"), target=("s", "m"),
                               config=cfg)
    columns = [c for c in pgio.relation_columns(conn, "src", "counted") if c.name == "band"]
    return training.read_training(conn, request, columns, seed, estimate)


def test_small_input_is_read_once_and_whole(counted_view):
    """An input the planner expects to fit in the training sample is evaluated once (it was
    counted, then read: every row of the view computed twice); the rows are all of it, in the
    order the plain read gives, and their number is the row count."""
    frame, n = read_counted(counted_view)
    assert n == 3000 and len(frame) == 3000
    assert evaluations(counted_view) == 3000  # was 6000 (count(*), then the rows)
    plain = pgio.read_frame(counted_view, sql.SQL("SELECT band FROM src.people"),
                            [pgio.PgColumn("band", "text", "S", True)])
    assert frame["band"].tolist() == plain["band"].tolist()


def test_estimate_far_too_low_falls_back_to_a_bounded_sample(counted_view):
    """Told the input is small when it is not, the read stops at the limit + 1 rows, then
    counts and samples with the exact fraction: never more than the limit in memory, the
    true count, and the same rows for the same seed."""
    frame, n = read_counted(counted_view, estimate=10, max_train_rows=800, holdout=0.2)
    assert n == 3000 and len(frame) == 1000  # max_train_rows / (1 - holdout)
    again, _ = read_counted(counted_view, estimate=10, max_train_rows=800, holdout=0.2)
    assert frame["band"].tolist() == again["band"].tolist()


def test_empty_input_is_refused_after_one_read(counted_view):
    counted_view.execute("DELETE FROM src.people")
    counted_view.commit()
    with pytest.raises(EmptyInputError, match="model m: the training input src.counted"):
        read_counted(counted_view, estimate=0)


TRICKY = """
CREATE TABLE src.tricky AS SELECT * FROM (VALUES
  (1, 'a,b', 9223372036854775807::bigint, 1.5::numeric, date '2024-02-29',
   timestamptz '2024-03-01 12:00:00+02', true),
  (2, 'he said "hi"', -9223372036854775808, 123456789012.345678, NULL,
   timestamptz '1999-12-31 23:59:59.123456+00', false),
  (3, E'line\\nbreak\\r\\ncr', NULL, -0.0, date '1970-01-01', NULL, NULL),
  (4, '', 0, NULL, date '2026-01-01', timestamptz '2026-01-01 00:00:00+00', true),
  (5, NULL, 42, 0.1, NULL, NULL, false),
  (6, E'\\\\N', 7, 1e-20, NULL, NULL, true),
  (7, ' lead and trail ', 8, 1e20, NULL, NULL, true),
  (8, 'NA', 9, 2.5, NULL, NULL, NULL),
  (9, 'nan', 10, 3.25, NULL, NULL, NULL),
  (10, 'ünïcødé ✓ ''q''', 11, 4, NULL, NULL, NULL)
) v(id, t, big, n, d, ts, b)
"""


def test_read_frame_cells_are_the_text_postgresql_wrote(source):
    """read_frame's CSV is tokenised by Arrow (issue 15: pandas' reader made a Python string
    per cell); every value is the one PostgreSQL holds: quotes, commas, line breaks, the empty
    string apart from NULL, the text '\\N' apart from NULL, bigints at both ends."""
    source.execute(TRICKY)
    columns = pgio.relation_columns(source, "src", "tricky")
    frame = pgio.read_frame(source, sql.SQL("SELECT * FROM src.tricky ORDER BY id"), columns)
    rows = source.execute("SELECT t, big, n::float8, d, ts, b FROM src.tricky ORDER BY id"
                          ).fetchall()
    assert frame["t"].tolist()[:4] == ["a,b", 'he said "hi"', "line\nbreak\r\ncr", ""]
    assert pd.isna(frame["t"].iloc[4]) and frame["t"].iloc[5] == "\\N"
    assert frame["t"].tolist()[6:] == [r[0] for r in rows[6:]]
    assert frame["big"].dtype == "Int64" and frame["big"].tolist()[:3] == [
        2**63 - 1, -2**63, pd.NA]
    floats = frame["n"].tolist()
    assert all((a == b) or (a != a and b is None) for a, b in zip(floats, [r[2] for r in rows],
                                                                   strict=True))
    assert frame["d"].tolist()[0] == pd.Timestamp("2024-02-29") and frame["d"].isna().sum() == 7
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-03-01 10:00:00", tz="UTC")
    assert frame["ts"].iloc[1] == pd.Timestamp("1999-12-31 23:59:59.123456", tz="UTC")
    assert frame["b"].tolist()[:3] == [True, False, pd.NA]


def test_read_frame_takes_a_row_longer_than_arrows_block(source):
    """Arrow's CSV reader refuses a row longer than its block ("straddling object"): a 9 MB
    text value (a document, a JSON blob) beside ordinary rows is read whole, every cell the
    text PostgreSQL holds, not a parse error."""
    big = 9 * 2**20
    assert big > pgio.BLOCK_BYTES
    source.execute("CREATE TABLE src.docs AS SELECT i AS id, CASE WHEN i = 2 THEN "
                   "repeat('x,\"y\"' || chr(10), %s) ELSE 'short ' || i END AS body "
                   "FROM generate_series(1, 3) i", (big // 6,))
    columns = pgio.relation_columns(source, "src", "docs")
    frame = pgio.read_frame(source, sql.SQL("SELECT * FROM src.docs ORDER BY id"), columns)
    expected = [r[0] for r in source.execute("SELECT body FROM src.docs ORDER BY id")]
    assert frame["id"].tolist() == [1, 2, 3]
    assert len(frame["body"].iloc[1]) == 6 * (big // 6) > pgio.BLOCK_BYTES
    assert frame["body"].tolist() == expected


def test_drawing_handle_imports_no_matplotlib():
    """A run's drawing handle (synthdb.report.drawing) leaves matplotlib to whoever draws: the
    child process, or the thread at the evidence stage; the package's names still resolve."""
    in_a_new_interpreter("""
        import sys
        import synthdb.report.drawing
        assert "matplotlib" not in sys.modules and "synthdb.report.html" not in sys.modules
        from synthdb.report import render_html, render_json, thresholds_statement
        from synthdb.report.html import render_html as html_render
        assert render_html is html_render and render_json and thresholds_statement
    """, lazy_package="synthdb.report")


@pytest.fixture()
def parallel_contract(source):
    """A contract PostgreSQL reads with parallel workers when it may (every parallel cost 0):
    a sort of few distinct keys fed by a Gather, as the demo's window function is."""
    source.execute("CREATE TABLE src.many AS SELECT i AS id, (i % 5)::text AS band, "
                   "(i * 7919 % 1000)::int AS v FROM generate_series(1, 200000) i")
    source.execute("ANALYZE src.many")
    source.execute("CREATE VIEW src.ranked AS SELECT band, v, "
                   "count(*) OVER (PARTITION BY band) AS n FROM src.many")
    for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0",
                    "min_parallel_table_scan_size = 0", "max_parallel_workers_per_gather = 2"):
        source.execute(f"SET {setting}")
    source.commit()
    return source


def test_a_seed_samples_the_same_rows_where_parallel_plans_are_cheap(parallel_contract):
    """The training sample of a seed is the same run after run: the read is serial and starts
    at the first block (a Gather interleaves its workers' rows differently every time, and the
    Bernoulli draw keeps rows by their place), and puts the settings back afterwards."""
    conn = parallel_contract
    cfg = parse_synth_config({"source": "ranked", "max_train_rows": 8000, "holdout": 0.2}, "m")
    request = SynthesisRequest(model="m", source=("src", "ranked"), target=("s", "m"),
                               config=cfg)
    columns = pgio.relation_columns(conn, "src", "ranked")
    samples = []
    for _ in range(3):
        frame, n = training.read_training(conn, request, columns, seed=5)
        assert n == 200_000 and len(frame) == 10_000
        assert conn.execute("SHOW max_parallel_workers_per_gather").fetchone()[0] == "2"
        conn.rollback()
        samples.append(frame)
    assert samples[0].equals(samples[1]) and samples[1].equals(samples[2])
