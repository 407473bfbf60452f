"""Would the 1 May state drawn where the Long War Journal saw the Taliban tell where 2021 began?

The 73 districts the Taliban held on 1 May are drawn uniformly among the rural districts in
every replicate (A19): the record gives their number, not which. The one public district-level
source of earlier Taliban control is FDD's Long War Journal map of September 2018
(``calibration/data/lwj_district_control_2018.csv``, provenance in ``calibration/data/README.md``).
This script asks what drawing the start from it would do to the district skill, before the
source enters the rule: it reruns the default calibration's posterior predictive ensemble (its
posterior, seed and replicates; the uniform start reproduces the fit report to the bit) with the
start's log weights raised by ``w_taliban`` for the districts LWJ rated Taliban-controlled and
``w_contested`` for the contested ones, and scores both sources' facts at fixed dates (the fit
report's measure), the fit splits beside the held-out ones. The fit splits are what a refit
would read: if they lose skill as the held-out ones do, a calibration that estimated the weights
would set them near zero.

Not the model: the weights enter through a wrapper of ``sim.hazard.initial_log_weights`` for
this run only.

Run from the project folder: ``python calibration/lwj_start.py`` (about 40 s on two cores);
writes ``calibration/default/lwj_start.json`` and prints a table. A missing or malformed data
file is a one-line error, exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import sim.hazard as hazard
from external_check import HERE, rebuild_predictive, run_on_folder
from lwj_check import DATA, load_lwj
from sim.calibration_output import PREDICTIVE_REPLICATES_PER_DRAW, fixed_date_validation
from sim.ensemble import run
from sim.geography import load_geography
from sim.posterior import read_posterior

#: (w_taliban, w_contested): the uniform start, then ever more weight on LWJ's Taliban districts
WEIGHTS = ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 1.0))
SCORED = ("tolonews_holdout", "tolonews_fit", "seed_holdout", "seed_fit")


def lwj_start(folder: Path, weights=WEIGHTS, out_path: Path | None = None) -> dict:
    """The runs, written to ``out_path`` (default: ``lwj_start.json`` in ``folder``)."""
    _, geo, scenario, report = rebuild_predictive(folder)
    status = load_lwj(DATA, geo.pcodes)
    taliban, contested = (status == "taliban").astype(float), (status == "contested").astype(float)
    cal = report["calibration"]
    plain = hazard.initial_log_weights
    rows = []
    try:
        for w_t, w_c in weights:
            def weighted(p, cov, w_t=w_t, w_c=w_c):
                base = plain(p, cov)
                return np.where(np.isfinite(base), base + w_t * taliban + w_c * contested, base)
            hazard.initial_log_weights = weighted
            pred = run(scenario, replicates=report["replicates"], seed=cal["predictive_seed"],
                       parameters=read_posterior(folder / "posterior.csv"), workers=None,
                       replicates_per_draw=PREDICTIVE_REPLICATES_PER_DRAW, geo=geo,
                       keep_fall_times=True)
            scored = fixed_date_validation(pred.fall_time, geo)
            rows.append({"w_taliban": w_t, "w_contested": w_c,
                         **{k: {"skill": scored[k]["skill"], "spearman": scored[k].get("spearman")}
                            for k in SCORED}})
    finally:
        hazard.initial_log_weights = plain
    first = rows[0]["tolonews_holdout"]["skill"]
    want = report["district_skill_at_fixed_dates"]["tolonews_holdout"]["skill"]
    if weights[0] == (0.0, 0.0) and first != want:
        raise SystemExit(f"{folder}: the uniform start did not reproduce the fit report "
                         f"({first['value']} vs {want['value']})")
    out = {"calibration": str(folder.relative_to(HERE.parent)),
           "data": str(DATA.relative_to(HERE.parent)),
           "what": "the default's posterior predictive rerun with the 1 May state drawn with log "
                   "weights raised for LWJ's 2018 Taliban-controlled and contested districts; "
                   "Brier skill over the national share at fixed dates, both sources, both splits",
           "runs": rows}
    out_path = folder / "lwj_start.json" if out_path is None else out_path
    out_path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str]) -> None:
    out = run_on_folder("lwj_start", lwj_start, argv)
    print("w_taliban w_contested " + " ".join(f"{k:>18s}" for k in SCORED))
    for r in out["runs"]:
        cells = " ".join(f"{r[k]['skill']['value']:+.3f} [{r[k]['skill']['lo']:+.2f},{r[k]['skill']['hi']:+.2f}]"
                         for k in SCORED)
        print(f"{r['w_taliban']:9.1f} {r['w_contested']:11.1f} {cells}")


if __name__ == "__main__":
    main(sys.argv[1:])
