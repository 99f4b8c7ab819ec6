"""The stages of one release run, in order: begin → read → fit → write → check → leakage →
evidence → swap.

Each stage is a function of a :class:`RunContext` that reads what earlier stages left there and
adds its own results; what differs between the modes (synthesize, mock, deidentify) is asked of
``ctx.mode`` (synthdb.release.modes), so no stage branches on the mode's name. The driver
(synthdb.release.synthesize.run_synthesis) runs them as a list and owns the failure path.

Atomicity (DESIGN §2): rows are written into ``__synthdb_tmp_<run>`` in the staging schema; only
the swap stage replaces the target, in one transaction. Any failure drops the temporary table and
records the run as failed; the previous table is untouched.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from psycopg import sql

from synthdb import __version__
from synthdb.errors import ConfigError, SynthdbError
from synthdb.release import (
    audit,
    digest,
    idle,
    ledger,
    lineage,
    parallel,
    pgio,
    precheck,
    pseudonyms,
    run_metrics,
    sqlchecks,
    training,
    unchanged,
    warmup,
)
from synthdb.release.names import TMP_PREFIX, label, qualified
from synthdb.release.progress import Progress

if TYPE_CHECKING:
    from synthdb.release.modes import Mode
    from synthdb.release.reserved_keys import ReservedKeys
    from synthdb.release.synthesize import SynthesisRequest


@dataclass
class RunContext:
    """Everything one run's stages share; each stage fills in the fields it produces."""

    conn: Any
    request: SynthesisRequest
    mode: Mode
    run_id: str
    seed: int
    progress: Progress
    timings: dict[str, float] = field(default_factory=dict)
    clock: float = field(default_factory=time.perf_counter)
    learned: list[str] = field(default_factory=list)  # pseudonym columns (linkability rows)
    columns: list[pgio.PgColumn] = field(default_factory=list)  # released (subject excluded)
    subject: pgio.PgColumn | None = None  # synth.privacy.subject: read and counted, not written
    specs: list[Any] = field(default_factory=list)
    mock: set[str] = field(default_factory=set)  # columns mocked inside a synthesized table
    train: pd.DataFrame | None = None
    holdout: pd.DataFrame | None = None
    train_subjects: Any = None  # the subject of each train / holdout row (with a subject)
    holdout_subjects: Any = None
    counted_in: sql.Composable | None = None  # where classes are counted by subject (if real)
    n_source: int = 0
    source_estimate: float | None = None  # the planner's rows of the input (modes.source_estimate)
    # the source keys in the fresh keys' reserved range, collected by the read (related.Keyed)
    reserved: ReservedKeys | None = None
    generator: Any = None
    written: int = 0
    suppressed: int = 0  # rows deleted by k and rare-value suppression
    rare_suppressed: int = 0  # of which: rows holding a value the rare check would fail
    metric_rows: list[dict[str, Any]] = field(default_factory=list)
    full_metrics: dict[str, Any] = field(default_factory=dict)
    synthetic_sample: pd.DataFrame | None = None
    described: dict[str, Any] = field(default_factory=dict)  # generator.describe() or mode's
    managed: bool = False
    # (content digest, rows, writer xid or None) of the checked table (unchanged.writer_xid)
    content: tuple[str, int, int | None] | None = None
    digest_job: Any = None  # the content digest running in the background (leakage → evidence)
    early_ml: Any = None  # ML utility's train-on-real half, computed in a thread (read → leakage)
    drawing: Any = None  # what draws the QA report (check → evidence; report.drawing)
    cpu_at_start: idle.CpuTimes | None = field(default_factory=idle.snapshot)  # drawing's choice
    evidence: Path | None = None

    @property
    def cfg(self):
        return self.request.config

    @property
    def tmp(self) -> sql.Composable:
        """The run's staging table until the swap."""
        return qualified(self.request.target[0], TMP_PREFIX + self.run_id[:16])

    @property
    def released(self) -> int:
        return self.written - self.suppressed

    def lap(self, name: str) -> None:
        """Close stage ``name``: record its seconds under ``timings[name]`` and report it."""
        now = time.perf_counter()
        self.timings[name] = round(now - self.clock, 3)
        self.clock = now
        self.progress.lap(name, self.timings[name])


