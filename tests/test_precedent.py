"""A precedent known before the theatre (A35, ``first_capital_within``): once the Taliban turn on
the cities, a first capital falls within ``days`` days. It is read on the assaults a stage's runs
see through, it reaches every forecast, and a forecast's cities stage simulates far enough to see
it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from sim.calibrate import _stage_horizon, load_config
from sim.likelihood import Likelihood
from sim.targets import load_targets

from conftest import ROOT, targets_error

STRUCTURE = ROOT / "calibration" / "structures" / "precedent"


@pytest.fixture(scope="module")
def targets(geo):
    return load_targets(STRUCTURE / "targets.toml", geo)


def _precedent(targets):
    (c,) = [c for c in targets.constraints if c.kind == "first_capital_within"]
    return c


def test_the_precedent_is_a_fact_from_before_the_theatre_known_at_every_cut_off(targets, geo):
    c = _precedent(targets)
    assert c.date < geo.theatre.start and c.days == 7.0 and c.weight == 1.0
    assert "Kunduz" in c.source and "A35" in c.why
    for cut in (dt.date(2021, 6, 23), dt.date(2021, 7, 21), dt.date(2021, 8, 14)):
        assert _precedent(targets.as_of(cut)) == c
    # the rest of the structure's targets are the default's, unchanged
    default = load_targets(ROOT / "calibration" / "structures" / "statuses_joint" / "targets.toml", geo)
    assert [x for x in targets.constraints if x.kind != "first_capital_within"] == list(default.constraints)
    assert targets.districts == default.districts and targets.capitals == default.capitals


def test_the_precedent_reads_the_first_fall_after_the_assault_where_it_could_be_seen(targets, geo):
    """By hand: three parameter values, four replicates each, a stage ending on day 120."""
    lik = dataclasses.replace(Likelihood.build(targets.as_of(dt.date(2021, 7, 21)), geo),
                              horizon=120.0)
    assert list(lik.precedent_days) == [7.0]
    caps = np.full((3, 4, 35), np.inf)
    # a first fall a day after three of the four assaults, none after the fourth: P = 3/4
    caps[0, :, -1] = [89, 90, 95, 99]
    caps[0, :, 0] = [90, 91, np.inf, 100]
    # every assault seen, no capital falls: the floor
    caps[1, :, -1] = 80
    # an assault too close to the stage's end to be seen, the others never come: not scored
    caps[2, :, -1] = [118, np.inf, np.inf, np.inf]
    caps[2, 0, 3] = 119
    terms = lik.first_within(caps[:, :, :-1].min(axis=2), caps[:, :, -1])
    assert terms[0] == pytest.approx(np.log(0.75), abs=1e-6)
    assert terms[1] == pytest.approx(np.log(lik.floor))
    assert terms[2] == 0.0
    # a fall eight days after the assault is outside a week, smoothed by the capitals' bandwidth
    late = caps[1:2].copy()
    late[0, :, 0] = 88.0
    z = (7.0 - 8.0) / lik.bandwidth
    from scipy.special import ndtr
    assert lik.first_within(late[:, :, :-1].min(axis=2), late[:, :, -1])[0] == pytest.approx(
        np.log(max(ndtr(z), lik.floor)), abs=1e-9)
    # it is part of the start's likelihood (which lifts the cut) and of the constraints' term
    counts = np.zeros((3, 4, len(lik.count_obs) + len(lik.range_days)))
    base = dataclasses.replace(lik, precedent_days=np.zeros(0), precedent_w=np.zeros(0))
    assert np.allclose(lik.start_loglik(caps) - base.start_loglik(caps), terms)
    assert np.allclose(lik.components(counts, caps)[:, 2] - base.components(counts, caps)[:, 2],
                       terms)


def test_a_forecast_runs_the_cities_to_the_calibration_horizon_only_for_a_precedent(targets, geo):
    """As of a cut-off the cities' stage simulates only to the cut-off (it knows only "not yet");
    with a precedent it must see assaults after it, so it runs to the calibration's horizon. The
    full calibration's stage is unchanged (the record's dates already bound it). Compared with
    the same configuration without the precedent (the default of 6 December 2026)."""
    cfg = load_config(STRUCTURE / "config.toml")
    default = load_config(ROOT / "calibration" / "structures" / "statuses_joint_capacity" / "config.toml")
    default_targets = load_targets(default.targets_path, geo)
    cut = dt.date(2021, 7, 21)
    assert _stage_horizon("capitals", targets.as_of(cut), cfg) == cfg.horizon
    assert _stage_horizon("capitals", default_targets.as_of(cut), default) == cut
    assert (_stage_horizon("capitals", targets, cfg)
            == _stage_horizon("capitals", default_targets, default))
    assert _stage_horizon("rural", targets.as_of(cut), cfg) < cut


@pytest.mark.parametrize("extra, key, message", [
    ('kind = "first_capital_within"\ndate = 2015-09-28', "days", "expected a number"),
    ('kind = "first_capital_within"\ndate = 2015-09-28\ndays = 0', "days", "out of range"),
    ('kind = "no_capital_before"\ndate = 2021-08-06\ndays = 7', "days", "applies only"),
    ('kind = "no_capital_before"\ndate = 2015-09-28', "date", "out of range"),
])
def test_a_bad_precedent_is_a_one_line_error(tmp_path, geo, extra, key, message):
    err = targets_error(tmp_path, geo, f'\n[[constraints]]\nid = "x"\n{extra}\nweight = 1.0\n')
    assert err.key.endswith(f".{key}") and message in str(err)


def test_a_forecast_says_how_fast_the_cities_fell_once_attacked():
    """By hand: five replicates, a ten-day horizon, the precedent's week."""
    from sim.calibration_output import after_the_assault
    D = 10
    assault = np.array([1.2, 2.5, np.nan, 5.0, 0.5])
    capital = np.array([1.3, np.nan, np.nan, 9.0, np.nan])
    first_fall_day = [1, None, None, 6, 9]          # the first capital's fall, a day index
    by_day = np.zeros((5, D), dtype=np.int8)
    for r, d in enumerate(first_fall_day):
        if d is not None:
            by_day[r, d:] = 1
    out = after_the_assault(assault, capital, by_day, within_days=7.0)
    assert out["share_attacked_by_the_horizon"] == pytest.approx(0.8)
    # seen through (assault + 7 < 10): replicates 0, 1 and 4; a first fall by the end of day 8
    # in replicate 0 only (replicate 4's first fall is on day 9)
    assert out["share_first_capital_within"] == pytest.approx(1 / 3)
    assert out["share_capital_falls_once_attacked"] == pytest.approx(0.5)
    # days from the assault to the capital's fall: 0.1, 4.0, never, never
    assert out["capital_days_after_the_assault"] == {"q10": 0.1, "q50": 4.0, "q90": None}
    assert out["capital_days_after_the_assault_where_it_fell"] == {"q10": 0.1, "q50": 0.1,
                                                                   "q90": 4.0}
    none = after_the_assault(np.full(3, np.nan), np.full(3, np.nan), np.zeros((3, D), np.int8))
    assert none["share_attacked_by_the_horizon"] == 0.0 and none["share_first_capital_within"] is None


