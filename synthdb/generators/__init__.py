"""Generators: how synthetic rows are made (Gaussian copula, schema-only mock).

All share a scikit-learn style API: configure in ``__init__``, ``fit(frame, specs)``, then
``sample(n, seed)`` or ``sample_chunks(n, seed, chunk_size)``, and ``describe()`` for the
release evidence.
"""

from .copula import GaussianCopula
from .mock import MockGenerator
from .specs import KINDS, ROLES, ColumnSpec, infer_spec, infer_specs

__all__ = [
    "ColumnSpec",
    "GaussianCopula",
    "KINDS",
    "MockGenerator",
    "ROLES",
    "infer_spec",
    "infer_specs",
]
