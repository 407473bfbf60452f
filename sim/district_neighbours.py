"""What the district facts say about their neighbours, and whether the model knows it (issue 11).

The simulation's unconditional district probabilities beat the national share by less than a
tenth at fixed dates (:func:`sim.district_skill.fixed_date_skill`). That gap has two possible
causes: the model's spatial mechanism (contagion along shared borders, the ring around each
capital) is wrong, or it is right but the model does not know where the collapse started (the
1 May state, which no source gives). The two are told apart by asking the model the question an
analyst holding the reports would ask: *given what was reported in a district's neighbours on a
date, had it fallen?*

* :func:`conditional_probability` answers it from the run's own joint distribution: the
  replicates are weighted by whether each known neighbour's simulated status on that date agrees
  with its reported one (exact agreement; a handful of neighbours per district, so thousands of
  replicates remain), and the district's P(fallen) is read off the agreeing ones. No fact about
  the district itself enters, only its neighbours' reports.
* :func:`neighbour_reference` is the empirical yardstick (assumption A28c): the covariate
  reference's form (:mod:`sim.district_reference`) with one covariate, the share of a district's
  reported neighbours that had fallen by the date, fitted to the fit split.

Known statuses are the fit splits' only, so the held-out facts stay held out: a held-out
district is scored given its fit-split neighbours. If the conditional simulation comes close to
the reference, the mechanism carries the record's spatial dependence and what is missing is the
starting positions; if it stays at the unconditional level, the mechanism is what fails.
"""

from __future__ import annotations

import numpy as np

from .district_facts import DistrictFacts
from .district_reference import fit_reference, reference_probability
from .district_skill import (Estimate, _interval, model_probability, national_share,
                             resampled_means)

#: Fewer agreeing replicates than this and the district's unconditional probability is used.
MIN_AGREEING = 20


def known_statuses(status: DistrictFacts) -> dict[tuple[int, float], float]:
    """{(district row, score day): 1.0 fallen / 0.0 held} of a table of statuses
    (:meth:`DistrictFacts.status_on`)."""
    return {(int(r), float(d)): float(o)
            for r, d, o in zip(status.row, status.score_day, status.outcome)}


def _reported_neighbours(geo, known, row: int, day: float) -> list[tuple[int, float]]:
    return [(int(j), known[(int(j), day)]) for j in geo.neighbours_of(row)
            if (int(j), day) in known]


def neighbour_share_reported(geo, known, scored: DistrictFacts) -> np.ndarray:
    """(k,) the share of each scored district's neighbours with a known status on its day that
    had fallen; NaN where none has one (the district itself never counts)."""
    out = np.full(len(scored), np.nan)
    for k, (row, day) in enumerate(zip(scored.row, scored.score_day)):
        nb = _reported_neighbours(geo, known, int(row), float(day))
        if nb:
            out[k] = np.mean([o for _, o in nb])
    return out


def conditional_probability(fall_time: np.ndarray, geo, known, scored: DistrictFacts,
                            min_agreeing: int = MIN_AGREEING) -> tuple[np.ndarray, np.ndarray]:
    """(k,) P(scored district fallen by its score day | its neighbours' known statuses that day),
    from the run's replicates, and (k,) how many replicates agreed with every neighbour (where
    fewer than ``min_agreeing`` did, or none is known, the unconditional probability)."""
    t = np.where(np.isnan(fall_time), np.inf, np.asarray(fall_time, dtype=float))
    p = model_probability(fall_time, scored)
    agreeing = np.full(len(scored), t.shape[0])
    for k, (row, day) in enumerate(zip(scored.row, scored.score_day)):
        nb = _reported_neighbours(geo, known, int(row), float(day))
        if not nb:
            continue
        agree = np.ones(t.shape[0], dtype=bool)
        for j, fallen in nb:
            agree &= (t[:, j] < day) == bool(fallen)
        agreeing[k] = int(agree.sum())
        if agreeing[k] >= min_agreeing:
            p[k] = float(np.mean(t[agree, int(row)] < day))
    return p, agreeing


def neighbour_reference(fall_time: np.ndarray, geo, known, fit: DistrictFacts,
                        scored: DistrictFacts):
    """The reference with one covariate, the share of reported neighbours fallen (centred at one
    half, 0 where none is reported), fitted to ``fit`` on the run's national curve; returns
    (P for ``scored``, the fit)."""
    def z(facts):
        share = neighbour_share_reported(geo, known, facts)
        return np.where(np.isnan(share), 0.0, share - 0.5)[:, None]
    ref = fit_reference(national_share(fall_time, fit.score_day), z(fit), fit.outcome,
                        ("neighbours_reported_fallen",))
    p = reference_probability(national_share(fall_time, scored.score_day), z(scored),
                              ref.intercept, ref.beta)
    return p, ref


def neighbour_validation(fall_time: np.ndarray, geo, sources: dict[str, DistrictFacts], dates, *,
                         bootstrap: int = 2000, seed: int = 0, level: float = 0.9) -> dict:
    """For each source's held-out rural districts, as statuses at ``dates``: the simulation's
    Brier skill over the national share unconditionally and given its neighbours' reports (both
    sources' fit splits), and the neighbour reference's, with paired bootstrap intervals over
    districts."""
    fit = DistrictFacts.concatenate([f.select(split="fit", capitals=False)
                                     for f in sources.values()]).status_on(dates)
    known = known_statuses(fit)
    out = {"known_statuses": len(fit), "min_agreeing_replicates": MIN_AGREEING}
    for name, facts in sources.items():
        scored = facts.select(split="holdout", capitals=False).status_on(dates)
        y = scored.outcome
        p_cond, agreeing = conditional_probability(fall_time, geo, known, scored)
        p_ref, ref = neighbour_reference(fall_time, geo, known, fit, scored)
        sq = {"null": (national_share(fall_time, scored.score_day) - y) ** 2,
              "unconditional": (model_probability(fall_time, scored) - y) ** 2,
              "given_neighbours": (p_cond - y) ** 2,
              "neighbour_reference": (p_ref - y) ** 2}
        rng = np.random.default_rng(seed)
        null_b, *rest = resampled_means(scored, rng, bootstrap, "districts", *sq.values())
        skill = {key: (1.0 - sq[key].mean() / sq["null"].mean(), 1.0 - b / null_b)
                 for key, b in zip(list(sq)[1:], rest)}
        has = ~np.isnan(neighbour_share_reported(geo, known, scored))
        entry = {"statuses": len(scored), "districts": int(np.unique(scored.row).size),
                 "with_a_reported_neighbour": float(has.mean()),
                 "agreeing_replicates_median": float(np.median(agreeing[has])) if has.any()
                 else None,
                 "neighbour_reference": ref.to_dict()}
        for key, (value, b) in skill.items():
            entry[f"skill_{key}"] = Estimate(float(value), *_interval(b, level)).to_dict()
        for key in ("given_neighbours", "neighbour_reference"):
            gain = skill[key][1] - skill["unconditional"][1]
            entry[f"{key}_minus_unconditional"] = Estimate(
                float(skill[key][0] - skill["unconditional"][0]), *_interval(gain, level)).to_dict()
        out[f"{name}_holdout"] = entry
    return out
