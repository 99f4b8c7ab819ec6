"""Clock-time identities between numeric columns: detect at fit, recompute after sampling.

Flight-style tables keep times of day as ``hhmm`` numbers next to the parts and differences
they are made of: ``sched_dep_time = 100 * hour + minute`` and ``dep_time = sched_dep_time +
dep_delay`` in clock arithmetic (minutes, modulo one day). Trees draw each number from a
box-shaped leaf, and a box cannot hold an additive or modular identity: the synthetic
``dep_time`` drifts away from ``sched_dep_time + dep_delay``, and the ``hhmm`` value lands on
minutes 60-99 or disagrees with ``hour``. So such a column is computed, not drawn:

* ``hhmm``:     ``target = 100 * a + b``, ``a`` an hour (0-24), ``b`` a minute (0-59);
* ``hhmm_add``: ``target`` is the clock time ``a`` (``hhmm``) plus ``b`` minutes, modulo a day;
  midnight is written ``2400`` when the data writes it so, else ``0``.

Only on strong evidence, because a wrongly derived column loses its own distribution: the
identity holds exactly on every training row where its bases are all non-null (at least
``derived.MIN_ROWS`` of them), the target is non-null on all of those rows, and every base takes
more than one value. Where a base is NULL the target is NULL too (the column is then not
modelled at all), or, when the data has target values there (``arr_time`` of a flight whose
``arr_delay`` is unknown), the column stays modelled and the identity overwrites it only on rows
whose bases are all known ("partial").

A computed value never leaves the target's protected range (its ``[tail_quantile, 1 -
tail_quantile]`` training quantiles, as the copula's numbers): the few sums beyond it are
clipped, so in those rows the identity gives way to the tail protection.

Identities may build on each other and on calendar parts (``hour`` of a timestamp feeds
``sched_dep_time``, which feeds ``dep_time``); ``ordered`` puts bases first, and a candidate that
would close a cycle is not taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._output import numeric_series
from .derived import MIN_ROWS

#: minutes in a day: the modulus of clock-time sums
DAY_MINUTES = 1440
#: rows compared before all rows are (most candidates fail on the first ones)
HEAD = 200


@dataclass(frozen=True)
class Identity:
    """``target = op(*bases)`` by column position; ``partial``: the target is also modelled."""

    target: int
    op: str
    bases: tuple[int, ...]
    partial: bool
    lo: float
    hi: float
    midnight: int = 0


def clock_minutes(hhmm: np.ndarray) -> np.ndarray:
    """Minutes after midnight of ``hhmm`` clock times (``1345`` -> 825)."""
    return (hhmm // 100) * 60 + hhmm % 100


def hhmm_of(minutes: np.ndarray, midnight: int = 0) -> np.ndarray:
    """Clock time ``hhmm`` of minutes, modulo a day; midnight as ``midnight`` (0 or 2400)."""
    m = np.mod(minutes, DAY_MINUTES)
    out = (m // 60) * 100 + m % 60
    return np.where(out == 0, float(midnight), out) if midnight else out


OPS: dict[str, Callable[..., np.ndarray]] = {
    "hhmm": lambda a, b, midnight=0: 100 * a + b,
    "hhmm_add": lambda a, b, midnight=0: hhmm_of(clock_minutes(a) + b, midnight),
}


def _whole(x: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(x)) and np.all(x == np.round(x)))


def _numbers(frame: pd.DataFrame, kinds: list[str], exclude: set[int]) -> dict[int, np.ndarray]:
    """Whole-number numeric columns as floats (NaN for NULL), by position."""
    out: dict[int, np.ndarray] = {}
    for i, k in enumerate(kinds):
        if k not in ("integer", "float") or i in exclude:
            continue
        x = pd.to_numeric(frame.iloc[:, i], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = x[~np.isnan(x)]
        if len(ok) >= MIN_ROWS and _whole(ok) and len(np.unique(ok[:5000])) > 1:
            out[i] = x
    return out


def _in_range(x: np.ndarray, lo: float, hi: float) -> bool:
    ok = x[~np.isnan(x)]
    return bool(ok.min() >= lo and ok.max() <= hi)


def _is_clock(x: np.ndarray) -> bool:
    """hhmm clock times: 0-2400, minutes below 60, spanning more than the first hour."""
    ok = x[~np.isnan(x)]
    return _in_range(x, 0, 2400) and ok.max() >= 100 and bool(np.all(ok % 100 < 60))


def _holds(
    target: np.ndarray, bases: list[np.ndarray], op: str, midnight: int
) -> bool | None:
    """None if the identity fails; else whether it is partial (target known where a base is not)."""
    for stop in (HEAD, len(target)):  # a cheap look at the first rows, then all of them
        known = ~np.any(np.isnan(np.column_stack([b[:stop] for b in bases])), axis=1)
        rows = np.flatnonzero(known)
        want = OPS[op](*(b[rows] for b in bases), midnight=midnight)
        if not np.array_equal(want, target[rows]):  # NaN targets never equal
            return None
    if len(rows) < MIN_ROWS:
        return None
    return bool((~np.isnan(target[~known])).any())


def _reaches(found: dict[int, Identity], start: int, goal: int) -> bool:
    """Whether column ``start`` is computed (directly or through others) from ``goal``."""
    stack, seen = [start], set()
    while stack:
        c = stack.pop()
        if c == goal:
            return True
        if c in seen or c not in found:
            continue
        seen.add(c)
        stack.extend(found[c].bases)
    return False


def detect(
    frame: pd.DataFrame,
    kinds: list[str],
    exclude: set[int] | None = None,
    derived: set[int] | None = None,
    tail_quantile: float = 0.0,
) -> dict[int, Identity]:
    """``{target position: Identity}`` for numeric columns that are clock-time identities.

    ``exclude``: positions that are neither targets nor bases (mock columns); ``derived``:
    columns computed elsewhere (calendar parts), usable as bases but never targets.
    """
    exclude = exclude or set()
    derived = derived or set()
    nums = _numbers(frame, kinds, exclude)
    clocks = [i for i, x in nums.items() if _is_clock(x)]
    hours = [i for i, x in nums.items() if _in_range(x, 0, 24)]
    minutes = [i for i, x in nums.items() if _in_range(x, 0, 59)]
    found: dict[int, Identity] = {}
    candidates: list[tuple[int, str, tuple[int, int]]] = []
    for t in clocks:
        candidates += [(t, "hhmm", (a, b)) for a in hours for b in minutes if len({t, a, b}) == 3]
        candidates += [
            (t, "hhmm_add", (a, b)) for a in clocks for b in nums if len({t, a, b}) == 3
        ]
    for t, op, bases in candidates:
        if t in found or t in derived:
            continue
        if any(_reaches(found, b, t) for b in bases):
            continue  # would close a cycle
        target = nums[t]
        midnight = 2400 if op == "hhmm_add" and np.any(target == 2400) else 0
        partial = _holds(target, [nums[b] for b in bases], op, midnight)
        if partial is None:
            continue
        ok = target[~np.isnan(target)]
        qlo, qhi = np.quantile(ok, [tail_quantile, 1.0 - tail_quantile])
        lo, hi = float(np.ceil(qlo - 1e-9)), float(np.floor(qhi + 1e-9))
        if lo > hi:
            lo = hi = float(np.round(np.median(ok)))
        found[t] = Identity(t, op, bases, partial, lo, hi, midnight)
    return found


def ordered(found: dict[int, Identity]) -> list[Identity]:
    """The identities with every computed base before the identity that uses it."""
    out: list[Identity] = []
    pending = dict(found)
    while pending:
        ready = [t for t, i in pending.items() if all(b not in pending for b in i.bases)]
        if not ready:  # pragma: no cover - detect never closes a cycle
            raise ValueError("identities: circular derivation")
        out += [pending.pop(t) for t in ready]
    return out


def compute(ident: Identity, cols: list[Any], dtype: Any) -> pd.Series:
    """The target column: the identity where every base is known (clipped to the protected
    range); elsewhere NULL, or the modelled value for a partial identity."""
    bases = [pd.to_numeric(cols[b]).to_numpy(dtype=float, na_value=np.nan) for b in ident.bases]
    known = ~np.any(np.isnan(np.column_stack(bases)), axis=1)
    if ident.partial and cols[ident.target] is not None:
        out = pd.to_numeric(cols[ident.target]).to_numpy(dtype=float, na_value=np.nan).copy()
    else:
        out = np.full(len(known), np.nan)
    want = OPS[ident.op](*(b[known] for b in bases), midnight=ident.midnight)
    out[known] = np.clip(want, ident.lo, ident.hi)
    return numeric_series(out, np.isnan(out), dtype)


def describe(ident: Identity, names: list[Any]) -> dict[str, Any]:
    """JSON-ready record of one identity (column names, not positions)."""
    return {
        "identity": ident.op,
        "derived_from": ", ".join(str(names[b]) for b in ident.bases),
        "partial": ident.partial,
        "range": [ident.lo, ident.hi],
    }
