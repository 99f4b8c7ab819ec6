"""One synthesis run: contract view in, synthetic table (staging) plus stored evidence out.

``run_synthesis`` is the public entry the dbt adapter calls. It opens the run (audit row, run
lock), runs the table's stages (synthdb.release.stages: read → fit → write → check → leakage →
evidence → swap) with the mode object of ``synth.mode`` (synthdb.release.modes), and owns the
failure path.

Atomicity (DESIGN §2, "choose one and document it"): rows are written with psycopg 3 COPY into a
uniquely named table ``__synthdb_tmp_<run>`` in the staging schema. Only when generation, k
suppression and all metrics have succeeded is it swapped in for the target in one transaction
(DROP old + RENAME new + COMMENT), so readers see the old table or the new one, never a half one.
Any failure drops the temporary table and records the run as failed; the previous table is
untouched. Leftover temporaries of a killed process are removed at the start of the next run.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from synthdb import __version__
from synthdb.db import ConnectionSettings
from synthdb.errors import ConfigError
from synthdb.release import audit, stages
from synthdb.release.config import SynthConfig
from synthdb.release.modes import build_generator as _build_generator
from synthdb.release.modes import mode_of
from synthdb.release.names import TMP_PREFIX
from synthdb.release.names import label as _label
from synthdb.release.names import qualified as _qualified
from synthdb.release.progress import Progress
from synthdb.release.training import read_training as _read_training
from synthdb.release.training import split as _split

# Older import paths (publish, the report command, tests) keep working.
__all__ = ["TMP_PREFIX", "SynthesisRequest", "_build_generator", "_label", "_qualified",
           "_read_training", "_split", "check_isolation", "run_synthesis"]


@dataclass
class SynthesisRequest:
    """What the ``synthetic`` materialization asks for."""

    model: str
    source: tuple[str, str]  # (schema, name) of the training input (the contract)
    target: tuple[str, str]  # (schema, name) of the staging table to (re)place
    config: SynthConfig
    upstream_schemas: list[str] = field(default_factory=list)  # schemas the contract reads
    invocation_id: str | None = None
    audit_schema: str = "synthdb_audit"
    project_root: str = "."
    contract_id: str | None = None  # dbt unique id of the contract, for the in-build lint
    graph: dict[str, Any] | None = None
    target_path: str = "target"
    progress: Progress | None = None  # stage lines (dbt's logger inside dbt)
    warnings: list[str] = field(default_factory=list)  # e.g. tests looser than the config


def check_isolation(request: SynthesisRequest) -> None:
    """Refuse to write next to the data we learn from (DESIGN §2: enforced, not advised)."""
    target_schema = request.target[0]
    protected = {request.source[0], *request.upstream_schemas, *request.config.protected_schemas}
    if target_schema in protected:
        raise ConfigError(
            f"model {request.model}: refusing to write synthetic data into schema "
            f"{target_schema!r}, which holds source data the release reads from (protected: "
            f"{', '.join(sorted(protected))}); give the model its own staging schema, e.g. "
            "config(schema='<recipient>_staging')"
        )


def run_synthesis(settings: ConnectionSettings, request: SynthesisRequest) -> dict[str, Any]:
    """Run one release's synthesis; returns run id, row counts and the stored verdict."""
    cfg = request.config
    check_isolation(request)
    mode = mode_of(cfg)
    run_id = uuid.uuid4().hex
    seed = cfg.seed if cfg.seed is not None else secrets.randbits(62)
    schema = request.audit_schema
    progress = request.progress or Progress(request.model)
    clock = time.perf_counter()  # the 'read' timing includes connecting, as it always did
    with psycopg.connect(settings.conninfo()) as conn:
        ctx = stages.RunContext(conn=conn, request=request, mode=mode, run_id=run_id, seed=seed,
                                progress=progress, clock=clock)
        audit.ensure_schema(conn, schema)
        conn.commit()
        audit.fail_orphans(conn, schema)
        audit.hold_run_lock(conn, run_id)
        audit.start_run(
            conn, schema, run_id, invocation_id=request.invocation_id, model=request.model,
            source_relation=_label(*request.source), target_relation=_label(*request.target),
            mode=cfg.mode, config=cfg.as_dict(), config_hash=cfg.fingerprint(), seed=seed,
            code_version=__version__,
        )
        conn.commit()
        try:
            stages.begin(ctx)
            progress.start("read")
            for timing_key, table_stages in stages.TABLE_STAGES:
                for stage in table_stages:
                    stage(ctx)
                ctx.lap(timing_key)
        except BaseException as exc:
            stages.abandon(ctx)
            conn.rollback()
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ctx.tmp))
            audit.fail_run(conn, schema, run_id, str(exc)[:2000])
            conn.commit()
            raise
        result = audit.verdict(conn, schema, run_id) or {}
    result.update({"rows": ctx.released, "suppressed": ctx.suppressed, "seed": seed,
                   "timings": ctx.timings, "evidence": str(ctx.evidence)})
    return result
