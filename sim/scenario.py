"""Scenarios: TOML files, inheritance from the baseline, and validation with one-line errors.

A scenario file::

    [scenario]
    name = "salaries_paid"                  # letters, digits, '_' and '-'
    description = "What if ..."
    base = "baseline.toml"                  # what-ifs only: the file they change (relative path)

    [run]
    end = 2021-12-31                        # horizon, inclusive (optional)

    [parameters]                            # changes to the model's parameters (sim.parameters)
    b_neighbour = 1.0                       #   set a value
    b_pay = { scale = 0.5 }                 #   multiply the value it would otherwise have
    taliban_strength = { shift = -0.2 }     #   add to it

    [strategy]
    focus_regions = ["Southern", "South Eastern"]

    [[timeline.events]]                     # the baseline's full list of dated events
    id = "bagram_handover"
    date = 2021-07-02
    driver = "withdrawal"                   # see sim.timeline.DRIVERS
    value = 0.9
    source = "timeline.csv T15: 'On 2 July, ... US troops left Bagram Airfield'"
    provinces = ["Kandahar"]                # air_support_local and garrison need a scope;
                                            # pay_arrears and mobilization may take one (see
                                            # sim.timeline "Scoped levels"); or districts = [...]
                                            # (pcodes or names; 'Name (Province)' if shared)
                                            # or regions = ["Northern"]

    [timeline]                              # a what-if's changes to the inherited events
    remove = ["contractors_leave"]
    [[timeline.add]]   ... an event as above ...
    [[timeline.move]]  id = "bagram_handover"  date = 2021-09-11
    [[timeline.set]]   id = "bagram_handover"  value = 0.5

``scale`` and ``shift`` apply to whatever value the parameter has in a run: the default, or each
replicate's posterior draw. A what-if therefore changes a mechanism *relative* to the calibrated
model rather than replacing the calibration.

Every mistake is a :class:`~sim.errors.UserError` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import tomlcheck as check
from .errors import UserError
from .userfiles import as_float, decode_utf8, parse_toml, read_bytes
from .geography import Geography, load_geography
from .parameters import BY_NAME, NAMES, ParameterTable, check_value, defaults
from .timeline import (DRIVERS, LOCAL_DRIVERS, NATIONAL_DRIVERS, REACTIVE_TRIGGERS,
                       SCOPABLE_DRIVERS, Event)

NAME_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")     # used with fullmatch: no trailing newline
TOP_KEYS = {"scenario", "run", "parameters", "strategy", "timeline"}
SCENARIO_KEYS = {"name", "description", "base"}
RUN_KEYS = {"end"}
STRATEGY_KEYS = {"focus_regions"}
BASE_TIMELINE_KEYS = {"events"}
WHATIF_TIMELINE_KEYS = {"add", "remove", "move", "set"}
EVENT_KEYS = {"id", "date", "after", "delay_days", "driver", "value", "source", "provinces",
              "districts", "regions"}
SCOPE_KEYS = ("provinces", "districts", "regions")
MAX_DELAY_DAYS = 365.0
OPERATIONS = ("set", "scale", "shift")
#: Longest chain of ``base`` files (the shipped what-ifs use 2).
MAX_CHAIN = 32
# The horizon's bounds (the theatre's start to its latest_end), the default horizon, the earliest
# event date, the region names and the default focus regions are the theatre's (geo.theatre).


@dataclass(frozen=True)
class ParameterChange:
    name: str
    op: str          # set | scale | shift
    value: float
    file: str


@dataclass(frozen=True)
class Scenario:
    """A resolved scenario: the baseline with every change along its inheritance chain applied."""

    name: str
    description: str
    path: Path | None
    files: tuple[Path, ...]                      # the chain, baseline first
    file_hashes: tuple[str, ...]                 # sha256 of each file's bytes
    changes: tuple[ParameterChange, ...]         # in order of application
    focus_regions: tuple[str, ...]
    events: tuple[Event, ...]
    end: dt.date | None = None                   # horizon (inclusive); None: the theatre's
    base_name: str | None = None

    @property
    def hash(self) -> str:
        """One hash over the whole chain of files."""
        return hashlib.sha256("".join(self.file_hashes).encode()).hexdigest()

    # -------------------------------------------------------------- parameters
    def apply(self, values: Mapping[str, float]) -> dict[str, float]:
        """Parameter values for this scenario, starting from ``values`` (defaults or a draw)."""
        out = dict(values)
        for ch in self.changes:
            out[ch.name] = _apply_op(ch.op, out[ch.name], ch.value)
        for ch in self.changes:
            _check_result(ch, out[ch.name])
        return out

    def apply_table(self, table: ParameterTable) -> ParameterTable:
        """The same, row by row, for one parameter draw per replicate."""
        values = table.values.copy()
        for ch in self.changes:
            col = NAMES.index(ch.name)
            values[:, col] = _apply_op(ch.op, values[:, col], ch.value)
        for ch in self.changes:
            col = values[:, NAMES.index(ch.name)]
            spec = BY_NAME[ch.name]
            bad = (col < spec.lower) | (col > spec.upper) | ~np.isfinite(col)
            if spec.integer:
                bad |= col != np.round(col)
            if np.any(bad):
                _check_result(ch, float(col[np.flatnonzero(bad)[0]]))
        return ParameterTable(values)

    def parameters(self) -> dict[str, float]:
        return self.apply(defaults())

    def event(self, event_id: str) -> Event:
        for ev in self.events:
            if ev.id == event_id:
                return ev
        raise KeyError(event_id)


def _apply_op(op, current, value):
    if op == "set":
        return np.full_like(current, value, dtype=float) if np.ndim(current) else float(value)
    if op == "scale":
        return current * value
    return current + value


def _check_result(ch: ParameterChange, value: float) -> None:
    spec = BY_NAME[ch.name]
    if not (spec.lower <= value <= spec.upper):
        raise UserError(f"{ch.op} {ch.value:g} gives {value:g}, outside the allowed range "
                        f"[{spec.lower:g}, {spec.upper:g}] {spec.unit}", file=ch.file,
                        key=f"parameters.{ch.name}")
    if spec.integer and value != int(value):
        raise UserError(f"{ch.op} {ch.value:g} gives {value:g}, not a whole number ({ch.name} "
                        f"counts {spec.unit})", file=ch.file, key=f"parameters.{ch.name}")


# ====================================================================== loading

def load_scenario(path: str | Path, geo: Geography | None = None) -> Scenario:
    """Load, validate and resolve a scenario file (following ``base`` to the baseline).

    ``path`` may also be a shipped scenario's bare name (``"baseline"``; see :mod:`sim.shipped`),
    looked up among the scenarios of the geography's theatre."""
    from .shipped import resolve_scenario
    geo = geo or load_geography()
    return _resolve(resolve_scenario(path, geo.theatre), geo, chain=())


