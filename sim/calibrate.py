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
5. In a forecast, a stage with ``forecast_prior_draws`` (the cities', which before the first
   capital falls knows only "none yet") is sampled by importance sampling from its prior instead
   (:func:`sim.calibration_sampler.run_importance`), falling back to the MCMC when the weights'
   effective sample size is below a quarter of the draws kept.

A run checkpoints every few steps (``<out>.checkpoint/``); ``resume`` continues from the last
checkpoint and gives the same posterior as an uninterrupted run with the same seed, because the
sampler's random state is saved with the walkers and the likelihood is deterministic.

Split by concern: :mod:`sim.calibration_config` reads and checks the TOML configuration,
:mod:`sim.calibration_sampler` samples one stage, this module chains the stages into the joint
(cut) posterior, and :mod:`sim.calibration_output` writes the report, figures and forecasts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .batch import run_batch
# the configuration and the sampler live in their own modules; their names stay importable here
from .calibration_config import (PRIOR_KINDS, STAGES, CalibrationConfig, Prior,  # noqa: F401
                                 StageConfig, lift_draws, load_config, posterior_draws,
                                 stage_sampler)
from .calibration_sampler import (Evaluator, StageProblem, StageResult,  # noqa: F401
                                  _save_checkpoint, find_mode, run_importance, run_stage,
                                  summarise_stage)
from .conditioning import observation_log_weights
from .cut_lift import LiftedCut, StartLikelihood, lift_cut
from .errors import UserError, arg
from .geography import Geography, load_geography
from .likelihood import Likelihood
from .model import Model
from .parameters import BY_NAME, NAMES, ParameterTable
from .randomness import draw_batch
from .scenario import Scenario, load_scenario
from .targets import Targets, load_targets


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
    geo: Geography | None = None     # the theatre's geography it ran on (None: the shipped one)
    lifted: "LiftedCut | None" = None  # the start's feedback on the countryside (sim.cut_lift)

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
    geo = geo or load_geography()
    if not isinstance(config, CalibrationConfig):
        config = load_config(config, geo.theatre)
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
    lifted = None
    rural_samples: np.ndarray | None = None
    rural_names: tuple[str, ...] = ()
    for k, stage in enumerate(config.stages):
        R = stage.replicates
        base = np.tile(base_values, (R, 1))
        if rural_samples is not None:
            # the cut: each replicate carries one fixed draw of the previous stage's posterior
            pick = np.random.default_rng([config.seed, 31, k]).integers(len(rural_samples), size=R)
            for j, name in enumerate(rural_names):
                base[:, NAMES.index(name)] = rural_samples[pick, j]
        replicates = range(R)
        recorded = targets.for_stage("rural").fitted_districts
        if stage.candidates > 1 and recorded:
            replicates = conditioned_replicates(scenario, geo, base, config.seed, stage.candidates,
                                                recorded)
        problem = stage_problem(config, stage, scenario, targets, geo, base,
                                draw_batch(config.seed, replicates, geo.n))
        evaluator = Evaluator(problem, workers)
        settings = stage_sampler(config, stage, as_of is not None)
        seed = config.seed + 101 * (k + 1)
        try:
            result, note = None, ""
            if as_of is not None and stage.forecast_prior_draws:
                result = run_importance(evaluator, stage, stage.forecast_prior_draws,
                                        posterior_draws(settings), seed, progress)
                least = posterior_draws(settings) / 4
                if result.effective_sample_size < least:
                    note = (f"importance sampling from the prior ({stage.forecast_prior_draws} "
                            f"draws) gave an effective sample size of "
                            f"{result.effective_sample_size:.0f} < {least:.0f}: the record moved "
                            "this stage too far from its prior, so the MCMC ran instead")
                    result = None
            if result is None:
                result = run_stage(evaluator, settings, stage, seed,
                                   checkpoint_dir / f"stage_{stage.name}.npz" if checkpoint_dir else None,
                                   resume, progress, run_key)
                result.note = note
        finally:
            evaluator.close()
        stage_results.append(result)
        if stage.lift_cut is not None:
            lifted = _lift(problem, rural_samples, rural_names, result,
                           lift_draws(stage, as_of is not None), stage.lift_replicates,
                           config.seed, workers, progress)
        rural_samples, rural_names = result.samples(), result.names

    posterior = _joint_posterior(base_values, stage_results, config.seed, lifted)
    res = CalibrationResult(config, targets, scenario, stage_results, posterior, config.calibrated,
                            time.perf_counter() - started, as_of, geo, lifted)
    return res


