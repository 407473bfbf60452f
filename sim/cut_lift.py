"""The cut lifted for the record's start: the countryside's parameters, given each draw of the
cities', conditioned on when the cities' fall began.

Why: the calibration's two modules are cut (:mod:`sim.calibrate`): the capitals' dates do not
inform the countryside's parameters. But when the Taliban turn on the cities depends on how far
the countryside has fallen, and the countryside's posterior leaves its August pace uncertain by
about 20 districts; crossing the two posteriors (``calibration/decision_sources.py``) put 58% of
the decision date's variance on the countryside's posterior. The record's start (the first
capital fell on 6 August, none before, the assault began that day) is the datum that bears on
it. The cities' own dates after the start stay cut off: counted as the stage counts them (33
dates at half weight, a composite likelihood), they leave about 13 of 160 countryside draws per
city draw (``calibration/lift_cut.py``), a weighting too degenerate to trust.

Method (importance sampling over the two stages' samples, no new chain): a pool of A draws of the
countryside's posterior and B draws of the cities'. Each pair is simulated on the capitals
stage's own R replicates (common random numbers), resumed from the countryside's prologue
(:mod:`sim.prologue`) and stopped at each replicate's first capital fall; its weight is the
likelihood of the start (:meth:`sim.likelihood.Likelihood.start_loglik`), normalised over the A
countryside draws for each city draw. A district count the targets give to the cities' stage
(``stage = "capitals"``: the record's count by Kabul's fall) is read here too, the pair then
simulated to that count's day (and on to the first capital's fall if it comes later; nothing
after is read, so nothing after is simulated): what had fallen when the cities fell depends on the
countryside's parameters (its offensive capacity, its momentum) as much as on the cities', and the
countryside's stage, which simulates no assault, cannot see it. The joint posterior's rows pair each city draw, in equal
shares, with countryside draws drawn by those weights: the cities keep their cut posterior and
the countryside gets, given them, its posterior given the counts, the district facts and the
start (exact as A grows). The effective number of countryside draws per city draw is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import prologue
from .likelihood import Likelihood
from .model import Model
from .parameter_sets import ParallelSets, simulate_sets
from .progress import progress_bar
from .randomness import Draws


@dataclass(eq=False)
class StartLikelihood:
    """log-likelihood of the record's start for countryside values x city values, on fixed
    replicates; ``evaluate`` takes countryside rows, so :class:`ParallelSets` spreads them."""

    model: Model
    base: np.ndarray             # (R, len(NAMES)) the stage's replicates' parameters
    draws: Draws                 # the stage's replicates' random numbers
    rural_columns: np.ndarray    # columns of the countryside's calibrated parameters
    city_columns: np.ndarray     # columns of the cities' calibrated parameters
    city_values: np.ndarray      # (B, len(city_columns))
    likelihood: Likelihood

    @property
    def replicates(self) -> int:
        """The replicates each pair is simulated on."""
        return len(self.base)

    @property
    def reads_counts(self) -> bool:
        """Whether the lift reads district counts too (the cities' stage's), not the start alone."""
        return self.likelihood.reads_counts

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """(A, len(rural_columns)) countryside values -> (A, B) log-likelihoods."""
        # The cities' draws come from an MCMC (or a resampled importance sample), so some repeat;
        # a pair's likelihood is a function of its values on fixed replicates (common random
        # numbers), so each distinct city draw is simulated once and its column copied.
        cities, back = np.unique(self.city_values, axis=0, return_inverse=True)
        B, R = len(cities), len(self.base)
        out = []
        for x in X:
            base = self.base.copy()
            base[:, self.rural_columns] = x
            start = (prologue.Prologue.simulate(self.model, base, self.draws)
                     if prologue.applies(self.city_columns) else None)
            # the start needs each run only to the first capital's fall; a count dated after the
            # assault began (the record's count by Kabul's fall) needs it to that count's day too,
            # and nothing after: what is read is final either way
            lik = self.likelihood
            res = simulate_sets(self.model, base, self.draws, self.city_columns, cities, start,
                                stop_after_capitals=1, stop_after_day=lik.counts_read_until)
            counts, caps, _ = lik.features(res.fall_time, res.assault_time)
            ll = lik.start_loglik(caps.reshape(B, R, -1))
            if self.reads_counts:
                ll = ll + lik.count_loglik(counts.reshape(B, R, -1))
            out.append(ll[back.reshape(-1)])
        return np.array(out)


@dataclass
class LiftedCut:
    countryside: np.ndarray      # (S,) index into the countryside stage's samples, per joint row
    city: np.ndarray             # (S,) index into the cities' stage's samples, per joint row
    pool_countryside: np.ndarray  # (A,) the countryside samples in the pool
    pool_city: np.ndarray        # (B,) the city samples in the pool
    loglik: np.ndarray           # (A, B) the start's log-likelihood of each pair
    seconds: float
    reads_counts: bool = False   # the pairs were weighted by the cities' stage's counts too
    replicates: int = 0          # the replicates each pair was simulated on

    @property
    def weights(self) -> np.ndarray:
        """(A, B) each city draw's weights over the countryside pool (columns sum to 1)."""
        w = np.exp(self.loglik - self.loglik.max(axis=0, keepdims=True))
        return w / w.sum(axis=0, keepdims=True)

    def summary(self) -> dict:
        ess = 1.0 / (self.weights ** 2).sum(axis=0)
        data = "the start: first capital's fall day, no capital before, the assault's start"
        if self.reads_counts:
            data += ", and the district counts dated after it began (the cities' stage's)"
        return {"data": data,
                "countryside_draws": int(len(self.pool_countryside)),
                "city_draws": int(len(self.pool_city)),
                "replicates": int(self.replicates),
                "effective_countryside_draws_per_city_draw": {
                    "median": float(np.median(ess)), "min": float(ess.min())},
                "joint_rows": int(len(self.city)), "seconds": round(self.seconds, 1)}


