"""What replicates produce: one result type for both engines, the chunks of a run and checkpoints.

The SimPy engine returns one replicate, the batch engine a stack of them, an ensemble collects
chunks of stacks and a checkpoint saves and reloads them: it is the same concept throughout, so it
is one dataclass, defined here below the engines so that every layer above can share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import numpy as np


@dataclass
class Outcomes:
    """When each district fell and how, when the assault on the cities began and when the run
    ended, for one replicate or a stack of R replicates.

    One replicate (:func:`sim.engine.run_replicate`): ``fall_time`` and ``mode`` of shape (n,),
    ``assault_time`` and ``end_time`` floats, and the event ``log`` when it was recorded. A stack
    (:func:`sim.batch.run_batch`, the chunks of an ensemble, a checkpoint): shapes (R, n) and
    (R,), replicate k in row k; :meth:`stack` builds one from single replicates.
    """

    fall_time: np.ndarray            # days since the clock's origin; NaN = held to the end
    mode: np.ndarray                 # int8, codes in sim.model (HELD, NEGOTIATED, ...)
    assault_time: np.ndarray | float  # when the assault on the cities began (NaN = never)
    end_time: np.ndarray | float     # Kabul's fall (the republic ends) or the horizon
    log: list = field(default_factory=list)   # the SimPy engine's events (one replicate, if asked)

    #: The arrays, in order (what a checkpoint stores; the log is not kept).
    FIELDS: ClassVar[tuple[str, ...]] = ("fall_time", "mode", "assault_time", "end_time")

    @classmethod
    def stack(cls, replicates: Sequence["Outcomes"], n: int) -> "Outcomes":
        """Single replicates (each of ``n`` districts) as one stack, in the order given."""
        k = len(replicates)
        return cls(np.array([o.fall_time for o in replicates]).reshape(k, n),
                   np.array([o.mode for o in replicates], dtype=np.int8).reshape(k, n),
                   np.array([o.assault_time for o in replicates]),
                   np.array([o.end_time for o in replicates]))
