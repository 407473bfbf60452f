"""What-if comparisons: scenarios run on the same random numbers as the baseline, paired.

Every scenario is run with the same seed and replicate count, so replicate k of each scenario
has the same resistances, the same initial districts and the same posterior parameter draw as
replicate k of the baseline: a difference between them is the policy's effect on that one
possible 2021, not sampling noise.

**Draws and replicates.** Replicate k uses the posterior draw of its group k // m
(``replicates_per_draw`` = m, 10 by default here), so each draw is simulated m times. Every
effect is then reported three ways, never mixed up:

* ``mean`` and ``mc_se``: the mean paired effect over the posterior predictive and its Monte Carlo
  standard error (clustered by draw: it shrinks as replicates grow, and says nothing about how
  uncertain the effect itself is);
* ``pred_q05`` / ``pred_q95``: the predictive spread across posterior draws, the 5-95% quantiles
  of the per-draw mean effects with the within-draw Monte Carlo noise removed (a one-way
  random-effects decomposition, :func:`decompose`); this is the uncertainty in the effect that
  the calibration leaves;
* ``replicate_q05`` / ``replicate_q95``: the 5-95% range of the per-replicate differences (what
  one possible 2021 could look like, chance included).

With several structures (one posterior per structural variant of the model, ``parameters`` a
mapping), each is run in full and the spread of the mean effect across them is reported too. A
structure may also date the record's open questions differently (``baselines``: its own baseline
file, for example the salary arrears a month later): every scenario then runs *rebased* on it
(:func:`sim.scenario.rebase`), the what-if's own changes applied to that structure's timeline.

**Conditioned on the recorded countryside** (:meth:`Comparison.condition_on`, ``afsim compare
--condition-on TARGETS.toml``). Paired replicates share their random numbers, so a what-if can be
asked of the 2021s that look like the one that happened: the baseline's replicates of each
posterior draw are resampled by how well their countryside matches the recorded district counts
(:mod:`sim.conditioning`), and every what-if takes the *same* replicates. This is the
counterfactual's usual three steps (condition on the evidence, intervene, predict): "had the
salaries been paid, in the 2021 whose first three months went as recorded". Only the
countryside's randomness is conditioned (within each draw), never the parameters.

**Censoring.** Kabul's fall day is censored at the horizon: a replicate in which Kabul holds to
the end of the run counts as falling on the horizon's last day (the mean is then a restricted
mean survival time), so a delay is a lower bound whenever Kabul holds; ``kabul_held_share`` says
how often.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .ensemble import ParameterSource, check_replicates_per_draw, resolve_parameter_source, run
from .errors import UserError, arg
from .geography import Geography, load_geography
from .measures import (ALIASES, Outcome, headline, held_on, kabul_day,  # noqa: F401
                       kabul_fallen_by, outcome_key, outcomes)
from .conditioning import Conditioned, condition_on_counts
from .conditioning import check_replicates_per_draw as check_conditionable
from .results import EnsembleResult
from .scenario import Scenario, load_scenario, rebase
from .structure_set import StructureSet, load_structure_set
from .summary import iso_or_blank, quantiles

Z90 = 1.6448536269514722
#: Replicates per posterior draw in a comparison unless told otherwise.
DEFAULT_REPLICATES_PER_DRAW = 10


# ====================================================================== the decomposition

def decompose(values: np.ndarray, groups: np.ndarray, *, between_zero: bool = False) -> dict:
    """Split per-replicate values (e.g. paired differences) into posterior and Monte Carlo parts.

    ``groups[k]`` is replicate k's draw group; replicates of a group share one parameter draw.
    One-way random-effects model y = mu + b_g + e, b_g ~ (0, sigma_b^2) the draw's own effect,
    e ~ (0, sigma_w^2) the simulation's noise, estimated by ANOVA moments (unbalanced groups: the
    n0 of Searle, Casella & McCulloch 1992, 3.6), sigma_b^2 truncated at 0.

    Returns ``mean`` (over all replicates), ``mc_se`` (its Monte Carlo standard error, clustered
    by group), ``ci90`` (mean +- 1.645 mc_se), ``between_sd`` (sigma_b), ``within_sd``
    (sigma_w), ``pred_q05``/``pred_q95`` (5-95% quantiles of the per-draw means after shrinking
    each towards the mean by sqrt(sigma_b^2 / (sigma_b^2 + sigma_w^2 / n_g)), which removes the
    within-draw noise but keeps their shape), ``replicate_q05``/``replicate_q95`` (of the values
    themselves), ``draws`` (groups) and ``draw_means`` (the shrunken per-draw means).

    With one replicate per group the two parts cannot be told apart: ``between_sd`` and the
    predictive quantiles are NaN, unless ``between_zero`` (every draw identical, e.g. fixed
    parameters) makes the between-draw variance zero by construction.
    """
    y = np.asarray(values, dtype=float)
    g = np.asarray(groups)
    if y.shape != g.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError("values and groups must be 1-d arrays of the same, non-zero length")
    _, inv, n_g = np.unique(g, return_inverse=True, return_counts=True)
    G, N = len(n_g), len(y)
    sums = np.bincount(inv, weights=y, minlength=G)
    means = sums / n_g
    mean = float(y.mean())
    dev = means - mean
    # clustered (sandwich) variance of the grand mean; equals sd / sqrt(N) when groups are singletons
    mc_se = float(np.sqrt(G / (G - 1) * np.sum((n_g * dev) ** 2)) / N) if G > 1 else np.nan
    ssw = float(np.sum((y - means[inv]) ** 2))
    msw = ssw / (N - G) if N > G else np.nan
    if G > 1:
        msb = float(np.sum(n_g * dev ** 2)) / (G - 1)
        n0 = (N - np.sum(n_g ** 2) / N) / (G - 1)
    else:
        msb, n0 = np.nan, np.nan
    if between_zero:
        var_b = 0.0
    elif np.isfinite(msw) and np.isfinite(msb):
        var_b = max(0.0, (msb - msw) / n0)
    else:
        var_b = np.nan
    if np.isfinite(var_b):
        noise = (msw if np.isfinite(msw) else 0.0) / n_g
        with np.errstate(invalid="ignore", divide="ignore"):
            shrink = np.where(var_b + noise > 0, np.sqrt(var_b / (var_b + noise)), 0.0)
        draw_means = mean + dev * shrink
        pq = np.quantile(draw_means, [0.05, 0.95])
    else:
        draw_means = np.full(G, np.nan)
        pq = (np.nan, np.nan)
    rq = np.quantile(y, [0.05, 0.95])
    if mc_se == 0 or not np.isfinite(mc_se):
        mc_se = 0.0 if G > 1 else np.nan
    return {"mean": mean, "mc_se": mc_se,
            "ci90": (mean - Z90 * mc_se, mean + Z90 * mc_se) if np.isfinite(mc_se) else (mean, mean),
            "between_sd": float(np.sqrt(var_b)) if np.isfinite(var_b) else np.nan,
            "within_sd": float(np.sqrt(msw)) if np.isfinite(msw) else np.nan,
            "pred_q05": float(pq[0]), "pred_q95": float(pq[1]),
            "replicate_q05": float(rq[0]), "replicate_q95": float(rq[1]),
            "q05": float(rq[0]), "q95": float(rq[1]),          # older names of the replicate range
            "draws": int(G), "draw_means": draw_means}


def paired_summary(diff: np.ndarray) -> dict:
    """Mean paired difference with its 90% confidence interval and the 5-95% range of the
    differences, every replicate its own draw (see :func:`decompose` for draws shared)."""
    diff = np.asarray(diff, dtype=float)
    return decompose(diff, np.arange(len(diff)))


#: the columns of every effect, in comparison.csv (prefixed by the outcome) and effects.csv
EFFECT_FIELDS = ("mean", "mc_se", "pred_q05", "pred_q95", "between_draw_sd", "within_draw_sd",
                 "replicate_q05", "replicate_q95")
#: the columns of a conditioned effect (comparison.csv, effects.csv)
CONDITIONED_FIELDS = ("mean", "mc_se", "pred_q05", "pred_q95")
STRUCTURE_FIELDS = ("structure_min", "structure_max", "pooled_pred_q05", "pooled_pred_q95")


# ====================================================================== the comparison

@dataclass(eq=False)
class Comparison:
    results: dict[str, EnsembleResult]       # baseline first; the primary structure
    baseline: str
    seed: int
    replicates: int
    elapsed: float = 0.0
    sensitivity: object | None = None
    notes: dict = field(default_factory=dict)
    replicates_per_draw: int = 1
    #: structure name -> its results (same scenarios), the primary first; one entry unless
    #: several posteriors (one per structural variant of the model) were compared
    structures: dict[str, dict[str, EnsembleResult]] = field(default_factory=dict)
    #: replicates resampled on the recorded counts (:meth:`condition_on`), or None
    conditioning: Conditioned | None = None
    #: the structure set (:mod:`sim.structure_set`) some of the structures came from, or None
    structure_set: StructureSet | None = None

    def __post_init__(self):
        if not self.structures:
            self.structures = {"primary": self.results}

    @property
    def names(self) -> list[str]:
        return list(self.results)

    @property
    def theatre(self):
        """The theatre compared (every scenario runs on the baseline's geography)."""
        return self.base.theatre

    @property
    def outcomes(self) -> dict[str, Outcome]:
        """Outcome name -> definition, named by the theatre's capital and dates
        (:func:`sim.measures.outcomes`)."""
        return outcomes(self.theatre)

    @property
    def headline(self) -> list[str]:
        return headline(self.outcomes)

    @property
    def capital_days(self) -> str:
        """The first headline outcome: days the capital holds (``kabul_days``)."""
        return self.headline[0]

    def _key(self, outcome: str | None) -> str:
        return self.capital_days if outcome is None else outcome_key(outcome, self.outcomes)

    @property
    def base(self) -> EnsembleResult:
        return self.results[self.baseline]

    @property
    def structure_names(self) -> list[str]:
        return list(self.structures)

    @property
    def groups(self) -> np.ndarray:
        """Each replicate's draw group (replicates of a group share one posterior draw)."""
        return np.arange(self.replicates) // self.replicates_per_draw

    # ------------------------------------------------------------------ per-replicate outcomes
    def kabul_day(self, name: str) -> np.ndarray:
        return kabul_day(self.results[name])

    def held(self, name: str, date: dt.date, capitals: bool) -> np.ndarray:
        return held_on(self.results[name], date, capitals)

    def kabul_by(self, name: str, date: dt.date) -> np.ndarray:
        return kabul_fallen_by(self.results[name], date)

    def outcome(self, name: str, outcome: str, structure: str | None = None) -> np.ndarray:
        res = self.structures[structure] if structure else self.results
        return self.outcomes[self._key(outcome)].per_replicate(res[name])

    # ------------------------------------------------------------------ conditioning
    def condition_on(self, points, seed: int | None = None) -> Conditioned:
        """Also measure every effect on the baseline replicates whose countryside matches the
        recorded counts ``points`` (:class:`sim.targets.CountTarget`, e.g. a targets file's
        ``fitted_districts``), resampled within each posterior draw; each what-if takes the same
        replicates (see the module notes)."""
        points = tuple(t for t in points if t.weight > 0)
        if not points:
            raise UserError("no district count with a weight > 0 to condition on",
                            argument="points")
        if self.base.fall_time is None:
            raise UserError("conditioning needs every replicate's fall times; keep them "
                            "(keep_fall_times=True)", argument="keep_fall_times")
        check_conditionable(self.replicates_per_draw)
        self.conditioning = condition_on_counts(self.base.fall_time, points,
                                                self.replicates_per_draw,
                                                self.seed if seed is None else seed,
                                                self.theatre)
        return self.conditioning

    # ------------------------------------------------------------------ effects
    def _effect_in(self, results: dict[str, EnsembleResult], name: str, key: str,
                   rows: np.ndarray | None = None) -> dict:
        table = self.outcomes
        f = table[key].per_replicate
        fixed = results[name].source.kind == "fixed" and results[self.baseline].source.kind == "fixed"
        diff, groups = f(results[name]) - f(results[self.baseline]), self.groups
        if rows is not None:
            diff, groups = diff[rows], groups[rows]
        e = decompose(diff, groups, between_zero=fixed)
        e.update(base=self.baseline, outcome=key, unit=table[key].unit, scenario=name)
        return e

    def conditioned_effect(self, name: str, outcome: str | None = None) -> dict:
        """The paired effect on the replicates conditioned on the recorded countryside
        (:meth:`condition_on` first); the same keys as :meth:`effect` for one structure."""
        if self.conditioning is None:
            raise UserError("not conditioned; call condition_on first", argument="conditioning")
        key = self._key(outcome)
        e = self._effect_in(self.results, name, key, self.conditioning.indices)
        e.update(conditioned_on=list(self.conditioning.points),
                 effective_replicates=self.conditioning.effective_replicates)
        return e

    def effect(self, name: str, outcome: str | None = None, structure: str | None = None) -> dict:
        """The paired effect of scenario ``name`` against the baseline on one outcome.

        Keys: ``mean``, ``mc_se`` (Monte Carlo standard error of the mean), ``ci90`` (the mean's
        Monte Carlo 90% interval), ``pred_q05``/``pred_q95`` (5-95% of the effect across posterior
        draws, Monte Carlo noise removed), ``between_sd``/``within_sd``, ``replicate_q05``/
        ``replicate_q95``, ``draws``, ``base`` (what it is measured against), ``outcome``,
        ``unit``; with several structures also ``structure_means`` (structure -> mean),
        ``structure_min``/``structure_max`` and ``pooled_pred_q05``/``pooled_pred_q95`` (across
        draws of every structure, each structure weighted equally). ``structure`` picks one
        structure's results (default: the primary's, the first). ``outcome``: a name of
        :attr:`outcomes`; default the days the capital holds (``kabul_days``).
        """
        key = self._key(outcome)
        primary = self.structures[structure] if structure else self.results
        e = self._effect_in(primary, name, key)
        if key == self.capital_days:
            held = [np.isnan(primary[n].kabul_fall_time) for n in (name, self.baseline)]
            e["kabul_held_share"] = float((held[0] | held[1]).mean())
        if len(self.structures) > 1 and structure is None:
            per = {s: self._effect_in(res, name, key) for s, res in self.structures.items()}
            means = [p["mean"] for p in per.values()]
            pooled = np.concatenate([p["draw_means"] for p in per.values()])
            pooled = pooled[np.isfinite(pooled)]
            e.update(structure_means={s: p["mean"] for s, p in per.items()},
                     structure_min=float(min(means)), structure_max=float(max(means)),
                     pooled_pred_q05=float(np.quantile(pooled, 0.05)) if pooled.size else np.nan,
                     pooled_pred_q95=float(np.quantile(pooled, 0.95)) if pooled.size else np.nan)
        return e

    def whatifs(self, outcome: str | None = None) -> list[str]:
        """The what-ifs, largest effect first (by the absolute mean effect on ``outcome``)."""
        others = [n for n in self.names if n != self.baseline]
        sizes = {n: abs(self.effect(n, outcome)["mean"]) for n in others}
        return sorted(others, key=lambda n: (-sizes[n], n))

    def effects(self) -> list[dict]:
        """Every effect as one row (effects.csv): per outcome, what-ifs sorted by size."""
        rows = []
        cap = self.theatre.capital_key
        for key, oc in self.outcomes.items():
            for name in self.whatifs(key):
                e = self.effect(name, key)
                row = {"outcome": key, "scenario": name, "base": self.baseline,
                       "headline": int(oc.headline), "unit": oc.unit}
                row.update(_effect_columns(e, "", len(self.structures) > 1))
                if self.conditioning is not None:
                    c = self.conditioned_effect(name, key)
                    row.update({f"conditioned_{k}": _r(c[k])
                                for k in CONDITIONED_FIELDS})
                row["draws"] = e["draws"]
                row["replicates_per_draw"] = self.replicates_per_draw
                row[f"{cap}_held_share"] = _r(e.get("kabul_held_share", ""))
                rows.append(row)
        return rows

    def effects_by_structure(self) -> list[dict]:
        """Each headline effect under each structure apart (effects_by_structure.csv): the
        pooled columns of effects.csv say how far the structures disagree, these rows say which
        structure says what, each with its own Monte Carlo error and spread across its draws.
        On the days the capital holds, ``<capital>_held_share`` (the replicates where it holds to
        the horizon in the what-if or the baseline: the effect is censored there) and
        ``baseline_<capital>_held_share`` (in the baseline alone: a what-if cannot add days to a
        fall that does not come, so a structure whose baseline often holds shows smaller
        effects for that reason). Empty with one structure."""
        if len(self.structures) < 2:
            return []
        cap = self.theatre.capital_key
        base_held = {s: float(np.isnan(runs[self.baseline].kabul_fall_time).mean())
                     for s, runs in self.structures.items()}
        rows = []
        for key in self.headline:
            days = key == self.capital_days
            for name in self.whatifs(key):
                for structure in self.structures:
                    e = self.effect(name, key, structure=structure)
                    rows.append({"outcome": key, "scenario": name, "structure": structure,
                                 "base": self.baseline, "unit": self.outcomes[key].unit,
                                 "mean": _r(e["mean"]), "mc_se": _r(e["mc_se"]),
                                 "pred_q05": _r(e["pred_q05"]), "pred_q95": _r(e["pred_q95"]),
                                 "draws": e["draws"],
                                 f"{cap}_held_share": _r(e["kabul_held_share"]) if days else "",
                                 f"baseline_{cap}_held_share":
                                     _r(base_held[structure]) if days else ""})
        return rows

    # ------------------------------------------------------------------ the comparison table
    def table(self) -> list[dict]:
        """comparison.csv: one row per scenario, the baseline first, then the what-ifs by the
        size of their effect on the capital (Kabul). Every column name is snake_case; effect
        columns are ``<outcome>_effect_<statistic>`` and ``base`` names what they are measured
        against; names with a capital or a date take the theatre's (``kabul_fall_date_q50``,
        ``p_kabul_fallen_by_2021_08_31``)."""
        th = self.theatre
        cap, stamp, table = th.capital_key, th.stamp, self.outcomes
        rows = []
        for name in [self.baseline] + self.whatifs():
            r = self.results[name]
            kq = quantiles(r.kabul_fall_time, [0.05, 0.25, 0.5, 0.75, 0.95])
            row = {"scenario": name, "base": self.baseline,
                   "parameter_source": r.source.label, "replicates": r.replicates,
                   "replicates_per_draw": self.replicates_per_draw,
                   **{f"{cap}_fall_date_q{q}": iso_or_blank(v, th)
                      for q, v in zip(("05", "25", "50", "75", "95"), kq)},
                   f"{cap}_held_share": round(float(np.isnan(r.kabul_fall_time).mean()), 4),
                   f"p_{cap}_fallen_by_{stamp(th.deadline)}": round(
                       float(kabul_fallen_by(r, th.deadline).mean()), 4),
                   f"p_{cap}_fallen_by_{stamp(th.end)}": round(
                       float(kabul_fallen_by(r, th.end).mean()), 4)}
            for key in (f"capitals_held_at_{cap}_fall", f"districts_held_at_{cap}_fall"):
                h = table[key].per_replicate(r)
                q = np.quantile(h, [0.05, 0.5, 0.95], method="inverted_cdf")
                row.update({f"{key}_q05": int(q[0]), f"{key}_q50": int(q[1]),
                            f"{key}_q95": int(q[2]), f"{key}_mean": round(float(h.mean()), 3)})
            for date in (th.capital_fell, th.deadline):
                for what, caps in (("capitals", True), ("districts", False)):
                    h = held_on(r, date, caps)
                    q = np.quantile(h, [0.05, 0.5, 0.95], method="inverted_cdf")
                    key = f"{what}_held_{date.isoformat().replace('-', '_')}"
                    row.update({f"{key}_q05": int(q[0]), f"{key}_q50": int(q[1]),
                                f"{key}_q95": int(q[2]), f"{key}_mean": round(float(h.mean()), 3)})
            for key in table:
                e = self.effect(name, key)
                row.update(_effect_columns(e, f"{key}_effect_", len(self.structures) > 1))
            if self.conditioning is not None:
                rows_c = self.conditioning.indices
                kc = quantiles(r.kabul_fall_time[rows_c], [0.05, 0.5, 0.95])
                row.update({f"conditioned_{cap}_fall_date_q{q}": iso_or_blank(v, th)
                            for q, v in zip(("05", "50", "95"), kc)})
                for key in headline(table):       # the baseline's row too (zero), like its other effects
                    c = self.conditioned_effect(name, key)
                    row.update({f"{key}_effect_conditioned_{k}": _r(c[k])
                                for k in CONDITIONED_FIELDS})
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ by province and region
    def effects_by_area(self, level: str = "province") -> list[dict]:
        """Per what-if and per province (or region): how its districts and capitals moved.

        ``district_median_shift_days``: the median, over the area's districts, of the shift in
        each district's median fall day (what-if minus baseline; a district that holds in more
        than half the replicates counts as falling at the horizon, so shifts there are lower
        bounds); ``capital_median_shift_days``: the same for its capital(s);
        ``district_mean_shift_days``: the mean paired shift of the fall day over districts and
        replicates (censored at the horizon; blank when the fall times were not kept);
        ``p_fallen_by_2021_08_15_base`` and ``_diff``: the mean over its districts of the
        probability of having fallen by 15 August (the theatre's ``capital_fell``), and the
        what-if's difference. Rows are sorted, within each what-if, by the size of the median
        shift.
        """
        if level not in ("province", "region"):
            raise ValueError("level must be 'province' or 'region'")
        base = self.base
        geo = base.geo
        prov = geo.province_index
        key = np.array([geo.provinces[p].name for p in prov]) if level == "province" \
            else np.array([geo.provinces[p].region for p in prov])
        areas = list(dict.fromkeys(key.tolist()))
        horizon = base.model.horizon

        def med(r):
            return np.minimum(r.summary.fall_day_quantile(0.5), horizon)

        def ftime(r):
            return None if r.fall_time is None else np.where(np.isnan(r.fall_time), horizon, r.fall_time)

        fell = base.theatre.capital_fell
        p_key = f"p_fallen_by_{base.theatre.stamp(fell)}"
        m_base, p_base, f_base = med(base), base.summary.p_fallen_by(fell), ftime(base)
        rows = []
        for name in self.whatifs():
            r = self.results[name]
            shift = med(r) - m_base
            dp = r.summary.p_fallen_by(fell) - p_base
            f_alt = ftime(r)
            paired = (f_alt - f_base).mean(axis=0) if f_alt is not None and f_base is not None else None
            block = []
            for a in areas:
                rows_a = np.flatnonzero(key == a)
                caps = rows_a[geo.is_capital[rows_a]]
                block.append({
                    "scenario": name, "base": self.baseline, level: a,
                    "districts": int(len(rows_a)), "capitals": int(len(caps)),
                    "district_median_shift_days": round(float(np.median(shift[rows_a])), 3),
                    "capital_median_shift_days": (round(float(np.median(shift[caps])), 3)
                                                  if len(caps) else ""),
                    "district_mean_shift_days": (round(float(paired[rows_a].mean()), 3)
                                                 if paired is not None else ""),
                    f"{p_key}_base": round(float(p_base[rows_a].mean()), 4),
                    f"{p_key}_diff": round(float(dp[rows_a].mean()), 4)})
            block.sort(key=lambda b: (-abs(b["district_median_shift_days"]),
                                      -abs(b[f"{p_key}_diff"]), b[level]))
            rows.extend(block)
        return rows

    def district_differences(self, name: str) -> dict[str, np.ndarray]:
        """Per district, what-if minus baseline: ``p_fallen_by_2021_08_15`` and
        ``median_fall_day`` (censored at the horizon), for the difference maps (the date is the
        theatre's ``capital_fell``)."""
        base, r = self.base, self.results[name]
        horizon = base.model.horizon
        fell = base.theatre.capital_fell
        return {f"p_fallen_by_{base.theatre.stamp(fell)}":
                r.summary.p_fallen_by(fell) - base.summary.p_fallen_by(fell),
                "median_fall_day": (np.minimum(r.summary.fall_day_quantile(0.5), horizon)
                                    - np.minimum(base.summary.fall_day_quantile(0.5), horizon))}

    # ------------------------------------------------------------------ words
    def findings(self) -> list[str]:
        """Plain sentences for the report, ranked by the size of the effect on the capital."""
        out = []
        capital = self.theatre.capital
        for name in self.whatifs():
            e = self.effect(name)
            caps = self.effect(name, self.headline[1])
            verb = "delays" if e["mean"] > 0 else "hastens" if e["mean"] < 0 else "does not move"
            text = (f"{name}: {verb} the fall of {capital} by {abs(e['mean']):.1f} days on average "
                    f"(Monte Carlo s.e. {e['mc_se']:.2f}; across posterior draws 5-95%: "
                    f"{_signed(e['pred_q05'])} to {_signed(e['pred_q95'])}")
            if "structure_min" in e:
                text += (f"; across structures {e['structure_min']:+.1f} to {e['structure_max']:+.1f}"
                         f", pooled draws {_signed(e['pooled_pred_q05'])} to "
                         f"{_signed(e['pooled_pred_q95'])}")
            text += (f"); other capitals still held when {capital} falls {caps['mean']:+.1f} "
                     f"(draws 5-95%: {_signed(caps['pred_q05'])} to {_signed(caps['pred_q95'])}).")
            if e.get("kabul_held_share", 0) > 0:
                text += (f" {capital} holds to the horizon in {e['kabul_held_share']:.0%} of the paired "
                         "replicates of one or both scenarios: the delay is a lower bound.")
            out.append(text)
        return out

    def write(self, out: str | Path, *, force: bool = False, plots: bool = True,
              boundaries: str | None = None, map_scenario: str | None = None,
              animation: bool = True, progress: bool = False) -> Path:
        from .output import atomic_directory
        from .report import write_comparison_outputs
        with atomic_directory(out, force=force) as tmp:
            write_comparison_outputs(self, tmp, plots=plots, boundaries=boundaries,
                                     map_scenario=map_scenario, animation=animation,
                                     progress=progress)
        return Path(out)


def _r(v, digits: int = 4):
    if isinstance(v, float):
        return "" if not np.isfinite(v) else round(v, digits)
    return v


def _signed(v: float) -> str:
    return f"{v:+.1f}" if np.isfinite(v) else "n/a (one replicate per draw)"


def _effect_columns(e: dict, prefix: str, structures: bool) -> dict:
    out = {f"{prefix}mean": _r(e["mean"]), f"{prefix}mc_se": _r(e["mc_se"]),
           f"{prefix}pred_q05": _r(e["pred_q05"]), f"{prefix}pred_q95": _r(e["pred_q95"]),
           f"{prefix}between_draw_sd": _r(e["between_sd"]),
           f"{prefix}within_draw_sd": _r(e["within_sd"]),
           f"{prefix}replicate_q05": _r(e["replicate_q05"]),
           f"{prefix}replicate_q95": _r(e["replicate_q95"])}
    if structures:
        out.update({f"{prefix}{k}": _r(e[k]) for k in STRUCTURE_FIELDS})
    return out


def compare(scenarios: Sequence[str | Path | Scenario], replicates: int = 1000, seed: int = 1, *,
            parameters=None, workers: int | None = 1, scheduler: str | None = None,
            progress: bool = False, geo: Geography | None = None,
            keep_fall_times: bool | None = None, chunk_size: int | None = None,
            checkpoint: str | Path | None = None, resume: bool = False,
            engine: str = "batch", replicates_per_draw: int = DEFAULT_REPLICATES_PER_DRAW,
            baselines: Mapping[str, str | Path] | None = None,
            structures: str | Path | StructureSet | None = None) -> Comparison:
    """Run the baseline and each what-if on the same random numbers and compare them.

    ``parameters``: as for :func:`sim.run`, or a mapping structure name -> parameter source
    (one posterior per structural variant): every scenario then runs under each, the first is
    the primary, and each effect also reports its spread across structures.
    ``replicates_per_draw``: replicates sharing each posterior draw (see the module notes).
    ``baselines``: structure name -> that structure's own baseline file (derived from the
    scenarios' baseline); its scenarios are rebased on it (module notes).
    ``structures``: a structure set (:mod:`sim.structure_set`: its file, or the set loaded):
    every scenario also runs under each posterior it lists, after ``parameters`` (the primary),
    each rebased on the structure's own baseline where it has one. The README's main command is
    ``compare(glob("scenarios/*.toml"), structures="calibration/structures/pooled.toml")``.
    """
    import time
    geo = geo or load_geography()
    loaded = [s if isinstance(s, Scenario) else load_scenario(s, geo) for s in scenarios]
    if not loaded:
        raise UserError("no scenario given", argument="scenarios")
    names = [s.name for s in loaded]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError(f"scenario name(s) {dup} given twice; names must be unique", argument="scenarios")
    roots = {s.files[0].resolve() for s in loaded}
    if len(roots) > 1:
        raise UserError("the scenarios do not share one baseline (their 'base' chains end in "
                        f"{sorted(str(r) for r in roots)})", argument="scenarios")
    baseline = next((s for s in loaded if s.base_name is None), None)
    if baseline is None:
        baseline = load_scenario(loaded[0].files[0], geo)
        loaded.insert(0, baseline)
    ordered = [baseline] + [s for s in loaded if s is not baseline]
    m = check_replicates_per_draw(replicates_per_draw)
    if isinstance(parameters, Mapping):
        if not parameters:
            raise UserError("no structure given (an empty mapping)", argument="parameters")
        sources = {str(k): resolve_parameter_source(v) for k, v in parameters.items()}
    else:
        src = resolve_parameter_source(parameters)
        sources = {src.label: src}
    baselines = dict(baselines or {})
    listed = None
    if structures is not None:
        listed = (structures if isinstance(structures, StructureSet)
                  else load_structure_set(structures))
        clash = sorted(set(listed.names) & set(sources))
        if clash:
            raise UserError(f"structure(s) {clash} also given in {arg('parameters')}",
                            argument="structures")
        sources.update(listed.sources())
        baselines.update(listed.baselines())
    unknown = sorted(set(baselines) - set(sources))
    if unknown:
        raise UserError(f"baseline given for unknown structure(s) {unknown}; structures: "
                        f"{', '.join(sources)}", argument="baselines")
    started = time.perf_counter()
    structures: dict[str, dict[str, EnsembleResult]] = {}
    for k, (sname, source) in enumerate(sources.items()):
        results = {}
        own = ([rebase(s, baselines[sname], geo) for s in ordered] if sname in baselines
               else ordered)
        for s in own:
            ck = None
            if checkpoint:
                safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", sname)
                ck = Path(checkpoint) / (s.name if k == 0 else f"{safe}__{s.name}")
            results[s.name] = run(s, replicates=replicates, seed=seed, parameters=source,
                                  workers=workers, scheduler=scheduler, progress=progress, geo=geo,
                                  keep_fall_times=keep_fall_times, chunk_size=chunk_size,
                                  checkpoint=ck, resume=resume, engine=engine,
                                  replicates_per_draw=m)
        structures[sname] = results
    primary = next(iter(structures.values()))
    return Comparison(primary, baseline.name, seed, replicates, time.perf_counter() - started,
                      replicates_per_draw=m, structures=structures, structure_set=listed)
