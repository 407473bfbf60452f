"""Conditioning a predictive ensemble on the countryside as the record saw it.

A posterior predictive run draws each replicate's parameters from the posterior and then
simulates the countryside afresh. Its spread of the cities' dates then mixes two things: the
uncertainty of the parameters and cities given what happened, and the spread of countrysides that
*did not* happen (a replicate with 260 districts fallen on 31 July, where the record has 221).
Because the Taliban's decision to turn on the cities depends on the share of districts fallen
(:func:`sim.hazard.assault_log_hazard`), a countryside that runs ahead brings the cities forward:
in the unconditioned predictive the recorded counts explain about two thirds of the variance of
the assault's date.

An analyst who knows the counts (every forecast as of a date knows those dated before it) would
condition on them. This module does it by importance resampling, the way a particle filter does:

* each replicate's *observation weight* is the likelihood of the recorded counts given its own
  simulated counts, with the same observation model as the calibration (normal, standard
  deviation tolerance x value, each point's log-density times its weight; ``calibration/targets.toml``);
* weights are normalised *within each posterior draw* (the ``replicates_per_draw`` consecutive
  replicates that share one parameter draw), so the draw's posterior weight is unchanged and the
  counts, already used to fit the parameters, are not used a second time on them: only the
  countryside's own randomness is conditioned;
* each draw's replicates are resampled in proportion to their weights (systematic resampling,
  seeded), giving an equally weighted ensemble that every summary of :mod:`sim.fit` reads as is.

The conditional ensemble is a *different question* ("given the countryside as recorded, when
did the cities fall?"), reported beside the unconditional one, never instead of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def counts_at(fall_time: np.ndarray, points: tuple, theatre) -> np.ndarray:
    """(R, K): districts fallen by the end of each checkpoint's day, per replicate.

    ``points``: the record's dated counts, read by their fields (``id``, ``date``, ``districts``,
    ``tolerance``, ``weight``: :class:`sim.targets.CountTarget`), so this module sits below the
    calibration layer and the what-if comparison can use it. Days are on ``theatre``'s clock
    (:class:`sim.theatre.Theatre`, the simulation's ``geo.theatre``)."""
    ends = np.array([theatre.day_of(t.date) + 1.0 for t in points])
    with np.errstate(invalid="ignore"):
        return (fall_time[:, None, :] < ends[None, :, None]).sum(axis=2).astype(float)


def observation_log_weights(fall_time: np.ndarray, points: tuple, theatre) -> np.ndarray:
    """(R,) log-likelihood of the recorded counts given each replicate's simulated counts."""
    points = tuple(t for t in points if t.weight > 0)
    if not points:
        return np.zeros(len(fall_time))
    obs = np.array([t.districts for t in points])
    sd = np.array([t.tolerance * t.districts for t in points])
    w = np.array([t.weight for t in points])
    z = (counts_at(fall_time, points, theatre) - obs) / sd
    return -0.5 * (w * z * z).sum(axis=1)


def check_replicates_per_draw(replicates_per_draw: int) -> None:
    """Conditioning resamples within a posterior draw: a draw needs several replicates to choose
    from (checked before any simulation, so a user's mistake costs nothing)."""
    if int(replicates_per_draw) < 2:
        from .errors import UserError
        raise UserError("conditioning resamples replicates within a posterior draw; use at "
                        "least 2 replicates per draw", argument="replicates_per_draw")


@dataclass(frozen=True)
class Conditioned:
    """The resampled replicate numbers, and how much information survived."""

    indices: np.ndarray           # (R,) replicate numbers, draw by draw
    effective_replicates: float   # Kish's effective sample size, summed over draws
    points: tuple[str, ...]       # ids of the counts conditioned on
    replicates_per_draw: int

    def to_dict(self) -> dict:
        return {"conditioned_on": list(self.points), "replicates_per_draw": self.replicates_per_draw,
                "effective_replicates": round(self.effective_replicates, 1),
                "replicates": int(len(self.indices)),
                "method": "importance resampling within each posterior draw (sim/conditioning.py)"}


def condition_on_counts(fall_time: np.ndarray, points: tuple,
                        replicates_per_draw: int, seed: int, theatre) -> Conditioned:
    """Resample the replicates of each posterior draw in proportion to how well their countryside
    matches the recorded counts. A trailing incomplete group is treated as its own draw."""
    R = len(fall_time)
    m = max(int(replicates_per_draw), 1)
    logw = observation_log_weights(fall_time, points, theatre)
    rng = np.random.default_rng([int(seed), 7])
    indices = np.empty(R, dtype=np.int64)
    ess = 0.0
    for start in range(0, R, m):
        stop = min(start + m, R)
        lw = logw[start:stop]
        w = np.exp(lw - lw.max())
        w /= w.sum()
        ess += 1.0 / float((w * w).sum())
        # systematic resampling: one uniform per draw, stop - start evenly spaced pointers
        u = (rng.random() + np.arange(stop - start)) / (stop - start)
        picks = np.searchsorted(np.cumsum(w), u, side="right")
        indices[start:stop] = start + np.minimum(picks, stop - start - 1)
    ids = tuple(t.id for t in points if t.weight > 0)
    return Conditioned(indices, ess, ids, m)
