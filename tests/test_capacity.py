"""A32, the Taliban's finite offensive capacity (``b_capacity``, ``sim.hazard.held_mean_rate``).

The rural hazards are divided by Z^b, Z the mean own factor of the districts still held. At b = 1
the local terms (neighbours, covariates, air cover) decide where districts fall and the
nationwide ones how many: the held districts' total hazard is then the nationwide factor times
their number, whatever their neighbours. Checked here: that identity on the rule itself, the two
engines' agreement with the term on, and its consequence for the simulated counts (a law that
could fail: at b = 1 the count of rural falls before the assault has the same distribution for
any strength of contagion; at b = 0 it does not)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import hazard
from sim.batch import _BatchRun, run_batch
from sim.engine import run_replicate
from sim.model import Model
from sim.parameters import ParameterTable, Params, defaults
from sim.randomness import draw_batch, draw_replicate
from sim.scenario import load_scenario

from conftest import BASELINE


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), held=st.integers(1, 30), spread=st.floats(0.0, 6.0))
def test_at_full_capacity_the_held_districts_mean_hazard_is_the_nationwide_factor(seed, held, spread):
    rng = np.random.default_rng(seed)
    own = np.exp(rng.normal(0.0, spread, held))
    own = np.r_[own, np.zeros(5)]                     # fallen districts and capitals: 0
    p = Params({**defaults(), "b_capacity": 1.0})
    nationwide = hazard.rate(hazard.nationwide_log_pressure(
        p, {"momentum": 0.3, "cascade": 0.0}, 1.0, 0.0, 0.0, 0.9, hazard.held_mean_rate(own)))
    off = hazard.rate(hazard.nationwide_log_pressure(
        Params(defaults()), {"momentum": 0.3, "cascade": 0.0}, 1.0, 0.0, 0.0, 0.9))
    assert np.isclose((nationwide * own)[:held].mean(), off, rtol=1e-12)


def test_with_nothing_held_the_capacity_adds_nothing():
    assert hazard.held_mean_rate(np.zeros(7)) == 1.0
    np.testing.assert_array_equal(hazard.held_mean_rate(np.array([[0.0, 2.0, 4.0], [0, 0, 0]])),
                                  [3.0, 1.0])


def _model(geo):
    sc = load_scenario(BASELINE, geo)
    return sc, Model.build(geo, sc.events, sc.focus_regions, sc.end)


@pytest.mark.parametrize("capacity", [0.5, 1.0])
def test_both_engines_agree_with_a_finite_capacity(geo, capacity):
    sc, model = _model(geo)
    values = {**sc.parameters(), "b_capacity": capacity, "b_neighbour": 4.0}
    table = ParameterTable.constant(values, 12)
    batch = run_batch(model, table, draw_batch(5, range(12), geo.n), audit=True)
    for k in range(12):
        ref = run_replicate(model, Params(table.row(k)), draw_replicate(5, k, geo.n), record_log=False)
        np.testing.assert_allclose(batch.fall_time[k], ref.fall_time, rtol=0, atol=1e-8,
                                   equal_nan=True)
        assert np.array_equal(batch.mode[k], ref.mode)


def test_at_full_capacity_contagion_moves_where_districts_fall_not_how_many(geo):
    """Rural districts fallen by 30 June (before any assault on the cities in these runs), 600
    replicates per arm, contagion 0 against 5 (e^5 = 150-fold at a fully fallen border). At
    b_capacity = 1 the two means agree within 4 standard errors of their difference and which
    districts fell differs (the mean share of fallen districts that border another fallen one
    rises by more than 0.03: 0.71 to 0.77 when written, its standard error about 0.005); at
    b_capacity = 0 the same contagion adds more than 40 districts."""
    sc, model = _model(geo)
    R, day = 600, 61.0
    draws = draw_batch(17, range(R), geo.n)
    rural = ~geo.is_capital

    def run(capacity, neighbour):
        table = ParameterTable.constant({**sc.parameters(), "b_capacity": capacity,
                                         "b_neighbour": neighbour}, R)
        out = run_batch(model, table, draws)
        assert np.all(np.isnan(out.assault_time) | (out.assault_time > day))
        return np.nan_to_num(out.fall_time[:, rural], nan=np.inf) <= day

    def clustered(fallen):
        fallen_all = np.zeros((len(fallen), geo.n), dtype=bool)
        fallen_all[:, rural] = fallen
        share = np.array([geo.neighbour_share(f) for f in fallen_all])
        return np.mean([np.mean(share[k][fallen_all[k]] > 0) for k in range(len(fallen))])

    a, b = run(1.0, 0.0), run(1.0, 5.0)
    na, nb = a.sum(axis=1), b.sum(axis=1)
    se = np.sqrt(na.var(ddof=1) / R + nb.var(ddof=1) / R)
    assert abs(na.mean() - nb.mean()) < 4 * se
    assert clustered(b) > clustered(a) + 0.03
    c, d = run(0.0, 0.0), run(0.0, 5.0)
    assert d.sum(axis=1).mean() > c.sum(axis=1).mean() + 40


def test_the_batch_engine_keeps_the_count_of_districts_held_as_rates_vanish(geo):
    """The batch engine counts the districts each replicate holds (the positive own factors) as
    they fall instead of recounting them at every event; a rate that underflows to 0 mid-run (a
    district out of the rule from then on) must leave the count too. A strongly negative
    contagion drives the neighbours of early falls below exp(-745): after every event the kept
    count equals the recount, and the audit passes."""
    sc, model = _model(geo)
    values = {**sc.parameters(), "b_capacity": 1.0, "b_neighbour": -3000.0}
    R = 16
    table = ParameterTable.constant(values, R)
    standing = ~geo.is_capital
    vanished = []

    def observe(run, dt):
        np.testing.assert_array_equal(run.held, np.count_nonzero(run.h > 0, axis=1))
        vanished.append(int(np.sum((run.h == 0) & standing & ~run.fallen)))

    _BatchRun(model, table, draw_batch(3, range(R), geo.n), audit=True, observer=observe).run()
    assert max(vanished) > vanished[0]          # rates vanished after the start, not only at it
