"""A scenario bound to the geography: everything an engine needs that does not change in a run.

The engines (:mod:`sim.engine`, :mod:`sim.batch`) take a :class:`Model`, a set of parameters and
the random draws, and return fall times. They never read files or scenarios themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence


from .exposures import ExposureSet
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
    # The shares of something fallen that the rule reads (sim.exposures), compiled for geo
    exposures: ExposureSet

    @classmethod
    def build(cls, geo: Geography, events: Sequence[Event], focus_regions: Sequence[str],
              end: dt.date | None = None) -> "Model":
        return cls(geo=geo, cov=Covariates.build(geo, focus_regions),
                   timeline=compile_timeline(events, geo, end), exposures=ExposureSet.build(geo))

    @property
    def n(self) -> int:
        return self.geo.n

    @property
    def horizon(self) -> float:
        return self.timeline.horizon
