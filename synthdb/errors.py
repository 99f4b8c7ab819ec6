"""Errors that synthdb shows to users.

Every failure a user can cause (bad config, odd data, a failed privacy check) is raised as a
``SynthdbError`` whose message says *what* went wrong and *where* (model, column, setting), so
the CLI and the dbt adapter can print one clear line instead of a traceback.
"""

from __future__ import annotations


class SynthdbError(Exception):
    """Base class for errors whose message is meant for the user."""


class ConfigError(SynthdbError):
    """A setting is missing, of the wrong type, or unsafe."""


class UnsupportedColumnError(SynthdbError):
    """One or more columns cannot be handled by the chosen generator."""

    def __init__(self, message: str, columns: list[str] | None = None) -> None:
        super().__init__(message)
        self.columns = list(columns or [])


class EmptyInputError(SynthdbError):
    """The training input has no rows (or no usable columns)."""


class GateError(SynthdbError):
    """The release gate refused to publish."""
