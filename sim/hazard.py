"""The surrender rule: the only place where a district's, a capital's, Kabul's and the Taliban's
assault decision's hazard is written.

A government-held district falls at rate lambda(t) per day. Between two events (a fall anywhere,
a dated or reactive change of the drivers, the assault decision, Kabul's fall) every input below
is constant, so lambda is constant and the engines can compute fall times exactly. No term
depends on calendar time or on days elapsed: what changes is state (shares fallen, the assault
begun, the government gone) or a dated exogenous driver of the timeline (air support, arrears,
the brake, the withdrawal). The rules (``model.md`` section 3, ``docs/assumptions.md``):

Rural district i::

    log lambda_i = log base_rate + taliban_strength + rural_defence          (scale, levers)
                 + b_momentum * M(t) + b_pay * S(P_i(t)) - b_mobilization * B_i(t)  (drivers)
                 + b_withdrawal * W(t)                                        (withdrawal)
                 + b_government_gone * G(t)                                   (after Kabul)
                 - b_capacity * log Z(t)                                      (finite capacity)
                 + b_neighbour * N_i(t)                                       (neighbours fallen)
                 + b_capital_fallen * K_i(t)                                  (its capital fallen)
                 + b_cities_fallen * C(t)                                     (the cities fallen)
                 + b_province * P_i(t)                                        (its province fallen)
                 - b_air * A_i(t) * reach_i                                   (air support x reach)
                 - b_reach * reach_i + b_border * pakistan_i + b_focus * focus_i
                 - b_presence * presence_i                                    (state presence)
                 + b_highway * highway_i + b_crossing * crossing_i            (strategic targets)
                 + b_ring * ring_i                                            (ring of a capital)
                 - b_resistance * resistance_i                                (local resistance)

with Z(t) the mean, over the rural districts still held, of their own factor exp(local part of
the rule: neighbours, air cover, covariates) (A32: the Taliban's offensive capacity is finite; at
b_capacity = 1 the local terms decide *where* districts fall and not how many, because the held
districts' mean hazard is then the nationwide factor alone; 0 in the default), and
S(P) = s (1 - exp(-P / s)) the saturating effect of P months of arrears (s =
pay_saturation_months), P_i(t) the arrears and B_i(t) the National Mobilization brake in force in
district i: the national levels P(t) and B(t), unless a scoped event of the timeline has set the
district's own (``sim.timeline``, "Scoped levels").

A rural district falls when its hazard, accumulated, reaches its resistance: an Exp(1) draw, or
with an unobserved frailty (``district_frailty`` = theta > 0, A27) the Lomax draw of the same
uniform (:func:`district_resistance`), which is the same as multiplying lambda_i by a Gamma factor
of mean 1 and variance theta drawn once per replicate. A city (a provincial capital or Kabul)
falls when its hazard accumulated since the assault began reaches its threshold: the Exp(1) draw
itself by default, or with an endurance (``capital_endurance`` = k != 1, A33) the Gamma(k, 1/k)
draw of the same uniform (:func:`city_endurance`).

The assault decision (one per replicate; the Taliban turn on the cities when its accumulated
hazard reaches a Gamma(k, 1/k) threshold, k = assault_shape)::

    log lambda_A = log assault_rate + taliban_strength + assault_b_withdrawal * (W(t) - 1)
                 + assault_b_share * (M(t) - 1/2) - assault_b_air * A(t)

Both older triggers are limits: assault_b_withdrawal -> infinity with k -> infinity is a fixed
delay after the withdrawal (the old clock); assault_b_share -> infinity is a share threshold.

Provincial capital c (zero until the assault has begun)::

    log lambda_c = log cap_base_rate + taliban_strength + capital_garrison - G_c(t)
                 + cap_b_encircle * E_c(t) + cap_b_cascade * C(t) + cap_b_forces * M(t)
                 + b_pay * (S(P_c(t)) - S(P*)) - b_air * (A_c(t) - A*) * reach_c
                 + b_government_gone * G(t)
                 + cap_b_distance * distance_to_Kabul_c / 100 km + cap_b_focus * focus_c
                 - cap_b_size * log(registered voters_c / capitals' median)
                 - b_resistance * resistance_c

Kabul (zero until the assault has begun; its fall ends the republic: G becomes 1)::

    log lambda_K = log kabul_base_rate + taliban_strength + capital_garrison - G_K(t)
                 + kabul_b_capitals * C(t) + kabul_b_ring * R(t) + cap_b_forces * M(t)
                 + b_pay * (S(P_K(t)) - S(P*)) - b_air * (A_K(t) - A*) * reach_K

with M the national share of districts fallen (the bandwagon in the countryside; the forces freed
for the cities), N_i the border-weighted share of i's neighbours fallen, K_i = 1 once the capital
of i's province has fallen (A30; 0 before the assault, so b_capital_fallen is the cities'
parameter; C, the share of the other capitals fallen, likewise makes b_cities_fallen one, A34:
a nationwide term, which the finite capacity does not spread), P_i the share of the other rural districts of i's province fallen (A31: the national
feedback made provincial; 0 in the default), E_c the share of the capital's own province (other districts) fallen, C the share of
the other 33 capitals fallen, R the share fallen of the districts in the provinces around Kabul, W the withdrawal's progress and
G = 1 once Kabul has fallen, G_c(t) the timeline's garrison driver over city c (0 unless a
scenario reinforces it), and P_c, P_K the arrears in force in the capital's (Kabul's) own district.
The cities' pay and air terms are measured from the levels of the recorded cascade, P* =
cap_pay_centre_months and A* = cap_air_centre (:func:`city_pay_and_air`), so their base rates are
their hazards at those levels.

M, N_i, E_c, C and R are *exposures*: shares of something fallen, X = W . fallen / d, declared once
with their terms (which rule reads them, through which parameter, with which sign) in
:mod:`sim.exposures`; :func:`add_exposure_terms` adds the declared terms where the formulas above
write them, so a new exposure-based mechanism is a declaration there and a parameter row, and
both engines, which keep every declared exposure by its ``W``, need no edit.

The rural rule is split into a nationwide factor (the same for every district of a replicate)
and the district's own factor, because the batch engine exploits that split; their sum *is* the
rule, and :func:`district_log_hazard` writes it in one line. The nationwide factor holds the
national levels P(t) and B(t); a district whose level a scoped event has set carries its
departure from them in its own factor, :func:`scoped_levels_offset` ``= b_pay (S(P_i) - S(P)) -
b_mobilization (B_i - B)``, so the two parts still add up to the rule above. The departure is
exactly 0.0 where the district follows the national level, so a timeline without scoped events
gives, to the bit, the hazards it gave before scoped events existed; and it changes only when a
driver segment (or a reactive event) changes, which is when the engines recompute it.

Every function broadcasts: parameters are floats or ``(R, 1)`` arrays, district inputs ``(n,)``
or ``(R, n)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .exposures import terms_of
from .geography import Geography
from .parameters import Params


@dataclass(frozen=True, eq=False)
class CapitalCovariates:
    """The static inputs of the capitals' rule, in capital_rows order."""

    reach: np.ndarray
    distance_100km: np.ndarray
    focus: np.ndarray
    city_size: np.ndarray
    resistance: np.ndarray


