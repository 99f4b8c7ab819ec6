"""Publish's relay of the staged rows into the destination (destination.create_copy/relay_rows).

The relay reads the source COPY with libpq's own calls and writes it in 128 KiB buffers
(instead of one psycopg read and one write per row). What must hold: the copy holds exactly the
source's rows, byte for byte (the content digest of both is equal, for values whose text or
binary forms are easy to get wrong), whatever the number of buffers; a source COPY that fails
half-way raises its own error instead of leaving a short copy; and both connections remain
usable (rolled back) afterwards.
"""

from __future__ import annotations

import psycopg
import pytest

from synthdb import db
from synthdb.release import destination, digest, pgio

ROWS = 30_000  # ~90 bytes a row: about twenty 128 KiB buffers


@pytest.fixture()
def conns(fresh_db: db.ConnectionSettings):
    with psycopg.connect(fresh_db.conninfo()) as src, \
            psycopg.connect(fresh_db.conninfo()) as dst:
        src.execute("CREATE SCHEMA staged; CREATE SCHEMA shared")
        src.execute(
            "CREATE TABLE staged.t (id bigint, label text, at timestamptz, x float8, "
            "amount numeric(12, 2), raw bytea, tags text[], doc jsonb, ok boolean)")
        src.execute(
            "INSERT INTO staged.t SELECT i, CASE i %% 5 WHEN 0 THEN NULL WHEN 1 THEN 'tab\tnew\n"
            "line' WHEN 2 THEN 'ünïcødé ✓' ELSE repeat('v', i %% 40) END, "
            "'2024-02-29 23:59:59.999999+00'::timestamptz + i * interval '37 minutes', "
            "CASE i %% 7 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-0'::float8 WHEN 2 THEN "
            "'-Infinity'::float8 ELSE i / 7.0 END, (i %% 100000) / 3.0, "
            "decode(md5(i::text), 'hex'), ARRAY['a', NULL, i::text], "
            "jsonb_build_object('i', i, 'q', 'say \"hi\"'), i %% 3 = 0 "
            "FROM generate_series(1, %s) i", (ROWS,))
        src.commit()
        yield src, dst


def test_copy_holds_exactly_the_source_rows(conns) -> None:
    src, dst = conns
    columns = pgio.relation_columns(src, "staged", "t")
    copied = destination.create_copy(src, ("staged", "t"), dst, ("shared", "copy"), columns)
    assert copied == ROWS
    dst.commit()
    assert digest.content_digest(dst, "shared", "copy") == digest.content_digest(
        src, "staged", "t")
    # the relay left both connections usable for the statements publish runs next
    assert src.execute("SELECT count(*) FROM staged.t").fetchone()[0] == ROWS
    assert dst.execute("SELECT count(*) FROM shared.copy WHERE x = 'NaN'").fetchone()[0] > 0


def _relay_fails(conns, error: type[Exception], table: str, rows: str) -> None:
    """Relay ``rows`` (a query) into a new ``shared.copy`` (``table``: its columns) and expect
    ``error``; then both transactions roll back and stay usable, and nothing was kept."""
    src, dst = conns
    dst.execute(f"CREATE TABLE shared.copy ({table})")
    into_cur = dst.cursor()
    with pytest.raises(error):
        with src.cursor().copy(f"COPY ({rows}) TO STDOUT (FORMAT binary)") as out, \
                into_cur.copy("COPY shared.copy FROM STDIN (FORMAT binary)") as into:
            destination.relay_rows(out, into)
    src.rollback()
    dst.rollback()
    assert src.execute("SELECT count(*) FROM staged.t").fetchone()[0] == ROWS
    assert dst.execute("SELECT to_regclass('shared.copy')").fetchone()[0] is None


def test_a_source_copy_failing_half_way_raises_and_copies_nothing(conns) -> None:
    """The source COPY stops with an error after more than one buffer was written: the error
    is the source's own (read with the COPY's final result), not a short copy."""
    _relay_fails(conns, psycopg.errors.DivisionByZero, "v int, pad text",
                 "SELECT 1 / (i - 20000), repeat('p', 60) FROM generate_series(1, 30000) i")


def test_a_destination_refusing_rows_raises_and_leaves_both_usable(conns) -> None:
    """The destination's COPY fails (a row breaks a CHECK constraint) while the source COPY
    streams: its error is raised."""
    _relay_fails(conns, psycopg.errors.CheckViolation, "v int CHECK (v < 20000)",
                 "SELECT i FROM generate_series(1, 300000) i")


def test_ctrl_c_interrupts_a_relay_waiting_for_the_server(conns) -> None:
    """While the source is slow to send rows the relay waits on the socket in Python (not
    inside libpq, which retries an interrupted wait): Ctrl-C interrupts it at once, psycopg
    cancels the source COPY, and both connections roll back and stay usable."""
    import signal
    import threading
    import time

    src, dst = conns
    dst.execute("CREATE TABLE shared.copy (v int, slept text)")
    into_cur = dst.cursor()
    timer = threading.Timer(0.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    # Ctrl-C as an interactive `dbt build` gets it: Python's own handler (an earlier test in
    # the same process may have left another one installed)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        # ~45 KB of rows (sent: the server flushes every 8 KB), then an 8 s wait for the rest
        with src.cursor().copy("COPY (SELECT i, CASE WHEN i = 3000 THEN pg_sleep(8)::text END "
                               "FROM generate_series(1, 4000) i) TO STDOUT (FORMAT binary)"
                               ) as out, \
                into_cur.copy("COPY shared.copy FROM STDIN (FORMAT binary)") as into:
            timer.start()
            destination.relay_rows(out, into)
    interrupted = time.perf_counter() - started
    timer.join()
    signal.signal(signal.SIGINT, before)
    # not when the server sends again, after 8 s (the margin is for a loaded machine: the
    # cancel and both COPYs' ends took ~3 s once at load 6)
    assert interrupted < 6, interrupted
    src.rollback()
    dst.rollback()
    assert src.execute("SELECT count(*) FROM staged.t").fetchone()[0] == ROWS
    assert dst.execute("SELECT to_regclass('shared.copy')").fetchone()[0] is None
