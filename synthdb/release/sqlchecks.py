"""Exact privacy counts computed inside PostgreSQL on the whole released table.

k-anonymity and rare-category counts must be exact (a sample can hide a class of one), so they
run as GROUP BY queries in the database. The same definitions back the dbt generic tests, so the
stored verdict and the test's own query cannot disagree. NULL counts as a value of its own.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql


def _cols(names: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def k_anonymity(conn, table: sql.Composable, quasi_identifiers: list[str], k: int) -> dict[str, Any]:
    """Class statistics of the quasi-identifier combination in ``table``."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), min(n), count(*) FILTER (WHERE n < %(k)s), "
            "coalesce(sum(n) FILTER (WHERE n < %(k)s), 0), coalesce(sum(n), 0) "
            "FROM (SELECT count(*) AS n FROM {} GROUP BY {}) classes"
        ).format(table, _cols(quasi_identifiers)),
        {"k": k},
    ).fetchone()
    return {
        "classes": int(row[0]),
        "min_class_size": int(row[1]) if row[1] is not None else 0,
        "classes_below_k": int(row[2]),
        "rows_below_k": int(row[3]),
        "rows": int(row[4]),
    }


def suppress_below_k(conn, table: sql.Composable, quasi_identifiers: list[str], k: int) -> int:
    """Delete the rows of classes smaller than ``k``; returns how many were deleted."""
    match = sql.SQL(" AND ").join(
        sql.SQL("t.{c} IS NOT DISTINCT FROM s.{c}").format(c=sql.Identifier(c))
        for c in quasi_identifiers
    )
    cur = conn.execute(
        sql.SQL(
            "DELETE FROM {table} AS t USING (SELECT {cols} FROM {table} GROUP BY {cols} "
            "HAVING count(*) < %(k)s) AS s WHERE {match}"
        ).format(table=table, cols=_cols(quasi_identifiers), match=match),
        {"k": k},
    )
    return int(cur.rowcount or 0)


def rare_categories(conn, table: sql.Composable, column: str, min_count: int) -> dict[str, Any]:
    """How many non-NULL values of ``column`` occur fewer than ``min_count`` times."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE n < %(m)s), coalesce(sum(n) FILTER (WHERE n < %(m)s), 0),"
            " count(*) FROM (SELECT count(*) AS n FROM {} WHERE {} IS NOT NULL GROUP BY {}) v"
        ).format(table, sql.Identifier(column), sql.Identifier(column)),
        {"m": min_count},
    ).fetchone()
    return {"rare_values": int(row[0]), "rare_rows": int(row[1]), "distinct_values": int(row[2])}
