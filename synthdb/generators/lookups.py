"""Sampling lookups: structures built from a fitted model on first use, never pickled.

Sampling speeds up with tables derived from fitted state (a tree's pruned walk, a table of
allowed key combinations, binned edges for a search). They are pure functions of that state,
so they are built lazily where sampling runs — in the dbt process or in each sampling worker —
and left out of every pickle: the model sent to a worker stays the size of what was fitted,
and an object unpickled from an older version simply builds them again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_LOOKUPS = "_lookups"


class SamplingLookups:
    """Mixin for fitted objects that keep sampling lookups (see the module docstring)."""

    def lookup(self, key: Hashable, build: Callable[[], T]) -> T:
        """The lookup stored under ``key``, built by ``build()`` the first time it is asked."""
        kept = self.__dict__.get(_LOOKUPS)
        if kept is None:
            kept = self.__dict__[_LOOKUPS] = {}
        if key not in kept:
            kept[key] = build()
        return kept[key]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != _LOOKUPS}
