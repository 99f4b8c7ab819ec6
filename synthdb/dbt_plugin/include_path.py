"""Where the adapter's dbt include project (the ``synthetic`` and ``publish`` materializations)
is installed, found through ``importlib.resources`` so a wheel install finds it as well as an
editable one.

dbt only reads the include project when it parses, so a missing one used to surface late, as a
confusing path error (and ``dbt debug`` still passed). The check here runs when dbt imports the
adapter, so every dbt command, ``dbt debug`` included, stops with one clear message instead.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

# The files the include project must hold for the adapter to work.
REQUIRED = (
    "dbt_project.yml",
    "macros/materializations/synthetic.sql",
    "macros/materializations/publish.sql",
)


class IncludeProjectMissing(RuntimeError):
    """The installed synthdb package lacks the adapter's dbt include project."""


def include_path() -> str:
    """The folder of the adapter's include project; raises ``IncludeProjectMissing`` naming
    the missing files if the installation does not carry them."""
    resource = files("synthdb.dbt_plugin").joinpath("include")
    # a wheel is installed as plain files, so this is a real folder that outlives the context
    with as_file(resource) as folder:
        root = Path(folder)
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise IncludeProjectMissing(
            f"synthdb: the dbt adapter cannot load its include project: {', '.join(missing)} "
            f"not found under {root}. The synthdb installation is incomplete; reinstall it "
            "(pip install --force-reinstall synthdb) and check that the wheel carries "
            "synthdb/dbt_plugin/include."
        )
    return str(root)
