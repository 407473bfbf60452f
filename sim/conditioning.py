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

    indices: np.ndarray           # replicate numbers, draw by draw (R, less any dropped draw's)
    effective_replicates: float   # Kish's effective sample size, summed over draws
    points: tuple[str, ...]       # ids of the counts (and known facts) conditioned on
    replicates_per_draw: int
    excluded_replicates: int = 0  # replicates that contradict a known fact (weight zero)
    dropped_draws: int = 0        # draws none of whose replicates is consistent with those facts

    def to_dict(self) -> dict:
        out = {"conditioned_on": list(self.points), "replicates_per_draw": self.replicates_per_draw,
               "effective_replicates": round(self.effective_replicates, 1),
               "replicates": int(len(self.indices)),
               "method": "importance resampling within each posterior draw (sim/conditioning.py)"}
        if self.excluded_replicates:
            out.update(excluded_replicates=self.excluded_replicates,
                       dropped_draws=self.dropped_draws)
        return out


def systematic_resample(weights: np.ndarray, u: float, n: int) -> np.ndarray:
    """n indices into ``weights`` (normalised, summing to 1) by systematic resampling: n evenly
    spaced pointers offset by one uniform ``u``, so each index is kept about n x weight times with
    the least resampling noise. Shared by the conditional predictive and the calibration's
    importance sampler (:func:`sim.calibration_sampler.run_importance`)."""
    pointers = (u + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), pointers, side="right"),
                      len(weights) - 1)


def contradicts_known_facts(fall_time: np.ndarray, assault_time: np.ndarray,
                            capital_rows: np.ndarray, constraints: tuple, theatre) -> np.ndarray:
    """(R,) True where a replicate contradicts what the record says had *not* happened by a date:
    a capital fallen before a ``no_capital_before`` date, or the assault on the cities begun before
    a ``no_assault_before`` date (read by their fields ``kind``, ``date``, ``weight``;
    :class:`sim.targets.Constraint`). A forecast knows both on the morning of its cut-off."""
    bad = np.zeros(len(fall_time), dtype=bool)
    for c in constraints:
        if c.weight <= 0:
            continue
        day = theatre.day_of(c.date)
        if c.kind == "no_capital_before":
            bad |= (fall_time[:, capital_rows] < day).any(axis=1)
        elif c.kind == "no_assault_before":
            bad |= assault_time < day
    return bad


def condition_on_counts(fall_time: np.ndarray, points: tuple,
                        replicates_per_draw: int, seed: int, theatre,
                        excluded: np.ndarray | None = None,
                        facts: tuple[str, ...] = ()) -> Conditioned:
    """Resample the replicates of each posterior draw in proportion to how well their countryside
    matches the recorded counts. A trailing incomplete group is treated as its own draw.

    ``excluded`` (R,) marks replicates that contradict a known fact (``facts``: their ids), e.g.
    :func:`contradicts_known_facts`: they get weight zero. A draw all of whose replicates are
    excluded is dropped (with more replicates per draw it would have kept a few: the facts are
    part of the calibration's likelihood, so every posterior draw can meet them); the count of
    dropped draws is reported, and is small when the posterior already respects the facts."""
    R = len(fall_time)
    m = max(int(replicates_per_draw), 1)
    logw = observation_log_weights(fall_time, points, theatre)
    if excluded is not None:
        logw = np.where(excluded, -np.inf, logw)
    rng = np.random.default_rng([int(seed), 7])
    kept: list[np.ndarray] = []
    ess = 0.0
    dropped = 0
    for start in range(0, R, m):
        stop = min(start + m, R)
        u = rng.random()             # drawn for every draw, so a dropped draw shifts no other's
        lw = logw[start:stop]
        if not np.isfinite(lw).any():
            dropped += 1
            continue
        w = np.exp(lw - lw.max())
        w /= w.sum()
        ess += 1.0 / float((w * w).sum())
        kept.append(start + systematic_resample(w, u, stop - start))
    if not kept:
        from .errors import UserError
        raise UserError("no replicate of the predictive is consistent with the facts known at "
                        f"the cut-off ({', '.join(facts)}); the calibration does not fit them",
                        argument="as_of")
    ids = tuple(t.id for t in points if t.weight > 0) + tuple(facts)
    return Conditioned(np.concatenate(kept).astype(np.int64), ess, ids, m,
                       int(excluded.sum()) if excluded is not None else 0, dropped)
