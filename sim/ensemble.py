"""Replicates: parameter draws, chunks, workers, and the result they add up to.

A run of ``R`` replicates with seed ``s`` is the same set of numbers however it is executed:
replicate ``k`` always draws from ``(s, k)`` (see :mod:`sim.randomness`), chunks are cut at fixed
replicate numbers, and results are stacked in replicate order. So 1 worker, 2 workers or a Dask
cluster give bit-identical outputs.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from .checkpoint import ChunkStore, run_identity
from .chunks import ENGINES, run_job, simulate  # noqa: F401  (simulate: re-exported)
from .distributed import map_chunks_dask
from .errors import UserError, arg
from .geography import Geography, load_geography
from .model import Model
from .outcomes import Outcomes
from .parameter_source import (ParameterSource, check_replicates_per_draw,  # noqa: F401
                               draw_groups)
from .parameters import ParameterTable
from .posterior import load_default_posterior, read_posterior
from .progress import progress_bar
from .results import FALL_TIMES_LIMIT, EnsembleResult, ResultBuilder
from .scenario import Scenario, load_scenario
from .version import __version__
from .workers import die_with_parent, stop_pool, usable_workers

#: The batch engine is fastest on a few thousand replicates at a time (numpy overhead per event
#: is amortised; beyond that the state arrays fall out of cache).
MAX_CHUNK = 2000


def auto_chunk_size(replicates: int, workers: int) -> int:
    """Chunks large enough for speed, small enough that every worker gets several."""
    return int(min(MAX_CHUNK, max(100, -(-replicates // (4 * max(workers, 1))))))


# ====================================================================== parameter sources

def default_parameter_source() -> ParameterSource:
    """The committed calibrated posterior if there is one, else the hand-set defaults."""
    post = load_default_posterior()
    return post if post is not None else ParameterSource.fixed(label="hand-set defaults (uncalibrated)")


# ====================================================================== running chunks

_WORKER_MODEL: Model | None = None


def _init_worker(model: Model) -> None:
    global _WORKER_MODEL
    die_with_parent()
    _WORKER_MODEL = model


def _worker_chunk(job) -> Outcomes:
    return run_job(_WORKER_MODEL, job)


def chunks_of(replicates: int, size: int) -> list[range]:
    return [range(a, min(a + size, replicates)) for a in range(0, replicates, size)]


def run_chunks(model: Model, table: ParameterTable, seed: int, parts: list[range], *, engine: str,
               workers: int = 1, scheduler: str | None = None,
               on_chunk: Callable[[range, Outcomes], None] | None = None) -> None:
    """Simulate the given chunks of replicates; ``on_chunk`` receives them in order."""
    if not parts:
        return
    jobs = [(table.values[r.start:r.stop], seed, list(r), engine) for r in parts]
    if scheduler:
        for r, chunk in zip(parts, map_chunks_dask(scheduler, model, jobs)):
            on_chunk(r, chunk)
        return
    workers = usable_workers(workers, len(parts))
    if workers <= 1:
        for r, job in zip(parts, jobs):
            on_chunk(r, run_job(model, job))
        return
    ex = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(model,))
    try:
        for r, chunk in zip(parts, ex.map(_worker_chunk, jobs)):
            on_chunk(r, chunk)
    except BaseException:
        stop_pool(ex)            # an interrupt or an error: do not wait for the queued chunks
        raise
    ex.shutdown()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset limit),
    not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):        # not Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    if workers is None or workers == 0:
        return available_cores()
    if workers < 0:
        raise UserError(f"workers must be >= 0, got {workers}", argument="workers")
    return workers


# ====================================================================== the public entry point

def run(scenario: Scenario | str | Path, replicates: int = 200, seed: int = 1, *,
        parameters: ParameterSource | str | None = None, engine: str = "batch",
        workers: int | None = 1, scheduler: str | None = None, chunk_size: int | None = None,
        progress: bool = False, geo: Geography | None = None, keep_fall_times: bool | None = None,
        checkpoint: str | Path | None = None, resume: bool = False,
        replicates_per_draw: int = 1):
    """Run a scenario's ensemble and return an :class:`~sim.results.EnsembleResult`.

    ``parameters``: a :class:`ParameterSource`, ``"fixed"`` (the table's defaults) or ``None``
    (the committed calibrated posterior when there is one).

    ``keep_fall_times``: keep the full (replicates x districts) fall times (``fall_times.npz``).
    ``None`` keeps them up to 20,000 replicates and asks for an explicit choice above that; the
    summaries (every other output) are streamed and need little memory whatever the size.

    ``replicates_per_draw``: how many consecutive replicates share one posterior draw (replicate k
    uses the draw of group k // m). 1 (the default for a single run) gives the most informative
    predictive distribution; comparisons use more (see :func:`sim.compare.compare`) so that the
    posterior's share of an effect's spread can be told from Monte Carlo noise.

    ``checkpoint``: a folder where finished chunks are saved as they complete; with ``resume`` a
    run continues from the chunks already there (see :mod:`sim.checkpoint`).
    """
    geo = geo or load_geography()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, geo)
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or replicates < 1:
        raise UserError(f"replicates must be a whole number >= 1, got {replicates!r}", argument="replicates")
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}", argument="engine")
    source = resolve_parameter_source(parameters)
    model = Model.build(geo, scenario.events, scenario.focus_regions, scenario.end)
    replicates_per_draw = check_replicates_per_draw(replicates_per_draw)
    base_table = source.table(seed, range(replicates), replicates_per_draw)
    table = scenario.apply_table(base_table)
    if keep_fall_times is None:
        if replicates > FALL_TIMES_LIMIT:
            raise UserError(f"{replicates:,} replicates: the full fall times (fall_times.npz, "
                            f"{replicates * model.n * 9 / 1e9:.1f} GB in memory) are kept only on "
                            f"request above 20,000; pass {arg('keep_fall_times', True)} or "
                            f"{arg('keep_fall_times', False)}", argument="replicates")
        keep_fall_times = True
    builder = ResultBuilder(model, replicates, keep_fall_times)
    workers = min(resolve_workers(workers), os.cpu_count() or 1) if scheduler is None else \
        resolve_workers(workers)
    chunk_size = chunk_size or auto_chunk_size(replicates, 1 if scheduler is None and workers == 1
                                               else max(workers, 2))
    parts = chunks_of(replicates, chunk_size)
    store = None
    if checkpoint is not None:
        # the chunk size is not part of the identity: it follows the number of workers, and a
        # replicate's numbers do not depend on it; saved chunks of another size are simply not
        # found by range and are simulated again
        store = ChunkStore(checkpoint, run_identity(
            scenario=scenario.hash, seed=int(seed), replicates=int(replicates), engine=engine,
            horizon=float(model.horizon), parameters=table.values, version=__version__),
            resume=resume)
    bar = progress_bar(replicates, scenario.name, progress, unit="rep")
    started = time.perf_counter()
    done = store.load(parts, model.n) if store else {}
    for r, chunk in done.items():
        builder.add(r, chunk)
        bar.update(len(r))

    def take(r: range, chunk: Outcomes) -> None:
        if store is not None:
            store.save(r, chunk)
        builder.add(r, chunk)
        bar.update(len(r))

    try:
        run_chunks(model, table, seed, [r for r in parts if r not in done], engine=engine,
                   workers=workers, scheduler=scheduler, on_chunk=take)
    except BaseException:
        if store is not None:
            store.discard_if_unused()    # e.g. a bad --scheduler: no empty checkpoint left to block
        raise
    bar.close()
    result = EnsembleResult.from_builder(builder, scenario=scenario, seed=seed, source=source,
                                         table=table, engine=engine,
                                         elapsed=time.perf_counter() - started)
    result.replicates_per_draw = replicates_per_draw
    return result


def resolve_parameter_source(parameters, argument: str = "parameters") -> ParameterSource:
    """``None`` or ``"default"`` (the committed posterior), ``"fixed"``, the path of a posterior
    CSV (a ``Path``, or a string ending in ``.csv``: a structure's posterior, as ``afsim run
    --posterior`` reads it) or a source as it is; ``argument`` names the API argument that gave
    it, for the error."""
    if parameters is None or parameters == "default":
        return default_parameter_source()
    if parameters == "fixed":
        return ParameterSource.fixed(label="fixed: parameter table defaults")
    if isinstance(parameters, ParameterSource):
        return parameters
    if isinstance(parameters, Path) or (isinstance(parameters, str)
                                        and parameters.lower().endswith(".csv")):
        return read_posterior(parameters)
    raise UserError(f"unknown parameter source {parameters!r}; allowed: default, fixed, or the "
                    "path of a posterior CSV", argument=argument)