def stage_problem(config: CalibrationConfig, stage: StageConfig, scenario: Scenario,
                  targets: Targets, geo: Geography, base: np.ndarray, draws) -> StageProblem:
    """The log-posterior of one stage on given replicates (``base``: their parameters, ``draws``:
    their random numbers); :func:`calibrate` builds each stage with it, and a diagnostic can
    evaluate a stage's likelihood on other random numbers (``calibration/likelihood_noise.py``).
    The countryside's stage runs with the assault switched off, whatever ``base`` says."""
    if stage.name == "rural":
        # the rural module simulates the countryside alone: no assault on the cities, so a
        # capital trigger (whatever its parameters) cannot leak into the district counts
        base = base.copy()
        base[:, NAMES.index("assault_rate")] = 0.0
    model = _model_for(scenario, geo, _stage_horizon(stage.name, targets, config))
    # the likelihood knows where the stage's runs end: a precedent (A35) is read only on the
    # assaults that began early enough to be seen through
    lik = replace(Likelihood.build(targets.for_stage(stage.name), geo),
                  horizon=float(model.horizon))
    return StageProblem(model, base, draws, np.array([NAMES.index(n) for n in stage.names]),
                        stage.priors, lik)


def _lift(problem: StageProblem, rural_samples: np.ndarray, rural_names: tuple[str, ...],
          result: StageResult, draws: tuple[int, int], replicates: int | None, seed: int,
          workers: int, progress: bool) -> LiftedCut:
    """The previous stage's draws reweighted by the record's start given this stage's
    (:mod:`sim.cut_lift`), on this stage's model and likelihood and on its first ``replicates``
    replicates (None: all of them)."""
    countryside_draws, city_draws = draws
    city = result.samples()
    rng = np.random.default_rng([seed, 53])
    pool = rng.choice(len(city), city_draws, replace=city_draws > len(city))
    kept = slice(None, replicates)
    start = StartLikelihood(problem.model, problem.base[kept], problem.draws.row(kept),
                            np.array([NAMES.index(n) for n in rural_names]), problem.columns,
                            city[pool], problem.likelihood)
    return lift_cut(start, rural_samples, pool, len(city), countryside_draws, [seed, 59],
                    workers, progress)


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
    logw = observation_log_weights(res.fall_time, points, geo.theatre).reshape(R, candidates)
    rng = np.random.default_rng([int(seed), 43])
    chosen = []
    for r in range(R):
        w = np.exp(logw[r] - logw[r].max())
        chosen.append(int(numbers[r, rng.choice(candidates, p=w / w.sum())]))
    return chosen


def _stage_horizon(stage: str, targets: Targets, config: CalibrationConfig) -> dt.date:
    """Simulate no further than the stage's targets need."""
    targets = targets.for_stage(stage)
    if stage == "rural":
        dates = [t.date for t in targets.fitted_districts + targets.fitted_ranges]
        if targets.facts is not None and targets.facts.weight > 0:
            dates.append(targets.facts.latest)
        return max(dates) if dates else targets.theatre.start + dt.timedelta(days=1)
    dates = ([c.latest for c in targets.capitals] + [c.date for c in targets.constraints]
             + [t.date for t in targets.fitted_districts + targets.fitted_ranges])
    last = max(dates) if dates else config.horizon
    if not targets.capitals and any(c.kind == "first_capital_within" and c.weight > 0
                                    for c in targets.constraints):
        # a forecast's cities stage: the precedent (A35) needs the assault and its first fall,
        # which come after the cut-off, so the runs go on to the calibration's horizon
        return max(last, config.horizon)
    return min(config.horizon, last + dt.timedelta(days=7)) if targets.capitals else last


def _joint_posterior(base_values: np.ndarray, stages: Sequence[StageResult], seed: int,
                     lifted: LiftedCut | None = None) -> np.ndarray:
    """Rows of the joint posterior: each draw of the last stage paired with a random draw of each
    earlier stage (the cut posterior), or, when the cut is lifted for the start, the pairs
    :mod:`sim.cut_lift` drew."""
    last = stages[-1].samples()
    rows = np.tile(base_values, (len(last), 1))
    rng = np.random.default_rng([seed, 47])
    for k, st in enumerate(stages):
        s = st.samples()
        if lifted is not None:          # two stages: the config allows a lift only after another
            pick = lifted.city if k == 1 else lifted.countryside
        else:
            pick = np.arange(len(s)) if k == len(stages) - 1 else rng.integers(len(s), size=len(last))
        for j, name in enumerate(st.names):
            rows[:, NAMES.index(name)] = s[pick, j]
    return rows


def finish_checkpoints(out: Path) -> None:
    shutil.rmtree(Path(str(out) + ".checkpoint"), ignore_errors=True)


def to_json(obj) -> str:
    return json.dumps(obj, indent=2, default=lambda o: o.isoformat() if hasattr(o, "isoformat")
                      else float(o) if isinstance(o, np.floating) else int(o)
                      if isinstance(o, np.integer) else str(o))
