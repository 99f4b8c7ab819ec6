"""dbt configs of a ``publish`` model that synthdb applies itself: grants, constraints, docs.

dbt applies ``grants``, contract constraints and ``persist_docs`` inside its own
materializations; a custom materialization gets none of that for free, and the published table
is written by synthdb's own connection. So ``synthdb_publish`` reads those configs from the
model node (``publish_options``) and ``run_publish`` applies them in the same transaction that
exposes the release (``apply_options``): a grant to a role that does not exist, or a NOT NULL
that the rows break, rolls the whole release back, and the last good release stays.

Semantics follow dbt's where they make sense for a release:
- ``grants: {select: [role, ...]}`` is granted *in addition to* the recipient's role (plus
  USAGE on the published schema, without which a SELECT grant is useless). Only ``select``:
  a write privilege would let someone change rows the privacy verdict vouches for. Not allowed
  with ``approval_required``: it would expose the table before the approval.
- ``constraints`` of an enforced contract: ``not_null`` is applied (``SET NOT NULL``); other
  constraint types are refused with a clear error rather than silently skipped. (The column
  names/types check of the contract is dbt's own macro, run in the materialization before
  anything is published.)
- ``persist_docs``: the table comment always carries synthdb's release metadata (JSON); with
  ``relation: true`` the model description is added to it as ``description``. Column comments
  always say how the column was produced, followed by the column's description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from synthdb.errors import ConfigError

GRANTABLE = frozenset({"select"})


@dataclass
class PublishOptions:
    """What a publish model's dbt configs ask synthdb to apply to the published table."""

    grants: dict[str, list[str]] = field(default_factory=dict)
    not_null: list[str] = field(default_factory=list)
    description: str | None = None


def _grants(raw: Any, model: str) -> dict[str, list[str]]:
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"model {model}: config grants must be a mapping of privilege to "
                          "role(s), e.g. grants={'select': ['bi_reader']}")
    out: dict[str, list[str]] = {}
    for privilege, grantees in raw.items():
        name = str(privilege).lstrip("+").strip().lower()
        if name not in GRANTABLE:
            raise ConfigError(
                f"model {model}: config grants: only 'select' can be granted on a published "
                f"release, not {privilege!r} (a write would change rows the privacy verdict "
                "vouches for)")
        roles = [grantees] if isinstance(grantees, str) else list(grantees or [])
        if not all(isinstance(r, str) and r for r in roles):
            raise ConfigError(f"model {model}: config grants.{name} must list role names")
        out.setdefault(name, []).extend(r for r in roles if r not in out.get(name, []))
    return {k: v for k, v in out.items() if v}


def _constraints(node: dict[str, Any], model: str) -> list[str]:
    """Columns with a ``not_null`` constraint; any other constraint is refused."""
    enforced = ((node.get("config") or {}).get("contract") or {}).get("enforced")
    if not enforced:
        return []
    not_null: list[str] = []
    unsupported = [f"model-level {c.get('type')}" for c in node.get("constraints") or []]
    for name, column in (node.get("columns") or {}).items():
        for constraint in (column or {}).get("constraints") or []:
            if constraint.get("type") == "not_null":
                not_null.append(name)
            else:
                unsupported.append(f"{constraint.get('type')} on column {name}")
    if unsupported:
        raise ConfigError(
            f"model {model}: contract constraint(s) {', '.join(unsupported)} are not applied by "
            "the publish materialization (only not_null is); remove them or use a dbt test")
    return not_null


def publish_options(node: dict[str, Any], model: str,
                    approval_required: bool = False) -> PublishOptions:
    """Read grants, contract constraints and persist_docs from a publish model's node."""
    config = node.get("config") or {}
    grants = _grants(config.get("grants"), model)
    if grants and approval_required:
        raise ConfigError(
            f"model {model}: config grants cannot be combined with publish.approval_required: "
            "the grants would expose the release before it is approved")
    persist = config.get("persist_docs") or {}
    description = (node.get("description") or "").strip() or None
    return PublishOptions(
        grants=grants,
        not_null=_constraints(node, model),
        description=description if persist.get("relation") else None,
    )


def column_comment(column: str, method: str, mock_columns: list[str] | set[str],
                   doc: str) -> str:
    """How a published column was produced, then its description (never a data value)."""
    if method == "deidentify":
        produced = "de-identified source values (deidentify)"
    elif column in set(mock_columns or ()):
        produced = "synthetic (mock: fake values, not learned from the source)"
    else:
        produced = f"synthetic ({method})"
    return f"{produced}{': ' + doc if doc else ''}"


def apply_options(conn, model: str, schema: str, target: sql.Composable,
                  options: PublishOptions) -> None:
    """Apply NOT NULL constraints and extra grants to the freshly published table."""
    import psycopg

    for column in options.not_null:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
                    target, sql.Identifier(column)))
        except psycopg.errors.NotNullViolation:
            raise ConfigError(
                f"model {model}: contract constraint not_null on column {column}: the synthetic "
                "rows contain NULLs there (nothing was published)") from None
    roles = sorted({r for grantees in options.grants.values() for r in grantees})
    for role in roles:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None:
            raise ConfigError(f"model {model}: config grants: role {role!r} does not exist; "
                              "create it first (nothing was published)")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(schema), sql.Identifier(role)))
    for privilege, grantees in options.grants.items():
        conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(
            sql.SQL(privilege.upper()), target,
            sql.SQL(", ").join(sql.Identifier(r) for r in grantees)))
