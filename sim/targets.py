"""Calibration targets (``calibration/targets.toml``): what the model is fitted to, and how.

A targets file lists the district counts at dated checkpoints, each capital's fall date (or
window) and constraints on the whole sequence, each with a weight, a tolerance, its source row
and the reason for its weight. :meth:`Targets.as_of` keeps only what was known before a cut-off
date, which is how the forecast mode calibrates "as an analyst could have at the time".
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import UserError
from .geography import Geography
from .timeline import START

FIRST_CUTOFF = dt.date(2021, 5, 15)
LAST_CUTOFF = dt.date(2021, 8, 15)


@dataclass(frozen=True)
class CountTarget:
    id: str
    date: dt.date
    districts: float
    tolerance: float     # relative standard deviation of the record's own error
    weight: float
    source: str
    why: str


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


CONSTRAINT_KINDS = ("no_capital_before", "assault_start")


@dataclass(frozen=True)
class Constraint:
    """A fact about the whole sequence: ``no_capital_before`` a date, or the ``assault_start``
    on the capitals on a date."""

    id: str
    kind: str
    date: dt.date
    weight: float
    source: str
    why: str


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


@dataclass(frozen=True)
class Targets:
    path: Path
    bandwidth: float
    floor: float
    districts: tuple[CountTarget, ...]
    capitals: tuple[CapitalTarget, ...]
    constraints: tuple[Constraint, ...]
    facts: FactTargets | None = None

    @property
    def fitted_districts(self) -> tuple[CountTarget, ...]:
        return tuple(t for t in self.districts if t.weight > 0)

    def as_of(self, cutoff: dt.date) -> "Targets":
        """Only what was known on the morning of ``cutoff``: counts dated before it, capitals that
        had fallen before it, and the knowledge that no other capital had fallen yet."""
        if not (FIRST_CUTOFF <= cutoff <= LAST_CUTOFF):
            raise UserError(f"cut-off {cutoff} out of range; allowed {FIRST_CUTOFF} to {LAST_CUTOFF}",
                            key="--as-of")
        districts = tuple(t for t in self.districts if t.date < cutoff)
        capitals = tuple(c for c in self.capitals if c.latest < cutoff)
        # "No capital before 6 August" was known, on a date before that, only up to that date;
        # the start of the assault was known only once it had happened.
        constraints = [replace(c, date=min(c.date, cutoff)) for c in self.constraints
                       if c.kind == "no_capital_before"]
        constraints += [c for c in self.constraints if c.kind == "assault_start" and c.date < cutoff]
        facts = self.facts
        if facts is not None:        # facts are scored strictly before the cut-off's morning
            facts = replace(facts, latest=min(facts.latest, cutoff - dt.timedelta(days=1)))
        return replace(self, districts=districts, capitals=capitals, constraints=tuple(constraints),
                       facts=facts)


def _date(value, path, key) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise UserError(f"expected a date YYYY-MM-DD, got {value!r}", file=path, key=key)


def _num(table, key, path, where, lo, hi) -> float:
    v = table.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UserError(f"expected a number, got {v!r}", file=path, key=f"{where}.{key}")
    if not lo <= v <= hi:
        raise UserError(f"value {v} out of range; allowed [{lo}, {hi}]", file=path, key=f"{where}.{key}")
    return float(v)


def _check_keys(table, allowed, path, where):
    for k in table:
        if k not in allowed:
            raise UserError(f"unknown key; allowed: {', '.join(sorted(allowed))}", file=path,
                            key=f"{where}.{k}")


def load_targets(path: str | Path, geo: Geography) -> Targets:
    path = Path(path)
    if not path.is_file():
        raise UserError("file not found (expected a targets TOML file)", file=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"not a valid UTF-8 TOML file: {exc}", file=path) from None
    _check_keys(data, {"settings", "districts", "capitals", "constraints", "district_facts"}, path,
                "targets")
    settings = data.get("settings", {})
    _check_keys(settings, {"capital_bandwidth_days", "capital_probability_floor"}, path, "settings")
    bandwidth = _num(settings, "capital_bandwidth_days", path, "settings", 0.01, 10)
    floor = _num(settings, "capital_probability_floor", path, "settings", 1e-12, 0.5)

    districts = []
    for k, t in enumerate(data.get("districts", [])):
        where = f"districts[{k}]"
        _check_keys(t, {"id", "date", "districts", "tolerance", "weight", "source", "why"}, path, where)
        d = _date(t.get("date"), path, f"{where}.date")
        if not START <= d <= LAST_CUTOFF:
            raise UserError(f"date {d} outside {START} to {LAST_CUTOFF}", file=path, key=f"{where}.date")
        districts.append(CountTarget(str(t.get("id", where)), d,
                                     _num(t, "districts", path, where, 0, geo.n),
                                     _num(t, "tolerance", path, where, 1e-4, 1.0),
                                     _num(t, "weight", path, where, 0, 100),
                                     str(t.get("source", "")), str(t.get("why", ""))))
    capitals = []
    for k, t in enumerate(data.get("capitals", [])):
        where = f"capitals[{k}]"
        _check_keys(t, {"province", "capital", "earliest", "latest", "weight", "source", "why"}, path,
                    where)
        try:
            prov = geo.province_by_name(str(t.get("province")))
        except KeyError:
            raise UserError(f"unknown province {t.get('province')!r}; allowed: "
                            f"{', '.join(geo.province_names())}", file=path,
                            key=f"{where}.province") from None
        lo, hi = _date(t.get("earliest"), path, f"{where}.earliest"), _date(t.get("latest"), path,
                                                                              f"{where}.latest")
        if hi < lo:
            raise UserError(f"latest {hi} is before earliest {lo}", file=path, key=f"{where}.latest")
        capitals.append(CapitalTarget(prov.name, prov.index, str(t.get("capital", prov.capital)), lo,
                                      hi, _num(t, "weight", path, where, 0, 100),
                                      str(t.get("source", "")), str(t.get("why", ""))))
    constraints = []
    for k, t in enumerate(data.get("constraints", [])):
        where = f"constraints[{k}]"
        _check_keys(t, {"id", "kind", "date", "weight", "source", "why"}, path, where)
        if t.get("kind") not in CONSTRAINT_KINDS:
            raise UserError(f"unknown kind {t.get('kind')!r}; allowed: {', '.join(CONSTRAINT_KINDS)}",
                            file=path, key=f"{where}.kind")
        constraints.append(Constraint(str(t.get("id", where)), t["kind"],
                                      _date(t.get("date"), path, f"{where}.date"),
                                      _num(t, "weight", path, where, 0, 100),
                                      str(t.get("source", "")), str(t.get("why", ""))))
    facts = None
    if "district_facts" in data:
        f = data["district_facts"]
        if not isinstance(f, dict):
            raise UserError("expected a table [district_facts]", file=path, key="district_facts")
        _check_keys(f, {"split", "weight", "bandwidth_days", "latest", "source", "why"}, path,
                    "district_facts")
        split = f.get("split", "fit")
        if split not in FACT_SPLITS:
            raise UserError(f"unknown split {split!r}; allowed: {', '.join(FACT_SPLITS)} (the "
                            "holdout facts are for validation only)", file=path,
                            key="district_facts.split")
        latest = _date(f.get("latest"), path, "district_facts.latest")
        if not START <= latest <= LAST_CUTOFF:
            raise UserError(f"date {latest} outside {START} to {LAST_CUTOFF}", file=path,
                            key="district_facts.latest")
        facts = FactTargets(split, _num(f, "weight", path, "district_facts", 0, 100),
                            _num(f, "bandwidth_days", path, "district_facts", 0.01, 30), latest,
                            str(f.get("source", "")), str(f.get("why", "")))
    return Targets(path, bandwidth, floor, tuple(districts), tuple(capitals), tuple(constraints),
                   facts)
