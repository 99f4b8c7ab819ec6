"""dbt adapter plugin ``synthdb``: the Postgres adapter plus Python methods for synthesis.

Imported by dbt for every command, so it imports nothing heavy at module level. The include
project (materializations) is located here, so a broken installation stops every dbt command,
``dbt debug`` included, with one clear message.
"""

from dbt.adapters.base import AdapterPlugin
from dbt.adapters.synthdb.connections import SynthdbConnectionManager, SynthdbCredentials
from dbt.adapters.synthdb.impl import SynthdbAdapter
from dbt_common.exceptions import DbtRuntimeError

from synthdb.dbt_plugin.include_path import IncludeProjectMissing, include_path
from synthdb.release.exit_gc import freeze_at_exit

# A dbt process holds millions of objects by its end; skip the exit's garbage collections
# (synthdb.release.exit_gc says why and what that skips).
freeze_at_exit()

try:
    INCLUDE_PATH = include_path()
except IncludeProjectMissing as exc:
    raise DbtRuntimeError(str(exc)) from None

Plugin = AdapterPlugin(
    adapter=SynthdbAdapter,  # type: ignore[arg-type]
    credentials=SynthdbCredentials,
    include_path=INCLUDE_PATH,
    dependencies=["postgres"],
)

__all__ = ["Plugin", "SynthdbAdapter", "SynthdbConnectionManager", "SynthdbCredentials"]
