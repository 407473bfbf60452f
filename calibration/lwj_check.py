"""Would the Long War Journal's district control map of 2018 tell where the 2021 collapse came first?

Issue 11 asks for district skill the project's covariates cannot give: the covariate-only
reference (``sim/district_reference.py``) reaches a Brier skill of about +0.03 on TOLOnews'
held-out reports. The one public district-level source of *prior* Taliban strength found for
the 399 AGCHO districts is FDD's Long War Journal's "Mapping Taliban Control in Afghanistan"
(September 2018), as transcribed to the AGCHO districts in the GitHub repository
``jiaweniscute/afg-taliban-map`` (``calibration/data/lwj_district_control_2018.csv``; provenance
in ``calibration/data/README.md``): each district Taliban-controlled, contested or government.

This script asks, before the source enters the rule, what it would add: it rebuilds a committed
calibration's predictive ensemble exactly (as ``external_check.py`` does) and fits the covariate
reference three ways, to the fit splits of both sources (the seed's facts and TOLOnews'): with
the rule's covariates, with them and the two LWJ indicators (Taliban-controlled, contested;
government the base), and with the LWJ indicators alone. Each is scored on both held-out splits
with the same Brier skill over the national-share null, the same bootstrap and the Spearman of
median fall dates, beside the simulation. It also counts, per LWJ status, how many rural districts
TOLOnews reported taken in May-August 2021: a district the Taliban already held would not be
reported taken again.

Run from the project folder: ``python calibration/lwj_check.py [FOLDER]`` (default
``calibration/default``; about 15 s on two cores); writes ``lwj_check.json`` into the folder and
prints a table. A missing or malformed data file is a one-line error, exit code 2.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from external_check import HERE, rebuild_predictive, run_on_folder
from sim.district_facts import DistrictFacts, load_sources
from sim.district_reference import compare_with_reference
from sim.errors import UserError
from sim.hazard import Covariates

DATA = HERE / "data" / "lwj_district_control_2018.csv"
STATUSES = ("taliban", "contested", "government")


def load_lwj(path: Path, pcodes) -> np.ndarray:
    """Each district's LWJ status, in the geography's order; every district once, nothing else."""
    if not path.is_file():
        raise UserError("no such file (expected the LWJ district control table)", file=path)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    status = {}
    for line, row in enumerate(rows, start=2):
        pcode, value = row.get("pcode"), row.get("lwj_control")
        if value not in STATUSES:
            raise UserError(f"expected one of {', '.join(STATUSES)}, got {value!r}", file=path,
                            key="lwj_control", line=line)
        if pcode in status:
            raise UserError(f"district {pcode} listed twice", file=path, key="pcode", line=line)
        status[pcode] = value
    missing = [p for p in pcodes if p not in status]
    unknown = sorted(set(status) - set(pcodes))
    if missing or unknown:
        raise UserError(f"expected every district of the geography once: missing {missing[:3]}, "
                        f"unknown {unknown[:3]}", file=path, key="pcode")
    return np.array([status[p] for p in pcodes])


def lwj_check(folder: Path) -> dict:
    pred, geo, scenario, _ = rebuild_predictive(folder)
    status = load_lwj(DATA, geo.pcodes)
    cov = Covariates.build(geo, scenario.focus_regions)
    extra = {"lwj_taliban": status == "taliban", "lwj_contested": status == "contested"}
    sources = load_sources(geo)
    fit = DistrictFacts.concatenate([facts.select(split="fit", in_window=None)
                                     for facts in sources.values()])
    variants = {"rule_covariates": dict(), "rule_covariates_and_lwj": dict(extra=extra),
                "lwj_alone": dict(covariates=False, extra=extra)}
    out = {"calibration": str(folder.relative_to(HERE.parent)), "data": str(DATA.relative_to(HERE.parent)),
           "fitted_to": "the fit splits of the seed's facts and TOLOnews' reports",
           "references": {name: {f"{src}_holdout": compare_with_reference(
               pred.fall_time, fit, facts.select(split="holdout"), cov, **kw)
               for src, facts in sources.items()}
               for name, kw in variants.items()}}
    rural = cov.rural
    reported = np.zeros(geo.n, dtype=bool)
    reported[sources["tolonews"].select(kinds="captured").row] = True
    out["tolonews_reported_taken_by_lwj_status"] = {
        s: {"rural_districts": int((rural & (status == s)).sum()),
            "reported_taken": int((rural & reported & (status == s)).sum())} for s in STATUSES}
    (folder / "lwj_check.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str]) -> None:
    f = lambda e: f"{e['value']:+.3f} [{e['lo']:+.2f}, {e['hi']:+.2f}]"  # noqa: E731
    out = run_on_folder("lwj_check", lwj_check, argv)
    for name, scored in out["references"].items():
        for src, c in scored.items():
            rho = f", Spearman {f(c['reference_spearman'])}" if "reference_spearman" in c else ""
            print(f"{name:26s} {src:17s} n={c['facts']:3d} reference skill {f(c['reference_skill'])}"
                  f"{rho}; simulation {f(c['simulation_skill'])}")
    for s, c in out["tolonews_reported_taken_by_lwj_status"].items():
        print(f"LWJ {s:10s}: {c['reported_taken']:3d} of {c['rural_districts']:3d} rural districts "
              "reported taken by TOLOnews in 2021")


if __name__ == "__main__":
    main(sys.argv[1:])
