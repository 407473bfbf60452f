"""Many parameter values, each simulated on the same fixed replicates, spread over local cores.

Calibration (a log-likelihood per parameter value) and sensitivity analysis (outcomes per
parameter value) both need this: S parameter vectors, each run on the same R replicates (same
draws: common random numbers), reduced to a few numbers per vector. A *problem* object knows the
model, the R replicates' parameters and draws, which columns vary, and how to reduce the fall
times; :class:`ParallelSets` spreads the vectors over worker processes, each of which receives
the problem once.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .batch import run_batch
from .model import Model
from .outcomes import Outcomes
from .parameters import ParameterTable
from .randomness import Draws


def simulate_sets(model: Model, base: np.ndarray, draws: Draws, columns, X: np.ndarray,
                  prologue=None, stop_after_capitals: int | None = None,
                  stop_after_day: float | None = None) -> Outcomes:
    """Simulate each row of ``X`` (S, len(columns)) on the R replicates of ``base`` / ``draws``.

    Row ``s * R + r`` of the result is parameter vector s on replicate r. ``prologue`` (a
    :class:`sim.prologue.Prologue` of the same replicates) resumes each row from its countryside
    before the decision instead of simulating it again: the same numbers, sooner.
    ``stop_after_capitals`` and ``stop_after_day`` as in :func:`sim.batch.run_batch`.
    """
    S, R = X.shape[0], base.shape[0]
    values = np.tile(base, (S, 1))
    for j, col in enumerate(columns):
        values[:, col] = np.repeat(X[:, j], R)
    if prologue is not None:
        return prologue.resume(values, stop_after_capitals, stop_after_day)
    tiled = Draws(*(np.tile(a, (S, 1)) for a in (draws.resistance, draws.u_mode, draws.u_actor,
                                                  draws.gumbel)))
    return run_batch(model, ParameterTable(values), tiled, stop_after_capitals=stop_after_capitals,
                     stop_after_day=stop_after_day)


_PROBLEM = None


def _init(problem) -> None:
    global _PROBLEM
    from .workers import die_with_parent
    die_with_parent()
    _PROBLEM = problem


def _evaluate_in_worker(X: np.ndarray) -> np.ndarray:
    return _PROBLEM.evaluate(X)


class ParallelSets:
    """Evaluate ``problem.evaluate(X)`` on chunks of rows of X, over local worker processes."""

    def __init__(self, problem, workers: int = 1):
        self.problem = problem
        import os
        self.workers = max(1, min(int(workers), os.cpu_count() or 1))
        self.pool = None
        if self.workers > 1:
            self.pool = ProcessPoolExecutor(self.workers, initializer=_init, initargs=(problem,))
        self.calls = 0

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        self.calls += len(X)
        if self.pool is None or len(X) < 2:
            return self.problem.evaluate(X)
        parts = [p for p in np.array_split(X, min(self.workers, len(X))) if len(p)]
        return np.concatenate(list(self.pool.map(_evaluate_in_worker, parts)))

    def close(self, now: bool = False) -> None:
        if self.pool is not None:
            if now:
                from .workers import stop_pool
                stop_pool(self.pool)
            else:
                self.pool.shutdown()
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(now=exc_type is not None)
