"""Skill given the neighbours' reports, on synthetic runs whose spatial law is known."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.district_facts import DistrictFacts
from sim.district_neighbours import (conditional_probability, known_statuses,
                                     neighbour_share_reported, neighbour_validation)

DAYS = (20.0, 40.0, 60.0, 80.0)


def _truth_facts(geo, truth: np.ndarray) -> DistrictFacts:
    """A one-day capture fact per rural district on its true fall day, split by pcode hash as
    the package's facts are (about a third held out)."""
    rows = np.flatnonzero(~geo.is_capital)
    day = np.floor(truth[rows])
    split = np.where(np.arange(rows.size) % 3 == 0, "holdout", "fit")
    return DistrictFacts.from_arrays(rows, day, day, "captured", split, geo=geo)


def _run(geo, province_shared: bool, seed: int, replicates: int = 1500):
    """Replicates plus one more as the truth: each district falls at its province's time (plus a
    day or two) when ``province_shared``, else at its own independent time."""
    rng = np.random.default_rng(seed)
    n_prov = int(geo.province_index.max()) + 1
    if province_shared:
        prov = rng.uniform(5.0, 95.0, size=(replicates + 1, n_prov))
        fall = prov[:, geo.province_index] + rng.uniform(0.0, 2.0, size=(replicates + 1, geo.n))
    else:
        fall = rng.uniform(5.0, 97.0, size=(replicates + 1, geo.n))
    return fall[:-1], fall[-1]


def _dates(geo):
    origin = geo.theatre.start
    return [origin + dt.timedelta(days=int(d) - 1) for d in DAYS]   # the end of day d - 1


@pytest.mark.parametrize("shared", [True, False])
def test_the_neighbours_reports_help_exactly_when_the_law_is_spatial(geo, shared):
    fall, truth = _run(geo, shared, seed=5)
    facts = _truth_facts(geo, truth)
    out = neighbour_validation(fall, geo, {"synthetic": facts}, _dates(geo), bootstrap=300)
    s = out["synthetic_holdout"]
    assert s["with_a_reported_neighbour"] > 0.8
    # every district has the same marginal law: unconditionally no better than the null
    assert abs(s["skill_unconditional"]["value"]) < 0.05
    if shared:     # a district's neighbours share its province's time: their reports give it away
        assert s["skill_given_neighbours"]["value"] > 0.5
        assert s["given_neighbours_minus_unconditional"]["lo"] > 0.3
        assert s["skill_neighbour_reference"]["value"] > 0.3
    else:          # independent districts: the neighbours' reports say nothing
        assert abs(s["given_neighbours_minus_unconditional"]["value"]) < 0.05
        assert s["neighbour_reference"]["log_hazard_per_sd"]["neighbours_reported_fallen"] < 0.5


def test_conditioning_reads_only_the_neighbours_never_the_district(geo):
    """The scored district's own known status must not enter its conditional probability: known
    statuses that contradict every replicate at the district itself change nothing."""
    fall, truth = _run(geo, True, seed=8, replicates=400)
    facts = _truth_facts(geo, truth).status_on(_dates(geo))
    scored = facts.select(split="holdout")
    known = known_statuses(facts.select(split="fit"))
    p, agreeing = conditional_probability(fall, geo, known, scored)
    for k in range(0, len(scored), 7):
        one = scored.subset([k])
        poisoned = {**known, (int(one.row[0]), float(one.score_day[0])): 1.0 - one.outcome[0]}
        p2, agreeing2 = conditional_probability(fall, geo, poisoned, one)
        assert p2[0] == p[k] and agreeing2[0] == agreeing[k]
    share = neighbour_share_reported(geo, known, scored)
    assert np.all((share[np.isfinite(share)] >= 0) & (share[np.isfinite(share)] <= 1))
