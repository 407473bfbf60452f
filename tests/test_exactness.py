"""The engines are exact for piecewise-constant hazards: checked against closed forms.

Each test runs both engines where it is cheap to do so; statistical checks use a fixed seed,
enough replicates for a sharp test, and state their tolerance (a KS p-value floor of 0.01: a
correct engine fails it one time in a hundred seeds, a wrong hazard fails it at every seed).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from sim import hazard
from sim.parameters import Params
from sim.batch import run_batch
from sim.engine import run_replicate
from sim.parameters import ParameterTable
from sim.randomness import draw_batch, draw_replicate
from sim.theatre import AFGHANISTAN_2021
from sim.timeline import Event

day_of = AFGHANISTAN_2021.day_of

from conftest import complete_graph_edges, null_params, null_values, tiny_geography, tiny_model

P_FLOOR = 0.01


def batch_fall_times(model, values, replicates, seed=7):
    table = ParameterTable.constant(values, replicates)
    return run_batch(model, table, draw_batch(seed, range(replicates), model.n)).fall_time


def test_constant_hazard_gives_exponential_fall_times():
    rate = 0.02
    geo = tiny_geography(1, [])
    model = tiny_model(geo)
    ft = batch_fall_times(model, null_values(base_rate=rate), 3000)[:, 1]
    observed = ft[np.isfinite(ft)]
    # Censored at the horizon: compare with the exponential truncated there.
    horizon = model.horizon
    assert np.isnan(ft).mean() == pytest.approx(np.exp(-rate * horizon), abs=0.01)
    cdf = lambda t: (1 - np.exp(-rate * t)) / (1 - np.exp(-rate * horizon))  # noqa: E731
    assert stats.kstest(observed, cdf).pvalue > P_FLOOR
    # The wrong rate must be rejected by the same test (the test has power).
    wrong = lambda t: (1 - np.exp(-1.3 * rate * t)) / (1 - np.exp(-1.3 * rate * horizon))  # noqa: E731
    assert stats.kstest(observed, wrong).pvalue < P_FLOOR


def test_simpy_engine_constant_hazard_is_exponential():
    rate = 0.05
    geo = tiny_geography(1, [])
    model = tiny_model(geo)
    p = null_params(base_rate=rate)
    ft = np.array([run_replicate(model, p, draw_replicate(3, k, model.n), record_log=False).fall_time[1]
                   for k in range(600)])
    horizon = model.horizon
    cdf = lambda t: (1 - np.exp(-rate * t)) / (1 - np.exp(-rate * horizon))  # noqa: E731
    assert stats.kstest(ft[np.isfinite(ft)], cdf).pvalue > P_FLOOR


def chain_cdf_b(t, a, b, b_after):
    """P(T_B <= t) for two districts A, B: B's hazard is b, then b_after once A has fallen.

    A's hazard stays a (its neighbour weight on B is zero in this set-up).
    """
    s = a + b
    first_b = b / s * (1 - np.exp(-s * t))
    if np.isclose(s, b_after):
        after_a = a / s * (1 - np.exp(-s * t)) - a * np.exp(-b_after * t) * t
    else:
        after_a = a / s * (1 - np.exp(-s * t)) - a * np.exp(-b_after * t) * (
            1 - np.exp(-(s - b_after) * t)) / (s - b_after)
    return first_b + after_a


def test_two_district_chain_matches_closed_form():
    # Rural 0 = A, rural 1 = B; B's only neighbour is A, so N_B jumps 0 -> 1 when A falls.
    # A also touches the never-falling capital, with a border so long that B's fall moves N_A
    # by a negligible amount (1e-9): A's hazard is effectively constant.
    geo = tiny_geography(2, [(0, 1, 1.0)], capital_link=1e9)
    model = tiny_model(geo)
    base, beta = 0.01, 1.5
    ft = batch_fall_times(model, null_values(base_rate=base, b_neighbour=beta), 4000, seed=11)
    a, b, b_after = base, base, base * np.exp(beta)
    tb = ft[:, 2]
    horizon = model.horizon
    total = chain_cdf_b(horizon, a, b, b_after)
    assert np.isfinite(tb).mean() == pytest.approx(total, abs=0.015)
    cdf = lambda t: chain_cdf_b(np.asarray(t), a, b, b_after) / total  # noqa: E731
    assert stats.kstest(tb[np.isfinite(tb)], cdf).pvalue > P_FLOOR
    # Without the neighbour effect B would be exponential: the test can tell the difference.
    plain = lambda t: (1 - np.exp(-b * np.asarray(t))) / (1 - np.exp(-b * horizon))  # noqa: E731
    assert stats.kstest(tb[np.isfinite(tb)], plain).pvalue < P_FLOOR


def test_piecewise_constant_timeline_is_honoured_at_its_change_date():
    rate, factor = 0.01, 6.0
    change = dt.date(2021, 6, 20)
    T = day_of(change)
    events = [Event("arrears", change, "pay_arrears", 1.0, "test")]
    geo = tiny_geography(1, [])
    model = tiny_model(geo, events)
    # arrears saturate (A11b): the hazard's factor after the change is exp(b_pay * S(1))
    values = null_values(base_rate=rate, b_pay=np.log(factor))
    factor = float(np.exp(values["b_pay"] * hazard.pay_effect(Params(values), 1.0)))
    ft = batch_fall_times(model, values, 4000, seed=5)[:, 1]

    def cdf(t):
        t = np.asarray(t, dtype=float)
        cum = np.where(t < T, rate * t, rate * T + factor * rate * (t - T))
        return 1 - np.exp(-cum)

    horizon = model.horizon
    fin = ft[np.isfinite(ft)]
    assert stats.kstest(fin, lambda t: cdf(t) / cdf(horizon)).pvalue > P_FLOOR
    # The hazard before and after the change date, estimated from the data, within 15%.
    before = (fin < T).sum() / np.minimum(np.where(np.isnan(ft), horizon, ft), T).sum()
    exposure_after = np.clip(np.where(np.isnan(ft), horizon, ft) - T, 0, None).sum()
    after = (fin >= T).sum() / exposure_after
    assert before == pytest.approx(rate, rel=0.15)
    assert after == pytest.approx(factor * rate, rel=0.15)


def test_simpy_engine_applies_driver_changes_on_their_date():
    change = dt.date(2021, 7, 2)
    events = [Event("bagram", change, "air_support", 0.25, "test")]
    geo = tiny_geography(1, [])
    model = tiny_model(geo, events)
    res = run_replicate(model, null_params(base_rate=1e-6), draw_replicate(1, 0, model.n))
    logged = [e for e in res.log if e.kind == "driver"]
    assert [(e.subject, e.time) for e in logged] == [("bagram", day_of(change))]


def granovetter_final_share(sigma: float, n: int = 200, mu: float = 0.25, steep: float = 400.0):
    """A pure threshold cascade on a complete graph.

    District i's log-hazard is steep * (N_i - theta_i), theta_i the i-th normal quantile: it falls
    almost at once when the share of others fallen passes its threshold, and (almost) never
    before. ``reach`` carries the thresholds (b_reach = steep; thresholds below 0 become 0, the
    instigators), the neighbour term the share.
    """
    theta = mu + sigma * stats.norm.ppf((np.arange(n) + 0.5) / n)
    geo = tiny_geography(n, complete_graph_edges(n), reach=np.clip(theta, 0, 1))
    model = tiny_model(geo, end=dt.date(2021, 6, 30))
    values = null_values(base_rate=1.0, b_neighbour=steep, b_reach=steep)
    ft = batch_fall_times(model, values, 4, seed=1)
    return np.isfinite(ft[:, 1:]).mean(axis=1)


def test_granovetter_threshold_cascade_jumps_at_the_critical_spread():
    # Mean-field fixed point F = Phi((F - 0.25) / sigma), starting from the instigators
    # (thresholds <= 0), jumps from near-none to near-all near sigma = 0.122 (Granovetter 1978:
    # mean 25, critical standard deviation 12.2, out of 100).
    low = granovetter_final_share(0.09)
    high = granovetter_final_share(0.16)
    assert np.all(low < 0.1)
    assert np.all(high > 0.95)
