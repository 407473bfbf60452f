"""The sampler of one calibration stage: the vectorised log-posterior of its parameters
(:class:`StageProblem`, evaluated on worker processes by :class:`Evaluator`), the mode search
that starts the walkers, the emcee run with its checkpoints (:func:`run_stage`) and the summary of
its samples. :mod:`sim.calibrate` chains the stages (the method is described there)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .calibration_config import CalibrationConfig, Prior, StageConfig
from .conditioning import systematic_resample
from .errors import UserError, arg
from .likelihood import Likelihood
from .model import Model
from .parameter_sets import ParallelSets, simulate_sets
from .progress import progress_bar
from .randomness import Draws

# ====================================================================== evaluating a stage

@dataclass(eq=False)
class StageProblem:
    """Log-posterior of one stage's free parameters, vectorised over parameter values."""

    model: Model
    base: np.ndarray             # (R, len(NAMES)) parameters of the R replicates, free ones aside
    draws: Draws                 # the R replicates' random numbers, fixed across evaluations
    columns: np.ndarray          # columns of the free parameters
    priors: tuple[Prior, ...]
    likelihood: Likelihood

    @property
    def replicates(self) -> int:
        return self.base.shape[0]

    def log_prior(self, Z: np.ndarray) -> np.ndarray:
        return sum(p.log_density_z(Z[:, j]) for j, p in enumerate(self.priors))

    def __getstate__(self) -> dict:
        # each worker process simulates its own prologue rather than receive one
        return {k: v for k, v in self.__dict__.items() if k != "_prologue"}

    def prologue(self):
        """The replicates' countryside before the decision, simulated once, when every parameter
        this stage varies acts only from the decision on (:mod:`sim.prologue`); else None."""
        if "_prologue" not in self.__dict__:
            from . import prologue
            self._prologue = (prologue.Prologue.simulate(self.model, self.base, self.draws)
                              if prologue.applies(self.columns) else None)
        return self._prologue

    def evaluate(self, Z: np.ndarray) -> np.ndarray:
        """(S, 4) log-likelihood terms at S points (z-space)."""
        X = np.column_stack([p.from_z(Z[:, j]) for j, p in enumerate(self.priors)])
        # what is read is final once every capital it reads has fallen (the first alone, as of a
        # cut-off) and the last counted day has ended (a district fact may be read at any time:
        # then the whole run)
        lik = self.likelihood
        stop = (lik.capitals_read or len(self.model.geo.capital_rows)) if lik.n_facts == 0 else None
        res = simulate_sets(self.model, self.base, self.draws, self.columns, X, self.prologue(),
                            stop_after_capitals=stop,
                            stop_after_day=lik.counts_read_until if stop is not None else None)
        counts, caps, facts = self.likelihood.features(res.fall_time, res.assault_time)
        S, R = Z.shape[0], self.replicates
        counts, caps = counts.reshape(S, R, -1), caps.reshape(S, R, -1)
        facts = facts.reshape(S, R, -1)
        # One point at a time, on arrays of one fixed shape: numpy's reductions over the
        # replicates take another order when several points share a batch, and the points a
        # batch holds depend on --workers (differences of ~3e-14 the sampler accepted on).
        return np.concatenate([
            self.likelihood.components(np.ascontiguousarray(counts[s:s + 1]),
                                       np.ascontiguousarray(caps[s:s + 1]),
                                       np.ascontiguousarray(facts[s:s + 1])) for s in range(S)])


class Evaluator(ParallelSets):
    """A stage's log-posterior: prior plus the simulated likelihood, evaluated in parallel."""

    def log_prob(self, Z: np.ndarray) -> np.ndarray:
        Z = np.atleast_2d(Z)
        lp = self.problem.log_prior(Z)
        out = np.full(len(Z), -np.inf)
        ok = np.isfinite(lp)
        if ok.any():
            terms = self.evaluate(Z[ok])
            out[ok] = [math.fsum((p, *t)) for p, t in zip(lp[ok], terms)]   # a fixed order
        return out


# ====================================================================== sampling, with checkpoints

@dataclass
class StageResult:
    name: str
    priors: tuple[Prior, ...]
    chain: np.ndarray            # (steps, walkers, d) in z-space
    log_prob: np.ndarray         # (steps, walkers)
    acceptance: float
    seconds: float
    evaluations: int
    burn_in: int
    thin: int
    #: why this sampler was used, when it was not the one asked for (a fallback), else ""
    note: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priors)

    def samples_z(self) -> np.ndarray:
        return self.chain[self.burn_in::self.thin].reshape(-1, self.chain.shape[2])

    def samples(self) -> np.ndarray:
        z = self.samples_z()
        return np.column_stack([p.from_z(z[:, j]) for j, p in enumerate(self.priors)])

    def rhat(self) -> np.ndarray:
        return walker_rhat(self.chain[self.burn_in:])

    def autocorr_time(self) -> np.ndarray:
        import emcee
        import logging
        import warnings
        kept = self.chain[self.burn_in:]
        logger = logging.getLogger("emcee.autocorr")
        level = logger.level
        logger.setLevel(logging.ERROR)      # its "chain too short" advice is reported, not printed
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return emcee.autocorr.integrated_time(kept, quiet=True)
        except Exception:    # too short a chain for an estimate
            return np.full(self.chain.shape[2], np.nan)
        finally:
            logger.setLevel(level)


