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
``garrison``           strength added to the garrison of the capitals in the listed provinces or
                       districts, as a log-hazard decrease of those cities ("Kabul's garrison
                       reinforced from 1 July").
``pay_arrears``        months of ANSF salary arrears, P(t).
``mobilization``       1 while the National Mobilization brake is in force, else 0.
``withdrawal``         progress of the US withdrawal, W(t) in [0, 1]; one of the drivers of the
                       Taliban's decision to turn on the cities.

Reactive events
---------------
Some events were reactions, not dates: the B-52 and gunship strikes of 7 August answered the
assault on the cities. Such an event is declared relative to the state that caused it
(``after = "assault"``, ``delay_days = 1``) and *adds* its value to the dated level from that
moment, so in every what-if it moves with the assault (and never happens if the assault never
comes). The engines hold them as a second, per-replicate index into cumulative deltas
(:class:`ReactiveDrivers`); between two events every driver is still constant.
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
    "garrison": ("strength added to the garrisons of the capitals in the listed provinces or "
                 "districts (log-hazard decrease of those cities, Kabul included)", 0.0, 5.0),
    "pay_arrears": ("months of ANSF salary arrears P(t)", 0.0, 24.0),
    "mobilization": ("National Mobilization brake in force (0 or 1)", 0.0, 1.0),
    "withdrawal": ("US withdrawal progress W(t)", 0.0, 1.0),
}

#: Drivers that act over listed provinces or districts (the others are national).
LOCAL_DRIVERS = ("air_support_local", "garrison")

#: Driver values before any event: full air support, salaries paid, no brake, no withdrawal.
INITIAL_LEVELS = {"air_support": 1.0, "pay_arrears": 0.0, "mobilization": 0.0, "withdrawal": 0.0}


def day_of(date: dt.date) -> float:
    """Days from the clock's origin (1 May 2021 00:00) to the start of ``date``."""
    return float((date - START).days)


def date_of(day: float) -> dt.date:
    """Calendar date of a model time (the day it falls in)."""
    return START + dt.timedelta(days=int(np.floor(day)))


#: States an event may react to, with what they mean.
REACTIVE_TRIGGERS = {"assault": "the Taliban's assault on the provincial capitals begins"}


@dataclass(frozen=True)
class Event:
    """One change of one driver: dated (``date``) or reactive (``after`` a state change, plus
    ``delay_days``; its value is then added to the dated level)."""

    id: str
    date: dt.date | None
    driver: str
    value: float
    source: str
    provinces: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()          # pcodes
    after: str | None = None
    delay_days: float = 0.0

    @property
    def reactive(self) -> bool:
        return self.after is not None

    @property
    def day(self) -> float:
        if self.date is None:
            raise ValueError(f"reactive event {self.id!r} has no date")
        return day_of(self.date)

    @property
    def order_key(self) -> tuple:
        """Dated events by date, then reactive ones by delay; ties by id."""
        if self.date is None:
            return (1, dt.date.max, self.delay_days, self.id)
        return (0, self.date, 0.0, self.id)

    def describe_when(self) -> str:
        if self.date is None:
            return f"{self.delay_days:g} days after {self.after}"
        return self.date.isoformat()


@dataclass(frozen=True)
class DriverState:
    """Driver levels over one segment."""

    air_national: float
    air_local: np.ndarray = field(repr=False)   # (n,) extra air support over each district
    pay: float
    mobilization: float
    withdrawal: float
    garrison: np.ndarray = field(repr=False)   # (n,) added garrison strength over each district

    def air_by_district(self) -> np.ndarray:
        """A(t) over each district: the national level plus any local support."""
        return self.air_national + self.air_local


@dataclass(frozen=True, eq=False)
class ReactiveDrivers:
    """Reactive events in order of their delay after the assault, as cumulative deltas: level j
    (0 <= j <= len(delays)) means the first j of them are in force."""

    delays: np.ndarray             # (E,) days after the assault, sorted
    air: np.ndarray                # (E+1, n) extra air support over each district
    garrison: np.ndarray           # (E+1, n) extra garrison strength
    pay: np.ndarray                # (E+1,)
    mobilization: np.ndarray       # (E+1,)
    withdrawal: np.ndarray         # (E+1,)
    events: tuple[Event, ...]

    @property
    def count(self) -> int:
        return len(self.delays)


