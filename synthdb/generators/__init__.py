"""Generators: how synthetic rows are made (Gaussian copula, sequential trees, schema-only mock),
and related tables (children of synthetic parents, ``relational``).

All share a scikit-learn style API: configure in ``__init__``, ``fit(frame, specs)``, then
``sample(n, seed)`` or ``sample_chunks(n, seed, chunk_size)``, and ``describe()`` for the
release evidence.
"""

from .copula import GaussianCopula
from .mock import MockGenerator
from .registry import DEFAULT_METHOD, GENERATORS, build_generator, default_generator
from .relational import ChildGenerator, Relation, RelationalSynthesizer
from .sequential import SequentialTrees
from .specs import KINDS, ROLES, ColumnSpec, infer_spec, infer_specs

__all__ = [
    "ChildGenerator",
    "ColumnSpec",
    "DEFAULT_METHOD",
    "GENERATORS",
    "GaussianCopula",
    "KINDS",
    "MockGenerator",
    "ROLES",
    "Relation",
    "RelationalSynthesizer",
    "SequentialTrees",
    "build_generator",
    "default_generator",
    "infer_spec",
    "infer_specs",
]
