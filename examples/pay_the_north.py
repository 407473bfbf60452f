"""A what-if of your own, from Python: "salaries paid in the north from 1 June", asked of the
2021 that happened.

Runs as is from the project folder (``python examples/pay_the_north.py``; about 6 s on two
cores at the default size, ``AFSIM_EXAMPLE_REPLICATES=40`` for a quick look). It shows the four
steps an analyst takes with the API:

1. write the policy as a scenario: a TOML file that names its base and changes the timeline (here
   a *scoped* pay event: the arrears of the northern regions set to zero from 1 June, national
   arrears running on elsewhere; README, "Writing a scenario");
2. compare it with the baseline on common random numbers (replicate k of both shares its random
   numbers and its posterior draw), ten replicates per posterior draw;
3. condition on the record: keep the 2021s whose countryside matched the recorded district counts
   (``Comparison.condition_on``), so the effect is the policy's in the history that happened;
4. read each effect with its two uncertainties apart: the Monte Carlo error of the mean and the
   spread across posterior draws, and look at the figures.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sim
from sim.geography import load_geography
from sim.plots import survival_chart
from sim.targets import load_targets

PROJECT = Path(__file__).resolve().parents[1]

PAY_THE_NORTH = f'''
[scenario]
name = "pay_the_north"
description = "Salaries paid in the northern regions from 1 June 2021; arrears run on elsewhere."
base = "{(PROJECT / "scenarios" / "baseline.toml").as_posix()}"

[[timeline.add]]
id = "pay_north"
date = 2021-06-01
driver = "pay_arrears"
value = 0.0
regions = ["Northern", "North Eastern"]
source = "what-if (examples/pay_the_north.py)"
'''


def main(replicates: int = 1000, out: Path | None = None) -> dict:
    out = Path(out or tempfile.mkdtemp(prefix="afsim-example-"))
    out.mkdir(parents=True, exist_ok=True)
    scenario = out / "pay_the_north.toml"
    scenario.write_text(PAY_THE_NORTH, encoding="utf-8")

    comparison = sim.compare([PROJECT / "scenarios" / "baseline.toml", scenario],
                             replicates=replicates, seed=1, replicates_per_draw=10)
    record = load_targets(PROJECT / "calibration" / "targets.toml", load_geography())
    kept = comparison.condition_on(record.fitted_districts)

    as_simulated = comparison.effect("pay_the_north", "kabul_days")
    as_recorded = comparison.conditioned_effect("pay_the_north", "kabul_days")
    for label, e in (("as simulated", as_simulated), ("in the 2021s that went as recorded", as_recorded)):
        print(f"pay the north, {label}: Kabul holds {e['mean']:+.1f} days "
              f"(Monte Carlo s.e. {e['mc_se']:.1f}; across posterior draws "
              f"{e['pred_q05']:+.1f} to {e['pred_q95']:+.1f})")
    print(f"conditioned on {', '.join(kept.points)}: effective sample "
          f"{kept.effective_replicates:.0f} of {replicates}")
    survival_chart(comparison).savefig(out / "survival.png", dpi=110)
    print(f"figure: {out / 'survival.png'}")
    return {"as_simulated": as_simulated, "as_recorded": as_recorded, "out": out}


if __name__ == "__main__":
    main(int(os.environ.get("AFSIM_EXAMPLE_REPLICATES", "1000")))
