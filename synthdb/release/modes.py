"""The three release modes as objects: what each reads, generates, writes and measures.

- ``synthesize``: learns a generator from a seeded sample (split train/holdout) and writes
  generated rows; leakage is measured against the holdout.
- ``mock``: reads the catalog only (column names and types), writes Faker rows; no source row
  is ever queried.
- ``deidentify``: copies the contract's policy-transformed rows in SQL; a sample is read only
  for the QA report, and k-anonymity is the decisive check.

The stages (synthdb.release.stages) ask the mode; they never branch on its name.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from psycopg import sql

from synthdb import generators, metrics
from synthdb.errors import ConfigError
from synthdb.release import parallel, pgio, run_metrics, stages, training
from synthdb.release.config import SynthConfig
from synthdb.release.names import qualified

# Session-private copy of a deidentify release's rows with their subject (never in a schema
# anyone else can read; see Deidentify.write).
SUBJECT_COPY = "__synthdb_subject_rows"

MetricRows = tuple[list[dict[str, Any]], dict[str, Any]]


def build_generator(cfg: SynthConfig, seed: int, mock: set[str],
                    default_method: str | None = None):
    """The model's generator: ``synth.generator.method``, else ``default_method`` if given,
    else ``default_generator``'s (``epsilon`` still selects the copula)."""
    from synthdb.generators import build_generator as build

    options = {
        "rare_min_count": cfg.privacy.rare_min_count,
        "max_train_rows": cfg.max_train_rows,
        "chunk_size": cfg.chunk_size,
        "random_state": seed,
        **cfg.generator,
    }
    if default_method is not None and "method" not in cfg.generator:
        options["method"] = default_method
    try:
        return build(**options, passthrough_mock=mock)
    except ConfigError as exc:
        raise ConfigError(f"config synth.generator: {exc}") from exc


def _catalog_specs(frame: pd.DataFrame, columns: list[pgio.PgColumn]):
    from synthdb.generators import infer_specs

    return infer_specs(frame, {c.name: c.pg_type for c in columns})


def source_estimate(ctx: stages.RunContext) -> float:
    """The planner's row estimate of the training input (EXPLAIN; no row is read), planned
    once per run: the read stage asks it twice (is the sampling server needed, how large a
    fraction to sample)."""
    if ctx.source_estimate is None:
        ctx.source_estimate = training.estimated_rows(
            ctx.conn, sql.SQL("SELECT * FROM {}").format(qualified(*ctx.request.source)))
    return ctx.source_estimate


class Mode:
    """A release mode. Subclasses fill in the training input, the generator and the rows."""

    name = ""
    synthetic = True  # the released rows are generated, not real rows
    # imported while the training input is read (synthdb.release.warmup)
    imports_after_read: tuple[str, ...] = ()

    def epsilon(self, cfg: SynthConfig) -> float | None:
        """The DP epsilon this run debits (None: no DP accounting); inf is the non-DP fit."""
        epsilon = cfg.generator.get("epsilon")
        if epsilon is not None and float(epsilon) == float("inf"):
            return None
        return epsilon

    def read_training(self, ctx: stages.RunContext) -> None:
        """Set ``ctx.train``, ``holdout``, ``specs``, ``mock`` and ``n_source``."""
        raise NotImplementedError

    def build_generator(self, ctx: stages.RunContext):
        """A fitted-to-be generator, or None when rows are copied rather than generated."""
        return None

    def rare_owners(self, ctx: stages.RunContext) -> tuple[sql.Composable, str | None]:
        """Where the staged rows' values are counted for the rare-value suppression, and in
        which column's distinct values (None: rows): the staged table itself by default."""
        return ctx.tmp, None

    def fit_frame(self, ctx: stages.RunContext) -> pd.DataFrame | None:
        """What the generator is fitted on."""
        return ctx.train

    def fit_options(self, ctx: stages.RunContext) -> dict[str, Any]:
        """Further keyword arguments of ``generator.fit`` (the subjects, where counted)."""
        return {}

    def rows_to_write(self, ctx: stages.RunContext) -> int:
        return ctx.cfg.rows or ctx.n_source

    def samples_in_workers(self, ctx: stages.RunContext) -> bool:
        """Whether ``write`` will sample more than one chunk, so in worker processes
        (synthdb.release.parallel), as far as can be told before the read: from
        ``synth.rows``, else the planner's row estimate of the training input (EXPLAIN; no row
        is read).

        The read stage starts the workers' server only then. At 100k rows (one chunk) the rows
        are sampled in this process, and the server's imports (2-3 CPU-s: scikit-learn, SciPy,
        dbt's main module) only competed with the fit for the machine's two cores. A wrong
        estimate costs only time: too low and the server starts when the rows are sampled.
        """
        rows = ctx.cfg.rows or source_estimate(ctx)
        return parallel.several_chunks(rows, ctx.cfg.chunk_size)

    def write(self, ctx: stages.RunContext) -> int:
        """Fill the (created) staging table with generated rows; returns the rows written.

        Chunks of ``synth.chunk_size`` rows are sampled and encoded in worker processes
        (synthdb.release.parallel: the same rows for a seed whatever the worker count) while
        the previous chunks stream into PostgreSQL through binary COPY.
        """
        return stages.write_generated(ctx, self.rows_to_write(ctx))

    def leakage_rows(self, ctx: stages.RunContext) -> MetricRows:
        """Gated leakage/utility rows and the report's full metrics."""
        raise NotImplementedError

    def start_early_metrics(self, ctx: stages.RunContext) -> None:
        """Start (in a thread) metric work that needs only the training input; none here."""

    def owner_rows(self, ctx: stages.RunContext, rare: list[str]) -> list[dict[str, Any]]:
        """Privacy rows counted in the staged rows' owners (a child's parents); none here."""
        return []

    def counts(self, ctx: stages.RunContext) -> dict[str, Any]:
        """Row counts for the evidence (None where the mode has no such set)."""
        return {"source": ctx.n_source, "training": None, "holdout": None,
                "released": ctx.released}

    def describe(self, ctx: stages.RunContext) -> dict[str, Any]:
        return ctx.generator.describe()


