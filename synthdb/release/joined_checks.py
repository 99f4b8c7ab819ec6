"""The gate on the joined release: k-anonymity of the subject across the tables of a group.

Each table of a release group (``publish.related``) passes its own gate, but a recipient joins
them: a customer's (age band, region) may be common and the product of one of its orders
common too, while the *combination* is held by one customer. So the publish of a group measures,
on the copies about to be exposed (whole tables, in SQL, no sample):

* **the subject** is the root table's key: every row of the joined release belongs to one
  root row (a synthetic customer). Synthetic rows belong to no real person, exactly as the
  per-table k of a synthetic table counts synthetic rows; the joined check is its analogue for
  people with many rows.
* **a class** is one combination of the quasi-identifiers of every table on a root-to-leaf
  path (customers ⟕ orders ⟕ items), one value per table: a subject belongs to every class one
  of its joined rows falls into. Each class must be held by at least ``k`` distinct subjects
  (``k``: the largest of the members' ``synth.privacy.k``). LEFT JOINs keep childless parents
  (their child columns are NULL, a class value like any other).
  Not the set of a subject's child values: with several children per subject, sets are almost
  all unique, so that rule would refuse nearly every release while a rare combination — the
  way one person stands out — is caught by this one.

Where the tables, keys, links, quasi-identifiers and k come from: the runs the gate bound to
the staged tables (oid and content digest), i.e. the audit rows of what was measured — never a
comment, a name or the graph of the publish invocation. The figures are stored as audit rows
(``group_checks``: check, metric, value, threshold, passed, details) whether they pass or fail,
written on their own connection so a refused publish keeps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.errors import GateError
from synthdb.release import sqlchecks

CHECK = "joined_k_anonymity"


@dataclass(frozen=True)
class Member:
    """One table of a group as its run measured it."""

    table: str  # published table name
    relation: tuple[str, str]  # where its rows are now (the destination's copy)
    run_id: str
    model: str
    key: str | None
    parent_model: str | None
    foreign_key: str | None
    quasi_identifiers: tuple[str, ...]
    k: int


def members_from_runs(audit_conn, audit_schema: str,
                      tables: dict[str, tuple[str, tuple[str, str]]]) -> list[Member]:
    """``tables``: published name -> (run id, relation). Keys, links and QIs from the runs."""
    rows = audit_conn.execute(
        sql.SQL("SELECT run_id, model, config FROM {}.runs WHERE run_id = ANY(%s)").format(
            sql.Identifier(audit_schema)), ([run for run, _ in tables.values()],)).fetchall()
    runs = {r[0]: (r[1], r[2] or {}) for r in rows}
    out = []
    for table, (run_id, relation) in tables.items():
        model, config = runs[run_id]
        privacy = config.get("privacy") or {}
        parent = config.get("parent") or {}
        out.append(Member(table, relation, run_id, model, config.get("key"),
                          parent.get("model"), parent.get("key"),
                          tuple(privacy.get("quasi_identifiers") or ()), int(privacy.get("k", 5))))
    return out


def check_parents_published(members: list[Member], release: str) -> None:
    """GateError when a table's run was generated for a parent model this publish does not
    release: its foreign keys are that parent's keys, so published apart (say after
    ``synth.parent`` was deleted from the config, without rebuilding) the two would join
    outside the joined check. Read from the runs, so editing the graph does not help."""
    models = {m.model for m in members}
    for m in members:
        if m.parent_model and m.parent_model not in models:
            raise GateError(
                f"synthdb gate: refusing to publish {release}: table {m.table} (run {m.run_id} "
                f"of model {m.model}) was generated for the synthetic rows of "
                f"{m.parent_model!r}, which this publish does not release; publish them "
                "together (publish.related) so the joined release is gated")


def paths(members: list[Member]) -> list[list[Member]]:
    """Every root-to-leaf chain of at least two tables (root first).

    A member whose parent model is not in the group is a root (the publish refuses a child
    without its parent before this point, from the same configuration).
    """
    by_model = {m.model: m for m in members}
    children: dict[str, list[Member]] = {}
    for m in members:
        if m.parent_model in by_model:
            children.setdefault(m.parent_model, []).append(m)
    out: list[list[Member]] = []

    def walk(chain: list[Member]) -> None:
        below = children.get(chain[-1].model, [])
        if not below and len(chain) > 1:
            out.append(chain)
        for child in below:
            walk([*chain, child])

    for m in members:
        if m.parent_model not in by_model:
            walk([m])
    return out


def joined_classes(conn, chain: list[Member], k: int) -> dict[str, Any]:
    """Class statistics of the joined chain: distinct root keys per combination of all QIs."""
    alias = [sql.Identifier(f"j{i}") for i in range(len(chain))]
    joins = sql.SQL(" ").join(
        sql.SQL("LEFT JOIN {} AS {} ON {}.{} = {}.{}").format(
            sql.Identifier(*m.relation), alias[i], alias[i], sql.Identifier(m.foreign_key),
            alias[i - 1], sql.Identifier(chain[i - 1].key))
        for i, m in enumerate(chain) if i)
    qis = sql.SQL(", ").join(
        sql.SQL("{}.{}").format(alias[i], sql.Identifier(q))
        for i, m in enumerate(chain) for q in m.quasi_identifiers)
    root = sql.SQL("{}.{}").format(alias[0], sql.Identifier(chain[0].key))
    row = conn.execute(sql.SQL(
        "SELECT count(*), min(n), count(*) FILTER (WHERE n < %(k)s), "
        "coalesce(sum(r) FILTER (WHERE n < %(k)s), 0), coalesce(sum(r), 0) "
        "FROM (SELECT count(DISTINCT {root}) AS n, count(*) AS r FROM {first} AS {a0} {joins} "
        "GROUP BY {qis}) classes").format(
            root=root, first=sql.Identifier(*chain[0].relation), a0=alias[0], joins=joins,
            qis=qis), {"k": k}).fetchone()
    return {"classes": int(row[0]), "min_subjects_per_class": int(row[1] or 0),
            "classes_below_k": int(row[2]), "joined_rows_below_k": int(row[3]),
            "joined_rows": int(row[4])}


def measure(conn, members: list[Member]) -> list[dict[str, Any]]:
    """Metric rows (check, metric, value, threshold, passed, details), one per chain."""
    rows = []
    for m in members:
        sqlchecks.analyze(conn, sql.Identifier(*m.relation))
    for chain in paths(members):
        k = max(m.k for m in chain)
        stats = joined_classes(conn, chain, k)
        tables = [m.table for m in chain]
        rows.append({
            "check": CHECK, "metric": "min_subjects_per_class:" + ">".join(tables),
            "value": stats["min_subjects_per_class"], "threshold": k,
            "passed": stats["classes_below_k"] == 0 and stats["joined_rows"] > 0,
            "details": {**stats, "tables": tables,
                        "subject": f"{chain[0].table}.{chain[0].key}",
                        "quasi_identifiers": {m.table: list(m.quasi_identifiers) for m in chain},
                        "runs": {m.table: m.run_id for m in chain},
                        "counted": "distinct root keys per combination of the quasi-identifiers "
                                   "of all tables of the chain (LEFT JOIN along the keys)"}})
    return rows


def record(settings: ConnectionSettings, audit_schema: str, publish_model: str,
           invocation_id: str | None, runs: dict[str, str], rows: list[dict[str, Any]]) -> None:
    """Store the rows in ``<audit>.group_checks`` on a connection of their own (kept when the
    publish is refused). An audit schema handed to an owner by ``synthdb roles setup`` before
    related releases existed has no such table, and the engineer may not create it: that is
    said in one line instead of PostgreSQL's "relation does not exist" (still fail-closed)."""
    with psycopg.connect(settings.conninfo(), autocommit=True) as conn:
        with conn.cursor() as cur:
            try:
                _insert(cur, audit_schema, publish_model, invocation_id, runs, rows)
            except psycopg.errors.UndefinedTable as exc:
                raise GateError(
                    f"synthdb gate: refusing to publish {publish_model}: the audit schema "
                    f"{audit_schema} has no group_checks table to record the joined release's "
                    "check in (it was set up before related releases existed); have the owner "
                    "re-run `synthdb roles setup`. Nothing was published."
                ) from exc


