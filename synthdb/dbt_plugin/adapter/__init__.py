"""dbt adapter plugin ``synthdb``: the Postgres adapter plus Python methods for synthesis.

Imported by dbt for every command, so it imports nothing heavy at module level.
"""

from pathlib import Path

from dbt.adapters.base import AdapterPlugin
from dbt.adapters.synthdb.connections import SynthdbConnectionManager, SynthdbCredentials
from dbt.adapters.synthdb.impl import SynthdbAdapter

INCLUDE_PATH = str(Path(__file__).resolve().parent.parent / "include")

Plugin = AdapterPlugin(
    adapter=SynthdbAdapter,  # type: ignore[arg-type]
    credentials=SynthdbCredentials,
    include_path=INCLUDE_PATH,
    dependencies=["postgres"],
)

__all__ = ["Plugin", "SynthdbAdapter", "SynthdbConnectionManager", "SynthdbCredentials"]
