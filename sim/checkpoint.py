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

from .errors import UserError

_FIELDS = ("fall_time", "mode", "assault_time", "end_time")


def run_identity(**parts) -> dict:
    out = {}
    for key, value in parts.items():
        if isinstance(value, np.ndarray):
            value = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        out[key] = value
    return out


class ChunkStore:
    def __init__(self, folder: str | Path, identity: dict, *, resume: bool):
        self.folder = Path(folder)
        key_file = self.folder / "run.json"
        if self.folder.exists():
            if not resume:
                raise UserError("a checkpoint of an interrupted run exists; pass --resume to "
                                "continue it, or delete the folder", file=self.folder, key="--resume")
            try:
                saved = json.loads(key_file.read_text())
            except (OSError, ValueError):
                saved = None
            if saved != identity:
                raise UserError("the checkpoint belongs to a different run (scenario, seed, "
                                "replicates or parameters differ); delete it or drop --resume",
                                file=self.folder, key="--resume")
        else:
            self.folder.mkdir(parents=True)
            tmp = key_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(identity, indent=1))
            os.replace(tmp, key_file)

    def _path(self, r: range) -> Path:
        return self.folder / f"chunk_{r.start:08d}_{r.stop:08d}.npz"

    def load(self, parts) -> dict:
        """The saved chunks among ``parts`` (a list of ranges), by range."""
        from .ensemble import Chunk
        done = {}
        for r in parts:
            path = self._path(r)
            if path.is_file():
                try:
                    with np.load(path, allow_pickle=False) as z:
                        done[r] = Chunk(*(z[f] for f in _FIELDS))
                except (OSError, ValueError, KeyError):
                    path.unlink(missing_ok=True)     # a torn write: simulate it again
        return done

    def save(self, r: range, chunk) -> None:
        path = self._path(r)
        tmp = self.folder / f".{path.name}.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **{f: getattr(chunk, f) for f in _FIELDS})
        os.replace(tmp, path)
