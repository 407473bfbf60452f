"""How well a run's district fall times match the record's district facts (issue 11, item 3).

Given fall times ``(replicates, districts)`` (days since 2021-05-01, NaN = never fell; the
``fall_time`` array of ``fall_times.npz`` or :attr:`EnsembleResult.fall_time`) and the district
facts (:mod:`sim.district_facts`), this computes

* the **Brier score** of the model's probability that each fact's district had fallen by the
  fact's date, against the fact's outcome (1 "fallen", 0 "held"; the observation model is in
  :mod:`sim.district_facts`): ``mean_k (p_k - o_k)^2``;
* the same Brier score of the **national-share null**, computed from the *same run*: every
  district gets ``P(fallen by d)`` = the run's mean share of all districts fallen by d (averaged
  over replicates), i.e. "each district falls at the national rate";
* the **Brier skill** ``1 - B_model / B_null`` (1 perfect, 0 no better than the null, < 0 worse);
* the **Spearman** rank correlation between the model's median fall dates of the districts and
  the observed capture dates (interval midpoints) of the dated facts (``captured``);

each with a percentile bootstrap interval over facts (default 90%, 2,000 resamples, seeded so it
is reproducible). Only facts in the simulated window are scored.

Median fall dates are unconditional sample quantiles (numpy ``inverted_cdf``, as in the result
tables) with "never fell" read as after the horizon, so a district that falls in fewer than half
of the replicates ranks last.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from .district_facts import DATED_KINDS, DistrictFacts, load_district_facts
from .errors import UserError

QUANTILE_METHOD = "inverted_cdf"


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap percentile interval."""

    value: float
    lo: float
    hi: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DistrictSkill:
    """Scores of one run against a set of district facts."""

    split: str | None          # the facts' split, None for all
    n_facts: int               # facts scored by the Brier scores
    n_dated: int               # facts in the Spearman correlation
    replicates: int
    brier_model: Estimate
    brier_null: Estimate
    skill: Estimate            # 1 - brier_model / brier_null
    spearman: Estimate         # model median fall date vs observed capture date
    bootstrap: int
    seed: int
    level: float

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (estimates as {value, lo, hi})."""
        return asdict(self)

    def summary(self) -> str:
        def f(e: Estimate) -> str:
            return f"{e.value:.3f} [{e.lo:.3f}, {e.hi:.3f}]"
        return (f"{self.split or 'all'} facts: n={self.n_facts}, Brier model {f(self.brier_model)}, "
                f"null {f(self.brier_null)}, skill {f(self.skill)}; Spearman of median fall "
                f"dates (n={self.n_dated}) {f(self.spearman)}")


# ----------------------------------------------------------------------------- building blocks
def _check(fall_time: np.ndarray, facts: DistrictFacts) -> np.ndarray:
    fall_time = np.asarray(fall_time, dtype=float)
    if fall_time.ndim != 2:
        raise ValueError(f"fall_time must be (replicates, districts), got shape {fall_time.shape}")
    if len(facts) and facts.row.max() >= fall_time.shape[1]:
        raise ValueError(f"a fact refers to district row {int(facts.row.max())} but fall_time has "
                         f"{fall_time.shape[1]} districts")
    return fall_time


def model_probability(fall_time: np.ndarray, facts: DistrictFacts) -> np.ndarray:
    """(k,) the model's P(the fact's district had fallen by the fact's score day)."""
    fall_time = _check(fall_time, facts)
    with np.errstate(invalid="ignore"):
        return (fall_time[:, facts.row] < facts.score_day[None, :]).mean(axis=0)


def observation_probability(fall_time: np.ndarray, facts: DistrictFacts) -> np.ndarray:
    """(k,) the model's probability of each fact *as the record states it* (for a likelihood).

    ``captured``: P(lower <= T < upper + 1), the fall inside the stated interval (a month is the
    whole month); ``fell_by``, ``crossing_captured``, ``recaptured``: P(T < upper + 1);
    ``held``, ``repelled``: P(T >= lower + 1), never fallen counting as held. ``T`` is the first
    fall time in days since 2021-05-01; the probabilities are shares of replicates, so a
    likelihood should floor them (a fact no replicate reproduces has probability 0).
    """
    fall_time = _check(fall_time, facts)
    t = np.where(np.isnan(fall_time[:, facts.row]), np.inf, fall_time[:, facts.row])
    fallen_by = t < facts.score_day[None, :]
    captured = facts.kind == "captured"
    in_interval = (t >= facts.lower[None, :]) & (t < facts.upper[None, :] + 1.0)
    ok = np.where(facts.outcome[None, :] == 1, fallen_by, ~fallen_by)
    ok = np.where(captured[None, :], in_interval, ok)
    return ok.mean(axis=0)


