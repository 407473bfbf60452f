"""The capitals' stage resumes every parameter point from the countryside simulated once
(:mod:`sim.prologue`): it must give the uninterrupted run's outcomes bit for bit, for parameter
points from the posterior and from the whole prior, on the shipped and the synthetic theatre and
with scoped drivers, and it must refuse a stage that varies a parameter the countryside reads."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import hazard, prologue
from sim.calibrate import _model_for, _stage_horizon
from sim.calibration_config import load_config
from sim.exposures import EXPOSURES, TERMS
from sim.parameter_sets import simulate_sets
from sim.parameters import NAMES
from sim.randomness import draw_batch
from sim.scenario import load_scenario
from sim.targets import load_targets

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "capitalia_1975"
FIELDS = ("fall_time", "mode", "assault_time", "end_time")


def _same(a, b) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in FIELDS)


@pytest.fixture(scope="module")
def stage(geo):
    """The default calibration's capitals stage: its model, 24 replicates each carrying a draw of
    the committed posterior (as the cut does), its free columns and priors, and the prologue."""
    from sim.ensemble import default_parameter_source
    config = load_config(ROOT / "calibration" / "default.toml", geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    model = _model_for(scenario, geo, _stage_horizon("capitals", targets, config))
    capitals = next(s for s in config.stages if s.name == "capitals")
    R = 24
    base = scenario.apply_table(default_parameter_source().table(7, range(R))).values
    columns = np.array([NAMES.index(n) for n in capitals.names])
    draws = draw_batch(config.seed, range(R), geo.n)
    return model, base, draws, columns, capitals.priors, prologue.Prologue.simulate(model, base, draws)


def _prior_points(priors, u: np.ndarray) -> np.ndarray:
    return np.column_stack([p.from_z(p.from_unit(u[:, j])) for j, p in enumerate(priors)])


def test_resuming_gives_the_uninterrupted_run_bit_for_bit(stage):
    model, base, draws, columns, priors, pro = stage
    posterior = base[:8][:, columns]                       # eight posterior points
    points = np.vstack([posterior, _prior_points(priors, np.random.default_rng(3).random((8, len(priors))))])
    full = simulate_sets(model, base, draws, columns, points)
    fast = simulate_sets(model, base, draws, columns, points, pro)
    assert _same(full, fast)
    # both branches ran: rows resumed before their decision, and rows whose decision never came
    assert np.isfinite(fast.assault_time).any() and np.isnan(fast.assault_time).any()
    # and rows resumed from a snapshot taken months into the countryside, not only at the start
    values = np.tile(base, (len(points), 1))
    values[:, columns] = np.repeat(points, len(base), axis=0)
    first, _ = pro._decision_event(values, np.arange(len(values)) % len(base))
    assert (first > 4 * prologue.SNAPSHOT_EVERY).any()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(u=st.lists(st.floats(0.0, 1.0), min_size=16, max_size=16))
def test_resuming_is_exact_anywhere_in_the_prior(stage, u):
    model, base, draws, columns, priors, pro = stage
    point = _prior_points(priors, np.array(u[:len(priors)])[None, :])
    assert _same(simulate_sets(model, base, draws, columns, point),
                 simulate_sets(model, base, draws, columns, point, pro))


def test_the_countryside_before_the_decision_ignores_every_city_parameter(stage):
    """What the prologue rests on: with the assault switched off, the cities' parameters set to
    anything leave every rural fall where it was."""
    model, base, draws, columns, priors, pro = stage
    values = base.copy()
    rng = np.random.default_rng(5)
    for name in sorted(hazard.CITY_PARAMETERS):
        j = NAMES.index(name)
        values[:, j] = values[:, j] * rng.uniform(0.1, 10.0, len(values)) + rng.uniform(0, 1)
    values[:, NAMES.index("assault_rate")] = 0.0
    again = prologue.Prologue.simulate(model, values, draws)
    assert _same(again.outcome, pro.outcome)


def test_resuming_is_exact_with_scoped_drivers_and_on_the_synthetic_theatre(geo, tmp_path):
    from sim.ensemble import default_parameter_source
    capitalia = sim.load_geography(FIXTURE)
    scoped = tmp_path / "scoped.toml"
    scoped.write_text(
        '[scenario]\nname = "scoped"\ndescription = "pay in the north"\n'
        f'base = "{(ROOT / "scenarios" / "baseline.toml").as_posix()}"\n'
        '[[timeline.add]]\nid = "pay_north"\ndate = 2021-06-01\ndriver = "pay_arrears"\n'
        'value = 0.0\nregions = ["Northern", "North Eastern"]\nsource = "test"\n')
    cases = [(load_scenario(scoped, geo), geo),
             (load_scenario(FIXTURE / "scenarios" / "baseline.toml", capitalia), capitalia)]
    for scenario, g in cases:
        model = _model_for(scenario, g, scenario.end)
        R = 12
        base = scenario.apply_table(default_parameter_source().table(11, range(R))).values
        columns = np.array([NAMES.index(n) for n in ("assault_rate", "assault_b_share",
                                                     "cap_base_rate", "kabul_base_rate")])
        rng = np.random.default_rng(9)
        points = base[:6][:, columns] * rng.uniform(0.2, 5.0, (6, len(columns)))
        draws = draw_batch(17, range(R), g.n)
        pro = prologue.Prologue.simulate(model, base, draws)
        assert _same(simulate_sets(model, base, draws, columns, points),
                     simulate_sets(model, base, draws, columns, points, pro))


def test_a_stage_that_varies_a_countryside_parameter_runs_from_the_start(geo):
    config = load_config(ROOT / "calibration" / "default.toml", geo.theatre)
    for s in config.stages:
        columns = [NAMES.index(n) for n in s.names]
        assert prologue.applies(columns) == (s.name == "capitals")
    assert not prologue.applies([NAMES.index("cap_base_rate"), NAMES.index("b_pay")])
    assert not prologue.applies([])


def _reads(function) -> set[str]:
    """The parameters a function of sim.hazard reads as ``p.name``."""
    tree = ast.parse(inspect.getsource(function))
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "p" and n.attr in NAMES}


def test_the_declared_reads_match_the_rule_as_written():
    """CITY_PARAMETERS is derived from two written lists; each must hold what the functions read,
    so a new term in a countryside function cannot leave a parameter wrongly listed as the
    cities' alone."""
    countryside = (hazard.pay_effect, hazard.nationwide_log_pressure, hazard.scoped_levels_offset,
                   hazard.local_log_hazard, hazard.negotiated_probability,
                   hazard.initial_log_weights, hazard.district_resistance)
    city = (hazard.assault_log_hazard, hazard.assault_threshold, hazard.capital_log_hazard,
            hazard.kabul_log_hazard, hazard.city_pay_and_air, hazard.city_endurance)
    for f in countryside:
        assert _reads(f) <= hazard.COUNTRYSIDE_READS, f.__name__
    for f in city:
        assert _reads(f) <= hazard.CITY_READS, f.__name__
    # every function of the module that reads a parameter is one of the two kinds
    readers = {name for name, f in inspect.getmembers(hazard, inspect.isfunction)
               if f.__module__ == hazard.__name__ and _reads(f)}
    assert readers <= {f.__name__ for f in countryside + city} | {"district_log_hazard"}
    # a countryside term reading a share of capitals alone is 0 until the assault: the cities'
    still = {e.name for e in EXPOSURES if not e.moves_before_assault}
    countryside_terms = {t.parameter for t in TERMS if t.rule in ("rural", "mode")
                         and t.exposure not in still}
    assert not (hazard.CITY_PARAMETERS & (hazard.COUNTRYSIDE_READS | countryside_terms))
    assert {"assault_b_share", "cap_b_cascade", "kabul_b_capitals",
            "b_capital_fallen", "b_cities_fallen"} <= hazard.CITY_PARAMETERS


