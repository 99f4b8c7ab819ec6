"""Give each child slot of a synthetic parent a generated child row with a matching context.

The child generator learns child rows *with* their parent's attributes appended (the context), so
its draws come from the joint distribution of parent attributes and child attributes. To turn
that into children *of given synthetic parents*, a pool of generated rows (a few times the
number of slots) is matched to the slots on the context: first on the cells of every context
column, then, for slots still open, on one column fewer (the finest column is dropped first),
down to no condition at all. Within a cell, slots and rows are paired at random. This is
conditional sampling by stratification; it works with any generator (copula or trees) and reads
only synthetic rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def match_rows(
    slot_cells: pd.DataFrame, pool_cells: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    """For each slot, the position of a distinct pool row whose cells match as far as can be.

    ``slot_cells`` and ``pool_cells`` have the same columns, coarsest first. The pool must hold at
    least as many rows as there are slots.
    """
    n_slots, n_pool = len(slot_cells), len(pool_cells)
    if n_pool < n_slots:
        raise ValueError(f"pool of {n_pool} rows cannot fill {n_slots} child slots")
    chosen = np.full(n_slots, -1, dtype=np.int64)
    free = np.ones(n_pool, dtype=bool)
    columns = list(slot_cells.columns)
    slot_codes = _codes(slot_cells, pool_cells)
    for depth in range(len(columns), -1, -1):
        open_slots = np.flatnonzero(chosen < 0)
        if not len(open_slots):
            break
        pool_rows = np.flatnonzero(free)
        both = _key(
            np.vstack([slot_codes[0][open_slots, :depth], slot_codes[1][pool_rows, :depth]])
        )
        s_key, p_key = both[: len(open_slots)], both[len(open_slots) :]
        s_rank = _rank_in_group(s_key, rng)
        p_rank = _rank_in_group(p_key, rng)
        s_pair = s_key.astype(np.int64) * (n_pool + n_slots + 1) + s_rank
        p_pair = p_key.astype(np.int64) * (n_pool + n_slots + 1) + p_rank
        order = np.argsort(p_pair, kind="stable")
        pos = np.searchsorted(p_pair[order], s_pair)
        pos = np.minimum(pos, len(order) - 1)
        hit = p_pair[order][pos] == s_pair
        rows = pool_rows[order[pos[hit]]]
        chosen[open_slots[hit]] = rows
        free[rows] = False
    return chosen


def _codes(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes per column, shared between the two frames."""
    both = pd.concat([a, b], ignore_index=True)
    if not len(both.columns):
        empty = np.zeros((len(both), 0), dtype=np.int64)
        return empty[: len(a)], empty[len(a) :]
    codes = np.column_stack([pd.factorize(both[c], use_na_sentinel=False)[0] for c in both.columns])
    return codes[: len(a)], codes[len(a) :]


def _key(codes: np.ndarray) -> np.ndarray:
    """One dense integer per distinct row of ``codes``."""
    key = np.zeros(len(codes), dtype=np.int64)
    for column in codes.T:  # mixed radix, re-densified so it never overflows
        key = pd.factorize(key * (int(column.max(initial=0)) + 1) + column)[0].astype(np.int64)
    return key


def _rank_in_group(key: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order of the members of each group: 0, 1, 2, ... within equal keys."""
    order = np.lexsort((rng.random(len(key)), key))
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    lengths = np.diff(np.r_[starts, len(key)])
    rank = np.arange(len(key)) - np.repeat(starts, lengths)
    out = np.empty(len(key), dtype=np.int64)
    out[order] = rank
    return out