Stage = Callable[[RunContext], None]


def begin(ctx: RunContext) -> None:
    """Staging schema ready, debris of killed runs removed (before the 'read' line)."""
    target_schema = ctx.request.target[0]
    ctx.conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
        sql.Identifier(target_schema)))
    cleanup_stale(ctx.conn, target_schema, ctx.request.audit_schema)
    ctx.conn.commit()


def cleanup_stale(conn, schema: str, audit_schema: str) -> None:
    """Drop temporary tables of runs that are over (a live run's table is left alone).

    Call after audit.fail_orphans: a run still 'running' then is alive.
    """
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname LIKE %s",
        (schema, TMP_PREFIX.replace("_", r"\_") + "%"),
    ).fetchall()
    for (name,) in rows:
        live = conn.execute(sql.SQL(
            "SELECT 1 FROM {}.runs WHERE outcome = 'running' AND run_id LIKE %s").format(
            sql.Identifier(audit_schema)), (name[len(TMP_PREFIX):] + "%",)).fetchone()
        if live:
            continue
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(schema, name)))


def admit(ctx: RunContext) -> None:
    """Contract lint, catalog-only config check, then the budget: all before any row is read."""
    request, cfg, conn = ctx.request, ctx.cfg, ctx.conn
    if cfg.validate_contract and request.graph is not None and request.contract_id:
        from synthdb.release.contract_gate import check_contract

        report = check_contract(request.model, request.contract_id, request.graph,
                                request.project_root, request.target_path, conn)
        conn.commit()
        # key columns (synth.key, synth.parent.key) are never learned: fresh keys replace them
        keys = {c: {"method": "mock"} for c in (cfg.key, (cfg.parent or {}).get("key")) if c}
        ctx.learned = pseudonyms.learned_columns(
            request.model, report, request.graph.get("nodes", {}).get(request.contract_id),
            cfg.mode, {**cfg.columns, **keys}, cfg.privacy.subject)
    columns = pgio.relation_columns(conn, *request.source)
    if not columns:
        raise SynthdbError(
            f"model {request.model}: training input {label(*request.source)} does not "
            "exist or has no columns"
        )
    # The whole configuration is checked (catalog only) before any budget is spent:
    # a configuration error costs nothing.
    precheck.check_release_config(cfg, columns, request.model)
    # The subject is read for counting only: never generated, written, staged or published.
    subject = cfg.privacy.subject
    ctx.subject = next((c for c in columns if c.name == subject), None)
    ctx.columns = [c for c in columns if c.name != subject]
    # The privacy budget is debited (or the run refused) after the contract check, which reads
    # only the catalog, and before any row is read. Budgets follow the base tables the
    # contract reads, not its name (synthdb.release.lineage).
    schema = request.audit_schema
    ledger.ensure_ledger(conn, schema)
    bases = lineage.base_relations(conn, label(*request.source), request.contract_id,
                                   request.graph)
    ledger.reserve(conn, schema, ctx.run_id, label(*request.source), cfg.recipient,
                   ctx.mode.epsilon(cfg), float(cfg.generator.get("delta", 0.0) or 0.0),
                   bases=bases)
    conn.commit()


def read(ctx: RunContext) -> None:
    """The mode's training input: ``train``, ``holdout``, ``specs``, ``mock``, ``n_source``.

    What the mode needs after the read is imported meanwhile (synthdb.release.warmup), and
    done before the early metrics' thread starts importing.
    """
    if ctx.mode.samples_in_workers(ctx):  # the workers' server imports meanwhile
        parallel.warm_up()
    imports = warmup.start(ctx.mode.imports_after_read)
    try:
        ctx.mode.read_training(ctx)
    finally:
        warmup.finish(imports)
    ctx.mode.start_early_metrics(ctx)


def fit(ctx: RunContext) -> None:
    """Build the mode's generator (None: rows are copied, not generated) and fit it."""
    ctx.generator = ctx.mode.build_generator(ctx)
    if ctx.generator is None:
        return
    try:
        ctx.generator.fit(ctx.mode.fit_frame(ctx), ctx.specs, **ctx.mode.fit_options(ctx))
    except SynthdbError as exc:
        raise type(exc)(f"model {ctx.request.model}: {exc}") from exc