def test_stopping_once_every_capital_has_fallen_leaves_the_capitals_likelihood_unchanged(stage, geo):
    """The capitals stage reads nothing but the capitals' dates and the assault's start, so its
    replicates stop once every capital has fallen: its log-likelihood terms must be the same bit
    for bit, on posterior and prior points, and some replicates must actually have stopped."""

    from sim.likelihood import Likelihood
    model, base, draws, columns, priors, pro = stage
    config = load_config(ROOT / "calibration" / "default.toml", geo.theatre)
    lik = Likelihood.build(load_targets(config.targets_path, geo).for_stage("capitals"), geo)
    assert lik.reads_only_capitals
    points = np.vstack([base[:6][:, columns],
                        _prior_points(priors, np.random.default_rng(4).random((6, len(priors))))])
    S, R = len(points), len(base)

    def terms(res):
        c, k, f = lik.features(res.fall_time, res.assault_time)
        return np.concatenate([lik.components(c.reshape(S, R, -1)[s:s + 1], k.reshape(S, R, -1)[s:s + 1],
                                              f.reshape(S, R, -1)[s:s + 1]) for s in range(S)])

    full = simulate_sets(model, base, draws, columns, points, pro)
    for with_prologue in (pro, None):
        short = simulate_sets(model, base, draws, columns, points, with_prologue,
                              stop_after_capitals=len(model.geo.capital_rows))
        assert np.array_equal(terms(full), terms(short))
        assert np.array_equal(full.fall_time[:, geo.is_capital], short.fall_time[:, geo.is_capital],
                              equal_nan=True)
        stopped = np.isfinite(full.fall_time).sum(axis=1) > np.isfinite(short.fall_time).sum(axis=1)
        assert stopped.any()
        # a replicate stops only after its last capital, so every one that stopped has lost them all
        assert np.all(np.isfinite(short.fall_time[stopped][:, geo.is_capital]))
    # the rural stage's likelihood reads counts and facts: its runs must go to the horizon
    rural = Likelihood.build(load_targets(config.targets_path, geo).for_stage("rural"), geo)
    assert not rural.reads_only_capitals


