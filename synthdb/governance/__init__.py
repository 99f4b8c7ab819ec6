"""Release governance (DESIGN §6): recipient users, approvals, signed export bundles.

Everything here works on releases the publish step already recorded in the audit schema; it
never re-reads source data. Modules: ``releases`` (find one release), ``users`` (recipient
logins), ``approvals`` (approve then grant), ``signing`` (HMAC tokens), ``bundle`` (export and
verify).
"""

from synthdb.governance.errors import BundleRejected, NotApproved, ReleaseNotFound

__all__ = ["BundleRejected", "NotApproved", "ReleaseNotFound"]
