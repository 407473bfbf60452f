"""The district frailty (``district_frailty``): an unobserved Gamma factor on each rural district's
hazard, implemented as the Lomax resistance it implies (``sim.hazard.district_resistance``).

Statistical checks use fixed seeds and a KS p-value floor of 0.01, and show their power by
rejecting the law without the frailty on the same sample.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim import hazard
from sim.batch import run_batch
from sim.parameters import ParameterTable
from sim.randomness import draw_batch

from conftest import null_values, tiny_geography, tiny_model
from test_engines import assert_engines_agree, baseline_model

P_FLOOR = 0.01


class _P:
    def __init__(self, theta):
        self.district_frailty = theta
        self.capital_endurance = 1.0


def test_no_frailty_returns_the_exponential_draw_to_the_bit():
    r = -np.log(np.random.default_rng(1).random((5, 40)))
    rural = np.arange(40) % 7 != 0
    out = hazard.district_resistance(_P(0.0), r, rural)
    assert np.array_equal(out, r)
    # a column of zeros among positive thetas (posterior draws) also keeps those rows' draws
    theta = np.array([[0.0], [0.5], [0.0], [2.0], [1.0]])
    out = hazard.district_resistance(_P(theta), r, rural)
    assert np.array_equal(out[[0, 2]], r[[0, 2]])
    assert not np.array_equal(out[1], r[1])


def test_capitals_keep_their_draw():
    r = -np.log(np.random.default_rng(2).random(30))
    rural = np.ones(30, dtype=bool)
    rural[[3, 11]] = False
    out = hazard.district_resistance(_P(1.5), r, rural)
    assert np.array_equal(out[~rural], r[~rural])
    assert np.all(out[rural] > r[rural])


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 5.0), st.lists(st.floats(1e-6, 30.0), min_size=2, max_size=30))
def test_the_resistance_is_monotone_in_the_draw_and_never_below_it(theta, draws):
    """Property: the transform keeps the order of the draws (the common random numbers of two
    scenarios stay paired) and adds resistance: a frail district's threshold E / Z is
    stochastically larger than E when Z has mean 1 (Jensen)."""
    r = np.sort(np.array(draws))
    out = hazard.district_resistance(_P(theta), r, np.ones(r.size, dtype=bool))
    assert np.all(np.diff(out) >= 0)
    assert np.all(out >= r * (1 - 1e-12))


def test_a_constant_hazard_with_frailty_gives_the_lomax_fall_times():
    """One district at a constant rate lam: with a Gamma frailty of variance theta its survival
    is the Laplace transform of the Gamma, (1 + theta lam t)^(-1/theta), not exp(-lam t)."""
    rate, theta = 0.03, 1.5
    model = tiny_model(tiny_geography(1, []))
    table = ParameterTable.constant(null_values(base_rate=rate, district_frailty=theta), 4000)
    ft = run_batch(model, table, draw_batch(11, range(4000), model.n)).fall_time[:, 1]
    horizon = model.horizon
    survival = lambda t: (1 + theta * rate * t) ** (-1 / theta)  # noqa: E731
    assert abs(np.isnan(ft).mean() - survival(horizon)) < 0.02
    cdf = lambda t: (1 - survival(t)) / (1 - survival(horizon))  # noqa: E731
    observed = ft[np.isfinite(ft)]
    assert stats.kstest(observed, cdf).pvalue > P_FLOOR
    exponential = lambda t: (1 - np.exp(-rate * t)) / (1 - np.exp(-rate * horizon))  # noqa: E731
    assert stats.kstest(observed, exponential).pvalue < P_FLOOR


def test_both_engines_agree_with_the_frailty_switched_on(geo):
    sc, model = baseline_model(geo)
    table = ParameterTable.constant({**sc.parameters(), "district_frailty": 1.2}, 16)
    b = assert_engines_agree(model, table, seed=8)
    # and the frailty changed the run (the test is not comparing two copies of the default)
    plain = run_batch(model, ParameterTable.constant(sc.parameters(), 16),
                      draw_batch(8, range(16), model.n))
    assert not np.allclose(np.nan_to_num(plain.fall_time, nan=-1), np.nan_to_num(b.fall_time, nan=-1))
