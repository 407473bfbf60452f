"""District-level facts of the record: which district fell (or held) by when, validated on load.

``sim/data/district_facts.csv`` holds one row per district-level fact the seed article gives
(dated captures, "fell by" statements, recaptures, repelled attacks, districts still held) and
one per captured border crossing, each with the exact seed sentence (see
``docs/district_facts.md`` for the table, the observation model and the split rule).

Observation model (what a fact says about a simulated fall time ``T_i``, the *first* fall of
district ``i``; the model has no recaptures, assumption A6):

========================  =================================  ==========================
kind                      the record says                    scored as
========================  =================================  ==========================
``captured``              fell within [lower, upper]          fallen by the end of upper
``fell_by``               had fallen by upper (lower open)    fallen by the end of upper
``crossing_captured``     a crossing in it was taken on day   fallen by the end of upper
``recaptured``            the government retook it on day     fallen by the end of upper
                          (so it had fallen before)
``repelled``              an attack on it failed on day       held at the end of lower
``held``                  still government-held on day        held at the end of lower
========================  =================================  ==========================

"held on that date" is not meaningful for a recapture in a model without recaptures, so a
recapture is read as the evidence it carries for a monotone model: the district had fallen
before the day it was retaken.

Days are counted from 2021-05-01 00:00 like the model's clock (:mod:`sim.timeline`); a fact
"by date d" is compared with ``T_i < day_of(d) + 1`` (the end of that day), as everywhere in
the results.

The split (``fit`` or ``holdout``) is a column of the file, decided by :func:`split_rule` before
any fitting and checked against it by the tests: see :data:`SPLIT_RULE`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .geography import DATA_DIR, Geography, load_geography
from .theatre import default_theatre

FACTS_FILE = DATA_DIR / "district_facts.csv"
#: District capture dates from another source than the seed: the first date TOLOnews reported each
#: district under Taliban control (``tools/build_tolonews_reports.py``, ``docs/district_facts.md``).
#: Not fitted by the default calibration: its facts are an external check of where districts fell.
REPORTS_FILE = DATA_DIR / "district_reports_tolonews.csv"

KINDS = ("captured", "fell_by", "recaptured", "repelled", "held", "crossing_captured")
#: Kinds whose evidence is "the district had fallen by the end of ``date_upper``".
FALLEN_KINDS = frozenset({"captured", "fell_by", "recaptured", "crossing_captured"})
#: Kinds whose evidence is "the district was still held at the end of ``date_lower``".
HELD_KINDS = frozenset({"repelled", "held"})
#: Kinds that date the fall itself (a finite interval), used for rank correlations.
DATED_KINDS = frozenset({"captured"})
SPLITS = ("fit", "holdout")


def window(theatre) -> tuple[dt.date, dt.date]:
    """Simulated window, the theatre's start to its default horizon (1 May to 31 December 2021):
    facts outside it are kept in the file (flagged ``in_window=0``) but not scored."""
    return theatre.start, theatre.end


FACT_COLUMNS = ("id", "pcode", "district", "province", "kind", "date_lower", "date_upper",
                "date_precision", "in_window", "capital_district", "split", "split_reason",
                "mapping_confidence", "quote", "source", "note")

SPLIT_SALT = "afsim-district-facts-v1"
SPLIT_RULE = (
    "A district's facts all go to one split (facts about one district are not independent). "
    "A district is held out when int(sha256('afsim-district-facts-v1:' + pcode), 16) % 3 == 0 "
    "(about one third, stable when facts are added), except districts whose facts define a "
    "covariate built from the record (local_resistance), which are always 'fit' so that the "
    "held-out facts cannot leak through a covariate. Decided before any fitting (2021 record, "
    "rule fixed in sim/district_facts.py, checked by tests/test_district_facts.py).")


def split_rule(pcode: str, forced_fit: bool = False) -> str:
    """The split of every fact about district ``pcode`` (see :data:`SPLIT_RULE`)."""
    if forced_fit:
        return "fit"
    digest = hashlib.sha256(f"{SPLIT_SALT}:{pcode}".encode("utf-8")).hexdigest()
    return "holdout" if int(digest, 16) % 3 == 0 else "fit"


@dataclass(frozen=True)
class DistrictFact:
    """One row of ``district_facts.csv``."""

    id: str
    pcode: str
    district: str
    province: str
    kind: str
    date_lower: dt.date | None      # None: open ("fell by")
    date_upper: dt.date
    date_precision: str
    in_window: bool
    capital_district: bool
    split: str
    split_reason: str
    mapping_confidence: str
    quote: str
    source: str
    note: str

    @property
    def outcome(self) -> int:
        """1 if the fact says 'fallen by the score date', 0 if it says 'held on it'."""
        return 1 if self.kind in FALLEN_KINDS else 0

    @property
    def score_date(self) -> dt.date:
        """The date whose end the fact is scored at (upper for falls, lower for holds)."""
        return self.date_upper if self.kind in FALLEN_KINDS else self.date_lower


@dataclass(frozen=True, eq=False)
class DistrictFacts:
    """The facts as arrays (row k is ``facts[k]``); days are since 2021-05-01 00:00."""

    facts: tuple[DistrictFact, ...]
    row: np.ndarray          # (k,) int: district row in the geography
    lower: np.ndarray        # (k,) float: start of date_lower, -inf when open
    upper: np.ndarray        # (k,) float: start of date_upper
    kind: np.ndarray         # (k,) str
    split: np.ndarray        # (k,) str
    outcome: np.ndarray      # (k,) float: 1 fallen, 0 held (see the module's table)
    score_day: np.ndarray    # (k,) float: fallen by the score date <=> T < score_day
    in_window: np.ndarray    # (k,) bool
    capital: np.ndarray      # (k,) bool: the district holds a provincial capital
    source_file: Path | None = None

    def __len__(self) -> int:
        return len(self.facts)

    @classmethod
    def from_arrays(cls, row, lower, upper, kind, split=None, geo: Geography | None = None
                    ) -> "DistrictFacts":
        """Synthetic facts (tests, what-if checks): days since the theatre's start (``geo``'s, else
        the default theatre's: 2021-05-01), ``lower`` -inf for an open 'fell by'. ``geo`` names
        the districts when given."""
        origin = (geo.theatre if geo is not None else default_theatre()).start
        row = np.asarray(row, dtype=np.int64)
        k = row.size
        lower = np.broadcast_to(np.asarray(lower, dtype=float), (k,)).copy()
        upper = np.broadcast_to(np.asarray(upper, dtype=float), (k,)).copy()
        kind = np.broadcast_to(np.asarray(kind, dtype=str), (k,)).copy()
        split = np.broadcast_to(np.asarray("fit" if split is None else split, dtype=str), (k,)).copy()
        unknown = sorted(set(kind) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind(s) {unknown}; expected {KINDS}")
        if np.any(lower > upper):
            raise ValueError("lower > upper")
        fallen = np.isin(kind, sorted(FALLEN_KINDS))
        if np.any(~fallen & ~np.isfinite(lower)):
            raise ValueError("a held/repelled fact needs a finite lower day")
        score = np.where(fallen, upper, lower) + 1.0

        def date(d):
            return None if not np.isfinite(d) else origin + dt.timedelta(days=int(d))
        facts = tuple(DistrictFact(
            id=f"S{j:04d}", pcode=geo.pcodes[row[j]] if geo else str(row[j]),
            district=geo.names[row[j]] if geo else "", province="", kind=str(kind[j]),
            date_lower=date(lower[j]), date_upper=date(upper[j]), date_precision="synthetic",
            in_window=True, capital_district=bool(geo.is_capital[row[j]]) if geo else False,
            split=str(split[j]), split_reason="synthetic", mapping_confidence="", quote="synthetic",
            source="synthetic", note="") for j in range(k))
        return cls(facts=facts, row=row, lower=lower, upper=upper, kind=kind, split=split,
                   outcome=fallen.astype(float), score_day=score, in_window=np.ones(k, dtype=bool),
                   capital=np.array([f.capital_district for f in facts], dtype=bool))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.facts)

    @property
    def midpoint(self) -> np.ndarray:
        """Middle of each fact's interval (days); NaN for open intervals."""
        with np.errstate(invalid="ignore"):
            mid = 0.5 * (self.lower + self.upper + 1.0)   # upper is the start of its day
        return np.where(np.isfinite(self.lower), mid, np.nan)

    def select(self, split: str | None = None, kinds=None, in_window: bool | None = True,
               capitals: bool | None = None) -> "DistrictFacts":
        """The subset with this split, these kinds, in the window (default), with or without
        capital districts (default both)."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        keep = np.ones(len(self), dtype=bool)
        if split is not None:
            keep &= self.split == split
        if kinds is not None:
            kinds = {kinds} if isinstance(kinds, str) else set(kinds)
            unknown = kinds - set(KINDS)
            if unknown:
                raise ValueError(f"unknown kind(s) {sorted(unknown)}; expected {KINDS}")
            keep &= np.isin(self.kind, sorted(kinds))
        if in_window is not None:
            keep &= self.in_window == in_window
        if capitals is not None:
            keep &= self.capital == capitals
        return self.subset(np.flatnonzero(keep))

    def subset(self, index) -> "DistrictFacts":
        index = np.asarray(index, dtype=np.int64)
        return DistrictFacts(
            facts=tuple(self.facts[i] for i in index), row=self.row[index],
            lower=self.lower[index], upper=self.upper[index], kind=self.kind[index],
            split=self.split[index], outcome=self.outcome[index],
            score_day=self.score_day[index], in_window=self.in_window[index],
            capital=self.capital[index], source_file=self.source_file)

    @classmethod
    def concatenate(cls, tables) -> "DistrictFacts":
        """One table of the rows of several (ids must stay unique; one split per district)."""
        tables = list(tables)
        if len(tables) == 1:
            return tables[0]
        facts = tuple(f for t in tables for f in t.facts)
        ids = [f.id for f in facts]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise DataError(f"fact id(s) {dup[:3]} appear in more than one table",
                            file=tables[-1].source_file, key="id")
        _check_one_split_per_district(facts, tables[-1].source_file, "across the tables")
        cat = lambda name: np.concatenate([getattr(t, name) for t in tables])  # noqa: E731
        return cls(facts=facts, row=cat("row"), lower=cat("lower"), upper=cat("upper"),
                   kind=cat("kind"), split=cat("split"), outcome=cat("outcome"),
                   score_day=cat("score_day"), in_window=cat("in_window"), capital=cat("capital"),
                   source_file=None)

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {kind: count}} over all facts (in or out of the window)."""
        out: dict[str, dict[str, int]] = {}
        for s in SPLITS:
            out[s] = {k: int(np.sum((self.split == s) & (self.kind == k))) for k in KINDS}
        return out

    def status_on(self, dates) -> "DistrictFacts":
        """Each district's status at the end of each of ``dates``, where its facts imply one.

        Scoring a fact at its own date asks the model *when* a district fell, to the day: a
        source that dates each capture between two daily snapshots (TOLOnews) yields a ``held``
        fact and a ``captured`` one a day apart, whose Brier score no model can bring below
        about 0.25 unless it knows the day (``docs/district_facts.md``, "Scoring at fixed
        dates"). Statuses at dates common to every district ask *where* the collapse had
        reached: "had district i fallen by d?", the question of issue 11.

        A first fall is monotone, so a fact implies: ``captured`` in [lower, upper], held at
        the end of any date before ``lower`` and fallen by the end of ``upper`` or later; the
        other fallen kinds, fallen by the end of ``upper`` or later; ``held``/``repelled``,
        held at the end of ``lower`` or before. One ``held`` or ``fell_by`` fact per district
        and date (scored at the end of the date; ids ``pcode@date``), in the district's split;
        a district whose facts contradict each other on a date gives none for it.
        """
        dates = sorted(set(dates))
        if not self.facts:
            return self.subset(np.zeros(0, dtype=np.int64))
        f0 = self.facts[0]
        origin = f0.date_upper - dt.timedelta(days=int(self.upper[0]))
        days = np.array([(d - origin).days + 1.0 for d in dates])     # the end of each date
        fallen_from = np.where(np.isin(self.kind, sorted(FALLEN_KINDS)), self.upper + 1.0, np.inf)
        held_until = np.where(self.kind == "captured", self.lower,
                              np.where(np.isin(self.kind, sorted(HELD_KINDS)), self.lower + 1.0,
                                       -np.inf))
        derived = []
        for row in np.unique(self.row):
            mine = np.flatnonzero(self.row == row)
            first = self.facts[mine[0]]
            for date, day in zip(dates, days):
                fallen = day >= fallen_from[mine]
                held = day <= held_until[mine]
                if fallen.any() == held.any():          # nothing implied, or a contradiction
                    continue
                kind = "fell_by" if fallen.any() else "held"
                basis = [self.facts[k].id for k in mine[fallen if fallen.any() else held]]
                derived.append((int(row), DistrictFact(
                    id=f"{first.pcode}@{date.isoformat()}", pcode=first.pcode,
                    district=first.district, province=first.province, kind=kind,
                    date_lower=None if kind == "fell_by" else date, date_upper=date,
                    date_precision="day", in_window=True,
                    capital_district=first.capital_district, split=first.split,
                    split_reason=first.split_reason, mapping_confidence=first.mapping_confidence,
                    quote="implied by " + ", ".join(basis), source=first.source,
                    note=f"status at the end of {date.isoformat()}")))
        rows = np.array([r for r, _ in derived], dtype=np.int64)
        facts = tuple(f for _, f in derived)
        fell = np.array([f.kind == "fell_by" for f in facts], dtype=bool)
        day_of = {date: day for date, day in zip(dates, days)}
        at = np.array([day_of[f.date_upper] for f in facts], dtype=float)
        return DistrictFacts(
            facts=facts, row=rows, lower=np.where(fell, -np.inf, at - 1.0), upper=at - 1.0,
            kind=np.array([f.kind for f in facts], dtype=str),
            split=np.array([f.split for f in facts], dtype=str), outcome=fell.astype(float),
            score_day=at, in_window=np.ones(len(facts), dtype=bool),
            capital=np.array([f.capital_district for f in facts], dtype=bool),
            source_file=self.source_file)




