"""``synthdb roles setup``: verdicts only synthdb's owner can write (issue 12, trust model).

Without this set-up one role does everything, and the audit schema is an honest record but no
defence: that role can INSERT a passing run by hand. With it:

* an owner role (NOLOGIN, default ``synthdb_owner``) owns the audit schema and its tables;
* the engineer's role (the one dbt logs in as) may read them, append ``runs`` rows only in the
  ``running`` state (column grants: never ``outcome`` or ``fingerprint``), append releases,
  downloads and budget spends, and nothing else — no UPDATE or DELETE, no metrics, no
  approvals, no budgets;
* a run becomes ``success`` only through ``seal_run``, a SECURITY DEFINER function owned by the
  owner. It runs in the session that holds the run's advisory lock (so only the live process
  of that run), fingerprints the staged table itself (digest in SQL, the same text as
  synthdb.release.digest) and *measures* the k-anonymity class sizes and rare-category counts
  on it; those stored values are the owner's, whatever the caller sent. The Python metrics
  (distance to closest record, membership inference, utility) are stored as claims of the
  caller's process (``details.claimed_by``): the owner cannot recompute them in SQL.
* ``fail_run`` marks a run failed, only if it is the caller's own run or its process is gone.

A superuser bypasses all of this (see docs/trust-model.md).
"""

from __future__ import annotations

from psycopg import sql

from synthdb.errors import ConfigError
from synthdb.release import audit, digest, ledger

# Columns of ``runs`` the engineer may set when it starts a run; outcome, fingerprint and the
# results are left to their defaults (outcome 'running') and to seal_run.
RUN_START_COLUMNS = ("run_id", "invocation_id", "model", "source_relation", "target_relation",
                     "mode", "config", "config_hash", "seed", "code_version")
APPEND_ONLY = ("releases", "downloads", "budget_spend", "group_checks")

