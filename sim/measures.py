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


def kabul_day(r: Any) -> np.ndarray:
    """The capital's (Kabul's) fall day, censored at the horizon (held to the end = falls on the
    last day)."""
    return np.where(np.isnan(r.kabul_fall_time), r.model.horizon, r.kabul_fall_time)


def held_on(r: Any, date: dt.date, capitals: bool) -> np.ndarray:
    total = len(r.geo.capital_rows) if capitals else r.geo.n
    return total - r.fallen_by(date, capitals)


def kabul_fallen_by(r: Any, date: dt.date) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (r.kabul_fall_time < r.geo.theatre.day_of(date) + 1).astype(float)


@dataclass(frozen=True)
class Outcome:
    label: str          # for tables and figures
    unit: str
    per_replicate: Callable[[Any], np.ndarray]
    headline: bool = False


def _day_month(date: dt.date) -> str:
    return f"{date.day} {date:%b %Y}"


def outcomes(theatre) -> dict[str, Outcome]:
    """Outcome name -> definition, for one theatre (its capital and dates name the outcomes; in
    Afghanistan ``kabul_days``, ``capitals_held_2021_08_15``, ``p_kabul_fallen_by_2021_08_31``).

    The headline outcomes come first: they measure the collapse relative to the capital's own
    fall rather than counts on a fixed date that sit on a knife edge (a scenario that moves Kabul
    by a day can swing "capitals held on 15 August" by thirty)."""
    cap, name, stamp = theatre.capital_key, theatre.capital, theatre.stamp
    fell, deadline = theatre.capital_fell, theatre.deadline
    return {
        f"{cap}_days": Outcome(f"days {name} holds (fall day vs baseline; censored at the horizon)",
                               "days", kabul_day, True),
        f"capitals_held_at_{cap}_fall": Outcome(
            f"other capitals still held when {name} falls", "capitals",
            lambda r: r.summary.caps_held_at_kabul.astype(float), True),
        f"districts_held_at_{cap}_fall": Outcome(
            f"districts still held when {name} falls", "districts",
            lambda r: r.summary.districts_held_at_kabul.astype(float), True),
        f"capitals_held_{stamp(fell)}": Outcome(f"capitals held on {_day_month(fell)}", "capitals",
                                                lambda r: held_on(r, fell, True)),
        f"districts_held_{stamp(fell)}": Outcome(f"districts held on {_day_month(fell)}",
                                                 "districts", lambda r: held_on(r, fell, False)),
        f"capitals_held_{stamp(deadline)}": Outcome(f"capitals held on {_day_month(deadline)}",
                                                    "capitals", lambda r: held_on(r, deadline, True)),
        f"p_{cap}_fallen_by_{stamp(deadline)}": Outcome(
            f"P({name} fallen by {_day_month(deadline)})", "probability",
            lambda r: kabul_fallen_by(r, deadline)),
    }


#: Names used before 0.2 (still accepted by :meth:`Comparison.effect` where the theatre has the
#: outcome they stand for: the Afghan theatre's).
ALIASES = {"capitals_held_aug15": "capitals_held_2021_08_15",
           "districts_held_aug15": "districts_held_2021_08_15",
           "capitals_held_aug31": "capitals_held_2021_08_31",
           "p_kabul_by_aug31": "p_kabul_fallen_by_2021_08_31"}


def headline(table: dict[str, Outcome]) -> list[str]:
    return [k for k, o in table.items() if o.headline]


def outcome_key(outcome: str, table: dict[str, Outcome]) -> str:
    key = ALIASES.get(outcome, outcome)
    if key not in table:
        raise UserError(f"unknown outcome {outcome!r}; allowed: {', '.join(table)}", argument="outcome")
    return key
