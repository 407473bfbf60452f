"""District skill scores on synthetic fall times whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.district_facts import DistrictFacts
from sim.district_skill import (district_skill, fact_table, median_fall_day, model_probability,
                                national_share, observation_probability, skill_from_npz)

N = 40


def _dated_facts(true_day, rows, held_rows=()):
    """A capture fact on each district's true day, plus 'held' facts 5 days before the fall."""
    rows = np.asarray(rows)
    held_rows = np.asarray(held_rows, dtype=int)
    row = np.concatenate([rows, held_rows])
    lower = np.concatenate([true_day[rows], true_day[held_rows] - 5])
    upper = lower.copy()
    kind = ["captured"] * rows.size + ["held"] * held_rows.size
    split = np.where(np.arange(row.size) % 3 == 0, "holdout", "fit")
    return DistrictFacts.from_arrays(row, lower, upper, kind, split)


@pytest.fixture(scope="module")
def true_day():
    return np.random.default_rng(11).permutation(np.arange(10.0, 10.0 + 3 * N, 3.0))


def test_a_perfect_predictor_has_skill_one_and_rank_correlation_one(true_day):
    fall = np.tile(true_day + 0.5, (50, 1))            # every replicate falls on the true day
    facts = _dated_facts(true_day, range(N), held_rows=range(0, N, 4))
    s = district_skill(fall, facts, bootstrap=300, seed=1)
    assert s.brier_model.value == 0.0
    assert s.brier_null.value > 0.1
    assert s.skill.value == pytest.approx(1.0)
    assert s.skill.lo == pytest.approx(1.0)
    assert s.spearman.value == pytest.approx(1.0)
    assert s.n_facts == len(facts) and s.n_dated == N


def test_the_national_share_null_scores_zero_skill_against_itself(true_day):
    # Replicate r gives district i the day true_day[(i + r) % N]: over the N replicates every
    # district sees every day once, so its P(fallen by d) IS the national share.
    fall = np.array([np.roll(true_day, -r) for r in range(N)]) + 0.5
    facts = _dated_facts(true_day, range(N), held_rows=range(0, N, 3))
    p_model = model_probability(fall, facts)
    np.testing.assert_allclose(p_model, national_share(fall, facts.score_day))
    s = district_skill(fall, facts, bootstrap=200, seed=2)
    assert s.skill.value == pytest.approx(0.0, abs=1e-12)
    assert s.brier_model.value == pytest.approx(s.brier_null.value)


def test_a_reversed_order_gives_negative_spearman_and_negative_skill(true_day):
    order = np.argsort(true_day)
    reversed_day = np.empty_like(true_day)
    reversed_day[order] = true_day[order[::-1]]          # earliest falls last and vice versa
    fall = np.tile(reversed_day + 0.5, (30, 1))
    facts = _dated_facts(true_day, range(N))
    s = district_skill(fall, facts, bootstrap=300, seed=3)
    assert s.spearman.value == pytest.approx(-1.0)
    assert s.spearman.hi < 0
    assert s.skill.value < 0


def test_never_fell_is_not_fallen_and_ranks_last(true_day):
    fall = np.tile(true_day + 0.5, (20, 1))
    fall[:, 0] = np.nan                                  # district 0 never falls
    facts = _dated_facts(true_day, [0])
    assert model_probability(fall, facts)[0] == 0.0
    assert np.isinf(median_fall_day(fall)[0])
    share = national_share(fall, [np.inf])
    assert share[0] == pytest.approx((N - 1) / N)


def test_bootstrap_is_seeded_reproducible_and_brackets_the_estimate(true_day):
    rng = np.random.default_rng(5)
    fall = true_day + rng.normal(0, 15, size=(200, N))   # a noisy but informative model
    facts = _dated_facts(true_day, range(N), held_rows=range(0, N, 2))
    a = district_skill(fall, facts, bootstrap=400, seed=7)
    b = district_skill(fall, facts, bootstrap=400, seed=7)
    c = district_skill(fall, facts, bootstrap=400, seed=8)
    assert a == b
    assert a.skill != c.skill                            # the seed matters to the interval
    for est in (a.brier_model, a.brier_null, a.skill, a.spearman):
        assert est.lo <= est.value <= est.hi
    assert 0 < a.skill.value < 1 and a.spearman.value > 0.5
    d = a.to_dict()
    assert json.loads(json.dumps(d))["skill"]["value"] == pytest.approx(a.skill.value)


