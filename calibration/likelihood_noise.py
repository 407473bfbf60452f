"""How much of a calibration's posterior is its own random numbers?

The calibration's likelihood is simulated: at every parameter value the same R replicates are
run on fixed random numbers (common random numbers, so the likelihood is smooth in the
parameters), and the record's probability is read off them. With finitely many replicates that
reading has a Monte Carlo error, and a posterior fitted on one set of random numbers sits partly
where that set happened to be lucky. Another calibration seed is another set, hence another
posterior. This script measures both halves of the problem for the countryside's stage:

* **the likelihood's noise**: each stage-1 component (the district counts, the district facts)
  evaluated at posterior draws on several independent sets of random numbers, at the
  calibration's replicates and at four times as many; the spread across sets at one point is
  the noise the sampler sees;
* **which posterior the record prefers**: the draws of several calibrations (seeds, replicate
  counts) evaluated on the same fresh random numbers, at four times the replicates, where each
  calibration's own luck no longer counts; and on each calibration's own numbers, where it does;
* **whether the walkers mixed**: the split R-hat across walkers of the committed chains
  (``sim.calibration_sampler.walker_rhat``), which emcee's autocorrelation time cannot see.

Run from the project folder: ``python calibration/likelihood_noise.py`` (about 40 s on two
cores); writes ``calibration/default/likelihood_noise.json`` and prints the tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim.calibrate import stage_problem
from sim.calibration_config import load_config, stage_sampler
from sim.calibration_sampler import Evaluator, walker_rhat
from sim.geography import load_geography
from sim.parameters import NAMES
from sim.posterior import read_posterior
from sim.progress import progress_bar
from sim.randomness import draw_batch
from sim.scenario import load_scenario
from sim.targets import load_targets

HERE = Path(__file__).resolve().parent
#: the calibrations compared: name -> (config, posterior); every config shares the default's
#: targets and scenario, so their likelihoods are one function evaluated on different numbers
CALIBRATIONS = {
    "default": ("default.toml", "default/posterior.csv"),
    # the default until 7 December 2026 (the same model and priors, 48 countryside replicates,
    # the stretch move) and its two other seeds
    "precedent": ("structures/precedent/config.toml", "structures/precedent/posterior.csv"),
    "precedent_seed7": ("structures/precedent/config_seed7.toml",
                        "structures/precedent/seed7/posterior.csv"),
    "precedent_seed11": ("structures/precedent/config_seed11.toml",
                         "structures/precedent/seed11/posterior.csv"),
}
#: structures of the same likelihood on four times the countryside's replicates, differential
#: moves (calibration/structures/rural192_differential; the default's second seed), compared
#: when their posteriors are there
OPTIONAL = {
    "rural192_differential": ("structures/rural192_differential/config.toml",
                              "structures/rural192_differential/posterior.csv"),
    "rural192_differential_seed11": ("structures/rural192_differential/config_seed11.toml",
                                     "structures/rural192_differential/seed11/posterior.csv"),
    "default_seed11": ("structures/rural192_cities128/config_seed11.toml",
                       "structures/rural192_cities128/seed11/posterior.csv"),
    "default_seed7": ("structures/rural192_cities128/config_seed7.toml",
                      "structures/rural192_cities128/seed7/posterior.csv"),
}
POINTS, FRESH_SETS, SEED = 16, 6, 909
#: the replicates the noise is read at, and four times as many: the countryside's 48 of the
#: default until 7 December 2026, where the noise was first measured (the default's 192 since is
#: the larger of the two)
REPLICATES = 48
COMPONENTS = {"counts": 0, "facts": 3}


def _points(stage, posterior: Path, rng) -> np.ndarray:
    """POINTS draws of the stage's parameters from a posterior, in the sampler's z-space."""
    src = read_posterior(posterior)
    rows = rng.choice(len(src.rows), POINTS, replace=False, p=src.weights)
    X = src.rows[rows][:, [NAMES.index(n) for n in stage.names]]
    return np.column_stack([p.to_z(X[:, j]) for j, p in enumerate(stage.priors)])


def _quantiles(posterior: Path, names) -> dict:
    """Weighted 5%, 50% and 95% quantiles of some parameters of a posterior."""
    src = read_posterior(posterior)
    out = {}
    for n in names:
        x = src.rows[:, NAMES.index(n)]
        order = np.argsort(x)
        cdf = np.cumsum(src.weights[order])
        out[n] = [round(float(x[order][np.searchsorted(cdf, q * cdf[-1])]), 3)
                  for q in (0.05, 0.5, 0.95)]
    return out


def _evaluate(config, stage, scenario, targets, geo, Z, seed, replicates, workers):
    base = np.tile(np.array([scenario.parameters()[n] for n in NAMES]), (replicates, 1))
    problem = stage_problem(config, stage, scenario, targets, geo, base,
                            draw_batch(seed, range(replicates), geo.n))
    ev = Evaluator(problem, workers)
    try:
        return np.asarray(ev.evaluate(Z))
    finally:
        ev.close()


def _rhat(chains: Path, config) -> dict:
    if not chains.is_file():
        return {}
    out = {}
    with np.load(chains, allow_pickle=False) as ch:
        for stage in config.stages:
            z = ch[f"{stage.name}_chain_z"]
            # a stage may set its own burn-in ([stages.NAME.sampler])
            r = walker_rhat(z[stage_sampler(config, stage, False).burn_in:])
            out[stage.name] = {"median": round(float(np.median(r)), 2),
                               "max": round(float(np.max(r)), 2),
                               "by_parameter": {str(n): round(float(v), 2)
                                                for n, v in zip(ch[f"{stage.name}_names"], r)}}
    return out


def main(out: Path | None = None, workers: int = 2, progress: bool = True) -> dict:
    geo = load_geography()
    config = load_config(HERE / "default.toml", geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    stage = config.stages[0]
    R = REPLICATES
    compared = dict(CALIBRATIONS)
    compared.update({k: v for k, v in OPTIONAL.items() if (HERE / v[1]).is_file()})
    rng = np.random.default_rng(SEED)
    points = {name: _points(stage, HERE / post, rng) for name, (_, post) in compared.items()}
    Z = np.concatenate(list(points.values()))
    groups = np.repeat(np.arange(len(points)), POINTS)
    fresh = [SEED + 1000 * (k + 1) for k in range(FRESH_SETS)]
    jobs = [(s, r) for r in (R, 4 * R) for s in fresh]
    own = {name: load_config(HERE / cfg, geo.theatre) for name, (cfg, _) in compared.items()}
    bar = progress_bar(len(jobs) + len(own), "likelihood on other random numbers", progress,
                       unit="set")
    terms = {}
    for s, r in jobs:
        terms[(s, r)] = _evaluate(config, stage, scenario, targets, geo, Z, s, r, workers)
        bar.update(1)
    own_terms = {}
    for name, cfg in own.items():
        own_terms[name] = _evaluate(config, stage, scenario, targets, geo, Z, cfg.seed,
                                    cfg.stages[0].replicates, workers)
        bar.update(1)
    bar.close()

    def total(t):
        return t[:, 0] + t[:, 3]

    noise = {}
    for r in (R, 4 * R):
        stack = np.array([terms[(s, r)] for s in fresh])               # (sets, points, 4)
        noise[str(r)] = {c: round(float(stack[:, :, j].std(axis=0, ddof=1).mean()), 2)
                         for c, j in COMPONENTS.items()}
        noise[str(r)]["total"] = round(float(np.array([total(t) for t in stack]).std(axis=0, ddof=1)
                                             .mean()), 2)
    preference = {}
    for k, name in enumerate(compared):
        mine = groups == k
        fresh_small = np.mean([total(terms[(s, R)])[mine].mean() for s in fresh])
        fresh_large = np.mean([total(terms[(s, 4 * R)])[mine].mean() for s in fresh])
        on_own = total(own_terms[name])[mine].mean()
        preference[name] = {
            "log_likelihood_on_its_own_numbers": round(float(on_own), 2),
            "its_own_replicates": own[name].stages[0].replicates,
            f"on_fresh_numbers_{R}": round(float(fresh_small), 2),
            f"on_fresh_numbers_{4 * R}": round(float(fresh_large), 2),
            "quantiles_5_50_95": _quantiles(HERE / compared[name][1],
                                            ("b_neighbour", "b_air", "b_capacity")),
        }
    result = {
        "design": {"stage": stage.name, "replicates": R, "fresh_sets": FRESH_SETS,
                   "points_per_posterior": POINTS, "seed": SEED,
                   "compared": {k: v[1] for k, v in compared.items()}},
        "noise_sd_across_random_numbers": noise,
        "posteriors": preference,
        "walker_rhat_of_the_default": _rhat(HERE / "default" / "chains.npz", config),
    }
    out_path = Path(out) if out is not None else HERE / "default" / "likelihood_noise.json"
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out_path)
    print(f"noise (sd of the log-likelihood across {FRESH_SETS} sets of random numbers, mean "
          "over points):")
    for r, v in noise.items():
        print(f"  {r:>4} replicates: counts {v['counts']:.2f}, facts {v['facts']:.2f}, "
              f"total {v['total']:.2f}")
    print(f"posteriors (mean log-likelihood of {POINTS} draws; own numbers / fresh at {R} / "
          f"fresh at {4 * R}):")
    for name, v in preference.items():
        print(f"  {name:<30} {v['log_likelihood_on_its_own_numbers']:8.2f} "
              f"{v[f'on_fresh_numbers_{R}']:8.2f} {v[f'on_fresh_numbers_{4 * R}']:8.2f}   "
              f"b_neighbour {v['quantiles_5_50_95']['b_neighbour']}")
    rh = result["walker_rhat_of_the_default"]
    if rh:
        print("the default's walkers, split R-hat: " + ", ".join(
            f"{s} median {v['median']}, max {v['max']}" for s, v in rh.items()))
    return result


if __name__ == "__main__":
    main()
