"""What lifting the cut would buy: the capitals' dates informing the countryside's parameters.

The default calibration cuts the capitals' dates off from the countryside's parameters (stage 2
fits the cities with each replicate carrying a fixed draw of the stage-1 posterior; README,
Calibration and fit). ``decision_sources.py`` measured that most of the decision date's spread
comes from the countryside's posterior, so the question is how much of it the capitals' dates
could remove if they were allowed to inform the countryside, and whether that would reach the
issue-10 goals (capitals' 90% width <= 9 days, P(a capital before 6 August) <= 0.05).

Method (importance sampling, no new fit): A draws of the countryside's posterior x B draws of the
cities' posterior; each pair simulated on the R replicates the calibration's lift reads (common
random numbers), the baseline to the calibration's horizon. For each city draw the countryside
draws are reweighted by the likelihood of the capitals' data given the pair, self-normalised
over the A draws: the cities keep their cut posterior and the countryside gets its conditional
given them (a lifted cut for the countryside, exact as A grows). Three weightings:

* ``cut``: uniform (today's posterior);
* ``start``: the data about when the cities' fall began, each counted once in the stage's
  likelihood: the first capital fell on 6 August, none before, the assault began on 6 August
  (what the default calibration now does, ``sim/cut_lift.py``, on its own pool of draws);
* ``all_capitals``: the whole capitals stage's likelihood (composite: 33 dates at half weight,
  Kabul, the order before Kabul).

For each: the effective number of countryside draws per city draw, the decision's and the first
fall's 90% range, P(a capital before 6 August), the capitals' fit (the fit report's own measures,
``sim.fit``, on 4,000 rows resampled by the weights), Kabul's 90% width; and, whatever the
weights, the decision's 90% range within one parameter pair (chance alone).

Run from the project folder: ``python calibration/lift_cut.py`` (about 4 minutes on two cores);
writes ``calibration/default/cut_lift.json`` and prints a table. ``LIFT_CUT_SEED`` changes the
draws picked.
"""

from __future__ import annotations

import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sim.calibrate import _model_for, _stage_horizon  # noqa: E402
from sim.calibration_config import load_config, stage_sampler  # noqa: E402
from sim.calibration_sampler import StageProblem  # noqa: E402
from sim.fit import capital_metrics, capital_table, kabul_quantiles, p_capital_before  # noqa: E402
from sim.geography import load_geography  # noqa: E402
from sim.likelihood import Likelihood  # noqa: E402
from sim.parameter_sets import simulate_sets  # noqa: E402
from sim.parameters import NAMES  # noqa: E402
from sim.randomness import draw_batch  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.targets import load_targets  # noqa: E402

A, B, RESAMPLED = 160, 48, 4000
SEED = int(os.environ.get("LIFT_CUT_SEED", 20211204))


