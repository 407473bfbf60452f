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
    u_actor: np.ndarray     # U(0,1) for actors other than districts: [..., 0] sets the assault decision's threshold
    gumbel: np.ndarray       # Gumbel(0,1): keys of the weighted draw of the initial districts

    def row(self, i: int) -> "Draws":
        return Draws(self.resistance[i], self.u_mode[i], self.u_actor[i], self.gumbel[i])


def replicate_generator(seed: int, replicate: int, stream: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(int(seed), spawn_key=(int(replicate), int(stream)))))


def _open_uniforms(seed: int, replicate: int, count: int) -> np.ndarray:
    """``count`` uniforms in (0, 1) from the replicate's own PCG64 stream (the 53-bit doubles of
    numpy's Generator.random, shifted by half a step so that neither 0 nor 1 occurs)."""
    bits = np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(int(replicate), 0)))
    raw = bits.random_raw(count)
    return ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def _draws_from_uniforms(u: np.ndarray, n: int) -> Draws:
    """Inverse-CDF transforms: Exp(1) = -log U, Gumbel = -log(-log U)."""
    return Draws(resistance=-np.log(u[..., :n]), u_mode=u[..., n:2 * n].copy(),
                 u_actor=u[..., 2 * n:3 * n].copy(), gumbel=-np.log(-np.log(u[..., 3 * n:])))


def draw_replicate(seed: int, replicate: int, n: int) -> Draws:
    return _draws_from_uniforms(_open_uniforms(seed, replicate, 4 * n), n)


def draw_batch(seed: int, replicates, n: int) -> Draws:
    """Draws for the given replicate numbers, stacked: identical to drawing them one by one."""
    replicates = list(replicates)
    u = np.empty((len(replicates), 4 * n))
    for k, rep in enumerate(replicates):
        u[k] = _open_uniforms(seed, rep, 4 * n)
    return _draws_from_uniforms(u, n)


def initial_fallen(log_weights: np.ndarray, gumbel: np.ndarray, k) -> np.ndarray:
    """Weighted draw without replacement of ``k`` districts (Gumbel top-k), as a boolean mask.

    Works row-wise on ``(R, n)`` inputs; ``k`` may differ per row.
    """
    keys = log_weights + gumbel
    keys = np.where(np.isfinite(log_weights), keys, -np.inf)
    k = np.asarray(k)
    if k.ndim and np.all(k == k.flat[0]):
        k = k.flat[0]
    if k.ndim == 0:
        # the same k everywhere: a partial sort finds the k largest keys (keys are continuous,
        # so there are no ties to break)
        k = int(k)
        out = np.zeros(keys.shape, dtype=bool)
        if k > 0:
            top = np.argpartition(-keys, k - 1, axis=-1)[..., :k]
            np.put_along_axis(out, top, True, axis=-1)
        return out
    order = np.argsort(-keys, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(keys.shape[-1]) * np.ones_like(order), axis=-1)
    return ranks < k.reshape(k.shape[0], *([1] * (ranks.ndim - 1)))
