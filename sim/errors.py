"""Errors a user can cause, and how they are reported.

A user's mistake (a malformed scenario, an unknown parameter, a date out of range, a missing
file) must surface as one line that names the file, the key and what was expected. The CLI
turns a :class:`UserError` into that line and exit code 2; anything else is a bug in this
package and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Bad input from the user: reported as one line, exit code 2, no traceback."""

    def __init__(self, message: str, *, file: str | Path | None = None, key: str | None = None,
                 line: int | None = None):
        self.file = str(file) if file is not None else None
        self.key = key
        self.line = line
        self.detail = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.key:
            where.append(f"key '{self.key}'")
        prefix = ": ".join(where)
        text = f"{prefix}: {self.detail}" if prefix else self.detail
        # One line, whatever the message carried.
        return " ".join(text.split())


class DataError(UserError):
    """A data table (the package's own or one the user points to) fails validation."""