def test_a_forecasts_cities_stage_stops_at_the_first_fall_bit_for_bit(geo, targets):
    """As of a cut-off the cities' stage reads only the first fall and the assault's start (none
    before the cut-off, the assault not yet begun, the precedent), so its runs stop at the first
    capital: the stage's terms (:class:`StageProblem`, the path the calibration runs) must be the
    uninterrupted runs' bit for bit, on posterior and prior points, and runs must have stopped.
    A stage that reads the capitals' dates still runs until all have fallen."""
    from sim.calibrate import _model_for
    from sim.calibration_sampler import StageProblem, simulate_sets
    from sim.ensemble import default_parameter_source
    from sim.parameters import NAMES
    from sim.randomness import draw_batch
    from sim.scenario import load_scenario
    from sim import prologue
    cfg = load_config(STRUCTURE / "config.toml", geo.theatre)
    forecast = targets.as_of(dt.date(2021, 7, 21)).for_stage("capitals")
    scenario = load_scenario(cfg.scenario_path, geo)
    model = _model_for(scenario, geo, _stage_horizon("capitals", forecast, cfg))
    lik = dataclasses.replace(Likelihood.build(forecast, geo), horizon=float(model.horizon))
    assert lik.capitals_read == 1 and lik.n_facts == 0
    assert Likelihood.build(targets.for_stage("capitals"), geo).capitals_read is None
    capitals = next(s for s in cfg.stages if s.name == "capitals")
    R = 24
    base = scenario.apply_table(default_parameter_source().table(7, range(R))).values
    columns = np.array([NAMES.index(n) for n in capitals.names])
    draws = draw_batch(cfg.seed, range(R), geo.n)
    pro = prologue.Prologue.simulate(model, base, draws)
    priors = capitals.priors
    Z = np.vstack([np.column_stack([p.to_z(base[:4, c]) for p, c in zip(priors, columns)]),
                   np.column_stack([p.from_unit(u) for p, u in
                                    zip(priors, np.random.default_rng(5).random((len(priors), 4)))])])
    points = np.column_stack([p.from_z(Z[:, j]) for j, p in enumerate(priors)])
    S = len(points)
    full = simulate_sets(model, base, draws, columns, points, pro)
    c, k, f = lik.features(full.fall_time, full.assault_time)
    expected = np.concatenate([lik.components(c.reshape(S, R, -1)[s:s + 1], k.reshape(S, R, -1)[s:s + 1],
                                              f.reshape(S, R, -1)[s:s + 1]) for s in range(S)])
    assert np.isfinite(expected[:, 2]).all() and (expected[:, 2] != 0).any()
    assert np.array_equal(StageProblem(model, base, draws, columns, priors, lik).evaluate(Z), expected)
    short = simulate_sets(model, base, draws, columns, points, pro, stop_after_capitals=1)
    assert np.isfinite(full.fall_time).sum() > np.isfinite(short.fall_time).sum()


def test_the_reweighting_gauge_weighs_each_draw_by_its_own_replicates():
    """calibration/precedent_reweighting.py: a draw's weight is the precedent's probability over
    its replicates whose assault could be seen through, 1 where none could, uniform for None."""
    from conftest import load_script
    script = load_script("calibration/precedent_reweighting.py")
    m = script.PER_DRAW
    first = np.full(3 * m, np.inf)
    assault = np.full(3 * m, np.nan)
    assault[:m] = 100.0
    first[:m // 2] = 100.5                   # draw 0: half its replicates lose a capital at once
    assault[m:2 * m] = 240.0                 # draw 1: every assault too late to be seen through
    w = script.draw_weights(first, assault, horizon=245.0, days=7.0)
    assert w[:m] == pytest.approx(np.full(m, 0.5), abs=1e-6)
    assert np.all(w[m:] == 1.0)              # draw 1 unseen, draw 2 never attacked
    assert np.all(script.draw_weights(first, assault, 245.0, None) == 1.0)
    x = np.array([1.0, 2.0, np.nan, 4.0])
    assert script.weighted_quantile(x, np.array([1.0, 1.0, 1.0, 1.0]), 0.5, 99.0) == 2.0
    assert script.weighted_quantile(x, np.array([0.0, 0.0, 1.0, 0.0]), 0.5, 99.0) == 99.0
