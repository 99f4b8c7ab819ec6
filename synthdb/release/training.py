"""Reading the training input of a release: row count, a bounded seeded sample, split, specs.

Only the ``synthesize`` mode learns from rows this way; ``deidentify`` reads a sample for its
report and ``mock`` reads the catalog only (synthdb.release.modes). The report command re-reads
a run's training sample with the same functions and seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from psycopg import sql
from psycopg.pq import TransactionStatus

from synthdb.errors import ConfigError, EmptyInputError
from synthdb.release import pgio
from synthdb.release.config import SynthConfig
from synthdb.release.names import label, qualified
from synthdb.release.reserved_keys import ReservedKeys, aggregate_of

if TYPE_CHECKING:
    from synthdb.release.synthesize import SynthesisRequest


def count_rows(conn, request: SynthesisRequest, reserved: ReservedKeys | None = None) -> int:
    """Rows of the training input; an empty input is refused (nothing to learn from).

    The same pass collects the source keys in the fresh keys' reserved range (``reserved``).
    """
    n, found = conn.execute(sql.SQL(
        "SELECT count(*), pg_catalog.array_to_string({}, ',') FROM {}").format(
        aggregate_of(reserved), qualified(*request.source))).fetchone()
    if n == 0:
        _refuse_empty(request)
    if reserved is not None:
        reserved.take(found)
    return int(n)


def _refuse_empty(request: SynthesisRequest) -> None:
    raise EmptyInputError(
        f"model {request.model}: the training input {label(*request.source)} has no rows; "
        "nothing to learn from (the previous release is untouched)"
    )


@contextmanager
def fixed_row_order(conn) -> Iterator[None]:
    """Reads inside give a relation's rows in one order, run after run.

    A seeded sample is only repeatable if the rows arrive in the same order: the Bernoulli
    draw keeps rows by their place in the stream, and the split permutes positions. Parallel
    workers interleave their rows differently each time (a Gather, or a sort of equal keys
    fed by one), and a synchronized scan starts mid-table where another scan is. Found on the
    1M demo: three reads with seed 7 gave three different training samples; serial, the same
    one, and no slower (7.1 s median against 7.6 s, load 1.5-2.8). The settings are the
    transaction's own and are put back afterwards: the run's later queries (checks, digest)
    keep their parallel plans.
    """
    names = ("max_parallel_workers_per_gather", "synchronize_seqscans")
    before = conn.execute("SELECT current_setting(%s), current_setting(%s)", names).fetchone()
    conn.execute("SELECT set_config(%s, '0', true), set_config(%s, 'off', true)", names)
    try:
        yield
    finally:
        if conn.info.transaction_status == TransactionStatus.INTRANS:  # not failed or over
            conn.execute("SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
                         (names[0], before[0], names[1], before[1]))


def seed_session_random(conn, seed: int) -> None:
    """Seed this session's ``random()`` from the run's seed (setseed takes [-1, 1])."""
    conn.execute("SELECT setseed(%s)", ((seed % 2_000_000) / 1_000_000 - 1,))


SAMPLE_MARGIN = 1.2  # sampled fraction over the planner's row estimate: a stale estimate
# (up to ~15 % too high) still yields enough rows; too many are cut down in Python.


def estimated_rows(conn, select: sql.Composable) -> float:
    """The planner's row estimate of ``select`` (EXPLAIN; nothing is executed)."""
    plan = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(select)).fetchone()[0]
    return float(plan[0]["Plan"]["Plan Rows"])


def read_training(conn, request: SynthesisRequest, columns: list[pgio.PgColumn], seed: int,
                  estimate: float | None = None, reserved: ReservedKeys | None = None
                  ) -> tuple[pd.DataFrame, int]:
    """At most ``max_train_rows / (1 - holdout)`` rows of the input (seeded) and its row count.

    One evaluation of the training input (issue 15: a view with joins and window functions was
    evaluated twice, once to count and once to read):

    - an input the planner expects to fit in the sample (``estimate``: the planner's row
      estimate of the input, EXPLAIN, when the caller already has it) is read whole with
      ``LIMIT limit + 1``; if at most ``limit`` rows come back they are the whole input and
      their number is its row count. These are the very rows the count-then-read gave
      (``LIMIT`` above the planner's estimate leaves the plan, and so the row order, as it
      was; nothing is sampled below the limit). Memory stays bounded by the limit. Only if
      more rows come back (the estimate was far too low) is the input counted, then sampled
      with the exact fraction (never collected in arrays sized by that estimate).
    - a larger input: a single aggregate counts every row and collects a seeded Bernoulli
      sample (one array per column, unnested again), with the fraction set from the
      planner's estimate. Only if that estimate was far too high, so the sample came out
      short, is the input read a second time with the exact fraction. Array columns (which
      ``array_agg`` would nest) are counted and sampled in two passes.

    Serial and from the first block (``fixed_row_order``), so a seed gives the same rows.

    Whichever way, the pass that sees every row also collects the keys in the fresh keys'
    reserved range into ``reserved`` (synthdb.release.reserved_keys), if given.
    """
    cfg = request.config
    select = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in columns), qualified(*request.source))
    limit = int(cfg.max_train_rows / (1 - cfg.holdout))
    with fixed_row_order(conn):
        return _read_training(conn, request, columns, select, limit, seed, estimate, reserved)


