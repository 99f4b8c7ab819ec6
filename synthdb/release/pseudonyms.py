"""Stable pseudonyms in a release: refused unless the contract allows them, then measured.

A ``pseudonymize()`` column is the same HMAC of the same id in every row, run and release.
A generator that *learns* it (or deidentify mode, which releases it as is) can emit real
pseudonyms, and whoever holds the key — or a list of public ids and an EXECUTE grant on the
pseudonym function — re-links them to people (issue 12: 2,648 of 3,246 published pseudonyms
re-linked to real aircraft). So a synthetic model refuses to learn such a column unless the
contract says ``meta: {synthdb: {allow_stable_pseudonyms: true}}``; a column generated with
``method: mock`` is fresh and needs no permission. When allowed, the share of published
pseudonyms that also occur in the source-side (pseudonymised) contract is measured and shown
on the report card as check ``linkability`` (information, not a gate).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from synthdb.errors import ConfigError

RULE = "linkable_pseudonym"  # the lint rule that marks pseudonymize() outputs


def allowed(contract: dict[str, Any] | None) -> bool:
    """``allow_stable_pseudonyms`` in the contract model's ``meta.synthdb`` (config or node)."""
    if not contract:
        return False
    for meta in ((contract.get("config") or {}).get("meta") or {}, contract.get("meta") or {}):
        value = (meta.get("synthdb") or {}).get("allow_stable_pseudonyms")
        if value is not None:
            return value is True
    return False


def learned_columns(model: str, report: Any, contract: dict[str, Any] | None, mode: str,
                    columns: dict[str, dict[str, Any]], subject: str | None = None) -> list[str]:
    """Pseudonym columns this run would learn or release; ConfigError unless allowed.

    The ``subject`` (synth.privacy.subject) is neither learned nor released: a pseudonymised
    customer id is the usual subject column and needs no permission.
    """
    if mode == "mock":
        return []
    found = sorted({issue.column for issue in getattr(report, "lint", [])
                    if issue.rule == RULE and issue.column and issue.column != subject})
    learned = [c for c in found
               if mode == "deidentify" or (columns.get(c) or {}).get("method") != "mock"]
    if learned and not allowed(contract):
        name = (contract or {}).get("name", "the contract")
        raise ConfigError(
            f"model {model}: column(s) {', '.join(learned)} of contract {name} are stable "
            "pseudonyms (pseudonymize) and would be "
            f"{'released as they are' if mode == 'deidentify' else 'learned'}: whoever holds "
            "the key or public ids can re-link them. Generate them fresh (synth.columns."
            f"{learned[0]}.method: mock) or set meta: {{synthdb: {{allow_stable_pseudonyms: "
            f"true}}}} on {name} to accept and measure the linkability")
    return learned


def linkability_metrics(conn, table: sql.Composable, source: tuple[str, str],
                        learned: list[str]) -> list[dict[str, Any]]:
    """Per learned column: share of distinct published pseudonyms found in the contract."""
    rows = []
    for column in learned:
        col = sql.Identifier(column)
        total, linked = conn.execute(sql.SQL(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {src} s "
            "WHERE s.{col} = p.v)) FROM (SELECT DISTINCT {col} AS v FROM {tbl} "
            "WHERE {col} IS NOT NULL) p").format(
            src=sql.Identifier(*source), col=col, tbl=table)).fetchone()
        rows.append({
            "check": "linkability", "metric": f"pseudonym_relink_share.{column}",
            "value": (linked / total) if total else 0.0, "threshold": None, "passed": None,
            "details": {"distinct_published": total, "found_in_contract": linked,
                        "meaning": "share of distinct published pseudonyms that equal a real "
                                   "pseudonym of the source-side contract: re-linkable by "
                                   "whoever holds the key or can compute pseudonyms"}})
    return rows
