"""Where the decision's uncertainty comes from: the countryside's posterior or the cities'.

The cut (README, Calibration and fit) draws the rural parameters (stage 1) and the decision's,
cities' and Kabul's (stage 2) independently. The predictive run pairs them at random, so it cannot
say which posterior the spread of the decision date comes from. This script crosses them: A draws
of the countryside's parameters x B draws of the cities', m replicates per cell on common random
numbers, the baseline scenario to the end of the theatre, and splits the variance of the decision
date and of the first capital's fall into the two posteriors, their interaction and chance
(``sim.fit.variance_sources``). It also reports how each countryside draw's mean count at the
fitted checkpoints correlates with its mean decision date.

Run from the project folder: ``python calibration/decision_sources.py`` (about a minute on two
cores); writes ``calibration/default/decision_sources.json`` and prints a table.
"""

from __future__ import annotations

import csv
import os
import json
from pathlib import Path

import numpy as np

from sim.batch import run_batch
from sim.calibration_config import load_config
from sim.fit import variance_sources
from sim.geography import load_geography
from sim.model import Model
from sim.parameters import NAMES, ParameterTable
from sim.randomness import draw_batch
from sim.scenario import load_scenario
from sim.targets import load_targets

HERE = Path(__file__).resolve().parent
A, B, M = 120, 24, 6
SEED = int(os.environ.get("DECISION_SOURCES_SEED", 20211203))


def main() -> None:
    geo = load_geography()
    config = load_config(HERE / "default.toml", geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    model = Model.build(geo, scenario.events, scenario.focus_regions, scenario.end)
    rows = list(csv.DictReader((HERE / "default" / "posterior.csv").open()))
    stage = {s.name: set(s.names) for s in config.stages}
    rng = np.random.default_rng(SEED)
    rural_draws = rng.choice(len(rows), A, replace=False)
    city_draws = rng.choice(len(rows), B, replace=False)
    base = np.array([scenario.parameters()[n] for n in NAMES])
    values = np.tile(base, (A, B, M, 1))
    for name in rows[0]:
        if name in stage["rural"] or name in stage["capitals"]:
            pick = rural_draws if name in stage["rural"] else city_draws
            col = np.array([float(rows[k][name]) for k in pick])
            values[..., NAMES.index(name)] = col[:, None, None] if pick is rural_draws else col[None, :, None]
    values = scenario.apply_table(ParameterTable(values.reshape(-1, len(NAMES)))).values
    res = run_batch(model, ParameterTable(values), draw_batch(SEED, list(range(M)) * (A * B), geo.n))
    horizon = model.horizon
    decision = np.where(np.isfinite(res.assault_time), res.assault_time, horizon).reshape(A, B, M)
    first = np.nanmin(np.where(geo.is_capital[None, :], res.fall_time, np.inf), axis=1)
    first = np.where(np.isfinite(first), first, horizon).reshape(A, B, M)
    out = {"design": {"countryside_draws": A, "city_draws": B, "replicates_per_cell": M,
                      "seed": SEED, "scenario": scenario.name,
                      "never_within_horizon": float(np.mean(~np.isfinite(res.assault_time)))},
           "decision_date": variance_sources(decision),
           "first_capital_fall": variance_sources(first)}
    for key, X in (("decision_date", decision), ("first_capital_fall", first)):
        widths = [np.quantile(X[a], 0.95) - np.quantile(X[a], 0.05) for a in range(A)]
        out[key]["width_90_days"] = float(np.quantile(X, 0.95) - np.quantile(X, 0.05))
        out[key]["width_90_given_countryside_draw_days"] = float(np.mean(widths))
    mean_decision = decision.mean(axis=(1, 2))
    out["countryside_counts"] = []
    for t in targets.districts:
        if t.weight <= 0:
            continue
        day = geo.theatre.day_of(t.date)
        count = (res.fall_time <= day).sum(axis=1).reshape(A, B, M)
        per_draw = count.mean(axis=(1, 2))
        out["countryside_counts"].append({
            "id": t.id, "date": t.date.isoformat(),
            "record": [t.low, t.high] if t.is_range else t.districts,
            "between_draws_sd": float(per_draw.std()), "within_draw_sd": float(count.std(axis=2).mean()),
            "correlation_with_draw_decision_date": float(np.corrcoef(per_draw, mean_decision)[0, 1])})
    (HERE / "default" / "decision_sources.json").write_text(json.dumps(out, indent=2) + "\n")
    print("| date | 90% width (d) | given the countryside draw | countryside posterior | cities' posterior | interaction | chance |")
    print("|---|---|---|---|---|---|---|")
    for key in ("decision_date", "first_capital_fall"):
        v = out[key]
        print(f"| {key.replace('_', ' ')} | {v['width_90_days']:.1f} | {v['width_90_given_countryside_draw_days']:.1f} "
              f"| {v['first']:.0%} | {v['second']:.0%} | {v['interaction']:.0%} | {v['chance']:.0%} |")
    for c in out["countryside_counts"]:
        print(f"{c['id']} ({c['date']}, record {c['record']}): between draws sd {c['between_draws_sd']:.1f}, "
              f"within a draw sd {c['within_draw_sd']:.1f}, r with the draw's decision date "
              f"{c['correlation_with_draw_decision_date']:+.2f}")


if __name__ == "__main__":
    main()