def _insert(cur, audit_schema: str, publish_model: str, invocation_id: str | None,
            runs: dict[str, str], rows: list[dict[str, Any]]) -> None:
    cur.executemany(sql.SQL(
        "INSERT INTO {}.group_checks (publish_model, invocation_id, runs, check_name, "
        "metric, value, threshold, passed, details) VALUES (%s, %s, %s, %s, %s, %s, %s, "
        "%s, %s)").format(sql.Identifier(audit_schema)),
        [(publish_model, invocation_id, json.dumps(runs), r["check"], r["metric"],
          r["value"], r["threshold"], r["passed"], json.dumps(r["details"], default=str))
         for r in rows])


def refuse_failed(group: str, rows: list[dict[str, Any]]) -> None:
    """GateError naming the group, the tables and the columns of every failed chain."""
    failed = [r for r in rows if not r["passed"]]
    if not failed:
        return
    parts = []
    for r in failed:
        d = r["details"]
        columns = ", ".join(f"{t}.{q}" for t, qs in d["quasi_identifiers"].items() for q in qs)
        parts.append(
            f"tables {' -> '.join(d['tables'])}: {d['classes_below_k']} of {d['classes']} "
            f"combinations of ({columns}) are held by fewer than {r['threshold']} distinct "
            f"{d['subject']} (smallest: {r['value']})")
    raise GateError(
        f"synthdb gate: refusing to publish release group {group}: the joined release fails "
        f"k-anonymity of the subject ({CHECK}): " + "; ".join(parts) + ". No table of the "
        "group was published (the last good release is untouched); coarsen the "
        "quasi-identifiers, lower the detail of the children, or raise the row counts, then "
        "`dbt build` again")
