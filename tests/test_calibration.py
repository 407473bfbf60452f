"""Calibration: metrics on hand-made examples, the forecast cut-off, parameter recovery, resume."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import textwrap

import numpy as np
import pytest

from sim.calibrate import calibrate, load_config
from sim.errors import UserError
from sim.fit import fit_report, null_models
from sim.likelihood import Likelihood
from sim.targets import load_targets
from sim.theatre import AFGHANISTAN_2021

day_of = AFGHANISTAN_2021.day_of

from conftest import BASELINE, ROOT, default_config_text, targets_error

TARGETS = ROOT / "calibration" / "targets.toml"


@pytest.fixture(scope="module")
def targets(geo):
    return load_targets(TARGETS, geo)


def recorded_fall_times(geo, targets, shift=0.0, replicates=10):
    """Fall times in which every capital falls at noon on its recorded (earliest) day + shift."""
    ft = np.full((replicates, geo.n), np.nan)
    for c in targets.capitals:
        ft[:, geo.provinces[c.province_index].capital_index] = day_of(c.earliest) + 0.5 + shift
    return ft


# ---------------------------------------------------------------- fit metrics, by hand

def test_fit_report_of_a_perfect_prediction(geo, targets):
    rep = fit_report(recorded_fall_times(geo, targets), geo, targets)
    assert rep["capital_mae_days"] == 0.0
    # not exactly 1: the three two-day windows rank at their midpoints in the record
    assert 0.99 < rep["capital_spearman"] <= 1.0
    assert rep["coverage_90"] == 1.0
    assert rep["interval_width_90"] == 0.0
    assert rep["p_capital_before_aug6"] == 0.0
    assert rep["kabul_fall_date"]["q50"] == "2021-08-15"
    assert rep["kabul_fall_date"]["median_error_days"] == 0


def test_fit_report_of_a_shifted_and_spread_prediction(geo, targets):
    # Every capital two days after its earliest recorded day: error 2, or 1 for the three
    # two-day windows; order unchanged; zero-width intervals that miss every record.
    rep = fit_report(recorded_fall_times(geo, targets, shift=2.0), geo, targets)
    windows = sum(1 for c in targets.capitals if c.latest > c.earliest)
    assert rep["capital_mae_days"] == pytest.approx((2 * (33 - windows) + 1 * windows) / 33)
    assert 0.99 < rep["capital_spearman"] <= 1.0
    assert rep["coverage_90"] == 0.0
    # Spread: replicate k has every capital k days late (k = 0..9): the 5% quantile is 0 days,
    # the 95% quantile 9 days late (inverted CDF), so every interval covers and is 9 days wide.
    ft = np.concatenate([recorded_fall_times(geo, targets, shift=k, replicates=1) for k in range(10)])
    rep = fit_report(ft, geo, targets)
    assert rep["coverage_90"] == 1.0
    assert rep["interval_width_90"] == pytest.approx(9.0)
    # median of 0..9 days late by the inverted CDF is 4 days late
    assert rep["kabul_fall_date"]["q50"] == "2021-08-19"
    # a capital before 6 August in one replicate of ten
    ft[0, geo.provinces[0].capital_index] = day_of(dt.date(2021, 7, 1))
    assert fit_report(ft, geo, targets)["p_capital_before_aug6"] == pytest.approx(0.1)


def test_district_checkpoint_error_is_relative_to_the_record(geo, targets):
    ft = np.full((5, geo.n), np.nan)
    ft[:, :100] = 0.0                       # 100 districts held from the start
    rep = fit_report(ft, geo, targets)
    by_id = {e["id"]: e for e in rep["district_checkpoint_errors"]}
    assert by_id["end_may"]["relative_error"] == pytest.approx((100 - 88) / 88)
    assert by_id["end_june"]["relative_error"] == pytest.approx((100 - 157) / 157)


def test_null_models_are_computed_from_the_record_alone(geo, targets):
    nulls = null_models(geo, targets)
    med = nulls["record_median_date"]
    assert med["capital_spearman"] is None               # a constant has no order
    assert med["interval_width_90"] == 0.0
    assert 1.0 < med["capital_mae_days"] < 3.0
    uni = nulls["uniform_over_record_window"]
    assert uni["coverage_90"] == 1.0 and uni["interval_width_90"] == pytest.approx(9.0)
    dist = nulls["distance_from_kabul"]
    assert dist["capital_spearman"] > 0.5                # geography alone orders them
    assert len(nulls["logistic_district_counts"]["errors"]) == len(targets.districts)


# ---------------------------------------------------------------- the forecast cut-off

def test_as_of_keeps_only_what_was_known_before_the_cutoff(targets):
    cut = dt.date(2021, 7, 21)
    known = targets.as_of(cut)
    assert all(t.date < cut for t in known.districts)
    assert {t.id for t in known.districts} == {"end_may", "end_june", "tolo_27_june", "seized_12_july"}
    assert known.capitals == ()
    # no capital yet, and the assault the record dates on 6 August not yet begun
    assert sorted((c.kind, c.date) for c in known.constraints) == [
        ("no_assault_before", cut), ("no_capital_before", cut)]
    late = targets.as_of(dt.date(2021, 8, 13))
    # once it had happened, the assault's start is known as a date, no longer as "not yet"
    assert {c.kind for c in late.constraints} == {"no_capital_before", "assault_start"}
    assert {c.province for c in late.capitals} >= {"Nimroz", "Ghazni"}
    assert "Hirat" not in {c.province for c in late.capitals}     # its window reaches 13 Aug
    assert all(c.latest < dt.date(2021, 8, 13) for c in late.capitals)
    with pytest.raises(UserError, match="out of range"):
        targets.as_of(dt.date(2021, 9, 1))


def test_a_later_target_cannot_leak_into_a_forecast(geo, targets):
    """Change every target dated on or after the cut-off: the likelihood as of the cut-off must
    not move. This fails if a later date leaks in."""
    cut = dt.date(2021, 7, 21)
    changed = dataclasses.replace(
        targets,
        districts=tuple(dataclasses.replace(t, districts=t.districts * 0.5) if t.date >= cut else t
                        for t in targets.districts),
        capitals=tuple(dataclasses.replace(c, earliest=dt.date(2021, 7, 25), latest=dt.date(2021, 7, 25))
                       for c in targets.capitals),
        constraints=tuple(dataclasses.replace(c, date=dt.date(2021, 7, 28))
                          if c.kind == "assault_start" else c for c in targets.constraints))
    a = Likelihood.build(targets.as_of(cut), geo)
    b = Likelihood.build(changed.as_of(cut), geo)
    for field in dataclasses.fields(Likelihood):
        va, vb = getattr(a, field.name), getattr(b, field.name)
        assert np.array_equal(np.asarray(va), np.asarray(vb)), field.name
    # and the likelihood of simulated data agrees exactly
    rng = np.random.default_rng(0)
    counts = rng.integers(50, 250, size=(2, 8, len(a.count_obs))).astype(float)
    caps = rng.uniform(80, 120, size=(2, 8, 35))
    assert np.array_equal(a.components(counts, caps), b.components(counts, caps))


# ---------------------------------------------------------------- recovery and resume

CONFIG = """
[calibration]
name = "test"
scenario = "{scenario}"
targets = "{targets}"
seed = 11
horizon = 2021-08-31
[sampler]
walkers = {walkers}
steps = {steps}
burn_in = {burn}
thin = 1
checkpoint_every = 2
initial_design = {design}
[predictive]
replicates = 50
[stages.rural]
replicates = {reps}
[[stages.rural.parameters]]
name = "base_rate"
prior = "loguniform"
lower = 5e-4
upper = 1e-2
why = "test"
[[stages.rural.parameters]]
name = "b_pay"
prior = "uniform"
lower = 0.0
upper = 3.0
why = "test"
"""


def synthetic_targets(tmp_path, geo, truth: dict) -> str:
    """A record made by the model itself at known parameters (other seed than the fit's)."""
    import sim
    from sim.ensemble import ParameterSource
    # made by the model the rural stage fits: the countryside alone, no assault on the cities
    # (otherwise the record depends on the capital defaults, which the stage does not simulate)
    res = sim.run(BASELINE, replicates=200, seed=999,
                  parameters=ParameterSource.fixed({**truth, "assault_rate": 0.0}), geo=geo)
    lines = ["[settings]", "capital_bandwidth_days = 0.5", "capital_probability_floor = 0.002", ""]
    for k, date in enumerate([dt.date(2021, 5, 31), dt.date(2021, 6, 30), dt.date(2021, 7, 21),
                              dt.date(2021, 7, 31)]):
        value = float(np.median(res.fallen_by(date)))
        lines += ["[[districts]]", f'id = "p{k}"', f"date = {date}", f"districts = {value}",
                  "tolerance = 0.03", "weight = 1.0", 'source = "synthetic"', 'why = "test"', ""]
    path = tmp_path / "synthetic_targets.toml"
    path.write_text("\n".join(lines))
    return str(path)


def small_config(tmp_path, targets_path, *, steps=30, walkers=8, reps=24, burn=10, design=32):
    path = tmp_path / "cal.toml"
    path.write_text(textwrap.dedent(CONFIG.format(scenario=BASELINE, targets=targets_path,
                                                  walkers=walkers, steps=steps, burn=burn,
                                                  reps=reps, design=design)))
    return load_config(path)


def test_calibration_recovers_the_parameters_that_made_the_data(tmp_path, geo):
    """Tolerance: the truth lies inside the posterior's 2.5-97.5% range and the posterior median
    within 30% of it (base rate and pay effect trade off, so both are checked loosely). 80 steps:
    with 40 (30 kept x 8 walkers) the chain's tails were too short to estimate a 95% range (the
    synthetic world's other parameters are the shipped defaults; after the refit of 4 December
    2026 the 40-step range for base_rate ended at 0.00399, the truth 0.004; 80 steps: 0.0033-0.0046)."""
    truth = {"base_rate": 0.004, "b_pay": 0.9}
    cfg = small_config(tmp_path, synthetic_targets(tmp_path, geo, truth), steps=80, reps=24)
    res = calibrate(cfg, geo=geo)
    post = res.stages[0].samples()
    for j, name in enumerate(res.stages[0].names):
        lo, med, hi = np.quantile(post[:, j], [0.025, 0.5, 0.975])
        assert lo <= truth[name] <= hi, (name, lo, truth[name], hi)
        assert med == pytest.approx(truth[name], rel=0.3), name
    # the prior was far wider than the posterior: the data did the work
    assert np.quantile(post[:, 1], 0.95) - np.quantile(post[:, 1], 0.05) < 1.5


def test_resume_after_interruption_gives_the_uninterrupted_posterior(tmp_path, geo, monkeypatch):
    cfg = small_config(tmp_path, str(TARGETS), steps=6, walkers=6, reps=6, burn=2, design=12)
    reference = calibrate(cfg, geo=geo)

    import importlib
    cal_module = importlib.import_module("sim.calibration_sampler")    # where run_stage saves
    real_log_prob, real_save = cal_module.Evaluator.log_prob, cal_module._save_checkpoint
    saved = {"n": 0}

    def save_and_count(*args, **kw):
        real_save(*args, **kw)
        saved["n"] += 1

    def flaky(self, Z):          # "Ctrl-C" in the first step after the first checkpoint
        if saved["n"]:
            raise KeyboardInterrupt
        return real_log_prob(self, Z)

    out = tmp_path / "run"
    monkeypatch.setattr(cal_module, "_save_checkpoint", save_and_count)
    monkeypatch.setattr(cal_module.Evaluator, "log_prob", flaky)
    with pytest.raises(KeyboardInterrupt):
        calibrate(cfg, out=out, geo=geo)
    monkeypatch.setattr(cal_module.Evaluator, "log_prob", real_log_prob)
    assert (tmp_path / "run.checkpoint" / "stage_rural.npz").is_file()
    with pytest.raises(UserError, match="resume=True"):
        calibrate(cfg, out=out, geo=geo)
    # another cut-off date is another run: its chains must not be continued from these
    with pytest.raises(UserError, match="different run"):
        calibrate(cfg, out=out, resume=True, geo=geo, as_of=dt.date(2021, 7, 1))
    resumed = calibrate(cfg, out=out, resume=True, geo=geo)
    np.testing.assert_array_equal(resumed.stages[0].chain, reference.stages[0].chain)
    np.testing.assert_array_equal(resumed.posterior, reference.posterior)


def test_the_cascade_is_scored_relative_to_its_first_fall(geo, targets):
    """Replicates that reproduce the record's sequence exactly, but start it five days late, lose
    only the absolute terms (the first fall's date, Kabul's, and the absolute half of each
    capital's weight): the relative half scores the same (issue 10: an uncertain decision date
    must not swamp the order and pace of the collapse)."""
    lik = Likelihood.build(targets, geo)
    caps = np.full((1, 4, 35), np.inf)
    mid = (lik.capital_lo + lik.capital_hi) / 2.0          # the middle of each recorded window
    caps[0, :, lik.capital_slots] = mid[:, None]
    caps[0, 0, lik.capital_slots] += 0.0
    late = caps.copy()
    late[0, :, :34] += 5.0
    counts = np.zeros((1, 4, len(lik.count_obs)))
    on_time = lik.components(counts, caps)[0, 1]
    shifted = lik.components(counts, late)[0, 1]
    assert shifted < on_time - 3.0                          # the first fall is five days late
    # the relative part alone: remove the first-fall term from both
    h = lik.bandwidth
    from scipy.special import ndtr

    def first_term(c):
        first = c[0, :, :34].min(axis=1)
        p = (ndtr((lik.first_day + 1 - first) / h) - ndtr((lik.first_day - first) / h)).mean()
        k = lik.kabul_target
        xk = c[0, :, lik.capital_slots[k]]
        pk = (ndtr((lik.capital_hi[k] - xk) / h) - ndtr((lik.capital_lo[k] - xk) / h)).mean()
        x = c[0, :, lik.capital_slots].T                                   # (R, C)
        pa = (ndtr((lik.capital_hi - x) / h) - ndtr((lik.capital_lo - x) / h)).mean(axis=0)
        return (np.log(max(p, lik.floor)) + np.log(max(pk, lik.floor)) * lik.capital_w[k]
                + (np.log(np.maximum(pa, lik.floor)) * lik.capital_w * 0.5).sum())
    assert on_time - first_term(caps) == pytest.approx(shifted - first_term(late), abs=1e-9)
    # and a cascade that collapses at once scores far worse than the recorded pace
    instant = caps.copy()
    instant[0, :, lik.capital_slots] = mid.min()
    assert lik.components(counts, instant)[0, 1] < on_time - 20.0


def test_kabul_falling_mid_cascade_is_penalised_by_the_order_constraint(geo, targets):
    """The order within each replicate (issue 10, coherence): an ensemble in which Kabul falls
    after the other capitals in every replicate against one in which, in half the replicates, it
    swaps dates with the tenth capital and falls mid-cascade."""
    lik = Likelihood.build(targets, geo)
    assert lik.order_counts.tolist() == [26.0]
    R = 8
    caps = np.full((1, R, 35), np.inf)
    rng = np.random.default_rng(3)
    others = [s for s in range(34) if s != lik.kabul_slot]
    base = np.sort(rng.uniform(97, 105, size=33))
    caps[0, :, others] = base[:, None]
    caps[0, :, lik.kabul_slot] = 106.0                     # last, in every replicate
    mixed = caps.copy()
    mixed[0, : R // 2, lik.kabul_slot] = base[9]
    mixed[0, : R // 2, others[9]] = 106.0
    good = lik._order(caps[:, :, :34], lik.bandwidth)[0]
    bad = lik._order(mixed[:, :, :34], lik.bandwidth)[0]
    assert good == pytest.approx(0.0, abs=1e-6)             # certainly at least 26 before Kabul
    assert bad == pytest.approx(np.log(0.5), abs=0.01)      # half the replicates break the order
    # a replicate where Kabul never falls counts every fallen capital as before it
    never = caps.copy()
    never[0, :, lik.kabul_slot] = np.inf
    assert lik._order(never[:, :, :34], lik.bandwidth)[0] == pytest.approx(0.0, abs=1e-6)


def test_not_yet_begun_is_the_assault_start_censored_at_the_cutoff(geo, targets):
    """As of a cut-off before the recorded start, the likelihood knows only that the Taliban had
    not yet turned on the cities: log P(start >= cut-off), smoothed by the capitals' bandwidth.
    Replicates that start well after the cut-off, or never, cost nothing; one that started well
    before it costs the floor; and the term is in the start's likelihood, which lifts the cut."""
    cut = dt.date(2021, 7, 21)
    lik = Likelihood.build(targets.as_of(cut), geo)
    day = geo.theatre.day_of(cut)
    assert list(lik.no_assault_days) == [day] and len(lik.assault_days) == 0
    caps = np.full((3, 4, 35), np.inf)                  # no capital falls in any replicate
    caps[0, :, -1] = day + 10                            # the assault comes after the cut-off
    caps[1, :, -1] = np.inf                              # ... or never
    caps[2, :, -1] = day - 10                            # ... or it had already begun
    terms = lik._no_assault_before(caps[:, :, -1])
    assert terms[0] == pytest.approx(0.0, abs=1e-9) and terms[1] == 0.0
    assert terms[2] == pytest.approx(np.log(lik.floor))
    half = caps[:1].copy()
    half[0, :2, -1] = day - 10                          # half the replicates began before
    assert lik._no_assault_before(half[:, :, -1])[0] == pytest.approx(np.log(0.5), abs=1e-6)
    assert np.allclose(lik.start_loglik(caps), lik.components(np.zeros((3, 4, len(lik.count_obs)
                                                                        + len(lik.range_days))),
                                                              caps)[:, 2])


def test_the_order_constraint_is_unknown_before_kabul_fell(targets):
    cut = dt.date(2021, 8, 14)
    assert all(c.kind != "capitals_before_kabul" for c in targets.as_of(cut).constraints)
    assert any(c.kind == "capitals_before_kabul" for c in targets.constraints)


@pytest.mark.parametrize("extra, key, message", [
    ('kind = "capitals_before_kabul"\ncount = 40', "count", "out of range"),
    ('kind = "capitals_before_kabul"\ncount = 25.5', "count", "whole number"),
    ('kind = "capitals_before_kabul"', "count", "expected a number"),
    ('kind = "no_capital_before"\ncount = 3', "count", "applies only"),
])
def test_a_bad_order_constraint_is_a_one_line_error(tmp_path, geo, extra, key, message):
    err = targets_error(tmp_path, geo, f'\n[[constraints]]\nid = "x"\n{extra}\n'
                                       f'date = 2021-08-15\nweight = 1.0\n')
    assert err.key.endswith(f".{key}") and message in str(err)


def test_the_fit_report_and_forecast_judge_the_conditional_predictive_too(tmp_path, geo):
    """End to end on a tiny calibration: the fit report carries the predictive conditioned on the
    counts the calibration saw, with every measure of the unconditional one; a forecast conditions
    only on the counts dated before its cut-off."""
    import json
    from sim.calibration_output import write_calibration, write_forecast
    cfg = small_config(tmp_path, str(TARGETS), steps=4, walkers=6, reps=6, burn=2, design=12)
    rep = write_calibration(calibrate(cfg, geo=geo), tmp_path / "cal", replicates=40)
    cond = rep["conditional_on_recorded_counts"]
    assert set(rep) - {"conditional_on_recorded_counts", "null_models", "calibration"} <= set(cond)
    # the covariate-only reference rides along with the district skill (sim/district_reference.py)
    ref = rep["district_skill_reference"]["fitted_to_both_fit_splits"]["tolonews_holdout"]
    assert ref["facts"] == 88 and set(ref["simulation_minus_reference"]) == {"value", "lo", "hi"}
    assert cond["conditioned_on"] == ["end_may", "end_june", "milley_21_july", "end_july",
                                      "three_months"]
    assert 4 <= cond["effective_replicates"] <= 40 and cond["replicates"] == 40
    on_disk = json.loads((tmp_path / "cal" / "fit_report.json").read_text())
    assert on_disk["conditional_on_recorded_counts"]["goals"].keys() == rep["goals"].keys()
    cut = dt.date(2021, 6, 23)
    fc = write_forecast(calibrate(cfg, geo=geo, as_of=cut), tmp_path / "fc", replicates=40,
                        workers=1, progress=False, force=False)
    known = fc["conditional_on_what_was_known_at_the_cutoff"]
    # the counts dated before the cut-off, and the cities' "none yet" (no capital, no assault)
    assert known["conditioned_on"][0] == "end_may" and len(known["conditioned_on"]) == 3
    assert any("not_before" in k for k in known["conditioned_on"])
    assert known["replicates"] == 40 - 10 * known.get("dropped_draws", 0)
    # beside the bimodal count's median, its distribution: the shares read from the same counts
    caps = fc["capitals_fallen_by_2021_08_15"]
    assert 0 <= caps["share_none"] <= 1 and 0 <= caps["share_within_8_of_record"] <= 1
    assert caps["q05"] <= caps["mean"] <= caps["q95"] and caps["record"] == 33
    # q05 of 40 sorted counts lies between the second and third: zero if three are, not if none is
    if caps["share_none"] * 40 >= 3:
        assert caps["q05"] == 0
    if caps["share_none"] == 0:
        assert caps["q05"] >= 1


def _stage_base(geo, R, seed=0):
    """R replicates' parameters: the baseline's, with rural coefficients drawn from the committed
    posterior (one draw per replicate, as the capitals' stage carries them)."""
    import csv
    from sim.parameters import NAMES
    from sim.scenario import load_scenario
    scenario = load_scenario(BASELINE, geo)
    base = np.tile([scenario.parameters()[n] for n in NAMES], (R, 1))
    rows = list(csv.DictReader((ROOT / "sim" / "data" / "posterior.csv").open()))
    pick = np.random.default_rng(seed).integers(len(rows), size=R)
    for j, name in enumerate(NAMES):
        if name in rows[0]:
            base[:, j] = [float(rows[i][name]) for i in pick]
    return scenario, base


def test_conditioned_replicates_match_the_recorded_counts_better(geo, targets):
    """Statistical (fixed seeds): 64 replicates, each its own posterior draw. Choosing each one's
    countryside among 16 streams by the counts' likelihood must bring the mean absolute error of
    the simulated counts at the checkpoints below that of every one of 20 choices made at random
    among the same 16 streams (a one-sided test at p < 0.05 that does not depend on how wide the
    shipped posterior's countrysides are), and candidate count 1 must give the unconditioned
    streams."""
    from sim.batch import run_batch
    from sim.calibrate import _model_for, conditioned_replicates
    from sim.conditioning import counts_at
    from sim.parameters import NAMES, ParameterTable
    from sim.randomness import draw_batch
    scenario, base = _stage_base(geo, 64)
    points = targets.fitted_districts
    assert conditioned_replicates(scenario, geo, base, 5, 1, points) == list(range(64))
    chosen = conditioned_replicates(scenario, geo, base, 5, 16, points)
    assert all(c % 64 == r for r, c in enumerate(chosen))        # each replicate keeps its draw
    rural = base.copy()
    rural[:, NAMES.index("assault_rate")] = 0.0
    model = _model_for(scenario, geo, dt.date(2021, 8, 2))
    obs = np.array([t.districts for t in points])

    def error(numbers):
        res = run_batch(model, ParameterTable(rural), draw_batch(5, numbers, geo.n))
        return np.abs(counts_at(res.fall_time, points, AFGHANISTAN_2021) - obs).mean()
    rng = np.random.default_rng(1)
    by_chance = [error([r + 64 * int(k) for r, k in enumerate(rng.integers(16, size=64))])
                 for _ in range(20)]
    assert error(chosen) < min(by_chance)


def test_the_countrysides_own_stage_cannot_condition_on_counts(tmp_path):
    # whatever replicates the shipped stages have
    cfg, n = re.subn(r"(\[stages\.rural\]\nreplicates = \d+\n)", r"\g<1>condition_on_counts = 4\n",
                     default_config_text())
    assert n == 1
    path = tmp_path / "cal.toml"
    path.write_text(cfg, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_config(path)
    assert err.value.key == "stages.rural.condition_on_counts"
    cfg, n = re.subn(r"(\[stages\.capitals\]\nreplicates = \d+\n)",
                     r"\g<1>condition_on_counts = 0\n", cfg.replace("condition_on_counts = 4", ""))
    assert n == 1
    path.write_text(cfg, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_config(path)
    assert err.value.key == "stages.capitals.condition_on_counts"


def test_a_forecast_runs_the_cities_stage_longer_with_the_same_draws(tmp_path):
    """``forecast_steps`` applies only to a calibration as of a cut-off, scales the burn-in and
    thinning with the steps (so the stage keeps as many draws as the full calibration's), and a
    bad value is a one-line error naming the key."""
    from sim.calibration_config import stage_sampler
    cfg = load_config(ROOT / "calibration" / "default.toml")
    rural, capitals = cfg.stages
    assert rural.forecast_steps is None and capitals.forecast_steps > cfg.steps
    factor = capitals.forecast_steps // cfg.steps
    assert factor * cfg.steps == capitals.forecast_steps          # the shipped config: a multiple
    assert stage_sampler(cfg, capitals, forecast=False) is cfg
    # the countryside has its own settings (a smaller mode search) but no forecast steps: a
    # forecast runs it as the full calibration does
    assert stage_sampler(cfg, rural, forecast=True) == stage_sampler(cfg, rural, forecast=False)
    longer = stage_sampler(cfg, capitals, forecast=True)
    assert (longer.steps, longer.burn_in, longer.thin) == (
        factor * cfg.steps, factor * cfg.burn_in, factor * cfg.thin)
    kept = len(range(cfg.burn_in, cfg.steps, cfg.thin))
    assert len(range(longer.burn_in, longer.steps, longer.thin)) == kept
    text = default_config_text()
    path = tmp_path / "cal.toml"
    path.write_text(re.sub(r"forecast_steps = \d+", "forecast_steps = 0", text), encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_config(path)
    assert err.value.key == "stages.capitals.forecast_steps"


def _width_ensemble(geo, rng, R=2000, per_draw=10, countryside_slope=0.2):
    """Synthetic predictive: the decision = a draw's own offset (sd 3) + the replicate's
    countryside (districts fallen by 1 August, sd 20, ``countryside_slope`` days earlier per
    district) + chance (sd 1); each capital falls 0-8 days after it (uniform)."""
    groups = np.arange(R) // per_draw
    offset = rng.normal(0.0, 3.0, size=R // per_draw)[groups]
    fallen = np.clip(np.round(rng.normal(200.0, 20.0, size=R)), 100, 300).astype(int)
    assault = 120.0 + offset - countryside_slope * (fallen - 200) + rng.normal(0.0, 1.0, size=R)
    rural = np.setdiff1d(np.arange(geo.n), geo.capital_rows)
    ft = np.full((R, geo.n), np.inf)
    for r in range(R):
        ft[r, rural[:fallen[r]]] = 10.0
    ft[:, geo.capital_rows] = assault[:, None] + rng.uniform(0.0, 8.0, size=(R, len(geo.capital_rows)))
    return ft, assault, groups


def test_the_fit_report_says_what_decides_the_width(geo, targets):
    """The decomposition recovers a known ensemble's make-up: variance of the decision
    26 = 9 (the draw's offset) + 16 (countryside: 0.2 x 20) + 1 (chance), of which between draws
    9 + 17/10 = 10.7 (share 0.41) and the countryside 16/26 = 0.615; 2 days earlier per 10
    districts; each capital's 90% range after the decision 0.9 x 8 = 7.2 days. Tolerances are
    about three standard errors for 2,000 replicates in 200 draws."""
    from sim.fit import what_decides_the_width
    ft, assault, groups = _width_ensemble(geo, np.random.default_rng(11))
    w = what_decides_the_width(ft, assault, groups, geo, targets)
    assert w["countryside_checkpoint"].startswith("three_months")
    assert w["assault_variance_share_countryside"] == pytest.approx(16 / 26, abs=0.08)
    assert w["assault_days_earlier_per_10_districts"] == pytest.approx(2.0, abs=0.15)
    assert w["assault_variance_share_posterior"] == pytest.approx(10.7 / 26, abs=0.1)
    assert w["assault_variance_share_posterior"] + w["assault_variance_share_chance"] == pytest.approx(1.0)
    assert w["cascade_width_90_days_mean"] == pytest.approx(7.2, abs=0.4)
    # a decision that ignores the countryside: nothing explained by it
    ft, assault, groups = _width_ensemble(geo, np.random.default_rng(12), countryside_slope=0.0)
    w = what_decides_the_width(ft, assault, groups, geo, targets)
    assert w["assault_variance_share_countryside"] < 0.01
    # no assault in any replicate: only that is said
    none = what_decides_the_width(ft, np.full(len(ft), np.nan), groups, geo, targets)
    assert none == {"p_assault": 0.0}


def test_variance_sources_recovers_known_components():
    """A crossed design with known parts (sd 2 for the first factor, 1 for the second, 0.5 for
    their interaction, 1 for chance: shares 4/6.25, 1/6.25, 0.25/6.25, 1/6.25). With 60 x 60
    cells of 10 replicates the estimates sit within 0.05 of them, 0.12 for the first factor (its
    share, estimated from 60 levels, has a standard error near 0.04; seed fixed), and the four
    shares add up to 1 exactly."""
    from sim.fit import variance_sources
    rng = np.random.default_rng(11)
    A, B, m = 60, 60, 10
    X = (2.0 * rng.standard_normal((A, 1, 1)) + rng.standard_normal((1, B, 1))
         + 0.5 * rng.standard_normal((A, B, 1)) + rng.standard_normal((A, B, m)))
    got = variance_sources(X)
    assert got["first"] + got["second"] + got["interaction"] + got["chance"] == pytest.approx(1.0, abs=1e-12)
    for key, share in (("first", 4 / 6.25), ("second", 1 / 6.25), ("interaction", 0.25 / 6.25),
                       ("chance", 1 / 6.25)):
        assert got[key] == pytest.approx(share, abs=0.12 if key == "first" else 0.05), key
    # a factor with no effect gets a share near 0 (only the chance in its means)
    Y = rng.standard_normal((A, 1, 1)) + rng.standard_normal((A, B, m))
    assert variance_sources(Y)["second"] < 0.01
    with pytest.raises(ValueError):
        variance_sources(np.ones((3, 1, 4)))


def test_a_stage_runs_with_its_own_sampler_settings(tmp_path, monkeypatch):
    """``[stages.NAME.sampler]`` overrides ``[sampler]`` for that stage only: the stage's MCMC
    runs its own steps and burn-in and its mode search its own generations; the walkers stay
    the config's. A bad setting is a one-line error naming the stage's key."""
    from sim import calibration_sampler
    from sim.calibration_config import stage_sampler
    text = textwrap.dedent(CONFIG.format(scenario=BASELINE, targets=TARGETS, walkers=6, steps=5,
                                         burn=2, reps=4, design=12))
    path = tmp_path / "cal.toml"
    own = "[stages.rural.sampler]\nsteps = 7\nburn_in = 3\nsearch_generations = 1\n"
    path.write_text(text.replace("[stages.rural]\nreplicates = 4\n",
                                 "[stages.rural]\nreplicates = 4\n" + own), encoding="utf-8")
    cfg = load_config(path)
    settings = stage_sampler(cfg, cfg.stages[0], forecast=False)
    assert (settings.steps, settings.burn_in, settings.search_generations) == (7, 3, 1)
    assert (settings.walkers, settings.thin, settings.initial_design) == (6, 1, 12)
    generations = []
    real = calibration_sampler.find_mode
    monkeypatch.setattr(calibration_sampler, "find_mode", lambda ev, config, *a: (
        generations.append(config.search_generations), real(ev, config, *a))[1])
    res = calibrate(cfg)
    assert res.stages[0].chain.shape[:2] == (7, 6) and res.stages[0].burn_in == 3
    assert generations == [1]
    for bad, key in (("steps = 7\nburn_in = 7", "stages.rural.sampler.burn_in"),
                     ("initial_design = 4", "stages.rural.sampler.initial_design"),
                     ("search_generations = -1", "stages.rural.sampler.search_generations"),
                     ("walkers = 8", "stages.rural.sampler.walkers")):
        path.write_text(text.replace("[stages.rural]\nreplicates = 4\n",
                                     f"[stages.rural]\nreplicates = 4\n[stages.rural.sampler]\n{bad}\n"),
                        encoding="utf-8")
        with pytest.raises(UserError) as err:
            load_config(path)
        assert err.value.key == key, bad
