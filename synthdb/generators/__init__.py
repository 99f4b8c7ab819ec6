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

# scikit-learn and SciPy are imported where a generator first fits or samples, not here: a
# config check constructs generators, and the run imports these while its training input is
# read (synthdb.release.warmup) and preloads them in the sampling workers' server.
LAZY_IMPORTS = ("scipy.special", "scipy.sparse", "scipy.stats", "sklearn.tree",
                "sklearn.covariance")

__all__ = [
    "ChildGenerator",
    "ColumnSpec",
    "DEFAULT_METHOD",
    "GENERATORS",
    "GaussianCopula",
    "KINDS",
    "LAZY_IMPORTS",
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
