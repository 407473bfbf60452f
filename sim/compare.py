"""What-if comparisons: scenarios run on the same random numbers as the baseline, paired.

Every scenario is run with the same seed and replicate count, so replicate k of each scenario
has the same resistances, the same initial districts and the same posterior parameter draw as
replicate k of the baseline: a difference between them is the policy's effect on that one
possible 2021, not sampling noise. Effects are reported as the mean paired difference with its
90% confidence interval, and as the 5-95% range of the per-replicate differences.

Kabul's fall date is censored at the horizon: a replicate in which Kabul holds counts as falling
on the last day, so delays are lower bounds when Kabul often holds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .ensemble import resolve_parameter_source, run
from .errors import UserError
from .geography import Geography, load_geography
from .results import EnsembleResult, iso_or_blank, quantiles
from .scenario import Scenario, load_scenario
from .timeline import day_of

AUG15, AUG31, DEC31 = dt.date(2021, 8, 15), dt.date(2021, 8, 31), dt.date(2021, 12, 31)
Z90 = 1.6448536269514722


def paired_summary(diff: np.ndarray) -> dict:
    """Mean paired difference, its 90% confidence interval and the 5-95% range of differences."""
    diff = np.asarray(diff, dtype=float)
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return {"mean": mean, "ci90": (mean - Z90 * se, mean + Z90 * se),
            "q05": float(np.quantile(diff, 0.05)), "q95": float(np.quantile(diff, 0.95))}


@dataclass(eq=False)
class Comparison:
    results: dict[str, EnsembleResult]       # baseline first
    baseline: str
    seed: int
    replicates: int
    elapsed: float = 0.0
    sensitivity: object | None = None
    notes: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.results)

    @property
    def base(self) -> EnsembleResult:
        return self.results[self.baseline]

    # ------------------------------------------------------------------ per-replicate outcomes
    def kabul_day(self, name: str) -> np.ndarray:
        r = self.results[name]
        return np.where(np.isnan(r.kabul_fall_time), r.model.horizon, r.kabul_fall_time)

    def held(self, name: str, date: dt.date, capitals: bool) -> np.ndarray:
        r = self.results[name]
        total = len(r.geo.capital_rows) if capitals else r.geo.n
        return total - r.fallen_by(date, capitals)

    def kabul_by(self, name: str, date: dt.date) -> np.ndarray:
        k = self.results[name].kabul_fall_time
        with np.errstate(invalid="ignore"):
            return (k < day_of(date) + 1).astype(float)

    def effect(self, name: str, outcome: str) -> dict:
        """Paired effect of scenario ``name`` against the baseline on one outcome."""
        f = OUTCOMES[outcome][1]
        return paired_summary(f(self, name) - f(self, self.baseline))

    # ------------------------------------------------------------------ the comparison table
    def table(self) -> list[dict]:
        rows = []
        for name, r in self.results.items():
            kq = quantiles(r.kabul_fall_time, [0.05, 0.25, 0.5, 0.75, 0.95])
            row = {"scenario": name, "base": r.scenario.base_name or "",
                   "kabul_fall_q05": iso_or_blank(kq[0]), "kabul_fall_q25": iso_or_blank(kq[1]),
                   "kabul_fall_q50": iso_or_blank(kq[2]), "kabul_fall_q75": iso_or_blank(kq[3]),
                   "kabul_fall_q95": iso_or_blank(kq[4]),
                   "p_kabul_by_2021_08_31": round(float(self.kabul_by(name, AUG31).mean()), 4),
                   "p_kabul_by_2021_12_31": round(float(self.kabul_by(name, DEC31).mean()), 4)}
            for date in (AUG15, AUG31):
                for what, caps in (("capitals", True), ("districts", False)):
                    h = self.held(name, date, caps)
                    q = np.quantile(h, [0.05, 0.5, 0.95], method="inverted_cdf")
                    key = f"{what}_held_{date.isoformat().replace('-', '_')}"
                    row.update({f"{key}_q50": int(q[1]), f"{key}_q05": int(q[0]), f"{key}_q95": int(q[2]),
                                f"{key}_mean": round(float(h.mean()), 3)})
            for outcome in OUTCOMES:
                e = self.effect(name, outcome)
                row.update({f"d_{outcome}_mean": round(e["mean"], 4),
                            f"d_{outcome}_ci90_lo": round(e["ci90"][0], 4),
                            f"d_{outcome}_ci90_hi": round(e["ci90"][1], 4),
                            f"d_{outcome}_q05": round(e["q05"], 4),
                            f"d_{outcome}_q95": round(e["q95"], 4)})
            rows.append(row)
        return rows

    def findings(self) -> list[str]:
        """Plain sentences for the report, ranked by the size of the effect on Kabul."""
        out = []
        effects = [(n, self.effect(n, "kabul_days")) for n in self.names if n != self.baseline]
        effects.sort(key=lambda t: -abs(t[1]["mean"]))
        for name, e in effects:
            lo, hi = e["ci90"]
            caps = self.effect(name, "capitals_held_aug15")
            verb = "delays" if e["mean"] > 0 else "hastens"
            out.append(f"{name}: {verb} the fall of Kabul by {abs(e['mean']):.1f} days on average "
                       f"(90% CI {lo:+.1f} to {hi:+.1f}; per-replicate 5-95%: {e['q05']:+.1f} to "
                       f"{e['q95']:+.1f}); capitals still held on 15 August {caps['mean']:+.1f} "
                       f"(90% CI {caps['ci90'][0]:+.1f} to {caps['ci90'][1]:+.1f}).")
        return out

    def write(self, out: str | Path, *, force: bool = False, plots: bool = True,
              boundaries: str | None = None, map_scenario: str | None = None,
              animation: bool = True) -> Path:
        from .output import atomic_directory
        from .report import write_comparison_outputs
        with atomic_directory(out, force=force) as tmp:
            write_comparison_outputs(self, tmp, plots=plots, boundaries=boundaries,
                                     map_scenario=map_scenario, animation=animation)
        return Path(out)


#: outcome name -> (label, per-replicate function of (comparison, scenario))
OUTCOMES = {
    "kabul_days": ("Kabul's fall (days later than baseline)", lambda c, n: c.kabul_day(n)),
    "capitals_held_aug15": ("capitals held on 15 Aug", lambda c, n: c.held(n, AUG15, True)),
    "districts_held_aug15": ("districts held on 15 Aug", lambda c, n: c.held(n, AUG15, False)),
    "capitals_held_aug31": ("capitals held on 31 Aug", lambda c, n: c.held(n, AUG31, True)),
    "p_kabul_by_aug31": ("P(Kabul fallen by 31 Aug)", lambda c, n: c.kabul_by(n, AUG31)),
}


def compare(scenarios: Sequence[str | Path | Scenario], replicates: int = 1000, seed: int = 1, *,
            parameters=None, workers: int | None = 1, scheduler: str | None = None,
            progress: bool = False, geo: Geography | None = None,
            keep_fall_times: bool | None = None, chunk_size: int | None = None,
            checkpoint: str | Path | None = None, resume: bool = False,
            engine: str = "batch") -> Comparison:
    """Run the baseline and each what-if on the same random numbers and compare them."""
    import time
    geo = geo or load_geography()
    loaded = [s if isinstance(s, Scenario) else load_scenario(s, geo) for s in scenarios]
    if not loaded:
        raise UserError("no scenario given", key="SCENARIO")
    names = [s.name for s in loaded]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError(f"scenario name(s) {dup} given twice; names must be unique", key="SCENARIO")
    roots = {s.files[0].resolve() for s in loaded}
    if len(roots) > 1:
        raise UserError("the scenarios do not share one baseline (their 'base' chains end in "
                        f"{sorted(str(r) for r in roots)})", key="SCENARIO")
    baseline = next((s for s in loaded if s.base_name is None), None)
    if baseline is None:
        baseline = load_scenario(loaded[0].files[0], geo)
        loaded.insert(0, baseline)
    ordered = [baseline] + [s for s in loaded if s is not baseline]
    source = resolve_parameter_source(parameters)
    started = time.perf_counter()
    results = {}
    for s in ordered:
        results[s.name] = run(s, replicates=replicates, seed=seed, parameters=source,
                              workers=workers, scheduler=scheduler, progress=progress, geo=geo,
                              keep_fall_times=keep_fall_times, chunk_size=chunk_size,
                              checkpoint=Path(checkpoint) / s.name if checkpoint else None,
                              resume=resume, engine=engine)
    return Comparison(results, baseline.name, seed, replicates, time.perf_counter() - started)
