"""The QA report's "joined release" section: the group's checks, for a table published in one.

A table's report is rendered by its own run, before any group exists; the joined release's
checks (synthdb.release.joined_checks) are measured at publish, on the copies of every table of
the group. So publish adds this section to the copy of the report it puts in the release
folder, next to the header it stamps: a reader of one table's report sees that the table was
released with others, which ones, and the figures that gated their join.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

SECTION_ID = "joined-release"
_SECTION = re.compile(r'<section id="joined-release">.*?</section>', re.S)
_AFTER = re.compile(r'<section id="release-header">.*?</section>', re.S)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def joined_section(group: Mapping[str, Any]) -> str:
    """The section for a release group's metadata (``release_group``: tables, keys, checks)."""
    tables = ", ".join(_e(t) for t in group.get("tables") or [])
    links = "; ".join(f"{_e(fk['table'])}.{_e(fk['column'])} → {_e(fk['references'])}"
                      for fk in group.get("foreign_keys") or [])
    rows = "".join(
        f"<tr data-check='{_e(c.get('check'))}' data-verdict="
        f"'{'PASS' if c.get('passed') else 'FAIL'}'><td>{_e(c.get('check'))}</td>"
        f"<td>{_e(c.get('metric'))}</td><td>{_e(c.get('value'))}</td>"
        f"<td>{_e(c.get('threshold'))}</td><td>{'PASS' if c.get('passed') else 'FAIL'}</td></tr>"
        for c in group.get("checks") or [])
    return (
        f'<section id="{SECTION_ID}"><h2>Joined release</h2>'
        f"<p>Published together, in one transaction, as release group {_e(group.get('id'))}: "
        f"{tables}.</p>"
        + (f"<p class='meta'>Keys: {links}.</p>" if links else "")
        + "<p class='meta'>Measured on the published copies of every table of the group, "
        "counted in distinct root keys (subjects): each combination of the quasi-identifiers of "
        "all tables (joined_k_anonymity) and each value of a child's rare-checked columns "
        "(joined_rare_categories).</p>"
        "<table id='joined-checks'><tr><th>check</th><th>metric</th><th>value</th>"
        f"<th>threshold</th><th>verdict</th></tr>{rows}</table></section>")


def add_joined_section(page: str, group: Mapping[str, Any] | None) -> str:
    """``page`` with the joined-release section after its header (replacing an older one);
    unchanged when the table was not published in a group."""
    if not group:
        return page
    section = joined_section(group)
    if _SECTION.search(page):
        return _SECTION.sub(lambda _m: section, page, count=1)
    header = _AFTER.search(page)
    if header is None:
        return page.replace("</body>", section + "</body>", 1)
    return page[:header.end()] + section + page[header.end():]
