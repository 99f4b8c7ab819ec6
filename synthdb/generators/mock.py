"""Mock generator: rows from the schema alone, never from source rows.

It is the "mock all" release mode (highest separation, lowest utility) and also fills columns a
copula must not model (identifiers, free text) when the caller asks for that. Values come from
declared bounds and categories where the spec has them, otherwise from Faker providers chosen by
column name. Faker is called once per distinct pool value (at most a few thousand times), and
rows are drawn from the pool with numpy, so large samples stay fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError

from .specs import ColumnSpec

NULL_SHARE = 0.05
POOL_SIZE = 2_000
_DEFAULT_START = np.datetime64("2020-01-01T00:00:00", "us").astype(np.int64)
_DEFAULT_END = np.datetime64("2025-01-01T00:00:00", "us").astype(np.int64)

#: (column-name pattern, Faker provider) — first match wins
_FAKER_BY_NAME: list[tuple[str, str]] = [
    (r"e.?mail", "email"),
    (r"first.?name|given", "first_name"),
    (r"last.?name|surname|family", "last_name"),
    (r"name", "name"),
    (r"phone|mobile|tel", "phone_number"),
    (r"street|address|addr", "street_address"),
    (r"city|town", "city"),
    (r"country", "country"),
    (r"zip|postal|postcode", "postcode"),
    (r"company|employer|org", "company"),
    (r"url|website|homepage", "url"),
    (r"user.?name|login", "user_name"),
    (r"job|title|occupation", "job"),
]


def default_dtype(spec: ColumnSpec) -> Any:
    """The pandas dtype the lead's reader would produce for this spec."""
    if spec.dtype:
        return spec.dtype
    pg = (spec.pg_type or "").lower()
    if spec.kind == "integer":
        return "Int64"
    if spec.kind == "float":
        return "float64"
    if spec.kind == "boolean":
        return "boolean"
    if spec.kind in ("date", "datetime"):
        return "datetime64[us, UTC]" if "with time zone" in pg else "datetime64[us]"
    return pd.Series(["x"]).dtype  # default string dtype of this pandas (str on 3.x, object on 2.x)


_UUID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))  # hex digits of each group
_UUID_GROUPS_AT = (0, 9, 14, 19, 24)  # where each group starts in the text


