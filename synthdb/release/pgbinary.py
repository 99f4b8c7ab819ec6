"""PostgreSQL binary COPY buffers built column by column with numpy (no per-row Python).

Why: writing synthetic rows as CSV (``DataFrame.to_csv``) formatted every value in Python and
cost more than half of the sample-and-write stage (issue 15); PostgreSQL then parsed the text
again. The binary COPY format carries each value in its on-the-wire binary form, so encoding is
a handful of vectorised numpy operations per column and PostgreSQL does no text parsing.

Layout (PostgreSQL docs, "COPY ... Binary Format"): a header, then per row an int16 field count
and per field an int32 byte length (-1 for NULL) followed by the value's bytes, all big-endian;
a trailer int16 -1 ends the stream. Each column is encoded on its own into per-row pieces
(the length word and the value's bytes, as Arrow binary arrays over numpy buffers) and Arrow's
``binary_join_element_wise`` concatenates every row's pieces in C++: one pass, where scattering
each column's bytes to per-byte offsets with numpy cost a third of a chunk's encoding.

Values and NULLs (exactness):
- integers (smallint/integer/bigint): out-of-range values raise a clear error (binary would
  otherwise wrap silently); NULL from pandas ``NA``.
- real/double precision: the float as is (NaN is NULL, like the CSV path's ``na_rep``).
- numeric: the nearest decimal with 15 significant digits (what PostgreSQL's own
  ``float8::numeric`` gives), rounded half away from zero to the column's scale when it has one
  (what PostgreSQL does with the CSV text); NaN is NULL, +-inf are Infinity.
- text/varchar/char: UTF-8 bytes (through Arrow, vectorised); bool; date (days since
  2000-01-01); timestamp and timestamptz (microseconds since 2000-01-01; tz-aware values as
  UTC instants, naive values into timestamptz are taken as UTC); uuid (canonical text form).
Any other column type (money, json, arrays, ...) is not encoded here: :func:`encodable` says
so and the caller falls back to text COPY.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import SynthdbError

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_DAYS = 10957  # 2000-01-01 minus 1970-01-01, in days
PG_EPOCH_US = PG_EPOCH_DAYS * 86_400_000_000
INT_WIDTH = {"smallint": 2, "integer": 4, "bigint": 8}
FLOAT_WIDTH = {"real": 4, "double precision": 8}
TEXT_TYPES = {"text", "character varying", "varchar", "character", "bpchar", "char"}
NUMERIC_GROUPS = 5  # base-10000 digits per value: 15 significant digits, aligned, fit in 5
SIG_DIGITS = 15
POW10 = 10 ** np.arange(19, dtype=np.int64)
POW10F = 10.0 ** np.arange(23)  # exact doubles


class EncodeError(SynthdbError):
    """A value cannot be written into its column (names the column)."""


def encodable(pg_type: str) -> bool:
    """True when a column of catalog type ``pg_type`` is encoded by this module."""
    base = pg_type.split("(")[0].strip()
    return (base in INT_WIDTH or base in FLOAT_WIDTH or base in TEXT_TYPES
            or base in ("numeric", "decimal", "boolean", "date", "uuid")
            or base.startswith("timestamp"))


def _binary(offsets: np.ndarray, data: np.ndarray) -> Any:
    """An Arrow large_binary array over numpy buffers: row i is ``data[offsets[i]:offsets[i+1]]``."""
    import pyarrow as pa

    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1,
        [None, pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int64)),
         pa.py_buffer(np.ascontiguousarray(data))])


def _every(n: int, width: int, data: np.ndarray) -> Any:
    """``n`` pieces of ``width`` bytes each, back to back in ``data``."""
    return _binary(np.arange(0, n * width + 1, width, dtype=np.int64), data)


class _Field:
    """One column's encoded values: byte length per row (-1 NULL) and the value bytes."""

    def __init__(self, lengths: np.ndarray, fixed: np.ndarray | None = None,
                 data: np.ndarray | None = None, offsets: np.ndarray | None = None) -> None:
        self.lengths = lengths.astype(np.int64)  # -1 for NULL
        self.fixed = fixed  # (n, width) uint8 for fixed-width values (rows with NULL ignored)
        self.data = data  # variable width: all bytes, row i at data[offsets[i]:offsets[i+1]]
        self.offsets = offsets

    def pieces(self) -> list[Any]:
        """The field of every row as Arrow binary pieces to join: its length word, then its
        value's bytes (none for NULL); one piece of both when no value is NULL."""
        n = len(self.lengths)
        null = self.lengths < 0
        words = self.lengths.astype(">i4").view(np.uint8).reshape(-1, 4)
        if self.fixed is not None and not null.any():
            return [_every(n, 4 + self.fixed.shape[1], np.concatenate([words, self.fixed], axis=1))]
        sizes = np.maximum(self.lengths, 0)
        ends = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=ends[1:])
        if self.fixed is not None:
            values = self.fixed[~null]
        elif self.data is None:
            values = np.zeros(0, dtype=np.uint8)
        elif np.array_equal(np.diff(self.offsets), sizes):  # NULL rows hold no bytes
            values = self.data[self.offsets[0]:self.offsets[-1]]
        else:
            keep = np.flatnonzero(~null)
            starts = self.offsets[keep]
            values = self.data[np.repeat(starts - ends[keep], sizes[keep]) + np.arange(ends[-1])]
        return [_every(n, 4, words), _binary(ends, values)]


