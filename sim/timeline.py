"""Dated exogenous events, compiled into piecewise-constant drivers.

The record names the outside forces that moved the hazard: US air support and contractor
maintenance fell in steps (February 2020, April 2021, the Bagram handover on 2 July 2021) and
rose again with the B-52 strikes from 7 August; salary arrears built up after the April 2021
switch of salary management; the government launched the National Mobilization on 25 June; the
withdrawal advanced by milestones. A scenario lists these as events (date, driver, value,
source). This module turns the list into *segments*: between two consecutive event times every
driver is constant, so every hazard is constant and the engines can be exact.

Drivers
-------
``air_support``        national level of air support and contractor maintenance, A(t) (1 = the
                       pre-2020 level the ANSF was trained to depend on).
``air_support_local``  extra air support over the listed provinces and/or districts, added to the
                       national level.
``pay_arrears``        months of ANSF salary arrears, P(t).
``mobilization``       1 while the National Mobilization brake is in force, else 0.
``withdrawal``         progress of the US withdrawal, W(t) in [0, 1]; the strategic trigger of
                       the assault on cities counts from the day W first reaches a level.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .geography import Geography

#: The clock's origin: the offensive began on 1 May 2021 (timeline.csv T09).
START = dt.date(2021, 5, 1)
#: Default horizon (inclusive), late enough that what-ifs in which Kabul holds are visible.
DEFAULT_END = dt.date(2021, 12, 31)
#: Earliest date an event may carry (the February 2020 deal is the oldest event in the record).
EARLIEST_EVENT = dt.date(2020, 1, 1)

DRIVERS = {
    "air_support": ("national air support and contractor level A(t)", 0.0, 2.0),
    "air_support_local": ("extra air support over the listed provinces or districts", 0.0, 2.0),
    "pay_arrears": ("months of ANSF salary arrears P(t)", 0.0, 24.0),
    "mobilization": ("National Mobilization brake in force (0 or 1)", 0.0, 1.0),
    "withdrawal": ("US withdrawal progress W(t)", 0.0, 1.0),
}

#: Driver values before any event: full air support, salaries paid, no brake, no withdrawal.
INITIAL_LEVELS = {"air_support": 1.0, "pay_arrears": 0.0, "mobilization": 0.0, "withdrawal": 0.0}


def day_of(date: dt.date) -> float:
    """Days from the clock's origin (1 May 2021 00:00) to the start of ``date``."""
    return float((date - START).days)


def date_of(day: float) -> dt.date:
    """Calendar date of a model time (the day it falls in)."""
    return START + dt.timedelta(days=int(np.floor(day)))


@dataclass(frozen=True)
class Event:
    """One dated change of one driver."""

    id: str
    date: dt.date
    driver: str
    value: float
    source: str
    provinces: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()          # pcodes

    @property
    def day(self) -> float:
        return day_of(self.date)


@dataclass(frozen=True)
class DriverState:
    """Driver levels over one segment."""

    air_national: float
    air_local: np.ndarray = field(repr=False)   # (n,) extra air support over each district
    pay: float
    mobilization: float
    withdrawal: float

    def air_by_district(self) -> np.ndarray:
        """A(t) over each district: the national level plus any local support."""
        return self.air_national + self.air_local


@dataclass(frozen=True)
class CompiledTimeline:
    """Segments of constant drivers over [0, horizon).

    ``starts[k]`` is the model time at which ``states[k]`` begins; ``starts[0] == 0``. The last
    segment runs to ``horizon``.
    """

    starts: np.ndarray
    states: tuple[DriverState, ...]
    horizon: float
    withdrawal_steps: tuple[tuple[float, float], ...]   # (time, level) including pre-start events
    events: tuple[Event, ...]

    def withdrawal_reached(self, level):
        """Model time at which W(t) first reaches ``level`` (may be negative; inf if never).

        ``level`` may be an array (one per replicate) and the result then has its shape.
        """
        level = np.asarray(level, dtype=float)
        out = np.full(level.shape, np.inf)
        for t, w in reversed(self.withdrawal_steps):     # earliest step that reaches it wins
            out = np.where(w >= level, t, out)
        out = np.where(level <= INITIAL_LEVELS["withdrawal"], -np.inf, out)   # reached before any event
        return out if out.shape else float(out)

    def segment_at(self, t: float) -> int:
        return int(np.searchsorted(self.starts, t, side="right") - 1)


def compile_timeline(events: Sequence[Event], geo: Geography, end: dt.date = DEFAULT_END
                     ) -> CompiledTimeline:
    """Apply the events in date order; events on or before 1 May set the starting levels."""
    horizon = day_of(end) + 1.0
    levels = dict(INITIAL_LEVELS)
    local = np.zeros(geo.n)
    ordered = sorted(events, key=lambda e: (e.date, e.id))
    withdrawal_steps: list[tuple[float, float]] = []

    def apply(ev: Event) -> None:
        if ev.driver == "air_support_local":
            for name in ev.provinces:
                local[geo.province_index == geo.province_by_name(name).index] = ev.value
            for code in ev.districts:
                local[geo.index_of(code)] = ev.value
        else:
            levels[ev.driver] = ev.value
        if ev.driver == "withdrawal":
            withdrawal_steps.append((ev.day, ev.value))

    def snapshot() -> DriverState:
        return DriverState(levels["air_support"], local.copy(), levels["pay_arrears"],
                           levels["mobilization"], levels["withdrawal"])

    starts, states = [0.0], []
    i = 0
    while i < len(ordered) and ordered[i].day <= 0:
        apply(ordered[i])
        i += 1
    states.append(snapshot())
    while i < len(ordered) and ordered[i].day < horizon:
        t = ordered[i].day
        while i < len(ordered) and ordered[i].day == t:
            apply(ordered[i])
            i += 1
        starts.append(t)
        states.append(snapshot())
    return CompiledTimeline(np.asarray(starts), tuple(states), horizon, tuple(withdrawal_steps),
                            tuple(ordered))