def _state_arrays(random_state) -> dict:
    name, keys, pos, has_gauss, cached = random_state
    return {"rs_keys": np.asarray(keys), "rs_pos": np.int64(pos), "rs_has_gauss": np.int64(has_gauss),
            "rs_cached": np.float64(cached)}


def _random_state(npz) -> tuple:
    return ("MT19937", npz["rs_keys"], int(npz["rs_pos"]), int(npz["rs_has_gauss"]),
            float(npz["rs_cached"]))


def run_stage(evaluator: Evaluator, config: CalibrationConfig, stage: StageConfig, seed: int,
              checkpoint: Path | None, resume: bool, progress: bool,
              run_key: str) -> StageResult:
    """One stage's MCMC; ``run_key`` identifies the run (config, targets, scenario, cut-off) in
    its checkpoint, so that ``resume`` never continues another run's chains."""
    import emcee

    d, W = len(stage.priors), config.walkers
    started = time.perf_counter()
    chain: list[np.ndarray] = []
    lps: list[np.ndarray] = []
    accepted = np.zeros(W)
    done = 0
    state = None
    if checkpoint is not None and resume and checkpoint.is_file():
        with np.load(checkpoint, allow_pickle=False) as ck:
            if str(ck["digest"]) != run_key + stage.name:
                raise UserError("the checkpoint belongs to a different run (configuration, "
                                "targets, scenario or cut-off date differ); remove it or drop "
                                f"{arg('resume', True)}", file=checkpoint, argument="resume")
            chain, lps = list(ck["chain"]), list(ck["log_prob"])
            accepted = ck["accepted"].copy()
            done = len(chain)
            state = emcee.State(ck["coords"], log_prob=ck["last_log_prob"],
                                random_state=_random_state(ck))
    if state is None:
        Z0, lp0 = find_mode(evaluator, config, stage, seed, progress)
        best = np.argsort(-np.where(np.isfinite(lp0), lp0, -np.inf), kind="stable")[:W]
        rs = np.random.RandomState(np.random.default_rng([seed, 23]).integers(2 ** 32))
        state = emcee.State(Z0[best], log_prob=lp0[best], random_state=rs.get_state())

    sampler = emcee.EnsembleSampler(W, d, evaluator.log_prob, vectorize=True,
                                    moves=ensemble_moves(config.moves))
    remaining = config.steps - done
    bar = progress_bar(config.steps, f"{stage.name}: MCMC", progress, unit="step", initial=done)
    last = state.coords.copy()
    for state in sampler.sample(state, iterations=remaining, store=False):
        accepted += np.any(state.coords != last, axis=1)
        last = state.coords.copy()
        chain.append(state.coords.copy())
        lps.append(state.log_prob.copy())
        done += 1
        bar.update(1)
        if checkpoint is not None and (done % config.checkpoint_every == 0 or done == config.steps):
            _save_checkpoint(checkpoint, run_key + stage.name, chain, lps, accepted, state)
    bar.close()
    return StageResult(stage.name, stage.priors, np.array(chain), np.array(lps),
                       float(accepted.mean() / max(done, 1)), time.perf_counter() - started,
                       evaluator.calls, config.burn_in, config.thin)


def ensemble_moves(name: str):
    """emcee's proposal moves for ``[sampler] moves`` (None: emcee's default, the stretch move).

    The stretch move crosses this posterior slowly: on the default of 7 December 2026 a walker's
    position 100 steps apart was still correlated at 0.8 and the split R-hat across walkers was
    3.5, while emcee's differential-evolution moves (Ter Braak 2006; the snooker update, Ter
    Braak and Vrugt 2008), at the same cost, brought them to 0.4 and 2.1 on the countryside's
    stage (README, "Why calibration seeds disagree")."""
    import emcee
    if name == "differential":
        return [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)]
    return None


def walker_rhat(chain: np.ndarray) -> np.ndarray:
    """Split R-hat of each parameter with every walker's kept chain as a chain (Gelman et al.,
    Bayesian Data Analysis, 3rd ed., section 11.4): the square root of the pooled variance over
    the mean within-chain variance. Near 1 when the walkers have mixed; well above 1.1 when each
    walker still sits in its own part of the posterior, which makes the samples narrower than
    the posterior and dependent on the seed. emcee's integrated autocorrelation time, which
    centres each walker on its own mean, cannot see that. chain: (steps, walkers, d)."""
    n = chain.shape[0] // 2
    if n < 2:
        return np.full(chain.shape[2], np.nan)
    halves = np.concatenate([chain[:n], chain[n:2 * n]], axis=1)       # (n, 2W, d)
    return _gelman_rubin(halves)