def _fixed(values: np.ndarray, null: np.ndarray, dtype: str) -> _Field:
    width = np.dtype(dtype).itemsize
    raw = np.ascontiguousarray(values, dtype=dtype).view(np.uint8).reshape(-1, width)
    return _Field(np.where(null, -1, width), fixed=raw)


def _integers(series: pd.Series, base: str, name: str) -> _Field:
    null = series.isna().to_numpy()
    try:
        values = series.to_numpy(dtype="float64" if series.dtype.kind == "f" else "int64",
                                 na_value=0)
    except (TypeError, ValueError) as exc:
        raise EncodeError(f"column {name!r} ({base}): values are not integers") from exc
    if values.dtype.kind == "f":
        values = np.round(values)
    width = INT_WIDTH[base]
    limit = 2 ** (8 * width - 1)
    bad = ~null & ((values < -limit) | (values >= limit))
    if bad.any():
        raise EncodeError(f"column {name!r} ({base}): {int(bad.sum())} value(s) out of range")
    return _fixed(values.astype(np.int64), null, f">i{width}")


def _floats(series: pd.Series, base: str) -> _Field:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    return _fixed(values, np.isnan(values), f">f{FLOAT_WIDTH[base]}")


def _scale_of(pg_type: str) -> int | None:
    """The declared scale of ``numeric(p, s)`` (0 for ``numeric(p)``), None if unconstrained."""
    if "(" not in pg_type:
        return None
    inside = pg_type.split("(", 1)[1].rstrip(")").split(",")
    return int(inside[1]) if len(inside) > 1 else 0


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Veltkamp split: a == hi + lo exactly, each with at most 26 significant bits."""
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _rounded_product(x: np.ndarray, p10: np.ndarray | float, half_even: bool) -> np.ndarray:
    """round(x * p10) computed exactly, as float integers.

    ``x * p10`` in floating point is off by up to half an ulp, which moves the rounding of a
    few % of 15-digit values. Where the rounded product lies that close to a half, Dekker's
    two-product gives the exact error term, which decides. Valid while ``p10`` is an exact
    power of ten (<= 1e22) and the product is below 2**53.
    """
    prod = x * p10
    low = np.floor(prod)
    beyond_half = (prod - low) - 0.5
    out = low + (beyond_half > 0)
    close = np.flatnonzero(np.abs(beyond_half) <= prod * 2.0 ** -52)
    if len(close):
        xc = x[close]
        pc = p10[close] if isinstance(p10, np.ndarray) else p10
        pr = prod[close]
        xh, xl = _split(xc)
        ph, pl = _split(pc)
        err = ((xh * ph - pr) + xh * pl + xl * ph) + xl * pl
        exact = beyond_half[close] + err  # the sign is exact: both terms are exact doubles
        lc = low[close]
        tie_up = (np.fmod(lc, 2) == 1) if half_even else np.ones(len(close), dtype=bool)
        out[close] = lc + ((exact > 0) | ((exact == 0) & tie_up))
    return out


def _exact_parts(value: float, scale: int | None) -> tuple[int, int]:
    """One value's (mantissa, exponent) the slow exact way (outside the fast path's range)."""
    from decimal import ROUND_HALF_UP, Decimal

    d = (Decimal(format(value, f".{SIG_DIGITS}g")) if scale is None else
         Decimal(value).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP))
    t = abs(d).as_tuple()
    mant = int("".join(map(str, t.digits)) or "0")
    exp = -int(t.exponent)
    if scale is None and mant:
        while mant % 10 == 0 and exp > 0:  # keep the int64 alignment headroom
            mant //= 10
            exp -= 1
    if mant >= 9 * 10 ** 15:  # the base-10000 alignment below must stay inside int64
        raise OverflowError(f"{value!r} has too many digits for numeric({scale})")
    return mant, exp


def decimal_parts(values: np.ndarray, scale: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(mantissa, exponent) per finite value: |value| == mantissa * 10**-exponent.

    Unconstrained numeric (``scale`` None): the 15-significant-digit decimal that
    ``float8::numeric`` and printf's ``%.15g`` give (ties to even). With a ``scale``: the exact
    binary value rounded half away from zero to ``scale`` decimals. Exact in both cases: a fast
    vectorised path covers 1e-8 <= |value| < 1e15 (and scales up to 15), the rest goes value by
    value through ``decimal``.
    """
    mag = np.abs(np.asarray(values, dtype=np.float64))
    zero = mag == 0
    safe = np.where(zero, 1.0, mag)
    if scale is None:
        exp = SIG_DIGITS - 1 - np.floor(np.log10(safe)).astype(np.int64)
        ok = (exp >= 0) & (exp <= 22)
        mant = _rounded_product(safe, POW10F[np.clip(exp, 0, 22)], half_even=True)
        # log10 can be one off next to a power of ten: redo those few rows
        off = np.flatnonzero((mant >= 10.0 ** SIG_DIGITS) | (mant < 10.0 ** (SIG_DIGITS - 1)))
        if len(off):
            exp[off] += np.where(mant[off] >= 10.0 ** SIG_DIGITS, -1, 1)
            ok[off] &= (exp[off] >= 0) & (exp[off] <= 22)
            mant[off] = _rounded_product(safe[off], POW10F[np.clip(exp[off], 0, 22)],
                                         half_even=True)
    else:
        exp = np.full(len(mag), scale, dtype=np.int64)
        p10 = 10.0 ** min(max(scale, 0), 22)
        ok = np.full(len(mag), 0 <= scale <= 15) & (safe * p10 < 2.0 ** 53)
        mant = _rounded_product(safe, p10, half_even=False)
    ok |= zero
    mant = np.where(zero | ~ok, 0, mant).astype(np.int64)
    exp = np.where(zero, 0, exp).astype(np.int64)
    for i in np.flatnonzero(~ok):
        mant[i], exp[i] = _exact_parts(float(mag[i]), scale)
    return mant, exp


