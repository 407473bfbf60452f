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

from conftest import BASELINE, ROOT, null_params, tiny_geography, tiny_model
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


def test_capital_stage_recovers_the_assault_decisions_rate(tmp_path, geo):
    """Synthetic capitals' dates made by the model with a known decision rate (and the other
    parameters at their defaults): the posterior's 95% range must contain it and its median lie
    within a factor of 2 of it. 120 steps (80 kept x 8 walkers): with 60 (40 kept) the chain's
    tails were too short for a 95% range (after the refit of 4 December 2026 it ended at 0.076,
    the truth 0.08)."""
    truth = 0.08
    # The decision's other coefficients pinned here (the default calibration's of 4 December
    # 2026, before the uniform 1 May), not read from the calibrated defaults: with a threshold of
    # shape ~500 and a decision twice as hostage to the share, the defaults that followed leave the
    # rate too weakly identified by 33 dates for this chain's length (median 0.017 against 0.08),
    # and a recovery test should not move with each refit.
    decision = {"assault_b_share": 53.2, "assault_b_withdrawal": 10.0, "assault_b_air": 8.41,
                "assault_shape": 36.8}
    scenario = tmp_path / "recover.toml"
    scenario.write_text(f'[scenario]\nname = "recover"\ndescription = "decision pinned"\n'
                        f'base = "{BASELINE}"\n[parameters]\n'
                        + "".join(f"{k} = {v}\n" for k, v in decision.items()))
    res = sim.run(scenario, replicates=300, seed=777,
                  parameters=ParameterSource.fixed({"assault_rate": truth, **decision}), geo=geo)
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
        scenario = "{scenario}"
        targets = "{targets}"
        seed = 5
        horizon = 2021-09-30
        [sampler]
        walkers = 8
        steps = 120
        burn_in = 40
        thin = 1
        initial_design = 16
        search_generations = 5
        [predictive]
        replicates = 50
        [stages.capitals]
        replicates = 24
        [[stages.capitals.parameters]]
        name = "assault_rate"
        prior = "loguniform"
        lower = 0.005
        upper = 1.0
        why = "test"
    """))
    result = calibrate(load_config(config), geo=geo, workers=2)
    post = result.stages[0].samples()[:, 0]
    lo, med, hi = np.quantile(post, [0.025, 0.5, 0.975])
    assert lo <= truth <= hi, (lo, truth, hi)
    assert abs(np.log(med / truth)) <= np.log(2.0)


@pytest.mark.slow
@pytest.mark.parametrize("posterior, switched_on", [
    (None, "b_capacity"), ("calibration/structures/frailty_flat/posterior.csv", "district_frailty"),
    ("calibration/structures/capital_fallen/posterior.csv", "b_capital_fallen"),
    ("calibration/structures/capital_endurance/posterior.csv", "capital_endurance"),
    ("calibration/structures/previous_default/posterior.csv", None),
    ("calibration/structures/arrears_earlier/posterior.csv", None),
    ("calibration/structures/withdrawal_countryside/posterior.csv", "b_withdrawal"),
    ("calibration/structures/cities_fallen/posterior.csv", "b_cities_fallen")],
    ids=["default", "frailty", "capital_fallen", "capital_endurance", "previous_default",
         "arrears_earlier", "withdrawal_countryside", "cities_fallen"])
@pytest.mark.parametrize("scenario", sorted(p.name for p in (ROOT / "scenarios").glob("*.toml")))
def test_engines_agree_exactly_on_every_shipped_scenario_with_posterior_draws(geo, scenario,
                                                                              posterior, switched_on):
    """Issue 10/13: both engines, 200 replicates, each with its own posterior draw (every term of
    the rule switched on; the default's posterior switches on the finite offensive capacity, A32,
    the frailty structure's the district frailty, capital_fallen's a province's districts
    following their capital, A30, capital_endurance's the cities' endurance, A33; the previous
    default has none of the four; arrears_earlier runs every scenario rebased on its own
    timeline, the arrears a month earlier; withdrawal_countryside switches on the withdrawal in
    the countryside, A13c),
    fall times within 1e-8 days and identical modes and assault times; 200 replicates reach the
    batch engine's compaction of finished rows."""
    from sim.batch import run_batch
    from sim.engine import run_replicate
    from sim.ensemble import default_parameter_source
    from sim.model import Model
    from sim.parameters import NAMES, Params
    from sim.posterior import read_posterior
    from sim.randomness import draw_batch, draw_replicate
    from sim.scenario import load_scenario
    sc = load_scenario(ROOT / "scenarios" / scenario, geo)
    if posterior is not None and (ROOT / posterior).with_name("baseline.toml").is_file():
        from sim.scenario import rebase
        sc = rebase(sc, (ROOT / posterior).with_name("baseline.toml"), geo)
    model = Model.build(geo, sc.events, sc.focus_regions, sc.end)
    R = 200
    source = default_parameter_source() if posterior is None else read_posterior(ROOT / posterior)
    table = sc.apply_table(source.table(11, range(R)))
    if switched_on is not None:       # the structure's own term is on in every draw
        off = 1.0 if switched_on == "capital_endurance" else 0.0
        assert np.all(table.values[:, NAMES.index(switched_on)] != off)
    b = run_batch(model, table, draw_batch(11, range(R), model.n))
    for k in range(R):
        ref = run_replicate(model, Params(table.row(k)), draw_replicate(11, k, model.n),
                            record_log=False)
        np.testing.assert_allclose(b.fall_time[k], ref.fall_time, rtol=0, atol=1e-8, equal_nan=True)
        assert np.array_equal(b.mode[k], ref.mode)
        np.testing.assert_allclose(b.assault_time[k], ref.assault_time, atol=1e-8, equal_nan=True)
        np.testing.assert_allclose(b.end_time[k], ref.end_time, atol=1e-8)
