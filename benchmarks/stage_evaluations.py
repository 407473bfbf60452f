"""Time the two inner loops of a calibration and hash what they compute, for comparing checkouts.

    PYTHONPATH=. python benchmarks/stage_evaluations.py countryside   # 16 points x 192 replicates
    PYTHONPATH=. python benchmarks/stage_evaluations.py lift          # 4 draws of the 21 July lift

``countryside``: one evaluation of the default calibration's countryside stage at 16 walkers of
its committed chain (the work each core does per step of the sampler, twice over). ``lift``: the
start's likelihood for four countryside draws of the committed 21 July forecast, each paired with
512 of its city draws on the cities' first 64 replicates (``sim.cut_lift.StartLikelihood``, as the
forecast's lifted cut runs it). Each prints the best of ``--rounds`` timings and a hash of the
values computed: run it in two checkouts one after the other (alternate them, the machine is
noisy) and a change that claims to keep the numbers must print the same hash.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import time
from pathlib import Path

import numpy as np

from sim.calibrate import stage_problem
from sim.calibration_config import load_config
from sim.cut_lift import StartLikelihood
from sim.geography import load_geography
from sim.parameters import NAMES
from sim.randomness import draw_batch
from sim.scenario import load_scenario
from sim.targets import load_targets

ROOT = Path(__file__).resolve().parent.parent


def _stage(stage_index: int, as_of: dt.date | None = None, rural_from: Path | None = None):
    geo = load_geography()
    config = load_config(ROOT / "calibration" / "default.toml", geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    if as_of is not None:
        targets = targets.as_of(as_of)
    stage = config.stages[stage_index]
    base = np.tile(np.array([scenario.parameters()[n] for n in NAMES]), (stage.replicates, 1))
    rows = []
    if rural_from is not None:
        # the countryside's columns from a committed posterior, one draw per replicate
        rows = list(csv.DictReader(rural_from.open()))
        pick = np.random.default_rng(1).integers(len(rows), size=stage.replicates)
        for name in config.stages[0].names:
            base[:, NAMES.index(name)] = [float(rows[i][name]) for i in pick]
    problem = stage_problem(config, stage, scenario, targets, geo, base,
                            draw_batch(config.seed, range(stage.replicates), geo.n))
    return config, stage, problem, rows


def countryside():
    _, _, problem, _ = _stage(0)
    chain = np.load(ROOT / "calibration" / "default" / "chains.npz")["rural_chain_z"]
    Z = chain[-1][:16]
    return lambda: problem.evaluate(Z)


def lift():
    posterior = ROOT / "calibration" / "forecast-2021-07-21" / "posterior.csv"
    config, stage, problem, rows = _stage(1, dt.date(2021, 7, 21), posterior)
    rng = np.random.default_rng(2)
    city = np.array([[float(rows[i][n]) for n in stage.names]
                     for i in rng.integers(len(rows), size=512)])
    rural_names = config.stages[0].names
    rural = np.array([[float(rows[i][n]) for n in rural_names]
                      for i in rng.integers(len(rows), size=4)])
    kept = slice(None, 64)
    start = StartLikelihood(problem.model, problem.base[kept], problem.draws.row(kept),
                            np.array([NAMES.index(n) for n in rural_names]), problem.columns,
                            city, problem.likelihood)
    return lambda: np.concatenate([start.evaluate(rural[i:i + 1]) for i in range(len(rural))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("loop", choices=("countryside", "lift"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    run = {"countryside": countryside, "lift": lift}[args.loop]()
    seconds, out = [], None
    for _ in range(args.rounds):
        started = time.perf_counter()
        out = run()
        seconds.append(time.perf_counter() - started)
    digest = hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest()[:16]
    print(f"{args.loop}: best {min(seconds):.2f} s of {args.rounds} "
          f"({', '.join(f'{s:.2f}' for s in seconds)}); values {digest}")


if __name__ == "__main__":
    main()
