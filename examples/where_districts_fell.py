"""Where the collapse came first: judging the model's district probabilities against a source it
never saw.

Runs as is from the project folder (``python examples/where_districts_fell.py``; about 4 s on
two cores at the default size, ``AFSIM_EXAMPLE_REPLICATES=200`` for a quick look). It shows the
steps an analyst takes to see whether the model knows *where*, not only how fast:

1. run the baseline under two posteriors: the calibrated default, which fits the district
   reports as statuses (one interval per district) with a finite offensive capacity (A32), and
   the previous default, which fitted the seed's facts alone on their own dates
   (`calibration/structures/previous_default`; README, "Calibration and fit");
2. score each against TOLOnews' held-out third (never fitted by either) as statuses at fixed
   dates: "had district i fallen by d?", Brier skill over the run's own national share
   (:func:`sim.district_skill.fixed_date_skill`);
3. ask it again given what the district's neighbours were reported as on the same date
   (:mod:`sim.district_neighbours`): does the model's contagion carry the record's clustering?
4. look at the reliability diagram: are the probabilities calibrated, and do they spread away
   from the national share at all?
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sim
from sim.district_facts import load_sources
from sim.district_neighbours import neighbour_validation
from sim.district_skill import STATUS_DATES, fixed_date_skill, model_probability
from sim.plots import reliability_chart
from sim.posterior import read_posterior

PROJECT = Path(__file__).resolve().parents[1]
POSTERIORS = {
    "default": PROJECT / "calibration" / "default" / "posterior.csv",
    "previous default": PROJECT / "calibration" / "structures" / "previous_default" / "posterior.csv",
}


def main(replicates: int = 1000, out: Path | None = None) -> dict:
    out = Path(out or tempfile.mkdtemp(prefix="afsim-example-"))
    out.mkdir(parents=True, exist_ok=True)
    geo = sim.load_geography()
    sources = load_sources(geo)
    reports = sources["tolonews"]
    held_out = reports.select(split="holdout", capitals=False).status_on(STATUS_DATES)
    scores, curves = {}, {}
    for name, path in POSTERIORS.items():
        result = sim.run(PROJECT / "scenarios" / "baseline.toml", replicates=replicates, seed=1,
                         parameters=read_posterior(path), replicates_per_draw=10, geo=geo,
                         keep_fall_times=True)
        at_dates = fixed_date_skill(result.fall_time, reports, split="holdout", capitals=False)
        given = neighbour_validation(result.fall_time, geo, sources,
                                     STATUS_DATES)["tolonews_holdout"]
        scores[name] = {"at_fixed_dates": at_dates.skill.value,
                        "given_neighbours": given["skill_given_neighbours"]["value"],
                        "spearman": at_dates.spearman.value}
        print(f"{name}: TOLOnews' held-out districts at fixed dates, Brier skill "
              f"{at_dates.skill.value:+.2f} ({at_dates.skill.lo:+.2f} to {at_dates.skill.hi:+.2f}); "
              f"given the neighbours' reports {given['skill_given_neighbours']['value']:+.2f}; "
              f"Spearman of median fall dates {at_dates.spearman.value:.2f}")
        curves[name] = (model_probability(result.fall_time, held_out), held_out.outcome)
    fig = reliability_chart(curves, title="TOLOnews' held-out districts at fixed dates: "
                            "predicted against reported (examples/where_districts_fell.py)")
    fig.savefig(out / "reliability.png", dpi=110)
    print(f"figure: {out / 'reliability.png'}")
    return {"scores": scores, "out": out}


if __name__ == "__main__":
    main(int(os.environ.get("AFSIM_EXAMPLE_REPLICATES", "1000")))