def random_uuids(n: int, rng: np.random.Generator) -> pd.api.extensions.ExtensionArray:
    """Version-4 UUID strings from ``rng`` (seeded, unlike uuid.uuid4), without a Python loop.

    The 36 ASCII characters of each value are written into one byte buffer and handed to Arrow
    as a string array: no Python string per value (at 200k values the former U36 -> object
    conversion took 0.15-0.4 s of each sampled chunk; this takes 0.05 s), and the binary COPY
    encoder reads the Arrow buffer as it is. Same values for the same ``rng`` as before.
    """
    import pyarrow as pa

    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for at, (lo, hi) in zip(_UUID_GROUPS_AT, _UUID_GROUPS, strict=True):  # 8-4-4-4-12 digits
        text[:, at:at + hi - lo] = digits[:, lo:hi]
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int64)
    strings = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    return pd.array(strings, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _faker_pool(spec: ColumnSpec, size: int, seed: int) -> list[str]:
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    provider: Callable[[], Any] | None = None
    for pattern, name in _FAKER_BY_NAME:
        if re.search(pattern, str(spec.name), re.IGNORECASE):
            provider = getattr(fake, name)
            break
    if provider is None:
        provider = fake.word if spec.kind == "categorical" else fake.sentence
    return [str(provider()) for _ in range(size)]


def _bounds_us(spec: ColumnSpec) -> tuple[int, int]:
    if spec.bounds is None:
        return int(_DEFAULT_START), int(_DEFAULT_END)
    lo, hi = (pd.Timestamp(b) for b in spec.bounds)
    lo = lo.tz_convert(None) if lo.tzinfo else lo
    hi = hi.tz_convert(None) if hi.tzinfo else hi
    return int(lo.value // 1000), int(hi.value // 1000)


def mock_column(spec: ColumnSpec, n: int, rng: np.random.Generator) -> pd.Series:
    """``n`` schema-only values for one column, in its output dtype."""
    from ._output import constant_series, datetime_series, numeric_series

    dtype = default_dtype(spec)
    null = rng.random(n) < NULL_SHARE if spec.nullable else None
    kind = spec.kind
    if kind == "constant":
        return constant_series(None, n, dtype)
    if kind in ("integer", "float"):
        lo, hi = spec.bounds if spec.bounds is not None else (0, 1000)
        v = rng.uniform(float(lo), float(hi), n)
        if kind == "integer":
            v = np.clip(np.round(v), np.ceil(float(lo)), np.floor(float(hi)))
        elif spec.scale is not None:
            v = np.round(v, spec.scale)
        return numeric_series(v, null, dtype)
    if kind in ("date", "datetime"):
        lo, hi = _bounds_us(spec)
        us = rng.integers(lo, hi + 1, n)
        step = 86_400_000_000 if kind == "date" else 1_000_000
        return datetime_series((us // step) * step, null, dtype)
    if kind == "boolean":
        codes = (rng.random(n) < 0.5).astype(np.intp)
        uniques = pd.array([False, True], dtype="boolean")
    elif kind == "id":
        codes = np.arange(n, dtype=np.intp)
        uniques = random_uuids(n, rng)
    else:
        if kind == "categorical" and spec.categories:
            pool = list(spec.categories)
        else:
            pool = _faker_pool(spec, min(POOL_SIZE, max(n, 1)), int(rng.integers(2**31)))
        uniques = np.asarray(pool, dtype=object)
        codes = rng.integers(0, len(pool), n).astype(np.intp)
    if null is not None:
        codes = np.where(null, -1, codes)
    from ._output import take_series

    return take_series(uniques, codes, dtype)


class MockGenerator:
    """Schema-only generator (no source rows are read). Same sampling API as GaussianCopula."""

    def __init__(self, seed: int | None = None, chunk_size: int = 100_000) -> None:
        self.seed = seed
        self.chunk_size = chunk_size

    def fit(
        self, frame: pd.DataFrame | None = None, specs: list[ColumnSpec] | None = None
    ) -> MockGenerator:
        """Keep the specs; ``frame`` is ignored on purpose (only its column list if no specs)."""
        if specs is None:
            if frame is None:
                raise ConfigError("MockGenerator.fit needs column specs (or a frame to infer them)")
            from .specs import infer_specs

            specs = infer_specs(frame.head(0) if len(frame) == 0 else frame.head(0))
        self.specs_ = list(specs)
        return self

    def sample(self, n: int, seed: int | None = None) -> pd.DataFrame:
        chunks = list(self.sample_chunks(n, seed=seed))
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]

    def sample_chunks(
        self, n: int, seed: int | None = None, chunk_size: int | None = None
    ) -> Iterator[pd.DataFrame]:
        if not hasattr(self, "specs_"):
            raise ConfigError("MockGenerator: call fit(None, specs) before sampling")
        if n < 0:
            raise ConfigError(f"MockGenerator: number of rows must be >= 0, got {n}")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        size = int(chunk_size or self.chunk_size)
        start = 0
        while True:
            m = min(size, n - start)
            cols = [mock_column(s, m, rng) for s in self.specs_]
            yield _frame(cols, [s.name for s in self.specs_])
            start += m
            if start >= n:
                return

    def describe(self) -> dict:
        return {
            "method": "mock",
            "version": "1",
            "reads_source_rows": False,
            "columns": {str(s.name): {"kind": s.kind, "nullable": s.nullable} for s in self.specs_},
        }


def _frame(cols: list[pd.Series], names: list[Any]) -> pd.DataFrame:
    """DataFrame from series in order, safe for duplicate or odd column names."""
    df = (
        pd.concat([c.reset_index(drop=True) for c in cols], axis=1, ignore_index=True)
        if cols
        else pd.DataFrame()
    )
    df.columns = pd.Index(names, dtype=object)
    return df
