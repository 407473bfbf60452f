"""A district count the record gives only as a range of readings ("148 seized as of 12 July":
148 held in all, or 73 + 148 taken since 1 May) is scored as the probability of lying inside it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import norm


from sim.fit import fit_report
from sim.likelihood import Likelihood
from sim.targets import load_targets
from sim.theatre import AFGHANISTAN_2021

from conftest import ROOT, targets_error

TARGETS = ROOT / "calibration" / "targets.toml"
day_of = AFGHANISTAN_2021.day_of


@pytest.fixture(scope="module")
def targets(geo):
    return load_targets(TARGETS, geo)


def _only_the_range(targets):
    ranged = targets.fitted_ranges
    assert [t.id for t in ranged] == ["seized_12_july"]
    return dataclasses.replace(targets.for_stage("rural"), districts=ranged, facts=None)


def _fall_times(geo, fallen_by_12_july: np.ndarray) -> np.ndarray:
    """Replicates in which exactly the given number of districts has fallen by 12 July."""
    ft = np.full((len(fallen_by_12_july), geo.n), np.nan)
    for r, k in enumerate(fallen_by_12_july):
        ft[r, :k] = 10.0
    return ft


def test_the_range_is_read_as_written(targets):
    t = {x.id: x for x in targets.districts}["seized_12_july"]
    assert (t.low, t.high, t.districts) == (148, 221, 184.5) and t.is_range
    assert t not in targets.fitted_districts           # not a point of the multivariate normal
    assert targets.fitted_ranges == (t,)


def test_the_range_term_is_the_normal_probability_of_lying_inside(geo, targets):
    lik = Likelihood.build(_only_the_range(targets), geo)
    assert not lik.reads_only_capitals
    counts_12_july = np.array([170, 180, 190, 200, 210, 175, 185, 195])
    counts, caps, facts = lik.features(_fall_times(geo, counts_12_july))
    assert counts[:, 0].tolist() == counts_12_july.tolist()
    got = lik.components(counts[None], caps[None], facts[None])[0, 0]
    mu, var = counts_12_july.mean(), counts_12_july.var(ddof=1)
    sd = np.sqrt(var + (0.05 * 184.5) ** 2)                # the replicates' spread + the record's
    assert got == pytest.approx(np.log(norm.cdf((221 - mu) / sd) - norm.cdf((148 - mu) / sd)))


def test_a_countryside_outside_the_range_scores_lower(geo, targets):
    lik = Likelihood.build(_only_the_range(targets), geo)
    rng = np.random.default_rng(3)

    def score(centre):
        c, k, f = lik.features(_fall_times(geo, rng.normal(centre, 8, 48).round().astype(int)))
        return lik.components(c[None], k[None], f[None])[0, 0]

    inside, fast, slow = score(185), score(300), score(120)
    assert inside > -0.1                                   # inside: almost certain
    assert fast < inside - 15 and slow < inside - 3       # no floor (the capitals floor at -6.2)
    assert score(230) < score(215) < inside                # falls off past the edge


def test_a_forecast_before_12_july_does_not_see_it(targets):
    assert "seized_12_july" not in {t.id for t in targets.as_of(dt.date(2021, 7, 12)).districts}
    assert [t.id for t in targets.as_of(dt.date(2021, 7, 13)).fitted_ranges] == ["seized_12_july"]


def test_the_fit_report_judges_a_range_by_its_edges(geo, targets):
    ft = _fall_times(geo, np.full(5, 200))                 # 200 by 12 July: inside
    row = {e["id"]: e for e in fit_report(ft, geo, targets)["district_checkpoint_errors"]}
    assert row["seized_12_july"]["relative_error"] == 0.0
    assert row["seized_12_july"]["p_inside_range"] == 1.0
    assert row["seized_12_july"]["record_range"] == [148, 221]
    ft = _fall_times(geo, np.full(5, 250))                 # 250: 29 above the high reading
    row = {e["id"]: e for e in fit_report(ft, geo, targets)["district_checkpoint_errors"]}
    assert row["seized_12_july"]["relative_error"] == pytest.approx(29 / 184.5)
    assert row["seized_12_july"]["p_inside_range"] == 0.0
    assert not row["seized_12_july"]["within_10_percent"]


@pytest.mark.parametrize("entry, key, message", [
    ("districts = 150\nlow = 148\nhigh = 221", "districts", "not both"),
    ("low = 221\nhigh = 148", "high", "not above"),
    ("low = 148", "high", "expected a number"),
    ("high = 221", "low", "expected a number"),
    ("low = 148\nhigh = 900", "high", "out of range"),
])
def test_a_bad_range_is_a_one_line_error(tmp_path, geo, entry, key, message):
    err = targets_error(tmp_path, geo, f'\n[[districts]]\nid = "x"\ndate = 2021-07-12\n{entry}\n'
                                       f'tolerance = 0.05\nweight = 1.0\nsource = "s"\nwhy = "w"\n')
    assert err.key.endswith(f".{key}") and message in str(err)


@pytest.mark.parametrize("mean", [0.0, 100.0, 140.0, 184.5, 230.0, 300.0, 399.0])
@pytest.mark.parametrize("spread", [0.0, 3.0, 30.0])
def test_the_range_term_is_finite_and_exact_far_outside(geo, targets, mean, spread):
    """No floor and no underflow: a countryside hundreds of sds away still gets a finite,
    ordered score, equal to the direct formula wherever that one is representable."""
    lik = Likelihood.build(_only_the_range(targets), geo)
    counts = mean + spread * np.linspace(-1, 1, 9)
    got = lik._ranges(counts[None, :, None])[0]
    sd = np.sqrt(counts.var(ddof=1) + (0.05 * 184.5) ** 2)
    with np.errstate(divide="ignore"):
        a, b = (221 - mean) / sd, (148 - mean) / sd
        direct = np.log(norm.sf(b) - norm.sf(a) if mean < 184.5 else norm.cdf(a) - norm.cdf(b))
    assert np.isfinite(got) and got <= 0.0
    if direct > -700:
        assert got == pytest.approx(direct, rel=1e-9, abs=1e-12)
    if not 148 <= mean <= 221:
        nearer = lik._ranges((np.clip(mean, 148, 221) + 0.5 * (mean - np.clip(mean, 148, 221))
                              + spread * np.linspace(-1, 1, 9))[None, :, None])[0]
        assert got < nearer


@settings(max_examples=200, deadline=None)
@given(mean=st.floats(-50.0, 450.0), step=st.floats(0.5, 100.0), spread=st.floats(0.0, 40.0))
def test_moving_the_countryside_away_from_the_range_never_raises_its_score(geo, targets, mean,
                                                                          step, spread):
    """Property: finite, at most 0, and no higher once the simulated counts move further from the
    range (their spread held fixed), on either side."""
    lik = Likelihood.build(_only_the_range(targets), geo)
    noise = spread * np.linspace(-1, 1, 9)

    def score(m):
        return lik._ranges((m + noise)[None, :, None])[0]

    here = score(mean)
    assert np.isfinite(here) and here <= 0.0
    if mean >= 184.5:
        assert score(mean + step) <= here + 1e-12
    if mean <= 184.5:
        assert score(mean - step) <= here + 1e-12


def test_a_count_is_fitted_by_the_stage_it_names(geo):
    """``stage = "capitals"`` gives a count to the cities' stage: the countryside's stage, which
    simulates no assault, neither reads it nor simulates further for it."""
    from sim.calibrate import _stage_horizon
    from sim.calibration_config import load_config
    config = load_config(ROOT / "calibration" / "structures" / "count_by_kabul" / "config.toml",
                         geo.theatre)
    targets = load_targets(config.targets_path, geo)
    assert [t.id for t in targets.for_stage("capitals").districts] == ["fallen_by_kabul"]
    assert "fallen_by_kabul" not in {t.id for t in targets.for_stage("rural").districts}
    assert targets.for_stage("rural").capitals == () and targets.for_stage("capitals").facts is None
    default = load_config(ROOT / "calibration" / "default.toml", geo.theatre)
    assert _stage_horizon("rural", targets, config) == _stage_horizon(
        "rural", load_targets(default.targets_path, geo), default)
    assert Likelihood.build(targets.for_stage("capitals"), geo).reads_counts
    assert not Likelihood.build(load_targets(default.targets_path, geo).for_stage("capitals"),
                                geo).reads_counts
    assert "fallen_by_kabul" not in {t.id for t in targets.as_of(dt.date(2021, 8, 15)).districts}


def test_an_unknown_stage_is_a_one_line_error(tmp_path, geo):
    err = targets_error(tmp_path, geo, '\n[[districts]]\nid = "x"\ndate = 2021-08-15\nlow = 305\n'
                                       'high = 399\ntolerance = 0.05\nweight = 1.0\n'
                                       'stage = "cities"\n')
    assert err.key.endswith(".stage") and "unknown stage 'cities'; allowed: rural, capitals" in str(err)
