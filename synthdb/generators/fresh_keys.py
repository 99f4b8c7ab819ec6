"""Fresh key values for the tables of one release: random, unique, never derived from the source.

A released key must not be linkable to the source key (no consistent mapping such as a hash or
a pseudonym) nor to the same entity's key in another release. So keys are drawn from the
operating system's randomness, never from the release seed: with a fixed seed the attributes are
reproducible, the keys are not, and two releases never share a key system.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError

from .specs import ColumnSpec

_INT_KINDS = ("integer",)
#: integer keys are drawn from [1, high): positive and inside the column's PostgreSQL type
_INT_HIGH = {"bigint": 2**62, "integer": 2**31 - 1, "smallint": 2**15 - 1}
_PG_INT = {"smallint": "smallint", "int2": "smallint", "integer": "integer", "int": "integer",
           "int4": "integer", "serial": "integer", "bigint": "bigint", "int8": "bigint",
           "bigserial": "bigint"}


def key_style(spec: ColumnSpec | None) -> str:
    """``"bigint"``, ``"integer"``, ``"smallint"``, ``"uuid"`` or ``"text"``: the form the
    fresh keys of a column take.

    An integer source key gets random integers of its PostgreSQL type (bigint when unknown), a
    ``uuid`` column UUIDs, anything else (text tail numbers, customer codes) the text of a
    random UUID.
    """
    if spec is None:
        return "text"
    pg = (spec.pg_type or "").strip().lower()
    if pg == "uuid":
        return "uuid"
    if pg in _PG_INT:
        return _PG_INT[pg]
    if spec.kind in _INT_KINDS:
        return "bigint"
    if spec.kind == "id" and (spec.dtype or "").startswith(("int", "Int", "uint")):
        return "bigint"
    return "text"


def fresh_keys(n: int, style: str) -> pd.Series:
    """``n`` distinct random keys of ``style`` (see ``key_style``), from OS randomness."""
    if style in _INT_HIGH:
        high = _INT_HIGH[style]
        if n > high // 4:
            raise ConfigError(
                f"fresh keys: {n} random keys do not fit a {style} column sparsely enough to "
                "stay unguessable; widen the key column (bigint or uuid)")
        rng = np.random.default_rng()  # unseeded on purpose: keys differ in every release
        keys = np.unique(rng.integers(1, high, size=n, dtype=np.int64))
        while len(keys) < n:  # collisions: draw the missing ones again
            more = rng.integers(1, high, size=n - len(keys), dtype=np.int64)
            keys = np.unique(np.concatenate([keys, more]))
        rng.shuffle(keys)
        return pd.Series(keys, dtype="int64")
    values = [str(uuid.uuid4()) for _ in range(n)]  # uuid4 reads os.urandom
    return pd.Series(values, dtype="object")


def fresh_key_sql(style: str) -> str:
    """A PostgreSQL expression drawing one fresh key of ``style``, as ``fresh_keys`` does.

    Its randomness is the server's strong one (``gen_random_uuid``), never the session's
    ``random()``, which a run seeds from the release seed: keys must differ in every release.
    Integer keys take 63 random bits of a UUID, reduced into ``[1, high)``.
    """
    if style == "uuid":
        return "pg_catalog.gen_random_uuid()"
    if style in _INT_HIGH:
        bits = ("(('x' || pg_catalog.translate(pg_catalog.gen_random_uuid()::text, '-', ''))"
                "::bit(64)::bigint & 9223372036854775807)")
        return f"(pg_catalog.mod({bits}, {_INT_HIGH[style] - 1}) + 1)"  # no '%': a placeholder
    return "pg_catalog.gen_random_uuid()::text"
