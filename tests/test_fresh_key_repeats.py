"""Fresh keys drawn chunk by chunk can repeat across chunks; the run redraws the repeats in SQL.

300k integer keys drawn as three chunks of 100k repeated ~14 keys (birthday odds in 2^31), and
publish refuses a release whose key is not unique. ``related.redraw_repeated_keys`` gives every
row but one of each repeated key a fresh key from the server's strong randomness.
"""

from __future__ import annotations

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