class Setup:
    """The capitals stage as the default calibration builds it, and its two posteriors."""

    def __init__(self) -> None:
        self.geo = geo = load_geography()
        self.config = cfg = load_config(HERE / "default.toml", geo.theatre)
        scenario = load_scenario(cfg.scenario_path, geo)
        self.targets = load_targets(cfg.targets_path, geo)
        stages = {s.name: s for s in cfg.stages}
        self.rural, self.city = stages["rural"], stages["capitals"]
        chains = np.load(HERE / "default" / "chains.npz")
        self.rural_x = self._samples(chains, self.rural)
        self.city_x = self._samples(chains, self.city)
        # the replicates the calibration's lift reads (``lift_cut.replicates``: the first R of
        # the stage's), so that its "lifted" row is the calibration's choice
        R = self.city.lift_replicates or self.city.replicates
        base = np.array([scenario.parameters()[n] for n in NAMES])
        self.base = np.tile(base, (R, 1))
        self.rural_cols = [NAMES.index(n) for n in self.rural.names]
        self.city_cols = np.array([NAMES.index(n) for n in self.city.names])
        self.likelihood = Likelihood.build(self.targets.for_stage("capitals"), geo)
        self.stage_end = float(geo.theatre.day_of(_stage_horizon("capitals", self.targets, cfg)))
        self.model = _model_for(scenario, geo, cfg.horizon)
        self.draws = draw_batch(cfg.seed, range(R), geo.n)
        rng = np.random.default_rng(SEED)
        self.countryside = rng.choice(len(self.rural_x), A, replace=False)
        self.cities = rng.choice(len(self.city_x), B, replace=False)

    def _samples(self, chains, stage) -> np.ndarray:
        settings = stage_sampler(self.config, stage, False)   # a stage may set its own burn-in
        z = chains[f"{stage.name}_chain_z"][settings.burn_in::settings.thin]
        z = z.reshape(-1, z.shape[2])
        return np.column_stack([p.from_z(z[:, j]) for j, p in enumerate(stage.priors)])

    def simulate(self, a: int) -> np.ndarray:
        """(B, R, 35) capitals' fall times and the assault's start, countryside draw ``a`` on
        every replicate, each of the B city draws."""
        base = self.base.copy()
        base[:, self.rural_cols] = self.rural_x[a]
        problem = StageProblem(self.model, base, self.draws, self.city_cols, self.city.priors,
                               self.likelihood)
        res = simulate_sets(self.model, base, self.draws, self.city_cols,
                            self.city_x[self.cities], problem.prologue(),
                            stop_after_capitals=len(self.geo.capital_rows))
        _, caps, _ = self.likelihood.features(res.fall_time, res.assault_time)
        return caps.reshape(B, len(base), -1)


_SETUP: Setup | None = None


def _simulate(a: int) -> np.ndarray:
    global _SETUP
    if _SETUP is None:
        _SETUP = Setup()
    return _SETUP.simulate(a)


def start_loglik(lik: Likelihood, caps: np.ndarray) -> np.ndarray:
    """The start's log-likelihood (the calibration's own, ``Likelihood.start_loglik``) per pair;
    caps (A, B, R, 35) -> (A, B)."""
    A, B, R, _ = caps.shape
    return lik.start_loglik(caps.reshape(A * B, R, -1)).reshape(A, B)


def all_loglik(lik: Likelihood, caps: np.ndarray) -> np.ndarray:
    """The capitals stage's whole log-likelihood per pair; caps (A, B, R, 35) -> (A, B)."""
    shape, R = caps.shape[:-2], caps.shape[-2]
    x = caps.reshape(-1, R, caps.shape[-1])
    out = lik.components(np.zeros((len(x), R, 0)), x, np.zeros((len(x), R, 0)))
    return out.sum(axis=1).reshape(shape)


def summarise(setup: Setup, caps: np.ndarray, loglik: np.ndarray | None) -> dict:
    geo, th = setup.geo, setup.geo.theatre
    Acount, Bcount, R, _ = caps.shape
    if loglik is None:
        w = np.full((Acount, Bcount), 1.0 / Acount)
    else:
        w = np.exp(loglik - loglik.max(axis=0, keepdims=True))
        w /= w.sum(axis=0, keepdims=True)
    ess = 1.0 / (w ** 2).sum(axis=0)
    rng = np.random.default_rng([SEED, 1])
    b = rng.integers(Bcount, size=RESAMPLED)
    a = np.array([rng.choice(Acount, p=w[:, k]) for k in b])
    r = rng.integers(R, size=RESAMPLED)
    picked = caps[a, b, r]                                             # (M, 35)
    fall = np.full((RESAMPLED, geo.n), np.nan)
    fall[:, geo.capital_rows] = np.where(np.isfinite(picked[:, :-1]), picked[:, :-1], np.nan)
    decision = picked[:, -1]
    first = picked[:, :-1].min(axis=1)
    horizon = float(th.day_of(setup.config.horizon))
    metrics = capital_metrics(capital_table(fall, geo, setup.targets, horizon))
    kabul = kabul_quantiles(fall, geo)

    def width(x):
        x = np.where(np.isfinite(x), x, horizon)
        return float(np.subtract(*np.quantile(x, [0.95, 0.05])))
    used = a * Bcount + b
    return {"countryside_draws_effective_per_city_draw": {"median": float(np.median(ess)),
                                                          "min": float(ess.min()), "of": Acount},
            "distinct_pairs_resampled": int(len(np.unique(used))),
            "decision_width_90_days": width(decision), "first_fall_width_90_days": width(first),
            "decision_median": th.date_of(float(np.median(decision))).isoformat(),
            "p_capital_before_aug6": p_capital_before(fall, geo),
            "capital_mae_days": metrics["capital_mae_days"],
            "capital_spearman": metrics["capital_spearman"],
            "coverage_90": metrics["coverage_90"],
            "interval_width_90": metrics["interval_width_90"],
            "intervals_open_at_horizon": metrics["intervals_open_at_horizon"],
            "kabul_median": kabul["q50"], "kabul_width_90_days": kabul["width_90_days"]}


