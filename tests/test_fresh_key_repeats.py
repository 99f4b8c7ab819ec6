"""Fresh keys drawn chunk by chunk can repeat across chunks; the run redraws the repeats in SQL.

300k integer keys drawn as three chunks of 100k repeated ~14 keys (birthday odds in 2^31), and
publish refuses a release whose key is not unique. ``related.redraw_repeated_keys`` gives every
row but one of each repeated key a fresh key from the server's strong randomness.
"""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from synthdb.generators.fresh_keys import fresh_key_sql
from synthdb.release.related import redraw_repeated_keys


@pytest.mark.parametrize("pg_type, style", [("integer", "integer"), ("smallint", "smallint"),
                                            ("bigint", "bigint"), ("uuid", "uuid"),
                                            ("text", "text")])
def test_repeated_fresh_keys_are_redrawn_until_distinct(fresh_db, pg_type, style):
    table = sql.Identifier("staged")
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute(f"CREATE TABLE staged (k {pg_type}, other int)")
        # 400 rows: 100 distinct fresh keys, then 300 rows repeating the first 30 of them
        first = "g * 97" if style in ("integer", "smallint", "bigint") else fresh_key_sql(style)
        conn.execute(f"INSERT INTO staged SELECT {first}, g FROM generate_series(1, 100) g")
        conn.execute("INSERT INTO staged SELECT k, 100 + g FROM (SELECT k FROM staged "
                     "ORDER BY other LIMIT 30) s, generate_series(1, 10) g")
        before = conn.execute("SELECT k FROM staged WHERE other <= 100 ORDER BY other").fetchall()
        assert conn.execute("SELECT count(DISTINCT k) FROM staged").fetchone()[0] == 100
        redrawn = redraw_repeated_keys(conn, table, "k", style)
        # each repeat once, and more only where a redraw hit a key again (smallint's 2^15)
        assert redrawn == 300 if style != "smallint" else redrawn >= 300
        count, distinct, nulls = conn.execute(
            "SELECT count(*), count(DISTINCT k), count(*) FILTER (WHERE k IS NULL) "
            "FROM staged").fetchone()
        assert (count, distinct, nulls) == (400, 400, 0)
        # one row of each repeated key keeps it; keys that were distinct are left alone
        kept = conn.execute("SELECT count(*) FROM staged WHERE k IN (SELECT k FROM staged "
                            "WHERE other <= 100)").fetchone()[0]
        assert kept >= 100 and before[70:] == conn.execute(
            "SELECT k FROM staged WHERE other <= 100 ORDER BY other").fetchall()[70:]
        if style in ("integer", "smallint", "bigint"):
            low = conn.execute("SELECT min(k) FROM staged").fetchone()[0]
            assert low >= 1
        assert redraw_repeated_keys(conn, table, "k", style) == 0  # nothing left to redraw


def test_fresh_key_sql_uses_no_seeded_randomness(fresh_db):
    """The keys must differ in every release: setseed (the run seeds random() from the
    release seed) does not make the SQL draw repeat."""
    with psycopg.connect(fresh_db.conninfo()) as conn:
        draws = []
        for _ in range(2):
            conn.execute("SELECT setseed(0.5)")
            draws.append(conn.execute(f"SELECT {fresh_key_sql('bigint')}, "
                                      f"{fresh_key_sql('integer')}").fetchone())
        assert draws[0][0] != draws[1][0] and draws[0][1] != draws[1][1]


@pytest.mark.parametrize("pg_type, style, source", [
    ("integer", "integer", [1185, 1186, 2500]),
    ("uuid", "uuid", ["7d3c1e4a-1f2b-4c5d-9e8f-0a1b2c3d4e5f"]),
])
def test_a_fresh_key_equal_to_a_source_key_is_redrawn(fresh_db, pg_type, style, source):
    """A fresh key that happens to equal a key the run read from the source looks like that
    real entity's id to the recipient (test_related_release met one: integer key 1185 among
    real ids 1001-2500): it is redrawn, and the other keys stay."""
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute(f"CREATE TABLE staged (k {pg_type}, other int)")
        conn.execute(f"INSERT INTO staged SELECT {fresh_key_sql(style)}, g FROM "
                     "generate_series(1, 50) g")
        conn.execute(f"INSERT INTO staged SELECT s::{pg_type}, 0 FROM "
                     "unnest(%s::text[]) s", ([str(k) for k in source],))
        others = conn.execute("SELECT k FROM staged WHERE other > 0 ORDER BY other").fetchall()
        assert redraw_repeated_keys(conn, sql.Identifier("staged"), "k", style,
                                    source) == len(source)
        assert conn.execute("SELECT count(*) FROM staged WHERE k::text = ANY(%s::text[])",
                            ([str(k) for k in source],)).fetchone()[0] == 0
        assert conn.execute("SELECT count(DISTINCT k), count(*) FROM staged").fetchone() == (
            50 + len(source), 50 + len(source))
        assert conn.execute("SELECT k FROM staged WHERE other > 0 ORDER BY other"
                            ).fetchall() == others


