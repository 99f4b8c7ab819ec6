"""Binary COPY of synthetic frames (synthdb.release.pgbinary through pgio.write_frames).

Real PostgreSQL: every type the generators emit is written with NULLs and edge values and read
back as PostgreSQL's own text, which is compared with what the value must be (for numeric: the
15-significant-digit decimal PostgreSQL's float8::numeric gives, rounded to the column's scale).
The binary path must also store exactly what the text (CSV) path stores for the same frame.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from synthdb.release import pgbinary, pgio

COLUMNS = [
    ("i2", "smallint"), ("i4", "integer"), ("i8", "bigint"), ("f4", "real"),
    ("f8", "double precision"), ("n", "numeric"), ("n2", "numeric(12,2)"),
    ("n0", "numeric(8)"), ("t", "text"), ("v", "character varying(20)"), ("b", "boolean"),
    ("d", "date"), ("ts", "timestamp without time zone"), ("tz", "timestamp with time zone"),
    ("u", "uuid"),
]


def _frame() -> pd.DataFrame:
    u = str(uuid.UUID(int=0x1234567890ABCDEF1234567890ABCDEF))
    return pd.DataFrame({
        "i2": pd.array([-32768, 32767, None, 0, 7], dtype="Int64"),
        "i4": pd.array([-2**31, 2**31 - 1, 5, None, 0], dtype="Int64"),
        "i8": pd.array([-2**63, 2**63 - 1, None, 42, -1], dtype="Int64"),
        "f4": [1.5, -0.25, np.nan, 3.0e38, 0.0],
        "f8": [1e-300, -1.7976931348623157e308, 0.1, np.nan, 123456.789],
        "n": [12345.67, -0.000123, np.nan, 1.2345e20, 0.0],
        "n2": [0.125, -1.005, 249999.995, np.nan, 1e9],
        "n0": [2.5, -2.5, 0.49, 1234567.0, np.nan],
        "t": pd.Series(["plain", "", None, "ünïcødé ✓ 'q' \"d\" ,;\\N", "new\nline\ttab"],
                       dtype="str"),
        "v": pd.Series(["a", None, "b" * 20, "", "x"], dtype=object),
        "b": pd.array([True, False, None, True, False], dtype="boolean"),
        "d": pd.to_datetime(["2024-02-29", "1999-12-31", None, "2000-01-01", "1900-03-01"]),
        "ts": pd.to_datetime(["2024-03-31 01:30:00.123456", "1970-01-01", None,
                              "2000-01-01 00:00:00.000001", "1960-06-15 12:00:00"], format="ISO8601"),
        "tz": pd.to_datetime(["2024-03-31 01:30:00.5", "1999-12-31 23:59:59", None,
                              "2030-01-01", "1950-01-01 12:00"], format="ISO8601").tz_localize("UTC"),
        "u": pd.Series([u, None, u.upper(), "00000000-0000-0000-0000-000000000000", u],
                       dtype=object),
    })


def _table(conn, name: str) -> sql.Composable:
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(name), sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in COLUMNS)))
    return sql.Identifier(name)


def _columns() -> list[pgio.PgColumn]:
    return [pgio.PgColumn(c, t, "X", False) for c, t in COLUMNS]


def _text_rows(conn, name: str) -> list[tuple]:
    conn.execute("SET TimeZone = 'UTC'")
    return conn.execute(sql.SQL("SELECT {} FROM {} ORDER BY ctid").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c, _ in COLUMNS),
        sql.Identifier(name))).fetchall()


def _pg15(x: float, scale: int | None = None) -> str:
    """What the numeric value must be: float8::numeric (15 digits) when unconstrained, else
    the float's exact binary value rounded half away from zero to the column's scale."""
    if scale is not None:
        return str(Decimal(x).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP))
    d = Decimal(format(x, ".15g"))
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def test_binary_copy_round_trips_every_type_and_null(fresh_db):
    frame = _frame()
    with psycopg.connect(fresh_db.conninfo()) as conn:
        written = pgio.write_frames(conn, _table(conn, "bin"), _columns(),
                                    iter([frame.iloc[:2], frame.iloc[2:2], frame.iloc[2:]]))
        assert written == 5
        rows = _text_rows(conn, "bin")
        back = pgio.read_frame(conn, sql.SQL("SELECT * FROM bin"), _columns())
    col = {c: [r[i] for r in rows] for i, (c, _) in enumerate(COLUMNS)}
    assert col["i2"] == ["-32768", "32767", None, "0", "7"]
    assert col["i8"] == [str(-2**63), str(2**63 - 1), None, "42", "-1"]
    assert col["f4"] == ["1.5", "-0.25", None, "3e+38", "0"]
    assert col["f8"][:3] == ["1e-300", "-1.7976931348623157e+308", "0.1"] and col["f8"][3] is None
    assert col["n"] == [_pg15(12345.67), _pg15(-0.000123), None, "123450000000000000000", "0"]
    # 0.125 is a binary tie (half away from zero); 1.005 and 249999.995 are just below one
    assert col["n2"] == ["0.13", "-1.00", "249999.99", None, "1000000000.00"]
    assert col["n0"] == ["3", "-3", "0", "1234567", None]
    assert col["t"] == ["plain", "", None, "ünïcødé ✓ 'q' \"d\" ,;\\N", "new\nline\ttab"]
    assert col["v"] == ["a", None, "b" * 20, "", "x"]
    assert col["b"] == ["true", "false", None, "true", "false"]
    assert col["d"] == ["2024-02-29", "1999-12-31", None, "2000-01-01", "1900-03-01"]
    assert col["ts"] == ["2024-03-31 01:30:00.123456", "1970-01-01 00:00:00", None,
                         "2000-01-01 00:00:00.000001", "1960-06-15 12:00:00"]
    assert col["tz"] == ["2024-03-31 01:30:00.5+00", "1999-12-31 23:59:59+00", None,
                         "2030-01-01 00:00:00+00", "1950-01-01 12:00:00+00"]
    assert col["u"][1] is None and col["u"][0] == col["u"][2] == col["u"][4]
    assert col["u"][3] == "00000000-0000-0000-0000-000000000000"
    # and it reads back into the dtypes the generators use, NULLs as NULLs
    assert back["i4"].isna().tolist() == [False, False, False, True, False]
    assert back["t"].isna().sum() == 1 and (back["t"] == "").sum() == 1


def test_binary_copy_stores_what_the_text_path_stores(fresh_db):
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame({
        "i2": pd.array(rng.integers(-3000, 3000, n), dtype="Int64"),
        "i4": pd.array(rng.integers(-10**9, 10**9, n), dtype="Int64"),
        "i8": pd.array(rng.integers(-10**15, 10**15, n), dtype="Int64"),
        "f4": rng.normal(size=n).astype(np.float32).astype(float),
        "f8": rng.lognormal(3, 4, n),
        "n": np.round(rng.lognormal(8, 3, n) * np.sign(rng.normal(size=n)), 2),
        "n2": rng.normal(0, 1e5, n),
        "n0": rng.normal(0, 1e6, n),
        "t": pd.Series(rng.choice(["north", "süd", "", "o'neil"], n), dtype="str"),
        "v": pd.Series(rng.choice(["a", "bb", "ccc"], n), dtype=object),
        "b": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        "d": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D"),
        "ts": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**14, n), unit="us"),
        "tz": (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**14, n), unit="us")
               ).tz_localize("UTC"),
        "u": pd.Series([str(uuid.UUID(int=int(x))) for x in rng.integers(0, 2**62, n)]),
    })
    for i, c in enumerate(frame.columns):  # NULLs everywhere
        frame.loc[rng.random(n) < 0.03 + 0.01 * i, c] = None
    with psycopg.connect(fresh_db.conninfo()) as conn:
        pgio.write_frames(conn, _table(conn, "bin"), _columns(), [frame])
        conn.execute("CREATE TABLE txt (LIKE bin)")
        with conn.cursor() as cur, cur.copy(sql.SQL(
                "COPY txt FROM STDIN (FORMAT csv, NULL {})").format(
                sql.Literal(pgio.NULL_MARKER))) as copy:
            copy.write(pgio._csv_text(frame, _columns()))
        differ = conn.execute("SELECT count(*) FROM ((TABLE bin EXCEPT ALL TABLE txt) UNION ALL "
                              "(TABLE txt EXCEPT ALL TABLE bin)) d").fetchone()[0]
        nulls = conn.execute("SELECT count(*) FILTER (WHERE n IS NULL), "
                             "count(*) FILTER (WHERE t IS NULL) FROM bin").fetchone()
    assert differ == 0
    assert nulls == (int(frame["n"].isna().sum()), int(frame["t"].isna().sum()))


@pytest.mark.parametrize("seed", range(3))
def test_numeric_parts_match_fifteen_digit_decimal(seed):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0, 12, 5000) * np.sign(rng.normal(size=5000))
    x[:50] = np.round(x[:50], 2)  # values a generator rounded, and binary ties
    x[50:60] = [0.125, 2.5, -0.375, 1e-9, 123456789012345678.0, 5e-324, 1e300, 0.1, 1.0, 1e15]
    for scale in (None, 2):
        if scale is not None:  # numeric(p, 2) holds at most 16 digits here
            x = x[np.abs(x) < 1e13]
        mant, exp = pgbinary.decimal_parts(x, scale)
        got = [Decimal(int(m)).scaleb(-int(e)) for m, e in zip(mant, exp, strict=True)]
        want = [abs(Decimal(_pg15(v, scale))) for v in x]
        assert got == want


def test_out_of_range_integer_names_the_column_and_writes_nothing(fresh_db):
    frame = _frame()
    frame["i2"] = pd.array([1, 40000, None, 0, 7], dtype="Int64")
    with psycopg.connect(fresh_db.conninfo()) as conn:
        target = _table(conn, "bin")
        conn.commit()
        with pytest.raises(pgbinary.EncodeError, match="'i2'.*out of range"):
            pgio.write_frames(conn, target, _columns(), [frame.iloc[:1], frame.iloc[1:]])
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM bin").fetchone()[0] == 0


def test_a_failing_chunk_producer_stops_the_copy(fresh_db):
    frame = _frame()

    def chunks():
        yield frame
        raise RuntimeError("sampler broke")

    with psycopg.connect(fresh_db.conninfo()) as conn:
        target = _table(conn, "bin")
        conn.commit()
        with pytest.raises(RuntimeError, match="sampler broke"):
            pgio.write_frames(conn, target, _columns(), chunks())
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM bin").fetchone()[0] == 0


@pytest.mark.parametrize("bad", [
    "12345678-1234-1234-1234-12345678901g",  # not a hex digit
    "1234567-81234-1234-1234-123456789012",  # a dash out of place
    "12345678-1234-1234-1234-1234567890 1",  # whitespace (bytes.fromhex would skip it)
    "12345678 1234 1234 1234 123456789012",  # no dashes
    "12345678-1234-1234-1234-12345678901é",  # not ASCII
])
def test_uuid_text_that_is_not_a_uuid_names_the_column(bad):
    good = str(uuid.UUID(int=7))
    frame = pd.DataFrame({"u": pd.Series([good, None, bad, good], dtype=object)})
    with pytest.raises(pgbinary.EncodeError, match="'u'"):
        pgbinary.encode_rows(frame, [("u", "uuid")])
    ok = pgbinary.encode_rows(frame.iloc[[0, 1, 3]], [("u", "uuid")])
    assert ok.count(uuid.UUID(int=7).bytes) == 2


def test_numeric_display_scale_is_postgresqls_own(fresh_db):
    """The text of each binary-written numeric (digits after the point included) is what
    PostgreSQL's own float8::numeric prints for the same double: trailing zeros of every
    length, integers, tiny and huge values, negatives."""
    rng = np.random.default_rng(8)
    base = rng.lognormal(0, 6, 4000) * np.sign(rng.normal(size=4000))
    x = np.concatenate([np.round(base, d) for d in range(-3, 9)]
                       + [[1e15 - 1, 123456789012345.0, 100.0, 0.1, 1e-8, 7e-20, 0.0]])
    frame = pd.DataFrame({"n": x, "f": x})
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("CREATE TABLE nums (n numeric, f double precision)")
        pgio.write_frames(conn, sql.Identifier("nums"),
                          [pgio.PgColumn("n", "numeric", "X", False),
                           pgio.PgColumn("f", "double precision", "X", False)], [frame])
        differ = conn.execute("SELECT count(*) FROM nums WHERE n::text <> f::numeric::text"
                              ).fetchone()[0]
        assert conn.execute("SELECT count(*) FROM nums").fetchone()[0] == len(x)
    assert differ == 0
