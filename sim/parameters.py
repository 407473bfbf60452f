"""Every model parameter in one table: name, default, unit, bounds, meaning and source.

Parameters are data. The hazard (:mod:`sim.hazard`) reads them by name; scenarios change them
by name; calibration estimates some of them by name. Nothing else in the code holds a model
constant. Each entry says where it comes from: a sentence of the seed article
(``shared/seeds``, quoted in ``sim/data/timeline.csv`` / ``history.csv``), a number of the
record, or, when the record is silent, ``ASSUMPTION`` with the reasoning.

Signs are written into the hazard formula, so every coefficient below is a non-negative
strength: "b_air = 2" means air support *lowers* the hazard, as the formula in
:mod:`sim.hazard` shows.

Defaults of the calibrated parameters are the highest-posterior draw of the default calibration
as it was until 6 December 2026 (now ``calibration/structures/previous_default``; its
``fit_report.json``, "calibration", "highest_posterior_draw"), rounded to three significant
digits, with ``b_capacity`` 0. They were not moved to the new default's draw (its
``fit_report.json``): with its finite offensive capacity (A32) the local mechanisms the
fixed-parameter tests isolate (a province following its capital, scoped pay, the synthetic
theatre) are mostly cancelled, and the default test suite ran 650 s instead of 362 s. Runs draw every
replicate's parameters from the whole posterior unless ``--fixed-parameters`` asks for these values;
marginal medians would not do, because the record constrains combinations of coefficients (the
pay effect and the mobilization brake, for instance) more than each alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class Parameter:
    name: str
    default: float
    unit: str
    lower: float
    upper: float
    group: str
    meaning: str
    source: str
    integer: bool = False


_P = Parameter

#: The table. Order is the order of documentation and of output columns.
PARAMETERS: tuple[Parameter, ...] = (
    # ----------------------------------------------------------------- rural districts
    _P("base_rate", 0.000314, "1/day", 1e-6, 1.0, "district",
       "Daily surrender hazard of a held district with every driver at zero.",
       "ASSUMPTION (scale); calibrated against the monthly captures (history.csv H07, H11, H21)."),
    _P("b_neighbour", 2.91, "per unit share", 0.0, 10.0, "district",
       "Log-hazard increase when all of a district's neighbours (border-length weighted) have fallen.",
       "Seed: 'a continuation of the bottom-up succession of negotiated or paid surrenders to the "
       "Taliban from the village level upwards' (timeline.csv T01)."),
    _P("b_momentum", 1.23, "per unit share", -10.0, 10.0, "district",
       "Log-hazard change per unit of the national share of districts fallen: the bandwagon when "
       "positive; negative, the Taliban's finite forces spread thinner as the front extends "
       "(ASSUMPTION A8b: the sign is left to the data).",
       "Seed: 'the more they see the Taliban victory is inevitable, the more the victory becomes "
       "inevitable, because they just cut their own deals with them'."),
    _P("b_pay", 1.58, "per month of arrears", 0.0, 10.0, "district",
       "Log-hazard increase per month of ANSF salary arrears P(t).",
       "Seed: 'The sudden switch ANSF salary management in April 2021 to Afghan military "
       "administration led to months of unpaid ANSF salaries.' (timeline.csv T08)."),
    _P("pay_saturation_months", 3.0, "months", 0.1, 1000.0, "district",
       "Arrears act through s (1 - exp(-P/s)): linear for the first months, saturating at s months' "
       "worth (a soldier unpaid for a year is not twelve times likelier to leave than one unpaid a month).",
       "ASSUMPTION (issue 10: arrears saturate); s = 3 months, fixed, set before fitting. Seed: "
       "'months of unpaid ANSF salaries' (timeline.csv T08)."),
    _P("b_air", 1.2, "per unit air support x reach", 0.0, 10.0, "district",
       "Log-hazard decrease per unit of air support A(t) times the district's government reach.",
       "Seed: the February 2020 and April 2021 'drops in US support ... in particular aerial "
       "support, that the ANSF had been trained to depend on' (timeline.csv T02, T07, T16)."),
    _P("b_reach", 0.643, "per unit reach", 0.0, 10.0, "district",
       "Log-hazard decrease per unit of government reach (2019 polling-station reporting rate).",
       "ASSUMPTION: the share of planned 2019 polling stations that reported measures how far the "
       "state reached into a district (districts.csv polling_stations_*_2019)."),
    _P("b_border", 1.53, "indicator", 0.0, 5.0, "district",
       "Log-hazard increase for districts on the Pakistan border (sanctuary and supply).",
       "ASSUMPTION from model.md ('border sanctuary'); districts.csv border_countries."),
    _P("b_focus", 0.11, "indicator", 0.0, 5.0, "district",
       "Log-hazard increase for districts in the offensive's focus regions (strategy.focus_regions).",
       "Seed: 'its strategic choice of attacking northern provinces'."),
    _P("b_presence", 1.06, "per standard deviation", 0.0, 5.0, "district",
       "Log-hazard decrease per standard deviation of state presence (log 2019 turnout, "
       "standardised): a measure that does not saturate where the reach does.",
       "ASSUMPTION (issue 11): turnout measures how far the state reached; covariates.csv "
       "state_presence (docs/covariates.md). Estimated from the district facts."),
    _P("b_highway", 1.46, "indicator", 0.0, 5.0, "district",
       "Log-hazard increase for districts on the main highways (the ring road and the routes to "
       "the crossings).",
       "Seed: the Taliban took 'control of most of Afghanistan's main highways' (timeline.csv T05) "
       "and sought 'freedom of movement on the main Afghan highways'; the road network is an "
       "ASSUMPTION built from the neighbour graph (docs/covariates.md). Estimated."),
    _P("b_crossing", 2.05, "indicator", 0.0, 5.0, "district",
       "Log-hazard increase for districts holding a border crossing or customs post (revenue).",
       "Seed: the table of captured frontier crossings (border_crossings.csv). Estimated."),
    _P("b_ring", 0.48, "indicator", 0.0, 5.0, "district",
       "Log-hazard increase for rural districts bordering their province's capital (the ring "
       "the Taliban closed around each city).",
       "Seed: Kandahar, 'All surrounding districts save for Daman District had fallen'; Herat's "
       "Karukh; covariates.csv capital_ring. Estimated."),
    _P("b_capital_fallen", 0.0, "indicator", 0.0, 10.0, "district",
       "Log-hazard increase of a rural district once its own provincial capital has fallen: the "
       "corps or brigade that held the province and its supplies were in the city, and surrendered "
       "with it. 0 (off) unless a calibration estimates it.",
       "Seed: in Kunduz 'hundreds of Afghan troops surrendered' at the 217 Pamir Corps' base, "
       "'responsible for security of Kunduz, Takhar and Badakhshan', 'securing Taliban control "
       "over their military equipment'; in Herat 'an entire Afghan army Corps in the city of Herat "
       "crumbled'. ASSUMPTION that this reaches the province's district centres (A30)."),
    _P("b_cities_fallen", 0.0, "per unit share", 0.0, 10.0, "district",
       "Log-hazard increase of every rural district still held per unit of the share of the other "
       "provincial capitals fallen: district garrisons giving up as the cities they answered to "
       "fell, whether or not the Taliban had fighters to send. A nationwide term, so the finite "
       "offensive capacity (A32) does not spread it thinner. 0 (off) unless a calibration "
       "estimates it.",
       "Seed: 'On 6 August, the Taliban launched an assault on the provincial capitals, with most "
       "of the towns surrendering without a fight' and 'peaceful surrender of some Afghan army "
       "units had encouraged many others to follow suit'; 73 + 232 captured districts by 15 "
       "August, 'later controlling 305-399 districts' (history.csv H01, H03, H05). ASSUMPTION "
       "(A34) that it reaches the district centres nationwide, outside the Taliban's capacity."),
    _P("b_province", 0.0, "per unit share", -10.0, 10.0, "district",
       "Log-hazard change per unit of the share of the other rural districts of the district's own "
       "province fallen: negative, the local Taliban forces spread thinner as their own province's "
       "front extends (the brake made local); positive, a provincial bandwagon (ASSUMPTION A31; "
       "the sign is left to the data, as A8b). 0 (off) unless a calibration estimates it.",
       "ASSUMPTION (A31): the record names the chain of surrenders (timeline.csv T01, 'a bottom-up "
       "succession of negotiated or paid surrenders') and the national feedback, not its scale; "
       "its sign and size are the calibration's to estimate."),
    _P("b_capacity", 0.0, "share", 0.0, 1.0, "district",
       "How far the Taliban's offensive capacity is finite: the rural hazards are divided by Z^b, "
       "Z the mean own factor (neighbours, air cover, covariates) of the districts still held. At "
       "0 every district's hazard is its own (more districts at the front, more falls); at 1 the "
       "local terms decide where districts fall and the nationwide ones how many. 0 (off) unless "
       "a calibration estimates it (A32).",
       "ASSUMPTION (A32): the record gives the Taliban's strength ('something like 75,000 "
       "Taliban' against 300,000 Afghan troops, history.csv H66, H71) and its choice of targets "
       "(the northern strategy), not how that strength bounded the pace; its size is the "
       "calibration's."),
    _P("district_frailty", 0.0, "variance", 0.0, 10.0, "district",
       "Variance of each rural district's unobserved frailty: a Gamma(1/theta, theta) factor of mean "
       "1 on its hazard, drawn once per replicate (0 = districts differ only by their covariates). "
       "The frail fall first, so the countryside slows as it is used up without any covariate "
       "having to carry the spread.",
       "ASSUMPTION (issue 11: districts differ by more than the covariates we have: tribal ties, "
       "commanders' deals, terrain); a standard shared-frailty survival model. Implemented as the "
       "Lomax resistance it implies (sim.hazard.district_resistance)."),
    _P("b_withdrawal", 0.0, "per unit progress", 0.0, 10.0, "district",
       "Log-hazard increase of every rural district per unit of US withdrawal progress W(t) "
       "(A13c): the defenders lose the coalition's enablers and their confidence as the foreign "
       "forces leave. 0 in the default (the arrears carry the June acceleration, A11c).",
       "Seed: 'After US president Biden's April 2021 announcement confirming a full unconditional "
       "US withdrawal, the chain of surrenders accelerated' (timeline.csv T06); the withdrawal's "
       "milestones are the record's (T09, T10, T14, T15). Strength: ASSUMPTION, calibrated in "
       "calibration/structures/withdrawal_countryside."),
    _P("b_mobilization", 0.163, "indicator", 0.0, 5.0, "district",
       "Log-hazard decrease while the National Mobilization of militias is in force (a brake).",
       "Seed: 25 June, 'a program called National Mobilization that aimed to arm militia groups "
       "to fight the Taliban' (timeline.csv T13). Strength: ASSUMPTION, calibrated."),
    # ----------------------------------------------------------------- provincial capitals
    _P("cap_base_rate", 2.6e-11, "1/day", 1e-18, 10.0, "capital",
       "Daily surrender hazard of a provincial capital once the assault has begun, its other drivers "
       "at zero and its arrears and air cover at the recorded cascade's levels (A20b).",
       "ASSUMPTION (scale); calibrated against the capitals' fall dates (provinces.csv)."),
    _P("cap_b_encircle", 0.35, "per unit share", 0.0, 10.0, "capital",
       "Log-hazard increase per unit share of the capital's own province already fallen (encirclement).",
       "Seed: cities were besieged after their districts fell (e.g. Kandahar: 'All surrounding "
       "districts save for Daman District had fallen under Taliban control')."),
    _P("cap_b_cascade", 14.7, "per unit share", 0.0, 20.0, "capital",
       "Log-hazard increase per unit share of the other provincial capitals already fallen.",
       "Seed: 'peaceful surrender of some Afghan army units had encouraged many others to follow "
       "suit'; 33 capitals fell in ten days (provinces.csv)."),
    _P("cap_b_distance", 1.74, "per 100 km", 0.0, 5.0, "capital",
       "Log-hazard increase per 100 km of great-circle distance from Kabul (the periphery first, "
       "the ring around Kabul last).",
       "model.md section 3; ASSUMPTION that distance, not a typed-in order, carries the geography."),
    _P("cap_b_focus", 5.54, "indicator", 0.0, 10.0, "capital",
       "Log-hazard increase for capitals in the offensive's focus regions.",
       "Seed: 'its strategic choice of attacking northern provinces'."),
    _P("cap_b_size", 2.04, "per log-unit of population", 0.0, 5.0, "capital",
       "Log-hazard decrease per unit of log(registered voters of the capital district / the "
       "capitals' median): bigger cities had bigger garrisons and held longer.",
       "Seed: 'culminating with victories in weeks-long battles of major cities Herat, Kandahar and "
       "Lashkargah'; 'The remaining ground defense of Lashkar Gah and Kandahar was mostly organized "
       "by hundreds of Afghan Commandos'. Population proxy: districts.csv registered_voters_2019."),
    _P("cap_b_forces", 14.8, "per unit share", 0.0, 20.0, "capital",
       "Log-hazard increase of every capital, Kabul included, per unit national share of districts "
       "fallen: the Taliban forces, weapons and vehicles freed by the falls of the countryside.",
       "Seed: in June alone 'They captured 700 trucks and Humvees from the Afghan security forces' "
       "(history.csv H12); surrendered troops (H18, H28). ASSUMPTION that freed forces scale with the share of districts fallen. Replaces "
       "the old day-count ramp (issue 10): what grows during an assault is state, not days."),
    _P("capital_endurance", 1.0, "shape", 0.2, 1000.0, "capital",
       "Shape k of a city's endurance: a provincial capital (or Kabul) falls when the hazard it has "
       "accumulated since the assault began reaches a Gamma(k, 1/k) threshold (mean 1), drawn at "
       "the same uniform as its Exp(1) resistance. k = 1 is the memoryless siege (the Exp(1) "
       "draw itself, to the bit); a large k a garrison whose endurance is worn down by the "
       "pressure it has borne, so that a city falls when its pressure says rather than by chance.",
       "ASSUMPTION (docs/assumptions.md A33): the record's 'weeks-long battles of major cities' "
       "and cities that held under siege for days (Lashkar Gah, Kandahar, Herat: timeline.csv "
       "T30) before falling. 1 in the default; estimated in calibration/structures/capital_endurance "
       "(1.3-46) it fitted the capitals worse, not adopted. What accumulates is hazard, a function of "
       "state (the cascade, the forces freed, encirclement, pay, air cover), never days: a city "
       "whose pressure stops stops wearing down."),
    _P("cap_pay_centre_months", 3.0, "months", 0.0, 24.0, "capital",
       "Arrears at which a capital's (and Kabul's) pay term is zero: the cities read "
       "b_pay (S(P_c) - S(centre)), so cap_base_rate and kabul_base_rate are their hazards at the "
       "arrears of the recorded cascade and a what-if moves them by b_pay times the difference.",
       "ASSUMPTION (a reparametrisation, not a new effect): 3 months, the arrears the baseline "
       "timeline puts in force from 1 August (scenarios/baseline.toml). Under the cut (A20) the rural "
       "posterior's uncertainty in b_pay otherwise set the pace of the baseline's cascade."),
    _P("cap_air_centre", 0.35, "air support", 0.0, 2.0, "capital",
       "National air support at which a capital's (and Kabul's) air term is zero: the cities read "
       "b_air (A_c - centre) reach_c.",
       "ASSUMPTION (a reparametrisation): 0.35, the level the baseline timeline puts in force during "
       "the recorded cascade (0.25 after the Bagram handover plus 0.1 for the B-52 strikes, "
       "scenarios/baseline.toml). As for cap_pay_centre_months."),
    # ----------------------------------------------------------------- the assault decision
    _P("assault_rate", 0.000451, "1/day", 0.0, 10.0, "trigger",
       "Daily hazard that the Taliban turn on the provincial capitals, at full US withdrawal, half of "
       "the districts fallen and no air support (0 = never).",
       "ASSUMPTION (scale); calibrated against 'the assault on the provincial capitals began on "
       "6 August' (targets.toml) and the capitals' dates."),
    _P("assault_b_withdrawal", 15.8, "per unit progress", 0.0, 50.0, "trigger",
       "Log-hazard increase of the assault decision per unit of US withdrawal progress W(t) "
       "(measured from full withdrawal). Large values make the decision wait for the withdrawal "
       "(the old clock trigger is the limit).",
       "Seed: NBC, 25 June: the Taliban 'had avoided capturing some targets so as not to run afoul "
       "of the US' (timeline.csv T15 context)."),
    _P("assault_b_share", 69, "per unit share", 0.0, 100.0, "trigger",
       "Log-hazard increase of the assault decision per unit national share of districts fallen "
       "(measured from half). Large values make the decision wait for a share of the countryside "
       "(the old share trigger is the limit).",
       "model.md section 3 ('a national share fallen'); seed: cities besieged after their "
       "districts fell."),
    _P("assault_b_air", 4.27, "per unit air support", 0.0, 20.0, "trigger",
       "Log-hazard decrease of the assault decision per unit of national air support A(t): the "
       "cities were where US air power could still hurt the attackers.",
       "Seed: 7 August, B-52s and gunships over the southern cities (timeline.csv T30); the NBC "
       "quote above. ASSUMPTION for its form."),
    _P("assault_shape", 512, "shape", 0.5, 2000.0, "trigger",
       "Shape k of the decision's threshold: the Taliban turn on the cities when the decision's "
       "accumulated hazard reaches a Gamma(k, 1/k) threshold (mean 1). k = 1 is a memoryless "
       "decision; k -> infinity a deterministic one (the accumulated pressure reaches 1).",
       "ASSUMPTION: a deliberate decision (the record's leadership planned the assault), calibrated."),
    # ----------------------------------------------------------------- Kabul and after Kabul
    _P("kabul_base_rate", 6.5e-10, "1/day", 1e-18, 10.0, "kabul",
       "Daily hazard that Kabul falls (the president leaves) once the assault has begun, no capital "
       "fallen, its arrears and air cover at the recorded cascade's levels (A20b).",
       "ASSUMPTION (scale); calibrated against 15 August (provinces.csv)."),
    _P("kabul_b_capitals", 7.84, "per unit share", 0.0, 30.0, "kabul",
       "Log-hazard increase of Kabul's fall per unit share of the other 33 capitals fallen.",
       "Seed: Kabul fell after 25 capitals had, 'with only sporadic resistance' (provinces.csv)."),
    _P("kabul_b_ring", 1.0, "per unit share", 0.0, 10.0, "kabul",
       "Log-hazard increase per unit share fallen of the districts of the provinces around Kabul.",
       "Seed: on 15 August the Taliban 'entered the outskirts of Kabul from multiple directions' "
       "(timeline.csv T38)."),
    _P("b_government_gone", 4.0, "log-hazard shift", 0.0, 10.0, "kabul",
       "Log-hazard increase of every district and capital still held once Kabul has fallen (the "
       "government gone is a state of the rule, not a coin).",
       "Seed: Kabul fell on 15 August and the president left; by 16 August the Khost Protection Force "
       "surrendered (timeline.csv T39, T41); 'later controlling 305-399 districts' (history.csv H03). "
       "ASSUMPTION for its size: e^4 ~ 55-fold, so what is left falls within days unless it resists."),
    _P("b_resistance", 6.0, "indicator", 0.0, 20.0, "district",
       "Log-hazard decrease of districts and capitals where the record names local resistance that held.",
       "Seed: Panjshir held until 6 September (timeline.csv T42, T43; provinces.csv). ASSUMPTION for "
       "its size: enough to hold about three weeks after Kabul."),
    # ----------------------------------------------------------------- mode of a fall
    _P("mode_intercept", -0.5, "log-odds", -10.0, 10.0, "mode",
       "Log-odds that a fall is a negotiated surrender rather than a fight, drivers at zero.",
       "ASSUMPTION; the seed: 'most of the towns surrendering without a fight'."),
    _P("mode_b_pay", 0.4, "log-odds per month", 0.0, 5.0, "mode",
       "Increase of the negotiated log-odds per month of salary arrears.",
       "ASSUMPTION after the seed's unpaid salaries (timeline.csv T08)."),
    _P("mode_b_momentum", 2.0, "log-odds per unit share", 0.0, 10.0, "mode",
       "Increase of the negotiated log-odds per unit national share fallen.",
       "Seed: 'they just cut their own deals with them'."),
    _P("mode_capital_offset", 0.5, "log-odds", -10.0, 10.0, "mode",
       "Extra negotiated log-odds for provincial capitals (governors negotiate).",
       "Seed: 'most of the Afghan provincial governors had cut deals with the militants'."),
    # ----------------------------------------------------------------- initial state
    _P("initial_fallen", 73, "districts", 0, 300, "initial",
       "Districts under Taliban control on 1 May 2021, drawn anew in every replicate.",
       "Seed: 'increasing the number of districts it controlled from 73 to 223' (history.csv H05).",
       integer=True),
    _P("init_w_reach", 0.0, "per unit (1 - reach)", 0.0, 20.0, "initial",
       "Weight of low 2019 government reach in the prior that draws the initial districts "
       "(0: the 1 May state is drawn uniformly among the rural districts).",
       "model.md section 2 ('low 2019 polling-station reporting') names it; 0 by default because "
       "the district facts argue against it (docs/assumptions.md A19; was 4)."),
    _P("init_w_border", 0.0, "indicator", 0.0, 10.0, "initial",
       "Weight of the Pakistan border in that prior (0 by default, as init_w_reach).",
       "model.md section 2 ('Pakistan border') names it; 0 by default (A19; was 1)."),
    _P("init_w_south", 0.0, "indicator", 0.0, 10.0, "initial",
       "Weight of the Southern region (Helmand, Kandahar, Uruzgan, Zabul, Nimroz) in that prior "
       "(0 by default, as init_w_reach).",
       "model.md section 2 ('historical strongholds such as Helmand') names it; 0 by default "
       "(A19; was 1)."),
    # ----------------------------------------------------------------- policy levers
    _P("taliban_strength", 0.0, "log-hazard shift", -5.0, 5.0, "policy",
       "Shift of every hazard (rural, capital, Kabul): the Taliban's fighting strength.",
       "Policy lever for what-ifs (e.g. no prisoner release); 0 in the historical run."),
    _P("capital_garrison", 0.0, "log-hazard shift", -5.0, 5.0, "policy",
       "Shift of the capitals' and Kabul's hazards: negative = cities reinforced.",
       "Policy lever; 0 in the historical run."),
    _P("rural_defence", 0.0, "log-hazard shift", -5.0, 5.0, "policy",
       "Shift of the rural districts' hazard: negative = rural areas held.",
       "Policy lever; 0 in the historical run."),
)

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def defaults() -> dict[str, float]:
    return {p.name: p.default for p in PARAMETERS}


def check_value(name: str, value, *, file=None, key=None) -> float:
    """Validate one parameter value (type and bounds); return it as a float."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise UserError(f"unknown parameter; allowed: {', '.join(NAMES)}", file=file,
                        key=key or name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserError(f"expected a number, got {type(value).__name__} {value!r}", file=file,
                        key=key or name)
    value = float(value)
    if not np.isfinite(value) or not (spec.lower <= value <= spec.upper):
        raise UserError(f"value {value:g} out of range; allowed [{spec.lower:g}, {spec.upper:g}] "
                        f"{spec.unit}", file=file, key=key or name)
    if spec.integer and value != int(value):
        raise UserError(f"expected a whole number, got {value:g}", file=file, key=key or name)
    return value