def test_a_fresh_key_equal_to_a_reserved_range_source_key_is_redrawn(fresh_db):
    """The source keys in the reserved range come as the read's comma-separated text (never
    a Python list of millions of strings); a staged key equal to one is redrawn inside the
    range, the other keys stay."""
    low = 2**30
    real = [low + 5, low + 7, low + 9]
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE TABLE staged (k integer, other int)")
        conn.execute(f"INSERT INTO staged SELECT {fresh_key_sql('integer')}, g FROM "
                     "generate_series(1, 50) g")
        conn.execute("INSERT INTO staged SELECT k, 0 FROM unnest(%s::int[]) k", (real,))
        others = conn.execute("SELECT k FROM staged WHERE other > 0 ORDER BY other").fetchall()
        reserved = ",".join(map(str, real + [low + 11]))
        assert redraw_repeated_keys(conn, sql.Identifier("staged"), "k", "integer", (),
                                    reserved) == 3
        equal, distinct, lowest = conn.execute(
            "SELECT count(*) FILTER (WHERE k = ANY(%s::int[])), count(DISTINCT k), min(k) "
            "FROM staged", (real + [low + 11],)).fetchone()
        assert (equal, distinct) == (0, 53) and lowest >= low
        assert conn.execute("SELECT k FROM staged WHERE other > 0 ORDER BY other"
                            ).fetchall() == others


def test_the_redraw_of_a_large_table_joins_its_rows_once(fresh_db):
    """The demo's child table (200k rows, written in the run's transaction, not yet analysed):
    an UPDATE selecting its rows with 'ctid IN (...) OR ...' did not finish in 13 minutes. The
    rows to redraw are now collected once and joined by ctid. A statement timeout turns a
    return of a plan like that into a failure instead of a hang."""
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("SET statement_timeout = '60s'")
        conn.execute("CREATE TABLE staged (k uuid, other int)")
        conn.execute("INSERT INTO staged SELECT gen_random_uuid(), g "
                     "FROM generate_series(1, 200000) g")
        conn.execute("UPDATE staged SET k = (SELECT k FROM staged WHERE other = 1) "
                     "WHERE other <= 5")
        source = [str(k) for (k,) in conn.execute(
            "SELECT k FROM staged WHERE other BETWEEN 10 AND 1009")]
        assert redraw_repeated_keys(conn, sql.Identifier("staged"), "k", "uuid",
                                    source) == 4 + 1000
        assert conn.execute("SELECT count(DISTINCT k) FROM staged").fetchone()[0] == 200000


def _keyed_source(conn, pg_type: str, below: int, reserved: str, extra: str = "") -> None:
    """src.contract: ``below`` ids counting up from 1 and the ids ``reserved`` (a SQL
    expression of ``j``, 0..39) inside the fresh keys' reserved range."""
    conn.execute("CREATE SCHEMA src")
    conn.execute(f"""CREATE TABLE src.keyed AS SELECT id::{pg_type} AS id, (id % 7)::text AS band
        {extra} FROM (SELECT generate_series(1, {below}) AS id
                      UNION ALL SELECT {reserved} FROM generate_series(0, 39) j) ids""")
    conn.execute("ANALYZE src.keyed")
    conn.execute("CREATE VIEW src.contract AS SELECT * FROM src.keyed")


def _request(max_train_rows: int):
    from synthdb.release.config import parse_synth_config
    from synthdb.release.synthesize import SynthesisRequest

    cfg = parse_synth_config({"source": "contract", "key": "id",
                              "max_train_rows": max_train_rows}, "m")
    return SynthesisRequest(model="m", source=("src", "contract"), target=("s", "m"), config=cfg)


