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
``air_support_local``  extra air support over the listed provinces, districts and/or regions, added
                       to the national level.
``garrison``           strength added to the garrison of the capitals in the listed provinces,
                       districts or regions, as a log-hazard decrease of those cities
                       ("Kabul's garrison reinforced from 1 July").
``pay_arrears``        months of ANSF salary arrears, P(t): national, or over the listed provinces,
                       districts or regions (see "Scoped levels").
``mobilization``       1 while the National Mobilization brake is in force, else 0: national, or
                       over the listed provinces, districts or regions.
``withdrawal``         progress of the US withdrawal, W(t) in [0, 1]; one of the drivers of the
                       Taliban's decision to turn on the cities.

``withdrawal`` and ``air_support`` are national by nature. The withdrawal acts through the
Taliban's decision to turn on the cities, one actor per replicate, and (with ``b_withdrawal``,
A13c; 0 in the default) on every rural district alike, as the departure of the foreign forces
from the country: there is no place in which it could take another value. ``air_support`` is the national
level that same decision reads (the B-52s over the country), so it stays one number; air support
over named places is ``air_support_local``, which adds to it district by district.

Scoped levels
-------------
``pay_arrears`` and ``mobilization`` are *levels* (months owed; the brake on or off), national by
default. An event that names ``provinces``, ``districts`` and/or ``regions`` SETS the level of the
districts it covers (their provincial capitals included, Kabul when it names Kabul) from its date,
and those districts leave the national level for good: later national events of that driver no
longer change them, only later scoped events that name them do. Districts never named follow the
national events as before. So "pay restored in the north from 1 June" is one scoped event with
value 0 on 2021-06-01, and it holds although the baseline's national arrears keep rising by a
month a month after it (with "the latest event wins" it would have lasted until 1 July, and a
what-if's meaning would depend on dates in another file). Events on the same date: the national
ones cannot reach a district a scoped one names that day, whatever their order; two scoped events
on the same date naming the same district apply in the order of their ids (the later id wins).
A reactive event of these drivers (``after = ...``) *adds* its value to the dated level of the
districts it covers (every district when it names none), as every reactive event does.

In the rule (:mod:`sim.hazard`) the national level stays in the nationwide factor and a district's
departure from it is a term of its own part, ``b_pay (S(P_i) - S(P)) - b_mobilization (B_i -
B)``, zero everywhere (to the bit) when no event is scoped, so every existing scenario gives the
results it gave before scoped events existed.

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
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from .geography import Geography

# The clock's origin, the default horizon and the earliest date an event may carry are the
# theatre's (sim.theatre: ``geo.theatre.start``, ``.end``, ``.earliest_event``): day 0 of the
# Afghan theatre is 1 May 2021, when the offensive began.

DRIVERS = {
    "air_support": ("national air support and contractor level A(t)", 0.0, 2.0),
    "air_support_local": ("extra air support over the listed provinces, districts or regions",
                          0.0, 2.0),
    "garrison": ("strength added to the garrisons of the capitals in the listed provinces, "
                 "districts or regions (log-hazard decrease of those cities, Kabul included)",
                 0.0, 5.0),
    "pay_arrears": ("months of ANSF salary arrears P(t); national, or set over the listed "
                    "provinces, districts or regions", 0.0, 24.0),
    "mobilization": ("National Mobilization brake in force (0 or 1); national, or set over the "
                     "listed provinces, districts or regions", 0.0, 1.0),
    "withdrawal": ("US withdrawal progress W(t); national by nature", 0.0, 1.0),
}

#: Drivers that act only over listed provinces, districts or regions (they must name some).
LOCAL_DRIVERS = ("air_support_local", "garrison")
#: Levels that are national unless an event names provinces, districts or regions (which it may).
SCOPABLE_DRIVERS = ("pay_arrears", "mobilization")
#: Drivers that cannot be scoped, with the reason (shown to a user who tries).
NATIONAL_DRIVERS = {
    "air_support": "it is the national level the Taliban's decision to attack the cities reads; "
                   "for air support over named places use air_support_local, which adds to it",
    "withdrawal": "the US withdrawal is the foreign forces leaving the country: it acts through "
                  "the Taliban's one decision to turn on the cities and on every district alike",
}

#: Driver values before any event: full air support, salaries paid, no brake, no withdrawal.
INITIAL_LEVELS = {"air_support": 1.0, "pay_arrears": 0.0, "mobilization": 0.0, "withdrawal": 0.0}


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
    regions: tuple[str, ...] = ()
    #: The clock's origin (the theatre's start) once :func:`compile_timeline` has bound the event
    #: to a geography; not part of the event's identity.
    origin: dt.date | None = field(default=None, compare=False, repr=False)

    @property
    def scoped(self) -> bool:
        """True when the event names the places it acts on (else it is national)."""
        return bool(self.provinces or self.districts or self.regions)

    @property
    def reactive(self) -> bool:
        return self.after is not None

    @property
    def day(self) -> float:
        if self.date is None:
            raise ValueError(f"reactive event {self.id!r} has no date")
        if self.origin is None:
            raise ValueError(f"event {self.id!r} is not bound to a theatre's clock (compile_timeline "
                             "binds it)")
        return float((self.date - self.origin).days)

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
    """Driver levels over one segment. ``pay`` and ``mobilization`` are the national levels (the
    nationwide factor of the rule); ``district_pay`` and ``district_mobilization`` the levels in
    force in each district, equal to the national ones wherever no scoped event has named it."""

    air_national: float
    air_local: np.ndarray = field(repr=False)   # (n,) extra air support over each district
    pay: float
    mobilization: float
    withdrawal: float
    garrison: np.ndarray = field(repr=False)   # (n,) added garrison strength over each district
    district_pay: np.ndarray = field(repr=False)            # (n,) arrears in each district
    district_mobilization: np.ndarray = field(repr=False)   # (n,) brake in each district

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
    pay: np.ndarray                # (E+1,) national arrears
    mobilization: np.ndarray       # (E+1,) national brake
    withdrawal: np.ndarray         # (E+1,)
    events: tuple[Event, ...]
    district_pay: np.ndarray           # (E+1, n) arrears in each district
    district_mobilization: np.ndarray  # (E+1, n) brake in each district

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

    @property
    def scoped_levels(self) -> bool:
        """Whether some event gives pay arrears or the brake a level of its own in some districts
        (then the engines keep a per-district departure from the national level)."""
        return any(ev.scoped and ev.driver in SCOPABLE_DRIVERS for ev in self.events)

    def drivers(self, segment: int, level: int) -> DriverState:
        """The drivers in force in a dated segment with ``level`` reactive events applied."""
        st, rx = self.states[segment], self.reactive
        if level == 0:
            return st
        return DriverState(st.air_national, st.air_local + rx.air[level], st.pay + rx.pay[level],
                           st.mobilization + rx.mobilization[level],
                           st.withdrawal + rx.withdrawal[level], st.garrison + rx.garrison[level],
                           st.district_pay + rx.district_pay[level],
                           st.district_mobilization + rx.district_mobilization[level])

    def segment_at(self, t: float) -> int:
        return int(np.searchsorted(self.starts, t, side="right") - 1)


def compile_timeline(events: Sequence[Event], geo: Geography, end: dt.date | None = None
                     ) -> CompiledTimeline:
    """Apply the dated events in date order (those on or before the theatre's start, 1 May 2021,
    set the starting levels) and gather the reactive ones as cumulative deltas. ``end``: the
    horizon (inclusive; default the theatre's). Days count from ``geo.theatre.start``."""
    theatre = geo.theatre
    horizon = theatre.day_of(end or theatre.end) + 1.0
    events = [replace(e, origin=theatre.start) for e in events]
    levels = dict(INITIAL_LEVELS)
    local = np.zeros(geo.n)
    garrison = np.zeros(geo.n)
    # each district's level of the scopable drivers, and whether a scoped event has taken it
    # out of the national level (for good: see "Scoped levels")
    district = {d: np.full(geo.n, INITIAL_LEVELS[d]) for d in SCOPABLE_DRIVERS}
    own = {d: np.zeros(geo.n, dtype=bool) for d in SCOPABLE_DRIVERS}
    ordered = sorted((e for e in events if not e.reactive), key=lambda e: e.order_key)
    reacting = sorted((e for e in events if e.reactive), key=lambda e: e.order_key)

    def covered(ev: Event) -> np.ndarray:
        mask = np.zeros(geo.n, dtype=bool)
        for name in ev.provinces:
            mask |= geo.province_index == geo.province_by_name(name).index
        for code in ev.districts:
            mask[geo.index_of(code)] = True
        if ev.regions:
            mask |= geo.in_regions(ev.regions)
        return mask

    def apply(ev: Event) -> None:
        if ev.driver == "air_support_local":
            local[covered(ev)] = ev.value
        elif ev.driver == "garrison":
            garrison[covered(ev)] = ev.value
        elif ev.driver in SCOPABLE_DRIVERS and ev.scoped:
            mask = covered(ev)
            district[ev.driver][mask] = ev.value
            own[ev.driver][mask] = True
        else:
            levels[ev.driver] = ev.value
            if ev.driver in SCOPABLE_DRIVERS:
                district[ev.driver][~own[ev.driver]] = ev.value

    def snapshot() -> DriverState:
        return DriverState(levels["air_support"], local.copy(), levels["pay_arrears"],
                           levels["mobilization"], levels["withdrawal"], garrison.copy(),
                           district["pay_arrears"].copy(), district["mobilization"].copy())

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
    r_pay_d, r_mob_d = np.zeros((E + 1, geo.n)), np.zeros((E + 1, geo.n))
    for j, ev in enumerate(reacting, start=1):
        r_air[j], r_pay[j], r_mob[j], r_wd[j] = r_air[j - 1], r_pay[j - 1], r_mob[j - 1], r_wd[j - 1]
        r_gar[j], r_pay_d[j], r_mob_d[j] = r_gar[j - 1], r_pay_d[j - 1], r_mob_d[j - 1]
        if ev.driver == "garrison":
            r_gar[j] += np.where(covered(ev), ev.value, 0.0)
        elif ev.driver == "air_support_local":
            r_air[j] += np.where(covered(ev), ev.value, 0.0)
        elif ev.driver == "air_support":
            r_air[j] += ev.value
        elif ev.driver in SCOPABLE_DRIVERS:
            national, per_district = ((r_pay, r_pay_d) if ev.driver == "pay_arrears"
                                      else (r_mob, r_mob_d))
            if ev.scoped:
                per_district[j] += np.where(covered(ev), ev.value, 0.0)
            else:
                national[j] += ev.value
                per_district[j] += ev.value
        else:
            r_wd[j] += ev.value
    reactive = ReactiveDrivers(np.array([e.delay_days for e in reacting], dtype=float), r_air,
                               r_gar, r_pay, r_mob, r_wd, tuple(reacting), r_pay_d, r_mob_d)
    return CompiledTimeline(np.asarray(starts), tuple(states), horizon,
                            tuple(ordered) + tuple(reacting), reactive)