def national_share(fall_time: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The run's mean share of all districts fallen before each of ``days`` (the null)."""
    fall_time = np.asarray(fall_time, dtype=float)
    flat = np.sort(np.where(np.isnan(fall_time), np.inf, fall_time).ravel())
    return np.searchsorted(flat, np.asarray(days, dtype=float), side="left") / flat.size


def median_fall_day(fall_time: np.ndarray) -> np.ndarray:
    """(n,) each district's median fall day, +inf where it falls in fewer than half the runs."""
    fall_time = np.where(np.isnan(fall_time), np.inf, np.asarray(fall_time, dtype=float))
    return np.quantile(fall_time, 0.5, axis=0, method=QUANTILE_METHOD)


def dated_medians(fall_time: np.ndarray, facts: DistrictFacts, kinds=DATED_KINDS
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The facts the Spearman of median fall dates reads (``kinds``, with a finite interval): their
    mask, the run's median fall day of each one's district (a district that falls in fewer than
    half the runs ranked after everything) and the observed date (the interval's middle)."""
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    dated = np.isin(facts.kind, sorted(kinds)) & np.isfinite(facts.lower)
    med = median_fall_day(fall_time)[facts.row[dated]]
    med = np.where(np.isfinite(med), med, np.finfo(float).max)   # never: after everything
    return dated, med, facts.midpoint[dated]


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho with average ranks for ties (inf ranks last); NaN if either is constant."""
    if x.size < 3:
        return float("nan")
    rx, ry = rankdata(x), rankdata(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`_spearman` of each row of ``x`` (B, m) with the same row of ``y``, at once, and
    equal to it to the bit (a bootstrap's thousands of resamples, which one call per row made the
    slowest step of a fit report).

    Why no bit can differ: average ranks are multiples of 1/2 whose sum is always m (m + 1) / 2,
    so their mean, every deviation from it, every product and every sum of products is exact in
    any order of summation (``np.corrcoef`` sums with BLAS); the remaining roundings are
    ``np.corrcoef``'s own, done in its order: the sums times 1 / (m - 1), the covariance divided
    by one standard deviation and then by the other, clipped to [-1, 1]."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rows, m = x.shape
    if m < 3:
        return np.full(rows, np.nan)
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    dx = rx - rx.mean(axis=1, keepdims=True)
    dy = ry - ry.mean(axis=1, keepdims=True)
    scale = np.true_divide(1, m - 1)
    cxx, cyy = (dx * dx).sum(axis=1) * scale, (dy * dy).sum(axis=1) * scale
    cxy = (dx * dy).sum(axis=1) * scale
    constant = (np.ptp(rx, axis=1) == 0) | (np.ptp(ry, axis=1) == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.clip(cxy / np.sqrt(cxx) / np.sqrt(cyy), -1, 1)
    return np.where(constant, np.nan, rho)


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [a, 1.0 - a])
    return float(lo), float(hi)


def resampled_means(facts: DistrictFacts, rng: np.random.Generator, bootstrap: int,
                    resample: str, *values: np.ndarray) -> list[np.ndarray]:
    """Each of ``values`` (one per fact) averaged over ``bootstrap`` resamples of the facts, or of
    the districts with all their facts (``resample="districts"``), the same resamples for all:
    so differences between them are paired."""
    if resample == "facts":
        idx = rng.integers(0, len(facts), size=(bootstrap, len(facts)))
        return [np.asarray(v)[idx].mean(axis=1) for v in values]
    if resample != "districts":
        raise ValueError(f"resample must be 'facts' or 'districts', not {resample!r}")
    _, group = np.unique(facts.row, return_inverse=True)
    n_groups = int(group.max()) + 1 if group.size else 0
    draw = rng.integers(0, n_groups, size=(bootstrap, n_groups))
    size = np.bincount(group, minlength=n_groups)[draw].sum(axis=1)
    return [np.bincount(group, weights=np.asarray(v, dtype=float), minlength=n_groups)[draw]
            .sum(axis=1) / size for v in values]


# ----------------------------------------------------------------------------- the scores
def district_skill(fall_time: np.ndarray, facts: DistrictFacts | None = None, *,
                   split: str | None = None, kinds=None, capitals: bool | None = None,
                   spearman_kinds=DATED_KINDS, bootstrap: int = 2000, seed: int = 0,
                   level: float = 0.9, resample: str = "facts") -> DistrictSkill:
    """Brier scores, Brier skill over the national-share null and Spearman of median fall dates.

    ``facts`` defaults to the package's ``district_facts.csv``; ``split`` ("fit", "holdout" or
    None for all), ``kinds`` and ``capitals`` select among them (in-window facts only). The null
    is computed from the same ``fall_time``. The Spearman correlation uses the selected facts of
    ``spearman_kinds`` with a finite interval (default ``captured`` only; add
    ``"crossing_captured"`` to read a crossing's date as its district's). Intervals: percentile
    bootstrap (``bootstrap`` resamples, ``seed``), at ``level``, of the facts or, with
    ``resample="districts"``, of the districts with all their facts (for several facts about one
    district, as :meth:`DistrictFacts.status_on` gives).
    """
    facts = load_district_facts() if facts is None else facts
    facts = facts.select(split=split, kinds=kinds, in_window=True, capitals=capitals)
    fall_time = _check(fall_time, facts)
    if len(facts) == 0:
        raise UserError(f"no district facts to score (split={split!r}, kinds={kinds!r})")
    if not 0 < level < 1 or bootstrap < 1:
        raise ValueError("level must be in (0, 1) and bootstrap >= 1")

    outcome = facts.outcome
    sq_model = (model_probability(fall_time, facts) - outcome) ** 2
    sq_null = (national_share(fall_time, facts.score_day) - outcome) ** 2

    dated, med, obs = dated_medians(fall_time, facts, spearman_kinds)

    rng = np.random.default_rng(seed)
    k, m = len(facts), int(dated.sum())
    b_model, b_null = resampled_means(facts, rng, bootstrap, resample, sq_model, sq_null)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_skill = 1.0 - b_model / b_null
    rho = _spearman(med, obs)
    if m >= 3:
        jdx = rng.integers(0, m, size=(bootstrap, m))
        b_rho = _spearman_rows(med[jdx], obs[jdx])
    else:
        b_rho = np.full(bootstrap, np.nan)

    bm, bn = float(sq_model.mean()), float(sq_null.mean())
    skill = 1.0 - bm / bn if bn > 0 else float("nan")
    return DistrictSkill(
        split=split, n_facts=k, n_dated=m, replicates=int(fall_time.shape[0]),
        brier_model=Estimate(bm, *_interval(b_model, level)),
        brier_null=Estimate(bn, *_interval(b_null, level)),
        skill=Estimate(skill, *_interval(b_skill, level)),
        spearman=Estimate(rho, *_interval(b_rho, level)),
        bootstrap=bootstrap, seed=seed, level=level)


#: The dates at whose end :func:`fixed_date_skill` asks which districts had fallen: twice a month
#: from mid-May to 1 August, the months the record counts districts (chosen before scoring at
#: them; the first count is 31 May, Kabul fell on 15 August). Assumption A28b.
STATUS_DATES = tuple(dt.date(2021, m, d) for m, d in
                     ((5, 15), (6, 1), (6, 15), (7, 1), (7, 15), (8, 1)))


def fixed_date_skill(fall_time: np.ndarray, facts: DistrictFacts | None = None, *,
                     split: str | None = None, capitals: bool | None = None,
                     dates=STATUS_DATES, **kw) -> DistrictSkill:
    """:func:`district_skill` at dates common to every district instead of each fact's own date:
    the Brier skill of P(district i had fallen by d) over the national share, for every district
    and date in ``dates`` at which its facts imply a status (:meth:`DistrictFacts.status_on`),
    resampling districts; the Spearman of median fall dates is :func:`district_skill`'s. This
    asks where the collapse had reached; a fact's own date asks when, to the day, a district fell
    (``docs/district_facts.md``, "Scoring at fixed dates")."""
    facts = load_district_facts() if facts is None else facts
    facts = facts.select(split=split, in_window=True, capitals=capitals)
    status = facts.status_on(dates)
    if len(status) == 0:
        raise UserError(f"no district status implied at {[d.isoformat() for d in dates]} "
                        f"(split={split!r})")
    brier = district_skill(fall_time, status, resample="districts", **kw)
    order = district_skill(fall_time, facts, **kw)
    return replace(brier, split=split, n_dated=order.n_dated, spearman=order.spearman)


def fact_table(fall_time: np.ndarray, facts: DistrictFacts | None = None) -> list[dict]:
    """One row per in-window fact: its outcome, the model's and the null's probability, and the
    district's median fall day (for reports and for looking at what the model gets wrong)."""
    facts = (load_district_facts() if facts is None else facts).select(in_window=True)
    p_model = model_probability(fall_time, facts)
    p_null = national_share(fall_time, facts.score_day)
    med = median_fall_day(np.asarray(fall_time, dtype=float))
    rows = []
    for j, f in enumerate(facts.facts):
        rows.append({"id": f.id, "pcode": f.pcode, "district": f.district, "kind": f.kind,
                     "split": f.split, "score_day": float(facts.score_day[j]),
                     "outcome": int(facts.outcome[j]), "p_model": float(p_model[j]),
                     "p_null": float(p_null[j]),
                     "median_fall_day": float(med[facts.row[j]])})
    return rows


def skill_from_npz(path: str | Path, facts: DistrictFacts | None = None, **kw) -> DistrictSkill:
    """:func:`district_skill` of a run's ``fall_times.npz`` (columns matched by pcode)."""
    path = Path(path)
    if not path.is_file():
        raise UserError("file not found (expected a run's fall_times.npz)", file=path)
    with np.load(path, allow_pickle=False) as data:
        fall_time, pcodes = data["fall_time"], [str(p) for p in data["pcode"]]
    facts = load_district_facts() if facts is None else facts
    from .geography import load_geography
    geo = load_geography()
    if list(pcodes) != list(geo.pcodes):
        where = {p: j for j, p in enumerate(pcodes)}
        missing = [p for p in geo.pcodes if p not in where]
        if missing:
            raise UserError(f"fall times lack district(s) {missing[:3]}", file=path, key="pcode")
        fall_time = fall_time[:, [where[p] for p in geo.pcodes]]
    return district_skill(fall_time, facts, **kw)
