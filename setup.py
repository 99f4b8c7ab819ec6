"""Package discovery and one build step that pyproject.toml alone cannot express.

The dbt adapter plugin must be importable as ``dbt.adapters.synthdb`` (dbt finds adapters by
that name) while its source lives inside ``synthdb/`` (DESIGN §2). ``package-dir`` in
pyproject.toml maps it; here we add it to the discovered ``synthdb*`` packages.

Namespace discovery also lists the folders of the adapter's dbt include project
(``synthdb/dbt_plugin/include/...``, no ``__init__.py``), so their files are package data of
those folders (pyproject.toml ``package-data``) and land in the wheel; the adapter finds them
with ``importlib.resources``.

The dbt package ``synthdb`` is the repository root (``dbt_project.yml`` + ``macros/``), outside
the Python package; ``build_py`` copies it into ``synthdb/_dbt_package`` of the build, so the
wheel carries the macros of its own version (``synthdb package-path`` prints where).
"""

import shutil
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithDbtPackage(build_py):
    """The usual build, plus the dbt package copied in as package data."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "synthdb" / "_dbt_package"
        if target.exists():
            shutil.rmtree(target)
        (target / "macros").mkdir(parents=True)
        shutil.copy2(ROOT / "dbt_project.yml", target / "dbt_project.yml")
        shutil.copytree(
            ROOT / "macros", target / "macros", dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )


packages = [
    name
    for name in find_namespace_packages(include=["synthdb", "synthdb.*"])
    if "__pycache__" not in name
]
setup(packages=packages + ["dbt.adapters.synthdb"], cmdclass={"build_py": BuildWithDbtPackage})