def _read_training(conn, request: SynthesisRequest, columns: list[pgio.PgColumn],
                   select: sql.Composable, limit: int, seed: int, estimate: float | None,
                   reserved: ReservedKeys | None) -> tuple[pd.DataFrame, int]:
    if estimate is None:
        estimate = estimated_rows(conn, select)
    if estimate <= limit:
        whole = _read_whole(conn, columns, select, limit)
        if whole is None:  # the estimate was far too low: count, then sample exactly
            return _read_training_twice(conn, request, columns, select, limit, seed, reserved)
        if whole.empty:
            _refuse_empty(request)
        if reserved is not None:
            reserved.take_values(whole[reserved.column])
        return whole, len(whole)
    if any(c.pg_type.endswith("]") for c in columns):  # array_agg would nest arrays
        return _read_training_twice(conn, request, columns, select, limit, seed, reserved)
    frame, n_source, found = _count_and_sample(conn, columns, select,
                                               SAMPLE_MARGIN * limit / estimate, seed, reserved)
    if n_source == 0:
        _refuse_empty(request)
    if len(frame) < min(limit, n_source):  # the estimate was far too high
        return _read_training_twice(conn, request, columns, select, limit, seed, reserved)
    if reserved is not None:
        reserved.take(found)
    return _at_most(frame, limit, seed), n_source


def _read_whole(conn, columns: list[pgio.PgColumn], select: sql.Composable, limit: int
                ) -> pd.DataFrame | None:
    """Every row of ``select`` if it has at most ``limit`` (one pass), else None."""
    frame = pgio.read_frame(conn, sql.SQL("{} LIMIT {}").format(select, sql.Literal(limit + 1)),
                            columns)
    return frame if len(frame) <= limit else None


def _count_and_sample(conn, columns: list[pgio.PgColumn], select: sql.Composable,
                      fraction: float, seed: int, reserved: ReservedKeys | None = None
                      ) -> tuple[pd.DataFrame, int, str | None]:
    """(seeded Bernoulli sample of ``select`` at ``fraction``, exact row count, the keys in
    the reserved range comma-separated), one pass. The keys come as rows of their own after
    the sample's, one key each: a single cell holding them all outgrew the CSV reader's block
    (random 63-bit ids put half of a table's keys in bigint's reserved range)."""
    names = [sql.Identifier(c.name) for c in columns]
    arrays = [sql.Identifier(f"a{i}") for i in range(len(columns))]
    keep = sql.Identifier("__synthdb_keep")
    query = sql.SQL(
        "SELECT agg.n AS __synthdb_n, x.* FROM (SELECT count(*) AS n, {reserved} AS r, {aggs} "
        "FROM (SELECT s.*, random() < {fraction} AS {keep} FROM ({select}) s) v) agg "
        "LEFT JOIN LATERAL (SELECT NULL::text AS __synthdb_reserved, u.* FROM unnest({arrays}) "
        "WITH ORDINALITY AS u({names}, __synthdb_ord) "
        "UNION ALL SELECT k, {nulls} FROM unnest(agg.r) AS k) x ON true"
    ).format(
        reserved=aggregate_of(reserved),
        aggs=sql.SQL(", ").join(
            sql.SQL("array_agg({}) FILTER (WHERE {}) AS {}").format(n, keep, a)
            for n, a in zip(names, arrays, strict=True)),
        fraction=sql.Literal(fraction), keep=keep, select=select,
        arrays=sql.SQL(", ").join(arrays), names=sql.SQL(", ").join(names),
        nulls=sql.SQL(", ").join([sql.SQL("NULL")] * (len(columns) + 1)))
    extra = [pgio.PgColumn("__synthdb_n", "bigint", "N", True),
             pgio.PgColumn("__synthdb_reserved", "text", "S", False)]
    ordinal = [pgio.PgColumn("__synthdb_ord", "bigint", "N", False)]
    seed_session_random(conn, seed)
    raw = pgio.read_frame(conn, query, extra + columns + ordinal)
    n_source = int(raw["__synthdb_n"].iloc[0]) if len(raw) else 0
    found = ",".join(raw["__synthdb_reserved"].dropna())
    sampled = raw[raw["__synthdb_ord"].notna()]
    return sampled[[c.name for c in columns]].reset_index(drop=True), n_source, found