@dataclass(frozen=True, eq=False)
class LocalCovariates:
    """A district's own static inputs of the rural rule (arrays over some districts). A new
    district covariate is a field here, a column of :class:`Covariates` and a term of
    :func:`local_log_hazard`: the engines pass this object through and need no edit."""

    reach: np.ndarray
    pakistan: np.ndarray
    focus: np.ndarray
    resistance: np.ndarray
    presence: np.ndarray
    highway: np.ndarray
    crossing: np.ndarray
    ring: np.ndarray

    NAMES = ("reach", "pakistan", "focus", "resistance", "presence", "highway", "crossing", "ring")


@dataclass(frozen=True, eq=False)
class Covariates:
    """Static inputs of the rule, derived once from the geography and the scenario's strategy."""

    reach: np.ndarray            # (n,) 2019 polling-station reporting rate
    pakistan: np.ndarray         # (n,) 0/1
    focus: np.ndarray            # (n,) 0/1: in the offensive's focus regions
    southern: np.ndarray         # (n,) 0/1: Southern region (the initial-state prior)
    distance_100km: np.ndarray   # (n,) distance to Kabul in 100 km
    city_size: np.ndarray        # (n,) log(registered voters / the capitals' median); 0 if unknown
    resistance: np.ndarray       # (n,) 0/1: local resistance named by the record
    presence: np.ndarray         # (n,) standardised log 2019 turnout (non-saturating state presence)
    highway: np.ndarray          # (n,) 0/1: on the main highways (docs/covariates.md)
    crossing: np.ndarray         # (n,) 0/1: holds a border crossing
    ring: np.ndarray             # (n,) 0/1: rural district bordering its province's capital
    rural: np.ndarray            # (n,) bool: not a provincial capital
    capital_rows: np.ndarray     # (34,) rows of capitals, province order
    kabul_slot: int              # position of Kabul in capital_rows
    province_index: np.ndarray   # (n,)

    @cached_property
    def at_capitals(self) -> "CapitalCovariates":
        """The capitals' static covariates, gathered once: the engines read them on every event."""
        rows = self.capital_rows
        return CapitalCovariates(self.reach[rows], self.distance_100km[rows], self.focus[rows],
                                 self.city_size[rows], self.resistance[rows])

    def local(self, rows=slice(None)) -> "LocalCovariates":
        """The district covariates of the rural rule, for some rows (all by default)."""
        return LocalCovariates(*(getattr(self, name)[rows] for name in LocalCovariates.NAMES))

    @classmethod
    def build(cls, geo: Geography, focus_regions) -> "Covariates":
        rural = ~geo.is_capital
        capital_rows = geo.capital_rows
        voters = geo.registered_voters
        median = np.nanmedian(voters[capital_rows])
        size = np.where(np.isfinite(voters) & (voters > 0), np.log(voters / median), 0.0)
        return cls(
            reach=geo.reach.copy(), pakistan=geo.pakistan_border.astype(float),
            focus=geo.in_regions(focus_regions).astype(float),
            southern=geo.in_regions(geo.theatre.prior_regions).astype(float),
            distance_100km=geo.distance_to_kabul_km / 100.0, city_size=size,
            resistance=np.asarray(geo.local_resistance, dtype=float),
            presence=np.asarray(geo.state_presence, dtype=float),
            highway=np.asarray(geo.highway, dtype=float),
            crossing=np.asarray(geo.border_crossing, dtype=float),
            ring=np.asarray(geo.capital_ring, dtype=float), rural=rural,
            capital_rows=capital_rows,
            kabul_slot=int(np.flatnonzero(capital_rows == geo.kabul_row)[0]),
            province_index=geo.province_index)


