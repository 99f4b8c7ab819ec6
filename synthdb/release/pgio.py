"""Bulk I/O between PostgreSQL relations and pandas frames, through COPY (psycopg 3).

Why COPY with CSV and an explicit NULL marker: it is the fastest path PostgreSQL offers, it
streams (so memory stays flat when writing chunks), and ``\\N`` keeps NULL apart from the
empty string. Types are read from the catalog so each column comes back with the pandas dtype
the generators expect (nullable ``Int64``, ``float64``, ``boolean``, ``str``, datetimes).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

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
    if base in INTEGER_TYPES:  # nullable parse: through float64, bigints near 2**63 broke
        return pd.to_numeric(series, dtype_backend="numpy_nullable").astype("Int64")
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
    if buffer.getbuffer().nbytes == 0:
        return _typed(pd.DataFrame({i: pd.Series([], dtype="object")
                                    for i in range(len(columns))}), columns)
    return _typed(_text_cells(buffer, len(columns)), columns)


def _text_cells(buffer: IO[bytes], width: int) -> pd.DataFrame:
    """COPY's CSV as ``width`` text columns (positional labels), NULL where it wrote
    ``NULL_MARKER`` unquoted, for ``_typed`` to convert.

    Tokenised by Arrow's CSV reader in one thread (issue 15: pandas' C reader made a Python
    string of every cell; the demo's 100k-row contract read and converted in 0.86 s median
    against 0.34 s, load 6); the cells, and so every converted value, are the same text. A
    quoted ``"\\N"`` stays the text it is (COPY quotes a value equal to the marker; pandas'
    reader took it for NULL). Arrow reads in blocks and refuses a row longer than one block
    ("straddling object"): a row over ``BLOCK_BYTES`` (a long text or JSON value) is read
    again with the whole buffer as one block.
    """
    from pyarrow import ArrowInvalid

    try:
        return _arrow_cells(buffer, width, BLOCK_BYTES)
    except ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
    buffer.seek(0, io.SEEK_END)
    size = buffer.tell()
    buffer.seek(0)
    return _arrow_cells(buffer, width, min(size + 1, 2**31 - 1))


#: Arrow's CSV block: rows up to this length are read block by block
BLOCK_BYTES = 1 << 22


def _arrow_cells(buffer: IO[bytes], width: int, block_size: int) -> pd.DataFrame:
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    names = [str(i) for i in range(width)]
    table = pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=False,
                                        block_size=block_size),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.large_string()), null_values=[NULL_MARKER],
            strings_can_be_null=True, quoted_strings_can_be_null=False))
    frame = table.to_pandas()  # pandas' own text dtype
    frame.columns = range(width)
    return frame


def _csv_options(columns: list[PgColumn]) -> dict:
    """How ``pd.read_csv`` reads COPY's CSV: text cells, ``NULL_MARKER`` as NULL."""
    return dict(header=None, names=list(range(len(columns))), dtype=str,
                na_values=[NULL_MARKER], keep_default_na=False, quoting=csv.QUOTE_MINIMAL)


def _typed(raw: pd.DataFrame, columns: list[PgColumn]) -> pd.DataFrame:
    return pd.DataFrame(
        {col.name: _convert(raw[i], col) for i, col in enumerate(columns)}, index=raw.index
    )


def spool(conn, query: sql.Composable) -> tuple[IO[bytes], int]:
    """COPY the rows of ``query`` into an anonymous temporary file; (file, rows).

    The rows are then read in frames (``spooled_frames``) while the connection is busy with
    something else (a COPY into the staging table), and memory holds one frame, not the
    result. The scan does not join another session's scan mid-table
    (``synchronize_seqscans``), so a table written once comes back in the order it was written.
    """
    conn.execute("SET LOCAL TimeZone = 'UTC'")
    conn.execute("SET LOCAL synchronize_seqscans = off")
    copy_sql = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, NULL {})").format(
        query, sql.Literal(NULL_MARKER)
    )
    fh = tempfile.TemporaryFile()
    with conn.cursor() as cur:
        with cur.copy(copy_sql) as copy:
            for block in copy:
                fh.write(block)
        rows = cur.rowcount
    fh.seek(0)
    return fh, max(int(rows), 0)


