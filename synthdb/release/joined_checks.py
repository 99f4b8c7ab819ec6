"""The gate on the joined release: k-anonymity of the subject across all tables of a group.

Each table of a release group (``publish.related``) passes its own gate, but a recipient joins
them: a customer's (age band, region) may be common, the kind of one of its orders common and
the type of one of its addresses common too, while the *combination* is held by one customer.
So the publish of a group measures, on the copies about to be exposed (whole tables, in SQL, no
sample):

* **the subject** is the root table's key: every row of the joined release belongs to one
  root row (a synthetic customer). Synthetic rows belong to no real person, exactly as the
  per-table k of a synthetic table counts synthetic rows; the joined check is its analogue for
  people with many rows.
* **a class** is one combination of the quasi-identifiers of *every* table of the tree (the
  root, each child, each grandchild, sibling branches together), as joined along the declared
  keys with LEFT JOINs from the root (NULL — no such child — is a class value). A subject
  belongs to every class one of its joined combinations falls into. Each class must be held by
  at least ``k`` distinct subjects (``k``: the largest of the members' ``synth.privacy.k``).
  It refines every root-to-leaf chain's class, so it is a superset of the chain rule: a chain
  class below k leaves a tree class below k. How it is computed without the sibling product
  blowing up: synthdb.release.joined_sql. When it fails, the details say which chains fail
  alone (``chains``), so a combination across siblings is told apart from one along a chain.
  Not the set of a subject's child values: with several children per subject, sets are almost
  all unique, so that rule would refuse nearly every release while a rare combination — the
  way one person stands out — is caught by this one.
* **rare values per root**: each rare-checked column of a child or grandchild (the columns its
  run checked, with its ``rare_min_count``) must have every value held by that many distinct
  root keys. A grandchild value carried by 40 orders of one customer passes the per-table
  check (counted in immediate parents) and fails here.

Where the tables, keys, links, quasi-identifiers, rare columns and k come from: the runs the
gate bound to the staged tables (oid and content digest), i.e. the audit rows of what was
measured — never a comment, a name or the graph of the publish invocation. The figures are
stored as audit rows (``group_checks``: check, metric, value, threshold, passed, details)
whether they pass or fail, written on their own connection so a refused publish keeps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from synthdb.db import ConnectionSettings
from synthdb.errors import GateError
from synthdb.release import joined_sql, sqlchecks

CHECK = "joined_k_anonymity"
RARE_CHECK = "joined_rare_categories"


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
    # rare-checked column -> the run's rare_min_count (its rare_categories.rare_values rows)
    rare: dict[str, int] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Tree:
    """A root table and the tables below it, as the runs link them."""

    root: Member
    below: dict[str, list[Member]]  # parent model -> its children in the group

    def children(self, member: Member) -> list[Member]:
        return self.below.get(member.model, [])

    def subtree(self, member: Member) -> list[Member]:
        """``member`` and every table below it, parents first."""
        out = [member]
        for child in self.children(member):
            out += self.subtree(child)
        return out

    def members(self) -> list[Member]:
        return self.subtree(self.root)

    def path_to(self, member: Member) -> list[Member]:
        """The chain from the root down to ``member``."""
        by_model = {m.model: m for m in self.members()}
        chain = [member]
        while chain[-1].parent_model in by_model and chain[-1] is not self.root:
            chain.append(by_model[chain[-1].parent_model])
        return chain[::-1]

    def chains(self) -> list[list[Member]]:
        """Every root-to-leaf chain."""
        return [self.path_to(m) for m in self.members() if not self.children(m)]

    def label(self, member: Member | None = None) -> str:
        """``customers>(orders>items, addresses)``; a plain chain reads ``a>b>c``."""
        member = member or self.root
        below = [self.label(c) for c in self.children(member)]
        if not below:
            return member.table
        if len(below) == 1:
            return f"{member.table}>{below[0]}"
        return f"{member.table}>({', '.join(below)})"


def members_from_runs(audit_conn, audit_schema: str,
                      tables: dict[str, tuple[str, tuple[str, str]]]) -> list[Member]:
    """``tables``: published name -> (run id, relation). Keys, links, QIs and rare-checked
    columns from the runs and their stored metric rows."""
    a = sql.Identifier(audit_schema)
    run_ids = [run for run, _ in tables.values()]
    rows = audit_conn.execute(sql.SQL(
        "SELECT run_id, model, config FROM {}.runs WHERE run_id = ANY(%s)").format(a),
        (run_ids,)).fetchall()
    runs = {r[0]: (r[1], r[2] or {}) for r in rows}
    rare: dict[str, dict[str, int]] = {}
    for run_id, details in audit_conn.execute(sql.SQL(
            "SELECT run_id, details FROM {}.metrics WHERE run_id = ANY(%s) AND check_name = "
            "'rare_categories' AND metric LIKE 'rare\\_values:%%'").format(a), (run_ids,)):
        rare.setdefault(run_id, {})[details["column"]] = int(details["min_count"])
    out = []
    for table, (run_id, relation) in tables.items():
        model, config = runs[run_id]
        privacy = config.get("privacy") or {}
        parent = config.get("parent") or {}
        out.append(Member(table, relation, run_id, model, config.get("key"),
                          parent.get("model"), parent.get("key"),
                          tuple(privacy.get("quasi_identifiers") or ()), int(privacy.get("k", 5)),
                          rare.get(run_id, {})))
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


def check_earlier_groups(audit_conn, audit_schema: str, members: list[Member],
                         release: str) -> None:
    """GateError when a run of this group was published before in a group with a run this
    publish does not hold: both copies carry the same keys, so the recipient (or two
    recipients together) could join, say, orders from one publish with addresses from another
    through the customers they share — a combination no joined check measured. A run is
    re-published only with every run it was ever grouped with (a forced ``dbt run -s`` of the
    same group, or that group plus more tables)."""
    a = sql.Identifier(audit_schema)
    runs = {m.run_id: m for m in members}
    earlier = audit_conn.execute(sql.SQL(
        "SELECT DISTINCT g.run_id, g.published_relation FROM {a}.releases g "
        "WHERE g.manifest -> 'metadata' -> 'release_group' ->> 'id' IN ("
        "  SELECT r.manifest -> 'metadata' -> 'release_group' ->> 'id' FROM {a}.releases r "
        "  WHERE r.run_id = ANY(%(runs)s)) AND g.run_id <> ALL(%(runs)s) "
        "ORDER BY 2").format(a=a), {"runs": list(runs)}).fetchall()
    if earlier:
        others = ", ".join(f"{rel} (run {run})" for run, rel in earlier)
        raise GateError(
            f"synthdb gate: refusing to publish release group {release}: its runs were "
            f"published before in a group together with {others}, which this publish does not "
            "hold; the two copies share keys, so their join was never gated. Publish the tables "
            "together in one publish node (publish.related), or rebuild (`dbt build`: fresh "
            "runs, fresh keys)")


def trees(members: list[Member]) -> list[Tree]:
    """The trees of at least two tables (a member whose parent is not in the group is a root;
    the publish refuses a child without its parent before this point)."""
    by_model = {m.model: m for m in members}
    below: dict[str, list[Member]] = {}
    for m in members:
        if m.parent_model in by_model:
            below.setdefault(m.parent_model, []).append(m)
    return [Tree(m, below) for m in members
            if m.parent_model not in by_model and m.model in below]


def check_structure(tree: Tree, release: str) -> None:
    """Every table of a tree declares quasi-identifiers (its own gate already fails closed
    without; here too, so a table never joins the release unmeasured) and every parent a key."""
    for m in tree.members():
        if not m.quasi_identifiers:
            raise GateError(
                f"synthdb gate: refusing to publish release group {release}: table {m.table} "
                f"(run {m.run_id}) declares no quasi-identifiers, so the joined release cannot "
                "be measured; set synth.privacy.quasi_identifiers")
        if tree.children(m) and not m.key:
            raise GateError(
                f"synthdb gate: refusing to publish release group {release}: table {m.table} "
                f"(run {m.run_id}) has children but declared no synth.key")


def joined_classes(conn, chain: list[Member], k: int) -> dict[str, Any]:
    """Class statistics of one chain alone (a tree without siblings): reported with a failing
    tree, so the error tells a sibling combination from a chain's."""
    below = {m.model: [chain[i + 1]] for i, m in enumerate(chain[:-1])}
    return joined_sql.tree_classes(conn, Tree(chain[0], below), k)


