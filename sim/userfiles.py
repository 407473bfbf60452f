"""Reading a user's file safely: a bounded read of a regular file, and TOML parsed without surprises.

Every file a user names (scenario, calibration config, targets, posterior, manifest) goes through
:func:`read_bytes`, which refuses what is not a regular file (a folder, a FIFO that would block for
ever, ``/dev/zero`` that would never end, a symlink loop) *before* opening it, and reads at most
:data:`MAX_BYTES`. :func:`parse_toml` turns every way the TOML reader can fail (syntax, an integer
of more than 4,300 digits, nesting thousands deep) into one :class:`UserError` line.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

from .errors import UserError

#: No user file of this package comes near this size (the largest, a posterior, is ~1 MB).
MAX_BYTES = 64 * 1024 * 1024
#: Nesting deeper than this in a TOML file is refused before parsing (tomllib recurses).
MAX_NESTING = 64


def read_bytes(path: str | Path, what: str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file, or a one-line UserError naming it."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"file not found (expected {what})", file=path) from None
    except OSError as exc:            # a symlink loop, a name too long, no permission, ...
        raise UserError(f"cannot read ({exc.strerror or exc}); expected {what}", file=path) from None
    except ValueError as exc:         # an embedded NUL byte in the name
        raise UserError(f"not a valid file name ({exc}); expected {what}", file=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"is a directory (expected {what})", file=path)
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"not a regular file (a device, FIFO or socket); expected {what}", file=path)
    if st.st_size > limit:
        raise UserError(f"file is {st.st_size:,} bytes, larger than the {limit:,} allowed; expected "
                        f"{what}", file=path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read ({exc.strerror or exc}); expected {what}", file=path) from None
    if len(data) > limit:
        raise UserError(f"file is larger than the {limit:,} bytes allowed; expected {what}", file=path)
    return data


def decode_utf8(raw: bytes, path: str | Path) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise UserError(f"not UTF-8 text{hint} (invalid byte at offset {exc.start}); save the "
                        "file as UTF-8", file=path) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


_OPEN = re.compile(r"[\[{]")


def _nesting(text: str) -> int:
    """An upper bound of the bracket nesting depth (brackets in strings count too: harmless)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def parse_toml(text: str, path: str | Path) -> dict:
    """Parse TOML text; every failure is a one-line UserError naming the file (and the line)."""
    if _OPEN.search(text) and _nesting(text) > MAX_NESTING:
        raise UserError(f"arrays or tables nested more than {MAX_NESTING} deep", file=path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        raise UserError(f"not valid TOML: {msg}", file=path, line=line) from None
    except ValueError as exc:         # an integer beyond Python's 4,300-digit conversion limit
        raise UserError(f"not valid TOML: {' '.join(str(exc).split()[:12])}", file=path) from None
    except RecursionError:
        raise UserError("not valid TOML: nested too deeply", file=path) from None


def read_toml(path: str | Path, what: str) -> tuple[dict, bytes]:
    """A TOML file's table and its raw bytes (for hashing)."""
    raw = read_bytes(path, what)
    return parse_toml(decode_utf8(raw, path), path), raw


def as_float(value) -> float | None:
    """float(value), or None when it does not fit a float (an integer beyond 1.8e308)."""
    try:
        return float(value)
    except (OverflowError, ValueError, TypeError):
        return None
