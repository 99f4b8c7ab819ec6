"""Which generator a ``synth.generator.method`` names, and which one ``synthesize`` uses by default.

The default is the one that measured better on the benchmark (``bench/results/generator.md``,
session 6, one side-by-side run): the sequential trees (``order="auto"``) are 0.017 to 0.052 QA
accuracy above the copula on all four datasets (credit_data 0.928 vs 0.911, CPS1988 0.979 vs
0.961, MplsStops 0.971 vs 0.941, flights 0.948 vs 0.896) and meet the privacy targets there:
DCR share 0.512-0.516, and on credit_data 0.528 against 0.526 for fresh real rows (the absolute
0.52 lies below what new real data reaches on that table); identical rows no more than the
holdout's own; singling-out at most 0.066; no unseen (carrier, origin, dest) route, where the
copula emits 58 %. So mode ``synthesize`` uses the trees unless ``synth.generator.method``
names the copula. A differentially private fit (``epsilon``) exists only for the copula, so
asking for one without naming a method selects the copula.
"""

from __future__ import annotations

from typing import Any

from synthdb.errors import ConfigError

from .copula import GaussianCopula
from .sequential import SequentialTrees

GENERATORS: dict[str, type] = {
    "gaussian_copula": GaussianCopula,
    "sequential_trees": SequentialTrees,
}
DEFAULT_METHOD = "sequential_trees"
#: The generator of a keyed table (``synth.key``: a related release's parent) when
#: ``synth.generator`` names none. The copula, not the single-table default: on flights'
#: 1,000 planes (20 seeds, the gate's own leakage rows) it stayed further from the training
#: rows (DCR share 0.510 vs 0.527 for trees with the related tables' smoothed leaves, 0.518
#: for the single-table trees; membership-inference advantage 0.010 vs 0.028 / 0.029), and a
#: trees parent failed the MIA gate in one of three dbt releases of session 6 (0.111).
#: Cost: children of copula parents are drawn by pool matching (docs/related-tables.md).
#: Read through synthdb.release.related.default_method (the run and the precheck), never by
#: ``default_generator``.
KEYED_DEFAULT_METHOD = "gaussian_copula"


#: Options only the copula has (the trees fix them): a configuration that sets one without
#: naming a method was written for the copula, the default before session 7, and keeps it
#: rather than failing on an option the new default cannot take.
COPULA_ONLY_OPTIONS = frozenset({"conditional_numbers"})


def asks_for_copula(params: dict[str, Any]) -> bool:
    """Whether generator parameters ask for something only the copula has: a finite
    ``epsilon`` (differential privacy) or an option in ``COPULA_ONLY_OPTIONS``."""
    eps = params.get("epsilon")
    wants_dp = eps is not None and float(eps) != float("inf")
    return wants_dp or bool(COPULA_ONLY_OPTIONS & params.keys())


def method_for(params: dict[str, Any]) -> str:
    """The method named in ``params`` (key ``method``) or the default for these parameters:
    the copula where they ask for it (``asks_for_copula``), else ``DEFAULT_METHOD``."""
    method = params.get("method")
    if method is None:
        return "gaussian_copula" if asks_for_copula(params) else DEFAULT_METHOD
    if method not in GENERATORS:
        raise ConfigError(
            f"generator method {method!r} is unknown; one of {', '.join(sorted(GENERATORS))}"
        )
    return str(method)


def build_generator(**params: Any) -> Any:
    """A configured, unfitted generator; ``method`` picks the class (see ``method_for``)."""
    cls = GENERATORS[method_for(params)]
    options = {k: v for k, v in params.items() if k != "method"}
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"generator {cls.__name__}: {exc}") from exc


def default_generator(**params: Any) -> Any:
    """The generator mode ``synthesize`` uses when no method is named (``fit``/``sample``)."""
    return build_generator(**{k: v for k, v in params.items() if k != "method"})