def spooled_frames(fh: IO[bytes], columns: list[PgColumn], rows: int) -> Iterator[pd.DataFrame]:
    """Typed frames of at most ``rows`` rows from a ``spool`` file (closed at the end)."""
    try:
        if fh.read(1):
            fh.seek(0)
            for raw in pd.read_csv(fh, chunksize=max(1, int(rows)), **_csv_options(columns)):
                yield _typed(raw, columns)
    finally:
        fh.close()


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


class FrameEncoder:
    """Turns a frame (chunk) into COPY bytes for ``columns``: binary when every column type has
    a vectorised encoder (synthdb.release.pgbinary), else CSV. Picklable, so sampling workers
    (synthdb.release.parallel) encode their own chunks."""

    def __init__(self, columns: list[PgColumn]) -> None:
        from synthdb.release import pgbinary

        self.columns = list(columns)
        self.binary = all(pgbinary.encodable(c.pg_type) for c in columns)

    def __call__(self, frame: pd.DataFrame) -> bytes:
        from synthdb.release import pgbinary

        if self.binary:
            return pgbinary.encode_rows(frame, [(c.name, c.pg_type) for c in self.columns])
        return _csv_text(frame[[c.name for c in self.columns]], self.columns).encode()

    def copy_sql(self, target: sql.Composable, freeze: bool = False) -> sql.Composable:
        names = sql.SQL(", ").join(sql.Identifier(c.name) for c in self.columns)
        options = sql.SQL("FORMAT binary" if self.binary else "FORMAT csv, NULL {}").format(
            sql.Literal(NULL_MARKER))
        if freeze:
            options = sql.SQL("{}, FREEZE").format(options)
        return sql.SQL("COPY {} ({}) FROM STDIN ({})").format(target, names, options)


def write_frames(conn, target: sql.Composable, columns: list[PgColumn],
                 frames: Iterable[pd.DataFrame]) -> int:
    """COPY each frame (chunk) into ``target``; returns the number of rows written.

    Chunks are produced and encoded (:class:`FrameEncoder`) in a thread while this one streams
    the previous chunk to PostgreSQL, so generating and copying overlap.
    """
    encoder = FrameEncoder(columns)
    return write_encoded(conn, target, encoder,
                         ((len(f), encoder(f)) for f in frames if len(f)))


def write_encoded(conn, target: sql.Composable, encoder: FrameEncoder,
                  blocks: Iterable[tuple[int, bytes]], freeze: bool = False) -> int:
    """COPY already encoded ``(rows, bytes)`` blocks (made by ``encoder``) into ``target``.

    ``blocks`` is consumed in a producer thread; at most ``QUEUE_CHUNKS`` blocks wait, so
    memory stays flat in the number of rows. Returns the number of rows written. ``freeze``
    (only for a table created in this transaction): rows are written frozen, so the checks'
    first scans do not rewrite every page to set hint bits.
    """
    from synthdb.release import pgbinary

    total = 0
    with conn.cursor() as cur, cur.copy(encoder.copy_sql(target, freeze)) as copy:
        if encoder.binary:
            copy.write(pgbinary.HEADER)
        for rows, block in _produced(blocks):
            if rows:
                copy.write(block)
                total += rows
        if encoder.binary:
            copy.write(pgbinary.TRAILER)
    return total


QUEUE_CHUNKS = 2


def _produced(blocks: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """The items of ``blocks``, drawn in a producer thread.

    The producer's exception is re-raised here; if the consumer stops early (a COPY error),
    the producer is told to stop and does not block on the full queue.
    """
    import queue
    import threading

    out: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()
    done = object()

    def put(item) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for item in blocks:
                if stop.is_set():
                    return
                put(item)
            put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
        finally:  # a generator of blocks (e.g. worker processes) is wound down here, its thread
            close = getattr(blocks, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="synthdb-copy-producer", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