def lift_cut(problem: StartLikelihood, rural_samples: np.ndarray, city_pool: np.ndarray,
             rows: int, countryside_draws: int, seed, workers: int = 1,
             progress: bool = False) -> LiftedCut:
    """Pair ``rows`` joint rows: ``problem.city_values`` are the cities' samples ``city_pool``
    (indices), each repeated in equal shares; ``countryside_draws`` of ``rural_samples`` form the
    pool, drawn by their start likelihood given each city draw. Reproducible from ``seed``,
    whatever ``workers``: every countryside draw is simulated and reduced on its own."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    A = int(countryside_draws)
    pool = rng.choice(len(rural_samples), A, replace=A > len(rural_samples))
    # As for the cities (StartLikelihood.evaluate): a repeated countryside draw is simulated once.
    distinct, back = np.unique(rural_samples[pool], axis=0, return_inverse=True)
    chunks = np.array_split(np.arange(len(distinct)), max(1, min(len(distinct), 16)))
    bar = progress_bar(len(distinct), "lifting the cut: the start given each pair", progress,
                       unit="draw")
    parts = []
    with ParallelSets(problem, workers) as evaluator:
        for chunk in chunks:
            parts.append(evaluator.evaluate(distinct[chunk]))
            bar.update(len(chunk))
    bar.close()
    loglik = np.concatenate(parts)[back.reshape(-1)]
    B = len(city_pool)
    slot = np.arange(rows) % B
    picked = np.empty(rows, dtype=np.int64)
    result = LiftedCut(picked, np.asarray(city_pool)[slot], pool, np.asarray(city_pool), loglik,
                       0.0, problem.reads_counts, problem.replicates)
    w = result.weights
    for b in range(B):
        mine = np.flatnonzero(slot == b)
        picked[mine] = pool[rng.choice(A, size=len(mine), p=w[:, b])]
    result.seconds = time.perf_counter() - started
    return result
