"""A covariate-only reference for the district skill: what the rural rule's own covariates can
tell about where districts fell, placed as well as the fit split of the facts allows, with no
simulation in between (issue 11).

The simulation's district skill is measured against the national-share null (:mod:`sim.district_skill`).
That says whether the model beats "every district falls at the national rate", not whether a
shortfall is the covariates' (nothing we know about a district marks when it fell) or the model's
(the covariates are there but the simulation places them badly: the initial state, the spread of
fall dates the counts ask for, contagion). This reference separates the two. Each district's
probability of having fallen by day d is

    P_i(d) = 1 - (1 - s(d)) ** exp(a + z_i . beta)

with s(d) the run's own national share (the null's curve: the reference only redistributes it),
z_i the district's covariates of the rural rule standardised over the rural districts, and a,
beta fitted by ridge-penalised maximum likelihood (penalty ``ridge`` on beta, none on a) to the
facts of the fit split read as "fallen by the score date" (1) or "held on it" (0), the same
reading the Brier score uses. It is a proportional-hazards model whose baseline is the national
curve: with beta = 0 and a = 0 it *is* the null. Scored on the held-out split with the same
Brier skill and the same bootstrap resamples as the simulation, so the difference between the two
is paired.

This is a yardstick, not a model of the war: it cannot forecast (it borrows the run's national
curve) and it knows nothing of neighbours or drivers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .district_facts import DistrictFacts
from .district_skill import (Estimate, _interval, _spearman, _spearman_rows, dated_medians,
                             model_probability, national_share, resampled_means)
from .hazard import Covariates, LocalCovariates

#: The ridge penalty on the standardised coefficients (a prior sd of 1/sqrt(2 ridge) = 0.71 per
#: standard deviation of a covariate), fixed before fitting. Measured on the default's predictive
#: (4 December 2026): fitted to both fit splits, every held-out skill moves by less than 0.01
#: between ridge 0 and 5; fitted to the seed's 42 fit facts alone, its TOLOnews skill moves from
#: -0.81 to -0.61 (far below the null either way), its seed skill from 0.81 to 0.79.
RIDGE = 1.0

_CLIP = 1e-9


def _standardised(values, rural: np.ndarray) -> np.ndarray | None:
    """``values`` (one per district) standardised over the rural districts; None if constant."""
    v = np.asarray(values, dtype=float)
    sd = v[rural].std()
    return (v - v[rural].mean()) / sd if sd > 0 else None


def covariate_matrix(cov: Covariates) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n, m) the rural rule's covariates (:class:`sim.hazard.LocalCovariates`), each standardised
    over the rural districts; constant columns (a covariate absent from the theatre) dropped."""
    names, cols = [], []
    for name in LocalCovariates.NAMES:
        z = _standardised(getattr(cov, name), cov.rural)
        if z is not None:
            names.append(name)
            cols.append(z)
    return np.column_stack(cols) if cols else np.zeros((len(cov.rural), 0)), tuple(names)


def reference_probability(share: np.ndarray, z: np.ndarray, intercept: float, beta: np.ndarray
                          ) -> np.ndarray:
    """P(fallen by the day whose national share is ``share``) for districts with covariates ``z``."""
    log_survival = np.log1p(-np.clip(share, 0.0, 1.0 - _CLIP))
    return -np.expm1(log_survival * np.exp(intercept + z @ beta))


@dataclass(frozen=True)
class ReferenceFit:
    names: tuple[str, ...]
    intercept: float
    beta: np.ndarray          # per standard deviation of each covariate
    n_facts: int

    def to_dict(self) -> dict:
        return {"fitted_on_facts": self.n_facts, "intercept": self.intercept, "ridge": RIDGE,
                "log_hazard_per_sd": dict(zip(self.names, map(float, self.beta)))}


def fit_reference(share: np.ndarray, z: np.ndarray, outcome: np.ndarray, names=(),
                  ridge: float = RIDGE) -> ReferenceFit:
    """Fit (a, beta) to facts with national shares ``share`` (k,), covariates ``z`` (k, m) and
    outcomes (k,) by penalised maximum likelihood."""
    y = np.asarray(outcome, dtype=float)
    m = z.shape[1]

    def loss(theta):
        p = np.clip(reference_probability(share, z, theta[0], theta[1:]), _CLIP, 1 - _CLIP)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p)).sum() + ridge * (theta[1:] ** 2).sum()

    theta = minimize(loss, np.zeros(m + 1), method="L-BFGS-B").x
    return ReferenceFit(tuple(names), float(theta[0]), theta[1:].copy(), int(y.size))


