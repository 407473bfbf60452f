"""A forecast's near-prior stage by importance sampling, and a forecast conditioned on what was
known at its cut-off (the cities' "none yet" beside the counts)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np
import pytest

from sim.calibration_config import Prior, StageConfig, load_config, posterior_draws
from sim.calibration_sampler import ImportanceResult, run_importance
from sim.conditioning import condition_on_counts, contradicts_known_facts
from sim.errors import UserError
from sim.targets import Constraint
from sim.theatre import AFGHANISTAN_2021

from conftest import ROOT, default_config_text


class _AnalyticEvaluator:
    """A stage whose likelihood is known in closed form: x ~ U(0, 1) a priori, likelihood x**k,
    so the posterior is Beta(k + 1, 1); the second parameter is left to its normal prior."""

    def __init__(self, priors, k=1.0, scale=1.0):
        self.priors, self.k, self.scale, self.calls = priors, k, scale, 0

    @property
    def problem(self):
        return self

    def log_prior(self, Z):
        return sum(p.log_density_z(Z[:, j]) for j, p in enumerate(self.priors))

    def evaluate(self, Z):
        self.calls += len(Z)
        with np.errstate(divide="ignore"):
            return np.column_stack([self.k * np.log(Z[:, 0]) * self.scale, np.zeros(len(Z))])


PRIORS = (Prior("x", "uniform", 0.0, 1.0), Prior("y", "normal", -3.0, 3.0, mean=0.5, sd=1.0))


def test_importance_sampling_recovers_a_known_posterior():
    """Prior U(0, 1), likelihood x: the posterior is Beta(2, 1) (mean 2/3, sd 0.236) and the
    weights' effective sample size is 3/4 of the draws ((E x)^2 / E x^2). The untouched
    parameter keeps its prior (a normal truncated to [-3, 3], mean 0.5). Tolerances: about five
    standard errors of 4,000 resampled draws (0.004 on the mean)."""
    stage = StageConfig("capitals", PRIORS, replicates=2)
    ev = _AnalyticEvaluator(PRIORS)
    res = run_importance(ev, stage, prior_draws=20000, samples=4000, seed=3, progress=False)
    x, y = res.samples()[:, 0], res.samples()[:, 1]
    assert len(x) == 4000 and ev.calls == 20000
    assert abs(x.mean() - 2 / 3) < 0.02 and abs(x.std() - np.sqrt(1 / 18)) < 0.02
    assert abs(np.median(x) - np.sqrt(0.5)) < 0.02              # Beta(2, 1): F(x) = x^2
    assert abs(y.mean() - 0.5) < 0.06 and abs(y.std() - 1.0) < 0.06
    assert abs(res.effective_sample_size / 20000 - 0.75) < 0.01
    # the same seed gives the same draws; another seed other draws of the same posterior
    again = run_importance(_AnalyticEvaluator(PRIORS), stage, 20000, 4000, 3, False)
    assert np.array_equal(again.chain, res.chain)
    other = run_importance(_AnalyticEvaluator(PRIORS), stage, 20000, 4000, 4, False)
    assert not np.array_equal(other.chain, res.chain)
    assert abs(other.samples()[:, 0].mean() - x.mean()) < 0.02


def test_a_peaked_likelihood_shows_in_the_effective_sample_size():
    """Likelihood x**200: the posterior sits within ~0.01 of 1, and few prior draws carry weight."""
    stage = StageConfig("capitals", PRIORS, replicates=2)
    res = run_importance(_AnalyticEvaluator(PRIORS, k=200), stage, 5000, 1000, 0, False)
    assert res.effective_sample_size < 60
    assert res.samples()[:, 0].min() > 0.95
    summary_keys = {"method", "prior_draws", "effective_sample_size"}
    from sim.calibration_sampler import summarise_stage
    assert summary_keys <= set(summarise_stage(res))


def test_no_prior_draw_that_can_produce_the_record_is_a_one_line_error():
    stage = StageConfig("capitals", PRIORS, replicates=2)
    ev = _AnalyticEvaluator(PRIORS, scale=-np.inf)       # every likelihood zero
    with pytest.raises(UserError, match="no draw of the capitals stage's prior"):
        run_importance(ev, stage, 200, 100, 0, False)


CONFIG = ROOT / "calibration" / "default.toml"


def _config_text(tmp_path, **replace):
    text = default_config_text()
    for key, value in replace.items():
        text = re.sub(rf"(?<![\w]){key} = \d+", f"{key} = {value}", text)
    path = tmp_path / "cal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_forecast_samples_the_cities_by_importance(tmp_path):
    cfg = load_config(CONFIG)
    rural, capitals = cfg.stages
    assert rural.forecast_prior_draws is None and capitals.forecast_prior_draws >= 10000
    # and its predictive reads ten times the full calibration's draw groups
    assert cfg.forecast_replicates == 10 * cfg.predictive_replicates
    # the lifted cut pairs more city draws in a forecast, the full calibration's otherwise
    from sim.calibration_config import lift_draws
    assert lift_draws(rural, True) is None
    assert lift_draws(capitals, False) == capitals.lift_cut
    assert lift_draws(capitals, True) == (capitals.lift_cut[0], capitals.forecast_lift_city_draws)
    assert capitals.forecast_lift_city_draws > capitals.lift_cut[1]
    for key, where in (("forecast_prior_draws", "stages.capitals"),
                       ("forecast_replicates", "predictive"),
                       ("forecast_city_draws", "stages.capitals.lift_cut")):
        with pytest.raises(UserError, match="out of range") as err:
            load_config(_config_text(tmp_path, **{key: 0}))
        assert err.value.key == f"{where}.{key}"


def test_a_forecast_falls_back_to_the_mcmc_when_the_weights_collapse(tmp_path, geo, monkeypatch):
    """End to end on a tiny forecast whose rural stage asks for importance sampling: with healthy
    weights it is used (and does not depend on the number of workers); when the weights'
    effective sample size is below a quarter of the draws kept, the MCMC runs and says why."""
    import importlib
    cal = importlib.import_module("sim.calibrate")    # the package exports a function of that name
    from test_calibration import TARGETS, small_config
    cfg = small_config(tmp_path, str(TARGETS), steps=6, walkers=6, reps=6, burn=2, design=12)
    rural = dataclasses.replace(cfg.stages[0], forecast_prior_draws=300)
    cfg = dataclasses.replace(cfg, stages=(rural,))
    cut = dt.date(2021, 6, 23)
    one = cal.calibrate(cfg, geo=geo, as_of=cut, workers=1)
    two = cal.calibrate(cfg, geo=geo, as_of=cut, workers=2)
    assert isinstance(one.stages[0], ImportanceResult)
    assert one.stages[0].effective_sample_size >= posterior_draws(cfg) / 4
    assert np.array_equal(one.posterior, two.posterior)
    assert len(one.stages[0].samples()) == posterior_draws(cfg) == 6 * 4
    full = cal.calibrate(cfg, geo=geo, workers=1)       # not a forecast: the MCMC
    assert not isinstance(full.stages[0], ImportanceResult)

    real = cal.run_importance

    def collapsed(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), effective_sample_size=1.0)

    monkeypatch.setattr(cal, "run_importance", collapsed)
    fell_back = cal.calibrate(cfg, geo=geo, as_of=cut, workers=1).stages[0]
    assert not isinstance(fell_back, ImportanceResult)
    assert fell_back.chain.shape[:2] == (6, 6) and "the MCMC ran instead" in fell_back.note


def _constraint(kind, date):
    return Constraint(f"{kind}_{date}", kind, date, 1.0, "test", "test")


def test_a_forecast_drops_futures_that_contradict_the_cities_none_yet():
    """Replicates with a capital fallen, or the assault begun, before the cut-off are not futures
    an analyst on its morning could face: they get weight zero, a draw with none left is
    dropped, and with nothing excluded the resampling is the counts-only one, draw for draw."""
    th = AFGHANISTAN_2021
    cut = dt.date(2021, 7, 21)
    day = th.day_of(cut)
    R, n, caps = 40, 6, np.array([1, 4])
    fall = np.full((R, n), np.inf)
    assault = np.full(R, day + 5.0)
    fall[3, 4] = day - 1.0                     # a capital fell the day before the cut-off
    assault[7] = day - 0.5                     # the assault had begun that night
    fall[8, 2] = day - 30.0                    # a rural district: allowed
    fall[12:20, 1] = day - 2.0                 # every replicate of the second draw (10-19) but two
    fall[10:12, 1] = day - 3.0
    known = (_constraint("no_capital_before", cut), _constraint("no_assault_before", cut))
    bad = contradicts_known_facts(fall, assault, caps, known, th)
    assert set(np.flatnonzero(bad)) == {3, 7} | set(range(10, 20))
    ignored = (dataclasses.replace(known[0], weight=0.0),)
    assert not contradicts_known_facts(fall, assault, caps, ignored, th).any()
    cond = condition_on_counts(fall, (), 10, 5, th, bad, tuple(c.id for c in known))
    assert cond.dropped_draws == 1 and cond.excluded_replicates == 12
    assert len(cond.indices) == 30 and not set(cond.indices) & ({3, 7} | set(range(10, 20)))
    assert cond.to_dict()["conditioned_on"] == [c.id for c in known]
    plain = condition_on_counts(fall, (), 10, 5, th)
    same = condition_on_counts(fall, (), 10, 5, th, np.zeros(R, dtype=bool))
    assert np.array_equal(plain.indices, same.indices) and plain.dropped_draws == 0
    with pytest.raises(UserError, match="no replicate of the predictive"):
        condition_on_counts(fall, (), 10, 5, th, np.ones(R, dtype=bool), ("x",))


def test_a_two_stage_forecast_pairs_the_forecasts_city_draws(tmp_path, geo):
    """The shipped config, shrunk to seconds, as of 21 July: the cities' stage is importance
    sampled (or falls back, saying why), and the joint posterior holds exactly the lift's
    forecast city draws (3 here, 2 in the full calibration's setting)."""
    from sim.calibrate import calibrate
    path = _config_text(tmp_path, steps=2, burn_in=0, thin=1, initial_design=32,
                        search_generations=1, replicates=10, forecast_prior_draws=100,
                        countryside_draws=2, city_draws=2, forecast_city_draws=3)
    cfg = load_config(path)
    assert cfg.stages[1].lift_cut == (2, 2) and cfg.stages[1].forecast_lift_city_draws == 3
    res = calibrate(cfg, geo=geo, as_of=dt.date(2021, 7, 21), workers=1)
    cities = res.stages[1]
    assert isinstance(cities, ImportanceResult) or "MCMC ran instead" in cities.note
    assert len(res.lifted.pool_city) == 3
    from sim.parameters import NAMES
    assert len(np.unique(res.posterior[:, NAMES.index("cap_base_rate")])) == 3
