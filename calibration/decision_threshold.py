"""Is the early attack the decision threshold's chance or the countryside's?

The assault decision (A14) comes when its accumulated hazard reaches a Gamma(k, 1/k) threshold,
and the hazard reads the national share of districts fallen. Within one posterior draw, both the
threshold and the countryside's own path are chance. This script runs the baseline under the
default posterior twice on the same random numbers (common replicates, ten per posterior draw):
once as calibrated, once with every draw's threshold nearly fixed (``assault_shape`` at its upper
bound, 2000: the threshold's sd 2% of its mean, against a posterior median of k = 80, 11%). If the
early attacks (a capital before 6 August) and the decision's spread within a draw barely move,
they are the countryside's chance turned into days by a share-driven decision; the script also
reports the countryside's spread within a draw on 31 July and its pace in early August, which
convert one into the other.

Run from the project folder: ``python calibration/decision_threshold.py`` (about 10 s on two
cores); writes ``calibration/default/decision_threshold.json`` and prints the comparison.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from sim.batch import run_batch
from sim.calibration_config import load_config
from sim.fit import p_capital_before
from sim.geography import load_geography
from sim.model import Model
from sim.parameters import NAMES, ParameterTable
from sim.posterior import read_posterior
from sim.randomness import draw_batch
from sim.scenario import load_scenario

HERE = Path(__file__).resolve().parent
R, PER_DRAW, SEED = 4000, 10, 5
NEARLY_FIXED_SHAPE = 2000.0


def _summary(res, geo) -> dict:
    decision = res.assault_time
    by_draw = decision.reshape(-1, PER_DRAW)
    within = np.nanquantile(by_draw, 0.95, axis=1) - np.nanquantile(by_draw, 0.05, axis=1)
    return {"p_capital_before_aug6": p_capital_before(res.fall_time, geo),
            "decision_day_q05_q50_q95": [float(v) for v in np.nanquantile(decision, [0.05, 0.5, 0.95])],
            "decision_range_90_within_a_draw_days_mean": float(np.nanmean(within)),
            "p_decision": float(np.mean(np.isfinite(decision)))}


def main(out: Path | None = None) -> dict:
    """Runs both, writes the JSON to ``out`` (default ``calibration/default/decision_threshold.json``)
    and returns it."""
    geo = load_geography()
    config = load_config(HERE / "default.toml", geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    model = Model.build(geo, scenario.events, scenario.focus_regions, scenario.end)
    source = read_posterior(HERE / "default" / "posterior.csv")
    table = scenario.apply_table(source.table(SEED, range(R), replicates_per_draw=PER_DRAW))
    draws = draw_batch(SEED, range(R), geo.n)
    as_calibrated = run_batch(model, table, draws)
    fixed = table.values.copy()
    fixed[:, NAMES.index("assault_shape")] = NEARLY_FIXED_SHAPE
    nearly_fixed = run_batch(model, ParameterTable(fixed), draws)
    day = geo.theatre.day_of
    rural = ~geo.is_capital
    count = lambda d: (as_calibrated.fall_time[:, rural] <= day(d)).sum(axis=1)  # noqa: E731
    end_july = count(dt.date(2021, 7, 31)).reshape(-1, PER_DRAW)
    pace = (count(dt.date(2021, 8, 5)) - count(dt.date(2021, 7, 26))) / 10.0
    result = {"design": {"replicates": R, "replicates_per_draw": PER_DRAW, "seed": SEED,
                         "posterior": "calibration/default/posterior.csv",
                         "nearly_fixed_shape": NEARLY_FIXED_SHAPE},
              "as_calibrated": _summary(as_calibrated, geo),
              "threshold_nearly_fixed": _summary(nearly_fixed, geo),
              "countryside": {
                  "rural_fallen_31_july_sd_within_a_draw": float(end_july.std(axis=1).mean()),
                  "rural_falls_per_day_26_july_to_5_august_median": float(np.median(pace))}}
    out_path = Path(out) if out is not None else HERE / "default" / "decision_threshold.json"
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    for key in ("as_calibrated", "threshold_nearly_fixed"):
        s = result[key]
        print(f"{key}: P(capital before 6 Aug) {s['p_capital_before_aug6']:.3f}; decision day "
              f"5-50-95% {np.round(s['decision_day_q05_q50_q95'], 1).tolist()}; its 90% range within "
              f"a draw {s['decision_range_90_within_a_draw_days_mean']:.1f} d")
    c = result["countryside"]
    print(f"countryside within a draw: sd of rural districts fallen on 31 July "
          f"{c['rural_fallen_31_july_sd_within_a_draw']:.1f}; pace 26 July-5 August "
          f"{c['rural_falls_per_day_26_july_to_5_august_median']:.1f} districts a day; "
          f"written to {out_path}")
    return result


if __name__ == "__main__":
    main()
