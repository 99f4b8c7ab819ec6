"""The source's keys inside the range fresh integer keys are drawn from, found without a new read.

Fresh integer keys come from a reserved range, the upper half of the key type's positive values
(``synthdb.generators.fresh_keys.reserved_range``). A run that samples its input reads only
some of the real keys, so the fresh keys could still equal a real key it did not read (1M fresh
integer keys among 1M real ids below 2^31: hundreds). The few real keys that do fall inside the
reserved range (usually none) are therefore collected by the read that scans the whole input
anyway (training.read_training: the counting aggregate, the whole read, or the count before a
sample; the ``Child`` mode's count) as one more aggregate of the same pass: the contract view
is not evaluated again (issue 15). ``related.redraw_repeated_keys`` then redraws any fresh key
equal to one of them, so no released key equals any source key.

A source that crowds the reserved range (more than ``1 / CROWDED`` of it) is refused before
anything is fitted or written: fresh keys would have little room left, and the list to avoid
grows with the input. The keys travel as query results and parameters only, never into a
message or a log.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from psycopg import sql

from synthdb.errors import ConfigError
from synthdb.generators.fresh_keys import reserved_range, reserved_style
from synthdb.release import pgio

#: the source may hold at most 1/CROWDED of the reserved range
CROWDED = 64


@dataclass
class ReservedKeys:
    """The source keys of ``model``'s ``column`` that lie in the reserved range of ``style``."""

    model: str
    column: str
    style: str
    # their text, comma-separated, as the server gave it and the redraw splits it again: a
    # source of random 63-bit ids puts half of them here, and millions of Python strings would
    # cost hundreds of MB for nothing
    found: str = ""
    count: int = 0

    @classmethod
    def of(cls, model: str, columns: list[pgio.PgColumn], key: str | None
           ) -> ReservedKeys | None:
        """The collector for key column ``key`` of ``columns``, or None where its fresh keys
        are never integers (uuid, text) or there is no such column (refused elsewhere)."""
        column = next((c for c in columns if c.name == key), None)
        style = reserved_style(column.pg_type) if column is not None else None
        return cls(model, column.name, style) if style else None

    @property
    def low(self) -> int:
        return reserved_range(self.style)[0]

    def aggregate(self) -> sql.Composable:
        """An aggregate over the input's rows: the text of the column's values inside the
        reserved range, as an array (NULL when there are none)."""
        column = sql.Identifier(self.column)
        return sql.SQL("pg_catalog.array_agg({}::text) FILTER (WHERE {} >= {})").format(
            column, column, sql.Literal(self.low))

    def take(self, joined: str | None) -> None:
        """Keep the keys ``aggregate`` returned; refuse a crowded reserved range."""
        joined = joined if isinstance(joined, str) else ""
        self._keep(joined, joined.count(",") + 1 if joined else 0)

    def take_values(self, values: pd.Series) -> None:
        """Keep the reserved-range keys among ``values`` (the whole input was read)."""
        values = values.dropna()
        keys = [str(v) for v in values[values >= self.low]]
        self._keep(",".join(keys), len(keys))

    def _keep(self, joined: str, count: int) -> None:
        low, high = reserved_range(self.style)
        room = (high - low) // CROWDED
        if count > room:
            raise ConfigError(
                f"model {self.model}: column {self.column!r} holds {count} source keys in "
                f"[{low}, {high}), the range its fresh {self.style} keys are drawn from (at "
                f"most {room} may lie there): a fresh key could not avoid them and stay "
                "unguessable; make the key column uuid"
                + ("" if self.style == "bigint" else " or bigint")
                + " (the previous release is untouched)")
        self.found, self.count = joined, count


def aggregate_of(reserved: ReservedKeys | None) -> sql.Composable:
    """``reserved``'s aggregate, or a NULL array in its place."""
    return reserved.aggregate() if reserved is not None else sql.SQL("NULL::text[]")
