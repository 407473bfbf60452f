"""Global sensitivity: which parameters' uncertainty moves Kabul's fall and the capitals held.

Sobol indices (first order and total effect) computed with ``scipy.stats.sobol_indices``
(Saltelli 2010 estimators, bootstrap intervals), so no extra dependency is needed. Each sampled
parameter vector is simulated on the same R replicates (common random numbers), and the outcomes
are the replicate means of

* Kabul's fall day (censored at the horizon: a Kabul that holds counts as falling on the last day),
* the number of provincial capitals still held on 15 August 2021.

Ranges: a calibrated parameter varies over its posterior 5-95% range (so the indices apportion
the *remaining* uncertainty), any other over half to one and a half times its value; the other
parameters stay at their posterior medians (or defaults).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .ensemble import ParameterSource, resolve_parameter_source
from .errors import UserError
from .geography import Geography, load_geography
from .model import Model
from .parameter_sets import ParallelSets, simulate_sets
from .parameters import BY_NAME, NAMES
from .progress import progress_bar
from .randomness import Draws, draw_batch
from .scenario import Scenario, load_scenario
from .timeline import day_of

#: The mechanisms the report asks about.
DEFAULT_PARAMETERS = ("b_neighbour", "b_momentum", "b_pay", "b_air", "b_mobilization",
                      "cap_b_cascade", "cap_b_encircle", "cap_b_distance", "cap_b_focus",
                      "cap_b_forces", "assault_rate", "assault_b_withdrawal", "assault_b_share",
                      "assault_b_air", "kabul_b_capitals")
OUTCOME_LABELS = {"kabul_day": "Kabul's fall date (mean day)",
                  "capitals_held_aug15": "capitals held on 15 August (mean)"}


@dataclass
class Sensitivity:
    names: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]
    outcomes: tuple[str, ...]
    first: dict[str, np.ndarray]
    total: dict[str, np.ndarray]
    first_ci: dict[str, tuple[np.ndarray, np.ndarray]]
    total_ci: dict[str, tuple[np.ndarray, np.ndarray]]
    evaluations: int
    replicates: int
    seconds: float = 0.0
    labels: dict = field(default_factory=lambda: dict(OUTCOME_LABELS))

    def rows(self) -> list[dict]:
        out = []
        for j, n in enumerate(self.names):
            row = {"parameter": n, "range_lo": self.ranges[n][0], "range_hi": self.ranges[n][1]}
            for o in self.outcomes:
                row.update({f"{o}_first": round(float(self.first[o][j]), 4),
                            f"{o}_total": round(float(self.total[o][j]), 4),
                            f"{o}_total_ci95_lo": round(float(self.total_ci[o][0][j]), 4),
                            f"{o}_total_ci95_hi": round(float(self.total_ci[o][1][j]), 4)})
            out.append(row)
        return out

    def ranking(self, outcome: str = "kabul_day") -> list[tuple[str, float]]:
        order = np.argsort(-self.total[outcome])
        return [(self.names[i], float(self.total[outcome][i])) for i in order]


@dataclass(eq=False)
class OutcomeProblem:
    """Replicate-mean outcomes at many parameter vectors (one per row of X)."""

    model: Model
    base: np.ndarray
    draws: Draws
    columns: np.ndarray
    aug15: float
    capital_rows: np.ndarray
    kabul_row: int

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        res = simulate_sets(self.model, self.base, self.draws, self.columns, X)
        S, R = X.shape[0], self.base.shape[0]
        ft = res.fall_time.reshape(S, R, -1)
        kabul = np.where(np.isnan(ft[:, :, self.kabul_row]), self.model.horizon,
                         ft[:, :, self.kabul_row])
        with np.errstate(invalid="ignore"):
            held = len(self.capital_rows) - (ft[:, :, self.capital_rows] < self.aug15).sum(axis=2)
        return np.column_stack([kabul.mean(axis=1), held.mean(axis=1)])


def check_parameter_names(names: Sequence[str], key: str = "parameters") -> tuple[str, ...]:
    """At least two distinct, known parameter names (Sobol indices of one parameter are 1)."""
    names = [n.strip() if isinstance(n, str) else n for n in names]
    if any(not isinstance(n, str) or not n for n in names):
        raise UserError(f"an empty parameter name in {','.join(map(str, names))!r}; expected "
                        "comma-separated names", key=key)
    unknown = [p for p in names if p not in BY_NAME]
    if unknown:
        raise UserError(f"unknown parameter(s) {unknown[:5]}; allowed: {', '.join(NAMES)}", key=key)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError(f"parameter(s) {dup} given twice; each may appear once", key=key)
    if len(names) < 2:
        raise UserError(f"at least two parameters are needed (Sobol indices apportion the variance "
                        f"between them), got {len(names)}", key=key)
    return tuple(names)


def _seeded_bootstrap(res, seed: int, n_resamples: int = 200, confidence_level: float = 0.95):
    """The bootstrap intervals of ``SobolResult.bootstrap``, but from a seeded generator (scipy's
    own method draws from fresh entropy, so two identical runs differed): (low, high), each
    (2: first and total order, outcomes, parameters)."""
    from scipy.stats import bootstrap

    def statistic(idx):
        return res._indices_method(res._f_A[:, idx], res._f_B[:, idx], res._f_AB[..., idx])

    b = bootstrap([np.arange(res._f_A.shape[1])], statistic=statistic, method="BCa",
                  n_resamples=n_resamples, confidence_level=confidence_level,
                  rng=np.random.default_rng([seed, 59]))
    return np.asarray(b.confidence_interval.low), np.asarray(b.confidence_interval.high)


def sensitivity(scenario: Scenario | str, *, parameters: Sequence[str] = DEFAULT_PARAMETERS,
                source: ParameterSource | str | None = None, n: int = 256, replicates: int = 16,
                seed: int = 1, workers: int = 1, progress: bool = False,
                geo: Geography | None = None) -> Sensitivity:
    """Sobol indices of the outcomes with respect to ``parameters`` (n must be a power of 2)."""
    import time

    from scipy.stats import sobol_indices, uniform

    geo = geo or load_geography()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, geo)
    if n < 8 or n & (n - 1) or n > 2 ** 20:
        raise UserError(f"the Sobol sample size must be a power of 2 from 8 to 2**20, got {n}",
                        key="--sobol-n")
    parameters = check_parameter_names(parameters)
    source = resolve_parameter_source(source)
    rows = scenario.apply_table(source.table(seed, range(max(64, len(source.rows))))).values
    centre = np.median(rows, axis=0)
    ranges = {}
    for name in parameters:
        j = NAMES.index(name)
        lo, hi = np.quantile(rows[:, j], [0.05, 0.95])
        if hi - lo < 1e-9 * max(1.0, abs(centre[j])):        # not calibrated: +-50%
            lo, hi = 0.5 * centre[j], 1.5 * centre[j]
        spec = BY_NAME[name]
        lo, hi = max(lo, spec.lower), min(hi, spec.upper)
        if not hi > lo:
            raise UserError(f"parameter {name} has an empty range ({lo}, {hi})", key="parameters")
        ranges[name] = (float(lo), float(hi))
    model = Model.build(geo, scenario.events, scenario.focus_regions, scenario.end)
    problem = OutcomeProblem(model, np.tile(centre, (replicates, 1)),
                             draw_batch(seed, range(replicates), geo.n),
                             np.array([NAMES.index(p) for p in parameters]),
                             day_of(dt.date(2021, 8, 15)) + 1, geo.capital_rows, geo.kabul_row)
    dists = [uniform(loc=ranges[p][0], scale=ranges[p][1] - ranges[p][0]) for p in parameters]
    started = time.perf_counter()
    bar = progress_bar(n * (len(parameters) + 2), "sensitivity", progress, unit="set")
    with ParallelSets(problem, workers) as runner:
        def func(x: np.ndarray) -> np.ndarray:          # x: (d, m) -> (2, m)
            out = []
            for a in range(0, x.shape[1], 64):
                chunk = x[:, a:a + 64].T
                out.append(runner.evaluate(chunk))
                bar.update(len(chunk))
            return np.concatenate(out).T

        res = sobol_indices(func=func, n=n, dists=dists, random_state=np.random.default_rng(seed))
    bar.close()
    low, high = _seeded_bootstrap(res, seed)
    outcomes = ("kabul_day", "capitals_held_aug15")
    return Sensitivity(
        names=tuple(parameters), ranges=ranges, outcomes=outcomes,
        first={o: np.asarray(res.first_order[k]) for k, o in enumerate(outcomes)},
        total={o: np.asarray(res.total_order[k]) for k, o in enumerate(outcomes)},
        first_ci={o: (low[0][k], high[0][k]) for k, o in enumerate(outcomes)},
        total_ci={o: (low[1][k], high[1][k]) for k, o in enumerate(outcomes)},
        evaluations=n * (len(parameters) + 2), replicates=replicates,
        seconds=time.perf_counter() - started)
