"""Related tables: children generated in the context of synthetic parents, with fresh keys.

``ChildGenerator`` learns one parent -> child link (planes -> flights by ``tailnum``):

* how many children a parent has, given its attributes (``child_counts.ChildCounts``);
* what a child looks like given its parent: the table generator (copula or sequential trees,
  any ``fit``/``sample`` generator) is fitted on child rows with the parent's attributes
  appended as context columns; sampling draws a pool of such rows and gives each child slot of a
  synthetic parent a row whose context matches the parent (``context_match``); the context
  columns are then dropped;
* when the child has a timestamp, when its events happen: a first event and gaps per parent
  (``event_gaps.EventGaps``), the rows of a parent ordered in time;
* keys: the parent's (fresh) key is the child's foreign key, the child's own key is fresh
  (``fresh_keys``); no source key is read by any model or emitted, so there is nothing to map
  back, and every release has new keys. Every child row has a parent (no orphans).

``RelationalSynthesizer`` chains these over a tree of tables (a parent with a child with a
grandchild): the root table comes from the table generator, every child from its link's
``ChildGenerator`` given the synthetic rows of its parent.

Privacy controls are the table generators' (rare categories, protected tails, cells of at least
``rare_min_count`` rows) plus: count and time tables summarise at least ``rare_min_count``
parents per knot, the largest count emitted is the mean of the ``rare_min_count`` largest, and
matching reads only synthetic rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError, EmptyInputError

from .child_counts import ChildCounts
from .context import ParentContext, context_name, seconds
from .context_match import match_rows
from .event_gaps import EventGaps
from .fresh_keys import fresh_keys, key_style
from .registry import asks_for_copula, build_generator
from .specs import ColumnSpec, infer_specs
from .subjects import check_subjects

#: context cells for matching: numbers fall into this many quantile bins
MATCH_BINS = 10
_DAY = 86_400.0


@dataclass(frozen=True)
class Relation:
    """``child.foreign_key`` references ``parent.parent_key``."""

    parent: str
    child: str
    parent_key: str
    foreign_key: str


class ChildGenerator:
    """Children of synthetic parents (``fit(parents, children, ...)``, ``sample(parents, seed)``).

    rare_min_count: the privacy floor shared by every table and count model.
    generator: an unfitted table generator for child attributes, or ``None`` to build one from
        ``generator_params`` (``build_generator``; without a ``method`` the sequential trees,
        which hold parent-child interactions a single copula correlation cannot).
    generator_params: parameters of the table generator (``method`` picks it).
    max_context: at most this many parent columns are context (fewest distinct values first).
    pool_factor: generated rows per child slot from which matches are chosen (>= 1).
    min_leaf_parents: parents per cell of the count model at least.
    order_by: the child's timestamp column whose events are sequenced per parent; ``"auto"``
        = its first datetime/date column, ``None`` = none.
    keep_time_of_day: a sequenced timestamp keeps the generated row's time of day (hour
        seasonality and its relation to the other columns), the date comes from the sequence.
    conditional: draw each child given its synthetic parent's attributes (the table
        generator's ``sample_given``) instead of matching pool rows (the fallback, and the
        way for generators without it, such as the copula).
    chunk_rows: sampling works on blocks of parents with about this many children each.
    random_state: seed for fitting randomness.
    """

    def __init__(
        self,
        rare_min_count: int = 10,
        generator: Any = None,
        generator_params: dict[str, Any] | None = None,
        max_context: int = 12,
        pool_factor: float = 2.0,
        min_leaf_parents: int = 100,
        order_by: str | None = "auto",
        keep_time_of_day: bool = True,
        conditional: bool = True,
        chunk_rows: int = 100_000,
        random_state: int | None = None,
    ) -> None:
        self.rare_min_count = rare_min_count
        self.generator = generator
        self.generator_params = generator_params
        self.max_context = max_context
        self.pool_factor = pool_factor
        self.min_leaf_parents = min_leaf_parents
        self.order_by = order_by
        self.keep_time_of_day = keep_time_of_day
        self.conditional = conditional
        self.chunk_rows = chunk_rows
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        parent_frame: pd.DataFrame,
        child_frame: pd.DataFrame,
        parent_key: str,
        child_foreign_key: str,
        parent_specs: list[ColumnSpec] | None = None,
        child_specs: list[ColumnSpec] | None = None,
        child_key: str | None = None,
        parent_keys: tuple[str, ...] = (),
        subjects: Any = None,
    ) -> ChildGenerator:
        """Learn counts, attributes given the parent, and event times of ``child_frame``.

        ``parent_keys``: other key columns of the parent (its own foreign key to a grandparent):
        never context, since released keys are fresh random values.
        ``subjects``: whose each child row is (one entry per row of ``child_frame``, e.g. the
        parent key or the grandparent's), passed to the table generator, which then emits a
        category only when held by ``rare_min_count`` distinct subjects, not rows.
        """
        _require(parent_frame, [parent_key], "parent")
        _require(child_frame, [child_foreign_key] + ([child_key] if child_key else []), "child")
        if float(self.pool_factor) < 1.0:
            raise ConfigError(f"ChildGenerator: pool_factor must be >= 1, got {self.pool_factor}")
        if len(parent_frame) == 0 or len(child_frame) == 0:
            raise EmptyInputError("ChildGenerator.fit: the parent or the child input has no rows")
        keys = parent_frame[parent_key]
        if keys.isna().any() or keys.duplicated().any():
            raise ConfigError(
                f"ChildGenerator: parent key {parent_key!r} must be unique and not NULL "
                "in the parent input"
            )
        parent_specs = parent_specs or infer_specs(parent_frame)
        child_specs = child_specs or infer_specs(child_frame)
        k = int(self.rare_min_count)
        self.parent_key_, self.foreign_key_, self.child_key_ = (
            parent_key,
            child_foreign_key,
            child_key,
        )
        exclude = (parent_key, *parent_keys)
        self.context_ = ParentContext(int(self.max_context), exclude=exclude).fit(
            parent_frame, parent_specs
        )
        pos = pd.Index(keys).get_indexer(child_frame[child_foreign_key])
        linked = pos >= 0
        self.n_orphans_dropped_ = int((~linked).sum())
        children = child_frame.loc[linked].reset_index(drop=True)
        pos = pos[linked]
        if subjects is not None:
            subjects = check_subjects(subjects, len(child_frame))[linked]
        if not len(children):
            raise EmptyInputError(
                f"ChildGenerator.fit: no child row's {child_foreign_key!r} matches a parent's "
                f"{parent_key!r}"
            )
        counts = np.bincount(pos, minlength=len(parent_frame))
        tree_seed = None if self.random_state is None else int(self.random_state) % 2**32
        self.counts_ = ChildCounts(k, int(self.min_leaf_parents), random_state=tree_seed).fit(
            self.context_.numbers(parent_frame), counts
        )

        own_keys = {child_foreign_key, *([child_key] if child_key else [])}
        self.columns_ = list(child_frame.columns)
        attrs = [c for c in self.columns_ if c not in own_keys]
        by_name = {s.name: s for s in child_specs}
        self.child_key_style_ = key_style(by_name.get(child_key)) if child_key else None
        # context first: the trees condition every child column on the parent's attributes,
        # and ``sample_given`` fixes them for the synthetic parent of each child slot
        train = pd.concat(
            [
                self.context_.renamed(parent_frame.iloc[pos]),
                children[attrs].reset_index(drop=True),
            ],
            axis=1,
        )
        p_specs = {s.name: s for s in parent_specs}
        specs = [
            dataclasses.replace(p_specs[c], name=context_name(c)) for c in self.context_.columns_
        ] + [by_name[c] for c in attrs]
        options = {} if subjects is None else {"subjects": subjects}
        self.model_ = self._table_generator().fit(train, specs, **options)
        self.model_columns_ = list(train.columns)
        self.conditional_ = self._can_condition(parent_frame.iloc[:0])
        self.kinds_ = {c: by_name[c].kind for c in attrs}
        self.order_by_ = self._order_column(attrs, by_name)
        self.gaps_ = None
        if self.order_by_ is not None:
            sec = seconds(children[self.order_by_])
            ok = ~np.isnan(sec)
            if ok.sum() >= k:
                self.gaps_ = EventGaps(k).fit(pos[ok], sec[ok])
        return self

    def _table_generator(self) -> Any:
        if self.generator is not None:
            return self.generator
        params = dict(self.generator_params or {})
        if "method" not in params and not asks_for_copula(params):
            # children of one parent are alike: a leaf of 20 students can be one school's,
            # which teaches the trees that school, not how students follow their school's
            # attributes. Leaves of 8 * rare_min_count rows: Hsb82 intertable trends 0.898 ->
            # 0.918 (6 seeds), flights 0.627/0.632 -> 0.630/0.640 (2 seeds); safer, too
            params.setdefault("min_leaf_rows", 8 * int(self.rare_min_count))
        return related_generator(self.rare_min_count, self.random_state, params)

    def _can_condition(self, no_parents: pd.DataFrame) -> bool:
        """Whether children can be drawn given their parent (``sample_given`` accepts the
        context: the sequential trees with the context columns first; not the copula)."""
        if not self.conditional or not self.context_.columns_:
            return False
        if not hasattr(self.model_, "sample_given"):
            return False
        try:
            self.model_.sample_given(self.context_.renamed(no_parents), seed=0)
        except ConfigError:
            return False
        return True

    def _order_column(self, attrs: list[str], by_name: dict[str, ColumnSpec]) -> str | None:
        if self.order_by is None:
            return None
        if self.order_by != "auto":
            if self.order_by not in attrs:
                raise ConfigError(
                    f"ChildGenerator: order_by column {self.order_by!r} is not a child attribute"
                )
            return self.order_by
        stamps = [c for c in attrs if by_name[c].kind in ("datetime", "date")]
        return stamps[0] if stamps else None

    # --------------------------------------------------------------- sample
    @property
    def parent_columns(self) -> list[str]:
        """The columns of a synthetic parent frame that sampling reads (key and context)."""
        return [self.parent_key_, *self.context_.columns_]

    def parents_per_block(self) -> int:
        """Parents per sampling block: about ``chunk_rows`` children each."""
        return max(1, int(int(self.chunk_rows) / max(self.counts_.mean_count_, 1.0)))

    def sample(self, synthetic_parents: pd.DataFrame, seed: int | None = None) -> pd.DataFrame:
        """Child rows of ``synthetic_parents`` (which carry their fresh ``parent_key``)."""
        step = self.parents_per_block()
        blocks = (
            synthetic_parents.iloc[i : i + step] for i in range(0, len(synthetic_parents), step)
        )
        frames = list(self.sample_chunks(blocks, seed))
        if not frames:
            return self._sample_block(synthetic_parents.iloc[:0], np.random.default_rng(seed))
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def sample_chunks(
        self, parent_blocks: Iterable[pd.DataFrame], seed: int | None = None
    ) -> Iterator[pd.DataFrame]:
        """The children of each block of synthetic parents, one frame per block.

        Block ``i`` draws from its own stream ``SeedSequence(seed, spawn_key=(i,))``, so the
        rows depend on the seed and the blocks, not on how far a consumer has read; memory is
        one block's parents and children (``parents_per_block`` keeps a block near
        ``chunk_rows`` children).
        """
        if not hasattr(self, "model_"):
            raise ConfigError("ChildGenerator: call fit() before sampling")
        entropy = np.random.SeedSequence(seed).entropy
        for i, block in enumerate(parent_blocks):
            rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(i,)))
            yield self._sample_block(block, rng)

    def _sample_block(self, parents: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        _require(parents, self.parent_columns, "synthetic parent")
        parents = parents.reset_index(drop=True)
        counts = self.counts_.sample(self.context_.numbers(parents), rng)
        total = int(counts.sum())
        owner = np.repeat(np.arange(len(parents)), counts)
        rows = self._attributes(parents, owner, rng)
        if self.gaps_ is not None and total:
            rows, owner = self._sequenced(rows, owner, counts, rng)
        rows[self.foreign_key_] = parents[self.parent_key_].to_numpy()[owner]
        if self.child_key_:
            rows[self.child_key_] = fresh_keys(total, self.child_key_style_).to_numpy()
        return rows[self.columns_]

    def _attributes(
        self, parents: pd.DataFrame, owner: np.ndarray, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Child attributes for every slot (``owner``: its parent's row), context dropped.

        Conditional sampling when the table generator offers it (``sample_given``: the
        parent's attributes fixed, the child's drawn given them); slots it could not fill
        without a rare value combination, and generators without it, take a matched pool row.
        """
        ctx = self.context_.columns_
        names = [context_name(c) for c in ctx]
        slots = parents[ctx].iloc[owner].reset_index(drop=True)
        attrs = [c for c in self.model_columns_ if c not in names]
        parts: list[pd.DataFrame] = []
        open_slots = np.arange(len(slots))
        if self.conditional_ and len(slots):
            # one more round only: a slot still failing then almost always has a parent whose
            # own values form a combination rare among the children (flights: 50,264 of 50,298
            # after 3 more rounds), which no redraw of the child's columns mends
            drawn = self.model_.sample_given(
                slots.set_axis(names, axis=1), seed=int(rng.integers(2**31 - 1)), rounds=2
            )
            parts.append(drawn[attrs])
            still_open = np.ones(len(slots), dtype=bool)
            still_open[drawn.index.to_numpy()] = False  # a mask: setdiff1d sorts (0.8 s, flights)
            open_slots = np.flatnonzero(still_open)
        if len(open_slots) or not parts:
            parts.append(self._matched(slots.iloc[open_slots], pool_rng=rng).set_axis(open_slots))
        if len(parts) == 1:
            return parts[0].reset_index(drop=True)
        return pd.concat(parts).sort_index().reset_index(drop=True)

    def _matched(self, slots: pd.DataFrame, pool_rng: np.random.Generator) -> pd.DataFrame:
        """For each slot (its parent's context), a pool row whose context matches as far as
        can be (``context_match``); context dropped."""
        ctx = self.context_.columns_
        names = [context_name(c) for c in ctx]
        n = len(slots)
        pool = self.model_.sample(
            max(n, int(np.ceil(float(self.pool_factor) * n))),
            seed=int(pool_rng.integers(2**31 - 1)),
        )
        drawn = pool[names].set_axis(ctx, axis=1)
        cells = self.context_.cells(pd.concat([slots, drawn], ignore_index=True), MATCH_BINS)
        chosen = match_rows(cells.iloc[:n], cells.iloc[n:], pool_rng)
        return pool.drop(columns=names).iloc[chosen].reset_index(drop=True)

    def _sequenced(
        self, rows: pd.DataFrame, owner: np.ndarray, counts: np.ndarray, rng: np.random.Generator
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows of each parent get the parent's event times, in the order they were drawn."""
        col = self.order_by_
        drawn = seconds(rows[col])
        order = np.lexsort((np.nan_to_num(drawn, nan=np.inf), owner))
        rows, owner, drawn = rows.iloc[order].reset_index(drop=True), owner[order], drawn[order]
        times = self.gaps_.sample(counts, rng)
        day_only = self.kinds_[col] == "date"
        if day_only:
            times = np.floor(times / _DAY) * _DAY
        elif self.keep_time_of_day:
            tod = np.where(np.isnan(drawn), 0.0, np.mod(drawn, _DAY))
            times = np.floor(times / _DAY) * _DAY + tod
        times[np.isnan(drawn)] = np.nan
        rows[col] = _from_seconds(times, rows[col])
        order = np.lexsort((np.nan_to_num(times, nan=np.inf), owner))
        return rows.iloc[order].reset_index(drop=True), owner[order]

    def describe(self) -> dict[str, Any]:
        """What the release evidence says about this link."""
        inner = self.model_.describe() if hasattr(self.model_, "describe") else {}
        return {
            "method": "child_generator",
            "parent_key": self.parent_key_,
            "foreign_key": self.foreign_key_,
            "child_key": self.child_key_,
            "keys": "fresh random values per release (OS randomness), no mapping to the source",
            "context_columns": list(self.context_.columns_),
            "children_drawn": (
                "given the synthetic parent's context (conditional sampling)"
                if self.conditional_
                else "pool rows matched to the synthetic parent's context"
            ),
            "children_per_parent": self.counts_.describe(),
            "event_times": (
                {"column": self.order_by_, **self.gaps_.describe()} if self.gaps_ else None
            ),
            "orphans_dropped": self.n_orphans_dropped_,
            "attributes": inner,
        }


class RelationalSynthesizer:
    """A tree of related tables (``fit(tables, relations, keys)``, ``sample(n_root, seed)``).

    rare_min_count: the privacy floor of every model.
    generator_params: parameters of each table generator (``related_generator``: without a
        ``method``, the sequential trees with leaf knots of ``rare_min_count`` rows).
    child_params: extra ``ChildGenerator`` parameters, per child table name (its
        ``generator_params`` are merged over the shared ones).
    """

    def __init__(
        self,
        rare_min_count: int = 10,
        generator_params: dict[str, Any] | None = None,
        child_params: dict[str, dict[str, Any]] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.rare_min_count = rare_min_count
        self.generator_params = generator_params
        self.child_params = child_params
        self.random_state = random_state

    def fit(
        self,
        tables: dict[str, pd.DataFrame],
        relations: list[Relation],
        keys: dict[str, str],
        specs: dict[str, list[ColumnSpec]] | None = None,
    ) -> RelationalSynthesizer:
        """Fit the root table's generator and one ``ChildGenerator`` per relation."""
        specs = specs or {}
        self.order_ = _tree_order(tables, relations)
        self.relations_ = {r.child: r for r in relations}
        self.keys_ = dict(keys)
        roots = [t for t in self.order_ if t not in self.relations_]
        if len(roots) != 1:
            raise ConfigError(f"RelationalSynthesizer: expected one root table, found {roots}")
        self.root_ = roots[0]
        root_key = keys.get(self.root_)
        if not root_key:
            raise ConfigError(f"RelationalSynthesizer: table {self.root_!r} needs a primary key")
        frame = tables[self.root_]
        root_specs = specs.get(self.root_) or infer_specs(frame)
        self.root_key_style_ = key_style(next((s for s in root_specs if s.name == root_key), None))
        self.root_columns_ = list(frame.columns)
        self.root_model_ = related_generator(
            self.rare_min_count, self.random_state, self.generator_params
        ).fit(
            frame.drop(columns=[root_key]), [s for s in root_specs if s.name != root_key]
        )
        self.children_: dict[str, ChildGenerator] = {}
        for name in self.order_:
            rel = self.relations_.get(name)
            if rel is None:
                continue
            extra = dict((self.child_params or {}).get(name, {}))
            # a child's own generator parameters refine the shared ones
            own = {**(self.generator_params or {}), **extra.pop("generator_params", {})}
            gen = ChildGenerator(
                rare_min_count=int(self.rare_min_count),
                generator_params=own or None,
                random_state=self.random_state,
                **extra,
            )
            self.children_[name] = gen.fit(
                tables[rel.parent],
                tables[name],
                rel.parent_key,
                rel.foreign_key,
                specs.get(rel.parent),
                specs.get(name),
                child_key=keys.get(name),
                parent_keys=tuple(
                    k
                    for k in (
                        keys.get(rel.parent),
                        getattr(self.relations_.get(rel.parent), "foreign_key", None),
                    )
                    if k
                ),
            )
        return self

    def sample(self, n_root: int, seed: int | None = None) -> dict[str, pd.DataFrame]:
        """``n_root`` root rows and their descendants, keys fresh and consistent."""
        seeds = np.random.SeedSequence(seed).spawn(len(self.order_))
        out: dict[str, pd.DataFrame] = {}
        for name, ss in zip(self.order_, seeds, strict=True):
            s = int(ss.generate_state(1)[0])
            if name == self.root_:
                frame = self.root_model_.sample(int(n_root), seed=s)
                frame[self.keys_[name]] = fresh_keys(len(frame), self.root_key_style_).to_numpy()
                out[name] = frame[self.root_columns_]
            else:
                out[name] = self.children_[name].sample(out[self.relations_[name].parent], s)
        return out


def related_generator(
    rare_min_count: int, random_state: int | None, generator_params: dict[str, Any] | None
) -> Any:
    """The table generator of a table in a tree of related tables (root or child).

    Without a ``method`` (and unless the parameters ask for the copula:
    ``registry.asks_for_copula``) the sequential trees with leaf
    knots of ``rare_min_count`` rows: the parent's own columns must hang together (a copula
    root gave 54 % of synthetic planes a manufacturer/model pair no real plane has, which no
    child can be conditioned on), and a child's columns depend on the parent's by cells.
    """
    params = {"rare_min_count": int(rare_min_count), "random_state": random_state}
    params.update(generator_params or {})
    if "method" not in params and not asks_for_copula(params):
        # one correlation matrix cannot hold "segment c buys x, the others y": measured on
        # such data the copula gave segment a 99 % y (real 79 %), the trees 79 %
        params["method"] = "sequential_trees"
        # leaf tables with a knot per row drew values next to training rows: DCR share
        # 0.563 on a child table of a dbt test; knots of rare_min_count rows smooth that
        params.setdefault("leaf_rows_per_knot", int(rare_min_count))
        # trees on 20,000 rows: flights (81k child rows) fit in 3.2 s instead of 9.5 s with
        # the same quality (intertable trends 0.627 / 0.631 vs 0.628 / 0.636, 2 seeds)
        params.setdefault("tree_rows", 20_000)
        # (stratified draws, first set here for related tables, are the trees' own default)
    return build_generator(**params)


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what} rows have no column {', '.join(map(repr, missing))}")


def _tree_order(tables: dict[str, pd.DataFrame], relations: list[Relation]) -> list[str]:
    """Tables with every parent before its children; each child has exactly one parent."""
    parent_of: dict[str, str] = {}
    for r in relations:
        for t in (r.parent, r.child):
            if t not in tables:
                raise ConfigError(f"relation names table {t!r}, which is not given")
        if r.child in parent_of:
            raise ConfigError(f"table {r.child!r} has more than one parent; give it one")
        parent_of[r.child] = r.parent
    order: list[str] = []
    while len(order) < len(tables):
        ready = [
            t for t in tables if t not in order and (t not in parent_of or parent_of[t] in order)
        ]
        if not ready:
            raise ConfigError("the relations form a cycle")
        order.extend(ready)
    return order


def _from_seconds(secs: np.ndarray, like: pd.Series) -> pd.Series:
    """Timestamps from epoch seconds, in the dtype (and time zone) of ``like``."""
    t = pd.Series(pd.to_datetime(secs, unit="s"))
    tz = getattr(like.dtype, "tz", None)
    if tz is not None:
        return t.dt.tz_localize("UTC").dt.tz_convert(tz).astype(like.dtype)
    if pd.api.types.is_datetime64_any_dtype(like.dtype):
        return t.astype(like.dtype)
    return t.dt.date.where(t.notna(), None)  # a column of python dates (PostgreSQL date)
