"""The cut lifted for the record's start (:mod:`sim.cut_lift`): the start's likelihood reads only
when the cities' fall began, the engine's early stop at the first capital leaves that unchanged
bit for bit, the joint rows are drawn by the weights (equal shares per city draw), the result
does not depend on the number of workers, and the configuration refuses a misplaced lift."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr

from sim import prologue
from sim.calibrate import _joint_posterior, _model_for, _stage_horizon
from sim.calibration_config import load_config
from sim.cut_lift import LiftedCut, StartLikelihood, lift_cut
from sim.errors import UserError
from sim.likelihood import Likelihood
from sim.parameter_sets import simulate_sets
from sim.parameters import NAMES
from sim.randomness import draw_batch
from sim.scenario import load_scenario
from sim.targets import load_targets

from conftest import default_config_text

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "calibration" / "default.toml"


@pytest.fixture(scope="module")
def stage(geo):
    """The default calibration's capitals stage on 16 replicates carrying committed posterior
    draws, its likelihood, and a few posterior points of the countryside and of the cities."""
    from sim.ensemble import default_parameter_source
    config = load_config(CONFIG, geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    model = _model_for(scenario, geo, _stage_horizon("capitals", targets, config))
    stages = {s.name: s for s in config.stages}
    R = 16
    base = scenario.apply_table(default_parameter_source().table(3, range(R))).values
    rural = np.array([NAMES.index(n) for n in stages["rural"].names])
    city = np.array([NAMES.index(n) for n in stages["capitals"].names])
    lik = Likelihood.build(targets.for_stage("capitals"), geo)
    points = scenario.apply_table(default_parameter_source().table(5, range(6))).values
    return dict(model=model, base=base, draws=draw_batch(config.seed, range(R), geo.n),
                rural=rural, city=city, lik=lik, rural_x=points[:, rural], city_x=points[:3, city])


def test_the_start_likelihood_reads_only_the_start(stage):
    """Moving every capital but the first later leaves it unchanged (the full likelihood moves);
    and on replicates that all begin at noon of the recorded day it is the hand-computed value."""
    lik = stage["lik"]
    rng = np.random.default_rng(1)
    caps = rng.uniform(95, 110, size=(3, 8, 35))
    caps[:, :, -1] = caps[:, :, :-1].min(axis=2) - rng.uniform(0, 2, size=(3, 8))
    later = caps.copy()
    first = caps[:, :, :-1].argmin(axis=2)
    mask = np.ones_like(caps, dtype=bool)
    np.put_along_axis(mask, first[..., None], False, axis=2)
    mask[:, :, -1] = False
    later[mask] += 3.0
    assert np.array_equal(lik.start_loglik(caps), lik.start_loglik(later))
    assert not np.allclose(lik.components(np.zeros((3, 8, 0)), caps)[:, 1],
                           lik.components(np.zeros((3, 8, 0)), later)[:, 1])
    noon = lik.first_day + 0.5
    exact = np.full((1, 4, 35), noon + 5.0)
    exact[:, :, 0] = noon
    exact[:, :, -1] = lik.assault_days[0] + 0.5
    h = lik.bandwidth
    day = np.log(ndtr(0.5 / h) - ndtr(-0.5 / h))
    expected = day + (np.log(ndtr((noon - lik.constraint_days) / h)) * lik.constraint_w).sum() \
        + day * lik.assault_w.sum()
    assert lik.start_loglik(exact)[0] == pytest.approx(expected, rel=1e-12)


def test_stopping_at_the_first_capital_keeps_the_start_bit_for_bit(stage):
    """The early stop changes when the simulation ends, not what it computes: the first capital's
    fall, which capital, and the assault's start are identical to the uninterrupted run's, and
    no row holds a second fallen capital."""
    model, base, draws, lik = stage["model"], stage["base"], stage["draws"], stage["lik"]
    pro = prologue.Prologue.simulate(model, base, draws)
    full = simulate_sets(model, base, draws, stage["city"], stage["city_x"], pro)
    short = simulate_sets(model, base, draws, stage["city"], stage["city_x"], pro,
                          stop_after_capitals=1)
    caps_full = np.where(np.isnan(full.fall_time[:, lik.capital_rows]), np.inf,
                         full.fall_time[:, lik.capital_rows])
    caps_short = np.where(np.isnan(short.fall_time[:, lik.capital_rows]), np.inf,
                          short.fall_time[:, lik.capital_rows])
    assert np.array_equal(caps_full.min(axis=1), caps_short.min(axis=1))
    fell = np.isfinite(caps_full.min(axis=1))
    assert fell.sum() >= 10                      # the comparison is not vacuous
    assert np.array_equal(caps_full.argmin(axis=1)[fell], caps_short.argmin(axis=1)[fell])
    assert np.array_equal(full.assault_time, short.assault_time, equal_nan=True)
    assert (np.isfinite(caps_short).sum(axis=1) <= 1).all()
    _, a, _ = lik.features(full.fall_time, full.assault_time)
    _, b, _ = lik.features(short.fall_time, short.assault_time)
    R = len(base)
    assert np.array_equal(lik.start_loglik(a.reshape(-1, R, 35)), lik.start_loglik(b.reshape(-1, R, 35)))


def test_stopping_after_the_first_capital_and_a_days_counts_keeps_both_bit_for_bit(stage):
    """With a count read too (the lift with the record's count by Kabul's fall), each run stops
    once its first capital has fallen and the count's day has ended: the first capital, the
    assault's start and every count up to that day are the uninterrupted run's exactly, and
    falls after it are not simulated (which is what the stop saves)."""
    model, base, draws, lik = stage["model"], stage["base"], stage["draws"], stage["lik"]
    pro = prologue.Prologue.simulate(model, base, draws)
    full = simulate_sets(model, base, draws, stage["city"], stage["city_x"], pro)
    day = float(lik.first_day + 10)                      # the end of 15 August, as in the record
    short = simulate_sets(model, base, draws, stage["city"], stage["city_x"], pro,
                          stop_after_capitals=1, stop_after_day=day)
    caps = lik.capital_rows
    first_full = np.nanmin(np.where(np.isnan(full.fall_time[:, caps]), np.inf,
                                    full.fall_time[:, caps]), axis=1)
    first_short = np.nanmin(np.where(np.isnan(short.fall_time[:, caps]), np.inf,
                                     short.fall_time[:, caps]), axis=1)
    assert np.array_equal(first_full, first_short)
    assert np.array_equal(full.assault_time, short.assault_time, equal_nan=True)
    for d in (day - 5.0, day - 0.5, day):
        with np.errstate(invalid="ignore"):
            assert np.array_equal((full.fall_time < d).sum(axis=1), (short.fall_time < d).sum(axis=1))
    last = np.maximum(first_full, day)
    with np.errstate(invalid="ignore"):
        after = (short.fall_time > last[:, None]).sum()
        saved = (full.fall_time > last[:, None]).sum()
    assert after == 0 and saved > 100                 # the stop is not vacuous


def _problem(stage) -> StartLikelihood:
    return StartLikelihood(stage["model"], stage["base"], stage["draws"], stage["rural"],
                           stage["city"], stage["city_x"], stage["lik"])


def test_the_lift_is_the_same_whatever_the_number_of_workers(stage):
    rural = stage["rural_x"]
    one = lift_cut(_problem(stage), rural, np.arange(3), 30, 6, [5, 1], workers=1)
    two = lift_cut(_problem(stage), rural, np.arange(3), 30, 6, [5, 1], workers=2)
    assert np.array_equal(one.loglik, two.loglik)
    assert np.array_equal(one.countryside, two.countryside) and np.array_equal(one.city, two.city)
    assert one.loglik.shape == (6, 3) and np.isfinite(one.loglik).all()
    assert one.summary()["effective_countryside_draws_per_city_draw"]["min"] >= 1.0


def test_the_lift_on_fewer_replicates_is_the_lift_of_a_stage_with_only_those(stage):
    """``lift_cut.replicates = 8`` on a stage of 16 replicates scores each pair on the stage's
    first 8 (their parameters and random numbers), exactly as a stage that had only those would,
    and differs from the lift on all 16; the summary says how many it used."""
    from types import SimpleNamespace
    from sim.calibrate import _lift
    from sim.calibration_sampler import StageProblem
    names = tuple(NAMES[c] for c in stage["rural"])
    cities = SimpleNamespace(samples=lambda: stage["city_x"])

    def problem(R):
        return StageProblem(stage["model"], stage["base"][:R], stage["draws"].row(slice(None, R)),
                            stage["city"], (), stage["lik"])

    args = (stage["rural_x"], names, cities, (6, 3))
    subset = _lift(problem(16), *args, 8, 4, 1, False)
    alone = _lift(problem(8), *args, None, 4, 1, False)
    whole = _lift(problem(16), *args, None, 4, 1, False)
    assert np.array_equal(subset.loglik, alone.loglik)
    assert np.array_equal(subset.countryside, alone.countryside)
    assert not np.array_equal(subset.loglik, whole.loglik)
    assert subset.summary()["replicates"] == 8 and whole.summary()["replicates"] == 16


def test_a_repeated_draw_is_simulated_once_and_scores_the_same(stage, monkeypatch):
    """MCMC draws repeat (rejections); a pair's likelihood depends only on its values (common random
    numbers), so each distinct countryside and city draw is simulated once and its likelihood
    copied: the same numbers as simulating every copy, for less work."""
    import sim.cut_lift as cut_lift
    problem = _problem(stage)
    x = stage["rural_x"][:2]
    once = problem.evaluate(x)
    repeated = StartLikelihood(stage["model"], stage["base"], stage["draws"], stage["rural"],
                               stage["city"], stage["city_x"][[0, 1, 0, 2, 1]], stage["lik"])
    sets = []
    real = cut_lift.simulate_sets
    monkeypatch.setattr(cut_lift, "simulate_sets",
                        lambda *a, **k: sets.append(len(a[4])) or real(*a, **k))
    assert np.array_equal(repeated.evaluate(x), once[:, [0, 1, 0, 2, 1]])
    assert sets == [3, 3]                  # three distinct cities, once per countryside draw
    sets.clear()
    rural = stage["rural_x"][[0, 1, 0, 1, 2, 2]]
    lifted = lift_cut(problem, rural, np.arange(3), 30, 6, [5, 1])
    assert len(sets) == 3                  # three distinct countrysides of the six in the pool
    monkeypatch.setattr(cut_lift, "simulate_sets", real)
    assert np.array_equal(lifted.loglik, problem.evaluate(rural[lifted.pool_countryside]))


class _Known:
    """A start likelihood given in advance: the resampling is tested apart from the simulation."""

    reads_counts = False
    replicates = 1

    def __init__(self, loglik):
        self.loglik = loglik

    def evaluate(self, X):
        return self.loglik[X[:, 0].astype(int)]


def test_joint_rows_are_drawn_by_the_weights_in_equal_shares_per_city_draw():
    """Statistical (fixed seed): 6 countryside draws x 2 city draws with known weights; 30,000
    rows. Each city draw gets half the rows; within each, every countryside draw's share is
    within 0.015 of its weight (binomial sd <= 0.004 at 15,000 rows). A likelihood that does not
    depend on the countryside gives each draw an equal share (the plain cut)."""
    rural = np.arange(6, dtype=float)[:, None]
    loglik = np.log(np.array([[0.5, 0.05], [0.2, 0.05], [0.1, 0.1], [0.1, 0.2], [0.05, 0.3],
                              [0.05, 0.3]]))
    res = lift_cut(_Known(loglik), rural, np.array([7, 9]), 30000, 6, [2, 3])
    assert set(res.pool_countryside) == set(range(6))        # all six, no repeats
    for b, city in enumerate((7, 9)):
        mine = res.city == city
        assert mine.sum() == 15000
        share = np.bincount(res.countryside[mine], minlength=6) / mine.sum()
        w = np.exp(loglik[res.pool_countryside, b])
        assert np.abs(share[res.pool_countryside] - w / w.sum()).max() < 0.015
    flat = lift_cut(_Known(np.zeros((6, 2))), rural, np.array([7, 9]), 12000, 6, [2, 3])
    assert flat.summary()["effective_countryside_draws_per_city_draw"]["min"] == pytest.approx(6.0)
    assert np.abs(np.bincount(flat.countryside, minlength=6) / 12000 - 1 / 6).max() < 0.015


def test_the_joint_posterior_takes_the_lifted_pairs(stage):
    """The posterior's rows are the lifted pairs' samples, column by column."""
    from sim.calibration_config import Prior
    from sim.calibration_sampler import StageResult
    rural_prior = Prior("base_rate", "uniform", 0.0, 1.0)
    city_prior = Prior("cap_b_cascade", "uniform", 0.0, 20.0)
    chain_r = np.arange(8, dtype=float).reshape(4, 2, 1) / 10
    chain_c = np.arange(8, dtype=float).reshape(4, 2, 1)
    stages = [StageResult("rural", (rural_prior,), chain_r, np.zeros((4, 2)), 0, 0, 0, 0, 1),
              StageResult("capitals", (city_prior,), chain_c, np.zeros((4, 2)), 0, 0, 0, 0, 1)]
    lifted = LiftedCut(np.array([7, 7, 0, 3, 1, 2, 5, 6]), np.array([0, 1, 2, 3, 4, 5, 6, 7]),
                       np.arange(8), np.arange(8), np.zeros((8, 8)), 0.0)
    rows = _joint_posterior(np.zeros(len(NAMES)), stages, 1, lifted)
    assert np.allclose(rows[:, NAMES.index("base_rate")], lifted.countryside / 10)
    assert np.allclose(rows[:, NAMES.index("cap_b_cascade")], lifted.city)


@pytest.mark.parametrize("where, text, key", [
    ("[stages.rural]\nreplicates = 64\n", "lift_cut = { countryside_draws = 8, city_draws = 4 }\n",
     "stages.rural.lift_cut"),
    ("[stages.capitals]\nreplicates = 64\n", "lift_cut = { countryside_draws = 8, cities = 4 }\n",
     "stages.capitals.lift_cut.cities"),
    ("[stages.capitals]\nreplicates = 64\n", "lift_cut = { countryside_draws = 0, city_draws = 4 }\n",
     "stages.capitals.lift_cut.countryside_draws"),
    # a subset of the stage's replicates: not more than it has
    ("[stages.capitals]\nreplicates = 64\n",
     "lift_cut = { countryside_draws = 8, city_draws = 4, replicates = 65 }\n",
     "stages.capitals.lift_cut.replicates"),
])
def test_a_misplaced_or_malformed_lift_is_a_one_line_error(tmp_path, where, text, key):
    cfg = default_config_text()
    cfg = re.sub(r"\nlift_cut = \{[^}]*\}\n", "\n", cfg)          # the shipped lift, whatever its keys
    cfg = re.sub(r"(\[stages\.(?:rural|capitals)\]\nreplicates = )\d+", r"\g<1>64", cfg)  # whatever it ships
    assert "\nlift_cut" not in cfg
    assert where in cfg
    cfg = cfg.replace(where, where + text)
    path = tmp_path / "cal.toml"
    path.write_text(cfg, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_config(path)
    assert err.value.key == key and "\n" not in str(err.value)


def test_the_lift_reads_its_replicates_or_takes_the_stages(tmp_path):
    cfg = re.sub(r"\nlift_cut = \{[^}]*\}\n", "\n", default_config_text())
    cfg = re.sub(r"(\[stages\.capitals\]\nreplicates = )\d+", r"\g<1>64", cfg)
    where = "[stages.capitals]\nreplicates = 64\n"
    for text, expected in (("lift_cut = { countryside_draws = 8, city_draws = 4 }\n", None),
                           ("lift_cut = { countryside_draws = 8, city_draws = 4, "
                            "replicates = 32 }\n", 32)):
        path = tmp_path / "cal.toml"
        path.write_text(cfg.replace(where, where + text), encoding="utf-8")
        capitals = load_config(path).stages[1]
        assert capitals.lift_cut == (8, 4) and capitals.lift_replicates == expected


def test_the_default_calibration_lifts_the_cut_for_the_start(geo):
    """...with enough city draws that the what-ifs' spread over the cities' posterior does not rest
    on a few dozen (A20c: with 64 the committed posterior held 61 distinct). Repeats come from the
    cities' chain standing still: at its acceptance of 6-8% (128 replicates, since 7 December
    2026) 256 draws held 162 distinct (212 of 256 at 16% on 64 replicates)."""
    capitals = next(s for s in load_config(CONFIG, geo.theatre).stages if s.name == "capitals")
    countryside, cities = capitals.lift_cut
    assert countryside >= 128 and cities >= 256
    import csv
    posterior = ROOT / "calibration" / "default" / "posterior.csv"
    with posterior.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # the joint posterior pairs every city draw the lift took: repeats only where the cities'
    # chain stood still (the MCMC's rejections), so most of them are distinct
    assert len({r["cap_base_rate"] for r in rows}) >= 0.6 * cities


def test_a_count_after_the_assault_began_is_read_by_the_lift_as_on_the_whole_run(stage, geo):
    """A count given to the cities' stage (``stage = "capitals"``: the record's 305-399 districts
    fallen by Kabul's fall) enters the lift as its own term: each pair's log-likelihood is the
    start's plus the count's, equal to the count's on replicates run to the stage's horizon (the
    lift runs each only to the count's day: not stopped at the first capital, which would count
    the districts of early August, nor run past what it reads)."""
    import dataclasses
    targets = load_targets(ROOT / "calibration" / "structures" / "count_by_kabul" / "targets.toml",
                           geo)
    lik = Likelihood.build(targets.for_stage("capitals"), geo)
    assert lik.reads_counts and not lik.reads_only_capitals
    assert lik.range_lo.tolist() == [305.0] and lik.range_hi.tolist() == [399.0]
    with_count = dataclasses.replace(_problem(stage), likelihood=lik)
    assert with_count.reads_counts and not _problem(stage).reads_counts
    x = stage["rural_x"][:2]
    got = with_count.evaluate(x)
    R, B = len(stage["base"]), len(stage["city_x"])
    count_terms = []
    for a in range(len(x)):
        base = stage["base"].copy()
        base[:, stage["rural"]] = x[a]
        res = simulate_sets(stage["model"], base, stage["draws"], stage["city"], stage["city_x"],
                            prologue.Prologue.simulate(stage["model"], base, stage["draws"]))
        counts, caps, _ = lik.features(res.fall_time, res.assault_time)
        # the start read by this likelihood (its targets have no precedent, A35, unlike the
        # default's, so the default's start term is not this one's)
        count_terms.append(lik.count_loglik(counts.reshape(B, R, -1)))
        assert np.allclose(got[a], lik.start_loglik(caps.reshape(B, R, -1)) + count_terms[-1],
                           rtol=1e-12, atol=1e-12)
    assert not np.allclose(count_terms, 0.0)
