"""The covariate-only reference for the district skill (sim.district_reference).

Synthetic histories are drawn from a known proportional-hazards law on the real covariates, so
what the reference should find is known; fixed seeds, tolerances stated per assertion.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.district_facts import FACTS_FILE, REPORTS_FILE, DistrictFacts, load_district_facts
from sim.district_reference import (compare_with_reference, covariate_matrix, fit_reference,
                                    reference_probability, reference_validation)
from sim.district_skill import STATUS_DATES
from sim.hazard import Covariates

FOCUS = ["Northern", "North Eastern"]


def test_with_no_coefficients_the_reference_is_the_null():
    share = np.linspace(0.0, 0.99, 50)
    z = np.random.default_rng(0).normal(size=(50, 3))
    p = reference_probability(share, z, 0.0, np.zeros(3))
    np.testing.assert_allclose(p, share, rtol=0, atol=1e-12)
    # a positive coefficient raises the probability of the districts above the mean, only those
    up = reference_probability(share[1:-1], z[1:-1], 0.0, np.array([0.5, 0.0, 0.0]))
    assert np.all((up > share[1:-1]) == (z[1:-1, 0] > 0))


def _history(geo, beta_presence, seed):
    """Fall times (300 replicates) and one 'observed' history under log-hazard log(0.008) +
    beta * presence (standardised), plus one dated fact per rural district."""
    cov = Covariates.build(geo, FOCUS)
    z, names = covariate_matrix(cov)
    rate = 0.008 * np.exp(beta_presence * z[:, names.index("presence")])
    rng = np.random.default_rng(seed)
    fall_time = rng.exponential(1.0 / rate, size=(300, geo.n))
    fall_time[:, ~cov.rural] = np.nan
    return cov, fall_time, rng


def _facts(geo, cov, true_rate_beta, rng):
    z, names = covariate_matrix(cov)
    rate = 0.008 * np.exp(true_rate_beta * z[:, names.index("presence")])
    observed = rng.exponential(1.0 / rate)
    rows = np.flatnonzero(cov.rural)
    day = rng.integers(20, 120, size=rows.size).astype(float)
    fallen = observed[rows] < day
    kind = np.where(fallen, "fell_by", "held")
    lower = np.where(fallen, -np.inf, day - 1)
    upper = day - 1
    split = np.where(np.arange(rows.size) % 2 == 0, "fit", "holdout")
    return DistrictFacts.from_arrays(rows, lower, upper, kind, split, geo=geo)


def test_the_reference_recovers_a_known_covariate_effect(geo):
    cov, fall_time, rng = _history(geo, 0.0, seed=1)      # the 'simulation' knows nothing
    facts = _facts(geo, cov, 1.0, rng)                      # the record: presence matters
    z, names = covariate_matrix(cov)
    from sim.district_skill import national_share
    fit = facts.select(split="fit")
    ref = fit_reference(national_share(fall_time, fit.score_day), z[fit.row], fit.outcome, names)
    beta = dict(zip(names, ref.beta))
    # ~180 binary facts, one date each, and reach correlated with presence: the true +1.0 comes
    # back shrunk but clearly the largest (0.5 to 1.05 over seeds 1-7); the others stay below 0.35
    assert 0.4 < beta["presence"] < 1.4
    assert all(abs(b) < 0.35 for n, b in beta.items() if n != "presence")


def test_the_comparison_is_paired_and_can_tell_a_good_simulation_from_a_bad_one(geo):
    cov, good, rng = _history(geo, 1.0, seed=2)             # simulates the true law
    facts = _facts(geo, cov, 1.0, rng)
    bad = _history(geo, -1.0, seed=3)[1]                   # the effect reversed
    kw = dict(bootstrap=1000, seed=0)
    g = compare_with_reference(good, facts.select(split="fit"), facts.select(split="holdout"), cov, **kw)
    b = compare_with_reference(bad, facts.select(split="fit"), facts.select(split="holdout"), cov, **kw)
    # the reference learns the effect: better than the null on the held-out half
    assert g["reference_skill"]["lo"] > 0
    # a simulation of the true law is at least as good as the reference fitted to half the facts
    # (over seeds 1-7 the paired difference is -0.003 to +0.07) ...
    d = g["simulation_minus_reference"]
    assert d["hi"] > 0 and d["value"] > -0.05
    assert d["value"] == pytest.approx(g["simulation_skill"]["value"] - g["reference_skill"]["value"])
    # ... and one with the effect reversed is worse than the null and than the reference
    assert b["simulation_skill"]["hi"] < 0
    assert b["simulation_minus_reference"]["hi"] < 0


def test_no_facts_is_an_error(geo):
    cov, fall_time, rng = _history(geo, 0.0, seed=4)
    facts = _facts(geo, cov, 0.0, rng)
    with pytest.raises(ValueError):
        compare_with_reference(fall_time, facts.select(split="fit"),
                               facts.select(split="holdout", kinds="captured"), cov)


def test_the_intercept_alone_knows_nothing_of_where(geo):
    cov, fall_time, rng = _history(geo, 1.0, seed=5)
    facts = _facts(geo, cov, 1.0, rng)
    out = compare_with_reference(fall_time, facts.select(split="fit"), facts.select(split="holdout"),
                                 cov, covariates=False, bootstrap=500)
    assert out["reference"]["log_hazard_per_sd"] == {}
    # the facts here are not selected (one per district, at random dates), so the intercept alone
    # is close to the null: within 0.03 of zero skill
    assert abs(out["reference_skill"]["value"]) < 0.03


def test_the_validation_scores_each_source_and_a_theatre_without_facts_gets_nothing(geo):
    from pathlib import Path

    import sim
    from sim.district_reference import reference_validation
    cov, fall_time, _ = _history(geo, 0.5, seed=6)
    out = reference_validation(fall_time, geo, FOCUS, bootstrap=200)
    assert set(out) == {"fitted_to_seed_fit_split", "fitted_to_both_fit_splits",
                        "intercept_only_fitted_to_seed_fit_split"}
    for block in out.values():
        assert set(block) == {"seed_holdout", "tolonews_holdout"}
        # the held-out splits of the shipped tables: the seed's 19 rural facts, TOLOnews' 88
        assert (block["seed_holdout"]["facts"], block["tolonews_holdout"]["facts"]) == (19, 88)
    assert out["fitted_to_both_fit_splits"]["seed_holdout"]["reference"]["fitted_on_facts"] == 182
    fixture = Path(__file__).resolve().parent / "fixtures" / "capitalia_1975"
    small = sim.load_geography(fixture)
    assert reference_validation(np.zeros((3, small.n)), small, []) == {}


def _dated_facts(geo, cov, true_beta, rng):
    """Facts in TOLOnews' pairs for the rural districts that fell between days 10 and 180 of a
    history drawn from the law with log-hazard log(0.008) + true_beta * presence: captured within
    the week before its report, and still held at the report before; alternate districts held
    out."""
    z, names = covariate_matrix(cov)
    rate = 0.008 * np.exp(true_beta * z[:, names.index("presence")])
    observed = rng.exponential(1.0 / rate)
    rows = np.flatnonzero(cov.rural & (observed > 10) & (observed < 180))
    report = np.floor(observed[rows]) + rng.integers(0, 7, size=rows.size)
    split = np.where(np.arange(rows.size) % 2 == 0, "fit", "holdout")
    return DistrictFacts.from_arrays(
        np.concatenate([rows, rows]), np.concatenate([report - 6, report - 8]),
        np.concatenate([report, report - 8]),
        np.concatenate([np.full(rows.size, "captured"), np.full(rows.size, "held")]),
        np.concatenate([split, split]), geo=geo)


def test_the_reference_orders_falls_by_its_covariates_and_the_spearman_is_paired(geo):
    """The reference's median fall days follow -eta (its covariates alone), and the Spearman of
    median dates against the observed ones is scored for the reference and the simulation on the
    same dated facts. With presence driving the order (+1.5 per sd; exponential fall times keep
    most of the order to chance), over seeds 1-7 at these sizes (95-110 dated held-out facts) the
    reference fitted to the fit split orders the held-out falls at rho 0.15-0.37, a simulation of
    the true law at 0.25-0.49, and one with the effect reversed backwards (its upper 90% bound
    -0.07 to -0.37) and below the reference (-0.04 to -0.57); the bounds below leave that margin."""
    from sim.district_reference import reference_median_day
    cov, good, rng = _history(geo, 1.5, seed=8)
    facts = _dated_facts(geo, cov, 1.5, rng)
    bad = _history(geo, -1.5, seed=9)[1]
    # the median day is monotone in eta: larger log relative hazard, earlier (or equal) median
    eta = np.linspace(-2.0, 2.0, 9)
    med = reference_median_day(good, eta)
    assert np.all(med[:-1] >= med[1:]) and med[0] > med[-1]
    kw = dict(bootstrap=500, seed=0)
    g = compare_with_reference(good, facts.select(split="fit"), facts.select(split="holdout"), cov, **kw)
    b = compare_with_reference(bad, facts.select(split="fit"), facts.select(split="holdout"), cov, **kw)
    assert g["dated_facts"] == len(facts.select(split="holdout", kinds="captured")) >= 80
    assert g["reference_spearman"]["value"] > 0.1
    assert g["simulation_spearman"]["value"] > 0.2
    assert b["simulation_spearman"]["hi"] < 0
    assert b["simulation_minus_reference_spearman"]["hi"] < 0
    d = g["simulation_minus_reference_spearman"]["value"]
    assert d == pytest.approx(g["simulation_spearman"]["value"] - g["reference_spearman"]["value"])
    # the reference's rho is the same whichever simulation's national curve it borrows: the
    # order comes from the covariates, not from the curve
    assert b["reference_spearman"]["value"] == pytest.approx(g["reference_spearman"]["value"], abs=0.05)
    # the intercept alone ranks every district alike: no Spearman is reported for it
    i = compare_with_reference(good, facts.select(split="fit"), facts.select(split="holdout"), cov,
                               covariates=False, bootstrap=100)
    assert "reference_spearman" not in i


def test_an_extra_covariate_is_scored_as_the_rule_would_read_it(geo):
    """A candidate source enters the reference before the rule: a column that carries the law of
    the record (here presence itself, given as an 'extra' with the rule's covariates off) is
    learnt and beats the null; pure noise is not (its coefficient shrinks, its skill ~0)."""
    cov, fall_time, rng = _history(geo, 0.0, seed=6)
    facts = _facts(geo, cov, 1.0, rng)
    z, names = covariate_matrix(cov)
    fit, held = facts.select(split="fit"), facts.select(split="holdout")
    kw = dict(bootstrap=500, covariates=False)
    signal = compare_with_reference(fall_time, fit, held, cov,
                                    extra={"candidate": z[:, names.index("presence")]}, **kw)
    assert set(signal["reference"]["log_hazard_per_sd"]) == {"candidate"}
    assert signal["reference"]["log_hazard_per_sd"]["candidate"] > 0.4
    assert signal["reference_skill"]["lo"] > 0
    assert "reference_spearman" in signal           # an extra alone still orders the falls
    noise = compare_with_reference(fall_time, fit, held, cov,
                                   extra={"noise": np.random.default_rng(9).normal(size=geo.n)}, **kw)
    # 180 fit facts: a pure-noise column's fitted coefficient stays small and it cannot beat the
    # null by more than a few hundredths (seeds 6-9: |beta| < 0.2, skill within +-0.03)
    assert abs(noise["reference"]["log_hazard_per_sd"]["noise"]) < 0.3
    assert noise["reference_skill"]["value"] < 0.05
    with pytest.raises(ValueError, match="one varying value per district"):
        compare_with_reference(fall_time, fit, held, cov, extra={"flat": np.ones(geo.n)})
    with pytest.raises(ValueError, match="one varying value per district"):
        compare_with_reference(fall_time, fit, held, cov, extra={"short": np.arange(3.0)})


def test_the_lwj_table_covers_every_district_once_and_bad_rows_are_one_line_errors(geo, tmp_path):
    import sys
    from pathlib import Path
    from sim.errors import UserError
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "calibration"))
    from lwj_check import DATA, STATUSES, load_lwj
    status = load_lwj(DATA, geo.pcodes)
    assert len(status) == geo.n and set(status) == set(STATUSES)
    # the counts of the transcribed map (calibration/data/README.md)
    assert [int((status == s).sum()) for s in STATUSES] == [49, 212, 138]
    lines = DATA.read_text(encoding="utf-8").splitlines()
    cases = {"unknown status": lines[:2] + [lines[2].rsplit(",", 1)[0] + ",held"] + lines[3:],
             "a district missing": lines[:-1],
             "a district twice": lines + [lines[-1]]}
    for what, text in cases.items():
        bad = tmp_path / "lwj.csv"
        bad.write_text("\n".join(text) + "\n", encoding="utf-8")
        with pytest.raises(UserError) as err:
            load_lwj(bad, geo.pcodes)
        assert err.value.key in {"lwj_control", "pcode"}, what
        assert "\n" not in str(err.value) and str(bad) in str(err.value), what
    with pytest.raises(UserError, match="no such file"):
        load_lwj(tmp_path / "absent.csv", geo.pcodes)


def test_the_reference_at_fixed_dates_scores_statuses_by_district(geo):
    """Scored at fixed dates, each source's held-out facts become one status per district and
    date (resampled by district), and no order is reported: statuses date no fall."""
    rng = np.random.default_rng(4)
    fall = rng.uniform(0.0, 120.0, size=(60, geo.n))
    out = reference_validation(fall, geo, status_dates=STATUS_DATES, bootstrap=100)
    for name, path in (("seed", FACTS_FILE), ("tolonews", REPORTS_FILE)):
        status = load_district_facts(path, geo=geo).select(
            split="holdout", capitals=False).status_on(STATUS_DATES)
        for fit in ("fitted_to_seed_fit_split", "fitted_to_both_fit_splits",
                    "intercept_only_fitted_to_seed_fit_split"):
            c = out[fit][f"{name}_holdout"]
            assert c["facts"] == len(status) > 40
            assert not any("spearman" in k for k in c)
            lo, hi = c["simulation_skill"]["lo"], c["simulation_skill"]["hi"]
            assert lo <= c["simulation_skill"]["value"] <= hi
