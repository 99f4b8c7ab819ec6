"""Fresh key values for the tables of one release: random, unique, never derived from the source.

A released key must not be linkable to the source key (no consistent mapping such as a hash or
a pseudonym) nor to the same entity's key in another release. So keys are drawn from the
operating system's randomness, never from the release seed: with a fixed seed the attributes are
reproducible, the keys are not, and two releases never share a key system.

Nor may a released key *equal* a real key: a released row whose id is a real customer's id
looks like that customer's row to the recipient and to an auditor scanning the release for real
ids. Integer keys are therefore drawn from a reserved range, the upper half of the type's
positive values (``reserved_range``), where real keys are rare (sequences and identity columns
count up from 1; a bigint snowflake id reaches 2^62 only in the 2040s). The run collects the
few real keys inside that range in the read that already scans the whole input
(synthdb.release.reserved_keys) and redraws any fresh key equal to one of them
(synthdb.release.related.redraw_repeated_keys), so no released key equals a source key, read
or not, whatever the input's size. UUID keys (and the text of UUIDs) need no range: 122 random
bits.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError

from .specs import ColumnSpec

_INT_KINDS = ("integer",)
#: integer keys are drawn from [low, high): the upper half of the type's positive values
_RESERVED = {"bigint": (2**62, 2**63 - 1), "integer": (2**30, 2**31 - 1),
             "smallint": (2**14, 2**15 - 1)}
#: fresh keys may fill at most this share of the reserved range (else a key is guessable)
_SPARSE = 4
_PG_INT = {"smallint": "smallint", "int2": "smallint", "integer": "integer", "int": "integer",
           "int4": "integer", "serial": "integer", "bigint": "bigint", "int8": "bigint",
           "bigserial": "bigint"}


def key_style(spec: ColumnSpec | None) -> str:
    """``"bigint"``, ``"integer"``, ``"smallint"``, ``"uuid"`` or ``"text"``: the form the
    fresh keys of a column take.

    An integer source key gets random integers of its PostgreSQL type (bigint when unknown), a
    ``uuid`` column UUIDs, anything else (text tail numbers, customer codes) the text of a
    random UUID.

    A column whose catalog type is neither numeric nor integer (text that ``synth.columns``
    declares of kind ``integer``) gets text keys: the run looks for real keys in the reserved
    range only in numeric columns (``reserved_style``).
    """
    if spec is None:
        return "text"
    pg = (spec.pg_type or "").strip().lower()
    if pg == "uuid":
        return "uuid"
    if pg in _PG_INT:
        return _PG_INT[pg]
    if pg and not _numeric(pg):
        return "text"
    if spec.kind in _INT_KINDS:
        return "bigint"
    if spec.kind == "id" and (spec.dtype or "").startswith(("int", "Int", "uint")):
        return "bigint"
    return "text"


def _numeric(pg: str) -> bool:
    return pg.startswith(("numeric", "decimal", "real", "double precision", "float"))


def reserved_range(style: str) -> tuple[int, int] | None:
    """``[low, high)``: the integers fresh keys of ``style`` are drawn from; None for uuid and
    text keys."""
    return _RESERVED.get(style)


def reserved_style(pg_type: str) -> str | None:
    """The integer style a column of catalog type ``pg_type`` may get fresh keys of
    (``key_style`` decides after the read, from the column's values too): its own for an
    integer type, bigint for another numeric type, None where keys are never integers."""
    pg = pg_type.split("(")[0].strip().lower()
    if pg in _PG_INT:
        return _PG_INT[pg]
    return "bigint" if _numeric(pg) else None


def sparse_limit(style: str) -> int:
    """How many keys the reserved range of ``style`` holds sparsely enough to stay
    unguessable (a quarter of it)."""
    low, high = _RESERVED[style]
    return (high - low) // _SPARSE


def fresh_keys(n: int, style: str) -> pd.Series:
    """``n`` distinct random keys of ``style`` (see ``key_style``), from OS randomness; integer
    keys from the reserved range (``reserved_range``)."""
    if style in _RESERVED:
        low, high = _RESERVED[style]
        if n > sparse_limit(style):
            raise ConfigError(
                f"fresh keys: {n} random keys do not fit a {style} column sparsely enough to "
                f"stay unguessable (at most {sparse_limit(style)} in its reserved range "
                f"[{low}, {high})); widen the key column (bigint or uuid)")
        rng = np.random.default_rng()  # unseeded on purpose: keys differ in every release
        keys = np.unique(rng.integers(low, high, size=n, dtype=np.int64))
        while len(keys) < n:  # collisions: draw the missing ones again
            more = rng.integers(low, high, size=n - len(keys), dtype=np.int64)
            keys = np.unique(np.concatenate([keys, more]))
        rng.shuffle(keys)
        return pd.Series(keys, dtype="int64")
    values = [str(uuid.uuid4()) for _ in range(n)]  # uuid4 reads os.urandom
    return pd.Series(values, dtype="object")


def fresh_key_sql(style: str) -> str:
    """A PostgreSQL expression drawing one fresh key of ``style``, as ``fresh_keys`` does.

    Its randomness is the server's strong one (``gen_random_uuid``), never the session's
    ``random()``, which a run seeds from the release seed: keys must differ in every release.
    Integer keys take 63 random bits of a UUID, reduced into the reserved ``[low, high)``.
    """
    if style == "uuid":
        return "pg_catalog.gen_random_uuid()"
    if style in _RESERVED:
        low, high = _RESERVED[style]
        bits = ("(('x' || pg_catalog.translate(pg_catalog.gen_random_uuid()::text, '-', ''))"
                "::bit(64)::bigint & 9223372036854775807)")
        return f"(pg_catalog.mod({bits}, {high - low}) + {low})"  # no '%': a placeholder
    return "pg_catalog.gen_random_uuid()::text"
