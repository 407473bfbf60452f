"""Where randomness enters: one generator per replicate, derived from the run's seed.

Replicate ``k`` of a run with seed ``s`` draws from ``SeedSequence(s, spawn_key=(k, 0))``, so its
numbers depend on ``(s, k)`` only: not on how many workers share the run, not on chunk sizes,
and not on the scenario. That last point is the *common random numbers* design of
``model.md`` section 4: each district draws its resistance once per replicate, so two scenarios
run with the same seed differ only by policy and their comparison is paired.

A second stream, ``spawn_key=(k, 1)``, picks the replicate's parameter draw from a posterior, so
that running with fixed parameters or with posterior draws leaves the resistances unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Draws:
    """The random inputs of one replicate (``(n,)``) or of a batch (``(R, n)``)."""

    resistance: np.ndarray   # Exp(1): a district falls when its cumulative hazard reaches it
    u_mode: np.ndarray       # U(0,1): negotiated if below the negotiated probability
    u_collapse: np.ndarray   # U(0,1): surrenders with Kabul if below the collapse probability
    gumbel: np.ndarray       # Gumbel(0,1): keys of the weighted draw of the initial districts

    def row(self, i: int) -> "Draws":
        return Draws(self.resistance[i], self.u_mode[i], self.u_collapse[i], self.gumbel[i])


def replicate_generator(seed: int, replicate: int, stream: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(int(seed), spawn_key=(int(replicate), int(stream)))))


def draw_replicate(seed: int, replicate: int, n: int) -> Draws:
    rng = replicate_generator(seed, replicate, 0)
    return Draws(resistance=rng.standard_exponential(n), u_mode=rng.random(n),
                 u_collapse=rng.random(n), gumbel=rng.gumbel(size=n))


def draw_batch(seed: int, replicates, n: int) -> Draws:
    """Draws for the given replicate numbers, stacked: identical to drawing them one by one."""
    replicates = list(replicates)
    out = np.empty((4, len(replicates), n))
    for k, rep in enumerate(replicates):
        rng = replicate_generator(seed, rep, 0)
        out[0, k] = rng.standard_exponential(n)
        out[1, k] = rng.random(n)
        out[2, k] = rng.random(n)
        out[3, k] = rng.gumbel(size=n)
    return Draws(out[0], out[1], out[2], out[3])


def initial_fallen(log_weights: np.ndarray, gumbel: np.ndarray, k) -> np.ndarray:
    """Weighted draw without replacement of ``k`` districts (Gumbel top-k), as a boolean mask.

    Works row-wise on ``(R, n)`` inputs; ``k`` may differ per row.
    """
    keys = log_weights + gumbel
    keys = np.where(np.isfinite(log_weights), keys, -np.inf)
    order = np.argsort(-keys, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(keys.shape[-1]) * np.ones_like(order), axis=-1)
    k = np.asarray(k)
    if k.ndim:
        k = k.reshape(k.shape[0], *([1] * (ranks.ndim - 1)))
    return ranks < k
