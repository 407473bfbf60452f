"""What sets the broken surrender chain's effect, draw by draw and from one calibration seed to the next?

The broken chain (``scenarios/surrender_chain_broken.toml``: contagion, the capitals' cascade and
Kabul's response to it halved) is the what-if that moves most with the calibration seed: +87, +69
and +73 days for the default's three seeds on 5,000 paired replicates. The README read that as the
countryside's contagion, which the record leaves on a ridge. This script measures it instead:

* every posterior of the default's model (its three seeds, the same on twice the countryside's
  replicates, ``calibration/structures/rural384``, on 1,000 steps, ``long1000``, and with the
  cities' stage on 2,000 steps, ``cities2000``) runs the
  baseline and the broken chain on the same random numbers (5,000 paired replicates, ten per
  posterior draw, seed 1, as the README's what-if tables), giving each posterior draw's mean
  effect;
* the draws' effects are set against their parameters: each parameter's Spearman correlation
  with the effect over all the draws pooled, and one linear model of the effect on every
  parameter (standardised; the rates' logs), fitted on the pooled draws;
* that one model, evaluated on each posterior's own draws, predicts its mean effect: if it does,
  the seeds differ *because their draws differ in those parameters*, and each parameter's share
  of the differences is its coefficient times the difference of its posterior means; ten more
  posteriors, the default's two stages crossed between seeds (``cross_stages``) and the cities'
  stage fitted eight ways on one pooled countryside (``pooled_countryside``), are left out of the
  fit and predicted, a check the model cannot tune to;
* the effect by third of the parameter that carries most of it says what the what-if buys under
  each reading of the record;
* every posterior being one calibration of the same model, the spread of their mean effects is
  the calibration's own error on the effect, and their mean (with its standard error) the model's
  effect as well as these calibrations know it.

Run from the project folder: ``python calibration/chain_drivers.py`` (about 55 s on two cores);
writes ``calibration/default/chain_drivers.json`` and ``docs/figures/chain_drivers.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT_JSON = HERE / "default" / "chain_drivers.json"
OUT_PNG = ROOT / "docs" / "figures" / "chain_drivers.png"
S = "structures"
#: the posteriors of the default's model, under calibration/
POSTERIORS = {
    "default": "default/posterior.csv",
    "default_seed11": f"{S}/rural192_cities128/seed11/posterior.csv",
    "default_seed7": f"{S}/rural192_cities128/seed7/posterior.csv",
    "rural384": f"{S}/rural384/posterior.csv",
    "rural384_seed11": f"{S}/rural384/seed11/posterior.csv",
    "rural384_seed7": f"{S}/rural384/seed7/posterior.csv",
    "long1000": f"{S}/long1000/posterior.csv",
    "long1000_seed11": f"{S}/long1000/seed11/posterior.csv",
    "cities2000": f"{S}/cities2000/posterior.csv",
    "cities2000_seed11": f"{S}/cities2000/seed11/posterior.csv",
}
#: posteriors the linear model is not fitted to and must predict: the default's two stages from
#: different seeds (calibration/structures/cross_stages), each its own mixture of the above, and
#: the cities' stage fitted eight ways on the countryside pooled over three seeds
#: (calibration/structures/pooled_countryside)
HELD_OUT = {
    "cross_rural11_cities20210815": f"{S}/cross_stages/rural11_cities20210815/posterior.csv",
    "cross_rural20210815_cities11": f"{S}/cross_stages/rural20210815_cities11/posterior.csv",
}
HELD_OUT.update({f"pooled_{name}": f"{S}/pooled_countryside/{name}/posterior.csv" for name in (
    "cities20210815", "cities11", "crn20210815_samp11", "crn11_samp20210815",
    "cities256_20210815", "cities256_11", "walkers96_20210815", "walkers96_11")})
WHATIF = "surrender_chain_broken"
REPLICATES, PER_DRAW, SEED = 5000, 10, 1


def features(names: list[str], values: np.ndarray) -> np.ndarray:
    """The linear model's inputs: each parameter as sampled, a rate by its log (rates span
    decades, and the rule reads them multiplicatively)."""
    cols = [np.log(values[:, i]) if n.endswith("rate") else values[:, i] for i, n in enumerate(names)]
    return np.column_stack(cols)


def attribute(effect: np.ndarray, X: np.ndarray, groups: np.ndarray, names: list[str],
              stage_of: dict[str, str], held_out: tuple[str, ...] = ()) -> dict:
    """One linear model of ``effect`` (one value per draw) on ``X`` (draws x parameters), fitted
    on every draw; per group (posterior), its mean effect, the model's prediction from its own
    draws, and each parameter's part of how far the group's prediction lies from the mean of the
    groups' (its coefficient times the difference of its means), summed by calibration stage
    (``stage_of``: parameter -> stage). One parameter's parts can offset another's along a ridge,
    so the stages' sums, not single parameters, say where the groups' differences lie. Parameters
    constant over every draw are left out. The groups named in ``held_out`` are not fitted: the
    model predicts their means from their draws (an out-of-sample check of the attribution)."""
    fit = ~np.isin(groups, list(held_out))
    varies = np.ptp(X[fit], axis=0) > 0
    X, names = X[:, varies], [n for n, v in zip(names, varies) if v]
    mu, sd = X[fit].mean(axis=0), X[fit].std(axis=0)
    Z = (X - mu) / sd
    design = np.column_stack([np.ones(len(Z)), Z])
    beta, *_ = np.linalg.lstsq(design[fit], effect[fit], rcond=None)
    predicted = design @ beta
    outside = {g: {"effect": float(effect[groups == g].mean()),
                   "predicted": float(predicted[groups == g].mean())} for g in held_out}
    effect, groups, Z, fitted = effect[fit], groups[fit], Z[fit], predicted[fit]
    r2 = 1.0 - np.var(effect - fitted) / np.var(effect)
    labels = list(dict.fromkeys(groups))
    zbar = {g: Z[groups == g].mean(axis=0) for g in labels}
    centre = np.mean([zbar[g] for g in labels], axis=0)
    parts = {g: beta[1:] * (zbar[g] - centre) for g in labels}
    stages = sorted({stage_of[n] for n in names})
    by_stage = {g: {s: float(sum(p for n, p in zip(names, parts[g]) if stage_of[n] == s))
                    for s in stages} for g in labels}
    return {
        "r2": float(r2),
        "coefficient_per_sd_days": dict(zip(names, map(float, beta[1:]))),
        "posteriors": {g: {"effect": float(effect[groups == g].mean()),
                           "predicted": float(fitted[groups == g].mean()),
                           "parts_days": dict(zip(names, map(float, parts[g]))),
                           "parts_by_stage_days": by_stage[g]} for g in labels},
        "stage_part_sd_across_posteriors_days": {
            s: float(np.std([by_stage[g][s] for g in labels])) for s in stages},
        "held_out": outside,
    }


def by_thirds(effect: np.ndarray, x: np.ndarray) -> list[dict]:
    """The mean effect in each third of ``x`` (pooled draws)."""
    cuts = np.quantile(x, [1 / 3, 2 / 3])
    which = np.searchsorted(cuts, x, side="right")
    return [{"range": [float(x[which == k].min()), float(x[which == k].max())],
             "effect_mean": float(effect[which == k].mean()), "draws": int((which == k).sum())}
            for k in range(3)]


def run() -> tuple:
    import sim
    from sim.parameters import NAMES
    sources = {name: str(HERE / path) for name, path in {**POSTERIORS, **HELD_OUT}.items()}
    cmp = sim.compare([ROOT / "scenarios" / "baseline.toml", ROOT / "scenarios" / f"{WHATIF}.toml"],
                      replicates=REPLICATES, seed=SEED, parameters=sources, workers=0,
                      replicates_per_draw=PER_DRAW, progress=True)
    kabul = cmp.outcomes[cmp.capital_days].per_replicate
    effects, values, groups = [], [], []
    for name, res in cmp.structures.items():
        diff = kabul(res[WHATIF]) - kabul(res["baseline"])
        effects.append(diff.reshape(-1, PER_DRAW).mean(axis=1))
        values.append(res["baseline"].table.values[::PER_DRAW])
        groups += [name] * len(effects[-1])
    effect, values, groups = np.concatenate(effects), np.concatenate(values), np.array(groups)
    names = list(NAMES)
    fit = ~np.isin(groups, list(HELD_OUT))
    spear = {}
    for i, n in enumerate(names):
        if np.ptp(values[fit, i]) > 0:
            spear[n] = float(spearmanr(values[fit, i], effect[fit])[0])
    from sim.hazard import CITY_PARAMETERS
    stage_of = {n: "cities (decision, capitals, Kabul)" if n in CITY_PARAMETERS else "countryside"
                for n in names}
    model = attribute(effect, features(names, values), groups, names, stage_of, tuple(HELD_OUT))
    spear = dict(sorted(spear.items(), key=lambda kv: -abs(kv[1])))   # strongest first
    lead = next(iter(spear))
    result = {
        "what": (f"{WHATIF}: days Kabul holds beyond the baseline's fall, each posterior draw's mean "
                 f"over its {PER_DRAW} paired replicates; {REPLICATES} replicates per posterior, seed {SEED}"),
        "posteriors": POSTERIORS,
        "held_out_posteriors": HELD_OUT,
        "spearman_with_effect": spear,
        "linear_model": model,
        "by_thirds_of": {lead: by_thirds(effect[fit], values[fit, names.index(lead)])},
        "across_calibrations": across_calibrations(effect, groups),
    }
    return result, effect[fit], values[fit], groups[fit]


def across_calibrations(effect: np.ndarray, groups: np.ndarray) -> dict:
    """The effect as a user of one calibration meets it: every posterior here is one calibration of
    the same model, priors and record, so the spread of their mean effects is the calibration's own
    error on it, and their mean, with its standard error, the model's effect as well as these runs
    know it."""
    means = np.array([effect[groups == g].mean() for g in dict.fromkeys(groups)])
    sd = float(means.std(ddof=1))
    return {"calibrations": int(len(means)), "mean": float(means.mean()), "sd": sd,
            "standard_error": sd / float(np.sqrt(len(means))),
            "range": [float(means.min()), float(means.max())]}


def draw(result: dict, effect: np.ndarray, values: np.ndarray, groups: np.ndarray) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sim.parameters import NAMES
    spear = result["spearman_with_effect"]
    a, b = list(spear)[:2]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.6), gridspec_kw={"width_ratios": [1.3, 1]})
    sc = ax1.scatter(values[:, NAMES.index(a)], effect, c=values[:, NAMES.index(b)], s=6,
                     cmap="viridis", alpha=0.6)
    fig.colorbar(sc, ax=ax1, label=b)
    for third in result["by_thirds_of"].get(a, []):
        ax1.hlines(third["effect_mean"], *third["range"], color="black", lw=3)
    ax1.set_xlabel(a + "  (black: the mean effect in each third)")
    ax1.set_ylabel("days Kabul holds beyond the baseline\n(a draw's mean of 10 paired replicates)")
    ax1.set_title(f"Each posterior draw of the default's model: the broken chain's effect\n"
                  f"against the two parameters it follows most (Spearman {spear[a]:+.2f}, {spear[b]:+.2f})",
                  fontsize=11)
    post = {**result["linear_model"]["posteriors"], **result["linear_model"]["held_out"]}
    names = list(post)
    held = set(result["linear_model"]["held_out"])
    y = np.arange(len(names))[::-1]
    ax2.barh(y + 0.18, [post[n]["effect"] for n in names], height=0.36, color="#333",
             label="simulated mean")
    bars = ax2.barh(y - 0.18, [post[n]["predicted"] for n in names], height=0.36, color="#d08c2a",
                    label="predicted from its draws' parameters (one linear model)")
    for bar, n in zip(bars, names):
        if n in held:
            bar.set_hatch("//")
            bar.set_edgecolor("white")
    ax2.set_yticks(y, [n + (" (held out)" if n in held else "") for n in names])
    ax2.set_xlabel("days Kabul holds beyond the baseline: posterior mean")
    ax2.set_title(f"Each calibration's mean effect, and what its parameters predict\n"
                  f"(R\u00b2 over draws {result['linear_model']['r2']:.2f})", fontsize=11)
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    fig.suptitle("What sets the broken chain's effect, draw by draw: the cities' parameters more than the "
                 "countryside's contagion (python calibration/chain_drivers.py)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    OUT_PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT_PNG, dpi=100)
    plt.close(fig)


def main(out: Path | None = None, figure: bool = True) -> dict:
    """Runs it, writes the JSON to ``out`` (default ``calibration/default/chain_drivers.json``)
    and the figure, prints the summary and returns the result."""
    result, effect, values, groups = run()
    (out or OUT_JSON).write_text(json.dumps(result, indent=1) + "\n")
    if figure:
        draw(result, effect, values, groups)
    model = result["linear_model"]
    print("Spearman with the effect:",
          ", ".join(f"{k} {v:+.2f}" for k, v in list(result["spearman_with_effect"].items())[:6]))
    print(f"linear model over draws: R^2 {model['r2']:.2f}")
    for name, p in model["posteriors"].items():
        print(f"  {name:18s} mean {p['effect']:+6.1f} days, predicted {p['predicted']:+6.1f}")
    for name, p in model["held_out"].items():
        print(f"  {name} (not fitted) mean {p['effect']:+6.1f} days, predicted {p['predicted']:+6.1f}")
    print("where the posteriors' differences lie (sd across posteriors of each stage's part, days):",
          ", ".join(f"{k} {v:.1f}" for k, v in model["stage_part_sd_across_posteriors_days"].items()))
    a = result["across_calibrations"]
    print(f"across the {a['calibrations']} calibrations: mean {a['mean']:+.1f} days "
          f"(standard error {a['standard_error']:.1f}), sd {a['sd']:.1f}, "
          f"{a['range'][0]:+.1f} to {a['range'][1]:+.1f}")
    for name, thirds in result["by_thirds_of"].items():
        print(f"by thirds of {name}:",
              "; ".join(f"{t['range'][0]:.3g}-{t['range'][1]:.3g}: {t['effect_mean']:+.1f}" for t in thirds))
    return result


if __name__ == "__main__":
    main()