def main() -> None:
    started = time.perf_counter()
    setup = Setup()
    with Pool(min(2, os.cpu_count() or 1)) as pool:
        caps = np.array(pool.map(_simulate, list(setup.countryside), chunksize=1))  # (A, B, R, 35)
    lik = setup.likelihood
    # the stage's likelihood sees nothing after its own horizon (a later fall reads as never)
    scored = np.where(caps < setup.stage_end, caps, np.inf)
    out = {"design": {"countryside_draws": A, "city_draws": B, "replicates_per_pair": int(caps.shape[2]),
                      "seed": SEED, "resampled_rows": RESAMPLED,
                      "horizon": setup.config.horizon.isoformat()},
           "weightings": {"cut": summarise(setup, caps, None),
                          "start": summarise(setup, caps, start_loglik(lik, scored)),
                          "all_capitals": summarise(setup, caps, all_loglik(lik, scored))}}
    decision = np.where(np.isfinite(caps[..., -1]), caps[..., -1], float(setup.geo.theatre.day_of(setup.config.horizon)))
    within = np.quantile(decision, 0.95, axis=2) - np.quantile(decision, 0.05, axis=2)
    first = caps[..., :-1].min(axis=-1)
    out["chance_alone"] = {
        "decision_width_90_days_within_a_pair": {"median": float(np.median(within)),
                                                 "q10": float(np.quantile(within, 0.1)),
                                                 "q90": float(np.quantile(within, 0.9))},
        "pairs_with_p_capital_before_aug6_at_most_0_05": float(
            np.mean((first < lik.constraint_days[0]).mean(axis=2) <= 0.05))}
    out["seconds"] = round(time.perf_counter() - started, 1)
    (HERE / "default" / "cut_lift.json").write_text(json.dumps(out, indent=2) + "\n")
    print("| weighting | countryside draws kept (median ESS of %d) | decision 90%% range (d) | P(capital < 6 Aug) "
          "| capitals: MAE | Spearman | coverage | mean 90%% width (d) | Kabul median | Kabul 90%% width (d) |" % A)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, v in out["weightings"].items():
        width = v["interval_width_90"]
        print(f"| {name} | {v['countryside_draws_effective_per_city_draw']['median']:.0f} "
              f"| {v['decision_width_90_days']:.1f} | {v['p_capital_before_aug6']:.2f} "
              f"| {v['capital_mae_days']:.2f} | {v['capital_spearman']:.2f} | {v['coverage_90']:.2f} "
              f"| {'open' if width is None else f'{width:.1f}'} | {v['kabul_median']} "
              f"| {'open' if v['kabul_width_90_days'] is None else round(v['kabul_width_90_days'], 1)} |")
    c = out["chance_alone"]
    print(f"within one parameter pair the decision's 90% range: median {c['decision_width_90_days_within_a_pair']['median']:.1f} d; "
          f"pairs with P(capital < 6 Aug) <= 0.05: {c['pairs_with_p_capital_before_aug6_at_most_0_05']:.1%}; "
          f"{out['seconds']:.0f} s")


if __name__ == "__main__":
    main()
