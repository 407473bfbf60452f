"""Chunk checkpoints for long ensembles: an interrupted run resumes where it stopped.

Each finished chunk of replicates is written to ``<out>.checkpoint/`` (an ``.npz`` of arrays, no
pickle) as soon as it is done, atomically (written to a temporary name, then renamed). The
folder also holds the identity of the run (scenario hash, seed, replicates, engine, a hash of
every replicate's parameters); ``--resume`` reuses the chunks only if that identity matches, so a
resumed run's outputs equal an uninterrupted run's bit for bit. Chunks are found by their range of
replicates, so a run resumed with another number of workers (another chunk size) reuses those
that still fit and simulates the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .errors import UserError, arg
from .outcomes import Outcomes

_FIELDS = Outcomes.FIELDS


def run_identity(**parts) -> dict:
    out = {}
    for key, value in parts.items():
        if isinstance(value, np.ndarray):
            value = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        out[key] = value
    return out


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _checkpoint_error(exc: OSError, folder: Path) -> UserError:
    import errno
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    err = UserError(f"cannot save a checkpoint chunk ({'the disk is full' if full else exc.strerror})",
                    file=folder, argument="checkpoint")
    err.disk_full = full
    return err


class ChunkStore:
    """Finished chunks of one run. Each chunk file carries its identity (the run's key and its
    replicate range) and a sha256 of its arrays; a resume verifies both, so a chunk damaged,
    replaced or swapped with another is refused instead of silently changing the results."""

    def __init__(self, folder: str | Path, identity: dict, *, resume: bool):
        self.folder = Path(folder)
        self.key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        self.created = False
        self.saved = 0
        key_file = self.folder / "run.json"
        if self.folder.exists():
            if not resume:
                raise UserError(f"a checkpoint of an interrupted run exists; pass {arg('resume', True)} "
                                "to continue it, or delete the folder", file=self.folder,
                                argument="resume")
            if not self.folder.is_dir():
                raise UserError(f"exists and is not a checkpoint folder; delete it or choose another "
                                f"{arg('checkpoint')}", file=self.folder, argument="resume")
            try:
                raw = key_file.read_bytes() if key_file.stat().st_size < 1_000_000 else b""
                saved = json.loads(raw.decode("utf-8"))
            except (OSError, ValueError, RecursionError):
                saved = None
            if saved != identity:
                raise UserError("the checkpoint belongs to a different run (scenario, seed, "
                                f"replicates or parameters differ); delete it or drop {arg('resume', True)}",
                                file=self.folder, argument="resume")
        else:
            try:
                self.folder.mkdir(parents=True)
                self.created = True
                tmp = key_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(identity, indent=1))
                os.replace(tmp, key_file)
            except OSError as exc:
                self.discard_if_unused()
                raise _checkpoint_error(exc, self.folder) from None

    def _path(self, r: range) -> Path:
        return self.folder / f"chunk_{r.start:08d}_{r.stop:08d}.npz"

    def _refuse(self, path: Path, why: str) -> UserError:
        return UserError(f"checkpoint chunk {path.name} {why}; delete the checkpoint folder "
                         f"{self.folder} and run again without {arg('resume', True)}", file=path,
                         argument="resume")

    def load(self, parts, n: int | None = None) -> dict:
        """The saved chunks among ``parts`` (a list of ranges), by range, each verified."""
        done = {}
        for r in parts:
            path = self._path(r)
            if not path.exists():
                continue
            if not path.is_file():
                raise self._refuse(path, "is not a file")
            try:
                with np.load(path, allow_pickle=False) as z:
                    arrays = [z[f] for f in _FIELDS]
                    key, start, stop, digest = (str(z["key"]), int(z["start"]), int(z["stop"]),
                                                str(z["sha256"]))
            except Exception as exc:      # noqa: BLE001 - BadZipFile, zlib.error, EOFError, ...
                raise self._refuse(path, f"cannot be read ({type(exc).__name__}: it is truncated "
                                   "or damaged)") from None
            if key != self.key:
                raise self._refuse(path, "belongs to another run")
            if (start, stop) != (r.start, r.stop):
                raise self._refuse(path, f"holds replicates {start}-{stop}, not {r.start}-{r.stop} "
                                   "(files swapped or renamed)")
            k = len(r)
            for f, a, shape in zip(_FIELDS, arrays, [(k, n), (k, n), (k,), (k,)]):
                if a.ndim != len(shape) or a.shape[0] != k or (n is not None and a.shape != shape):
                    raise self._refuse(path, f"has {f} of shape {a.shape}, expected {shape}")
            if _digest(arrays) != digest:
                raise self._refuse(path, "does not match its sha256 (its contents were changed)")
            done[r] = Outcomes(*arrays)
        return done

    def save(self, r: range, chunk) -> None:
        path = self._path(r)
        tmp = self.folder / f".{path.name}.tmp"
        arrays = [np.asarray(getattr(chunk, f)) for f in _FIELDS]
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **dict(zip(_FIELDS, arrays)), key=np.array(self.key),
                         start=np.int64(r.start), stop=np.int64(r.stop),
                         sha256=np.array(_digest(arrays)))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _checkpoint_error(exc, self.folder) from None
        self.saved += 1

    def discard_if_unused(self) -> None:
        """Remove a checkpoint this run created and never saved a chunk to."""
        if self.created and self.saved == 0:
            import shutil
            shutil.rmtree(self.folder, ignore_errors=True)
