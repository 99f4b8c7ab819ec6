"""The synthdb adapter: Postgres behaviour plus ``@available`` methods used by materializations."""

from __future__ import annotations

from dbt.adapters.base.meta import available
from dbt.adapters.postgres.impl import PostgresAdapter
from dbt.adapters.synthdb.connections import SynthdbConnectionManager


class SynthdbAdapter(PostgresAdapter):
    ConnectionManager = SynthdbConnectionManager

    @classmethod
    def type(cls) -> str:
        return "synthdb"

    @available
    def synthdb_version(self) -> str:
        from synthdb import __version__

        return __version__