def create_staging_table(ctx: RunContext) -> None:
    """The run's empty temporary table, with the training input's columns and types."""
    ctx.conn.execute(sql.SQL("CREATE TABLE {} ({})").format(ctx.tmp, sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type))
        for c in ctx.columns)))


def write_frames(ctx: RunContext, frames: Iterable[pd.DataFrame], total: int) -> int:
    """COPY ``frames`` (``total`` rows expected, for progress lines) into the staging table."""
    return pgio.write_frames(ctx.conn, ctx.tmp, ctx.columns, ctx.progress.chunks(frames, total))


def write_generated(ctx: RunContext, total: int) -> int:
    """Sample ``total`` rows from the fitted generator in parallel chunks and COPY them in."""
    encoder = pgio.FrameEncoder(ctx.columns)
    blocks = parallel.sample_chunks(ctx.generator, total, ctx.seed, ctx.cfg.chunk_size,
                                    encode=encoder)
    # FREEZE: the table was created in this transaction (create_staging_table), so its rows
    # can be written frozen; ANALYZE, the checks and the digest then read without rewriting.
    return pgio.write_encoded(ctx.conn, ctx.tmp, encoder,
                              ctx.progress.chunks(blocks, total, rows=lambda block: block[0]),
                              freeze=True)


def write(ctx: RunContext) -> None:
    """Fill the staging table the mode's way (generated frames, or rows copied in SQL)."""
    create_staging_table(ctx)
    ctx.written = ctx.mode.write(ctx)


#: rounds of rare-value and k suppression at most (each can make the other's classes small)
SUPPRESSION_ROUNDS = 5


def _suppress_rare(ctx: RunContext, rare: list[str], counts: dict[str, Any]) -> int:
    """Generated rows only: delete the rows holding a value the rare check would fail.

    The generators never emit a category held by fewer than ``rare_min_count`` training
    owners, yet one near that floor can land in fewer synthetic rows (or, for a child table,
    fewer distinct synthetic parents) by chance: a flights release failed its own gate with
    destination SAT in 4 rows of 2 planes. The counting is the check's own SQL
    (``sqlchecks.rare_categories`` / ``suppress_rare_values``), so what survives passes it;
    deleting whole rows keeps every row's columns consistent (a redrawn destination would keep
    SAT's distance). ``counts`` (the rows check's figures) spares a scan per column when rows
    are what is counted; rounds repeat while rows go (a deleted row can make another column's
    value rare). If the rows to delete exceed ``max_suppression`` of the written rows, nothing
    is deleted and the check fails as it would have.
    """
    if not (ctx.mode.synthetic and rare):
        return 0
    conn, tmp, floor = ctx.conn, ctx.tmp, ctx.cfg.privacy.rare_min_count
    counted, owner = ctx.mode.rare_owners(ctx)

    def has_rare(column: str, first: bool) -> bool:
        if first and owner is None:
            return counts["rare"][column]["rare_values"] > 0
        return sqlchecks.rare_categories(conn, counted, column, floor, owner)["rare_values"] > 0

    conn.execute("SAVEPOINT synthdb_rare")
    deleted = 0
    for round_ in range(SUPPRESSION_ROUNDS):
        gone = sum(sqlchecks.suppress_rare_values(conn, tmp, c, floor, owner, counted)
                   for c in rare if has_rare(c, round_ == 0))
        deleted += gone
        if not gone:
            break
    if ctx.suppressed + deleted > ctx.cfg.privacy.max_suppression * ctx.written:
        conn.execute("ROLLBACK TO SAVEPOINT synthdb_rare")
        return 0
    conn.execute("RELEASE SAVEPOINT synthdb_rare")
    ctx.suppressed += deleted
    ctx.rare_suppressed += deleted
    return deleted


