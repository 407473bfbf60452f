"""Errors a user can cause, and how they are reported.

A user's mistake (a malformed scenario, an unknown parameter, a date out of range, a missing
file) must surface as one line that names the file, the key and what was expected. The CLI
turns a :class:`UserError` into that line and exit code 2; anything else is a bug in this
package and keeps its traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

#: Marks an API argument inside a message (see :func:`arg`).
_MARK = "\x1f"
_ARG = re.compile(f"{_MARK}([^{_MARK}]*){_MARK}")
_NOTHING = object()


def arg(name: str, value: Any = _NOTHING) -> str:
    """An API argument named in an error message, as the Python API spells it (``resume=True``,
    ``out``); the command line shows its flag instead (``--resume``, ``--out``): errors are
    written in API words and :mod:`sim.cli` maps them to flags when it reports them. A string
    value is shown as written (``arg("parameters", "read_posterior(FILE)")``), others by repr."""
    if value is _NOTHING:
        return f"{_MARK}{name}{_MARK}"
    return f"{_MARK}{name}={value if isinstance(value, str) else repr(value)}{_MARK}"


class UserError(Exception):
    """Bad input from the user: reported as one line, exit code 2, no traceback.

    ``key`` names the key of the file at fault (a TOML key, a CSV column); ``argument`` the
    argument of the Python API at fault (``replicates``, ``parameters``), which the CLI reports
    as its flag.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, key: str | None = None,
                 line: int | None = None, argument: str | None = None):
        self.file = str(file) if file is not None else None
        self.key = key
        self.line = line
        self.argument = argument
        self.detail = message
        super().__init__(self.one_line())

    def one_line(self, flag: Callable[[str], str] | None = None) -> str:
        """The error as one line, in API words; with ``flag`` (the CLI's mapping of an API
        argument, ``name`` or ``name=value``, to its flag) in the command line's words."""
        where = []
        if self.file:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.key:
            where.append(f"key '{self.key}'")
        if self.argument:
            where.append(f"option '{flag(self.argument)}'" if flag else f"argument '{self.argument}'")
        detail = _ARG.sub(lambda m: flag(m[1]) if flag else m[1], self.detail)
        prefix = ": ".join(where)
        text = f"{prefix}: {detail}" if prefix else detail
        # One line, whatever the message carried.
        return " ".join(text.split())


class DataError(UserError):
    """A data table (the package's own or one the user points to) fails validation."""
