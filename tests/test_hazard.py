"""The surrender rule: every driver moves the hazard the documented way; a zero coefficient
removes its term. Property-based: hypothesis draws parameter values and driver levels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import hazard
from sim.parameters import BY_NAME, Params, defaults

unit = st.floats(0.0, 1.0)
coef = st.floats(0.05, 5.0)
months = st.floats(0.0, 6.0)


def params(**kw) -> Params:
    v = defaults()
    v.update(kw)
    return Params(v)


LOCAL = dict(reach=0.7, pakistan=0.0, focus=0.0, resistance=0.0, presence=0.1, highway=0.0,
             crossing=0.0, ring=0.0)


def rural(p, **drivers):
    d = dict(momentum=0.3, pay=1.0, mobilization=0.0, government_gone=0.0, withdrawal=0.6,
             neighbour_share=0.2,
             own_capital=0.0, province=0.3, cities_fallen=0.2, air=0.5, **LOCAL)
    d.update(drivers)
    local = hazard.LocalCovariates(*(d.pop(k) for k in hazard.LocalCovariates.NAMES))
    x = {"momentum": d.pop("momentum"), "neighbours": d.pop("neighbour_share"),
         "own_capital": d.pop("own_capital"), "province": d.pop("province"),
         "cascade": d.pop("cities_fallen")}
    return hazard.district_log_hazard(p, x, c=local, **d)


def capital(p, **drivers):
    d = dict(encirclement=0.5, cascade=0.2, momentum=0.5, pay=2.0, air=0.3, reach=0.8,
             distance_100km=3.0, focus=0.0, city_size=0.2, resistance=0.0, government_gone=0.0)
    d.update(drivers)
    x = {name: d.pop(name) for name in ("encirclement", "cascade", "momentum")}
    return hazard.capital_log_hazard(p, x, **d)


# Each row: coefficient, driver keyword, direction (+1: hazard rises with the driver).
RURAL_TERMS = [("b_neighbour", "neighbour_share", +1), ("b_momentum", "momentum", +1),
               ("b_pay", "pay", +1), ("b_mobilization", "mobilization", -1),
               ("b_withdrawal", "withdrawal", +1),
               ("b_air", "air", -1), ("b_reach", "reach", -1), ("b_border", "pakistan", +1),
               ("b_focus", "focus", +1), ("b_resistance", "resistance", -1),
               ("b_presence", "presence", -1), ("b_highway", "highway", +1),
               ("b_crossing", "crossing", +1), ("b_ring", "ring", +1),
               ("b_capital_fallen", "own_capital", +1),
               ("b_cities_fallen", "cities_fallen", +1),
               ("b_province", "province", +1),
               ("b_government_gone", "government_gone", +1)]
CAPITAL_TERMS = [("cap_b_encircle", "encirclement", +1), ("cap_b_cascade", "cascade", +1),
                 ("cap_b_forces", "momentum", +1), ("b_pay", "pay", +1), ("b_air", "air", -1),
                 ("cap_b_distance", "distance_100km", +1), ("cap_b_focus", "focus", +1),
                 ("cap_b_size", "city_size", -1), ("b_resistance", "resistance", -1),
                 ("b_government_gone", "government_gone", +1)]
DECISION_TERMS = [("assault_b_withdrawal", "withdrawal", +1), ("assault_b_share", "momentum", +1),
                  ("assault_b_air", "air_national", -1)]


def kabul(p, cascade=0.3, ring=0.3, momentum=0.5, pay=2.0, air=0.3, reach=0.9):
    x = {"cascade": cascade, "kabul_ring": ring, "momentum": momentum}
    return hazard.kabul_log_hazard(p, x, pay, air, reach)


def decision(p, **drivers):
    d = dict(withdrawal=0.6, momentum=0.4, air_national=0.5)
    d.update(drivers)
    return hazard.assault_log_hazard(p, {"momentum": d.pop("momentum")}, **d)


@settings(max_examples=60, deadline=None)
@given(c=coef, lo=unit, hi=unit, k=st.integers(0, len(RURAL_TERMS) - 1))
def test_rural_drivers_move_the_hazard_in_the_documented_direction(c, lo, hi, k):
    name, driver, sign = RURAL_TERMS[k]
    lo, hi = sorted((lo, hi))
    if driver == "pay":
        lo, hi = 6 * lo, 6 * hi
    p = params(**{name: c})
    delta = rural(p, **{driver: hi}) - rural(p, **{driver: lo})
    if name == "b_reach":      # reach also scales air cover: both push the same way
        assert delta <= 0
    else:
        assert np.sign(delta) in (0, sign)
        if hi - lo > 1e-6:
            assert np.sign(delta) == sign


@settings(max_examples=60, deadline=None)
@given(lo=unit, hi=unit, k=st.integers(0, len(RURAL_TERMS) - 1))
def test_a_zero_coefficient_removes_its_rural_term(lo, hi, k):
    name, driver, _ = RURAL_TERMS[k]
    # reach also scales the air term, so its own term is isolated with b_air = 0 too
    p = params(**{name: 0.0, **({"b_air": 0.0} if driver == "reach" else {})})
    assert rural(p, **{driver: lo}) == rural(p, **{driver: hi})


@settings(max_examples=60, deadline=None)
@given(c=coef, lo=unit, hi=unit, k=st.integers(0, len(CAPITAL_TERMS) - 1))
def test_capital_drivers_move_the_hazard_in_the_documented_direction(c, lo, hi, k):
    name, driver, sign = CAPITAL_TERMS[k]
    lo, hi = sorted((lo, hi))
    p = params(**{name: c})
    delta = capital(p, **{driver: hi}) - capital(p, **{driver: lo})
    if hi - lo > 1e-6:
        assert np.sign(delta) == sign
    p0 = params(**{name: 0.0})
    assert capital(p0, **{driver: hi}) == capital(p0, **{driver: lo})


@settings(max_examples=60, deadline=None)
@given(b_pay=coef, b_air=coef, pay=months, air=unit)
def test_the_cities_read_pay_and_air_from_the_recorded_cascades_levels(b_pay, b_air, pay, air):
    """A20b: at the centre levels (3 months of arrears, air 0.35) a city's and Kabul's hazards do
    not depend on b_pay or b_air, so under the cut the rural posterior's spread in them cannot set
    the baseline cascade's pace; away from the centres the hazard ratio is exactly
    exp(b_pay (S(P) - S(3)) - b_air (A - 0.35) reach)."""
    d = defaults()
    P0, A0 = d["cap_pay_centre_months"], d["cap_air_centre"]
    base, moved = params(), params(b_pay=b_pay, b_air=b_air)
    assert capital(moved, pay=P0, air=A0) == pytest.approx(capital(base, pay=P0, air=A0), abs=1e-12)
    assert kabul(moved, pay=P0, air=A0) == pytest.approx(kabul(base, pay=P0, air=A0), abs=1e-12)
    expected = (b_pay * (hazard.pay_effect(moved, pay) - hazard.pay_effect(moved, P0))
                - b_air * (air - A0) * 0.8)
    assert capital(moved, pay=pay, air=air) - capital(moved, pay=P0, air=A0) == pytest.approx(
        expected, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(lo=unit, hi=unit, c=coef)
def test_kabul_falls_faster_as_capitals_and_its_ring_fall(lo, hi, c):
    lo, hi = sorted((lo, hi))
    p = params(kabul_b_capitals=c, kabul_b_ring=c)
    if hi - lo > 1e-6:
        assert kabul(p, cascade=hi) > kabul(p, cascade=lo)
        assert kabul(p, ring=hi) > kabul(p, ring=lo)
    p0 = params(kabul_b_capitals=0.0, kabul_b_ring=0.0)
    assert kabul(p0, cascade=hi, ring=hi) == kabul(p0, cascade=lo, ring=lo)


@settings(max_examples=60, deadline=None)
@given(c=coef, lo=unit, hi=unit, k=st.integers(0, len(DECISION_TERMS) - 1))
def test_the_assault_decision_moves_with_the_state_in_the_documented_direction(c, lo, hi, k):
    name, driver, sign = DECISION_TERMS[k]
    lo, hi = sorted((lo, hi))
    p = params(**{name: c})
    if hi - lo > 1e-6:
        assert np.sign(decision(p, **{driver: hi}) - decision(p, **{driver: lo})) == sign
    p0 = params(**{name: 0.0})
    assert decision(p0, **{driver: hi}) == decision(p0, **{driver: lo})


def test_an_assault_rate_of_zero_means_the_cities_are_never_attacked():
    assert hazard.rate(decision(params(assault_rate=0.0))) == 0.0


@pytest.mark.parametrize("shape", [1.0, 4.0, 50.0])
def test_the_decision_threshold_is_gamma_with_mean_one_and_sd_one_over_root_shape(shape):
    u = (np.arange(20000) + 0.5) / 20000          # a stratified sample of the uniform
    x = hazard.assault_threshold(params(assault_shape=shape), u)
    assert x.mean() == pytest.approx(1.0, rel=1e-3)
    assert x.std() == pytest.approx(shape ** -0.5, rel=1e-2)


@settings(max_examples=40, deadline=None)
@given(lo=months, hi=months, s=st.floats(0.5, 12.0))
def test_arrears_act_monotonically_and_saturate_below_their_scale(lo, hi, s):
    lo, hi = sorted((lo, hi))
    p = params(pay_saturation_months=s)
    a, b = hazard.pay_effect(p, lo), hazard.pay_effect(p, hi)
    assert a <= b <= s
    assert b <= hi + 1e-12                       # never more than the linear effect
    # a very large scale is the linear effect
    assert hazard.pay_effect(params(pay_saturation_months=1000.0), hi) == pytest.approx(hi, rel=5e-3)


@settings(max_examples=40, deadline=None)
@given(lo=months, hi=months, m_lo=unit, m_hi=unit)
def test_negotiated_surrender_grows_with_arrears_and_momentum(lo, hi, m_lo, m_hi):
    lo, hi = sorted((lo, hi))
    m_lo, m_hi = sorted((m_lo, m_hi))
    p = params()
    def prob(p, pay, m):
        return hazard.negotiated_probability(p, {"momentum": m}, pay, 0.0)
    assert prob(p, hi, m_hi) >= prob(p, lo, m_lo)
    p0 = params(mode_b_pay=0.0, mode_b_momentum=0.0)
    assert prob(p0, hi, m_hi) == prob(p0, lo, m_lo)


def test_levers_shift_only_their_own_hazards():
    base = params()
    r0, c0, k0 = rural(base), capital(base), kabul(base)
    rd = params(rural_defence=-1.0)
    assert rural(rd) == pytest.approx(r0 - 1.0) and capital(rd) == c0
    cg = params(capital_garrison=-1.0)
    assert rural(cg) == r0 and capital(cg) == pytest.approx(c0 - 1.0)
    assert kabul(cg) == pytest.approx(k0 - 1.0)
    ts = params(taliban_strength=0.5)
    assert np.isclose(rural(ts), r0 + 0.5) and np.isclose(capital(ts), c0 + 0.5)


def test_the_rule_is_the_sum_of_its_nationwide_and_local_parts():
    p = params()
    c = hazard.LocalCovariates(0.6, 1.0, 1.0, 1.0, -0.4, 1.0, 1.0, 1.0)
    x = {"momentum": 0.5, "neighbours": 0.4, "own_capital": 1.0, "province": 0.25, "cascade": 0.3}
    whole = hazard.district_log_hazard(p, x, 2.0, 1.0, 1.0, 0.9, 0.35, c)
    parts = (hazard.nationwide_log_pressure(p, x, 2.0, 1.0, 1.0, 0.9)
             + hazard.local_log_hazard(p, x, 0.35, c))
    assert whole == parts


def test_every_coefficient_in_the_rule_is_documented():
    for name in ("b_neighbour", "b_momentum", "b_pay", "b_air", "b_reach", "b_border", "b_focus",
                 "b_mobilization", "b_withdrawal", "cap_b_encircle", "cap_b_cascade", "cap_b_distance",
                 "cap_b_focus", "cap_b_forces", "cap_b_size", "kabul_b_capitals", "kabul_b_ring",
                 "assault_b_withdrawal", "assault_b_share", "assault_b_air", "b_government_gone",
                 "b_resistance", "b_presence", "b_highway", "b_crossing", "b_ring",
                 "b_capital_fallen", "b_cities_fallen", "b_province", "b_capacity"):
        spec = BY_NAME[name]
        assert spec.meaning and spec.source and spec.unit
        if name in SIGNED:     # a net effect whose sign the data choose, said so in its meaning
            assert spec.lower == -spec.upper and "A8b" in spec.meaning
        else:
            assert spec.lower == 0.0     # strengths: signs live in the formula


#: The national feedback is the bandwagon (positive) or finite forces spread thinner (negative):
#: one term whose sign is left to the data (docs/assumptions.md, A8b).
SIGNED = frozenset({"b_momentum", "b_province"})


def test_the_parameter_documentation_is_generated_from_the_code():
    """docs/parameters.md must be regenerated (afsim parameters --markdown) when a parameter or
    the installed posterior changes; this fails if it drifts."""
    from pathlib import Path

    from sim.docs import parameters_markdown
    doc = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
    assert doc.read_text(encoding="utf-8") == parameters_markdown()


# --------------------------------------------------------------------------- the 1 May state (A19)

def _one_may_inclusion(geo, p: Params, replicates: int, seed: int) -> np.ndarray:
    """How often each district is among the 73 held on 1 May, over ``replicates`` Gumbel draws."""
    from sim.randomness import initial_fallen
    cov = hazard.Covariates.build(geo, ())
    logw = hazard.initial_log_weights(p, cov)
    g = np.random.default_rng(seed).gumbel(size=(replicates, geo.n))
    held = initial_fallen(np.broadcast_to(logw, g.shape), g, int(p.initial_fallen))
    return held.mean(axis=0)


def test_one_may_state_is_uniform_over_rural_districts_by_default(geo):
    """A19: with the default weights (0) every rural district is equally likely to be among the
    districts held on 1 May, and no capital ever is. Checked by a chi-square test of the regions'
    counts over 4,000 draws against their rural share (fixed seed, 0.1% level: a weight left on
    would move the Southern region's count by tens of standard deviations)."""
    from scipy import stats
    p = params()
    assert p.init_w_reach == p.init_w_border == p.init_w_south == 0.0
    reps = 4000
    freq = _one_may_inclusion(geo, p, reps, seed=11)
    assert np.all(freq[geo.capital_rows] == 0.0)
    rural = ~geo.is_capital
    regions = np.asarray(geo.region)[rural]
    names = sorted(set(regions))
    observed = np.array([freq[rural][regions == r].sum() for r in names]) * reps
    expected = np.array([(regions == r).sum() for r in names]) / rural.sum() * p.initial_fallen * reps
    # draws within a replicate are without replacement, so the chi-square is conservative here
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_one_may_weights_move_the_state_where_they_say(geo):
    """Turned on (a scenario may), the Southern weight puts more of the 1 May state in the south,
    and the reach weight more in low-reach districts."""
    south = hazard.Covariates.build(geo, ()).southern.astype(bool) & ~geo.is_capital
    flat = _one_may_inclusion(geo, params(), 2000, seed=3)
    tilted = _one_may_inclusion(geo, params(init_w_south=1.5), 2000, seed=3)
    assert tilted[south].mean() > 1.5 * flat[south].mean()
    low = (geo.reach < np.quantile(geo.reach, 0.25)) & ~geo.is_capital
    by_reach = _one_may_inclusion(geo, params(init_w_reach=4.0), 2000, seed=3)
    assert by_reach[low].mean() > 1.5 * flat[low].mean()