def _trailing_zeros(mant: np.ndarray) -> np.ndarray:
    """Trailing decimal zeros of each integer below 10**16 (0 for 0), in four halving steps."""
    count = np.zeros(len(mant), dtype=np.int64)
    rest = mant
    for digits in (8, 4, 2, 1):
        shorter, left = np.divmod(rest, POW10[digits])
        hit = (left == 0) & (rest != 0)
        count += digits * hit
        rest = np.where(hit, shorter, rest)
    return count


def _numerics(series: pd.Series, pg_type: str) -> _Field:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    null = np.isnan(values)
    inf = np.isinf(values)
    finite = np.where(null | inf, 0.0, values)
    mant, exp = decimal_parts(finite, _scale_of(pg_type))
    # Align the exponent on base-10000 groups: value = big * 10000**-(align/4).
    align = -((-exp) // 4) * 4
    big = mant * POW10[align - exp]  # < 10**18 < 2**63
    n = len(mant)
    words = np.empty((n, 4 + NUMERIC_GROUPS), dtype=np.int64)  # header, then base-10000 digits
    for k in range(NUMERIC_GROUPS - 1, -1, -1):  # least significant digit first
        big, words[:, 4 + k] = np.divmod(big, 10000)
    weight = NUMERIC_GROUPS - 1 - align // 4
    dscale = exp
    if _scale_of(pg_type) is None:  # with a declared scale PostgreSQL sets the display scale
        dscale = np.maximum(exp - _trailing_zeros(mant), 0)
    words[:, 0] = NUMERIC_GROUPS
    words[:, 1] = np.where(inf, 0, weight)
    words[:, 2] = np.where(inf, np.where(values > 0, 0xD000, 0xF000),
                           np.where(finite < 0, 0x4000, 0))
    words[:, 3] = np.where(inf, 0, np.maximum(dscale, 0))
    words[inf, 4:] = 0
    raw = words.astype(">u2").view(np.uint8).reshape(n, -1)
    return _Field(np.where(null, -1, raw.shape[1]), fixed=raw)


def _strings(series: pd.Series, name: str) -> _Field:
    import pyarrow as pa

    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    try:
        arr = pa.array(series, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        as_text = series.astype(object).where(series.isna(), series.astype(str))
        arr = pa.array(as_text, type=pa.large_string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + n + 1]
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(
        0, np.uint8)
    null = arr.is_null().to_numpy(zero_copy_only=False)
    lengths = np.where(null, -1, np.diff(offsets))
    return _Field(lengths, data=data, offsets=offsets)


def _booleans(series: pd.Series) -> _Field:
    null = series.isna().to_numpy()
    values = series.to_numpy(dtype=object, na_value=False).astype(bool)
    return _fixed(values.astype(np.uint8), null, "u1")


def _microseconds(series: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(microseconds since 1970 UTC or naive, null mask) of a datetime-like column."""
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, errors="raise", format="mixed")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    null = series.isna().to_numpy()
    values = series.to_numpy(dtype="datetime64[us]").view(np.int64)
    return np.where(null, 0, values), null


def _dates(series: pd.Series, name: str) -> _Field:
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, errors="raise")
    us, null = _microseconds(series, name)
    days = np.floor_divide(us, 86_400_000_000) - PG_EPOCH_DAYS
    return _fixed(days, null, ">i4")


def _timestamps(series: pd.Series, name: str) -> _Field:
    us, null = _microseconds(series, name)
    return _fixed(us - PG_EPOCH_US, null, ">i8")


UUID_DASHES = np.array([8, 13, 18, 23])


def _uuids(series: pd.Series, name: str) -> _Field:
    text = _strings(series, name)
    valid = text.lengths >= 0
    if (text.lengths[valid] != 36).any():
        raise EncodeError(f"column {name!r} (uuid): values must be canonical UUID text")
    n = len(text.lengths)
    rows = np.flatnonzero(valid)
    start = text.offsets[rows]
    if len(rows) and start[-1] - start[0] == 36 * (len(rows) - 1):
        # the values lie back to back (no gaps for NULLs): a (rows, 36) view, no gather
        chars = text.data[start[0]:start[0] + 36 * len(rows)].reshape(-1, 36)
    else:
        chars = text.data[start[:, None] + np.arange(36)].reshape(-1, 36)
    try:
        # dashes dropped, bytes.fromhex: 32 hex digits -> 16 bytes per value, in C; any other
        # character fails
        raw16 = bytes.fromhex(chars.tobytes().translate(None, b"-").decode("ascii"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncodeError(f"column {name!r} (uuid): a value is not a UUID") from exc
    # (a dash elsewhere, or whitespace, which fromhex skips between digit pairs, leaves fewer)
    if len(raw16) != 16 * len(rows) or (chars[:, UUID_DASHES] != ord("-")).any():
        raise EncodeError(f"column {name!r} (uuid): a value is not a UUID")
    raw = np.zeros((n, 16), dtype=np.uint8)
    raw[rows] = np.frombuffer(raw16, dtype=np.uint8).reshape(-1, 16)
    return _Field(np.where(valid, 16, -1), fixed=raw)


def encode_column(series: pd.Series, pg_type: str, name: str) -> _Field:
    """Encode one column (``pg_type``: the catalog's ``format_type`` text)."""
    base = pg_type.split("(")[0].strip()
    if base in INT_WIDTH:
        return _integers(series, base, name)
    if base in FLOAT_WIDTH:
        return _floats(series, base)
    if base in ("numeric", "decimal"):
        return _numerics(series, pg_type)
    if base in TEXT_TYPES:
        return _strings(series, name)
    if base == "boolean":
        return _booleans(series)
    if base == "date":
        return _dates(series, name)
    if base.startswith("timestamp"):
        return _timestamps(series, name)
    if base == "uuid":
        return _uuids(series, name)
    raise EncodeError(f"column {name!r}: type {pg_type} has no binary encoder")


def encode_rows(frame: pd.DataFrame, columns: list[tuple[str, str]]) -> bytes:
    """The rows of ``frame`` as binary COPY tuples (no header/trailer); ``columns``: (name, type)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(frame)
    pieces = [_every(n, 2, np.full(n, len(columns), dtype=">i2"))]  # the field count
    for name, pg_type in columns:
        try:
            pieces += encode_column(frame[name], pg_type, name).pieces()
        except EncodeError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise EncodeError(f"column {name!r} ({pg_type}): cannot encode: {exc}") from exc
    if not n:
        return b""
    rows = pc.binary_join_element_wise(*pieces, pa.scalar(b"", pa.large_binary()))
    bounds = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + n + 1]
    return rows.buffers()[2][int(bounds[0]):int(bounds[-1])].to_pybytes()
