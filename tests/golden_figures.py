"""The headline figures the golden test pins (shared by the test and the regeneration script)."""

from __future__ import annotations

import hashlib

import numpy as np

import sim
from sim.theatre import AFGHANISTAN_2021

day_of = AFGHANISTAN_2021.day_of

from conftest import BASELINE, ROOT

DATES = ("2021-05-31", "2021-06-30", "2021-07-31", "2021-08-15")


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def headline_figures() -> dict:
    """Fixed seeds, both parameter sources, the baseline and one what-if: the numbers behind the
    README's tables, and a hash of every fall time."""
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
            "fall_time_sha256": _digest(np.nan_to_num(ft, nan=-1.0)),
            "mode_sha256": _digest(r.mode),
            "kabul_day_q50": float(np.median(np.where(np.isnan(kabul), 1e9, kabul))),
            "assault_day_mean": float(np.nanmean(r.assault_time)) if np.isfinite(r.assault_time).any()
            else None,
            "districts_fallen_mean": {d: float(np.mean(np.sum(ft < day_of(dt.date.fromisoformat(d)) + 1,
                                                              axis=1))) for d in DATES},
        }
    return out