class Params:
    """Resolved parameter values, read as attributes by the hazard.

    Each value is a float (one replicate) or an array of shape ``(R, 1)`` (a batch of
    replicates with their own draws), so the same hazard code broadcasts over districts and
    replicates alike.
    """

    def __init__(self, values: Mapping[str, float | np.ndarray]):
        missing = [n for n in NAMES if n not in values]
        if missing:
            raise ValueError(f"missing parameters {missing}")
        # plain instance attributes: the hazard reads them in the engines' inner loops
        self.__dict__.update({n: values[n] for n in NAMES})

    def __setattr__(self, name, value):
        raise AttributeError("Params are read-only")

    @classmethod
    def from_table(cls, table: "ParameterTable") -> "Params":
        """Params for a batch: ``(R, 1)`` arrays from a table of R rows."""
        return cls({n: table.values[:, i:i + 1] for i, n in enumerate(NAMES)})

@dataclass(frozen=True)
class ParameterTable:
    """One row of parameter values per replicate (``values`` is (R, len(NAMES)))."""

    values: np.ndarray

    @classmethod
    def constant(cls, values: Mapping[str, float], replicates: int) -> "ParameterTable":
        row = np.array([float(values[n]) for n in NAMES])
        return cls(np.tile(row, (replicates, 1)))

    def __len__(self) -> int:
        return self.values.shape[0]

    def column(self, name: str) -> np.ndarray:
        return self.values[:, NAMES.index(name)]

    def row(self, i: int) -> dict[str, float]:
        return dict(zip(NAMES, map(float, self.values[i])))
