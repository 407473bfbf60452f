"""Output folders: atomic, locked, and never replacing anything afsim did not write.

Results are written into a hidden temporary folder next to the target and renamed into place
only when every file is complete. An interrupted run (Ctrl-C, a kill, an exception) therefore
never leaves a half-written folder where a result is expected, and a previous complete result
is only replaced, with ``force``, once the new one is whole.

``force`` replaces only a folder afsim wrote (it holds the :data:`MARKER` file, or, for results
written before the marker existed, afsim's own manifest or reports), and never the current
directory, a folder holding an input of the run, or an ancestor of either. A lock file beside the
output (``<out>.lock``, :func:`output_lock`) keeps two runs from writing the same folder: the second
one gets a one-line error. Stale temporary folders of an earlier, killed run are removed by the
next run to the same output. Folders get the user's umask, like any file they write.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError, arg

#: Written into every output folder: what lets ``--force`` know afsim wrote it.
MARKER = ".afsim-output"
#: The longest folder name most file systems accept (bytes).
MAX_NAME = 200


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _resolved(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return Path(os.path.abspath(path))


def _is_within(inner: Path, outer: Path) -> bool:
    """True if ``inner`` is ``outer`` or lies inside it."""
    return inner == outer or outer in inner.parents


def written_by_afsim(folder: Path) -> bool:
    """The folder carries afsim's marker, or (older results) afsim's own manifest or reports."""
    if (folder / MARKER).is_file():
        return True
    manifest = folder / "manifest.json"
    if manifest.is_file() and manifest.stat().st_size < 10_000_000:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and "package_version" in data:
            return True
    return ((folder / "fit_report.json").is_file() and (folder / "posterior.csv").is_file()) or (
        (folder / "sensitivity.csv").is_file() and (folder / "sensitivity.png").is_file())


def _check_name(target: Path) -> None:
    if "\x00" in str(target):
        raise UserError("the output path contains a NUL byte", file=repr(str(target)), argument="out")
    for part in target.parts:
        if len(os.fsencode(part)) > MAX_NAME:
            raise UserError(f"a folder name of {len(os.fsencode(part))} bytes; at most {MAX_NAME} "
                            "allowed", file=str(target)[:80] + "...", argument="out")


def check_output_dir(target: str | Path, force: bool, inputs=()) -> Path:
    """Fail early (before any simulation) if ``target`` cannot receive a result.

    ``inputs``: the files the run reads; a folder holding one of them is never replaced.
    """
    target = Path(target)
    _check_name(target)
    real = _resolved(target)
    if real == Path(real.anchor) or os.path.ismount(real):
        raise UserError("is the root or a mount point; choose a folder inside it", file=target,
                        argument="out")
    protected = [(_resolved(Path.cwd()), "the current directory")]
    protected += [(_resolved(Path(p)), f"the input {p}") for p in inputs if p is not None]
    for path, what in protected:
        if _is_within(path, real):
            raise UserError(f"would replace a folder holding {what}; choose another {arg('out')}",
                            file=target, argument="out")
    try:
        exists, is_dir = target.exists(), target.is_dir()
    except OSError as exc:
        raise UserError(f"cannot use as an output folder ({exc.strerror})", file=target,
                        argument="out") from None
    if exists and not is_dir:
        raise UserError("exists and is not a folder (expected an output folder)", file=target,
                        argument="out")
    if exists:
        try:
            empty = not any(target.iterdir())
        except OSError as exc:
            raise UserError(f"cannot read the folder ({exc.strerror})", file=target,
                            argument="out") from None
        if not empty and not force:
            raise UserError(f"output folder already exists and is not empty; pass "
                            f"{arg('force', True)} to replace it or choose another {arg('out')}",
                            file=target, argument="out")
        if not empty and not written_by_afsim(target):
            raise UserError(f"was not written by afsim (no {MARKER} marker or afsim manifest); "
                            f"{arg('force', True)} replaces only afsim's own output folders", file=target,
                            argument="out")
    _check_parent(target)
    return target


def _check_parent(target: Path) -> None:
    """The nearest existing ancestor must be a writable folder (the output is created there)."""
    parent = Path(os.path.abspath(target)).parent
    while True:
        try:
            if parent.exists():
                break
        except OSError:
            pass
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"cannot create the output folder: {parent} is a file, not a folder",
                        file=target, argument="out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot create the output folder: {parent} is not writable (read-only "
                        "file system or no permission)", file=target, argument="out")


# ---------------------------------------------------------------------------------------- locks

_HELD: dict[str, list] = {}          # lock path -> [fd, depth]: re-entrant within a process


def lock_path(target: str | Path) -> Path:
    target = Path(os.path.abspath(target))
    return target.with_name(target.name + ".lock")


@contextmanager
def output_lock(target: str | Path):
    """Hold ``<target>.lock`` (``fcntl.flock``) for the block; a second run gets a UserError."""
    path = lock_path(target)
    key = str(path)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield path
        finally:
            _HELD[key][1] -= 1
        return
    created = []                      # parent folders made for this run, removed if left empty
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_empty(created)
        raise UserError(f"cannot create the output folder's parent ({exc.strerror})", file=target,
                        argument="out") from None
    try:
        fd = _acquire(path, target)
    except BaseException:
        _remove_empty(created)
        raise
    _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        try:
            os.unlink(path)             # while still holding it: the next run creates its own
        except OSError:
            pass
        os.close(fd)
        _remove_empty(created)


def _remove_empty(folders) -> None:
    for folder in folders:            # deepest first
        try:
            folder.rmdir()
        except OSError:
            break


def _acquire(path: Path, target) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise UserError(f"cannot create the lock file {path.name} beside the output "
                            f"({exc.strerror})", file=target, argument="out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError(f"another afsim run is writing this output (it holds {path}); "
                                f"wait for it to finish or choose another {arg('out')}", file=target,
                                argument="out") from None
            raise UserError(f"cannot lock {path} ({exc.strerror})", file=target,
                            argument="out") from None
        # the holder before us may have removed the file between our open and our lock
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


# ---------------------------------------------------------------------------------------- writing

def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Hidden ``.<name>.tmp-*`` / ``.<name>.old-*`` folders left by a killed run (call under the
    output's lock, so that no live run owns them)."""
    target = Path(os.path.abspath(target))
    removed = []
    if not target.parent.is_dir():
        return removed
    name = glob.escape(target.name)          # a name with [ or * must match only itself
    for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
        for stale in target.parent.glob(pattern):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
                removed.append(stale)
    return removed


def _write_error(exc: OSError, target: Path) -> UserError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif exc.errno == errno.EROFS:
        why = "read-only file system"
    else:
        why = exc.strerror or str(exc)
    err = UserError(f"cannot write the output ({why}); nothing was written", file=target,
                    argument="out")
    err.disk_full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return err


@contextmanager
def atomic_directory(target: str | Path, *, force: bool = False):
    target = check_output_dir(target, force)
    parent = target.parent if str(target.parent) else Path(".")
    with output_lock(target):
        target = check_output_dir(target, force)      # again, now that we hold the lock
        remove_stale_temporaries(target)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
            os.chmod(tmp, 0o777 & ~_umask())
        except OSError as exc:
            raise _write_error(exc, target) from None
        try:
            yield tmp
            (tmp / MARKER).write_text(json.dumps({"written_by": "afsim"}) + "\n", encoding="utf-8")
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _write_error(exc, target) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            if target.exists():
                old = parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
                os.rename(target, old)
                os.rename(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, target)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _write_error(exc, target) from None
