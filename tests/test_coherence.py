"""Issue 10's coherence goal, on the committed posterior and every shipped scenario.

"In every shipped scenario where Kabul falls in at least half the replicates, the median number of
other capitals fallen strictly before Kabul is at least 20, and the Taliban hold at least half of
all districts when it falls" (the record: 32 capitals and about 90% of districts). Measured as the
README's main command measures it: 1,000 paired replicates, seed 1, ten per posterior draw. A
fixed seed, so the medians are what the README reports. Measured on 5 December 2026: 30-31
capitals before Kabul and 36-110 districts still held in the seven scenarios where it falls in
every replicate, and 28 capitals, 55 districts with the surrender chain broken (Kabul falls by
31 December in 82% of its replicates). Until the scenario halved Kabul's response to the
capitals' cascade as well (A29) it had exactly 20 capitals before Kabul, no margin at all; under
a candidate structure fitted to the district statuses it had 19, and this test is where such a
change fails first. Salaries paid and air and pay keep Kabul to the horizon in 99% of replicates.
Under the default since 6 December 2026 (the statuses with a finite offensive capacity, A32):
27-30 capitals before Kabul and 69-126 districts still held where it falls, the chain broken
falling by 31 December in 70% of its replicates; salaries paid and air and pay hold it in all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import main_command_structures
from sim.compare import compare

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_every_shipped_scenario_is_coherent_where_kabul_falls(geo):
    comp = compare(sorted(SCENARIOS.glob("*.toml")), replicates=1000, seed=1, geo=geo, workers=1,
                   replicates_per_draw=10)
    other_capitals = len(geo.capital_rows) - 1
    checked = []
    for name, res in comp.results.items():
        falls = ~np.isnan(res.kabul_fall_time)
        if falls.mean() < 0.5:          # salaries paid, air and pay: Kabul holds to the horizon
            continue
        capitals_held = comp.outcome(name, "capitals_held_at_kabul_fall")[falls]
        districts_held = comp.outcome(name, "districts_held_at_kabul_fall")[falls]
        fallen_before = other_capitals - np.median(capitals_held)
        assert fallen_before >= 20, (name, fallen_before)
        assert np.median(districts_held) <= geo.n / 2, (name, np.median(districts_held))
        checked.append(name)
    # the goal binds where Kabul falls: the baseline and at least six of the nine what-ifs
    assert "baseline" in checked and len(checked) >= 7




@pytest.mark.slow
def test_every_structure_of_the_main_command_is_coherent_where_kabul_falls(geo):
    """The README's main command runs every what-if under sixteen more posteriors; the coherence goal
    must hold under each, not only under the default (measured on 5 December 2026: 29-32 capitals
    before Kabul and at most 124 districts still held, in every scenario and structure where Kabul
    falls in at least half the replicates; Kabul falls in 47% of the replicates with the chain
    broken under statuses_joint_narrow, so there the goal does not bind; on 6 December 2026 under
    statuses_joint_capacity, the default since that day: 27-28 capitals before Kabul, at most 126
    districts still held; the previous default is now one of the five; arrears_earlier, added on
    6 December 2026 with its own timeline, which every scenario is rebased on: 30-31 capitals
    before Kabul, at most 133 districts still held; withdrawal_countryside, the same day: 30 capitals
    before Kabul, at most 128 districts still held; the second seeds of the default and of
    cities_fallen, added late that day, pass too: 178 s for the eleven on the Zen 4 AMD EPYC; on
    7 December 2026 the default became the precedent's posterior, A35, and the default of
    6 December and its second seed joined as statuses_joint_capacity and its seed7: twelve; later
    that day the better-sampled default, rural192_differential: thirteen; later still the default
    became rural192_cities128 and the precedent joined beside its second seed: fourteen here; late
    on 7 December the default's second and third calibration seeds joined: sixteen).
    The structures are read from README line 6, so the test follows the main command."""
    from sim.posterior import read_posterior
    folders = main_command_structures()
    assert len(folders) == 16
    posteriors = {s: read_posterior(f / "posterior.csv") for s, f in folders.items()}
    baselines = {s: f / "baseline.toml" for s, f in folders.items() if (f / "baseline.toml").is_file()}
    assert list(baselines) == ["arrears_earlier"]
    comp = compare(sorted(SCENARIOS.glob("*.toml")), replicates=1000, seed=1, geo=geo, workers=2,
                   replicates_per_draw=10, parameters=posteriors, baselines=baselines)
    other_capitals = len(geo.capital_rows) - 1
    checked = 0
    for structure in folders:
        for name, res in comp.structures[structure].items():
            falls = ~np.isnan(res.kabul_fall_time)
            if falls.mean() < 0.5:
                continue
            held = comp.outcome(name, "capitals_held_at_kabul_fall", structure=structure)[falls]
            districts = comp.outcome(name, "districts_held_at_kabul_fall", structure=structure)[falls]
            assert other_capitals - np.median(held) >= 20, (structure, name)
            assert np.median(districts) <= geo.n / 2, (structure, name)
            checked += 1
    assert checked >= 6 * len(folders)