def measure(conn, members: list[Member], release: str) -> list[dict[str, Any]]:
    """Metric rows (check, metric, value, threshold, passed, details): one per tree, and one
    per rare-checked column of each table below a root. GateError first when a tree cannot
    be measured (check_structure)."""
    for tree in trees(members):
        check_structure(tree, release)
    rows = []
    for m in members:
        sqlchecks.analyze(conn, sql.Identifier(*m.relation))
    for tree in trees(members):
        rows.append(_tree_row(conn, tree))
        rows += _rare_rows(conn, tree)
    return rows


def _tree_row(conn, tree: Tree) -> dict[str, Any]:
    k = max(m.k for m in tree.members())
    stats = joined_sql.tree_classes(conn, tree, k)
    passed = stats["classes_below_k"] == 0 and stats["memberships"] > 0
    details = {**stats, "tables": [m.table for m in tree.members()], "tree": tree.label(),
               "subject": f"{tree.root.table}.{tree.root.key}",
               "quasi_identifiers": {m.table: list(m.quasi_identifiers)
                                     for m in tree.members()},
               "runs": {m.table: m.run_id for m in tree.members()},
               "counted": "distinct root keys per combination of the quasi-identifiers of all "
                          "tables of the tree (LEFT JOINs from the root along the keys)"}
    if not passed and len(tree.chains()) > 1:
        details["chains"] = {
            ">".join(m.table for m in chain): joined_classes(conn, chain, k)[
                "min_subjects_per_class"] for chain in tree.chains()}
    return {"check": CHECK, "metric": "min_subjects_per_class:" + tree.label(),
            "value": stats["min_subjects_per_class"], "threshold": k, "passed": passed,
            "details": details}