@pytest.mark.parametrize("path, max_train_rows, estimate, extra", [
    ("whole input", 10_000, None, ""),
    ("one counting pass", 200, None, ""),
    ("estimate too low: count, then sample", 200, 10.0, ""),
    ("estimate too high: count, then sample", 200, 1e7, ""),
    ("array column: count, then sample", 200, None, ", ARRAY[id] AS tags"),
])
def test_every_read_collects_the_source_keys_in_the_reserved_range(fresh_db, path,
                                                                   max_train_rows, estimate,
                                                                   extra):
    """Whichever way the training input is read, the pass that sees every row collects the
    real keys inside the range fresh keys are drawn from, though the sample holds few of
    them: the redraw avoids all of them."""
    from synthdb.release import pgio, training
    from synthdb.release.reserved_keys import ReservedKeys

    with psycopg.connect(fresh_db.conninfo()) as conn:
        _keyed_source(conn, "integer", 3000, "1073741824 + 1000 * j", extra)
        request = _request(max_train_rows)
        columns = pgio.relation_columns(conn, "src", "contract")
        reserved = ReservedKeys.of("m", columns, "id")
        assert reserved is not None and reserved.low == 2**30
        frame, n_source = training.read_training(conn, request, columns, 3, estimate, reserved)
        assert n_source == 3040, path
        assert len(frame) == (3040 if max_train_rows > 3040 else 250), path
        assert reserved.count == 40, path
        assert sorted(reserved.found.split(",")) == sorted(str(2**30 + 1000 * j)
                                                           for j in range(40)), path
        # the count before the child's read collects them as well
        counted = ReservedKeys.of("m", columns, "id")
        assert training.count_rows(conn, request, counted) == 3040
        assert sorted(counted.found.split(",")) == sorted(reserved.found.split(","))


def test_only_integer_and_numeric_keys_have_a_reserved_range(fresh_db):
    from synthdb.release import pgio
    from synthdb.release.reserved_keys import ReservedKeys

    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE TABLE t (i smallint, n numeric(20, 0), u uuid, s text)")
        columns = pgio.relation_columns(conn, "public", "t")
        styles = {c: getattr(ReservedKeys.of("m", columns, c), "style", None)
                  for c in ("i", "n", "u", "s", "missing")}
        assert styles == {"i": "smallint", "n": "bigint", "u": None, "s": None, "missing": None}


@pytest.mark.parametrize("max_train_rows", [10_000, 200])
def test_a_source_crowding_the_reserved_range_is_refused(fresh_db, max_train_rows):
    """300 real smallint keys in [2^14, 2^15) (more than 1/64 of it): refused, naming the model
    and the column, whether the input is read whole or sampled; no key in the message."""
    from synthdb.errors import ConfigError
    from synthdb.release import pgio, training
    from synthdb.release.reserved_keys import ReservedKeys

    with psycopg.connect(fresh_db.conninfo()) as conn:
        _keyed_source(conn, "smallint", 300, "30000 + j")
        conn.execute("UPDATE src.keyed SET id = id + 16383 WHERE id <= 260")
        columns = pgio.relation_columns(conn, "src", "contract")
        with pytest.raises(ConfigError) as refused:
            training.read_training(conn, _request(max_train_rows), columns, 3, None,
                                   ReservedKeys.of("m", columns, "id"))
        message = str(refused.value)
        assert "model m" in message and "'id'" in message and "uuid or bigint" in message
        assert "16400" not in message and "30001" not in message


def test_many_source_keys_in_the_reserved_range_pass_through_the_counting_read(fresh_db):
    """Random 63-bit ids put half a table's keys in bigint's reserved range: 500,000 keys
    (10 MB of text) in one cell outgrew the CSV reader's 4 MB blocks ('straddling object'); they
    come as rows of their own, and the sample is the same rows as without them."""
    from synthdb.release import pgio, training
    from synthdb.release.reserved_keys import ReservedKeys

    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE TABLE t AS SELECT CASE WHEN i <= 500000 THEN 4611686018427387904 + i "
                     "ELSE i END AS id, (i % 7)::text AS band FROM generate_series(1, 503000) i")
        columns = pgio.relation_columns(conn, "public", "t")
        select = sql.SQL("SELECT id, band FROM t")
        reserved = ReservedKeys.of("m", columns, "id")
        with training.fixed_row_order(conn):
            frame, n, found = training._count_and_sample(conn, columns, select, 0.01, 5,
                                                         reserved)
            plain, n_plain, nothing = training._count_and_sample(conn, columns, select, 0.01, 5)
        assert n == n_plain == 503000 and nothing == ""
        pd.testing.assert_frame_equal(frame, plain)
        reserved.take(found)
        assert reserved.count == 500000
        assert set(found.split(",")) == {str(2**62 + i) for i in range(1, 500001)}