def _suppress_below_k(ctx: RunContext, counts: dict[str, Any], subject: str | None) -> int:
    """Delete the rows of quasi-identifier classes below k, if they are at most
    ``max_suppression`` of the written rows (together with what was suppressed before)."""
    privacy, conn, tmp = ctx.cfg.privacy, ctx.conn, ctx.tmp
    if not privacy.quasi_identifiers:
        return 0
    counted = ctx.counted_in if ctx.counted_in is not None else tmp
    below = (counts["k_anonymity"] if subject is None else
             sqlchecks.k_anonymity(conn, counted, privacy.quasi_identifiers, privacy.k, subject))
    rows = below["rows_below_k"]
    if not rows or ctx.suppressed + rows > privacy.max_suppression * ctx.written:
        return 0
    deleted = sqlchecks.suppress_below_k(
        conn, tmp, privacy.quasi_identifiers, privacy.k, counted, subject)
    if ctx.counted_in is not None:  # the subject copy keeps the staged rows exactly
        sqlchecks.suppress_below_k(conn, counted, privacy.quasi_identifiers, privacy.k,
                                   counted, subject)
    ctx.suppressed += deleted
    return deleted


def check(ctx: RunContext) -> None:
    """ANALYZE, rare-value and k suppression, then the privacy rows from one scan of the whole
    staged table.

    The table is SHARE-locked until the run commits, so the rows counted here are the rows the
    evidence and the content digest describe. Where the staged rows are real and a subject is
    declared (``ctx.counted_in``: the same rows with their subject, see modes.Deidentify),
    classes and values are also counted in distinct subjects, and suppression removes the
    classes below k subjects.
    """
    privacy, conn, tmp = ctx.cfg.privacy, ctx.conn, ctx.tmp
    subject = ctx.subject.name if ctx.counted_in is not None else None
    if privacy.quasi_identifiers:
        names = {c.name for c in ctx.columns}
        missing = [q for q in privacy.quasi_identifiers if q not in names]
        if missing:
            raise ConfigError(
                f"model {ctx.request.model}: quasi-identifier column(s) "
                f"{', '.join(map(repr, missing))} are not in {label(*ctx.request.source)}"
            )
    start_drawing(ctx)  # a drawing process imports matplotlib while PostgreSQL counts
    conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(tmp))
    sqlchecks.analyze(conn, tmp)
    rare = run_metrics.rare_checked_columns(ctx.request, ctx.specs, ctx.mock)

    def count() -> dict[str, Any]:
        return sqlchecks.class_counts(conn, tmp, privacy.quasi_identifiers, rare, privacy.k,
                                      privacy.rare_min_count)

    counts = count()
    for _ in range(SUPPRESSION_ROUNDS):
        deleted = _suppress_rare(ctx, rare, counts)
        if deleted:
            counts = count()
        k_deleted = _suppress_below_k(ctx, counts, subject)
        if k_deleted:
            counts = count()  # the released rows: after the suppression
        if not (ctx.mode.synthetic and (deleted or k_deleted)):
            break  # deleting rows of one kind can make a class or a value of the other small
    ctx.metric_rows += run_metrics.privacy_rows(counts, ctx.request, rare, ctx.suppressed,
                                                ctx.written, ctx.rare_suppressed)
    ctx.metric_rows += ctx.mode.owner_rows(ctx, rare)
    if ctx.counted_in is not None:
        ctx.metric_rows += run_metrics.subject_privacy_rows(conn, ctx.counted_in, subject,
                                                            ctx.request, ctx.specs, ctx.mock)
        conn.execute(sql.SQL("DROP TABLE {}").format(ctx.counted_in))
        ctx.counted_in = None
    ctx.metric_rows += pseudonyms.linkability_metrics(conn, tmp, ctx.request.source, ctx.learned)


def leakage(ctx: RunContext) -> None:
    """A seeded sample of the staged table, and the mode's leakage/utility rows from it."""
    # The evaluation sample is drawn with the run's seed, so a fixed seed gives the same
    # leakage and utility figures (no coin toss near a threshold).
    ctx.synthetic_sample = training.sample_table(ctx.conn, ctx.tmp, ctx.columns,
                                                 ctx.cfg.privacy.sample_size, ctx.released,
                                                 ctx.seed)
    # The content digest (SHA-256 over every row, seconds per million rows) is computed by
    # PostgreSQL while Python computes the leakage and utility metrics and draws the QA report
    # (the evidence stage waits for it). Same transaction, and the table has been SHARE-locked
    # since the checks, so it vouches for exactly the rows measured. A managed audit schema
    # seals with the owner's own digest at the swap instead.
    ctx.managed = audit.managed(ctx.conn, ctx.request.audit_schema)
    ctx.digest_job = None if ctx.managed else in_background(
        seal_content, ctx.conn, ctx.request.target[0], TMP_PREFIX + ctx.run_id[:16])
    try:
        rows, ctx.full_metrics = ctx.mode.leakage_rows(ctx)
    except BaseException:
        _join_digest(ctx)  # the connection is the digest's until it ends (then rolled back)
        raise
    ctx.metric_rows += rows


