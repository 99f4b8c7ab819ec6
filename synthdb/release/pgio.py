"""Bulk I/O between PostgreSQL relations and pandas frames, through COPY (psycopg 3).

Why COPY with CSV and an explicit NULL marker: it is the fastest path PostgreSQL offers, it
streams (so memory stays flat when writing chunks), and ``\\N`` keeps NULL apart from the
empty string. Types are read from the catalog so each column comes back with the pandas dtype
the generators expect (nullable ``Int64``, ``float64``, ``boolean``, ``str``, datetimes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from psycopg import sql

NULL_MARKER = "\\N"


@dataclass(frozen=True)
class PgColumn:
    """One column of a relation as the catalog describes it."""

    name: str
    pg_type: str  # format_type() text, e.g. 'numeric(12,2)'
    category: str  # pg_type.typcategory: N numeric, S string, B boolean, D datetime, U user...
    not_null: bool

    @property
    def base_type(self) -> str:
        return self.pg_type.split("(")[0].strip()


def relation_columns(conn, schema: str, name: str) -> list[PgColumn]:
    """Columns of ``schema.name`` (table, view or materialized view), in order."""
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory, a.attnotnull
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (schema, name),
    ).fetchall()
    return [PgColumn(r[0], r[1], r[2], bool(r[3])) for r in rows]


def relation_exists(conn, schema: str, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    ).fetchone()
    return row is not None


INTEGER_TYPES = {"smallint", "integer", "bigint"}
FLOAT_TYPES = {"numeric", "real", "double precision", "money"}


def _convert(series: pd.Series, column: PgColumn) -> pd.Series:
    base = column.base_type
    if base in INTEGER_TYPES:
        return pd.to_numeric(series).astype("Int64")
    if base in FLOAT_TYPES:
        return pd.to_numeric(series).astype("float64")
    if base == "boolean":
        return series.map({"t": True, "f": False}).astype("boolean")
    if base == "date":
        return pd.to_datetime(series, format="%Y-%m-%d", errors="coerce")
    if base.startswith("timestamp") and "with time zone" in column.pg_type:
        return pd.to_datetime(series, format="ISO8601", utc=True)
    if base.startswith("timestamp"):
        return pd.to_datetime(series, format="ISO8601")
    return series.astype("str").where(series.notna(), None) if len(series) else series.astype(
        "object"
    )


def empty_frame(columns: list[PgColumn]) -> pd.DataFrame:
    """A zero-row frame with the dtypes ``read_frame`` would give, from catalog types only."""
    return pd.DataFrame({c.name: _convert(pd.Series([], dtype="object"), c) for c in columns})


def read_frame(conn, query: sql.Composable, columns: list[PgColumn]) -> pd.DataFrame:
    """Run ``query`` (a SELECT of exactly ``columns``) through COPY into a typed frame."""
    conn.execute("SET LOCAL TimeZone = 'UTC'")
    copy_sql = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, NULL {})").format(
        query, sql.Literal(NULL_MARKER)
    )
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    names = [c.name for c in columns]
    if buffer.getbuffer().nbytes == 0:
        raw = pd.DataFrame({n: pd.Series([], dtype="object") for n in names})
    else:
        raw = pd.read_csv(
            buffer, header=None, names=list(range(len(names))), dtype=str,
            na_values=[NULL_MARKER], keep_default_na=False, quoting=csv.QUOTE_MINIMAL,
        )
    frame = pd.DataFrame(
        {col.name: _convert(raw[i], col) for i, col in enumerate(columns)}, index=raw.index
    )
    return frame


def _csv_text(frame: pd.DataFrame, columns: list[PgColumn]) -> str:
    out = frame.copy()
    for col in columns:
        series = out[col.name]
        if col.base_type == "date" and pd.api.types.is_datetime64_any_dtype(series):
            out[col.name] = series.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_datetime64_any_dtype(series):
            out[col.name] = series.dt.strftime("%Y-%m-%d %H:%M:%S.%f%z" if series.dt.tz else
                                               "%Y-%m-%d %H:%M:%S.%f")
        elif col.base_type == "boolean":
            out[col.name] = series.map({True: "t", False: "f"})
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep=NULL_MARKER)
    return buffer.getvalue()


def write_frames(conn, target: sql.Composable, columns: list[PgColumn],
                 frames: Iterable[pd.DataFrame]) -> int:
    """COPY each frame (chunk) into ``target``; returns the number of rows written."""
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, NULL {})").format(
        target, names, sql.Literal(NULL_MARKER)
    )
    total = 0
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for frame in frames:
            if len(frame):
                copy.write(_csv_text(frame[[c.name for c in columns]], columns))
                total += len(frame)
    return total
