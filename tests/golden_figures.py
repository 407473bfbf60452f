"""The headline figures the golden test pins (shared by the test and the regeneration script)."""

from __future__ import annotations

import hashlib
import math

import numpy as np

import sim
from sim.theatre import AFGHANISTAN_2021

day_of = AFGHANISTAN_2021.day_of

from conftest import BASELINE, ROOT

DATES = ("2021-05-31", "2021-06-30", "2021-07-31", "2021-08-15")


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


#: Continuous figures are compared to this relative (and absolute) tolerance, discrete ones
#: (counts, modes) exactly: numpy's vectorised exp and log differ in the last bit between CPUs
#: (AVX-512 against AVX2 code paths), so fall times computed on two machines agree to about 1e-14,
#: not bit for bit. A change to the rule, the random numbers or the data moves them far more.
TOLERANCE = 1e-9


def headline_figures() -> dict:
    """Fixed seeds, both parameter sources, the baseline and one what-if: the numbers behind the
    README's tables, every district's mean fall time and a hash of every fall's mode."""
    import datetime as dt
    out = {}
    for label, scenario, params in (("baseline_fixed", BASELINE, "fixed"),
                                    ("baseline_posterior", BASELINE, None),
                                    ("salaries_paid_posterior", ROOT / "scenarios" / "salaries_paid.toml",
                                     None)):
        kw = {} if params is None else {"parameters": params}
        r = sim.run(scenario, replicates=60, seed=20210815, **kw)
        ft = r.fall_time
        kabul = ft[:, r.geo.kabul_row]
        out[label] = {
            "fall_time_district_mean": [float(v) for v in np.nan_to_num(ft, nan=-1.0).mean(axis=0)],
            "mode_sha256": _digest(r.mode),
            "kabul_day_q50": float(np.median(np.where(np.isnan(kabul), 1e9, kabul))),
            "assault_day_mean": float(np.nanmean(r.assault_time)) if np.isfinite(r.assault_time).any()
            else None,
            "districts_fallen_mean": {d: float(np.mean(np.sum(ft < day_of(dt.date.fromisoformat(d)) + 1,
                                                              axis=1))) for d in DATES},
        }
    return out


def mismatches(got, want, path: str = "") -> list[str]:
    """Where ``got`` differs from ``want``: floats beyond :data:`TOLERANCE`, anything else
    exactly (counts are floats too, but a count that moves moves by far more)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}{k}: missing" for k in sorted(set(want) ^ set(got))]
        for k in sorted(set(want) & set(got)):
            out += mismatches(got[k], want[k], f"{path}{k}.")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{path}: length {len(got)} != {len(want)}"]
        return [m for i, (g, w) in enumerate(zip(got, want))
                for m in mismatches(g, w, f"{path}{i}.")]
    if isinstance(want, float) and isinstance(got, float):
        ok = math.isclose(got, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
        return [] if ok else [f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]
