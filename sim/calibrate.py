"""Calibration: the posterior of the model's free parameters given the record, and forecasts.

Method (stated in the README, with its reasons):

1. **Simulated likelihood with common random numbers.** At every parameter value the same R
   replicates (same resistances) are simulated with the batch engine; the record's likelihood is
   computed from them (:mod:`sim.likelihood`). With the draws fixed, the likelihood is a smooth
   function of the parameters.
2. **MCMC with emcee** (affine-invariant ensemble sampler, Foreman-Mackey et al. 2013), in
   vectorised mode so each step evaluates half the walkers as one batch of replicates, spread
   over the local cores. emcee is small, well kept and needs no database, and its ensemble moves
   cope with the strong correlations between coefficients that the record cannot separate.
3. **Two modules, a cut between them** (Plummer 2015). The district counts inform the rural
   parameters (stage ``rural``, simulated with the assault on the cities switched off); the
   capitals' dates then inform the capital, trigger and Kabul parameters (stage ``capitals``),
   each of the stage's replicates carrying a fixed draw of the rural posterior. The capital dates are not allowed to pull the rural parameters: they carry
   little information about them and their misfit would otherwise leak into the district fit.
4. Walkers start from the final population of a differential-evolution search (scipy) seeded
   with a Latin-hypercube sample of the prior, so they begin in the best mode, not a poor one.

A run checkpoints every few steps (``<out>.checkpoint/``); ``resume`` continues from the last
checkpoint and gives the same posterior as an uninterrupted run with the same seed, because the
sampler's random state is saved with the walkers and the likelihood is deterministic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .batch import run_batch
from .conditioning import observation_log_weights
from .errors import UserError, arg
from .geography import Geography, load_geography
from .likelihood import Likelihood
from .model import Model
from .parameter_sets import ParallelSets, simulate_sets
from .parameters import BY_NAME, NAMES, ParameterTable
from .progress import progress_bar
from .randomness import Draws, draw_batch
from .scenario import Scenario, load_scenario
from .targets import Targets, load_targets

STAGES = ("rural", "capitals")
PRIOR_KINDS = ("uniform", "loguniform", "normal")


# ====================================================================== configuration

@dataclass(frozen=True)
class Prior:
    name: str
    kind: str
    lower: float
    upper: float
    mean: float = 0.0
    sd: float = 1.0
    why: str = ""

    # sampling happens in z: log(x) for log-uniform priors, x otherwise
    def to_z(self, x):
        return np.log(x) if self.kind == "loguniform" else np.asarray(x, dtype=float)

    def from_z(self, z):
        return np.exp(z) if self.kind == "loguniform" else np.asarray(z, dtype=float)

    @property
    def z_bounds(self) -> tuple[float, float]:
        return (float(self.to_z(self.lower)), float(self.to_z(self.upper)))

    def log_density_z(self, z) -> np.ndarray:
        lo, hi = self.z_bounds
        inside = (z >= lo) & (z <= hi)
        dens = np.zeros_like(z, dtype=float)
        if self.kind == "normal":
            dens = -0.5 * ((z - self.mean) / self.sd) ** 2
        return np.where(inside, dens, -np.inf)

    def from_unit(self, u):
        """Map uniform [0, 1] numbers to z through the prior (for the initial design)."""
        lo, hi = self.z_bounds
        if self.kind == "normal":
            from scipy.stats import truncnorm
            a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
            return truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd)
        return lo + u * (hi - lo)


@dataclass(frozen=True)
class StageConfig:
    name: str
    priors: tuple[Prior, ...]
    replicates: int
    #: Candidate countrysides per replicate when the stage conditions on the recorded counts
    #: (1: no conditioning; see :func:`conditioned_replicates`).
    candidates: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priors)


@dataclass(frozen=True)
class CalibrationConfig:
    path: Path
    name: str
    description: str
    scenario_path: Path
    targets_path: Path
    seed: int
    horizon: dt.date
    walkers: int
    steps: int
    burn_in: int
    thin: int
    checkpoint_every: int
    initial_design: int
    search_generations: int
    stages: tuple[StageConfig, ...]
    predictive_replicates: int
    digest: str

    @property
    def calibrated(self) -> tuple[str, ...]:
        return tuple(n for s in self.stages for n in s.names)


def _need(table, key, path, where, types, lo=None, hi=None):
    if key not in table:
        raise UserError("missing", file=path, key=f"{where}{key}")
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, types):
        expected = {str: "a string", int: "a whole number"}.get(types, "a number")
        raise UserError(f"expected {expected}, got {v!r}", file=path, key=f"{where}{key}")
    if lo is not None and not (lo <= v <= hi):
        raise UserError(f"value {v} out of range; allowed [{lo}, {hi}]", file=path, key=f"{where}{key}")
    return v


def _optional(table, key, default, path, where, types, lo=None, hi=None):
    """Like :func:`_need`, with a default when the key is absent."""
    return _need(table, key, path, where, types, lo, hi) if key in table else default


def _keys(table, allowed, path, where):
    for k in table:
        if k not in allowed:
            raise UserError(f"unknown key; allowed: {', '.join(sorted(allowed))}", file=path,
                            key=f"{where}{k}")


def load_config(path: str | Path) -> CalibrationConfig:
    """Read and validate a calibration config (``calibration/*.toml``)."""
    from .config_checks import read_config
    path = Path(path)
    data, raw = read_config(path)
    _keys(data, {"calibration", "sampler", "stages", "predictive"}, path, "")
    cal = data.get("calibration", {})
    _keys(cal, {"name", "description", "scenario", "targets", "seed", "horizon"}, path, "calibration.")
    sampler = data.get("sampler", {})
    _keys(sampler, {"walkers", "steps", "burn_in", "thin", "checkpoint_every", "initial_design",
                    "search_generations"}, path, "sampler.")
    pred = data.get("predictive", {})
    _keys(pred, {"replicates"}, path, "predictive.")
    horizon = cal.get("horizon", dt.date(2021, 8, 31))
    if not isinstance(horizon, dt.date) or not dt.date(2021, 5, 2) <= horizon <= dt.date(2021, 12, 31):
        raise UserError(f"expected a date between 2021-05-02 and 2021-12-31, got {horizon!r}",
                        file=path, key="calibration.horizon")
    stages_raw = data.get("stages", {})
    _keys(stages_raw, set(STAGES), path, "stages.")
    stages = []
    seen = set()
    for sname in STAGES:
        if sname not in stages_raw:
            continue
        st = stages_raw[sname]
        where = f"stages.{sname}."
        _keys(st, {"replicates", "parameters", "condition_on_counts"}, path, where)
        priors = []
        for k, pr in enumerate(st.get("parameters", [])):
            w = f"{where}parameters[{k}]."
            _keys(pr, {"name", "prior", "lower", "upper", "mean", "sd", "why"}, path, w)
            name = _need(pr, "name", path, w, str)
            if name not in BY_NAME:
                raise UserError(f"unknown parameter {name!r}; allowed: {', '.join(NAMES)}", file=path,
                                key=f"{w}name")
            if name in seen:
                raise UserError(f"parameter {name!r} is calibrated twice", file=path, key=f"{w}name")
            seen.add(name)
            kind = _need(pr, "prior", path, w, str)
            if kind not in PRIOR_KINDS:
                raise UserError(f"unknown prior {kind!r}; allowed: {', '.join(PRIOR_KINDS)}",
                                file=path, key=f"{w}prior")
            spec = BY_NAME[name]
            lo = float(_need(pr, "lower", path, w, (int, float), spec.lower, spec.upper))
            hi = float(_need(pr, "upper", path, w, (int, float), spec.lower, spec.upper))
            if not lo < hi:
                raise UserError(f"lower {lo} must be below upper {hi}", file=path, key=f"{w}upper")
            if kind == "loguniform" and lo <= 0:
                raise UserError("a log-uniform prior needs lower > 0", file=path, key=f"{w}lower")
            mean = float(_optional(pr, "mean", (lo + hi) / 2, path, w, (int, float), lo, hi))
            sd = float(_optional(pr, "sd", (hi - lo) / 4, path, w, (int, float), 1e-12, 1e12))
            why = _need(pr, "why", path, w, str)
            priors.append(Prior(name, kind, lo, hi, mean, sd, why))
        if not priors:
            raise UserError("a stage needs at least one parameter", file=path, key=f"{where}parameters")
        candidates = int(_optional(st, "condition_on_counts", 1, path, where, int, 1, 1000))
        if candidates > 1 and sname == "rural":
            raise UserError("the countryside's own stage fits the counts; it cannot also be "
                            "conditioned on them", file=path, key=f"{where}condition_on_counts")
        stages.append(StageConfig(sname, tuple(priors),
                                  int(_need(st, "replicates", path, where, int, 2, 100000)),
                                  candidates))
    if not stages:
        raise UserError(f"no stages; expected one or both of {', '.join(STAGES)}", file=path,
                        key="stages")
    walkers = _optional(sampler, "walkers", 24, path, "sampler.", int, 2, 10 ** 5)
    max_d = max(len(s.priors) for s in stages)
    if walkers < 2 * max_d or walkers % 2:
        raise UserError(f"walkers must be even and at least twice the largest stage's dimension "
                        f"({2 * max_d}), got {walkers}", file=path, key="sampler.walkers")
    steps = int(_need(sampler, "steps", path, "sampler.", int, 1, 10 ** 6))
    burn = _optional(sampler, "burn_in", steps // 3, path, "sampler.", int, 0, 10 ** 6)
    if not 0 <= burn < steps:
        raise UserError(f"burn_in must be in [0, steps), got {burn}", file=path, key="sampler.burn_in")
    base = path.parent
    return CalibrationConfig(
        path=path, name=str(_need(cal, "name", path, "calibration.", str)),
        description=str(cal.get("description", "")),
        scenario_path=base / _need(cal, "scenario", path, "calibration.", str),
        targets_path=base / _need(cal, "targets", path, "calibration.", str),
        seed=int(_need(cal, "seed", path, "calibration.", int, 0, 2 ** 63 - 1)), horizon=horizon,
        walkers=walkers, steps=steps, burn_in=burn,
        thin=_optional(sampler, "thin", 1, path, "sampler.", int, 1, 10 ** 6),
        checkpoint_every=_optional(sampler, "checkpoint_every", 25, path, "sampler.", int, 1, 10 ** 6),
        initial_design=max(walkers, _optional(sampler, "initial_design", 8 * walkers, path,
                                              "sampler.", int, 1, 10 ** 6)),
        search_generations=_optional(sampler, "search_generations", 20, path, "sampler.", int, 0,
                                     10 ** 4),
        stages=tuple(stages),
        predictive_replicates=_optional(pred, "replicates", 1000, path, "predictive.", int, 10,
                                        10 ** 6),
        digest=hashlib.sha256(raw).hexdigest())


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

    def evaluate(self, Z: np.ndarray) -> np.ndarray:
        """(S, 4) log-likelihood terms at S points (z-space)."""
        X = np.column_stack([p.from_z(Z[:, j]) for j, p in enumerate(self.priors)])
        res = simulate_sets(self.model, self.base, self.draws, self.columns, X)
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

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priors)

    def samples_z(self) -> np.ndarray:
        return self.chain[self.burn_in::self.thin].reshape(-1, self.chain.shape[2])

    def samples(self) -> np.ndarray:
        z = self.samples_z()
        return np.column_stack([p.from_z(z[:, j]) for j, p in enumerate(self.priors)])

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

    sampler = emcee.EnsembleSampler(W, d, evaluator.log_prob, vectorize=True)
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




# ====================================================================== the whole calibration

@dataclass
class CalibrationResult:
    config: CalibrationConfig
    targets: Targets
    scenario: Scenario
    stages: list[StageResult]
    posterior: np.ndarray            # (S, len(NAMES)) pre-scenario parameter rows
    calibrated: tuple[str, ...]
    seconds: float
    as_of: dt.date | None = None

    def posterior_source(self):
        from .ensemble import ParameterSource
        label = f"posterior of calibration '{self.config.name}'" + (
            f" as of {self.as_of}" if self.as_of else "")
        return ParameterSource.posterior(self.posterior, None, label)

    def posterior_rows(self) -> list[dict]:
        """One row per draw: the calibrated parameters, plus any parameter the calibration's
        scenario sets away from the table's default (so the file alone specifies the model)."""
        defaults = np.array([BY_NAME[n].default for n in NAMES])
        extra = [n for j, n in enumerate(NAMES) if n not in self.calibrated
                 and not np.allclose(self.posterior[:, j], defaults[j])]
        names = list(self.calibrated) + extra
        cols = [NAMES.index(n) for n in names]
        return [{"draw": k, **{n: float(self.posterior[k, c]) for n, c in zip(names, cols)},
                 "weight": 1.0} for k in range(len(self.posterior))]


def _model_for(scenario: Scenario, geo: Geography, horizon: dt.date) -> Model:
    return Model.build(geo, scenario.events, scenario.focus_regions, min(horizon, scenario.end))


def calibrate(config: CalibrationConfig | str | Path, *, out: Path | None = None,
              as_of: dt.date | None = None, resume: bool = False, workers: int = 1,
              progress: bool = False, geo: Geography | None = None) -> CalibrationResult:
    """Run a calibration (optionally with only the targets known before ``as_of``)."""
    if not isinstance(config, CalibrationConfig):
        config = load_config(config)
    geo = geo or load_geography()
    scenario = load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    if as_of is not None:
        targets = targets.as_of(as_of)
    started = time.perf_counter()
    run_key = hashlib.sha256("\n".join([
        config.digest, hashlib.sha256(Path(config.targets_path).read_bytes()).hexdigest(),
        scenario.hash, str(as_of)]).encode()).hexdigest()
    checkpoint_dir = None
    if out is not None:
        checkpoint_dir = Path(str(out) + ".checkpoint")
        if checkpoint_dir.exists() and not resume:
            raise UserError(f"a checkpoint of an interrupted calibration exists; pass "
                            f"{arg('resume', True)} to continue it, or delete the folder",
                            file=checkpoint_dir, argument="resume")
        checkpoint_dir.mkdir(parents=True, exist_ok=True)

    base_values = np.array([scenario.parameters()[n] for n in NAMES])
    stage_results: list[StageResult] = []
    rural_samples: np.ndarray | None = None
    rural_names: tuple[str, ...] = ()
    for k, stage in enumerate(config.stages):
        R = stage.replicates
        base = np.tile(base_values, (R, 1))
        if stage.name == "rural":
            # the rural module simulates the countryside alone: no assault on the cities, so a
            # capital trigger (whatever its parameters) cannot leak into the district counts
            base[:, NAMES.index("assault_rate")] = 0.0
        if rural_samples is not None:
            # the cut: each replicate carries one fixed draw of the previous stage's posterior
            pick = np.random.default_rng([config.seed, 31, k]).integers(len(rural_samples), size=R)
            for j, name in enumerate(rural_names):
                base[:, NAMES.index(name)] = rural_samples[pick, j]
        lik = Likelihood.build(_stage_targets(targets, stage.name), geo)
        horizon = _stage_horizon(stage.name, targets, config)
        replicates = range(R)
        if stage.candidates > 1 and targets.fitted_districts:
            replicates = conditioned_replicates(scenario, geo, base, config.seed, stage.candidates,
                                                targets.fitted_districts)
        problem = StageProblem(_model_for(scenario, geo, horizon), base,
                               draw_batch(config.seed, replicates, geo.n),
                               np.array([NAMES.index(n) for n in stage.names]), stage.priors, lik)
        evaluator = Evaluator(problem, workers)
        try:
            result = run_stage(evaluator, config, stage, config.seed + 101 * (k + 1),
                               checkpoint_dir / f"stage_{stage.name}.npz" if checkpoint_dir else None,
                               resume, progress, run_key)
        finally:
            evaluator.close()
        stage_results.append(result)
        rural_samples, rural_names = result.samples(), result.names

    posterior = _joint_posterior(base_values, stage_results, config.seed)
    res = CalibrationResult(config, targets, scenario, stage_results, posterior, config.calibrated,
                            time.perf_counter() - started, as_of)
    return res


def conditioned_replicates(scenario: Scenario, geo: Geography, base: np.ndarray, seed: int,
                           candidates: int, points) -> list[int]:
    """The replicate numbers a stage runs, each countryside chosen to match the recorded counts.

    The capitals' stage fits the cities given the countryside; an unconditioned replicate brings
    countrysides that did not happen (30 districts ahead of the record on 21 July), and with a
    share-driven decision their early assaults blur the cities' dates the stage is fitting. So for
    each replicate r (carrying its own stage-1 draw, ``base[r]``), ``candidates`` random streams
    (replicate numbers r, r + R, r + 2R, ...) are simulated as the countryside alone up to the last
    recorded count, and one is chosen with probability proportional to the likelihood of the
    recorded counts given its own (the calibration's observation model;
    :func:`sim.conditioning.observation_log_weights`). One choice per stage-1 draw: the draws keep
    their weights, so the counts condition the countryside's randomness and are not used a second
    time on the parameters. The chosen numbers are fixed for the whole stage (common random
    numbers), and stream r is candidate 0, so ``candidates = 1`` is the unconditioned stage.
    """
    R = len(base)
    numbers = np.arange(R)[:, None] + R * np.arange(candidates)[None, :]          # (R, m)
    last = max(t.date for t in points)
    rural = np.repeat(base, candidates, axis=0)
    rural[:, NAMES.index("assault_rate")] = 0.0
    res = run_batch(_model_for(scenario, geo, last + dt.timedelta(days=1)), ParameterTable(rural),
                    draw_batch(seed, numbers.ravel(), geo.n))
    logw = observation_log_weights(res.fall_time, points).reshape(R, candidates)
    rng = np.random.default_rng([int(seed), 43])
    chosen = []
    for r in range(R):
        w = np.exp(logw[r] - logw[r].max())
        chosen.append(int(numbers[r, rng.choice(candidates, p=w / w.sum())]))
    return chosen


def _stage_targets(targets: Targets, stage: str) -> Targets:
    if stage == "rural":
        return replace(targets, capitals=(), constraints=())
    return replace(targets, districts=(), facts=None)


def _stage_horizon(stage: str, targets: Targets, config: CalibrationConfig) -> dt.date:
    """Simulate no further than the stage's targets need."""
    if stage == "rural":
        dates = [t.date for t in targets.fitted_districts]
        if targets.facts is not None and targets.facts.weight > 0:
            dates.append(targets.facts.latest)
        return max(dates) if dates else dt.date(2021, 5, 2)
    dates = [c.latest for c in targets.capitals] + [c.date for c in targets.constraints]
    last = max(dates) if dates else config.horizon
    return min(config.horizon, last + dt.timedelta(days=7)) if targets.capitals else last


def _joint_posterior(base_values: np.ndarray, stages: Sequence[StageResult], seed: int) -> np.ndarray:
    """Rows of the joint posterior: each draw of the last stage paired with a random draw of each
    earlier stage (the cut posterior)."""
    last = stages[-1].samples()
    rows = np.tile(base_values, (len(last), 1))
    rng = np.random.default_rng([seed, 47])
    for k, st in enumerate(stages):
        s = st.samples()
        pick = np.arange(len(s)) if k == len(stages) - 1 else rng.integers(len(s), size=len(last))
        for j, name in enumerate(st.names):
            rows[:, NAMES.index(name)] = s[pick, j]
    return rows


def finish_checkpoints(out: Path) -> None:
    shutil.rmtree(Path(str(out) + ".checkpoint"), ignore_errors=True)


def summarise_stage(st: StageResult) -> dict:
    s = st.samples()
    tau = st.autocorr_time()
    corr = np.corrcoef(s.T) if s.shape[1] > 1 else np.ones((1, 1))
    return {
        "parameters": {n: {"q05": float(np.quantile(s[:, j], 0.05)), "q50": float(np.median(s[:, j])),
                           "q95": float(np.quantile(s[:, j], 0.95)),
                           "prior": [p.kind, p.lower, p.upper], "why": p.why,
                           "autocorr_steps": None if np.isnan(tau[j]) else float(tau[j])}
                       for j, (n, p) in enumerate(zip(st.names, st.priors))},
        "correlations": {f"{a}~{b}": float(corr[i, j]) for i, a in enumerate(st.names)
                         for j, b in enumerate(st.names) if j > i},
        "acceptance": st.acceptance,
        "steps": int(st.chain.shape[0]), "walkers": int(st.chain.shape[1]),
        "burn_in": st.burn_in, "thin": st.thin, "samples": int(len(s)),
        "seconds": round(st.seconds, 1), "likelihood_evaluations": st.evaluations,
        "max_log_posterior": float(np.max(st.log_prob)),
    }


def to_json(obj) -> str:
    return json.dumps(obj, indent=2, default=lambda o: o.isoformat() if hasattr(o, "isoformat")
                      else float(o) if isinstance(o, np.floating) else int(o)
                      if isinstance(o, np.integer) else str(o))
