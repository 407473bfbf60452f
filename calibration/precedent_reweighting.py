"""How much a precedent about the cities' pace could move a forecast, before calibrating with it.

The forecast of the default of 6 December 2026 (``calibration/structures/statuses_joint_capacity``,
without the precedent) as of a cut-off keeps the cities' wide priors, which read "instant or
never" once the Taliban turn on the cities. A35 (``calibration/structures/precedent``, the default
since 7 December 2026) adds a precedent: a first capital falls within a week of the assault. This
script asks, before any calibration, how much that could move the forecast and whether the week
matters: it simulates that committed forecast's posterior predictive (its ``posterior.csv``, kept in
the structure's ``forecast-DATE`` folder) (the baseline, 20,000 replicates, 10 per posterior
draw, seed 1) and reweights each posterior draw by the precedent's probability over its own
replicates (the calibration's own term, ``Likelihood.first_within``: the replicates whose assault
came at least that many days before 31 December), for a day, three days, a week and two
weeks. Reweighting a posterior by one more likelihood factor is what calibrating with it does, up to the Monte Carlo error of ten replicates per draw and the
longer horizon (the calibration's stage sees assaults up to 31 August only).

Writes ``calibration/structures/precedent/reweighting-DATE.json`` (with the unweighted forecast's
``once_the_cities_are_attacked``, as a forecast's ``forecast.json`` now gives it). Run from the
project folder:
``python calibration/precedent_reweighting.py [--as-of 2021-07-21]`` (about 30 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT_DIR = HERE / "structures" / "precedent"
PER_DRAW = 10
WEEKS = (None, 1.0, 3.0, 7.0, 14.0)


def precedent_likelihood():
    """The precedent's term as the structure's calibration reads it (its targets, as of 21 July:
    the bandwidth, the floor and the constraint itself), from :class:`sim.likelihood.Likelihood`."""
    import datetime as dt

    import sim
    from sim.likelihood import Likelihood
    from sim.targets import load_targets
    geo = sim.load_geography()
    targets = load_targets(OUT_DIR / "targets.toml", geo).as_of(dt.date(2021, 7, 21))
    return Likelihood.build(targets.for_stage("capitals"), geo)


def draw_weights(first: np.ndarray, assault: np.ndarray, horizon: float, days: float | None,
                 likelihood=None) -> np.ndarray:
    """Per replicate, its draw's weight: the precedent's probability (``Likelihood.first_within``,
    the calibration's own term, with ``days`` and ``horizon`` put in) over the draw's replicates
    (consecutive groups of :data:`PER_DRAW`) whose assault came at least ``days`` before
    ``horizon``; 1 for a draw with none such and for ``days`` None. ``first``, ``assault``: (R,)
    model times, NaN or inf for never."""
    n = len(assault)
    if days is None:
        return np.ones(n)
    lik = replace(likelihood or precedent_likelihood(), precedent_days=np.array([float(days)]),
                  precedent_w=np.ones(1), horizon=float(horizon))
    never = lambda x: np.where(np.isnan(x), np.inf, x).reshape(-1, PER_DRAW)
    return np.repeat(np.exp(lik.first_within(never(first), never(assault))), PER_DRAW)


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float, never: float) -> float:
    x = np.where(np.isnan(x), never, x)
    order = np.argsort(x, kind="stable")
    c = np.cumsum(w[order]) / w.sum()
    return float(x[order][min(int(np.searchsorted(c, q)), len(x) - 1)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--as-of", default="2021-07-21", choices=("2021-06-23", "2021-07-21"))
    args = ap.parse_args(argv)
    import sim
    from sim.posterior import read_posterior
    from sim.calibration_output import after_the_assault
    from sim.scoring import weighted_interval_score
    geo = sim.load_geography()
    th = geo.theatre
    # the forecast without the precedent: reweighting the default's own (which has it) would
    # count the precedent twice
    folder = HERE / "structures" / "statuses_joint_capacity" / f"forecast-{args.as_of}"
    source = read_posterior(folder / "posterior.csv")
    res = sim.run(ROOT / "scenarios" / "baseline.toml", replicates=20000, seed=1,
                  parameters=source, replicates_per_draw=PER_DRAW, workers=2, geo=geo,
                  keep_fall_times=True)
    caps = res.fall_time[:, geo.capital_rows]
    first = np.nanmin(np.where(np.isnan(caps), np.inf, caps), axis=1)
    assault, kabul = res.assault_time, res.kabul_fall_time
    horizon = float(th.day_of(th.end) + 1)
    fell = th.capital_fell
    by_fell = (np.where(np.isnan(caps), np.inf, caps) < th.day_of(fell) + 1).sum(axis=1)
    cut = dt.date.fromisoformat(args.as_of)
    recorded = [(j, dt.date.fromisoformat(p.fell_on)) for j, p in enumerate(geo.provinces)
                if p.fell_on and dt.date.fromisoformat(p.fell_on) > cut]
    likelihood = precedent_likelihood()
    out = {"as_of": args.as_of, "replicates": int(len(kabul)), "per_draw": PER_DRAW, "seed": 1,
           "method": __doc__.strip().splitlines()[0],
           "once_the_cities_are_attacked": after_the_assault(assault, kabul, res.summary.daily_caps),
           "by_days": {}}
    for days in WEEKS:
        w = draw_weights(first, assault, horizon, days, likelihood)
        day = lambda q, x=kabul: weighted_quantile(x, w, q, horizon)
        date = lambda d: th.date_of(d).isoformat() if d < horizon else None
        wis = []
        for j, fell_on in recorded:
            q = {k: weighted_quantile(caps[:, j], w, p, horizon)
                 for k, p in (("q05", .05), ("q25", .25), ("q50", .5), ("q75", .75), ("q95", .95))}
            wis.append(weighted_interval_score(q, th.day_of(fell_on) + 0.5))
        out["by_days"]["none" if days is None else f"{days:g}"] = {
            "effective_draws": float(w[::PER_DRAW].sum() ** 2 / (w[::PER_DRAW] ** 2).sum()),
            "kabul_q10": date(day(0.1)), "kabul_q50": date(day(0.5)), "kabul_q90": date(day(0.9)),
            "p_kabul_by_31_august": float(np.sum(w * (kabul < th.day_of(th.deadline) + 1)) / w.sum()),
            "p_kabul_by_31_december": float(np.sum(w * np.isfinite(kabul)) / w.sum()),
            "capitals_fallen_by_15_august_q50": weighted_quantile(by_fell.astype(float), w, 0.5, 99),
            "assault_q50": date(day(0.5, assault)),
            "capitals_after_the_cut_off_mean_wis_days": float(np.mean(wis)),
        }
    (OUT_DIR / f"reweighting-{args.as_of}.json").write_text(json.dumps(out, indent=2) + "\n",
                                                        encoding="utf-8")
    for k, v in out["by_days"].items():
        print(k, v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