def _rare_rows(conn, tree: Tree) -> list[dict[str, Any]]:
    rows = []
    for m in tree.members()[1:]:
        for column, min_subjects in sorted(m.rare.items()):
            stats = joined_sql.rare_per_root(conn, tree, m, column, min_subjects)
            rows.append({
                "check": RARE_CHECK, "metric": f"rare_root_values:{m.table}.{column}",
                "value": stats["rare_values"], "threshold": 0,
                "passed": stats["rare_values"] == 0,
                "details": {**stats, "table": m.table, "column": column,
                            "min_subjects": min_subjects,
                            "subject": f"{tree.root.table}.{tree.root.key}",
                            "path": ">".join(t.table for t in tree.path_to(m)),
                            "counted": "distinct root keys holding each value (the table's "
                                       "rows joined up to the root along the keys)"}})
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
    """GateError naming the group, and the tables and columns of every failed figure."""
    failed = [r for r in rows if not r["passed"]]
    if not failed:
        return
    parts = []
    for r in failed:
        d = r["details"]
        if r["check"] == RARE_CHECK:
            parts.append(
                f"{RARE_CHECK}: {r['value']} value(s) of {d['table']}.{d['column']} (joined "
                f"{d['path'].replace('>', ' -> ')}) are held by fewer than {d['min_subjects']} "
                f"distinct {d['subject']} (smallest: {d['min_subjects_per_value']})")
            continue
        columns = ", ".join(f"{t}.{q}" for t, qs in d["quasi_identifiers"].items() for q in qs)
        chains = d.get("chains")
        alone = ("; chains alone, smallest class: " + ", ".join(
            f"{c.replace('>', ' -> ')} {n}" for c, n in chains.items())) if chains else ""
        parts.append(
            f"{CHECK}: tables {d['tree'].replace('>', ' -> ')}: {d['classes_below_k']} of "
            f"{d['classes']} combinations of ({columns}) are held by fewer than "
            f"{r['threshold']} distinct {d['subject']} (smallest: {r['value']}{alone})")
    raise GateError(
        f"synthdb gate: refusing to publish release group {group}: the joined release fails "
        "the gate counted in subjects (" + "; ".join(parts) + "). No table of the group was "
        "published (the last good release is untouched); coarsen the quasi-identifiers or the "
        "rare columns, lower the detail of the children, or raise the row counts, then "
        "`dbt build` again")