# --------------------------------------------------------------------------- from log-hazard to rate

#: Rates are capped at exp(MAX_LOG_RATE) per day (1e100: a fall within 1e-100 days, i.e. at
#: once). Wide calibration priors reach log-hazards beyond exp's range; an infinite rate would
#: turn into NaN in the engines' arithmetic (inf * 0 when two events coincide), and the product
#: of two capped factors (the rural rule's nationwide and local parts) is still finite.
MAX_LOG_RATE = 230.0


def rate(log_hazard):
    """The hazard (per day) for a log-hazard, capped at exp(MAX_LOG_RATE)."""
    return np.exp(np.minimum(log_hazard, MAX_LOG_RATE))


# --------------------------------------------------------------------------- declared terms

def add_exposure_terms(log_hazard, p: Params, x, rule: str, scope: str | None = None):
    """``log_hazard`` plus the terms :mod:`sim.exposures` declares for ``rule`` (and, for the rural
    rule, ``scope``), each ``sign * parameter * (exposure - centre)``, in declaration order.

    ``x`` maps an exposure's name to its value. The terms are added one by one, left to right, as
    the written formula would add them, so the declared form gives the formula's numbers to the
    bit."""
    for exposure, parameter, adds, centre in terms_of(rule, scope):
        v = x[exposure]
        if centre:
            v = v - centre
        term = getattr(p, parameter) * v
        log_hazard = log_hazard + term if adds else log_hazard - term
    return log_hazard


# --------------------------------------------------------------------------- rural districts