def rebase(scenario: Scenario, baseline: str | Path, geo: Geography | None = None) -> Scenario:
    """The same scenario on another baseline: a structural variant of the timeline.

    ``baseline`` is a scenario file that derives from the same root baseline as ``scenario``
    (its ``base`` chain ends there) and changes what a structure assumes differently, for
    example the dates of the salary arrears (``calibration/structures/arrears_later``). The
    what-if's own changes (every file of its chain after the root) are then applied on top of it,
    so ``salaries_paid`` still removes the arrears, whenever the structure dates them. A what-if
    that is the root baseline itself becomes ``baseline``, under the root's name, so effects stay
    paired by name. Why not a what-if of its own: a structure is an alternative to what the
    record leaves open, which every what-if must inherit, not one more policy to compare."""
    geo = geo or load_geography()
    path = Path(baseline)
    replacement = _resolve(path, geo, chain=())
    root = scenario.files[0].resolve()
    if replacement.files[0].resolve() != root:
        raise UserError(f"a structure's baseline must derive from {scenario.files[0]} (its 'base' "
                        f"chain ends in {replacement.files[0]})", file=path, key="scenario.base")
    if scenario.base_name is None:
        return replace(replacement, name=scenario.name, base_name=None)
    if scenario.path is None:
        raise UserError(f"cannot rebase the what-if {scenario.name!r}: it was not read from a "
                        "file, so its own changes cannot be re-applied", file=path,
                        key="scenario.base")
    root_name = _resolve(scenario.files[0], geo, chain=()).name
    return _resolve(scenario.path, geo, chain=(), rebase_on=(root, path, root_name))


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    raw = read_bytes(path, "a scenario TOML file")
    text = decode_utf8(raw, path)
    if not text.strip():
        raise UserError("the file is empty (expected a [scenario] table with name and description)",
                        file=path)
    return parse_toml(text, path), hashlib.sha256(raw).hexdigest()


