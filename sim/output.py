"""Atomic output folders: a run leaves either its complete result or nothing.

Results are written into a hidden temporary folder next to the target and renamed into place
only when every file is complete. An interrupted run (Ctrl-C, a kill, an exception) therefore
never leaves a half-written folder where a result is expected, and a previous complete result
is only replaced, with ``force``, once the new one is whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError


def check_output_dir(target: str | Path, force: bool) -> Path:
    """Fail early (before any simulation) if ``target`` cannot receive a result."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UserError("exists and is not a folder (expected an output folder)", file=target,
                        key="--out")
    if target.exists() and any(target.iterdir()) and not force:
        raise UserError("output folder already exists and is not empty; pass --force to replace "
                        "it or choose another --out", file=target, key="--out")
    return target


@contextmanager
def atomic_directory(target: str | Path, *, force: bool = False):
    target = check_output_dir(target, force)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        old = parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, target)
