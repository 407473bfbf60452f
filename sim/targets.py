"""Calibration targets (``calibration/targets.toml``): what the model is fitted to, and how.

A targets file lists the district counts at dated checkpoints, each capital's fall date (or
window) and constraints on the whole sequence, each with a weight, a tolerance, its source row
and the reason for its weight. :meth:`Targets.as_of` keeps only what was known before a cut-off
date, which is how the forecast mode calibrates "as an analyst could have at the time".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .calibration_config import STAGES as COUNT_STAGES
from .errors import UserError
from .geography import Geography
from . import tomlcheck as check
from .userfiles import read_toml

# Dates are checked against the theatre's (``geo.theatre``): counts and facts from its start to
# its capital's recorded fall (the latest forecast cut-off); capital fall dates and constraints
# within the campaign the model simulates (to its default horizon); a forecast's cut-off from
# its ``first_cutoff`` to the capital's fall.
ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")      # with fullmatch: no trailing newline


@dataclass(frozen=True)
class CountTarget:
    """Districts under Taliban control on a date: a value, or (``low``, ``high``) when the record
    admits several readings and only their range is known (``districts`` is then its midpoint,
    for display). A range is scored as the probability of falling inside it (sim/likelihood.py)."""

    id: str
    date: dt.date
    districts: float
    tolerance: float     # relative standard deviation of the record's own error
    weight: float
    source: str
    why: str
    low: float | None = None
    high: float | None = None
    #: The calibration stage that fits it (:data:`COUNT_STAGES`). A count from before the assault
    #: on the cities belongs to the countryside's stage, which simulates no assault; one from after
    #: it (the record's count by Kabul's fall) is a fact about the cities' stage, whose replicates
    #: carry the countryside's posterior and add the assault, the capitals' falls and their pull.
    stage: str = "rural"

    @property
    def is_range(self) -> bool:
        return self.low is not None


@dataclass(frozen=True)
class CapitalTarget:
    province: str
    province_index: int
    capital: str
    earliest: dt.date
    latest: dt.date
    weight: float
    source: str
    why: str


CONSTRAINT_KINDS = ("no_capital_before", "assault_start", "no_assault_before",
                    "capitals_before_kabul", "first_capital_within")

#: The earliest date a precedent (``first_capital_within``) may carry: it is a fact from an
#: earlier war, known before the theatre opens, not a date of the theatre's own timeline.
EARLIEST_PRECEDENT = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class Constraint:
    """A fact about the whole sequence: ``no_capital_before`` a date, the ``assault_start`` on
    the capitals on a date, ``no_assault_before`` a date (what was known of that start before it:
    a forecast's cut-off makes it from ``assault_start``), or ``capitals_before_kabul``: at least
    ``count`` of the other capitals fell before Kabul (known from ``date``, the day Kabul fell). The last is a fact about each
    replicate's *order*, which the capitals' dates, scored one by one, cannot see.

    ``first_capital_within``: a precedent, known since ``date`` (which may lie before the
    theatre opens): once the Taliban turn on the cities, a first capital falls within ``days``
    days. It speaks to how fast the cities fall once attacked, which nothing in the record says
    before the first one falls (A35)."""

    id: str
    kind: str
    date: dt.date
    weight: float
    source: str
    why: str
    count: int = 0
    days: float = 0.0


FACT_SPLITS = ("fit", "all")


@dataclass(frozen=True)
class FactTargets:
    """Which district-level facts (``sim/data/district_facts.csv``) the calibration sees, and how.

    Only the ``fit`` split by default: the ``holdout`` facts are kept out for validation (their
    split was fixed by a stated rule before any fitting; ``docs/district_facts.md``). Facts are
    scored only up to ``latest``, because the countryside's module simulates no assault on the
    cities and could not reproduce August.
    """

    split: str
    weight: float
    bandwidth: float
    latest: dt.date
    source: str
    why: str
    #: The facts tables fitted, file names in the theatre's data folder (the seed's by default;
    #: ``district_reports_tolonews.csv`` adds TOLOnews' first reports of each district's capture).
    files: tuple[str, ...] = ("district_facts.csv",)
    #: Fit the facts as each district's status at the fixed dates
    #: (:data:`sim.district_skill.STATUS_DATES`, :meth:`DistrictFacts.status_on`) instead of at
    #: their own dates: "where had the collapse reached", not "which day did it fall".
    at_fixed_dates: bool = False
    #: Tables whose source lists only districts it reported taken (of ``files``): each such
    #: district's facts are read given that it was listed, i.e. fell between the source's first
    #: snapshot and its last report (A24d).
    reported_only: tuple[str, ...] = ()
    #: A forecast's cut-off (set by :meth:`Targets.as_of`): a ``reported_only`` source is then
    #: what it had reported by the eve of that date, and nothing of the districts it reported later
    cutoff: dt.date | None = None


@dataclass(frozen=True)
class Targets:
    path: Path
    bandwidth: float
    floor: float
    districts: tuple[CountTarget, ...]
    capitals: tuple[CapitalTarget, ...]
    constraints: tuple[Constraint, ...]
    facts: FactTargets | None = None
    theatre: Any = None               # sim.theatre.Theatre: whose clock and dates these are

    def for_stage(self, stage: str) -> "Targets":
        """The targets one calibration stage fits: the countryside's (``rural``) its counts and
        the district facts; the cities' (``capitals``) the capitals, the constraints and the
        counts dated after the assault began (``stage = "capitals"``)."""
        districts = tuple(t for t in self.districts if t.stage == stage)
        if stage == "rural":
            return replace(self, districts=districts, capitals=(), constraints=())
        return replace(self, districts=districts, facts=None)

    @property
    def fitted_districts(self) -> tuple[CountTarget, ...]:
        """The counts fitted as values (the synthetic likelihood's multivariate normal)."""
        return tuple(t for t in self.districts if t.weight > 0 and not t.is_range)

    @property
    def fitted_ranges(self) -> tuple[CountTarget, ...]:
        """The counts fitted as ranges (the probability of lying inside each)."""
        return tuple(t for t in self.districts if t.weight > 0 and t.is_range)

    def as_of(self, cutoff: dt.date) -> "Targets":
        """Only what was known on the morning of ``cutoff``: counts dated before it, capitals that
        had fallen before it, and the knowledge that no other capital had fallen yet and (when the
        record dates the assault on the cities later) that it had not begun."""
        first, last = self.theatre.first_cutoff, self.theatre.last_cutoff
        if not (first <= cutoff <= last):
            raise UserError(f"cut-off {cutoff} out of range; allowed {first} to {last}",
                            argument="as_of")
        districts = tuple(t for t in self.districts if t.date < cutoff)
        capitals = tuple(c for c in self.capitals if c.latest < cutoff)
        # "No capital before 6 August" was known, on a date before that, only up to that date;
        # the start of the assault was known once it had happened, and before it only as "not
        # yet": on the morning of the cut-off the assault the record dates later had not begun.
        constraints = [replace(c, date=min(c.date, cutoff)) for c in self.constraints
                       if c.kind in ("no_capital_before", "no_assault_before")]
        constraints += [c for c in self.constraints
                        if c.kind in ("assault_start", "capitals_before_kabul", "first_capital_within")
                        and c.date < cutoff]
        constraints += [replace(c, kind="no_assault_before", date=cutoff,
                                id=f"{c.id}_not_before_{cutoff.isoformat()}")
                        for c in self.constraints if c.kind == "assault_start" and c.date >= cutoff]
        facts = self.facts
        if facts is not None:        # facts are scored strictly before the cut-off's morning
            facts = replace(facts, latest=min(facts.latest, cutoff - dt.timedelta(days=1)),
                            cutoff=cutoff)
        return replace(self, districts=districts, capitals=capitals, constraints=tuple(constraints),
                       facts=facts)


def _id(table, path, where, default) -> str:
    value = table.get("id", default)
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise UserError(f"expected an id of 1-64 letters, digits, '_' or '-', got {value!r}",
                        file=path, key=f"{where}.id")
    return value


def _cited(table, path, where) -> tuple[str, str]:
    """A target's source and the reason for its weight (both optional strings)."""
    return (check.string(table, "source", path, where, ""),
            check.string(table, "why", path, where, ""))


def load_targets(path: str | Path, geo: Geography) -> Targets:
    path = Path(path)
    th = geo.theatre
    START, LAST_CUTOFF, CAMPAIGN_END = th.start, th.last_cutoff, th.end
    data, _ = read_toml(path, "a targets TOML file")
    check.check_keys(data, {"settings", "districts", "capitals", "constraints", "district_facts"},
                     path)
    settings = check.table(data, "settings", path)
    check.check_keys(settings, {"capital_bandwidth_days", "capital_probability_floor"}, path,
                     "settings")
    bandwidth = check.number(settings, "capital_bandwidth_days", path, "settings", 0.01, 10)
    floor = check.number(settings, "capital_probability_floor", path, "settings", 1e-12, 0.5)

    districts = []
    for k, t in enumerate(check.tables(data, "districts", path)):
        where = f"districts[{k}]"
        check.check_keys(t, {"id", "date", "districts", "low", "high", "tolerance", "weight",
                             "source", "why", "stage"}, path, where)
        stage = check.string(t, "stage", path, where, "rural")
        if stage not in COUNT_STAGES:
            raise UserError(f"unknown stage {stage!r}; allowed: {', '.join(COUNT_STAGES)}",
                            file=path, key=f"{where}.stage")
        d = check.date(t, "date", path, where, START, LAST_CUTOFF)
        low = high = None
        if "low" in t or "high" in t:
            if "districts" in t:
                raise UserError("give either 'districts' (a value) or 'low' and 'high' (a range), "
                                "not both", file=path, key=f"{where}.districts")
            low = check.number(t, "low", path, where, 0, geo.n)
            high = check.number(t, "high", path, where, 0, geo.n)
            if high <= low:
                raise UserError(f"high {high:g} is not above low {low:g}", file=path,
                                key=f"{where}.high")
            value = 0.5 * (low + high)
        else:
            value = check.number(t, "districts", path, where, 0, geo.n)
        districts.append(CountTarget(_id(t, path, where, f"districts_{k}"), d, value,
                                     check.number(t, "tolerance", path, where, 1e-4, 1.0),
                                     check.number(t, "weight", path, where, 0, 100),
                                     *_cited(t, path, where), low, high, stage))
    capitals = []
    for k, t in enumerate(check.tables(data, "capitals", path)):
        where = f"capitals[{k}]"
        check.check_keys(t, {"province", "capital", "earliest", "latest", "weight", "source",
                             "why"}, path, where)
        try:
            if not isinstance(t.get("province"), str):
                raise KeyError(t.get("province"))
            prov = geo.province_by_name(t["province"])
        except KeyError:
            raise UserError(f"unknown province {t.get('province')!r}; allowed: "
                            f"{', '.join(geo.province_names())}", file=path,
                            key=f"{where}.province") from None
        lo, hi = (check.date(t, "earliest", path, where, START, CAMPAIGN_END),
                  check.date(t, "latest", path, where, START, CAMPAIGN_END))
        if hi < lo:
            raise UserError(f"latest {hi} is before earliest {lo}", file=path, key=f"{where}.latest")
        capital = t.get("capital", prov.capital)
        if not isinstance(capital, str) or not capital.strip() or "\n" in capital:
            raise UserError(f"expected the capital's name, got {capital!r:.40}", file=path,
                            key=f"{where}.capital")
        capitals.append(CapitalTarget(prov.name, prov.index, capital, lo,
                                      hi, check.number(t, "weight", path, where, 0, 100),
                                      *_cited(t, path, where)))
    constraints = []
    for k, t in enumerate(check.tables(data, "constraints", path)):
        where = f"constraints[{k}]"
        check.check_keys(t, {"id", "kind", "date", "weight", "source", "why", "count", "days"}, path,
                         where)
        if t.get("kind") not in CONSTRAINT_KINDS:
            raise UserError(f"unknown kind {t.get('kind')!r}; allowed: {', '.join(CONSTRAINT_KINDS)}",
                            file=path, key=f"{where}.kind")
        count = 0
        if t["kind"] == "capitals_before_kabul":
            n_others = len(geo.capital_rows) - 1
            count = check.number(t, "count", path, where, 1, n_others)
            if count != int(count):
                raise UserError(f"expected a whole number of capitals, got {t['count']!r}",
                                file=path, key=f"{where}.count")
        elif "count" in t:
            raise UserError(f"'count' applies only to kind 'capitals_before_kabul', not "
                            f"{t['kind']!r}", file=path, key=f"{where}.count")
        days, earliest = 0.0, START
        if t["kind"] == "first_capital_within":
            days = check.number(t, "days", path, where, 0.5, 120)
            earliest = EARLIEST_PRECEDENT
        elif "days" in t:
            raise UserError(f"'days' applies only to kind 'first_capital_within', not "
                            f"{t['kind']!r}", file=path, key=f"{where}.days")
        constraints.append(Constraint(_id(t, path, where, f"constraints_{k}"), t["kind"],
                                      check.date(t, "date", path, where, earliest, CAMPAIGN_END),
                                      check.number(t, "weight", path, where, 0, 100),
                                      *_cited(t, path, where), int(count), float(days)))
    if not any(t.weight > 0 for t in districts) and not any(c.weight > 0 for c in capitals):
        raise UserError("no district count or capital with a weight > 0: nothing to fit",
                        file=path, key="districts")
    facts = None
    if "district_facts" in data:
        f = check.table(data, "district_facts", path)
        check.check_keys(f, {"split", "weight", "bandwidth_days", "latest", "source", "why",
                             "files", "at_fixed_dates", "reported_only"}, path, "district_facts")
        at_fixed_dates = f.get("at_fixed_dates", False)
        if not isinstance(at_fixed_dates, bool):
            raise UserError(f"expected true or false, got {at_fixed_dates!r}", file=path,
                            key="district_facts.at_fixed_dates")
        files = f.get("files", ["district_facts.csv"])
        if (not isinstance(files, list) or not files
                or not all(isinstance(x, str) and x.strip() for x in files)):
            raise UserError("expected a non-empty list of file names (e.g. [\"district_facts.csv\"])",
                            file=path, key="district_facts.files")
        for name in files:
            if Path(name).name != name or name in (".", ".."):
                raise UserError(f"{name!r} is not a plain file name (the tables are read from the "
                                "theatre's data folder, e.g. \"district_facts.csv\")", file=path,
                                key="district_facts.files")
            if files.count(name) > 1:
                raise UserError(f"{name!r} is listed twice (each table once)", file=path,
                                key="district_facts.files")
            if not (th.data_dir / name).is_file():
                raise UserError(f"no facts table {name!r} in {th.data_dir} (expected a file name "
                                "such as \"district_facts.csv\")", file=path,
                                key="district_facts.files")
        reported_only = f.get("reported_only", [])
        if (not isinstance(reported_only, list)
                or not all(isinstance(x, str) and x in files for x in reported_only)):
            raise UserError(f"expected a list of tables among files {files}, got "
                            f"{reported_only!r}", file=path, key="district_facts.reported_only")
        split = f.get("split", "fit")
        if split not in FACT_SPLITS:
            raise UserError(f"unknown split {split!r}; allowed: {', '.join(FACT_SPLITS)} (the "
                            "holdout facts are for validation only)", file=path,
                            key="district_facts.split")
        latest = check.date(f, "latest", path, "district_facts", START, LAST_CUTOFF)
        facts = FactTargets(split, check.number(f, "weight", path, "district_facts", 0, 100),
                            check.number(f, "bandwidth_days", path, "district_facts", 0.01, 30),
                            latest,
                            *_cited(f, path, "district_facts"), tuple(files), at_fixed_dates,
                            tuple(reported_only))
    return Targets(path, bandwidth, floor, tuple(districts), tuple(capitals), tuple(constraints),
                   facts, th)