def _check_one_split_per_district(facts, path, where: str = "") -> None:
    """Facts about one district are not independent: they must all go to one split."""
    by_district: dict[str, set[str]] = {}
    for f in facts:
        by_district.setdefault(f.pcode, set()).add(f.split)
    mixed = sorted(p for p, s in by_district.items() if len(s) > 1)
    if mixed:
        where = f" {where}" if where else ""
        raise DataError(f"district(s) {mixed[:3]} have facts in both splits{where}; a district's "
                        "facts must share one split", file=path, key="split")


def _parse_date(value: str, path: Path, line: int, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise DataError(f"expected an ISO date (YYYY-MM-DD), got {value!r}", file=path,
                        key=column, line=line) from None


def _flag(value: str, path: Path, line: int, column: str) -> bool:
    if value.strip() not in ("0", "1"):
        raise DataError(f"expected 0 or 1, got {value!r}", file=path, key=column, line=line)
    return value.strip() == "1"


def load_district_facts(path: str | Path | None = None, geo: Geography | None = None
                        ) -> DistrictFacts:
    """Read and validate ``district_facts.csv`` (the package's own by default).

    A bad cell is a one-line :class:`~sim.errors.DataError` naming the file, the line and the
    column: unknown pcode, a district name that is not the pcode's, a bad date, lower > upper,
    an unknown kind or split, a hold without its date, an empty quote or source, a duplicate id.
    """
    geo = geo or load_geography()
    path = Path(path) if path is not None else geo.theatre.data_dir / FACTS_FILE.name
    WINDOW = window(geo.theatre)
    _day = geo.theatre.day_of
    if not path.is_file():
        raise DataError("file not found (expected the district facts table)", file=path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in FACT_COLUMNS if c not in header]
            if missing:
                raise DataError(f"missing column(s) {missing}; expected {list(FACT_COLUMNS)}",
                                file=path, key=missing[0])
            records = [(reader.line_num, r) for r in reader]
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
    if not records:
        raise DataError("no facts (the table is empty)", file=path)

    index = {p: i for i, p in enumerate(geo.pcodes)}
    facts: list[DistrictFact] = []
    seen: set[str] = set()
    for line, r in records:
        fid = r["id"].strip()
        if not fid:
            raise DataError("empty id", file=path, key="id", line=line)
        if fid in seen:
            raise DataError(f"duplicate id {fid!r}", file=path, key="id", line=line)
        seen.add(fid)
        pcode = r["pcode"].strip()
        if pcode not in index:
            raise DataError(f"unknown district code {pcode!r}", file=path, key="pcode", line=line)
        if r["district"].strip() != geo.names[index[pcode]]:
            raise DataError(f"district {r['district']!r} is not the name of {pcode} "
                            f"({geo.names[index[pcode]]!r})", file=path, key="district", line=line)
        kind = r["kind"].strip()
        if kind not in KINDS:
            raise DataError(f"unknown kind {kind!r}; expected one of {list(KINDS)}", file=path,
                            key="kind", line=line)
        split = r["split"].strip()
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; expected one of {list(SPLITS)}", file=path,
                            key="split", line=line)
        upper = _parse_date(r["date_upper"], path, line, "date_upper")
        lower = (_parse_date(r["date_lower"], path, line, "date_lower")
                 if r["date_lower"].strip() else None)
        if lower is not None and lower > upper:
            raise DataError(f"date_lower {lower} is after date_upper {upper}", file=path,
                            key="date_lower", line=line)
        if lower is None and kind not in ("fell_by",):
            raise DataError(f"a '{kind}' fact needs date_lower (only 'fell_by' is open below)",
                            file=path, key="date_lower", line=line)
        for column in ("quote", "source"):
            if not r[column].strip():
                raise DataError("empty (every fact carries its source and the record's words)",
                                file=path, key=column, line=line)
        in_window = _flag(r["in_window"], path, line, "in_window")
        score = upper if kind in FALLEN_KINDS else lower
        expected_window = WINDOW[0] <= score <= WINDOW[1]
        if in_window != expected_window:
            raise DataError(f"in_window={int(in_window)} but the fact's date {score} is "
                            f"{'inside' if expected_window else 'outside'} {WINDOW[0]}..{WINDOW[1]}",
                            file=path, key="in_window", line=line)
        capital = _flag(r["capital_district"], path, line, "capital_district")
        if capital != bool(geo.is_capital[index[pcode]]):
            raise DataError(f"capital_district={int(capital)} disagrees with the geography for "
                            f"{pcode}", file=path, key="capital_district", line=line)
        facts.append(DistrictFact(
            id=fid, pcode=pcode, district=r["district"].strip(), province=r["province"].strip(),
            kind=kind, date_lower=lower, date_upper=upper,
            date_precision=r["date_precision"].strip(), in_window=in_window,
            capital_district=capital, split=split, split_reason=r["split_reason"].strip(),
            mapping_confidence=r["mapping_confidence"].strip(), quote=r["quote"].strip(),
            source=r["source"].strip(), note=r["note"].strip()))

    _check_one_split_per_district(facts, path)

    lower = np.array([_day(f.date_lower) if f.date_lower else -math.inf for f in facts])
    upper = np.array([_day(f.date_upper) for f in facts])
    score_day = np.array([_day(f.score_date) + 1.0 for f in facts])
    return DistrictFacts(
        facts=tuple(facts), row=np.array([index[f.pcode] for f in facts], dtype=np.int64),
        lower=lower, upper=upper, kind=np.array([f.kind for f in facts]),
        split=np.array([f.split for f in facts]),
        outcome=np.array([float(f.outcome) for f in facts]), score_day=score_day,
        in_window=np.array([f.in_window for f in facts]),
        capital=np.array([f.capital_district for f in facts]), source_file=path)


def load_sources(geo: Geography | None = None) -> dict[str, DistrictFacts]:
    """The theatre's district-fact sources by name: ``seed`` (``district_facts.csv``) and, where
    the theatre has it, ``tolonews`` (``district_reports_tolonews.csv``); empty when the theatre
    has no facts table at all."""
    geo = geo or load_geography()
    folder = geo.theatre.data_dir
    if not (folder / FACTS_FILE.name).is_file():
        return {}
    sources = {"seed": load_district_facts(folder / FACTS_FILE.name, geo=geo)}
    if (folder / REPORTS_FILE.name).is_file():
        sources["tolonews"] = load_district_facts(folder / REPORTS_FILE.name, geo=geo)
    return sources
