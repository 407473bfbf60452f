"""Where each replicate's parameters come from: a fixed vector or rows of a posterior sample.

Below :mod:`sim.posterior` (which reads a posterior file into a source) and :mod:`sim.ensemble`
(which draws each replicate's row from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import UserError
from .parameters import NAMES, ParameterTable, defaults
from .randomness import replicate_generator


@dataclass(frozen=True)
class ParameterSource:
    """Where each replicate's parameters come from, before the scenario's changes are applied.

    ``fixed``: every replicate uses the same values (the table's defaults unless given).
    ``posterior``: replicate k draws one row of a posterior sample, with its weight, from the
    random stream of its *draw group* ``k // replicates_per_draw``; parameter and stochastic
    uncertainty then both show in the results. With ``replicates_per_draw = m > 1`` the
    replicates of one group share a parameter draw, so the spread of an outcome (or of a paired
    effect) can be split into the part due to the posterior (between groups) and the Monte Carlo
    noise of the simulation (within groups): see :func:`sim.compare.decompose`. The assignment
    depends on (seed, k, m) only, never on workers or chunks; m = 1 is the historical
    one-draw-per-replicate assignment, bit for bit.
    """

    kind: str                       # "fixed" | "posterior"
    label: str                      # for manifests and plot titles
    rows: np.ndarray                # (S, len(NAMES)); one row for "fixed"
    weights: np.ndarray             # (S,) summing to 1
    path: str | None = None         # the posterior file, if read from one
    digest: str | None = None       # its sha256

    @classmethod
    def fixed(cls, values: dict[str, float] | None = None, label: str = "fixed defaults"
              ) -> "ParameterSource":
        vals = defaults()
        vals.update(values or {})
        return cls("fixed", label, np.array([[float(vals[n]) for n in NAMES]]), np.ones(1))

    @classmethod
    def posterior(cls, rows: np.ndarray, weights: np.ndarray | None = None, label: str = "posterior",
                  path: str | None = None, digest: str | None = None) -> "ParameterSource":
        rows = np.atleast_2d(np.asarray(rows, dtype=float))
        w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=float)
        return cls("posterior", label, rows, w / w.sum(), path, digest)

    def picks(self, seed: int, replicates: Sequence[int], replicates_per_draw: int = 1) -> np.ndarray:
        """The posterior row each replicate uses (0 for a fixed source)."""
        m = check_replicates_per_draw(replicates_per_draw)
        groups = np.asarray(list(replicates), dtype=np.int64) // m
        if self.kind == "fixed":
            return np.zeros(len(groups), dtype=np.int64)
        cdf = np.cumsum(self.weights)
        chosen: dict[int, int] = {}
        for g in np.unique(groups):
            u = replicate_generator(seed, int(g), 1).random()
            chosen[int(g)] = min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)
        return np.array([chosen[int(g)] for g in groups], dtype=np.int64)

    def table(self, seed: int, replicates: Sequence[int], replicates_per_draw: int = 1
              ) -> ParameterTable:
        return ParameterTable(self.rows[self.picks(seed, replicates, replicates_per_draw)])


def check_replicates_per_draw(m) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise UserError(f"replicates per draw must be a whole number >= 1, got {m!r}",
                        argument="replicates_per_draw")
    return int(m)


def draw_groups(replicates: int, replicates_per_draw: int) -> np.ndarray:
    """Replicate k's draw group, k // m: the replicates that share one parameter draw."""
    return np.arange(replicates) // check_replicates_per_draw(replicates_per_draw)