def _province_list(value: Any, path: Path, key: str, geo: Geography) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UserError("expected a non-empty list of province names", file=path, key=key)
    out = []
    for name in value:
        try:
            out.append(geo.province_by_name(name).name)
        except KeyError:
            raise UserError(f"unknown province {name!r}; allowed: {', '.join(geo.province_names())}",
                            file=path, key=key) from None
    return tuple(out)


def _region_list(value: Any, path: Path, key: str, geo: Geography) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UserError("expected a non-empty list of region names", file=path, key=key)
    for name in value:
        if name not in geo.regions:
            raise UserError(f"unknown region {name!r}; allowed: {', '.join(geo.regions)}", file=path,
                            key=key)
    return tuple(value)


def _district_list(value: Any, path: Path, key: str, geo: Geography) -> tuple[str, ...]:
    """District pcodes from pcodes, unique names, or 'Name (Province)' for the 11 shared names."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UserError("expected a non-empty list of district pcodes or names", file=path, key=key)
    out = []
    for ref in value:
        text = ref.strip()
        if text.upper() in geo._pcode_index:
            out.append(text.upper())
            continue
        name, _, province = text.partition("(")
        name, province = name.strip().lower(), province.rstrip(")").strip().lower()
        hits = [i for i in range(geo.n) if geo.names[i].lower() == name and (
            not province or province in (geo.provinces[geo.province_index[i]].name.lower(),
                                         geo.provinces[geo.province_index[i]].name_seed.lower()))]
        if not hits:
            raise UserError(f"unknown district {ref!r}; give a pcode (e.g. AF2701) or a district name "
                            "from sim/data/districts.csv", file=path, key=key)
        if len(hits) > 1:
            options = ", ".join(f"'{geo.names[i]} ({geo.provinces[geo.province_index[i]].name})'"
                                for i in hits)
            raise UserError(f"district name {ref!r} is ambiguous; write one of {options} or a pcode",
                            file=path, key=key)
        out.append(geo.pcodes[hits[0]])
    return tuple(out)


def _event(raw: Any, path: Path, key: str, geo: Geography, end: dt.date) -> Event:
    if not isinstance(raw, dict):
        raise UserError(f"expected a table (an event), got {type(raw).__name__}", file=path, key=key)
    check.check_keys(raw, EVENT_KEYS, path, key)
    for k in ("id", "driver", "value", "source"):
        if k not in raw:
            raise UserError("missing; an event needs id, driver, value, source and either date "
                            "or after (with delay_days)", file=path, key=f"{key}.{k}")
    if ("date" in raw) == ("after" in raw):
        raise UserError("an event needs exactly one of date (a dated event) or after (a reaction, "
                        f"one of: {', '.join(REACTIVE_TRIGGERS)})", file=path, key=f"{key}.date")
    if "delay_days" in raw and "after" not in raw:
        raise UserError("delay_days belongs to a reactive event (one with after = ...)", file=path,
                        key=f"{key}.delay_days")
    ev_id = check.string(raw, "id", path, key)
    if not NAME_RE.fullmatch(ev_id):
        raise UserError(f"event id {ev_id!r} must be 1-64 letters, digits, '_' or '-'", file=path,
                        key=f"{key}.id")
    driver = check.string(raw, "driver", path, key)
    if driver not in DRIVERS:
        raise UserError(f"unknown driver {driver!r}; allowed: {', '.join(DRIVERS)}", file=path,
                        key=f"{key}.driver")
    _, lo, hi = DRIVERS[driver]
    value = check.number(raw, "value", path, key, lo, hi)
    date, after, delay = None, None, 0.0
    if "date" in raw:
        date = check.date(raw, "date", path, key, geo.theatre.earliest_event, end, time_of_day=True)
    else:
        after = raw["after"]
        if not isinstance(after, str) or after not in REACTIVE_TRIGGERS:
            raise UserError(f"unknown trigger {after!r}; allowed: "
                            + "; ".join(f"{k} ({v})" for k, v in REACTIVE_TRIGGERS.items()),
                            file=path, key=f"{key}.after")
        delay = check.number(raw, "delay_days", path, key, 0.0, MAX_DELAY_DAYS, 0.0)
    source = check.string(raw, "source", path, key)
    if not source.strip():
        raise UserError("empty; every event cites its source (the seed sentence or an assumption)",
                        file=path, key=f"{key}.source")
    provinces: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    if driver in NATIONAL_DRIVERS:
        for where in SCOPE_KEYS:
            if where in raw:
                raise UserError(f"{driver} is national and takes no {where}: "
                                f"{NATIONAL_DRIVERS[driver]}", file=path, key=f"{key}.{where}")
    else:
        # LOCAL_DRIVERS must name a scope; SCOPABLE_DRIVERS may (else they are national)
        if driver in LOCAL_DRIVERS and not any(where in raw for where in SCOPE_KEYS):
            raise UserError(f"missing; {driver} needs the provinces or districts (or regions) "
                            "it covers", file=path, key=f"{key}.provinces")
        if "provinces" in raw:
            provinces = _province_list(raw["provinces"], path, f"{key}.provinces", geo)
        if "districts" in raw:
            districts = _district_list(raw["districts"], path, f"{key}.districts", geo)
        if "regions" in raw:
            regions = _region_list(raw["regions"], path, f"{key}.regions", geo)
    return Event(ev_id, date, driver, value, source, provinces, districts, after, delay, regions)


def _parameter_changes(table: Mapping, path: Path) -> list[ParameterChange]:
    out = []
    for name, raw in table.items():
        key = f"parameters.{name}"
        if name not in BY_NAME:
            raise UserError(f"unknown parameter; allowed: {', '.join(NAMES)}", file=path, key=key)
        if isinstance(raw, dict):
            if len(raw) != 1 or next(iter(raw)) not in OPERATIONS:
                raise UserError(f"expected a number or one of {{set = x}}, {{scale = x}}, "
                                f"{{shift = x}}, got {raw!r}", file=path, key=key)
            op, value = next(iter(raw.items()))
        else:
            op, value = "set", raw
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"expected a number, got {type(value).__name__} {value!r}", file=path,
                            key=key)
        if as_float(value) is None:
            raise UserError(f"number beyond the float range; allowed [{BY_NAME[name].lower:g}, "
                            f"{BY_NAME[name].upper:g}]", file=path, key=key)
        if op == "set":
            check_value(name, value, file=path, key=key)
        elif op == "scale" and not (0.0 <= value <= 100.0):
            raise UserError(f"scale {value:g} out of range; allowed [0, 100]", file=path, key=key)
        elif op == "shift" and not np.isfinite(value):
            raise UserError("shift must be a finite number", file=path, key=key)
        out.append(ParameterChange(name, op, float(value), str(path)))
    return out


def _resolve(path: Path, geo: Geography, chain: tuple[Path, ...],
             rebase_on: tuple[Path, Path, str] | None = None) -> Scenario:
    """``rebase_on`` = (root baseline, replacement, the root's name): where the chain reaches the
    root, continue in the replacement, named as the root (:func:`rebase`)."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError):      # a symlink loop
        raise UserError("cannot resolve the path (a symlink loop?); expected a scenario TOML file",
                        file=path) from None
    if len(chain) >= MAX_CHAIN:
        raise UserError(f"chain of base files longer than {MAX_CHAIN}", file=path,
                        key="scenario.base")
    if real in chain:
        cycle = " -> ".join(p.name for p in (*chain, real))
        raise UserError(f"scenario inheritance has a cycle ({cycle})", file=path, key="scenario.base")
    data, digest = _read_toml(path)
    check.check_keys(data, TOP_KEYS, path)
    meta = check.table(data, "scenario", path)
    if "scenario" not in data:
        raise UserError("missing [scenario] table with name and description", file=path,
                        key="scenario")
    check.check_keys(meta, SCENARIO_KEYS, path, "scenario")
    name = check.string(meta, "name", path, "scenario")
    if not NAME_RE.fullmatch(name):
        raise UserError(f"name {name!r} must be 1-64 letters, digits, '_' or '-'", file=path,
                        key="scenario.name")
    description = check.string(meta, "description", path, "scenario")
    base_ref = check.string(meta, "base", path, "scenario", None)

    run = check.table(data, "run", path)
    check.check_keys(run, RUN_KEYS, path, "run")
    strategy = check.table(data, "strategy", path)
    check.check_keys(strategy, STRATEGY_KEYS, path, "strategy")
    params_table = check.table(data, "parameters", path)
    timeline = check.table(data, "timeline", path)

    if base_ref is None:
        base = None
        end = geo.theatre.end
        events: dict[str, Event] = {}
        focus = geo.theatre.focus_regions
        changes: list[ParameterChange] = []
        files, hashes = (), ()
    else:
        base_path = (path.parent / base_ref)
        if not base_ref.strip() or not base_path.is_file():
            raise UserError(f"base scenario {base_ref!r} not found (expected a TOML file, relative "
                            f"to {path.parent})", file=path, key="scenario.base")
        if rebase_on is not None and base_path.resolve() == rebase_on[0]:
            base = replace(_resolve(rebase_on[1], geo, (*chain, real)), name=rebase_on[2],
                           base_name=None)
        else:
            base = _resolve(base_path, geo, (*chain, real), rebase_on)
        end, focus = base.end, base.focus_regions
        events = {ev.id: ev for ev in base.events}
        changes = list(base.changes)
        files, hashes = base.files, base.file_hashes

    if "end" in run:
        end = check.date(run, "end", path, "run", geo.theatre.start, geo.theatre.latest_end,
                         time_of_day=True)
    if "focus_regions" in strategy:
        regions = strategy["focus_regions"]
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise UserError("expected a list of region names", file=path, key="strategy.focus_regions")
        for r in regions:
            if r not in geo.regions:
                raise UserError(f"unknown region {r!r}; allowed: {', '.join(geo.regions)}", file=path,
                                key="strategy.focus_regions")
        focus = tuple(regions)
    changes.extend(_parameter_changes(params_table, path))

    if base is None:
        check.check_keys(timeline, BASE_TIMELINE_KEYS, path, "timeline")
        for k, raw in enumerate(check.tables(timeline, "events", path, "timeline")):
            ev = _event(raw, path, f"timeline.events[{k}]", geo, end)
            if ev.id in events:
                raise UserError(f"duplicate event id {ev.id!r}", file=path, key=f"timeline.events[{k}].id")
            events[ev.id] = ev
    else:
        check.check_keys(timeline, WHATIF_TIMELINE_KEYS, path, "timeline")
        _apply_timeline_changes(timeline, events, path, geo, end)
        for ev in events.values():    # a moved horizon must still contain every event
            if ev.date is not None and ev.date > end:
                raise UserError(f"event {ev.id!r} on {ev.date} lies after the horizon {end}",
                                file=path, key="run.end")

    scenario = Scenario(name=name, description=description, path=path, files=(*files, path),
                        file_hashes=(*hashes, digest), changes=tuple(changes),
                        focus_regions=tuple(focus),
                        events=tuple(sorted(events.values(), key=lambda e: e.order_key)), end=end,
                        base_name=base.name if base else None)
    scenario.parameters()     # a scale or shift must keep the defaults within their bounds
    return scenario


def _apply_timeline_changes(timeline: Mapping, events: dict[str, Event], path: Path,
                            geo: Geography, end: dt.date) -> None:
    remove = timeline.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
        raise UserError("expected a list of event ids", file=path, key="timeline.remove")
    for ev_id in remove:
        if ev_id not in events:
            raise UserError(f"unknown event id {ev_id!r}; known: {', '.join(events)}", file=path,
                            key="timeline.remove")
        del events[ev_id]
    for op in ("move", "set"):
        for k, raw in enumerate(check.tables(timeline, op, path, "timeline")):
            key = f"timeline.{op}[{k}]"
            field_name = "date" if op == "move" else "value"
            check.check_keys(raw, {"id", field_name}, path, key)
            if "id" not in raw or field_name not in raw:
                raise UserError(f"needs id and {field_name}", file=path, key=key)
            ev_id = raw["id"]
            if not isinstance(ev_id, str):
                raise UserError(f"expected an event id (a string), got {ev_id!r}", file=path,
                                key=f"{key}.id")
            if ev_id not in events:
                raise UserError(f"unknown event id {ev_id!r}; known: {', '.join(events)}", file=path,
                                key=f"{key}.id")
            ev = events[ev_id]
            if op == "move":
                if ev.reactive:
                    raise UserError(f"event {ev_id!r} is a reaction ({ev.describe_when()}), not "
                                    "dated: it moves with what it reacts to; remove it and add "
                                    "another to change its delay", file=path, key=f"{key}.id")
                events[ev_id] = replace(ev, date=check.date(raw, "date", path, key, geo.theatre.earliest_event,
                                                            end, time_of_day=True))
            else:
                _, lo, hi = DRIVERS[ev.driver]
                events[ev_id] = replace(ev, value=check.number(raw, "value", path, key, lo, hi))
    for k, raw in enumerate(check.tables(timeline, "add", path, "timeline")):
        ev = _event(raw, path, f"timeline.add[{k}]", geo, end)
        if ev.id in events:
            raise UserError(f"event id {ev.id!r} already exists; use [[timeline.set]] or "
                            "[[timeline.move]] to change it", file=path, key=f"timeline.add[{k}].id")
        events[ev.id] = ev