def test_spearman_kinds_choose_the_dated_facts(true_day):
    fall = np.tile(true_day + 0.5, (10, 1))
    rows = np.arange(N)
    kind = np.where(rows % 2 == 0, "captured", "crossing_captured")
    facts = DistrictFacts.from_arrays(rows, true_day, true_day, kind)
    only = district_skill(fall, facts, bootstrap=50)
    both = district_skill(fall, facts, bootstrap=50,
                          spearman_kinds=("captured", "crossing_captured"))
    assert only.n_dated == N // 2 and both.n_dated == N
    assert both.spearman.value == pytest.approx(1.0)


def test_split_selects_only_that_split(true_day):
    fall = np.tile(true_day + 0.5, (10, 1))
    facts = _dated_facts(true_day, range(N))
    s = district_skill(fall, facts, split="holdout", bootstrap=50)
    assert s.n_facts == int(np.sum(facts.split == "holdout")) < len(facts)
    assert s.split == "holdout"


def test_month_interval_uses_its_upper_bound_for_fallen_by():
    # Fell in June (days 31..60): a model that always falls on 25 June is fully right about
    # "fallen by the end of June"; the null (half the districts fall late) is not.
    facts = DistrictFacts.from_arrays([0], [31.0], [60.0], ["captured"])
    fall = np.array([[55.5, 200.0]] * 10)
    assert model_probability(fall, facts)[0] == 1.0
    assert national_share(fall, facts.score_day)[0] == pytest.approx(0.5)
    assert facts.midpoint[0] == pytest.approx(46.0)


def test_bad_shapes_are_refused(true_day):
    facts = _dated_facts(true_day, range(N))
    with pytest.raises(ValueError, match="districts"):
        district_skill(np.zeros((5, 3)), facts)
    with pytest.raises(ValueError, match="replicates, districts"):
        district_skill(np.zeros(N), facts)


def test_package_facts_score_a_run_from_its_npz(tmp_path, geo):
    # A run saved with its columns in another order is matched to the districts by pcode.
    from sim.district_facts import load_district_facts
    facts = load_district_facts(geo=geo)
    rng = np.random.default_rng(0)
    fall = rng.uniform(0, 200, size=(64, geo.n))
    path = tmp_path / "fall_times.npz"
    perm = rng.permutation(geo.n)                        # store columns shuffled, by pcode
    np.savez(path, fall_time=fall[:, perm], pcode=np.array(geo.pcodes)[perm])
    s = skill_from_npz(path, facts, split="holdout", bootstrap=100)
    direct = district_skill(fall, facts, split="holdout", bootstrap=100)
    assert s == direct
    assert s.n_facts == len(facts.select("holdout"))
    rows = fact_table(fall, facts)
    assert len(rows) == len(facts.select()) and {"p_model", "p_null"} <= rows[0].keys()


def test_observation_probability_follows_the_stated_model():
    # one district, four replicates falling on days 10.5, 40.5, 70.5 and never
    fall = np.array([[10.5], [40.5], [70.5], [np.nan]])
    facts = DistrictFacts.from_arrays(
        [0, 0, 0, 0, 0],
        [31.0, -np.inf, 40.0, 40.0, 39.0],
        [60.0, 40.0, 40.0, 40.0, 39.0],
        ["captured", "fell_by", "crossing_captured", "held", "repelled"])
    p = observation_probability(fall, facts)
    # captured in June (days 31..60): only the 40.5 replicate; fell by the end of day 40: two;
    # held at the end of day 40: the 70.5 one and the one that never fell; at the end of day 39
    # the 40.5 one also still holds
    np.testing.assert_allclose(p, [0.25, 0.5, 0.5, 0.5, 0.75])
