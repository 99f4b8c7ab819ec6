"""Governance failures a user can cause; all are ``SynthdbError`` so the CLI prints one line."""

from __future__ import annotations

from synthdb.errors import ConfigError, SynthdbError


class ReleaseNotFound(ConfigError):
    """The named recipient/table/version has no release row in the audit schema."""


class NotApproved(SynthdbError):
    """The release needs an approval that has not been recorded."""


class BundleRejected(SynthdbError):
    """An export bundle failed verification (expired, altered or forged)."""


class ExportError(SynthdbError):
    """The release's data cannot be exported as asked (replaced table, unconvertible value)."""
