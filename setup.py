"""Package discovery that pyproject.toml alone cannot express.

The dbt adapter plugin must be importable as ``dbt.adapters.synthdb`` (dbt finds adapters by
that name) while its source lives inside ``synthdb/`` (DESIGN §2). ``package-dir`` in
pyproject.toml maps it; here we add it to the discovered ``synthdb*`` packages.
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["synthdb", "synthdb.*"]) + ["dbt.adapters.synthdb"])