def pay_effect(p: Params, pay):
    """S(P) = s (1 - exp(-P/s)): arrears act linearly at first and saturate at s months' worth."""
    s = p.pay_saturation_months
    return s * -np.expm1(-np.asarray(pay, dtype=float) / s)


def nationwide_log_pressure(p: Params, x, pay, mobilization, government_gone, withdrawal,
                            held_mean=1.0):
    """The part of the rural rule shared by every district of a replicate: its national exposures
    (``x``; the bandwagon M), drivers (``pay`` and ``mobilization``: the national levels;
    ``withdrawal``: the US withdrawal's progress W, A13c) and the finite capacity (A32:
    ``held_mean``, :func:`held_mean_rate` of the districts' own factors; log 1 = 0 where it is
    not computed, which changes no bit while b_capacity is 0)."""
    log = add_exposure_terms(np.log(p.base_rate) + p.taliban_strength + p.rural_defence,
                             p, x, "rural", "national")
    return (log + p.b_pay * pay_effect(p, pay) - p.b_mobilization * mobilization
            + p.b_withdrawal * withdrawal
            + p.b_government_gone * government_gone - p.b_capacity * np.log(held_mean))


def held_count(own_rates) -> np.ndarray:
    """The rural districts still held, over the last axis: those with a positive own factor (the
    fallen and the capitals are kept at 0, and so is a rate that underflowed)."""
    return np.count_nonzero(np.asarray(own_rates) > 0, axis=-1)


def held_mean_rate(own_rates, held=None) -> np.ndarray:
    """Z of A32: the mean own factor of the rural districts still held, over the last axis
    (``own_rates``: each district's exp(local log hazard), 0 for the fallen and the capitals, as
    both engines keep it); 1.0 where none is held (nothing is left for the capacity to spread).
    ``held``, :func:`held_count`, where the caller keeps it (counting again costs more than the
    sum)."""
    own = np.asarray(own_rates, dtype=float)
    if held is None:
        held = held_count(own)
    return np.where(held > 0, own.sum(axis=-1) / np.maximum(held, 1), 1.0)


def scoped_levels_offset(p: Params, pay, national_pay, mobilization, national_mobilization):
    """A district's departure from the nationwide factor's drivers, b_pay (S(P_i) - S(P)) -
    b_mobilization (B_i - B): where a scoped event has set the district's own arrears or brake.

    Written as a difference (not as the district's own terms) so that the nationwide factor can
    stay one number per replicate, which the batch engine's operational clock needs; it is exactly
    0.0 where the district follows the national levels."""
    return (p.b_pay * (pay_effect(p, pay) - pay_effect(p, national_pay))
            - p.b_mobilization * (np.asarray(mobilization, dtype=float) - national_mobilization))


def local_log_hazard(p: Params, x, air, c: LocalCovariates, scoped_levels=0.0):
    """A district's own part of the rural rule: its district exposures (``x``; its neighbours
    fallen), its air cover, its covariates, and (``scoped_levels``, from
    :func:`scoped_levels_offset`) its own arrears and brake where a scoped event set them. Adding
    the 0.0 of an unscoped district changes no bit."""
    return (add_exposure_terms(0.0, p, x, "rural", "district") - p.b_air * air * c.reach
            - p.b_reach * c.reach + p.b_border * c.pakistan + p.b_focus * c.focus
            - p.b_presence * c.presence + p.b_highway * c.highway + p.b_crossing * c.crossing
            + p.b_ring * c.ring - p.b_resistance * c.resistance + scoped_levels)


def district_log_hazard(p: Params, x, pay, mobilization, government_gone, withdrawal, air,
                        c: LocalCovariates, national_pay=None, national_mobilization=None):
    """Log surrender hazard of a rural district (per day): the rule, in one line. ``x`` holds its
    exposures (national and its own); ``pay`` and ``mobilization`` are the levels in force in the
    district; ``national_pay`` and ``national_mobilization`` the national ones (by default the
    same: an unscoped timeline)."""
    P = pay if national_pay is None else national_pay
    B = mobilization if national_mobilization is None else national_mobilization
    return (nationwide_log_pressure(p, x, P, B, government_gone, withdrawal)
            + local_log_hazard(p, x, air, c, scoped_levels_offset(p, pay, P, mobilization, B)))