_SEAL = """
CREATE OR REPLACE FUNCTION {a}.seal_run(p_run_id text, p_schema text, p_name text,
                                         p_rows jsonb, p_fields jsonb)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp {settings}
AS $fn$
DECLARE
    v_run record; v_oid oid; v_kind "char"; v_cols jsonb; v_digest text; v_rows bigint;
    v_fp jsonb; r jsonb; v_value double precision; v_passed boolean; v_details jsonb;
    v_qis text; v_classes bigint; v_min bigint; v_below bigint; v_total bigint; v_n int;
    v_has_k boolean := false; v_xmin xid; v_other bigint; v_now numeric; v_writer numeric;
BEGIN
    SELECT * INTO v_run FROM {a}.runs WHERE run_id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'synthdb: run % does not exist', p_run_id;
    END IF;
    IF v_run.outcome <> 'running' THEN
        RAISE EXCEPTION 'synthdb: run % is %, not running; its verdict cannot be written', p_run_id, v_run.outcome;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND pid = pg_backend_pid() AND classid = {lock_class}::oid
                   AND objsubid = 2
                   AND objid = ((hashtext(p_run_id)::bigint + 4294967296) % 4294967296)::oid)
    THEN
        RAISE EXCEPTION 'synthdb: run % is not held by this session; only the process running it can record its verdict', p_run_id;
    END IF;
    IF v_run.target_relation IS DISTINCT FROM p_schema || '.' || p_name THEN
        RAISE EXCEPTION 'synthdb: run % writes %, not %.%', p_run_id, v_run.target_relation,
            p_schema, p_name;
    END IF;
    SELECT c.oid, c.relkind INTO v_oid, v_kind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = p_schema AND c.relname = p_name;
    IF v_kind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION 'synthdb: %.% is not a table', p_schema, p_name;
    END IF;
    -- No LOCK here: the caller renamed the table into place in this same transaction, so it
    -- holds an ACCESS EXCLUSIVE lock on it until commit (and the owner may only read it).
    IF NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'relation' AND relation = v_oid
                   AND pid = pg_backend_pid() AND mode = 'AccessExclusiveLock' AND granted) THEN
        RAISE EXCEPTION 'synthdb: %.% must be swapped into place in the sealing transaction', p_schema, p_name;
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_array(attname, format_type(atttypid, atttypmod))
                              ORDER BY attnum), '[]'::jsonb)
        INTO v_cols FROM pg_attribute
        WHERE attrelid = v_oid AND attnum > 0 AND NOT attisdropped;
    EXECUTE format({digest_select}, p_schema, p_name) INTO v_digest, v_rows;
    -- The transaction that wrote every row digested here, if one did (synthdb.release.
    -- unchanged): its full id is the latest one up to now with the rows' 32-bit xmin. No
    -- row with that xmin can appear later, so publish can tell the rows are still these.
    EXECUTE format('SELECT t.xmin FROM %I.%I AS t LIMIT 1', p_schema, p_name) INTO v_xmin;
    IF v_xmin IS NOT NULL AND v_xmin::text::bigint >= 3 THEN
        EXECUTE format('SELECT count(*) FILTER (WHERE t.xmin <> $1) FROM %I.%I AS t',
                       p_schema, p_name) INTO v_other USING v_xmin;
        IF v_other = 0 THEN
            v_now := pg_current_xact_id()::text::numeric;
            v_writer := v_now - ((v_now % 4294967296) - v_xmin::text::numeric + 4294967296)
                                % 4294967296;
        END IF;
    END IF;
    v_fp := jsonb_build_object('oid', v_oid, 'schema', p_schema, 'name', p_name,
                               'relkind', v_kind, 'columns', v_cols, 'digest', v_digest,
                               'rows', v_rows, 'digest_version', {digest_version},
                               'writer_xid', v_writer);
    FOR r IN SELECT * FROM jsonb_array_elements(p_rows) LOOP
        v_value := (r ->> 'value')::double precision;
        v_passed := (r ->> 'passed')::boolean;
        v_details := coalesce(r -> 'details', '{{}}'::jsonb);
        IF r ->> 'check' = 'k_anonymity' AND r ->> 'metric' = 'min_class_size' THEN
            SELECT string_agg(format('%I', q), ', ') INTO v_qis
                FROM jsonb_array_elements_text(v_details -> 'quasi_identifiers') q;
            IF v_qis IS NULL THEN
                RAISE EXCEPTION 'synthdb: run %: k_anonymity names no quasi-identifiers', p_run_id;
            END IF;
            v_n := ceil((r ->> 'threshold')::numeric)::int;
            EXECUTE format('SELECT count(*), coalesce(min(n), 0), count(*) FILTER (WHERE n < $1),'
                           ' coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM %I.%I '
                           'GROUP BY %s) c', p_schema, p_name, v_qis)
                INTO v_classes, v_min, v_below, v_total USING v_n;
            v_value := v_min;
            v_passed := v_below = 0 AND v_total > 0;
            v_details := v_details || jsonb_build_object('classes', v_classes,
                'min_class_size', v_min, 'classes_below_k', v_below, 'rows', v_total,
                'measured_by', 'synthdb owner (seal_run)');
            v_has_k := true;
        ELSIF r ->> 'check' = 'rare_categories' AND r ->> 'metric' LIKE 'rare_values:%' THEN
            v_n := ceil((v_details ->> 'min_count')::numeric)::int;
            EXECUTE format('SELECT count(*) FILTER (WHERE n < $1) FROM (SELECT count(*) AS n '
                           'FROM %I.%I WHERE %I IS NOT NULL GROUP BY %I) v', p_schema, p_name,
                           v_details ->> 'column', v_details ->> 'column')
                INTO v_value USING v_n;
            v_passed := v_value = 0;
            v_details := v_details || jsonb_build_object('rare_values', v_value,
                'measured_by', 'synthdb owner (seal_run)');
        ELSIF r ->> 'check' = 'rare_categories' AND r ->> 'metric' LIKE 'rare_subject_values:%'
              AND v_run.config -> 'parent' ->> 'key' IS NOT NULL THEN
            -- a child table: values counted in distinct synthetic parents, the foreign key
            -- column the run declared when it started (synth.parent.key)
            v_n := ceil((v_details ->> 'min_subjects')::numeric)::int;
            EXECUTE format('SELECT count(*) FILTER (WHERE n < $1) FROM (SELECT count(DISTINCT '
                           '%I) AS n FROM %I.%I WHERE %I IS NOT NULL GROUP BY %I) v',
                           v_run.config -> 'parent' ->> 'key', p_schema, p_name,
                           v_details ->> 'column', v_details ->> 'column')
                INTO v_value USING v_n;
            v_passed := v_value = 0;
            v_details := v_details || jsonb_build_object('rare_values', v_value,
                'subject_column', v_run.config -> 'parent' ->> 'key',
                'measured_by', 'synthdb owner (seal_run)');
        ELSIF r ->> 'check' IN ('k_anonymity', 'rare_categories')
              AND r ->> 'metric' NOT IN ('suppressed_share', 'columns_checked',
                                         'quasi_identifiers_declared') THEN
            RAISE EXCEPTION 'synthdb: run %: % is measured by the owner, not accepted from the caller', p_run_id, (r ->> 'check') || '.' || (r ->> 'metric');
        ELSE
            v_details := v_details || jsonb_build_object('claimed_by', session_user);
        END IF;
        INSERT INTO {a}.metrics (run_id, check_name, metric, value, threshold, passed, details)
        VALUES (p_run_id, r ->> 'check', r ->> 'metric', v_value,
                (r ->> 'threshold')::double precision, v_passed, v_details);
    END LOOP;
    UPDATE {a}.runs SET outcome = 'success', finished_at = clock_timestamp(),
        fingerprint = v_fp, synthetic_rows = v_rows,
        train_rows = (p_fields ->> 'train_rows')::bigint,
        holdout_rows = (p_fields ->> 'holdout_rows')::bigint,
        suppressed_rows = (p_fields ->> 'suppressed_rows')::bigint,
        generator = p_fields -> 'generator', evidence_path = p_fields ->> 'evidence_path'
    WHERE run_id = p_run_id;
    RETURN v_fp;
END
$fn$
"""

