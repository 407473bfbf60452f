"""Tried, not adopted by default: refit the cities on the lifted countrysides, then lift again.

The default calibration fits the cities' parameters (stage 2) on replicates that carry draws of
the countryside's posterior as stage 1 left it, then lifts the cut for the record's start
(``sim/cut_lift.py``): the countrysides paired with each city draw are those whose pace fits the
start. The cities were therefore fitted on a wider mix of countrysides than the one they end up
paired with. This experiment measures what one more round would do: stage 2 refitted (same
sampler, same seed) with its replicates carrying countryside draws of the *lifted* posterior
(``calibration/default/posterior.csv``), then the lift again from stage 1's own draws (so the
start weighs on the countryside once). It is an alternation, not a method with a known target,
which is one reason it is not the default; the other is time (a second stage 2).

Run from the project folder: ``python calibration/lift_refit.py [OUT]`` (about five minutes on two
cores when the machine is fast); writes the usual calibration outputs to OUT (default
``calibration/structures/lift_refit``; its ``fit_report.json`` is committed there) and prints the
fit goals. Measured on 3 December 2026: the capitals' MAE 2.18 days (1.33 for the default), 90%
width 17.4 (16.9), P(capital before 6 August) 0.33 (0.34), Kabul +2 days with a 90% width of 19.2
(19.6), 27.5 capitals before Kabul (32): no better, and the capitals' dates fit worse.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sim.calibrate import (CalibrationResult, _joint_posterior, _lift, _model_for,  # noqa: E402
                           _stage_horizon)
from sim.calibration_config import load_config, stage_sampler  # noqa: E402
from sim.calibration_output import goals_table, write_calibration  # noqa: E402
from sim.calibration_sampler import Evaluator, StageProblem, StageResult, run_stage  # noqa: E402
from sim.geography import load_geography  # noqa: E402
from sim.likelihood import Likelihood  # noqa: E402
from sim.parameters import NAMES  # noqa: E402
from sim.randomness import draw_batch  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.targets import load_targets  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "structures" / "lift_refit"
    started = time.perf_counter()
    geo = load_geography()
    config = load_config(HERE / "default.toml", geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    rural_cfg, city_cfg = config.stages
    chains = np.load(HERE / "default" / "chains.npz")
    rural_settings = stage_sampler(config, rural_cfg, False)   # a stage may set its own burn-in
    rural = StageResult("rural", rural_cfg.priors, chains["rural_chain_z"], chains["rural_log_prob"],
                        0.0, 0.0, 0, rural_settings.burn_in, rural_settings.thin)
    rows = list(csv.DictReader((HERE / "default" / "posterior.csv").open()))
    lifted_rural = np.array([[float(r[n]) for n in rural_cfg.names] for r in rows])

    R = city_cfg.replicates
    base_values = np.array([scenario.parameters()[n] for n in NAMES])
    base = np.tile(base_values, (R, 1))
    pick = np.random.default_rng([config.seed, 31, 1]).integers(len(lifted_rural), size=R)
    base[:, [NAMES.index(n) for n in rural_cfg.names]] = lifted_rural[pick]
    problem = StageProblem(_model_for(scenario, geo, _stage_horizon("capitals", targets, config)),
                           base, draw_batch(config.seed, range(R), geo.n),
                           np.array([NAMES.index(n) for n in city_cfg.names]), city_cfg.priors,
                           Likelihood.build(targets.for_stage("capitals"), geo))
    evaluator = Evaluator(problem, 2)
    try:
        city = run_stage(evaluator, stage_sampler(config, city_cfg, False), city_cfg,
                         config.seed + 101 * 2, None, False, True,
                         "lift_refit")
    finally:
        evaluator.close()
    lifted = _lift(problem, rural.samples(), rural.names, city, city_cfg.lift_cut, config.seed, 2,
                   True)
    posterior = _joint_posterior(base_values, [rural, city], config.seed, lifted)
    result = CalibrationResult(config, targets, scenario, [rural, city], posterior,
                               config.calibrated, time.perf_counter() - started, None, geo, lifted)
    report = write_calibration(result, out, workers=2, progress=True, force=True)
    for name, goal in goals_table(report).items():
        print(f"{name:40s} {goal}")


if __name__ == "__main__":
    main()
