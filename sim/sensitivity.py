"""Global sensitivity: which parameters' uncertainty moves Kabul's fall and the capitals held.

Sobol indices (first order and total effect) computed with ``scipy.stats.sobol_indices``
(Saltelli 2010 estimators, bootstrap intervals), so no extra dependency is needed. Each sampled
parameter vector is simulated on the same R replicates (common random numbers), and the outcomes
are the replicate means of

* Kabul's fall day (censored at the horizon: a Kabul that holds counts as falling on the last day),
* the number of other provincial capitals still held when Kabul falls (not fallen strictly
  before it; at the horizon if Kabul holds): a count on a fixed date (15 August) swings from 0 to
  30 when Kabul's date moves by a few days, and its indices were mostly that knife edge.

Ranges: a calibrated parameter varies over its posterior 5-95% range (so the indices apportion
the *remaining* uncertainty), any other over half to one and a half times its value; the other
parameters stay at their posterior medians (or defaults).

Which parameters: by default those the parameter source leaves uncertain (the columns that vary
across the posterior's draws), or, with fixed parameters, those the package's calibration
estimates (the columns of ``sim/data/posterior.csv``); no name is written here, so the analysis
follows the model as its parameter table and calibration change.

The analysis depends only on the scenario, the parameter source, the seed, the sizes and the
code, so :func:`cached_sensitivity` keeps its result in a cache folder keyed by a hash of all of
them: ``afsim compare`` reruns it only when one changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .ensemble import ParameterSource, resolve_parameter_source, resolve_workers
from .errors import UserError
from .geography import Geography, load_geography
from .model import Model
from .parameter_sets import ParallelSets, simulate_sets
from .parameters import BY_NAME, NAMES
from .progress import progress_bar
from .randomness import Draws, draw_batch
from .scenario import Scenario, load_scenario
from .theatre import default_theatre

#: ``parameters=DEFAULT_PARAMETERS`` (or None) asks for :func:`default_parameters`.
DEFAULT_PARAMETERS = None


def calibrated_parameters() -> tuple[str, ...]:
    """The parameters the package's calibration estimates (the columns of its posterior)."""
    from .posterior import DEFAULT_POSTERIOR
    if not DEFAULT_POSTERIOR.is_file():
        return ()
    with DEFAULT_POSTERIOR.open(encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    return tuple(n for n in NAMES if n in header)


def default_parameters(source: ParameterSource) -> tuple[str, ...]:
    """The parameters whose uncertainty the analysis apportions: those that vary across the
    source's draws; for a fixed source, the package's calibrated parameters."""
    rows = np.asarray(source.rows)
    if source.kind != "fixed" and len(rows) > 1:
        varying = tuple(n for j, n in enumerate(NAMES) if np.ptp(rows[:, j]) > 0)
        if varying:
            return varying
    return calibrated_parameters() or tuple(NAMES)
OUTCOME_LABELS = {"kabul_day": "Kabul's fall date (mean day)",
                  "capitals_held_at_kabul_fall": "other capitals held when Kabul falls (mean)"}


def outcome_labels(theatre) -> dict[str, str]:
    """The outcomes' labels in a theatre's words (its capital); the keys stay the API's."""
    return {k: v.replace("Kabul", theatre.capital) for k, v in OUTCOME_LABELS.items()}


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
    cache_note: str = ""

    def rows(self) -> list[dict]:
        out = []
        for j, n in enumerate(self.names):
            row = {"parameter": n, "range_lo": self.ranges[n][0], "range_hi": self.ranges[n][1]}
            assumption = getattr(BY_NAME.get(n), "assumption", None)
            if assumption is not None:           # the parameter table may name its assumption
                row["assumption"] = assumption
            for o in self.outcomes:
                row.update({f"{o}_first": round(float(self.first[o][j]), 4),
                            f"{o}_total": round(float(self.total[o][j]), 4),
                            f"{o}_total_ci95_lo": round(float(self.total_ci[o][0][j]), 4),
                            f"{o}_total_ci95_hi": round(float(self.total_ci[o][1][j]), 4)})
            out.append(row)
        return out

    def to_json(self) -> dict:
        arr = lambda a: [float(v) for v in np.asarray(a)]          # noqa: E731
        return {"names": list(self.names), "ranges": {k: list(v) for k, v in self.ranges.items()},
                "outcomes": list(self.outcomes),
                "first": {k: arr(v) for k, v in self.first.items()},
                "total": {k: arr(v) for k, v in self.total.items()},
                "first_ci": {k: [arr(v[0]), arr(v[1])] for k, v in self.first_ci.items()},
                "total_ci": {k: [arr(v[0]), arr(v[1])] for k, v in self.total_ci.items()},
                "evaluations": self.evaluations, "replicates": self.replicates,
                "seconds": self.seconds, "labels": self.labels}

    @classmethod
    def from_json(cls, d: dict) -> "Sensitivity":
        arr = np.asarray
        return cls(names=tuple(d["names"]), ranges={k: tuple(v) for k, v in d["ranges"].items()},
                   outcomes=tuple(d["outcomes"]),
                   first={k: arr(v) for k, v in d["first"].items()},
                   total={k: arr(v) for k, v in d["total"].items()},
                   first_ci={k: (arr(v[0]), arr(v[1])) for k, v in d["first_ci"].items()},
                   total_ci={k: (arr(v[0]), arr(v[1])) for k, v in d["total_ci"].items()},
                   evaluations=int(d["evaluations"]), replicates=int(d["replicates"]),
                   seconds=float(d["seconds"]), labels=dict(d["labels"]))

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
        others = self.capital_rows[self.capital_rows != self.kabul_row]
        caps = np.where(np.isnan(ft[:, :, others]), np.inf, ft[:, :, others])
        k = np.where(np.isnan(ft[:, :, self.kabul_row]), np.inf, ft[:, :, self.kabul_row])
        held = len(others) - (caps < k[:, :, None]).sum(axis=2)
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


def sensitivity(scenario: Scenario | str, *, parameters: Sequence[str] | None = DEFAULT_PARAMETERS,
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
                        argument="n")
    source = resolve_parameter_source(source, argument="source")
    chosen = parameters is None
    parameters = check_parameter_names(default_parameters(source) if chosen else parameters)
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
            if chosen:                # a parameter at zero (a switched-off term): nothing to vary
                continue
            raise UserError(f"parameter {name} has an empty range ({lo}, {hi}): it does not vary "
                            "in this parameter source and is zero", argument="parameters")
        ranges[name] = (float(lo), float(hi))
    parameters = tuple(p for p in parameters if p in ranges)
    if not parameters:
        raise UserError("no parameter to vary", argument="parameters")
    model = Model.build(geo, scenario.events, scenario.focus_regions, scenario.end)
    problem = OutcomeProblem(model, np.tile(centre, (replicates, 1)),
                             draw_batch(seed, range(replicates), geo.n),
                             np.array([NAMES.index(p) for p in parameters]),
                             geo.theatre.day_of(geo.theatre.capital_fell) + 1, geo.capital_rows,
                             geo.kabul_row)
    dists = [uniform(loc=ranges[p][0], scale=ranges[p][1] - ranges[p][0]) for p in parameters]
    started = time.perf_counter()
    bar = progress_bar(n * (len(parameters) + 2), "sensitivity", progress, unit="set")
    with ParallelSets(problem, resolve_workers(workers)) as runner:
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
    outcomes = tuple(OUTCOME_LABELS)
    return Sensitivity(
        names=tuple(parameters), ranges=ranges, outcomes=outcomes,
        first={o: np.asarray(res.first_order[k]) for k, o in enumerate(outcomes)},
        total={o: np.asarray(res.total_order[k]) for k, o in enumerate(outcomes)},
        first_ci={o: (low[0][k], high[0][k]) for k, o in enumerate(outcomes)},
        total_ci={o: (low[1][k], high[1][k]) for k, o in enumerate(outcomes)},
        evaluations=n * (len(parameters) + 2), replicates=replicates,
        seconds=time.perf_counter() - started, labels=outcome_labels(geo.theatre))


# ====================================================================== the cache

def default_cache_dir() -> Path:
    """$AFSIM_CACHE_DIR, else $XDG_CACHE_HOME/afsim, else ~/.cache/afsim."""
    env = os.environ.get("AFSIM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "afsim"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 of the package's code and data: a model change invalidates the cache even when
    the version number does not move."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted([*root.glob("*.py"), *(root / "data").glob("*")]):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(scenario: Scenario, source: ParameterSource, *, parameters, n: int, replicates: int,
              seed: int, theatre=None) -> str:
    """The cache's key over every input; a theatre other than the shipped one (``theatre``) is
    part of it (the shipped one is not, so the keys of earlier caches still hold)."""
    from .version import __version__
    digest = source.digest or hashlib.sha256(np.ascontiguousarray(source.rows).tobytes()
                                             + np.ascontiguousarray(source.weights).tobytes()).hexdigest()
    ident = {"scenario": scenario.hash, "source": digest, "source_kind": source.kind,
             "parameters": list(parameters) if parameters is not None else None, "n": int(n),
             "replicates": int(replicates), "seed": int(seed), "version": __version__,
             "code": code_fingerprint()}
    if theatre is not None and theatre != default_theatre():
        ident["theatre"] = [theatre.name, str(theatre.data_dir)]
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def cached_sensitivity(scenario: Scenario, *, source: ParameterSource, cache_dir: str | Path | None = None,
                       parameters: Sequence[str] | None = DEFAULT_PARAMETERS, n: int = 256,
                       replicates: int = 16, seed: int = 1, workers: int = 1,
                       progress: bool = False, geo: Geography | None = None) -> Sensitivity:
    """:func:`sensitivity`, read from ``cache_dir`` when the same inputs were analysed before.

    The cache is plain JSON (no pickle: a cache folder is not trusted code). The key hashes
    the scenario files, the parameter source (the posterior file's sha256, or its
    values), the parameters, the sizes, the seed, the package version and its code and data. The
    result's ``cache_note`` says whether it came from the cache."""
    import sys
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = cache_key(scenario, source, parameters=parameters, n=n, replicates=replicates, seed=seed,
                    theatre=geo.theatre if geo is not None else None)
    path = folder / f"sensitivity-{key[:24]}.json"
    if path.is_file():
        try:
            sens = Sensitivity.from_json(json.loads(path.read_text(encoding="utf-8")))
            sens.cache_note = f"Read from the cache ({path}), computed earlier on the same inputs."
            if progress:
                print(f"sensitivity: same inputs as before, read from the cache {path}",
                      file=sys.stderr)
            return sens
        except (ValueError, KeyError, TypeError, OSError):   # damaged or foreign: compute again
            pass
    sens = sensitivity(scenario, parameters=parameters, source=source, n=n, replicates=replicates,
                       seed=seed, workers=workers, progress=progress, geo=geo)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(sens.to_json()), encoding="utf-8")
        os.replace(tmp, path)
        sens.cache_note = f"Computed in {sens.seconds:.0f} s and cached in {path}."
    except OSError as exc:                # an unwritable cache must not fail the comparison
        sens.cache_note = f"Computed in {sens.seconds:.0f} s (not cached: {exc})."
    return sens
