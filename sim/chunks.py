"""A chunk of replicates simulated by either engine: the unit of work of every run.

A chunk is a list of replicate numbers with one parameter row each; its outcome depends on the
seed and the replicate numbers only (see :mod:`sim.randomness`), never on where it runs. This
module sits below the ways of running chunks (in process, in a local pool, on a Dask cluster:
:mod:`sim.ensemble`, :mod:`sim.distributed`) so that each of them can ship :func:`run_job`.
"""

from __future__ import annotations

from typing import Sequence

from .batch import run_batch
from .engine import run_replicate
from .errors import UserError
from .model import Model
from .outcomes import Outcomes
from .parameters import ParameterTable, Params
from .randomness import draw_batch, draw_replicate

ENGINES = ("batch", "simpy")


def simulate(model: Model, table: ParameterTable, seed: int, replicates: Sequence[int],
             engine: str = "batch") -> Outcomes:
    """Simulate the given replicate numbers (row k of ``table`` is replicate ``replicates[k]``)."""
    replicates = list(replicates)
    if engine == "batch":
        return run_batch(model, table, draw_batch(seed, replicates, model.n))
    if engine == "simpy":
        return Outcomes.stack([run_replicate(model, Params(table.row(k)),
                                             draw_replicate(seed, rep, model.n), record_log=False)
                               for k, rep in enumerate(replicates)], model.n)
    raise UserError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}", argument="engine")


def run_job(model: Model, job: tuple) -> Outcomes:
    """One chunk as shipped to a worker: (parameter rows, seed, replicate numbers, engine)."""
    table_values, seed, reps, engine = job
    return simulate(model, ParameterTable(table_values), seed, reps, engine)
