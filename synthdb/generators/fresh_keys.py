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

from .specs import ColumnSpec

_INT_KINDS = ("integer",)
#: integer keys are drawn from [1, 2**62): positive, fit a PostgreSQL bigint
_INT_HIGH = 2**62


def key_style(spec: ColumnSpec | None) -> str:
    """``"bigint"``, ``"uuid"`` or ``"text"``: the form the fresh keys of a column take.

    An integer source key gets random bigints, a ``uuid`` column UUIDs, anything else (text
    tail numbers, customer codes) the text of a random UUID.
    """
    if spec is None:
        return "text"
    pg = (spec.pg_type or "").strip().lower()
    if pg == "uuid":
        return "uuid"
    if spec.kind in _INT_KINDS or pg in ("smallint", "integer", "bigint", "int2", "int4", "int8"):
        return "bigint"
    if spec.kind == "id" and (spec.dtype or "").startswith(("int", "Int", "uint")):
        return "bigint"
    return "text"


def fresh_keys(n: int, style: str) -> pd.Series:
    """``n`` distinct random keys of ``style`` (see ``key_style``), from OS randomness."""
    if style == "bigint":
        rng = np.random.default_rng()  # unseeded on purpose: keys differ in every release
        keys = np.unique(rng.integers(1, _INT_HIGH, size=n, dtype=np.int64))
        while len(keys) < n:  # a collision among 2**62 values: draw the missing ones again
            more = rng.integers(1, _INT_HIGH, size=n - len(keys), dtype=np.int64)
            keys = np.unique(np.concatenate([keys, more]))
        rng.shuffle(keys)
        return pd.Series(keys, dtype="int64")
    values = [str(uuid.uuid4()) for _ in range(n)]  # uuid4 reads os.urandom
    return pd.Series(values, dtype="object")