def seal_content(conn, schema: str, name: str) -> tuple[str, int, int | None]:
    """What the run seals of its staged table's content, in the writer's transaction after its
    last change: the content digest and row count, and this transaction's id if it wrote every
    row (publish then proves the rows unchanged from their ``xmin``; synthdb.release.unchanged).
    The id check is one scan without rendering (~0.3 s at 5M rows), in the background too."""
    content, rows = digest.content_digest(conn, schema, name)
    return content, rows, unchanged.writer_xid(conn, schema, name)


def _join_digest(ctx: RunContext) -> None:
    """Wait for the background content digest (if one runs) and keep its result."""
    job, ctx.digest_job = ctx.digest_job, None
    if job is not None:
        ctx.content = job.result()


def start_drawing(ctx: RunContext) -> None:
    """Start what draws this run's QA report: a process where a core sat idle while the run
    worked so far (synthdb.release.idle), else a thread at the evidence stage
    (synthdb.report.drawing.start_drawing)."""
    from synthdb.report.drawing import start_drawing

    if ctx.drawing is None:
        spare = idle.idle_cores(ctx.cpu_at_start)
        ctx.drawing = start_drawing(spare)
        where = "a process of its own" if ctx.drawing.separate else "a thread of this run"
        seen = "" if spare is None else f" ({spare:.1f} of the cores idle during the run so far)"
        ctx.progress.say(f"the QA report is drawn in {where}{seen}")


def draw_data_sections(ctx: RunContext, fidelity: dict[str, Any]) -> None:
    """Have the report's data sections drawn from the fidelity metrics (``report_metrics``'s
    ``on_fidelity``) while the distances and ML utility are computed; the same inputs the
    report would be drawn from at the evidence stage."""
    ctx.described = ctx.described or ctx.mode.describe(ctx)
    start_drawing(ctx)
    ctx.drawing.sections({"thresholds": dict(ctx.cfg.privacy.__dict__),
                          "generator": ctx.described}, ctx.train, ctx.synthetic_sample, fidelity)


def abandon(ctx: RunContext) -> None:
    """A failed run: end its drawing process, if one was started (the driver's failure path)."""
    drawing, ctx.drawing = ctx.drawing, None
    if drawing is not None:
        drawing.close()


def in_background(fn: Callable[..., Any], *args: Any):
    """Run ``fn(*args)`` in a thread now; ``.result()`` waits and returns (or raises).

    Used for work that waits on PostgreSQL or runs in native code without the GIL (the content
    digest, scikit-learn's boosting, drawing), so it overlaps with the stages that follow.
    """
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"synthdb-{fn.__name__}")
    job = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return job


def evidence(ctx: RunContext) -> None:
    """Have the QA report finished while the digest ends, store the metric rows (unless the
    owner seals them at the swap) and commit.

    The report needs no database: its drawing process (started by the check stage where a core
    is idle, and already drawing the data sections since the fidelity metrics; else a thread)
    gets the final metric rows and writes the report while PostgreSQL finishes the content
    digest (on a 5M-row table the
    digest outlasts the metrics by tens of seconds). The transaction commits as soon as the
    digest and the metric rows are in, whether or not the drawing has finished, so no
    transaction sits open only because a report is drawn (on a wide contract that took
    minutes). Cleanup by a concurrent run skips a live run's temporary table.
    """
    request, conn = ctx.request, ctx.conn
    if request.warnings:
        ctx.metric_rows.append({
            "check": "config", "metric": "looser_tests", "value": len(request.warnings),
            "threshold": None, "passed": None, "details": {"warnings": request.warnings}})
    ctx.described = ctx.described or ctx.mode.describe(ctx)
    start_drawing(ctx)
    ctx.evidence = write_run_evidence(ctx.drawing, request, ctx.run_id, ctx.described,
                                      list(ctx.metric_rows), ctx.full_metrics, ctx.train,
                                      ctx.synthetic_sample, ctx.mode.counts(ctx))
    drawing, ctx.drawing = ctx.drawing, None
    try:
        _join_digest(ctx)
        ctx.managed = audit.managed(conn, request.audit_schema)
        if not ctx.managed:  # managed: the owner's seal_run stores them at the swap
            audit.store_metrics(conn, request.audit_schema, ctx.run_id, ctx.metric_rows)
        conn.commit()
    except BaseException:
        drawing.close()  # the drawing ends before the run is failed
        raise
    drawing.result()  # a failed drawing fails the run here


