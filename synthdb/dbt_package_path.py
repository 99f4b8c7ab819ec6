"""Where the dbt package ``synthdb`` (policy macros and generic tests) is on this machine.

A project needs the package as well as the adapter: dbt resolves ``synthdb.<macro>`` and the
generic tests only from installed packages, never from an adapter's include project. A wheel
therefore carries a copy of the repository's ``dbt_project.yml`` and ``macros/`` (written into
``synthdb/_dbt_package`` by the build step in ``setup.py``), so a user with nothing but
``pip install synthdb`` can point ``packages.yml`` at it, and the macros always match the
installed adapter's version. A source checkout (editable install) uses the repository root.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from synthdb.errors import ConfigError

PACKAGED = "_dbt_package"
# The files every copy of the package must hold (the generic tests' helpers included).
REQUIRED = ("dbt_project.yml", "macros/tests/gate.sql", "macros/policy/pseudonymize.sql")


def dbt_package_path() -> Path:
    """The folder to name in ``packages.yml`` (``local:``); raises ConfigError if neither the
    wheel's copy nor a source checkout holds the package."""
    with as_file(files("synthdb")) as folder:
        package_root = Path(folder)
    candidates = [package_root / PACKAGED, package_root.parent]
    for root in candidates:
        if all((root / name).is_file() for name in REQUIRED) and _is_synthdb_package(root):
            return root.resolve()
    raise ConfigError(
        "the dbt package synthdb is not installed with this synthdb: neither "
        f"{candidates[0]} (a wheel's copy) nor {candidates[1]} (a source checkout) holds "
        f"{', '.join(REQUIRED)}; reinstall synthdb from its wheel, or use a `git:` entry in "
        "packages.yml"
    )


def _is_synthdb_package(root: Path) -> bool:
    """The folder's dbt_project.yml declares the package ``synthdb`` (not a user's project
    that happens to contain synthdb's source)."""
    for line in (root / "dbt_project.yml").read_text().splitlines():
        if line.strip().startswith("name:"):
            return line.split(":", 1)[1].strip().strip("'\"") == "synthdb"
    return False