def district_resistance(p: Params, resistance, rural):
    """The resistance a rural district's cumulative hazard must reach, given its Exp(1) draw.

    A district with a Gamma frailty Z (mean 1, variance theta = ``district_frailty``) on its
    hazard falls when Z H(t) reaches an Exp(1) draw E, i.e. when H(t) reaches E / Z, whose law is
    the Lomax: P(E / Z > h) = (1 + theta h)^(-1/theta). Its inverse at the same uniform U =
    exp(-E) is expm1(theta E) / theta, so the frailty costs no new random number, keeps the
    common random numbers of every scenario, and theta = 0 returns the Exp(1) draw itself, to
    the bit. Capitals (``rural`` False) are :func:`city_endurance`'s."""
    theta = np.asarray(p.district_frailty, dtype=float)
    r = city_endurance(p, np.asarray(resistance, dtype=float), rural)
    if not np.any(theta > 0):
        return r
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lomax = np.expm1(theta * r) / np.where(theta > 0, theta, 1.0)
    return np.where(rural & (theta > 0), lomax, r)


def city_endurance(p: Params, resistance, rural):
    """The thresholds the cities' (``rural`` False) cumulative hazards must reach: Gamma(k, 1/k)
    at the same uniform U = exp(-E) as their Exp(1) draws E (k = ``capital_endurance``, A33).

    A memoryless city (k = 1) falls as soon as chance says, however little pressure it has borne;
    with a larger k its endurance is a stock worn down by the hazard it accumulates, which is a
    function of state, so a city whose pressure stops stops wearing down. The upper-tail quantile
    keeps the draws' order (a stubborn city in one scenario is stubborn in all: common random
    numbers), and k = 1 returns E itself, to the bit. Rural rows are returned unchanged."""
    from scipy.special import gammainccinv
    k = np.asarray(p.capital_endurance, dtype=float)
    if not np.any(k != 1.0):
        return resistance
    cities = np.flatnonzero(~np.asarray(rural, dtype=bool))
    out = np.array(resistance, dtype=float, copy=True)
    e = out[..., cities]
    kk = np.broadcast_to(k, e.shape) if k.ndim else k
    with np.errstate(under="ignore"):
        gamma = gammainccinv(kk, np.exp(-e)) / kk
    out[..., cities] = np.where(kk == 1.0, e, gamma)
    return out


# --------------------------------------------------------------------------- the assault decision

def assault_log_hazard(p: Params, x, withdrawal, air_national):
    """Log hazard (per day) that the Taliban turn on the provincial capitals (``x``: the national
    exposures)."""
    with np.errstate(divide="ignore"):
        base = np.log(p.assault_rate)
    log = add_exposure_terms(base + p.taliban_strength + p.assault_b_withdrawal * (withdrawal - 1.0),
                             p, x, "decision")
    return log - p.assault_b_air * air_national


def assault_threshold(p: Params, u):
    """The decision's threshold from a uniform: Gamma(k, 1/k), mean 1 (k = assault_shape)."""
    from scipy.special import gammaincinv
    k = np.asarray(p.assault_shape, dtype=float)
    return gammaincinv(k, u) / k


# --------------------------------------------------------------------------- capitals and Kabul

def capital_log_hazard(p: Params, x, pay, air, reach, distance_100km, focus, city_size, resistance,
                       government_gone, garrison=0.0):
    """Log hazard of a provincial capital once the assault on cities has begun (``x``: the
    exposures the capitals' rule reads, per capital; ``pay``: the arrears in force in the city's
    district; ``garrison``: the timeline's garrison driver over the city, a log-hazard
    decrease)."""
    log = add_exposure_terms(np.log(p.cap_base_rate) + p.taliban_strength + p.capital_garrison
                             - garrison, p, x, "capital")
    return (log + city_pay_and_air(p, pay, air, reach)
            + p.b_government_gone * government_gone
            + p.cap_b_distance * distance_100km + p.cap_b_focus * focus - p.cap_b_size * city_size
            - p.b_resistance * resistance)


