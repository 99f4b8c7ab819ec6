"""Package discovery that pyproject.toml alone cannot express.

The dbt adapter plugin must be importable as ``dbt.adapters.synthdb`` (dbt finds adapters by
that name) while its source lives inside ``synthdb/`` (DESIGN §2). ``package-dir`` in
pyproject.toml maps it; here we add it to the discovered ``synthdb*`` packages.

Namespace discovery also lists the folders of the adapter's dbt include project
(``synthdb/dbt_plugin/include/...``, no ``__init__.py``), so their files are package data of
those folders (pyproject.toml ``package-data``) and land in the wheel; the adapter finds them
with ``importlib.resources``.
"""

from setuptools import find_namespace_packages, setup

packages = [
    name
    for name in find_namespace_packages(include=["synthdb", "synthdb.*"])
    if "__pycache__" not in name
]
setup(packages=packages + ["dbt.adapters.synthdb"])