_FAIL = """
CREATE OR REPLACE FUNCTION {a}.fail_run(p_run_id text, p_message text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- Succeeds when this session holds the run's lock (its own run) or nobody does (its
    -- process is gone); a live run of another session keeps its lock and its row.
    IF NOT pg_try_advisory_lock({lock_class}, hashtext(p_run_id)) THEN
        RETURN false;
    END IF;
    UPDATE {a}.runs SET outcome = 'error', finished_at = clock_timestamp(),
        message = left(p_message, 2000)
    WHERE run_id = p_run_id AND outcome = 'running';
    PERFORM pg_advisory_unlock({lock_class}, hashtext(p_run_id));
    RETURN FOUND;
END
$fn$
"""


def _functions(audit_schema: str) -> list[sql.Composable]:
    settings = sql.SQL(" ").join(
        sql.SQL("SET {} = {}").format(sql.Identifier(k), sql.Literal(v))
        for k, v in {**digest.READ_SETTINGS, **digest.DIGEST_PLAN_SETTINGS}.items())
    template = digest.DIGEST_SELECT.replace("{table}", "%I.%I")
    a = sql.Identifier(audit_schema)
    return [
        sql.SQL(_SEAL).format(a=a, settings=settings, lock_class=sql.Literal(
            audit.RUN_LOCK_CLASS), digest_select=sql.Literal(template),
            digest_version=sql.Literal(digest.DIGEST_VERSION)),
        sql.SQL(_FAIL).format(a=a, lock_class=sql.Literal(audit.RUN_LOCK_CLASS)),
    ]


def _role_exists(conn, role: str) -> dict | None:
    row = conn.execute("SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = %s",
                       (role,)).fetchone()
    return None if row is None else {"super": row[0], "login": row[1]}


def setup(conn, engineer: str, owner: str = "synthdb_owner",
          audit_schema: str = "synthdb_audit") -> dict:
    """Create the owner role, hand it the audit schema, and grant the engineer what dbt needs.

    Idempotent. Run as a role that may create roles and own the audit schema's objects (the
    database owner or a superuser). Does not commit.
    """
    eng = _role_exists(conn, engineer)
    if eng is None:
        raise ConfigError(f"roles setup: role {engineer!r} does not exist; create the engineer's "
                          "login first (CREATE ROLE ... LOGIN PASSWORD ...)")
    if eng["super"]:
        raise ConfigError(f"roles setup: role {engineer!r} is a superuser; a superuser bypasses "
                          "every privilege, so no verdict could be protected from it. Run dbt "
                          "as a non-superuser role")
    if engineer == owner:
        raise ConfigError("roles setup: the engineer and the owner must be different roles")
    if _role_exists(conn, owner) is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
    a, o, e = sql.Identifier(audit_schema), sql.Identifier(owner), sql.Identifier(engineer)
    audit.ensure_schema(conn, audit_schema, force=True)
    ledger.ensure_ledger(conn, audit_schema, force=True)
    conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(a, o))
    objects = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = "
        "c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'S') "
        "ORDER BY c.relkind DESC", (audit_schema,)).fetchall()
    for name, kind in objects:
        what = {"r": "TABLE", "v": "VIEW", "S": "SEQUENCE"}[kind]
        if kind == "S" and conn.execute(
                "SELECT 1 FROM pg_depend d JOIN pg_class c ON c.oid = d.objid WHERE c.relname = "
                "%s AND d.deptype = 'a' AND c.relnamespace = %s::regnamespace",
                (name, audit_schema)).fetchone():
            continue  # an owned (serial) sequence follows its table
        conn.execute(sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
            sql.SQL(what), a, sql.Identifier(name), o))
    for statement in _functions(audit_schema):
        conn.execute(statement)
    for fn in ("seal_run(text, text, text, jsonb, jsonb)", "fail_run(text, text)"):
        conn.execute(sql.SQL("ALTER FUNCTION {}.{} OWNER TO {}").format(a, sql.SQL(fn), o))
        conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {}.{} FROM PUBLIC").format(a, sql.SQL(fn)))
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {}.{} TO {}").format(a, sql.SQL(fn), e))
    conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}, PUBLIC").format(a, e))
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}, PUBLIC").format(a, e))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(a, e))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(a, e))
    conn.execute(sql.SQL("GRANT INSERT ({}) ON {}.runs TO {}").format(
        sql.SQL(", ").join(map(sql.Identifier, RUN_START_COLUMNS)), a, e))
    for table in APPEND_ONLY:
        conn.execute(sql.SQL("GRANT INSERT ON {}.{} TO {}").format(a, sql.Identifier(table), e))
    conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(a, e))
    # reserve() locks the budget rows (SELECT ... FOR UPDATE needs an UPDATE grant); the
    # engineer may touch only the timestamp column, never a total.
    conn.execute(sql.SQL("GRANT UPDATE (updated_at) ON {}.privacy_budget TO {}").format(a, e))
    return {"owner": owner, "engineer": engineer, "audit_schema": audit_schema,
            "objects": len(objects)}