class Synthesize(Mode):
    """Learn from a seeded sample of real rows, release generated rows."""

    name = "synthesize"
    # the fit's, then the metrics' scikit-learn and SciPy
    imports_after_read = generators.LAZY_IMPORTS + metrics.LAZY_IMPORTS

    def read_training(self, ctx: stages.RunContext) -> None:
        subject = [ctx.subject] if ctx.subject is not None else []
        frame, ctx.n_source = training.read_training(ctx.conn, ctx.request,
                                                     ctx.columns + subject, ctx.seed,
                                                     source_estimate(ctx), ctx.reserved)
        ctx.conn.commit()
        if ctx.subject is None:
            ctx.train, ctx.holdout = training.split(frame, ctx.cfg.holdout, ctx.seed)
        else:
            ctx.train, ctx.holdout, ctx.train_subjects, ctx.holdout_subjects = \
                training.split_by_subject(frame, ctx.subject.name, ctx.cfg.holdout, ctx.seed)
        del frame
        ctx.specs, ctx.mock = training.column_specs(ctx.train, ctx.columns, ctx.cfg,
                                                    ctx.request.model)

    def build_generator(self, ctx: stages.RunContext):
        return build_generator(ctx.cfg, ctx.seed, ctx.mock)

    def fit_options(self, ctx: stages.RunContext) -> dict[str, Any]:
        # With a subject, rare values are counted in distinct subjects (generators.subjects).
        return {} if ctx.train_subjects is None else {"subjects": ctx.train_subjects}

    def start_early_metrics(self, ctx: stages.RunContext) -> None:
        # ML utility's train-on-real model is fitted while the rows are generated and checked.
        ctx.early_ml = run_metrics.EarlyBaseline.of(ctx.train, ctx.holdout, ctx.request,
                                                    ctx.mock, ctx.seed)
        if ctx.early_ml is not None:
            ctx.early_ml.job = stages.in_background(ctx.early_ml.compute)

    def leakage_rows(self, ctx: stages.RunContext) -> MetricRows:
        subjects = None if ctx.train_subjects is None else (ctx.train_subjects,
                                                            ctx.holdout_subjects)
        return run_metrics.leakage_rows(ctx.train, ctx.holdout, ctx.synthetic_sample,
                                        ctx.request, ctx.mock, ctx.seed, subjects,
                                        early=ctx.early_ml,
                                        on_fidelity=lambda f: stages.draw_data_sections(ctx, f))

    def counts(self, ctx: stages.RunContext) -> dict[str, Any]:
        return {**super().counts(ctx), "training": len(ctx.train), "holdout": len(ctx.holdout)}


