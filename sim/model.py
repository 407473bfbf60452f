"""A scenario bound to the geography: everything an engine needs that does not change in a run.

The engines (:mod:`sim.engine`, :mod:`sim.batch`) take a :class:`Model`, a set of parameters and
the random draws, and return fall times. They never read files or scenarios themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .geography import Geography
from .hazard import Covariates
from .timeline import CompiledTimeline, Event, compile_timeline

#: Fall modes recorded per district (fall_times.npz ``mode``).
HELD, NEGOTIATED, FIGHT, HELD_AT_START = 0, 1, 2, 3
MODE_NAMES = {HELD: "held", NEGOTIATED: "negotiated", FIGHT: "fight",
              HELD_AT_START: "taliban_at_start"}


@dataclass(frozen=True, eq=False)
class Model:
    geo: Geography
    cov: Covariates
    timeline: CompiledTimeline
    # For each CSR entry (row j -> neighbour i): j's weight in i's neighbour share, so a fall of
    # j raises N_i by exactly this much.
    incoming_weight: np.ndarray

    @classmethod
    def build(cls, geo: Geography, events: Sequence[Event], focus_regions: Sequence[str],
              end: dt.date | None = None) -> "Model":
        totals = np.add.reduceat(geo.nb_border_km, geo.nb_indptr[:-1])
        incoming = geo.nb_border_km / totals[geo.nb_indices]
        return cls(geo=geo, cov=Covariates.build(geo, focus_regions),
                   timeline=compile_timeline(events, geo, end), incoming_weight=incoming)

    @property
    def n(self) -> int:
        return self.geo.n

    @property
    def horizon(self) -> float:
        return self.timeline.horizon