@dataclass(frozen=True)
class CompiledTimeline:
    """Segments of constant drivers over [0, horizon).

    ``starts[k]`` is the model time at which ``states[k]`` begins; ``starts[0] == 0``. The last
    segment runs to ``horizon``.
    """

    starts: np.ndarray
    states: tuple[DriverState, ...]
    horizon: float
    events: tuple[Event, ...]
    reactive: ReactiveDrivers

    def drivers(self, segment: int, level: int) -> DriverState:
        """The drivers in force in a dated segment with ``level`` reactive events applied."""
        st, rx = self.states[segment], self.reactive
        if level == 0:
            return st
        return DriverState(st.air_national, st.air_local + rx.air[level], st.pay + rx.pay[level],
                           st.mobilization + rx.mobilization[level],
                           st.withdrawal + rx.withdrawal[level], st.garrison + rx.garrison[level])

    def segment_at(self, t: float) -> int:
        return int(np.searchsorted(self.starts, t, side="right") - 1)


def compile_timeline(events: Sequence[Event], geo: Geography, end: dt.date = DEFAULT_END
                     ) -> CompiledTimeline:
    """Apply the dated events in date order (those on or before 1 May set the starting levels)
    and gather the reactive ones as cumulative deltas."""
    horizon = day_of(end) + 1.0
    levels = dict(INITIAL_LEVELS)
    local = np.zeros(geo.n)
    garrison = np.zeros(geo.n)
    ordered = sorted((e for e in events if not e.reactive), key=lambda e: e.order_key)
    reacting = sorted((e for e in events if e.reactive), key=lambda e: e.order_key)

    def covered(ev: Event) -> np.ndarray:
        mask = np.zeros(geo.n, dtype=bool)
        for name in ev.provinces:
            mask |= geo.province_index == geo.province_by_name(name).index
        for code in ev.districts:
            mask[geo.index_of(code)] = True
        return mask

    def apply(ev: Event) -> None:
        if ev.driver == "air_support_local":
            local[covered(ev)] = ev.value
        elif ev.driver == "garrison":
            garrison[covered(ev)] = ev.value
        else:
            levels[ev.driver] = ev.value

    def snapshot() -> DriverState:
        return DriverState(levels["air_support"], local.copy(), levels["pay_arrears"],
                           levels["mobilization"], levels["withdrawal"], garrison.copy())

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
    E = len(reacting)
    r_air, r_pay = np.zeros((E + 1, geo.n)), np.zeros(E + 1)
    r_gar = np.zeros((E + 1, geo.n))
    r_mob, r_wd = np.zeros(E + 1), np.zeros(E + 1)
    for j, ev in enumerate(reacting, start=1):
        r_air[j], r_pay[j], r_mob[j], r_wd[j] = r_air[j - 1], r_pay[j - 1], r_mob[j - 1], r_wd[j - 1]
        r_gar[j] = r_gar[j - 1]
        if ev.driver == "garrison":
            r_gar[j] += np.where(covered(ev), ev.value, 0.0)
        elif ev.driver == "air_support_local":
            r_air[j] += np.where(covered(ev), ev.value, 0.0)
        elif ev.driver == "air_support":
            r_air[j] += ev.value
        elif ev.driver == "pay_arrears":
            r_pay[j] += ev.value
        elif ev.driver == "mobilization":
            r_mob[j] += ev.value
        else:
            r_wd[j] += ev.value
    reactive = ReactiveDrivers(np.array([e.delay_days for e in reacting], dtype=float), r_air,
                               r_gar, r_pay, r_mob, r_wd, tuple(reacting))
    return CompiledTimeline(np.asarray(starts), tuple(states), horizon,
                            tuple(ordered) + tuple(reacting), reactive)

