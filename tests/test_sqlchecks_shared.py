"""One-scan privacy aggregates (sqlchecks.class_counts) agree with the per-check queries."""

from __future__ import annotations

import psycopg
from psycopg import sql

from synthdb.release import sqlchecks


def test_class_counts_match_the_separate_queries(fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("SELECT setseed(0.3)")
        conn.execute(
            "CREATE TABLE t AS SELECT (ARRAY['a','b','c',NULL])[1 + (random() * 3.2)::int] AS q1, "
            "(random() * 5)::int AS q2, CASE WHEN random() < 0.1 THEN NULL ELSE "
            "(ARRAY['x','y','zz','rare'])[1 + (random() * 3.02)::int] END AS cat, "
            "(random() < 0.5) AS flag FROM generate_series(1, 5000)")
        conn.execute("INSERT INTO t VALUES ('solo', 99, 'once', NULL)")
        sqlchecks.analyze(conn, sql.Identifier("t"))
        table = sql.Identifier("t")
        got = sqlchecks.class_counts(conn, table, ["q1", "q2"], ["q1", "cat", "flag"], 10, 25)
        assert got["k_anonymity"] == sqlchecks.k_anonymity(conn, table, ["q1", "q2"], 10)
        assert got["k_anonymity"]["min_class_size"] == 1  # the 'solo' row
        for column in ("q1", "cat", "flag"):
            separate = sqlchecks.rare_categories(conn, table, column, 25)
            shared = got["rare"][column]
            assert {k: shared[k] for k in separate} == separate
            smallest = conn.execute(sql.SQL(
                "SELECT min(n) FROM (SELECT count(*) n FROM t WHERE {c} IS NOT NULL "
                "GROUP BY {c}) v").format(c=sql.Identifier(column))).fetchone()[0]
            assert shared["min_value_count"] == smallest
        assert got["rare"]["cat"]["rare_values"] >= 1  # 'once'
        only_rare = sqlchecks.class_counts(conn, table, [], ["cat"], 10, 25)
        assert only_rare["k_anonymity"] is None and only_rare["rare"]["cat"] == got["rare"]["cat"]
        only_k = sqlchecks.class_counts(conn, table, ["q1", "q2"], [], 10, 25)
        assert only_k == {"k_anonymity": got["k_anonymity"], "rare": {}}
        assert sqlchecks.class_counts(conn, table, [], [], 10, 25) == {"k_anonymity": None,
                                                                       "rare": {}}


def test_class_counts_add_up_a_first_grouping_only_when_it_is_small(fresh_db, monkeypatch):
    """The pre-grouped count (few combinations of the counted columns) and the direct one
    (many) give the same figures, and each is chosen where it should be."""
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("SELECT setseed(0.7)")
        conn.execute(
            "CREATE TABLE few AS SELECT (ARRAY['a','b',NULL])[1 + (random() * 2.2)::int] AS q1, "
            "(random() * 4)::int AS q2, CASE WHEN random() < 0.05 THEN NULL ELSE "
            "(random() * 30)::int::text END AS cat FROM generate_series(1, 20000)")
        conn.execute("CREATE TABLE many AS SELECT (random() * 1e6)::int::text AS q1, "
                     "(random() * 1e6)::int AS q2, g::text AS cat FROM generate_series(1, 20000) g")
        for name in ("few", "many"):
            table = sql.Identifier(name)
            sqlchecks.analyze(conn, table)
            chosen = sqlchecks._counted_rows(conn, table, ["q1", "q2", "cat"])[0]
            assert (chosen is table) == (name == "many")
            pre_grouped = sqlchecks.class_counts(conn, table, ["q1", "q2"], ["q1", "cat"], 5, 40)
            monkeypatch.setattr(sqlchecks, "FINE_GROUPS_MAX", -1)  # always group the table
            direct = sqlchecks.class_counts(conn, table, ["q1", "q2"], ["q1", "cat"], 5, 40)
            monkeypatch.undo()
            assert pre_grouped == direct
            assert direct["k_anonymity"] == sqlchecks.k_anonymity(conn, table, ["q1", "q2"], 5)
            assert direct["k_anonymity"]["rows"] == 20000
