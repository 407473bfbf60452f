"""What a comparison measures in each replicate: the outcomes, by name.

Each outcome reads one number per replicate from an ensemble's result (duck-typed: anything with
the :class:`sim.results.Any` attributes it uses). The comparison (:mod:`sim.compare`)
computes paired effects of them; the figures (:mod:`sim.plots`) and the report
(:mod:`sim.report`) label them. Kept apart from both so that neither imports the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import UserError
from .timeline import day_of

AUG15, AUG31 = dt.date(2021, 8, 15), dt.date(2021, 8, 31)


def kabul_day(r: Any) -> np.ndarray:
    """Kabul's fall day, censored at the horizon (held to the end = falls on the last day)."""
    return np.where(np.isnan(r.kabul_fall_time), r.model.horizon, r.kabul_fall_time)


def held_on(r: Any, date: dt.date, capitals: bool) -> np.ndarray:
    total = len(r.geo.capital_rows) if capitals else r.geo.n
    return total - r.fallen_by(date, capitals)


def kabul_fallen_by(r: Any, date: dt.date) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (r.kabul_fall_time < day_of(date) + 1).astype(float)


@dataclass(frozen=True)
class Outcome:
    label: str          # for tables and figures
    unit: str
    per_replicate: Callable[[Any], np.ndarray]
    headline: bool = False


#: Outcome name -> definition. The headline outcomes come first: they measure the collapse
#: relative to Kabul's own fall rather than counts on a fixed date that sit on a knife edge
#: (a scenario that moves Kabul by a day can swing "capitals held on 15 August" by thirty).
OUTCOMES: dict[str, Outcome] = {
    "kabul_days": Outcome("days Kabul holds (fall day vs baseline; censored at the horizon)",
                          "days", kabul_day, True),
    "capitals_held_at_kabul_fall": Outcome(
        "other capitals still held when Kabul falls", "capitals",
        lambda r: r.summary.caps_held_at_kabul.astype(float), True),
    "districts_held_at_kabul_fall": Outcome(
        "districts still held when Kabul falls", "districts",
        lambda r: r.summary.districts_held_at_kabul.astype(float), True),
    "capitals_held_2021_08_15": Outcome("capitals held on 15 Aug 2021", "capitals",
                                        lambda r: held_on(r, AUG15, True)),
    "districts_held_2021_08_15": Outcome("districts held on 15 Aug 2021", "districts",
                                         lambda r: held_on(r, AUG15, False)),
    "capitals_held_2021_08_31": Outcome("capitals held on 31 Aug 2021", "capitals",
                                        lambda r: held_on(r, AUG31, True)),
    "p_kabul_fallen_by_2021_08_31": Outcome("P(Kabul fallen by 31 Aug 2021)", "probability",
                                            lambda r: kabul_fallen_by(r, AUG31)),
}
#: Names used before 0.2 (still accepted by :meth:`Comparison.effect`).
ALIASES = {"capitals_held_aug15": "capitals_held_2021_08_15",
           "districts_held_aug15": "districts_held_2021_08_15",
           "capitals_held_aug31": "capitals_held_2021_08_31",
           "p_kabul_by_aug31": "p_kabul_fallen_by_2021_08_31"}
HEADLINE = [k for k, o in OUTCOMES.items() if o.headline]
def outcome_key(outcome: str) -> str:
    key = ALIASES.get(outcome, outcome)
    if key not in OUTCOMES:
        raise UserError(f"unknown outcome {outcome!r}; allowed: {', '.join(OUTCOMES)}", argument="outcome")
    return key
