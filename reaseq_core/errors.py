"""Errors that tell the user which file, row and field went wrong."""
from __future__ import annotations


class ReaSeqError(Exception):
    """Base class for errors the CLI and the app show to a person (no traceback)."""


class DataError(ReaSeqError):
    """Bad input data. Always names the file, and where known the row (1-based line) and field."""

    def __init__(self, path, message: str, *, row: int | None = None, field: str | None = None,
                 expected: str | None = None):
        self.path = str(path)
        self.row = row
        self.field = field
        self.expected = expected
        where = self.path
        if row is not None:
            where += f", line {row}"
        if field is not None:
            where += f", field '{field}'"
        text = f"{where}: {message}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class MissingArtifact(ReaSeqError):
    """An artifact a stage needs has not been produced yet; says which command produces it."""

    def __init__(self, what: str, command: str):
        self.what = what
        self.command = command
        super().__init__(f"{what} is missing: run `{command}` to produce it")