def swap(ctx: RunContext) -> None:
    """Replace the target by the staging table in one transaction and seal the run."""
    request, conn = ctx.request, ctx.conn
    target_schema, target_name = request.target
    comment = json.dumps({"synthdb_run_id": ctx.run_id, "synthetic": ctx.mode.synthetic,
                          "method": ctx.mode.name, "code_version": __version__})
    target = qualified(target_schema, target_name)
    kind = conn.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s", (target_schema, target_name)).fetchone()
    if kind is not None:
        drop = "DROP VIEW {}" if kind[0] == "v" else "DROP TABLE {}"
        conn.execute(sql.SQL(drop).format(target))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        ctx.tmp, sql.Identifier(target_name)))
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(comment)))
    results = {"train_rows": len(ctx.train), "holdout_rows": len(ctx.holdout),
               "synthetic_rows": ctx.released, "suppressed_rows": ctx.suppressed,
               "generator": ctx.described, "evidence_path": str(ctx.evidence)}
    schema = request.audit_schema
    if ctx.managed:
        audit.seal_run(conn, schema, ctx.run_id, (target_schema, target_name), ctx.metric_rows,
                       results)
    else:
        staged = digest.fingerprint(conn, target_schema, target_name,
                                    with_content=ctx.content is None)
        if staged is not None and ctx.content is not None:  # computed during the leakage stage
            staged = dataclasses.replace(staged, digest=ctx.content[0], rows=ctx.content[1],
                                         writer_xid=ctx.content[2])
        audit.finish_run(conn, schema, ctx.run_id, "success", **results,
                         fingerprint=staged.as_dict() if staged is not None else None)
    conn.commit()


def write_run_evidence(drawing: Any, request: SynthesisRequest, run_id: str, describe: dict,
                       metric_rows: list[dict], full_metrics: dict, train: pd.DataFrame,
                       synthetic: pd.DataFrame, counts: dict[str, Any] | None = None) -> Path:
    """This run's evidence folder ``<evidence_dir>/runs/<run_id>/``: ``run.json`` written
    here, the QA report (``qa_report.html``) asked of ``drawing`` (report.drawing), which
    writes it on its own (``drawing.result()`` waits for it)."""
    from synthdb.governance.roles import inside

    root = inside(request.project_root, request.config.evidence_dir, "evidence_dir") / "runs" / run_id
    root.mkdir(parents=True, exist_ok=True)
    doc = {
        "run_id": run_id, "model": request.model, "source": label(*request.source),
        "target": label(*request.target), "generator": describe,
        "thresholds": dict(request.config.privacy.__dict__), "metric_rows": metric_rows,
        "metrics": full_metrics, "code_version": __version__,
        "synthetic": request.config.mode != "deidentify", "warnings": request.warnings,
        "row_counts": counts or {}, "release": {"recipient": request.config.recipient},
    }
    (root / "run.json").write_text(json.dumps(doc, indent=2, default=str))
    drawing.report(doc, train, synthetic, root / "qa_report.html")
    return root


# One table's release: (timing key, stages run before that key's lap). The timing keys are
# read by the demo, benchmarks and tests; a release of several tables runs this list per table.
TABLE_STAGES: tuple[tuple[str, tuple[Stage, ...]], ...] = (
    ("read", (admit, read)),
    ("fit", (fit,)),
    ("sample_write", (write,)),
    ("privacy_sql", (check,)),
    ("leakage_metrics", (leakage,)),
    ("evidence", (evidence,)),
    ("swap_and_digest", (swap,)),
)
