"""Sequential tree generator: each latent dimension drawn from a tree leaf given the ones before.

The Gaussian copula ties columns together with one correlation matrix; that cannot hold
``arr_delay ≈ dep_delay`` at 0.9 rank correlation next to a spike at zero, routes that exist
only for some carriers, or interactions. Here the same latent scores the copula builds (null
flags, values as ranks or outcomes, timestamp trend and calendar parts — the copula's column
objects, so marginals, tail protection, calendars, shared nulls and derived columns are the
copula's) are modelled one after another, synthpop-style: a decision tree per dimension,
trained on the dimensions before it, splits the training rows into leaves (conditioning cells),
and sampling walks the same trees, drawing each dimension from its leaf's distribution.

Privacy controls, all structural:

* every leaf holds at least ``min_leaf_rows`` (never fewer than ``rare_min_count``) training rows;
* a leaf keeps a distribution, never rows: outcome frequencies for discrete dimensions, a
  smoothed quantile table of scores (``rows_per_knot = rare_min_count``) for continuous ones,
  decoded through the column's protected quantile table — so numbers are interpolated, stay
  inside the protected tails, and no training row is copied as a whole;
* categories seen fewer than ``rare_min_count`` times are not in the model at all (the copula's
  rule), and a pair of categorical values seen together fewer than ``rare_min_count`` times is
  never emitted (columns of at most ``pair_max_categories`` categories): such draws are redrawn
  from the leaf, then from the training frequencies of the value's frequent combinations with
  the row's earlier values, and only a row that still holds one is dropped and replaced.

Each tree is grown on most of its rows and pruned where its splits do not predict the rest
(held-out log-likelihood, ``pruning.py``): on CPS1988 the fine splits of wage cut into 20-row
leaves made synthetic rows repeat training rows' (education, experience) at their wage (DCR
share 0.538, identical rows above the holdout's); pruned, 0.515.

Trees are scikit-learn's CART, fitted on at most ``tree_rows`` rows; sampling is vectorised per
chunk (one ``apply`` and one draw per dimension), so memory is flat in the number of rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from synthdb.errors import ConfigError, UnsupportedColumnError

from .context import PREFIX
from .copula import GaussianCopula, _Categorical, _Datetime, _Numeric
from .leaves import LeafCodes, LeafQuantiles
from .lookups import SamplingLookups
from .marginals import IntervalMarginal
from .ordering import effective_values
from .pruning import pruned_leaves, score_bins
from .strata import stratified_uniforms
from .subjects import subjects_per_key
from .tree_walk import PrunedWalk

VERSION = "1"
#: discrete targets with more outcomes are grouped (frequent ones + "other") for tree growth
MAX_TREE_CLASSES = 16
#: redraws of a value that forms a rare pair before the whole row is dropped
REDRAWS = 8
#: rounds of drawing a still-rare value from its frequent combinations before the row is dropped
REPAIR_ROUNDS = 3
# Draws in a row that keep no row before sampling gives up with an error instead of looping.
MAX_EMPTY_DRAWS = 50
#: rows of the trial draw at fit that must keep at least one row (``_check_emittable``)
TRIAL_ROWS = 500
#: a categorical triple is checked when its frequent combinations are fewer than this share of
#: an upper bound of those its pairs allow (flights' routes: 0.37) ...
TRIPLE_SPARSITY = 0.5
#: ... and at most this share of the training rows hold one of its rare combinations (routes:
#: 1.6 %). A triple with many rows in rare combinations (race, gender, neighbourhood on
#: MplsStops: 14 %) is diffuse, not structural: banning them cost 0.01-0.013 QA accuracy there
TRIPLE_MAX_RARE_ROWS = 0.02
#: at most this many triple checks per model (each costs one lookup per sampled row)
MAX_TRIPLES = 40
#: a rare-combination check whose key space is at most this large is looked up in a table of
#: all keys (bytes) instead of searched in the sorted allowed keys
MAX_KEY_TABLE = 1 << 22
#: conditioning orders of the columns (``SequentialTrees._column_order``)
ORDERS = ("auto", "input", "discrete_first", "fewest_values")
#: ``order="auto"``: "fewest_values" from this many training rows on, "input" below. On a
#: small table a tree affords few splits, and a spread-out column moved late loses its ties
#: to the columns before it (credit_data, 3,563 rows: QA accuracy 0.926 -> 0.923 over 3
#: seeds); from CPS1988's 22,524 rows on the order costs nothing and pays on MplsStops
#: (41,536: 0.970 -> 0.973) and flights (0.942 -> 0.951)
AUTO_ORDER_MIN_ROWS = 20_000


def _key_table(allowed: np.ndarray, space: int) -> np.ndarray:
    """A boolean table over all ``space`` keys, True at the ``allowed`` ones."""
    table = np.zeros(space, dtype=bool)
    table[allowed] = True
    return table


class _Dim(SamplingLookups):
    """One latent dimension: where it comes from and how its scores map to outcomes."""

    def __init__(
        self,
        col: int,
        offset: int,
        role: str,
        marginal: IntervalMarginal | None = None,
        banned: np.ndarray | None = None,
        part: str | None = None,
    ) -> None:
        self.col = col  # index into columns_
        self.offset = offset  # column of the latent matrix
        self.role = role  # flag, value, trend, part
        self.marginal = marginal  # None = continuous
        self.banned = banned if banned is not None else np.zeros(0, dtype=np.int64)
        self.part = part
        self.null_dim: int | None = None  # index of the flag dim that makes this one NULL
        self.tree: Any = None
        self.n_leaves = 1
        self.leaf_of: np.ndarray | None = None  # tree node id -> leaf number
        self.dist: LeafCodes | LeafQuantiles | None = None
        # (earlier dims, allowed keys of their values with this one's, cumulative training
        # counts of those keys): pairs, declared groups and sparse triples
        self.pairs: list[tuple[list[int], np.ndarray, np.ndarray]] = []

    def leaves(self, feats: np.ndarray, rows: np.ndarray, j: int) -> np.ndarray:
        """Pruned leaf of each of ``rows`` (features: the first ``j`` columns of ``feats``)."""
        walk = self.lookup("walk", lambda: PrunedWalk(self.tree, self.leaf_of))
        return walk.leaves(feats, rows, j)

    def allowed(self, pair: int, key: np.ndarray, space: int) -> np.ndarray:
        """Which ``key`` values (mixed-radix codes of pair ``pair``'s group, ``0 <= key <
        space``) are among its allowed combinations. A table of all ``space`` keys when that is
        small (one lookup per row instead of a binary search), else a search."""
        allowed = self.pairs[pair][1]
        if not len(allowed):
            return np.zeros(len(key), dtype=bool)
        if space <= MAX_KEY_TABLE:
            table = self.lookup(("allowed", pair), lambda: _key_table(allowed, space))
            return table[key]
        pos = np.minimum(np.searchsorted(allowed, key), len(allowed) - 1)
        return allowed[pos] == key

    @property
    def discrete(self) -> bool:
        return self.marginal is not None

    @property
    def n_codes(self) -> int:
        return len(self.marginal.width) if self.marginal is not None else 0


class SequentialTrees(GaussianCopula):
    """Sequential CART synthesizer on the copula's latent scores (configure, ``fit``, ``sample``).

    Keyword parameters are the copula's (rare categories, tails, calendars, derived columns, mock
    columns, chunked sampling; not ``conditional_numbers``: the trees condition), plus:

    min_leaf_rows: training rows per leaf at least (raised to ``rare_min_count``).
    max_leaves: at most this many leaves per tree (bounds fit time and model size).
    tree_rows: the trees are fitted on at most this many of the training rows.
    protect_pairs: never emit a pair of categorical values seen together fewer than
        ``rare_min_count`` times (unseen pairs included), for columns of at most
        ``pair_max_categories`` emitted categories.
    protect_groups: column groups (e.g. ``[["carrier", "origin", "dest"]]``) whose value
        combinations are never emitted unless seen at least ``rare_min_count`` times together.
    protect_triples: also check, without declaring them, the triples of categorical columns
        whose pairs would let rare or unseen combinations through (routes), at most
        ``MAX_TRIPLES`` of them, sparsest first.
    tree_classes: a categorical column with more categories is learnt by its tree as its
        most frequent ones plus "other" (its leaves still keep every emitted category).
    order: ``"auto"`` (``"fewest_values"`` on tables of at least ``AUTO_ORDER_MIN_ROWS`` rows,
        else ``"input"``), ``"input"``, ``"discrete_first"`` or ``"fewest_values"`` (see
        ``_column_order``). A parent's columns on child rows (``context.PREFIX``) stay first.
    prune: grow each tree on part of its rows and keep only the splits that predict the
        other ``prune_share`` of them better than their parent does (``pruning.py``): leaf
        sizes then follow the data per tree, small where the structure is real, large where
        small leaves would only hand out the sampled rows' own combinations.
    prune_share: the held-out share of the rows (the trees still grow on at most
        ``tree_rows`` rows; on larger inputs the held-out rows come on top).
    stratified: draw each column's values from its leaves with stratified uniforms (one per
        equal stratum of each leaf's draws, shuffled: ``strata.stratified_uniforms``) instead
        of independent ones, so a small table follows its leaf tables closely rather than by
        chance. Each draw alone is still uniform: the protections are unchanged. On by
        default since session 7 (QA accuracy, seeds 42/1/2, load 7-9: credit_data 0.926 ->
        0.931 with DCR share 0.531 -> 0.526, CPS1988 0.977 -> 0.979, MplsStops 0.973 ->
        0.974; flights 0.9485 -> 0.947 on seeds 42/7); first used for related tables (160
        synthetic schools of mlmRev Hsb82: the share of Catholic schools ranged 0.39-0.55
        over seeds, real 0.44).

    A value that still forms a rare combination after ``REDRAWS`` draws from its leaf is drawn
    from the training frequencies of its frequent combinations with the row's earlier values;
    only a row that cannot be mended that way is dropped (and replaced by a fresh one).

    Differential privacy is not available here (``epsilon`` must stay None): use the copula.
    """

    def __init__(
        self,
        min_leaf_rows: int = 20,
        max_leaves: int = 4_000,
        tree_rows: int = 50_000,
        protect_pairs: bool = True,
        leaf_rows_per_knot: int = 1,
        pair_max_categories: int = 200,
        protect_groups: list[list[str]] | None = None,
        protect_triples: bool = True,
        tree_classes: int = MAX_TREE_CLASSES,
        order: str = "auto",
        prune: bool = True,
        prune_share: float = 0.15,
        stratified: bool = True,
        **copula_params: Any,
    ) -> None:
        # the trees condition every column on the ones before it: no per-category tables
        super().__init__(**copula_params, conditional_numbers=False)
        self.min_leaf_rows = min_leaf_rows
        self.max_leaves = max_leaves
        self.tree_rows = tree_rows
        self.protect_pairs = protect_pairs
        self.leaf_rows_per_knot = leaf_rows_per_knot
        self.pair_max_categories = pair_max_categories
        self.protect_groups = protect_groups
        self.protect_triples = protect_triples
        self.tree_classes = tree_classes
        self.order = order
        self.prune = prune
        self.prune_share = prune_share
        self.stratified = stratified

    def _check_params(self) -> None:
        super()._check_params()
        if self._dp_active():
            raise ConfigError(
                "SequentialTrees: differential privacy (epsilon) is not available for the "
                "sequential generator; use method gaussian_copula with epsilon"
            )
        if not 0.0 <= float(self.prune_share) < 1.0:
            raise ConfigError(
                f"SequentialTrees: prune_share must be in [0, 1), got {self.prune_share!r}"
            )
        if self.order not in ORDERS:
            raise ConfigError(
                f"SequentialTrees: order must be one of {', '.join(ORDERS)}, got {self.order!r}"
            )
        if int(self.min_leaf_rows) < 1 or int(self.max_leaves) < 2 or int(self.tree_rows) < 1:
            raise ConfigError(
                "SequentialTrees: min_leaf_rows and tree_rows must be >= 1, max_leaves >= 2"
            )

    # ------------------------------------------------------------------ fit
    def fit(
        self, frame: pd.DataFrame, specs: Any = None, subjects: Any = None
    ) -> SequentialTrees:
        """As the copula's ``fit``; with ``order="fewest_values"`` the columns' value
        frequencies are counted first (``ordering.py``: ties are not visible in the scores)."""
        rows = len(frame) if isinstance(frame, pd.DataFrame) else 0
        self.order_used_ = self.order
        if self.order == "auto":
            self.order_used_ = "fewest_values" if rows >= AUTO_ORDER_MIN_ROWS else "input"
        counted = self.order_used_ == "fewest_values" and rows > 0
        self._effective_values = effective_values(frame) if counted else {}
        super().fit(frame, specs, subjects)
        return self

    def _dims(self) -> list[_Dim]:
        """Latent dims of the fitted columns, each column's dims together, columns in the
        conditioning order (``_column_order``)."""
        blocks: dict[int, list[_Dim]] = {}
        offset = 0
        for i, col in enumerate(self.columns_):
            dims: list[_Dim] = blocks.setdefault(i, [])
            if col.flag is not None:
                dims.append(_Dim(i, offset, "flag", col.flag))
            own = int(col.flag is not None)
            if isinstance(col, _Numeric):
                marg = col.marginal if col.values is not None else None
                dims.append(_Dim(i, offset + own, "value", marg))
            elif isinstance(col, _Categorical):
                banned = np.flatnonzero(col.outcome_code == -2)
                dims.append(_Dim(i, offset + own, "value", col.marginal, banned))
            elif isinstance(col, _Datetime):
                # calendar parts first (month before weekday: the weekday's scores are read
                # given the month), then the trend, whose score is a rank inside their cell
                for p in sorted(col.parts, key=("month", "dow", "hour").index):
                    at = offset + own + 1 + col.parts.index(p)
                    dims.append(_Dim(i, at, "part", col.part_marginals[p], part=p))
                dims.append(_Dim(i, offset + own, "trend"))
            offset += col.dims
            assert len(dims) == col.dims
        dims = self._flags_first(self._column_order(blocks), blocks)
        if self.order_used_ == "fewest_values":
            dims = self._parts_by_values(dims)
        flag_dim = {d.col: j for j, d in enumerate(dims) if d.role == "flag"}
        for d in dims:
            if d.role == "flag":
                continue
            owner = self.null_leader_.get(d.col, d.col)
            d.null_dim = flag_dim.get(owner)
        return dims

    def _column_order(self, blocks: dict[int, list[_Dim]]) -> list[int]:
        """Columns in the order the trees condition them: ``"input"`` keeps the input's order;
        ``"discrete_first"`` puts columns with few outcomes first (fewest first), then the
        continuous numbers and timestamps in input order, so a continuous column is drawn
        within cells of the discrete ones instead of conditioning them on its own narrow
        ranges (which repeats training rows' combinations); a column sharing another's null
        flag follows that column. ``"fewest_values"`` orders the columns by their effective
        number of values (``ordering.py``), fewest first: categories and spiky numbers before
        spread-out numbers and timestamps (flights: delays before departure times)."""
        cols = list(blocks)
        if self.order_used_ == "input":
            return cols
        if self.order_used_ == "fewest_values":
            names = {i: str(self.names_[self.model_pos_[i]]) for i in cols}
            counts = getattr(self, "_effective_values", {})
            # a parent's columns on child rows stay first: children are drawn given them
            key = {
                i: (0, 0.0) if names[i].startswith(PREFIX) else (1, counts.get(names[i], np.inf))
                for i in cols
            }
            return sorted(cols, key=lambda i: (key[i], i))

        def own_key(i: int) -> tuple[int, int]:
            values = [d for d in blocks[i] if d.role != "flag"]
            if values and all(d.discrete for d in values):
                return (0, max(d.n_codes for d in values))
            return (1, 0)

        key = {i: own_key(i) for i in cols}
        for follower, leader in self.null_leader_.items():
            if follower in key and leader in key:
                key[follower] = min(key[follower], key[leader])
        return sorted(cols, key=lambda i: (key[i], i))

    def _parts_by_values(self, dims: list[_Dim]) -> list[_Dim]:
        """A timestamp's calendar parts move to where the calendar columns derived from it
        would stand by their own number of values. ``hour``, ``month`` … of ``time_hour`` are
        columns of the table (a few values each) that are drawn as the timestamp's parts, and
        clock identities build on them (``sched_dep_time = 100 * hour + minute``), so the
        columns after them are drawn given the hour instead of the hour being read back from
        them at the end. The trend (spread out) stays last; a timestamp without derived
        calendar columns keeps its parts with its trend."""
        names = {d.col: str(self.names_[self.model_pos_[d.col]]) for d in dims}
        counts = getattr(self, "_effective_values", {})

        def key(d: _Dim) -> tuple[int, float]:
            if names[d.col].startswith(PREFIX):
                return (0, 0.0)
            return (1, counts.get(names[d.col], np.inf))

        for c in sorted({d.col for d in dims if d.role == "part"}):
            derived = [
                counts.get(str(self.names_[pos]), np.inf)
                for pos, (base, _) in self.derived_.items()
                if base == self.model_pos_[c]
            ]
            if not derived:
                continue
            lead = self.null_leader_.get(c, c)
            # its own NULL flag moves with the parts (a flag only has to precede its users)
            moved = [
                d for d in dims if d.col == c and (d.role == "part" or (d.role == "flag" and lead == c))
            ]
            rest = [d for d in dims if all(d is not m for m in moved)]
            own = (1, min(derived))
            # never later than now, never before another column's flag they follow
            last = next(j for j, d in enumerate(dims) if d is moved[0])
            start = next((j + 1 for j, d in enumerate(rest) if d.col == lead and d.role == "flag"), 0)
            at = next((j for j in range(start, last) if key(rest[j]) > own), last)
            dims = rest[:at] + moved + rest[at:]
        return dims

    def _flags_first(self, order: list[int], blocks: dict[int, list[_Dim]]) -> list[_Dim]:
        """The dims of the columns in ``order``; a shared null flag (owned by its group's
        leader) comes with the first column of its group, so an order that puts a follower
        before its leader still draws the flag before any value it makes NULL."""
        flag = {i: d for i, ds in blocks.items() for d in ds if d.role == "flag"}
        out: list[_Dim] = []
        placed: set[int] = set()
        for i in order:
            lead = self.null_leader_.get(i, i)
            if lead in flag and lead not in placed:
                out.append(flag[lead])
                placed.add(lead)
            out += [d for d in blocks[i] if d.role != "flag"]
        return out

    def _dow_tables(self, d: _Dim, month: np.ndarray | None) -> list[tuple[np.ndarray, Any]]:
        """(rows, weekday-given-month marginal) pairs: the copula reads a weekday's score with
        its month's weekday frequencies where that month has enough rows."""
        col = self.columns_[d.col]
        if d.part != "dow" or not isinstance(col, _Datetime) or month is None:
            return []
        return [
            (month == m, marg) for m, marg in enumerate(col.dow_given_month) if marg is not None
        ]

    def _codes_of(self, d: _Dim, u: np.ndarray, month: np.ndarray | None) -> np.ndarray:
        """Outcome codes of a discrete dim from its scores (as the copula's decode reads them)."""
        codes = np.full(len(u), -1, dtype=np.int64)
        ok = ~np.isnan(u)
        codes[ok] = d.marginal.from_uniform(u[ok])
        for sel, marg in self._dow_tables(d, month):
            codes[sel & ok] = marg.from_uniform(u[sel & ok])
        return codes

    def _scores_of(
        self, d: _Dim, codes: np.ndarray, month: np.ndarray | None, rng: np.random.Generator
    ) -> np.ndarray:
        """Scores that the copula's decode reads back as ``codes`` (inverse of ``_codes_of``)."""
        u = d.marginal.to_uniform(codes, rng)
        for sel, marg in self._dow_tables(d, month):
            u[sel] = marg.to_uniform(codes[sel], rng)
        return u

    def _month_dim(self, d: _Dim) -> int | None:
        for j, e in enumerate(self.dims_):
            if e.col == d.col and e.part == "month":
                return j
        return None

    def _fit_joint(
        self, blocks: list[np.ndarray], atten: list[float], rng: np.random.Generator
    ) -> None:
        """One tree per latent dim on the dims before it; leaves keep protected distributions."""
        self.corr_, self.shrinkage_ = np.zeros((0, 0)), 0.0
        self.chol_ = self.corr_
        self.dims_ = self._dims()
        n = len(blocks[0]) if blocks else 0
        subjects = getattr(self, "_fit_subjects", None)  # fit(..., subjects=): pairs by subject
        share = float(self.prune_share) if self.prune else 0.0
        # the trees grow on at most tree_rows rows; held-out rows for pruning come on top
        total = min(n, int(int(self.tree_rows) / (1.0 - share)))
        if n > total:
            rows = np.sort(rng.choice(n, size=total, replace=False))
            blocks = [b[rows] for b in blocks]
            subjects = subjects[rows] if subjects is not None else None
            n = len(rows)
        held_out = np.zeros(n, dtype=bool)
        if share > 0:
            held_out[rng.choice(n, size=int(round(share * n)), replace=False)] = True
        feats = np.full((n, len(self.dims_)), np.nan, dtype=np.float32)
        codes: dict[int, np.ndarray] = {}
        for j, d in enumerate(self.dims_):
            self._read_dim(j, d, blocks[d.offset], feats, codes)
        min_leaf = max(int(self.min_leaf_rows), int(self.rare_min_count))
        for j, d in enumerate(self.dims_):
            target_ok = (codes[j] >= 0) if d.discrete else ~np.isnan(feats[:, j])
            if d.discrete:
                target_ok &= ~np.isin(codes[j], d.banned)
            rows = np.flatnonzero(target_ok)
            y = codes[j][rows] if d.discrete else feats[rows, j].astype(float)
            leaf = np.zeros(len(rows), dtype=np.int64)
            n_leaves = 1
            if j > 0 and len(rows) >= 2 * min_leaf:
                d.tree = self._tree(d, y, min_leaf, rng)
                grow, check = np.flatnonzero(~held_out[rows]), np.flatnonzero(held_out[rows])
                if len(grow) < 2 * min_leaf or not len(check):
                    grow, check = np.arange(len(rows)), check[:0]
                with warnings.catch_warnings():
                    # many outcomes on few rows is expected here, not a mistaken regression
                    warnings.filterwarnings("ignore", "The number of unique classes")
                    d.tree.fit(
                        feats[rows[grow], :j],
                        self._tree_target(d, y[grow], int(self.tree_classes)),
                    )
                if len(check):
                    outcome = y if d.discrete else score_bins(y)
                    node_leaf, n_leaves = pruned_leaves(
                        d.tree,
                        feats[rows[check], :j],
                        outcome[grow],
                        outcome[check],
                        feats[rows[grow], :j],
                    )
                else:
                    node_leaf, n_leaves = _leaf_numbers(d.tree)
                d.n_leaves = n_leaves
                d.leaf_of = node_leaf
                leaf = node_leaf[d.tree.apply(feats[rows, :j])]
            if d.discrete:
                d.dist = LeafCodes(leaf, y, n_leaves, d.n_codes, d.banned)
            else:
                d.dist = LeafQuantiles(leaf, y, n_leaves, int(self.leaf_rows_per_knot))
        self._fit_pairs(codes, subjects)
        self.n_tree_rows_ = n
        self._check_emittable()

    def _check_emittable(self) -> None:
        """Refuse at fit a model whose protected combinations together leave no row to emit.

        Each checked pair or group has frequent combinations (``_fit_pairs`` refuses one that
        has none), but on a tiny table their constraints can still exclude every row, and
        sampling would then fail after ``MAX_EMPTY_DRAWS`` draws (hypothesis found a 45-row
        frame of five small categorical columns). A trial draw here moves that refusal to
        fit, before any release work; it uses its own generator, so samples are unchanged."""
        if not any(d.pairs for d in self.dims_):
            return
        _, ok = self._draw(np.random.default_rng(0), TRIAL_ROWS)
        if not ok.any():
            names = sorted(
                {str(self.names_[self.model_pos_[self.dims_[j].col]])
                 for d in self.dims_ for earlier, _, _ in d.pairs for j in earlier}
                | {str(self.names_[self.model_pos_[d.col]]) for d in self.dims_ if d.pairs}
            )
            raise UnsupportedColumnError(
                f"SequentialTrees: no row of a trial draw of {TRIAL_ROWS} keeps every protected "
                f"value combination of the columns {', '.join(map(repr, names))} frequent (held "
                "by rare_min_count training rows); collapse their categories, or leave one of "
                "them out of the release"
            )

    def _tree(self, d: _Dim, y: np.ndarray, min_leaf: int, rng: np.random.Generator) -> Any:
        from sklearn.tree import (  # synthdb.release.warmup
            DecisionTreeClassifier,
            DecisionTreeRegressor,
        )

        seed = int(rng.integers(2**31 - 1))
        kw = dict(min_samples_leaf=min_leaf, max_leaf_nodes=int(self.max_leaves), random_state=seed)
        if not d.discrete or d.n_codes <= 2:
            return DecisionTreeRegressor(**kw)
        return DecisionTreeClassifier(**kw)

    @staticmethod
    def _tree_target(d: _Dim, y: np.ndarray, classes: int) -> np.ndarray:
        """What the tree learns: scores, 0/1, or outcomes (infrequent ones grouped)."""
        if not d.discrete or d.n_codes <= 2:
            return y.astype(float)
        counts = np.bincount(y, minlength=d.n_codes)
        if d.n_codes <= classes:
            return y
        top = np.argsort(-counts, kind="stable")[: classes - 1]
        group = np.full(d.n_codes, classes - 1, dtype=np.int64)
        group[top] = np.arange(len(top))
        return group[y]

    def _fit_pairs(self, codes: dict[int, np.ndarray], subjects: np.ndarray | None = None) -> None:
        """Allowed value combinations of categorical dims (seen >= rare_min_count times, or held
        by as many distinct ``subjects``): every pair (``protect_pairs``) and each declared
        column group (``protect_groups``)."""
        cat = [
            j
            for j, d in enumerate(self.dims_)
            if d.role == "value"
            and isinstance(self.columns_[d.col], _Categorical)
            and self.columns_[d.col].kind == "categorical"  # type: ignore[attr-defined]
        ]
        groups: list[list[int]] = []
        for group in self.protect_groups or []:
            found = []
            for name in group:
                j = next(
                    (j for j in cat if self.names_[self.model_pos_[self.dims_[j].col]] == name),
                    None,
                )
                if j is None:
                    raise ConfigError(
                        f"SequentialTrees: protect_groups names column {name!r}, which is not a "
                        "modelled categorical column of the input"
                    )
                found.append(j)
            groups.append(sorted(found))
        if self.protect_pairs:
            # a pair with a near-unique side (tail numbers: a plane flies a route a few times)
            # would forbid most draws; the rare categories of such a column are still never
            # emitted
            small = [j for j in cat if self.dims_[j].n_codes <= int(self.pair_max_categories)]
            groups += [[a, b] for i, b in enumerate(small) for a in small[:i]]
            if self.protect_triples:
                groups += self._sparse_triples(small, codes, subjects)
        k = int(self.rare_min_count)
        for group in groups:
            *earlier, last = group
            if float(np.prod([float(self.dims_[j].n_codes) for j in group])) >= 2**62:
                raise ConfigError(
                    "SequentialTrees: a protected column group has too many combinations"
                )
            size = int(np.prod([self.dims_[j].n_codes - len(self.dims_[j].banned)
                                for j in group]))
            ok = self._emittable(group, codes)
            keys = self._group_key(group, codes, ok)
            uk, cnt = np.unique(keys, return_counts=True)
            held = cnt if subjects is None else subjects_per_key(keys, subjects[ok])
            freq = held >= k
            if int(freq.sum()) == size:
                continue  # every combination is frequent: nothing to check
            if not freq.any():
                names = ", ".join(repr(str(self.names_[self.model_pos_[self.dims_[j].col]]))
                                  for j in group)
                raise UnsupportedColumnError(
                    f"SequentialTrees: no combination of the columns {names} is held by "
                    f"{k} training rows (rare_min_count), so no row could show them together "
                    "without a rare combination; collapse their categories, or leave one of "
                    "them out of the release"
                )
            self.dims_[last].pairs.append((earlier, uk[freq], np.cumsum(cnt[freq])))

    def _sparse_triples(
        self, small: list[int], codes: dict[int, np.ndarray], subjects: np.ndarray | None = None
    ) -> list[list[int]]:
        """Triples of categorical dims whose observed combinations are a small part of what
        their pairs allow, with few rows in rare ones (routes: carrier, origin, dest): each gets
        a rare-combination check, at most ``MAX_TRIPLES`` of them, sparsest first.

        With ``subjects``, a combination counts as frequent only when that many distinct
        subjects hold it (as the check itself counts them), so routes that only one person's
        many rows fly make a triple sparser, never denser. The rows in rare combinations (the
        ``TRIPLE_MAX_RARE_ROWS`` rule, which keeps diffuse triples out) are still counted by
        rows: one subject's many rows are structure to withhold, not diffuseness."""
        k = int(self.rare_min_count)
        found: list[tuple[float, list[int]]] = []
        for c, third in enumerate(small):
            for b_i, b in enumerate(small[:c]):
                for a in small[:b_i]:
                    group = [a, b, third]
                    sizes = [self.dims_[j].n_codes for j in group]
                    if min(sizes) < 2 or float(np.prod(sizes, dtype=float)) >= 2**62:
                        continue
                    ok = self._emittable(group, codes)
                    key = self._group_key(group, codes, ok)
                    if not len(key):
                        continue
                    _, cnt = np.unique(key, return_counts=True)
                    if cnt[cnt < k].sum() > TRIPLE_MAX_RARE_ROWS * len(key):
                        continue
                    held = cnt if subjects is None else subjects_per_key(key, subjects[ok])
                    frequent = int((held >= k).sum())
                    # combinations its pairs allow: at most a pair's support times the
                    # categories of the third
                    bound = min(
                        len(np.unique(self._group_key(pair, codes, ok))) * sizes[group.index(other)]
                        for pair, other in (([a, b], third), ([a, third], b), ([b, third], a))
                    )
                    share = frequent / max(bound, 1)
                    if share < TRIPLE_SPARSITY:
                        found.append((share, group))
        found.sort(key=lambda t: t[0])
        return [g for _, g in found[:MAX_TRIPLES]]

    def _emittable(self, group: list[int], codes: dict[int, np.ndarray]) -> np.ndarray:
        """Training rows whose codes in ``group`` are all values the sampler may emit: not
        NULL and not the pooled code of rare categories. The pool is a frequent *code* made of
        rare values; allowed as a combination, the repair step drew it and decoding turned it
        into a kept category, emitting pairs the training rows hold fewer than k times."""
        return np.all(
            [(codes[j] >= 0) & ~np.isin(codes[j], self.dims_[j].banned) for j in group], axis=0
        )

    def _group_key(self, group: list[int], codes: dict[int, np.ndarray], rows: Any) -> np.ndarray:
        """Mixed-radix key of the group's codes on ``rows`` (mask or positions)."""
        key = np.zeros(len(codes[group[0]][rows]), dtype=np.int64)
        for j in group:
            key = key * self.dims_[j].n_codes + codes[j][rows]
        return key

    # --------------------------------------------------------------- sample
    def _latent(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """``m`` rows of latent scores drawn dim by dim from the trees' leaves."""
        d_total = sum(c.dims for c in self.columns_)
        out = np.full((m, d_total), 0.5)
        have = empty_rounds = 0
        while have < m:
            want = m - have if have == 0 else int((m - have) * 1.2) + 16
            u, ok = self._draw(rng, want)
            empty_rounds = 0 if ok.any() else empty_rounds + 1
            if empty_rounds >= MAX_EMPTY_DRAWS:
                raise UnsupportedColumnError(
                    f"SequentialTrees: {MAX_EMPTY_DRAWS} draws of {want} rows in a row held a "
                    "rare value combination in every row; the protected columns leave no "
                    "frequent combination to emit"
                )
            u = u[ok][: m - have]
            out[have : have + len(u)] = u
            have += len(u)
        return out

    def _draw(
        self, rng: np.random.Generator, m: int, given: np.ndarray | None = None, n_given: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latent scores of ``m`` rows, and which rows hold no rare pair; the first ``n_given``
        dims are not drawn but read from ``given`` (see ``sample_given``)."""
        d_total = sum(c.dims for c in self.columns_)
        u = np.full((m, d_total), 0.5)
        feats = np.full((m, len(self.dims_)), np.nan, dtype=np.float32)
        codes: dict[int, np.ndarray] = {}
        ok_rows = np.ones(m, dtype=bool)
        for j, d in enumerate(self.dims_):
            if j < n_given:
                self._set_given(j, d, given, u, feats, codes)
                continue
            live = np.ones(m, dtype=bool)
            if d.null_dim is not None:
                live = codes[d.null_dim] == 0
            rows = np.flatnonzero(live)
            if d.tree is not None and len(rows):
                leaf = d.leaves(feats, rows, j)
            else:
                leaf = np.zeros(len(rows), dtype=np.int64)
            u_leaf = stratified_uniforms(leaf, rng) if self.stratified else rng.random(len(rows))
            v = d.dist.sample(leaf, u_leaf)
            if d.discrete:
                c = np.full(m, -1, dtype=np.int64)
                c[rows] = v
                # checks after the first run on the rows still holding a rare combination only
                bad = rows[~self._pairs_ok(d, c, codes, rows)] if d.pairs else rows[:0]
                for _ in range(REDRAWS):
                    if not len(bad):
                        break
                    pos = np.searchsorted(rows, bad)
                    c[bad] = d.dist.sample(leaf[pos], rng.random(len(bad)))
                    bad = bad[~self._pairs_ok(d, c, codes, bad)]
                if len(bad):
                    self._repair(d, c, codes, bad, rng)
                    ok_rows[bad] &= self._pairs_ok(d, c, codes, bad)
                codes[j] = c
                feats[rows, j] = c[rows]
                mj = self._month_dim(d) if d.part == "dow" else None
                month = codes[mj][rows] if mj is not None else None
                u[rows, d.offset] = self._scores_of(d, c[rows], month, rng)
            else:
                feats[rows, j] = v
                u[rows, d.offset] = np.clip(v, 1e-9, 1 - 1e-9)
        return u, ok_rows

    def _read_dim(
        self,
        j: int,
        d: _Dim,
        scores: np.ndarray,
        feats: np.ndarray,
        codes: dict[int, np.ndarray],
    ) -> None:
        """Dim ``j``'s tree feature from its latent scores: the outcome code of a discrete dim
        (also kept in ``codes``; a weekday read within its month), else the score itself. One
        reading for fitting and for given columns, so a given value lands in the leaves fit
        built for it."""
        if d.discrete:
            mj = self._month_dim(d) if d.part == "dow" else None
            c = self._codes_of(d, scores, codes.get(mj) if mj is not None else None)
            codes[j] = c
            feats[:, j] = np.where(c >= 0, c, np.nan)
        else:
            feats[:, j] = scores

    def _set_given(
        self,
        j: int,
        d: _Dim,
        given: np.ndarray,
        u: np.ndarray,
        feats: np.ndarray,
        codes: dict[int, np.ndarray],
    ) -> None:
        """Dim ``j`` takes the given scores (NaN: NULL or unknown), as fit read its own."""
        g = given[:, d.offset]
        self._read_dim(j, d, g, feats, codes)
        u[:, d.offset] = np.where(np.isnan(g), 0.5, np.clip(g, 1e-9, 1 - 1e-9))

    def sample_given(
        self, given: pd.DataFrame, seed: int | None = None, rounds: int = REPAIR_ROUNDS + 1
    ) -> pd.DataFrame:
        """One row per row of ``given``, its columns fixed, the other columns drawn given them.

        ``given``'s columns must come first in the conditioning order (fit the model with them
        as the leading columns and ``order="input"``, or name them with ``context.PREFIX``,
        which every order keeps first), be modelled (not derived), and not share
        a null flag with a column that is not given. A row whose draw still holds a rare value
        combination is drawn again, at most ``rounds`` times; a row that never passes is left
        out, so the result's index names the rows of ``given`` it answers (``0..len-1`` when
        all). The given columns come back as the model decodes them (callers drop them).
        """
        from .given import given_scores

        if not hasattr(self, "dims_"):
            raise ConfigError("SequentialTrees: call fit() before sampling")
        by_name = {self.names_[p]: i for i, p in enumerate(self.model_pos_)}
        fixed = {by_name.get(c, -1) for c in given.columns}
        leaders = {self.null_leader_.get(i, i) for i in fixed}
        n_given = next((j for j, d in enumerate(self.dims_) if d.col not in fixed), len(self.dims_))
        if -1 in fixed or not leaders <= fixed or {d.col for d in self.dims_[n_given:]} & fixed:
            raise ConfigError(
                "SequentialTrees.sample_given: the given columns must be modelled columns that "
                "come first in the conditioning order and share no null flag with other columns"
            )
        rng = np.random.default_rng(seed)
        offsets = np.concatenate([[0], np.cumsum([c.dims for c in self.columns_])]).astype(int)
        scores = given_scores(
            self.columns_, offsets, {by_name[c]: given[c] for c in given.columns}, rng
        )
        out = np.full_like(scores, 0.5)
        pending = np.arange(len(given))
        for _ in range(max(1, int(rounds))):
            drawn, ok = self._draw(rng, len(pending), scores[pending], n_given)
            out[pending[ok]] = drawn[ok]
            pending = pending[~ok]
            if not len(pending):
                break
        done = np.setdiff1d(np.arange(len(given)), pending)
        frame = self._decode_chunk(out[done], rng, self._decode_order(), offsets)
        return frame.set_axis(done, axis=0)

    def _repair(
        self,
        d: _Dim,
        c: np.ndarray,
        codes: dict[int, np.ndarray],
        rows: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Rows whose value still forms a rare combination after the leaf redraws: draw it
        from the training frequencies of this column's frequent combinations with the row's
        earlier values (one check at a time, a few rounds), instead of dropping the row, which
        would take its earlier values out of the output with it (race given neighbourhood)."""
        this = self.dims_.index(d)
        for _ in range(REPAIR_ROUNDS):
            bad = rows[~self._pairs_ok(d, c, codes, rows)]
            if not len(bad):
                return
            for earlier, allowed, cum in d.pairs:
                if not len(allowed):
                    continue
                group = [*earlier, this]
                view = {**{j: codes[j] for j in earlier}, this: c}
                has = np.all([view[j][bad] >= 0 for j in group], axis=0)
                at = bad[has]
                key = self._group_key(group, view, at)
                pos = np.minimum(np.searchsorted(allowed, key), len(allowed) - 1)
                wrong = allowed[pos] != key
                at = at[wrong]
                # frequent keys that share the row's earlier values form one run of ``allowed``
                prefix = self._group_key(earlier, codes, at) * d.n_codes
                lo = np.searchsorted(allowed, prefix)
                hi = np.searchsorted(allowed, prefix + d.n_codes)
                can = hi > lo
                at, lo, hi = at[can], lo[can], hi[can]
                base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0)
                target = base + rng.random(len(at)) * (cum[hi - 1] - base)
                pick = np.minimum(np.searchsorted(cum, target, side="right"), hi - 1)
                c[at] = allowed[pick] % d.n_codes

    def _pairs_ok(
        self, d: _Dim, c: np.ndarray, codes: dict[int, np.ndarray], rows: np.ndarray
    ) -> np.ndarray:
        """For ``rows``: no protected combination ending in ``d`` is rare."""
        ok = np.ones(len(rows), dtype=bool)
        this = self.dims_.index(d)
        for i, (earlier, _, _) in enumerate(d.pairs):
            group = [*earlier, this]
            view = {**{j: codes[j] for j in earlier}, this: c}
            has = np.all([view[j][rows] >= 0 for j in group], axis=0)
            key = self._group_key(group, view, rows[has])
            space = int(np.prod([self.dims_[j].n_codes for j in group], dtype=float))
            found = d.allowed(i, key, space)
            ok[np.flatnonzero(has)[~found]] = False
        return ok

    # ------------------------------------------------------------- describe
    def describe(self) -> dict:
        out = super().describe()
        out["method"] = "sequential_trees"
        out["version"] = VERSION
        out["correlation"] = {
            "model": "one CART tree per latent dimension, on the dimensions before it",
            "dims": len(self.dims_),
            "leaves": int(sum(d.n_leaves for d in self.dims_)),
            "tree_rows": int(self.n_tree_rows_),
            "order": self.order,
            "order_used": getattr(self, "order_used_", self.order),
            "pruned_on_held_out_share": float(self.prune_share) if self.prune else 0.0,
            "stratified_draws": bool(self.stratified),
            "columns_in_order": [
                str(self.names_[self.model_pos_[d.col]]) for d in self.dims_ if d.role != "flag"
            ],
        }
        out["privacy"].update(
            {
                "min_leaf_rows": max(int(self.min_leaf_rows), int(self.rare_min_count)),
                "leaf_distribution": "outcome frequencies / smoothed score quantile tables",
                "rare_pairs": "never emitted" if self.protect_pairs else "not checked",
                "protected_groups": [list(map(str, g)) for g in self.protect_groups or []],
                "rare_pair_checks": int(sum(len(d.pairs) for d in self.dims_)),
                "rare_triples": "checked where pairs allow unseen ones"
                if self.protect_triples
                else "not checked",
            }
        )
        return out


def _leaf_numbers(tree: Any) -> tuple[np.ndarray, int]:
    """Map from node id to leaf number (0..L-1; -1 for split nodes), and L."""
    left = tree.tree_.children_left
    is_leaf = left == -1
    out = np.full(len(left), -1, dtype=np.int64)
    out[is_leaf] = np.arange(int(is_leaf.sum()))
    return out, int(is_leaf.sum())
