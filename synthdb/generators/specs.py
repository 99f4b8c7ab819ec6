"""Column specifications: what each column *is*, decided once and shared by every generator.

Kinds are decided from the PostgreSQL type when the caller has it (the database knows a column is
a ``date`` even though pandas reads it as ``datetime64``), and from the pandas dtype and the data
otherwise. Strings are the hard case: a text column with few distinct values is a category, one
that is (nearly) unique per row is an identifier or free text, which a copula cannot model without
copying values, so it is marked ``id``/``text`` and refused later unless the caller mocks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KINDS = frozenset(
    {"float", "integer", "boolean", "categorical", "datetime", "date", "id", "text", "constant"}
)
ROLES = frozenset({"quasi_identifier", "sensitive", "direct_identifier"})

_INT_TYPES = ("smallint", "integer", "bigint", "int", "int2", "int4", "int8", "serial", "bigserial")
_FLOAT_TYPES = ("real", "double precision", "float", "float4", "float8")
_TEXT_TYPES = ("text", "character varying", "varchar", "character", "char", "citext", "bpchar")
_NUMERIC_RE = re.compile(r"^(numeric|decimal)\s*(\(\s*(\d+)\s*(,\s*(\d+)\s*)?\))?$")
_ID_NAME_RE = re.compile(r"(^|[_\s])(id|uuid|guid)$", re.IGNORECASE)
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)

#: a string column whose distinct values exceed this share of its rows is treated as free text
TEXT_UNIQUE_SHARE = 0.5
#: ... but only once it has at least this many non-null rows (small frames repeat little)
TEXT_MIN_ROWS = 20


@dataclass
class ColumnSpec:
    """What a column is. Users may override ``kind`` (e.g. declare a text column categorical).

    ``bounds`` are user-declared hard limits (numbers or timestamps) applied on top of the
    generator's own protected bounds. ``scale`` is the number of decimals to round floats to.
    ``dtype`` is the pandas dtype the output must have (the mock generator needs it, the copula
    takes it from the training frame). ``categories`` is a declared value domain (mock only).
    """

    name: str
    kind: str
    nullable: bool = True
    pg_type: str | None = None
    role: str | None = None
    bounds: tuple[Any, Any] | None = None
    scale: int | None = None
    dtype: str | None = None
    categories: list[Any] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"column {self.name!r}: unknown kind {self.kind!r}; one of {sorted(KINDS)}"
            )
        if self.role is not None and self.role not in ROLES:
            raise ValueError(
                f"column {self.name!r}: unknown role {self.role!r}; one of {sorted(ROLES)}"
            )


def _kind_from_pg(pg: str) -> tuple[str | None, int | None]:
    """Kind (or None when the data must decide) and decimal scale from a format_type() string."""
    pg = pg.strip().lower()
    if pg == "uuid":
        return "id", None
    if pg.startswith("timestamp"):
        return "datetime", None
    if pg == "date":
        return "date", None
    if pg in ("boolean", "bool"):
        return "boolean", None
    if pg in _INT_TYPES:
        return "integer", 0
    m = _NUMERIC_RE.match(pg)
    if m:
        scale = int(m.group(5)) if m.group(5) is not None else (0 if m.group(3) else None)
        return ("integer" if scale == 0 else "float"), scale
    if pg in _FLOAT_TYPES:
        return "float", None
    if pg.split("(")[0].strip() in _TEXT_TYPES:
        return None, None
    if pg.startswith("time"):  # time of day / interval: not modelled
        return "text", None
    return "text", None  # json, arrays, bytea ...: no meaningful copula marginal


def _is_string_like(s: pd.Series) -> bool:
    return (
        pd.api.types.is_string_dtype(s.dtype)
        or s.dtype == object
        or isinstance(s.dtype, pd.CategoricalDtype)
    )


def _string_kind(name: str, nonnull: pd.Series) -> str:
    """categorical, id or text for a column of strings, by how unique its values are."""
    n = len(nonnull)
    n_unique = int(nonnull.nunique())
    if n_unique == n and n > 1:
        sample = nonnull.astype(str).head(200)
        if _ID_NAME_RE.search(str(name)) or sample.str.match(_UUID_RE).mean() > 0.9:
            return "id"
        return "id" if not sample.str.contains(r"\s").any() else "text"
    if n >= TEXT_MIN_ROWS and n_unique > TEXT_UNIQUE_SHARE * n:
        return "text"
    return "categorical"


def _decimals(values: np.ndarray, max_decimals: int = 6) -> int | None:
    """Smallest number of decimals that represents every value exactly (None if > max)."""
    if len(values) == 0:
        return None
    sample = values[:20_000]
    for d in range(max_decimals + 1):
        scaled = sample * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= np.maximum(1e-6, 1e-9 * np.abs(scaled))):
            return d
    return None


def infer_spec(name: str, s: pd.Series, pg_type: str | None = None) -> ColumnSpec:
    """Spec of one column from its PostgreSQL type (if known) and its data."""
    nonnull = s.dropna()
    nullable = bool(len(nonnull) < len(s))
    spec = ColumnSpec(
        name=name, kind="constant", nullable=nullable, pg_type=pg_type, dtype=str(s.dtype)
    )
    if len(nonnull) == 0:
        return spec
    kind, scale = _kind_from_pg(pg_type) if pg_type else (None, None)
    if kind is None:
        if pd.api.types.is_bool_dtype(s.dtype):
            kind = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            naive = nonnull.dt.tz_convert(None) if getattr(s.dtype, "tz", None) else nonnull
            kind = "date" if bool((naive == naive.dt.normalize()).all()) else "datetime"
        elif pd.api.types.is_integer_dtype(s.dtype):
            kind, scale = "integer", 0
        elif pd.api.types.is_float_dtype(s.dtype):
            kind = "float"
        elif _is_string_like(s):
            values = nonnull.map(type).unique() if s.dtype == object else [str]
            if all(v is bool or v is np.bool_ for v in values):
                kind = "boolean"
            elif all(issubclass(v, str) for v in values) or isinstance(
                s.dtype, pd.CategoricalDtype
            ):
                kind = _string_kind(name, nonnull)
            else:
                kind = "text"
        else:
            kind = "text"
    if kind == "integer" and len(nonnull) > 1 and _ID_NAME_RE.search(str(name)):
        if nonnull.nunique() == len(nonnull):
            kind = "id"
    if kind == "float" and scale is None:
        scale = _decimals(np.asarray(nonnull, dtype=float))
    if not nullable and kind not in ("id", "text") and nonnull.nunique() == 1:
        kind = "constant"
    spec.kind = kind
    spec.scale = scale if kind in ("float", "integer") else None
    if kind in ("id", "text"):
        spec.role = "direct_identifier"
    return spec


def infer_specs(frame: pd.DataFrame, pg_types: dict[str, str] | None = None) -> list[ColumnSpec]:
    """One ColumnSpec per column of ``frame``, in column order.

    ``pg_types`` maps column name to PostgreSQL ``format_type()`` text; it wins over the pandas
    dtype where they disagree (a ``date`` read as ``datetime64``, ``numeric(12,2)`` read as float).
    """
    pg_types = pg_types or {}
    return [infer_spec(c, frame[c], pg_types.get(c)) for c in frame.columns]
