"""Relations that quote hostile identifiers correctly.

dbt's stock quoting wraps a name in double quotes without doubling the double quotes inside it,
so a table or column called ``odd "t"; drop`` produces broken (or injectable) SQL. PostgreSQL's
rule is to double embedded quotes; synthdb applies it everywhere dbt renders a relation.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbt.adapters.postgres.relation import PostgresRelation


def quote_identifier(identifier: str, quote_character: str = '"') -> str:
    """``identifier`` as a quoted SQL identifier, embedded quote characters doubled."""
    doubled = str(identifier).replace(quote_character, quote_character * 2)
    return f"{quote_character}{doubled}{quote_character}"


@dataclass(frozen=True, eq=False, repr=False)
class SynthdbRelation(PostgresRelation):
    def quoted(self, identifier):
        return quote_identifier(identifier, self.quote_character)
