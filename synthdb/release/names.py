"""SQL names shared by the release steps: qualified identifiers and the staging table prefix."""

from __future__ import annotations

from psycopg import sql

# Prefix of a run's staging table before the swap (``__synthdb_tmp_<run id[:16]>``); cleanup of
# killed runs and publish's own temporary copy use the same prefix.
TMP_PREFIX = "__synthdb_tmp_"


def qualified(schema: str, name: str) -> sql.Composable:
    """``"schema"."name"``, each part quoted."""
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def label(schema: str, name: str) -> str:
    """``schema.name`` for messages and audit rows (never parsed as SQL)."""
    return f"{schema}.{name}"