def test_a_stage_reading_a_count_stops_after_its_day_and_every_capital_bit_for_bit(stage, geo):
    """With the record's count by Kabul's fall given to the capitals stage (``count_by_kabul``'s
    targets), its replicates stop once every capital has fallen *and* the count's day has ended:
    the stage's log-likelihood terms (:class:`sim.calibration_sampler.StageProblem`, the code path
    the calibration runs) are the uninterrupted runs' bit for bit, and some replicates stopped."""
    from sim.calibration_sampler import StageProblem
    from sim.likelihood import Likelihood
    model, base, draws, columns, priors, pro = stage
    targets = load_targets(ROOT / "calibration" / "structures" / "count_by_kabul" / "targets.toml",
                           geo)
    lik = Likelihood.build(targets.for_stage("capitals"), geo)
    assert lik.counts_read_until is not None and lik.n_facts == 0
    Z = np.vstack([np.column_stack([p.to_z(base[:4, c]) for p, c in zip(priors, columns)]),
                   np.column_stack([p.from_unit(u) for p, u in
                                    zip(priors, np.random.default_rng(5).random((len(priors), 4)))])])
    points = np.column_stack([p.from_z(Z[:, j]) for j, p in enumerate(priors)])
    S, R = len(points), len(base)
    full = simulate_sets(model, base, draws, columns, points, pro)
    c, k, f = lik.features(full.fall_time, full.assault_time)
    expected = np.concatenate([lik.components(c.reshape(S, R, -1)[s:s + 1], k.reshape(S, R, -1)[s:s + 1],
                                              f.reshape(S, R, -1)[s:s + 1]) for s in range(S)])
    problem = StageProblem(model, base, draws, columns, priors, lik)
    assert np.array_equal(problem.evaluate(Z), expected)
    short = simulate_sets(model, base, draws, columns, points, pro,
                          stop_after_capitals=len(geo.capital_rows),
                          stop_after_day=lik.counts_read_until)
    assert (np.isfinite(full.fall_time).sum() > np.isfinite(short.fall_time).sum())


def test_the_rows_resumed_as_one_group_start_from_copies_of_one_state(stage, monkeypatch):
    """The engine checks a resumed state on one row of each group the prologue declares
    (``start_groups``), so every group must hold copies of one snapshot row: the same arrays to
    the bit, row for row. And a resumed run takes the prologue's arrays without copying them
    (``copy_start=False``) only because nothing else holds them: the outcomes are unchanged."""
    from sim import batch
    model, base, draws, columns, priors, pro = stage
    seen = {}
    real = batch._BatchRun.__init__

    def spy(self, *args, **kw):
        if kw.get("start") is not None:
            seen["start"] = {k: np.array(v, copy=True) for k, v in kw["start"].items()}
            seen["groups"] = kw["start_groups"]
            seen["copy"] = kw["copy_start"]
        real(self, *args, **kw)

    # posterior points: their decisions come at nearby events, so rows share snapshots
    points = np.vstack([base[:8][:, columns], base[:8][:, columns] * 1.01])
    monkeypatch.setattr(batch._BatchRun, "__init__", spy)
    resumed = simulate_sets(model, base, draws, columns, points, pro)
    monkeypatch.undo()
    start, groups = seen["start"], seen["groups"]
    assert seen["copy"] is False and len(groups) == len(start["t"])
    assert 1 < len(np.unique(groups)) < len(groups)          # some rows share a state
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        for name in batch.RESUMABLE:
            if name in start:
                first = start[name][rows[0]]
                assert all(np.array_equal(start[name][r], first, equal_nan=True)
                           for r in rows[1:]), (name, g)
    assert _same(resumed, simulate_sets(model, base, draws, columns, points))
