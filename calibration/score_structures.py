"""Leave-future-out comparison of model structures (issue 10, item 6).

Each structure was fitted on the record up to a cut-off (``afsim forecast --as-of``) and is scored
here on what happened after it, by the weighted interval score of its published quantiles
(``sim/scoring.py``), the same way for each. The in-sample fit of the full calibrations is
reported beside it, but the comparison is the out-of-sample one: a free calendar delay can hit an
in-sample constraint exactly.

Run from the project folder: ``python calibration/score_structures.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sim.geography import load_geography
from sim.scoring import score_forecast, summarise
from sim.targets import load_targets

HERE = Path(__file__).resolve().parent
ORIGIN, HORIZON = dt.date(2021, 5, 1), dt.date(2021, 12, 31)
CUT_OFFS = (dt.date(2021, 6, 23), dt.date(2021, 7, 21))


#: Each structure scored: its label, the folder of its forecasts (one per cut-off), the folder of
#: its full calibration's fit report (both under calibration/), and the name the main command
#: (README line 6: calibration/structures/pooled.toml) pools it under, or "" if it does not.
S = "structures"
ENTRIES = (
    ("clock (b7e185f)", (S, "clock"), (S, "clock", "default"), ""),
    ("state-driven decision, 1 May on reach, border, south (issue 10; to 8f464d2)",
     (S, "weighted_start"), (S, "weighted_start"), "weighted_start"),
    ("+ uniform 1 May, the assault allowed before the cut-off (4 Dec 2026, c14db78)",
     (S, "flat_start"), (S, "flat_start"), ""),
    ("1 May on reach, border, south, knowing the assault had not begun (A22d), 3,200 steps",
     (S, "weighted_start", "not_yet"), (S, "weighted_start"), ""),
    ("uniform 1 May, knowing the assault had not begun, cities by importance sampling, 512 city draws, 20,000 replicates (the default until 6 Dec 2026: previous_default)",
     (S, "previous_default"), (S, "previous_default"), "previous_default"),
    ("+ district frailty, flat start (not adopted)", (S, "frailty_flat"), (S, "frailty_flat"), ""),
    ("+ the same, cities without the forces term (not adopted)",
     (S, "frailty_flat", "noforces"), (S, "frailty_flat", "noforces"), ""),
    ("district statuses fitted at half weight, signed momentum (statuses_joint_half; not adopted)",
     (S, "statuses_joint_half"), (S, "statuses_joint_half"), ""),
    ("district statuses at full weight, narrow spatial priors (statuses_joint_narrow; the candidate, not adopted)",
     (S, "statuses_joint_narrow"), (S, "statuses_joint_narrow"), "statuses_joint_narrow"),
    ("+ the Taliban's offensive capacity finite (statuses_joint_capacity, A32; the default 6-7 Dec 2026; in the main command)",
     (S, "statuses_joint_capacity"), (S, "statuses_joint_capacity"), "statuses_joint_capacity"),
    ("statuses_joint_capacity with another calibration seed (statuses_joint_capacity_seed7; in the main command)",
     (S, "statuses_joint_capacity", "seed7"), (S, "statuses_joint_capacity", "seed7"),
     "statuses_joint_capacity_seed7"),
    ("+ the salary arrears a month earlier (arrears_earlier, A11c; in the main command)",
     (S, "arrears_earlier"), (S, "arrears_earlier"), "arrears_earlier"),
    ("+ the withdrawal acting on the districts (withdrawal_countryside, A13c; in the main command)",
     (S, "withdrawal_countryside"), (S, "withdrawal_countryside"), "withdrawal_countryside"),
    ("the decision reading the share gently (decision_gentle, A14b; not in the main command)",
     (S, "decision_gentle"), (S, "decision_gentle"), ""),
    ("+ the districts following the fallen cities, the count by Kabul's fall fitted (cities_fallen, A34; in the main command)",
     (S, "cities_fallen"), (S, "cities_fallen"), "cities_fallen"),
    ("cities_fallen with another calibration seed (cities_fallen_seed7; in the main command)",
     (S, "cities_fallen", "seed7"), (S, "cities_fallen", "seed7"), "cities_fallen_seed7"),
    ("the previous default with a province following its fallen capital (capital_fallen, A30; in the main command)",
     (S, "capital_fallen"), (S, "capital_fallen"), "capital_fallen"),
    ("the previous default with another calibration seed (seed7; in the main command)",
     (S, "seed7"), (S, "seed7"), "seed7"),
    ("statuses_joint_capacity with a precedent: a first capital within a week of the assault (precedent, A35; the default 7 Dec 2026; in the main command)",
     (S, "precedent"), (S, "precedent"), "precedent"),
    ("the precedent with another calibration seed (precedent_seed7, precedent/seed7; in the main command)",
     (S, "precedent", "seed7"), (S, "precedent", "seed7"), "precedent_seed7"),
    ("the precedent, its countryside's likelihood on four times the replicates, differential-evolution moves (rural192_differential; in the main command)",
     (S, "rural192_differential"), (S, "rural192_differential"), "rural192_differential"),
    ("the same, the countryside's search halved, the cities' likelihood on twice the replicates (rural192_cities128; the default since 7 Dec 2026)",
     (), ("default",), "default"),
    ("the default with another calibration seed (default_seed11, rural192_cities128/seed11; in the main command)",
     (S, "rural192_cities128", "seed11"), (S, "rural192_cities128", "seed11"), "default_seed11"),
    ("the default with a third calibration seed (default_seed7, rural192_cities128/seed7; in the main command)",
     (S, "rural192_cities128", "seed7"), (S, "rural192_cities128", "seed7"), "default_seed7"),
)
STRUCTURES = {label: {f"forecast-{d}": HERE.joinpath(*forecasts, f"forecast-{d}") for d in CUT_OFFS}
              for label, forecasts, *_ in ENTRIES}
FULL = {label: HERE.joinpath(*full, "fit_report.json") for label, _, full, _ in ENTRIES}

def main(out: Path = HERE / "structures") -> dict:
    """Score every entry's forecasts; write ``comparison.json`` and ``comparison.md`` into
    ``out``; return the scores."""
    targets = load_targets(HERE / "targets.toml", load_geography())
    # the counts given as values (a range, "148 seized as of 12 July", has no value to score)
    counts = {t.date: t.districts for t in targets.fitted_districts}
    result: dict = {"method": __doc__.strip().splitlines()[2], "cut_offs": {}, "in_sample": {}}
    for d in CUT_OFFS:
        block = {}
        for name, folders in STRUCTURES.items():
            block[name] = summarise(score_forecast(folders[f"forecast-{d}"], d, ORIGIN, HORIZON, counts))
        result["cut_offs"][d.isoformat()] = block
    for name, path in FULL.items():
        rep = json.loads(path.read_text())
        stages = rep["calibration"]["stages"]
        result["in_sample"][name] = {
            "max_log_posterior_capitals_stage": stages["capitals"]["max_log_posterior"],
            "capital_mae_days": rep["capital_mae_days"], "capital_spearman": rep["capital_spearman"],
            "coverage_90": rep["coverage_90"], "interval_width_90": rep["interval_width_90"],
            "p_capital_before_aug6": rep["p_capital_before_aug6"],
            "kabul_fall_date": rep["kabul_fall_date"]}
    (out / "comparison.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| cut-off | structure | capitals after the cut-off: mean WIS (days) | 90% coverage |"
             " Kabul: WIS (days), median | district counts after the cut-off: mean WIS | 90% coverage |",
             "|---|---|---|---|---|---|---|"]
    for d, block in result["cut_offs"].items():
        for name, s in block.items():
            cap, dis, kab = s.get("capital", {}), s.get("districts", {}), s.get("kabul", {})
            kday = ORIGIN + dt.timedelta(days=int(kab.get("median_day", 0)))
            lines.append(f"| {d} | {name} | {cap.get('mean_wis_days', float('nan')):.1f} | "
                         f"{cap.get('coverage_90', float('nan')):.2f} | "
                         f"{kab.get('wis_days', float('nan')):.1f}, {kday:%d %b} | "
                         f"{dis.get('mean_wis_districts', float('nan')):.1f} | "
                         f"{dis.get('coverage_90', float('nan')):.2f} |")
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