def _gelman_rubin(draws: np.ndarray) -> np.ndarray:
    """The potential scale reduction of draws shaped (n draws, m chains, ...): the square root of
    the pooled variance over the mean within-chain variance (NaN where that is 0)."""
    n = draws.shape[0]
    within = draws.var(axis=0, ddof=1).mean(axis=0)
    between = n * draws.mean(axis=0).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(((n - 1) / n * within + between / n) / within)


def _normal_scores(x: np.ndarray) -> np.ndarray:
    from scipy.stats import norm, rankdata
    ranks = rankdata(x, method="average").reshape(x.shape)
    return norm.ppf((ranks - 3 / 8) / (x.size + 1 / 4))


def runs_rhat(runs: np.ndarray) -> float:
    """R-hat of one parameter across whole calibration runs (one row per run, e.g. per seed): the
    rank-normalised R-hat of Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021, Bayesian
    Analysis 16(2), 667-718), the larger of the bulk's (the draws' normal scores) and the tails'
    (the scores of their distance from the median). Each run's posterior is read as one chain.
    One departure from the paper: the tails are folded about the median of the normal scores,
    not of the raw draws, so the whole diagnostic, not only its bulk, reads a rate with a
    log-uniform prior as its log (folded on the raw scale, a rate spanning four decades would
    be judged on its upper decade alone).

    Why beside :func:`walker_rhat`: that one asks whether one run's walkers mixed; this one
    asks whether separate runs found the same posterior, which is what a user relying on one run
    needs. Ranks make it invariant to any increasing reparametrisation and robust to the heavy
    tails of rates spanning decades. runs: (m, n), m >= 2 runs of n draws each; NaN if every
    draw is equal."""
    runs = np.asarray(runs, dtype=float)
    if runs.ndim != 2 or runs.shape[0] < 2 or runs.shape[1] < 2:
        raise ValueError(f"runs_rhat expects (runs >= 2, draws >= 2), got shape {runs.shape}")
    if np.ptp(runs) == 0:
        return np.nan
    scores = _normal_scores(runs)
    bulk = _gelman_rubin(scores.T)
    tails = _gelman_rubin(_normal_scores(np.abs(scores - np.median(scores))).T)
    return float(max(bulk, tails))


@dataclass
class ImportanceResult(StageResult):
    """A stage sampled by importance sampling from its prior: ``chain`` holds the resampled
    draws as one walker (shape (draws, 1, d)), so every reader of a stage's samples reads it as it
    reads an MCMC's; the weights' effective sample size says how far the record moved the prior."""

    prior_draws: int = 0
    effective_sample_size: float = 0.0

    def autocorr_time(self) -> np.ndarray:       # independent draws: no autocorrelation
        return np.ones(self.chain.shape[2])

    def rhat(self) -> np.ndarray:                # one set of independent draws: nothing to mix
        return np.full(self.chain.shape[2], np.nan)


def run_importance(evaluator: Evaluator, stage: StageConfig, prior_draws: int, samples: int,
                   seed: int, progress: bool) -> ImportanceResult:
    """A stage's posterior by importance sampling from its prior (weights: the simulated
    likelihood), resampled to ``samples`` draws.

    Made for a forecast's cities stage: before the first capital falls the record tells the
    cities only "none yet", so the posterior is the prior with its early-assault corner cut away.
    An ensemble MCMC crosses such a wide, nearly flat posterior slowly (its autocorrelation time
    grows with the chain, and forecasts moved by ~0.1 in probability between seeds); independent
    prior draws cover it at once, and their weights' effective sample size measures how well.
    Each point is evaluated on its own (:meth:`StageProblem.evaluate`), so the weights and the
    resampled draws do not depend on the number of workers.
    """
    started = time.perf_counter()
    d = len(stage.priors)
    u = np.random.default_rng([seed, 61]).random((prior_draws, d))
    Z = np.column_stack([p.from_unit(u[:, j]) for j, p in enumerate(stage.priors)])
    log_prior = evaluator.problem.log_prior(Z)
    log_lik = np.full(prior_draws, -np.inf)
    batch = 256
    bar = progress_bar(prior_draws, f"{stage.name}: importance sampling", progress, unit="draw")
    for a in range(0, prior_draws, batch):
        terms = evaluator.evaluate(Z[a:a + batch])
        log_lik[a:a + batch] = [math.fsum(t) for t in terms]
        bar.update(len(terms))
    bar.close()
    if not np.isfinite(log_lik).any():
        raise UserError(f"no draw of the {stage.name} stage's prior can produce the record "
                        "(every likelihood is zero); widen its priors", argument="stages")
    w = np.exp(log_lik - log_lik[np.isfinite(log_lik)].max())
    w /= w.sum()
    ess = float(1.0 / np.sum(w ** 2))
    rng = np.random.default_rng([seed, 67])
    pick = rng.permutation(systematic_resample(w, rng.random(), samples))
    return ImportanceResult(stage.name, stage.priors, Z[pick][:, None, :],
                            (log_prior + log_lik)[pick][:, None], float(len(np.unique(pick)) / samples),
                            time.perf_counter() - started, evaluator.calls, 0, 1,
                            prior_draws=prior_draws, effective_sample_size=ess)


