"""How much of where districts fell could any static map tell? A ceiling for the district goal.

Issue 11 asks for a Brier skill of 0.3 on held-out district facts. The simulation scores about
+0.14 on TOLOnews' held-out third at fixed dates (the fit report's measure). This script asks
how much a model that knows only *where* a district is could score on the same statuses: the
covariate-only reference (``sim/district_reference.py``, A28: proportional hazards on the run's
national curve, ridge 1) fitted to TOLOnews' fit split, read the same way (statuses at the fixed
dates), with ever more of the map: the rule's eight covariates; the region a district is in
(eight indicators); and its province (one indicator per province with at least two rural
districts), which learns each province's own timing from two-thirds of its districts and asks
it of the other third. Each is also fitted to both sources' fit splits on the facts' own dates
(as ``lwj_check.py`` does). Every reference is scored beside the simulation on the same
statuses, resampling districts for the intervals.

Run from the project folder: ``python calibration/static_ceiling.py [FOLDER]`` (default
``calibration/default``; about 20 s on two cores); writes ``static_ceiling.json`` into the folder
and prints a table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from external_check import HERE, rebuild_predictive, run_on_folder
from sim.district_facts import DistrictFacts, load_sources
from sim.district_reference import compare_with_reference
from sim.district_skill import STATUS_DATES
from sim.errors import UserError
from sim.hazard import Covariates

BOOTSTRAP = 1000


def indicators(labels: np.ndarray, rural: np.ndarray, prefix: str) -> dict:
    """One 0/1 covariate per label held by at least two rural districts."""
    return {f"{prefix}{x}": (labels == x).astype(float) for x in sorted(set(labels[rural]))
            if ((labels == x) & rural).sum() >= 2}


def static_ceiling(folder: Path, out_path: Path | None = None) -> dict:
    pred, geo, scenario, _ = rebuild_predictive(folder)
    cov = Covariates.build(geo, scenario.focus_regions)
    sources = load_sources(geo)
    if "tolonews" not in sources:
        raise UserError("this theatre has no TOLOnews reports to score", file=folder)
    tolonews = sources["tolonews"]
    held = tolonews.select(split="holdout", capitals=False).status_on(STATUS_DATES)
    fits = {"tolonews_fit_split_as_statuses":
                tolonews.select(split="fit", capitals=False).status_on(STATUS_DATES),
            "both_fit_splits_on_their_own_dates":
                DistrictFacts.concatenate([f.select(split="fit", in_window=None)
                                           for f in sources.values()])}
    region = indicators(np.asarray(geo.region), cov.rural, "region_")
    province = indicators(np.asarray(geo.province_index), cov.rural, "province_")
    variants = {"rule_covariates": dict(),
                "rule_covariates_and_region": dict(extra=region),
                "region_alone": dict(covariates=False, extra=region),
                "rule_covariates_and_province": dict(extra=province),
                "province_alone": dict(covariates=False, extra=province)}
    scored = {}
    for fit_name, fit in fits.items():
        scored[fit_name] = {}
        for name, kw in variants.items():
            c = compare_with_reference(pred.fall_time, fit, held, cov, bootstrap=BOOTSTRAP,
                                       resample="districts", **kw)
            scored[fit_name][name] = {k: c[k] for k in ("facts", "reference_skill",
                                                        "simulation_skill",
                                                        "simulation_minus_reference")}
    out = {"calibration": str(folder.relative_to(HERE.parent)),
           "scored": "TOLOnews' held-out third as statuses at the fixed dates "
                     + ", ".join(d.isoformat() for d in STATUS_DATES),
           "regions": len(region), "provinces": len(province), "references": scored}
    out_path = folder / "static_ceiling.json" if out_path is None else out_path
    out_path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str]) -> None:
    f = lambda e: f"{e['value']:+.3f} [{e['lo']:+.2f}, {e['hi']:+.2f}]"  # noqa: E731
    out = run_on_folder("static_ceiling", static_ceiling, argv)
    print(out["scored"])
    for fit_name, by_variant in out["references"].items():
        for name, c in by_variant.items():
            print(f"{fit_name:36s} {name:30s} reference {f(c['reference_skill'])}; "
                  f"simulation {f(c['simulation_skill'])}")


if __name__ == "__main__":
    main(sys.argv[1:])
