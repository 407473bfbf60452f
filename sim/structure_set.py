"""A structure set: the calibrated variants of the model a what-if comparison pools, as one file.

A what-if's interval must carry the structural uncertainty the record leaves open, so
:func:`sim.compare.compare` runs every scenario under several posteriors, one per structural
variant (or calibration seed) of the model. Which variants are kept is a modelling decision with
a reason for each; written in a file it is made once, stated where it is read, and shared by the
command line (``afsim compare --structures FILE``), a notebook
(``sim.compare(..., structures=FILE)``) and the tests, instead of living in a command sixteen
options long. The file (TOML; paths relative to the file)::

    [set]
    description = "what the set is for"

    [[structures]]
    name = "arrears_earlier"                          # a name for the tables: letters, digits, _
    posterior = "arrears_earlier/posterior.csv"       # a posterior CSV written by afsim calibrate
    baseline = "arrears_earlier/baseline.toml"        # optional: the structure's own timeline,
                                                      # on which every scenario is rebased
    differs = "how it differs from the default"
    why = "why it is kept"

The default posterior (or ``--posterior``) stays the primary, run first; the set's structures
follow in file order. Every path is checked when the file is read, and every posterior is read
(and so validated) then too, so a mistake is one line naming the file and the key before
anything runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import UserError
from .tomlcheck import check_keys, dotted, string, table, tables
from .userfiles import read_toml

_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
_KEYS = ("name", "posterior", "baseline", "differs", "why")


@dataclass(frozen=True)
class Structure:
    """One calibrated variant: its posterior, its own baseline (if it dates the timeline
    differently) and, in words, how it differs and why it is kept."""

    name: str
    posterior: Path
    baseline: Path | None
    differs: str
    why: str


@dataclass(frozen=True)
class StructureSet:
    """The structures of a set file, in file order (:func:`load_structure_set`)."""

    path: Path
    description: str
    structures: tuple[Structure, ...]
    sha256: str = ""           # of the file's bytes, for a run's manifest

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.structures]

    def sources(self) -> dict:
        """name -> its posterior (a :class:`sim.parameter_source.ParameterSource`)."""
        return dict(self._sources)

    @cached_property
    def _sources(self) -> dict:
        from .posterior import read_posterior
        return {s.name: read_posterior(s.posterior) for s in self.structures}

    def baselines(self) -> dict[str, Path]:
        """name -> its own baseline file, for the structures that have one."""
        return {s.name: s.baseline for s in self.structures if s.baseline is not None}

    def files(self) -> list[Path]:
        """Every file the set reads: itself, the posteriors and the baselines (inputs an output
        folder must not overlap)."""
        out = [self.path]
        for s in self.structures:
            out += [s.posterior] + ([s.baseline] if s.baseline is not None else [])
        return out


def _existing(entry: dict, key: str, path: Path, where: str, what: str) -> Path:
    target = path.parent / string(entry, key, path, where)
    if not target.is_file():
        raise UserError(f"file not found: {target} (expected {what}, relative to this file)",
                        file=path, key=dotted(where, key))
    return target


def load_structure_set(path: str | Path) -> StructureSet:
    """Read and check a structure set file (module notes); every posterior it names is read and
    validated too. A mistake is a :class:`UserError` naming the file and the key."""
    path = Path(path)
    data, raw = read_toml(path, "a structure set (TOML)")
    check_keys(data, ("set", "structures"), path)
    head = table(data, "set", path)
    check_keys(head, ("description",), path, "set")
    description = string(head, "description", path, "set", default="")
    entries = tables(data, "structures", path)
    if not entries:
        raise UserError("no structure listed (expected at least one [[structures]] table)",
                        file=path, key="structures")
    seen: set[str] = set()
    out = []
    for k, entry in enumerate(entries):
        where = f"structures[{k}]"
        check_keys(entry, _KEYS, path, where)
        name = string(entry, "name", path, where)
        if not _NAME.match(name):
            raise UserError(f"expected a name of letters, digits and _, got {name!r}", file=path,
                            key=dotted(where, "name"))
        if name in seen:
            raise UserError(f"structure {name!r} listed twice", file=path,
                            key=dotted(where, "name"))
        seen.add(name)
        posterior = _existing(entry, "posterior", path, where,
                              "a posterior CSV written by afsim calibrate")
        baseline = (_existing(entry, "baseline", path, where, "a baseline scenario TOML")
                    if "baseline" in entry else None)
        out.append(Structure(name, posterior, baseline,
                             string(entry, "differs", path, where, default=""),
                             string(entry, "why", path, where, default="")))
    structure_set = StructureSet(path, description, tuple(out), hashlib.sha256(raw).hexdigest())
    structure_set.sources()          # every posterior read (and checked) before anything runs
    return structure_set