def _read_training_twice(conn, request: SynthesisRequest, columns: list[pgio.PgColumn],
                         select: sql.Composable, limit: int, seed: int,
                         reserved: ReservedKeys | None = None) -> tuple[pd.DataFrame, int]:
    """Count (collecting the reserved-range keys), then sample with the exact fraction: two
    evaluations of the input."""
    n_source = count_rows(conn, request, reserved)
    if n_source > limit:
        # Bernoulli sample in SQL (views cannot TABLESAMPLE); seeded so a fixed seed repeats.
        seed_session_random(conn, seed)
        fraction = min(1.0, 1.1 * limit / n_source)
        select = sql.SQL("SELECT * FROM ({}) s WHERE random() < {}").format(
            select, sql.Literal(fraction)
        )
    return _at_most(pgio.read_frame(conn, select, columns), limit, seed), int(n_source)


def sample_table(conn, table: sql.Composable, columns: list[pgio.PgColumn], size: int,
                 rows: int, seed: int) -> pd.DataFrame:
    """A seeded uniform sample of exactly ``min(size, rows)`` rows of ``table`` (``rows`` rows).

    ``ORDER BY random() LIMIT size`` alone gives each row a random key and keeps the smallest
    ``size``: every row is projected into the sort (0.37 s at 1M rows, five times that at 5M).
    Here a seeded Bernoulli pass first keeps each row with probability ``p`` (``size`` plus
    five standard deviations, so fewer than ``size`` survive about once in three million runs)
    and only those few are ordered at random and cut to ``size``. Conditioned on keeping at
    least ``size`` rows, a Bernoulli subset is a uniform subset of its size and a random
    ``size``-subset of it is a uniform ``size``-subset of the table: the metrics see the same
    kind of sample as before (other rows for the same seed, the same spread). When too few
    survive, the plain ``ORDER BY random()`` draw is taken instead.
    """
    with fixed_row_order(conn):
        return _sample_table(conn, table, columns, size, rows, seed)


def _sample_table(conn, table: sql.Composable, columns: list[pgio.PgColumn], size: int,
                  rows: int, seed: int) -> pd.DataFrame:
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    ordered = sql.SQL("SELECT {} FROM {} ORDER BY random() LIMIT {}").format(
        names, table, sql.Literal(size))
    seed_session_random(conn, seed)
    if rows > 2 * size:
        fraction = (size + 5 * size ** 0.5 + 10) / rows
        frame = pgio.read_frame(conn, sql.SQL(
            "SELECT {} FROM (SELECT * FROM {} WHERE random() < {}) s ORDER BY random() LIMIT {}"
        ).format(names, table, sql.Literal(fraction), sql.Literal(size)), columns)
        if len(frame) == size:
            return frame
        seed_session_random(conn, seed)
    return pgio.read_frame(conn, ordered, columns)


def _at_most(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if len(frame) > limit:
        frame = frame.sample(n=limit, random_state=seed % 2**32).reset_index(drop=True)
    return frame


def split(frame: pd.DataFrame, holdout: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/holdout split; no holdout below 10 rows."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    n_hold = int(round(len(frame) * holdout)) if len(frame) >= 10 else 0
    return (frame.iloc[order[n_hold:]].reset_index(drop=True),
            frame.iloc[order[:n_hold]].reset_index(drop=True))


def split_by_subject(frame: pd.DataFrame, subject: str, holdout: float, seed: int
                     ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Seeded split of whole subjects: every row of a subject lands on the same side.

    The ``subject`` column is taken out of both frames and returned as the subject of each
    train and holdout row. A holdout share of the subjects (none below 10 subjects) is drawn;
    all rows with a NULL subject count as one subject.
    """
    subjects = frame[subject].to_numpy(dtype=object)
    rows = frame.drop(columns=[subject])
    codes, names = pd.factorize(pd.Series(subjects, dtype=object), use_na_sentinel=False)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    n_hold = int(round(len(names) * holdout)) if len(names) >= 10 else 0
    held = np.isin(codes, order[:n_hold])
    return (rows[~held].reset_index(drop=True), rows[held].reset_index(drop=True),
            subjects[~held], subjects[held])


def column_specs(frame: pd.DataFrame, columns: list[pgio.PgColumn], cfg: SynthConfig,
                 model: str):
    """Column specs inferred from ``frame`` with ``synth.columns`` overrides, plus mock columns."""
    from synthdb.generators import infer_specs

    unknown = sorted(set(cfg.columns) - {c.name for c in columns})
    if unknown:
        raise ConfigError(
            f"model {model}: config synth.columns names column(s) {', '.join(map(repr, unknown))} "
            "that the training input does not have"
        )
    specs = infer_specs(frame, {c.name: c.pg_type for c in columns})
    mock: set[str] = set()
    for spec in specs:
        override = cfg.columns.get(spec.name) or {}
        if not isinstance(override, dict):
            raise ConfigError(f"model {model}: config synth.columns.{spec.name} must be a mapping")
        if override.get("method") == "mock":
            mock.add(spec.name)
        elif override.get("method") not in (None, "synthesize"):
            raise ConfigError(
                f"model {model}: synth.columns.{spec.name}.method must be 'synthesize' or 'mock'"
            )
        if "kind" in override:
            spec.kind = override["kind"]
        if "role" in override:
            spec.role = override["role"]
    return specs, mock