def reference_median_day(fall_time: np.ndarray, log_relative_hazard: np.ndarray) -> np.ndarray:
    """Each district's median fall day under the reference: the first day on which P_i(d) =
    1 - (1 - s(d)) ** exp(eta_i) reaches 1/2, i.e. on which the run's national share s(d) reaches
    1 - 2 ** -exp(-eta_i); +inf where it never does within the run (ranked last, as
    :func:`sim.district_skill.median_fall_day` ranks a district that falls in fewer than half the
    runs). Its order is that of -eta: the reference ranks districts by their covariates alone."""
    finite = np.asarray(fall_time, dtype=float)
    finite = finite[np.isfinite(finite)]
    days = np.arange(0.0, np.ceil(finite.max()) + 2.0) if finite.size else np.zeros(1)
    share = national_share(fall_time, days)                 # nondecreasing in the day
    target = -np.expm1(-np.log(2.0) * np.exp(-np.asarray(log_relative_hazard, dtype=float)))
    at = np.searchsorted(share, target, side="left")
    return np.where(at < days.size, days[np.minimum(at, days.size - 1)], np.inf)


def compare_with_reference(fall_time: np.ndarray, fit_facts: DistrictFacts,
                           scored_facts: DistrictFacts, cov: Covariates, *, bootstrap: int = 2000,
                           seed: int = 0, level: float = 0.9, covariates: bool = True,
                           extra: dict[str, np.ndarray] | None = None,
                           resample: str = "facts") -> dict:
    """The reference fitted to ``fit_facts`` and scored beside the simulation (``fall_time``) on
    ``scored_facts`` (in-window, rural facts of both): each one's Brier skill over the run's
    national-share null, and the paired difference simulation - reference, with percentile
    bootstrap intervals over the scored facts, or their districts (``resample``; the resamples
    ``district_skill`` draws with the same ``seed``). ``covariates=False`` fits the intercept alone: how much a source's facts can be
    predicted by "the districts this source writes about fell sooner (or later) than the nation",
    knowing nothing of where they are. ``extra`` adds covariates the rule does not read (name ->
    one value per district, standardised over the rural districts like the rule's): a candidate
    source can show what it would add before it enters the rule."""
    fit_facts = fit_facts.select(in_window=True, capitals=False)
    scored = scored_facts.select(in_window=True, capitals=False)
    if len(fit_facts) == 0 or len(scored) == 0:
        raise ValueError("no facts to fit or to score the reference on")
    z_all, names = covariate_matrix(cov)
    if not covariates:
        z_all, names = z_all[:, :0], ()
    for name, values in (extra or {}).items():
        z = (_standardised(values, cov.rural) if np.shape(values) == (z_all.shape[0],) else None)
        if z is None:
            raise ValueError(f"extra covariate {name!r}: expected one varying value per district")
        z_all = np.column_stack([z_all, z])
        names = (*names, name)
    ref = fit_reference(national_share(fall_time, fit_facts.score_day), z_all[fit_facts.row],
                        fit_facts.outcome, names)
    share = national_share(fall_time, scored.score_day)
    y = scored.outcome
    sq_null = (share - y) ** 2
    sq_ref = (reference_probability(share, z_all[scored.row], ref.intercept, ref.beta) - y) ** 2
    sq_sim = (model_probability(fall_time, scored) - y) ** 2
    rng = np.random.default_rng(seed)
    null_b, ref_sq_b, sim_sq_b = resampled_means(scored, rng, bootstrap, resample,
                                                 sq_null, sq_ref, sq_sim)
    ref_value, ref_b = 1.0 - sq_ref.mean() / sq_null.mean(), 1.0 - ref_sq_b / null_b
    sim_value, sim_b = 1.0 - sq_sim.mean() / sq_null.mean(), 1.0 - sim_sq_b / null_b
    out = {"facts": len(scored), "reference": ref.to_dict(),
           "reference_skill": Estimate(ref_value, *_interval(ref_b, level)).to_dict(),
           "simulation_skill": Estimate(sim_value, *_interval(sim_b, level)).to_dict(),
           "simulation_minus_reference": Estimate(sim_value - ref_value,
                                                  *_interval(sim_b - ref_b, level)).to_dict()}
    if z_all.shape[1]:   # the intercept alone ranks every district alike: no order to score
        out.update(_spearman_beside_reference(fall_time, scored, z_all, ref, rng, bootstrap, level))
    return out


