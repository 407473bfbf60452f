"""Do separate calibration runs find the same posterior? R-hat across seeds, parameter by parameter.

A calibration's fit report gives the split R-hat across its walkers (did one run mix?). This
script asks the question a user relying on one run needs answered: run again with another seed,
is the posterior the same? For each model calibrated with more than one seed it reads every
seed's posterior draws as one chain and gives, for each parameter, the rank-normalised R-hat of
Vehtari et al. (2021; ``sim.calibration_sampler.runs_rhat``): near 1 where the seeds agree, above
1.1 where they found different parts of the parameter space (the threshold Vehtari et al.
suggest is 1.01 for a final analysis; 1.1 is the older, laxer one).

Writes ``calibration/default/seed_agreement.json`` (every model's R-hats, median, maximum and the
parameters above 1.1) and ``docs/figures/seed_agreement.png`` (each seed's marginal of the
parameters the seeds disagree on most, the default's seeds above, the precedent's below: the
same model and priors, sampled less well).

Run from the project folder: ``python calibration/seed_agreement.py`` (a few seconds).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.calibration_sampler import runs_rhat
from sim.parameters import NAMES
from sim.posterior import read_posterior

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT_JSON = HERE / "default" / "seed_agreement.json"
OUT_PNG = ROOT / "docs" / "figures" / "seed_agreement.png"
S = "structures"

#: model -> (what it is, its runs: seed label -> posterior under calibration/)
MODELS = {
    "default": ("the default (rural192_cities128): 192 countryside and 128 city replicates, "
                "differential-evolution moves", {
                    "20210815": "default/posterior.csv",
                    "11": f"{S}/rural192_cities128/seed11/posterior.csv",
                    "7": f"{S}/rural192_cities128/seed7/posterior.csv"}),
    "precedent": ("the same model and priors, 48 countryside and 64 city replicates, the "
                  "stretch move (the default until 7 December 2026)", {
                      "20210815": f"{S}/precedent/posterior.csv",
                      "7": f"{S}/precedent/seed7/posterior.csv",
                      "11": f"{S}/precedent/seed11/posterior.csv"}),
    "rural192_differential": ("the same model, 192 countryside and 64 city replicates, "
                              "differential-evolution moves", {
                                  "20210815": f"{S}/rural192_differential/posterior.csv",
                                  "11": f"{S}/rural192_differential/seed11/posterior.csv"}),
    "statuses_joint_capacity": ("the default of 6 December 2026 (no precedent, A35 off)", {
        "20210815": f"{S}/statuses_joint_capacity/posterior.csv",
        "7": f"{S}/statuses_joint_capacity/seed7/posterior.csv"}),
    "long1000": ("the default run for 1,000 steps instead of 400, thinned by 9 (its walkers' "
                 "R-hat 1.3-1.4; calibration/chain_length.py)", {
                     "20210815": f"{S}/long1000/posterior.csv",
                     "11": f"{S}/long1000/seed11/posterior.csv"}),
    "rural384": ("the default with the countryside's likelihood on 384 replicates instead of 192 "
                 "(calibration/structures/rural384)", {
                     "20210815": f"{S}/rural384/posterior.csv",
                     "11": f"{S}/rural384/seed11/posterior.csv",
                     "7": f"{S}/rural384/seed7/posterior.csv"}),
    "cities2000": ("the default with the cities' stage run for 2,000 steps instead of 400 "
                   "(calibration/structures/cities2000)", {
                       "20210815": f"{S}/cities2000/posterior.csv",
                       "11": f"{S}/cities2000/seed11/posterior.csv"}),
}
THRESHOLD = 1.1
#: how many parameters the figure draws (those with the largest R-hat under either of the first
#: two models)
SHOWN = 6


@lru_cache(maxsize=None)              # the table and the figure read the same posteriors
def _draws(path: Path) -> dict[str, np.ndarray]:
    """A posterior's draws by parameter. The calibrations' posteriors are equally weighted draws
    (their weights all 1); a weighted one would need resampling first, so it is refused."""
    source = read_posterior(path)
    if np.ptp(source.weights) > 0:
        raise ValueError(f"{path}: weighted draws; expected the equally weighted draws of a "
                         "calibration")
    return {name: source.rows[:, j] for j, name in enumerate(NAMES)}


def agreement(models: dict = MODELS) -> dict:
    """Every model's R-hat across its seeds, parameter by parameter (parameters that vary)."""
    out = {}
    for model, (what, runs) in models.items():
        draws = {seed: _draws(HERE / path) for seed, path in runs.items()}
        n = min(len(next(iter(d.values()))) for d in draws.values())
        rhat = {}
        for p in NAMES:
            stacked = np.stack([d[p][:n] for d in draws.values()])
            if np.ptp(stacked) > 0:                 # a parameter fixed by the config is skipped
                rhat[p] = round(runs_rhat(stacked), 4)
        values = np.array(list(rhat.values()))
        out[model] = {"what": what, "seeds": runs, "draws_per_seed": n, "rhat": rhat,
                      "median": round(float(np.median(values)), 4),
                      "max": round(float(values.max()), 4),
                      f"above_{THRESHOLD}": sorted((p for p, v in rhat.items() if v > THRESHOLD),
                                                   key=lambda p: -rhat[p])}
    return out


def draw(result: dict, models: dict = MODELS) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown_models = list(models)[:2]
    worst = {p: max(result[m]["rhat"].get(p, 0.0) for m in shown_models)
             for p in result[shown_models[0]]["rhat"]}
    params = sorted(worst, key=lambda p: -worst[p])[:SHOWN]
    fig, axes = plt.subplots(len(shown_models), SHOWN, figsize=(17, 6.4), squeeze=False)
    for row, model in zip(axes, shown_models):
        runs = models[model][1]
        draws = {seed: _draws(HERE / path) for seed, path in runs.items()}
        for ax, p in zip(row, params):
            values = np.concatenate([d[p] for d in draws.values()])
            log = p.endswith("rate") and values.min() > 0
            bins = (np.geomspace(values.min(), values.max(), 25) if log
                    else np.linspace(values.min(), values.max(), 25))
            for seed, d in draws.items():
                ax.hist(d[p], bins=bins, histtype="step", density=True, lw=1.5, label=f"seed {seed}")
            if log:
                ax.set_xscale("log")
            ax.set_title(f"{p}\nR-hat across seeds {result[model]['rhat'].get(p, float('nan')):.2f}",
                         fontsize=10)
            ax.set_yticks([])
        row[0].set_ylabel(f"{model}\nmedian R-hat {result[model]['median']:.2f}", fontsize=10)
        row[0].legend(fontsize=8, frameon=False)
    fig.suptitle("Do calibration seeds find the same posterior? Each seed's marginal, the six "
                 "parameters they disagree on most\n(rank-normalised R-hat across seeds, Vehtari "
                 "et al. 2021; python calibration/seed_agreement.py)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    OUT_PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT_PNG, dpi=100)
    plt.close(fig)


def main() -> int:
    result = agreement()
    OUT_JSON.write_text(json.dumps(result, indent=1) + "\n")
    draw(result)
    for model, r in result.items():
        flagged = ", ".join(f"{p} {r['rhat'][p]:.2f}" for p in r[f"above_{THRESHOLD}"]) or "none"
        print(f"{model} ({len(r['seeds'])} seeds): median R-hat {r['median']:.3f}, "
              f"max {r['max']:.3f}; above {THRESHOLD}: {flagged}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