def find_mode(evaluator: Evaluator, config: CalibrationConfig, stage: StageConfig, seed: int,
              progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Starting points for the walkers: a Latin-hypercube sample of the prior, then differential
    evolution (scipy, vectorised) from it; returns the final population and its log-posterior.

    The posterior can have a broad, poor mode (every capital falling at once) beside the good
    one; a global search before the MCMC keeps the walkers from starting, and staying, there.
    """
    from scipy.optimize import differential_evolution
    from scipy.stats import qmc

    d = len(stage.priors)
    bounds = [p.z_bounds for p in stage.priors]
    design = qmc.LatinHypercube(d=d, seed=np.random.default_rng([seed, 17])).random(
        config.initial_design)
    init = np.column_stack([p.from_unit(design[:, j]) for j, p in enumerate(stage.priors)])
    init = np.clip(init, [b[0] for b in bounds], [b[1] for b in bounds])
    bar = progress_bar(config.search_generations + 1, f"{stage.name}: mode search", progress,
                       unit="generation")

    def negative(zt: np.ndarray) -> np.ndarray:
        lp = evaluator.log_prob(np.atleast_2d(zt.T))
        return np.where(np.isfinite(lp), -lp, 1e300)

    res = differential_evolution(negative, bounds, init=init, maxiter=config.search_generations,
                                 seed=np.random.default_rng([seed, 19]), polish=False,
                                 vectorized=True, updating="deferred", tol=1e-6,
                                 callback=lambda *a, **k: bar.update(1))
    bar.close()
    return res.population, -res.population_energies


def _save_checkpoint(path: Path, key: str, chain, lps, accepted, state) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, digest=np.array(key), chain=np.array(chain),
             log_prob=np.array(lps), accepted=accepted, coords=state.coords,
             last_log_prob=state.log_prob, **_state_arrays(state.random_state))
    os.replace(tmp, path)


def summarise_stage(st: StageResult) -> dict:
    s = st.samples()
    tau, rhat = st.autocorr_time(), st.rhat()
    corr = np.corrcoef(s.T) if s.shape[1] > 1 else np.ones((1, 1))
    return {
        "parameters": {n: {"q05": float(np.quantile(s[:, j], 0.05)), "q50": float(np.median(s[:, j])),
                           "q95": float(np.quantile(s[:, j], 0.95)),
                           "prior": [p.kind, p.lower, p.upper], "why": p.why,
                           "autocorr_steps": None if np.isnan(tau[j]) else float(tau[j]),
                           "rhat_walkers": None if np.isnan(rhat[j]) else round(float(rhat[j]), 3)}
                       for j, (n, p) in enumerate(zip(st.names, st.priors))},
        "correlations": {f"{a}~{b}": float(corr[i, j]) for i, a in enumerate(st.names)
                         for j, b in enumerate(st.names) if j > i},
        "acceptance": st.acceptance,
        "steps": int(st.chain.shape[0]), "walkers": int(st.chain.shape[1]),
        "burn_in": st.burn_in, "thin": st.thin, "samples": int(len(s)),
        "seconds": round(st.seconds, 1), "likelihood_evaluations": st.evaluations,
        "max_log_posterior": float(np.max(st.log_prob)),
        # above ~1.1 the walkers have not mixed: the samples are narrower than the posterior and
        # depend on the seed (walker_rhat); emcee's autocorr_steps above cannot see it
        **({"rhat_walkers_median": round(float(np.median(rhat)), 3),
            "rhat_walkers_max": round(float(np.max(rhat)), 3)} if np.isfinite(rhat).all() else {}),
        **({"note": st.note} if st.note else {}),
        **({"method": "importance sampling from the prior, resampled (sim/calibration_sampler.py, "
                      "run_importance); acceptance = share of distinct draws",
            "prior_draws": st.prior_draws,
            "effective_sample_size": round(st.effective_sample_size, 1)}
           if isinstance(st, ImportanceResult) else {"method": "emcee ensemble MCMC"}),
    }
