"""Slow statistical checks (``python -m pytest -m slow``; CI runs them when time allows)."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import pytest
from scipy import stats

import sim
from sim.calibrate import calibrate, load_config
from sim.engine import run_replicate
from sim.ensemble import ParameterSource
from sim.randomness import draw_replicate

from conftest import BASELINE, null_params, tiny_geography, tiny_model
from test_exactness import chain_cdf_b

pytestmark = pytest.mark.slow


def test_simpy_engine_matches_the_two_district_closed_form_with_many_replicates():
    geo = tiny_geography(2, [(0, 1, 1.0)], capital_link=1e9)
    model = tiny_model(geo)
    base, beta = 0.01, 1.5
    p = null_params(base_rate=base, b_neighbour=beta)
    tb = np.array([run_replicate(model, p, draw_replicate(17, k, model.n), record_log=False).fall_time[2]
                   for k in range(5000)])
    total = chain_cdf_b(model.horizon, base, base, base * np.exp(beta))
    fin = tb[np.isfinite(tb)]
    assert stats.kstest(fin, lambda t: chain_cdf_b(np.asarray(t), base, base,
                                                   base * np.exp(beta)) / total).pvalue > 0.01


def test_capital_stage_recovers_the_start_of_the_assault(tmp_path, geo):
    """Synthetic capitals' dates made by the model with a known trigger delay (and the other
    capital parameters at their defaults): the posterior's 95% range must contain it and its
    median lie within 1.5 days of it."""
    truth = 33.0
    res = sim.run(BASELINE, replicates=300, seed=777,
                  parameters=ParameterSource.fixed({"assault_delay_days": truth}), geo=geo)
    lines = ["[settings]", "capital_bandwidth_days = 0.5", "capital_probability_floor = 0.002", ""]
    start = dt.date(2021, 5, 1)
    for prov in geo.provinces:
        day = res.summary.fall_day_quantile(0.5, [prov.capital_index])[0]
        if not np.isfinite(day):
            continue
        date = start + dt.timedelta(days=int(day))
        lines += ["[[capitals]]", f'province = "{prov.name}"', f"earliest = {date}",
                  f"latest = {date}", "weight = 0.5", 'source = "synthetic"', 'why = "test"', ""]
    targets = tmp_path / "targets.toml"
    targets.write_text("\n".join(lines))
    config = tmp_path / "cal.toml"
    config.write_text(textwrap.dedent(f"""
        [calibration]
        name = "recover"
        scenario = "{BASELINE}"
        targets = "{targets}"
        seed = 5
        horizon = 2021-09-30
        [sampler]
        walkers = 8
        steps = 60
        burn_in = 20
        thin = 1
        initial_design = 16
        search_generations = 5
        [predictive]
        replicates = 50
        [stages.capitals]
        replicates = 24
        [[stages.capitals.parameters]]
        name = "assault_delay_days"
        prior = "uniform"
        lower = 10.0
        upper = 60.0
        why = "test"
    """))
    result = calibrate(load_config(config), geo=geo, workers=2)
    post = result.stages[0].samples()[:, 0]
    lo, med, hi = np.quantile(post, [0.025, 0.5, 0.975])
    assert lo <= truth <= hi, (lo, truth, hi)
    assert abs(med - truth) <= 1.5
