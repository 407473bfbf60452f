"""Conditioning the predictive on the recorded counts (sim/conditioning.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim.conditioning import condition_on_counts, counts_at, observation_log_weights
from sim.targets import CountTarget
from sim.theatre import AFGHANISTAN_2021

AF = AFGHANISTAN_2021
day_of = AF.day_of

JULY31 = dt.date(2021, 7, 31)


def point(districts, tolerance=0.05, weight=1.0, date=JULY31):
    return CountTarget("p", date, districts, tolerance, weight, "", "")


def ensemble(fallen_by_july31: np.ndarray, n: int = 300) -> np.ndarray:
    """Fall times in which replicate r has exactly fallen_by_july31[r] districts fallen by 31 July."""
    ft = np.full((len(fallen_by_july31), n), np.nan)
    for r, k in enumerate(fallen_by_july31):
        ft[r, :k] = day_of(JULY31) + 0.5
    return ft


def test_counts_are_read_at_the_end_of_the_checkpoints_day():
    ft = ensemble(np.array([5, 9]))
    ft[0, 20] = day_of(JULY31) + 1.0                 # the next morning: not yet
    assert counts_at(ft, (point(7),), AF).ravel().tolist() == [5.0, 9.0]


def test_the_observation_weight_is_the_calibrations_normal_model():
    ft = ensemble(np.array([200, 221, 250]))
    lw = observation_log_weights(ft, (point(221, tolerance=0.05, weight=0.5),), AF)
    sd = 0.05 * 221
    assert lw.tolist() == pytest.approx([-0.25 * (21 / sd) ** 2, 0.0, -0.25 * (29 / sd) ** 2])
    assert observation_log_weights(ft, (point(221, weight=0.0),), AF).tolist() == [0.0, 0.0, 0.0]


def test_conditioning_pulls_the_countryside_to_the_record_without_moving_draws():
    """Statistical: 400 draws x 10 replicates, counts spread +/-40 around each draw's own mean;
    the recorded 221 with a 5% tolerance. Conditioning must bring the mean absolute error of the
    count well below the unconditional one, and keep every draw's share of the ensemble."""
    rng = np.random.default_rng(11)
    draws, m = 400, 10
    draw_means = rng.normal(225, 15, size=draws)
    counts = np.clip(np.rint(np.repeat(draw_means, m) + rng.normal(0, 40, size=draws * m)), 0, 299)
    ft = ensemble(counts.astype(int))
    c = condition_on_counts(ft, (point(221),), m, seed=1, theatre=AF)
    before = np.abs(counts - 221).mean()
    after = np.abs(counts[c.indices] - 221).mean()
    assert before > 28 and after < 0.6 * before
    # no replicate leaves its draw, and every draw keeps exactly m replicates
    assert np.array_equal(c.indices // m, np.arange(draws * m) // m)
    assert 1 * draws <= c.effective_replicates < draws * m


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=37), st.integers(1, 12), st.integers(0, 2**31))
def test_resampling_stays_within_draws_and_is_reproducible(counts, m, seed):
    ft = ensemble(np.array(counts), n=40)
    a = condition_on_counts(ft, (point(20, tolerance=0.2),), m, seed, AF)
    b = condition_on_counts(ft, (point(20, tolerance=0.2),), m, seed, AF)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.indices // m, np.arange(len(counts)) // m)


def test_without_counts_nothing_is_resampled():
    ft = ensemble(np.array([3, 8, 1, 7, 2]))
    assert condition_on_counts(ft, (), 2, seed=0, theatre=AF).indices.tolist() == [0, 1, 2, 3, 4]