class Mock(Mode):
    """Never read a source row: the catalog's names and types drive Faker providers."""

    name = "mock"

    def epsilon(self, cfg: SynthConfig) -> float | None:
        return None

    def read_training(self, ctx: stages.RunContext) -> None:
        # Mock reads the schema only (catalog types): the relation is never queried.
        empty = pgio.empty_frame(ctx.columns)
        ctx.specs = _catalog_specs(empty, ctx.columns)
        ctx.mock, ctx.train, ctx.holdout, ctx.n_source = set(), empty, empty, 0
        if ctx.cfg.rows is None:
            raise ConfigError(f"model {ctx.request.model}: mode 'mock' needs synth.rows")

    def build_generator(self, ctx: stages.RunContext):
        from synthdb.generators import MockGenerator

        return MockGenerator(seed=ctx.seed)

    def fit_frame(self, ctx: stages.RunContext) -> pd.DataFrame | None:
        return None

    def samples_in_workers(self, ctx: stages.RunContext) -> bool:
        return parallel.several_chunks(ctx.cfg.rows or 0, ctx.cfg.chunk_size)  # not planned

    def leakage_rows(self, ctx: stages.RunContext) -> MetricRows:
        return [{"check": "no_leakage", "metric": "source_rows_read", "value": 0,
                 "threshold": 0, "passed": True,
                 "details": {"reason": "mock mode reads only the schema"}}], {}

    def counts(self, ctx: stages.RunContext) -> dict[str, Any]:
        return {**super().counts(ctx), "source": None}


class Deidentify(Mode):
    """Release the contract's policy-transformed rows as they are (copied in SQL)."""

    name = "deidentify"
    synthetic = False

    def samples_in_workers(self, ctx: stages.RunContext) -> bool:
        return False  # rows are copied in SQL

    def read_training(self, ctx: stages.RunContext) -> None:
        # Policy-transformed source rows are released as they are; a sample is read only to
        # draw the QA report. k-anonymity is the decisive check here.
        conn, columns = ctx.conn, ctx.columns
        ctx.n_source = training.count_rows(conn, ctx.request)
        ctx.train = training.sample_table(conn, qualified(*ctx.request.source), columns,
                                          ctx.cfg.privacy.sample_size, ctx.n_source, ctx.seed)
        ctx.holdout = ctx.train.iloc[0:0]
        ctx.specs = _catalog_specs(ctx.train, columns)
        ctx.mock = set()

    def write(self, ctx: stages.RunContext) -> int:
        names = sql.SQL(", ").join(sql.Identifier(c.name) for c in ctx.columns)
        source = qualified(*ctx.request.source)
        if ctx.subject is not None:
            # The contract is read once into a session-private copy holding the subject too,
            # and the staged rows come from that copy: the check stage counts subjects on
            # exactly the staged rows (a policy macro drawing random() would differ on a second
            # read). TEMP + ON COMMIT DROP: no other session sees it, nothing outlives the
            # run's transaction; the check stage drops it before the commit anyway.
            source = sql.Identifier(SUBJECT_COPY)
            ctx.conn.execute(sql.SQL(
                "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {}, {} FROM {}").format(
                source, names, sql.Identifier(ctx.subject.name),
                qualified(*ctx.request.source)))
            ctx.counted_in = source
        return ctx.conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            ctx.tmp, names, names, source)).rowcount

    def leakage_rows(self, ctx: stages.RunContext) -> MetricRows:
        return [{"check": "no_leakage", "metric": "real_rows_released", "value": ctx.released,
                 "threshold": None, "passed": None,
                 "details": {"reason": "deidentify mode releases policy-transformed source "
                             "rows (highest linkage risk); k-anonymity is the decisive check"}}], {}

    def describe(self, ctx: stages.RunContext) -> dict[str, Any]:
        return {"method": "deidentify", "policy": "contract policy macros only"}


MODES: dict[str, Mode] = {m.name: m for m in (Synthesize(), Mock(), Deidentify())}


def mode_of(cfg: SynthConfig) -> Mode:
    """The mode object of ``synth.mode`` (validated by parse_synth_config); ``synthesize`` with
    ``synth.key`` or ``synth.parent`` is its related-tables variant (synthdb.release.related)."""
    from synthdb.release.related import mode_for

    return mode_for(cfg) or MODES[cfg.mode]