def kabul_log_hazard(p: Params, x, pay, air, reach, garrison=0.0):
    """Log hazard that Kabul falls, once the assault has begun (``x``: the exposures Kabul's rule
    reads; ``pay``: the arrears in Kabul's district)."""
    log = add_exposure_terms(np.log(p.kabul_base_rate) + p.taliban_strength + p.capital_garrison
                             - garrison, p, x, "kabul")
    return log + city_pay_and_air(p, pay, air, reach)


def city_pay_and_air(p: Params, pay, air, reach):
    """A city's pay and air terms, measured from the levels of the recorded cascade
    (``cap_pay_centre_months``, ``cap_air_centre``): the cities' base rates are their hazards at
    those levels, so under the cut the rural posterior's spread in ``b_pay`` and ``b_air`` moves
    a what-if's cities, not the baseline's cascade. The same family of rules as without centres
    (the base rate absorbs the constant)."""
    return (p.b_pay * (pay_effect(p, pay) - pay_effect(p, p.cap_pay_centre_months))
            - p.b_air * (air - p.cap_air_centre) * reach)


# --------------------------------------------------------------------------- other parts of the rule

def negotiated_probability(p: Params, x, pay, is_capital):
    """Probability that a fall is a negotiated surrender rather than a fight (``pay``: the
    arrears in force in the falling district, its own where a scoped event set them: unpaid
    soldiers are the ones who take a deal)."""
    logit = add_exposure_terms(p.mode_intercept + p.mode_b_pay * pay, p, x, "mode")
    logit = logit + p.mode_capital_offset * is_capital
    return 1.0 / (1.0 + np.exp(-logit))


def initial_log_weights(p: Params, cov: Covariates):
    """Log weights of the prior that draws the districts already held on 1 May.

    The weights are 0 by default, a uniform draw among the rural districts (A19: the record gives
    the count, not which districts); a scenario may set them. Capitals get -inf: no capital was
    held before 6 August (provinces.csv).
    """
    w = (p.init_w_reach * (1.0 - cov.reach) + p.init_w_border * cov.pakistan
         + p.init_w_south * cov.southern)
    return np.where(cov.rural, w, -np.inf)


# --------------------------------------------------------------------------- who reads what before the decision

#: Parameters read directly (``p.name``) by the decision's and the cities' functions above, and by
#: the functions that move the countryside before the decision (the rural rule, a fall's mode,
#: the initial state; the batch engine also reads ``initial_fallen``). Written out, and checked
#: against this module's source by the tests, so that a new term cannot slip past the list.
CITY_READS = frozenset({
    "assault_rate", "assault_b_withdrawal", "assault_b_air", "assault_shape", "taliban_strength",
    "cap_base_rate", "capital_garrison", "b_government_gone", "cap_b_distance", "cap_b_focus",
    "cap_b_size", "b_resistance", "kabul_base_rate", "b_pay", "cap_pay_centre_months", "b_air",
    "cap_air_centre", "pay_saturation_months", "capital_endurance"})
COUNTRYSIDE_READS = frozenset({
    "base_rate", "taliban_strength", "rural_defence", "b_pay", "b_mobilization", "b_withdrawal",
    "b_government_gone", "pay_saturation_months", "b_air", "b_reach", "b_border", "b_focus",
    "b_presence", "b_highway", "b_crossing", "b_ring", "b_resistance", "mode_intercept",
    "district_frailty", "b_capacity",
    "mode_b_pay", "mode_capital_offset", "init_w_reach", "init_w_border", "init_w_south",
    "initial_fallen"})


def _city_parameters() -> frozenset:
    from .exposures import EXPOSURES, TERMS
    still = {e.name for e in EXPOSURES if not e.moves_before_assault}
    city = CITY_READS | {t.parameter for t in TERMS if t.rule in ("decision", "capital", "kabul")
                         or t.exposure in still}
    # a countryside term whose share counts only capitals is 0 until the assault: the cities'
    countryside = COUNTRYSIDE_READS | {t.parameter for t in TERMS if t.rule in ("rural", "mode")
                                       and t.exposure not in still}
    return frozenset(city - countryside)


#: The parameters nothing reads before the Taliban turn on the cities except the decision itself:
#: a calibration stage that varies only these can simulate each replicate's countryside once and
#: resume every parameter point from it (:mod:`sim.prologue`).
CITY_PARAMETERS = _city_parameters()