def _spearman_beside_reference(fall_time, scored: DistrictFacts, z_all, ref, rng, bootstrap,
                               level) -> dict:
    """The Spearman of median fall dates against the observed capture dates, for the reference
    and the simulation on the same dated facts (``captured`` with a finite interval, as
    :func:`sim.district_skill.district_skill` takes them), with paired bootstrap intervals: how
    well the covariates alone can order the falls, beside how well the simulation does."""
    dated, med_sim, obs = dated_medians(np.asarray(fall_time, dtype=float), scored)
    m = int(dated.sum())
    eta = ref.intercept + z_all[scored.row[dated]] @ ref.beta
    med_ref = reference_median_day(fall_time, eta)
    med_ref = np.where(np.isfinite(med_ref), med_ref, np.finfo(float).max)  # ranked after all
    ref_rho, sim_rho = _spearman(med_ref, obs), _spearman(med_sim, obs)
    if m >= 3:
        jdx = rng.integers(0, m, size=(bootstrap, m))
        ref_b = _spearman_rows(med_ref[jdx], obs[jdx])
        sim_b = _spearman_rows(med_sim[jdx], obs[jdx])
    else:
        ref_b = sim_b = np.full(bootstrap, np.nan)
    return {"dated_facts": m,
            "reference_spearman": Estimate(ref_rho, *_interval(ref_b, level)).to_dict(),
            "simulation_spearman": Estimate(sim_rho, *_interval(sim_b, level)).to_dict(),
            "simulation_minus_reference_spearman": Estimate(
                sim_rho - ref_rho, *_interval(sim_b - ref_b, level)).to_dict()}


def reference_validation(fall_time: np.ndarray, geo, focus_regions=None, *,
                         cov: Covariates | None = None, status_dates=None, **kw) -> dict:
    """The reference beside the simulation on the held-out facts of each source (the seed's
    ``district_facts.csv`` and, where the theatre has it, TOLOnews' reports), fitted two ways: to
    the seed's fit split only (what the default calibration's stage 1 saw besides the counts: the
    like-for-like comparison) and to the fit splits of both sources (the most these covariates can
    be taught; the held-out splits are never fitted); and with the intercept alone, fitted to the
    seed's fit split (what selection alone does: the seed writes mostly about districts that
    fell). The covariates are the run's (``cov``, e.g. ``model.cov``) or built from ``geo`` and
    the scenario's ``focus_regions``. With ``status_dates`` the held-out facts are scored as the
    districts' statuses at those dates (:meth:`DistrictFacts.status_on`, resampling districts),
    as :func:`sim.district_skill.fixed_date_skill` scores the simulation; the reference is still
    fitted to the fit splits' facts as they stand."""
    from .district_facts import load_sources
    sources = load_sources(geo)
    if not sources:                    # a theatre without district facts has nothing to score
        return {}
    if cov is None:
        cov = Covariates.build(geo, focus_regions or ())
    seed = sources["seed"]
    fits = {"seed_fit_split": seed.select(split="fit")}
    if "tolonews" in sources:
        fits["both_fit_splits"] = DistrictFacts.concatenate(
            [seed.select(split="fit", in_window=None),
             sources["tolonews"].select(split="fit", in_window=None)])
    if status_dates is None:
        held_out = {name: facts.select(split="holdout") for name, facts in sources.items()}
    else:
        # statuses date no fall: the order of the falls is scored on the facts' own dates
        held_out = {name: facts.select(split="holdout", capitals=False).status_on(status_dates)
                    for name, facts in sources.items()}
        kw = {"resample": "districts", **kw}
    out = {f"fitted_to_{fit_name}": {
               f"{name}_holdout": compare_with_reference(fall_time, fit, scored, cov, **kw)
               for name, scored in held_out.items()}
           for fit_name, fit in fits.items()}
    out["intercept_only_fitted_to_seed_fit_split"] = {
        f"{name}_holdout": compare_with_reference(fall_time, fits["seed_fit_split"], scored, cov,
                                                  covariates=False, **kw)
        for name, scored in held_out.items()}
    if status_dates is not None:
        for scores in out.values():
            for c in scores.values():
                for key in [k for k in c if "spearman" in k or k == "dated_facts"]:
                    del c[key]
    return out
