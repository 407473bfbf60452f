"""A theatre: the place and time a simulation is about, as one frozen object.

The model's rules know nothing of Afghanistan; what ties a run to one country and one year lives
here: the folder of its data tables, the clock's origin (day 0) and the default horizon, the
province whose capital's fall ends the regime, the region names, the region(s) of the
initial-state prior, the dates of the record that outputs are measured on (the capital's recorded
fall, a deadline, the first capital's fall) and where its scenarios and record live.

A theatre is a folder holding ``theatre.toml`` next to the tables :func:`sim.geography.
load_geography` reads (``districts.csv``, ``borders.csv``, ``provinces.csv``, ``covariates.csv``,
``border_crossings.csv``). The shipped one is :data:`AFGHANISTAN_2021`, built from ``sim/data``.
The :class:`~sim.geography.Geography` loaded from a folder carries its theatre
(``geo.theatre``), and everything downstream (the model, the results, the figures) reaches the
dates through it, so two theatres can be simulated in one process. Nothing in the package
computes a date from a global origin.

``theatre.toml``::

    [theatre]
    name = "afghanistan_2021"
    description = "..."
    title = "The fall of the Afghan republic, 2021"   # headings (default: the description)
    country = "Afghanistan"       # the country in prose and labels (optional)
    start = 2021-05-01            # the clock's origin, day 0
    end = 2021-12-31              # default horizon (inclusive)
    latest_end = 2023-12-31       # latest horizon a scenario may set
    earliest_event = 2020-01-01   # earliest date an event may carry
    capital = "Kabul"             # the province whose capital's fall ends the regime
    regions = ["Capital", ...]    # region names as spelled in districts.csv
    prior_regions = ["Southern"]  # the initial-state prior's region(s)
    focus_regions = ["Northern", "North Eastern"]   # a scenario's default strategy focus
    provinces = 34                # number of provinces provinces.csv must hold (optional)
    sanctuary = "Pakistan"        # neighbour whose border is the hazard's border covariate
    labelled_cities = ["Kabul", "Herat"]   # capitals named on the maps, most important first
                                           # (default: the capital's city alone)
    scenarios = "scenarios"       # folder of its scenarios, relative to this file (optional)
    record = "history.csv"        # its historical record, relative to this file (optional)

    [theatre.dates]
    capital_fell = 2021-08-15     # the capital's recorded fall (outputs are measured on it)
    deadline = 2021-08-31         # a second date outputs are measured on
    first_capital_fell = 2021-08-06   # the first provincial capital's recorded fall
    first_cutoff = 2021-05-15     # earliest cut-off of a forecast calibration

A missing file or key is a one-line :class:`~sim.errors.DataError` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError, UserError
from .userfiles import read_toml

#: The package's own data folder: the shipped theatre.
DATA_DIR = Path(__file__).parent / "data"
THEATRE_FILE = "theatre.toml"

_KEYS = {"name", "description", "title", "country", "start", "end", "latest_end", "earliest_event", "capital",
         "regions", "prior_regions", "focus_regions", "provinces", "scenarios", "record", "dates", "sanctuary",
         "labelled_cities"}
_DATE_KEYS = {"capital_fell", "deadline", "first_capital_fell", "first_cutoff"}
_NAME_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class Theatre:
    """One theatre (see the module's docstring). Frozen and hashable: a cache key."""

    name: str
    description: str
    data_dir: Path
    start: dt.date                       # the clock's origin: day 0 is this date, 00:00
    end: dt.date                         # default horizon (inclusive)
    latest_end: dt.date                  # latest horizon a scenario may set
    earliest_event: dt.date              # earliest date an event may carry
    capital: str                         # province whose capital's fall ends the regime
    regions: tuple[str, ...]
    prior_regions: tuple[str, ...]       # the initial-state prior's region(s)
    focus_regions: tuple[str, ...]       # a scenario's default strategy focus
    provinces_expected: int | None       # provinces.csv must hold this many (None: any)
    capital_fell: dt.date                # the capital's recorded fall
    deadline: dt.date                    # second date the outputs are measured on
    first_capital_fell: dt.date          # the first provincial capital's recorded fall
    first_cutoff: dt.date                # earliest cut-off of a forecast calibration
    sanctuary: str = ""                  # neighbour country whose border is a covariate
    scenarios_dir: Path | None = None
    record: Path | None = None           # the historical record (history.csv), if any
    labelled_cities: tuple[str, ...] = ()  # provincial capitals named on maps (): the capital's
    title: str = ""                      # what the reports' headings call it ("": description)
    country: str = ""                    # the country it is in, for prose and labels ("": none)

    @property
    def heading(self) -> str:
        """The theatre in a heading: its ``title``, else its description without the full stop."""
        return self.title or self.description.rstrip(".") or self.name

    # ----------------------------------------------------------------- the clock
    def day_of(self, date: dt.date) -> float:
        """Days from the clock's origin (``start`` 00:00) to the start of ``date``."""
        return float((date - self.start).days)

    def date_of(self, day: float) -> dt.date:
        """Calendar date of a model time (the day it falls in)."""
        return self.start + dt.timedelta(days=int(math.floor(day)))

    @property
    def last_cutoff(self) -> dt.date:
        """Latest cut-off of a forecast calibration: the day the capital fell."""
        return self.capital_fell

    @property
    def capital_key(self) -> str:
        """The capital's name as it appears in output keys (``kabul``)."""
        return re.sub(r"[^a-z0-9]+", "_", self.capital.lower()).strip("_")

    @staticmethod
    def stamp(date: dt.date) -> str:
        """A date as it appears in output keys (``2021_08_15``)."""
        return date.strftime("%Y_%m_%d")

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(cls, ref: str | Path) -> "Theatre":
        """A shipped theatre by name (``"afghanistan_2021"``) or a theatre folder (holding
        ``theatre.toml``), validated."""
        if str(ref) in SHIPPED:
            return SHIPPED[str(ref)]
        folder = Path(ref)
        if folder.is_file() and folder.name == THEATRE_FILE:
            folder = folder.parent
        if not folder.is_dir():
            raise UserError(f"unknown theatre {str(ref)!r}: not a shipped theatre "
                            f"({', '.join(SHIPPED)}) nor a folder holding {THEATRE_FILE}",
                            argument="theatre")
        return _load(folder.resolve())


def _load_uncached(folder: Path) -> Theatre:
    path = folder / THEATRE_FILE
    if not path.is_file():
        raise DataError(f"file not found (a theatre folder needs {THEATRE_FILE})", file=path)
    data, _ = read_toml(path, "a theatre TOML file")
    # a mistake here is in a data table of the theatre: DataError, with the same one-line shape
    try:
        return _parse(data, path, folder)
    except DataError:
        raise
    except UserError as exc:
        raise DataError(exc.detail, file=exc.file, key=exc.key, line=exc.line) from None


def _parse(data: dict, path: Path, folder: Path) -> Theatre:
    from . import tomlcheck as check
    check.check_keys(data, {"theatre"}, path)
    if "theatre" not in data:
        raise DataError("missing [theatre] table", file=path, key="theatre")
    t = check.table(data, "theatre", path)
    check.check_keys(t, _KEYS, path, "theatre")
    w = "theatre"
    lo, hi = dt.date(1, 1, 1), dt.date(9999, 12, 31)

    def date(table, key, where, lo=lo, hi=hi):
        return check.date(table, key, path, where, lo, hi)

    def names(key, default=check.REQUIRED) -> tuple[str, ...]:
        if key not in t:
            if default is check.REQUIRED:
                raise DataError("missing (expected a list of names)", file=path, key=f"{w}.{key}")
            return tuple(default)
        value = t[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise DataError("expected a list of names", file=path, key=f"{w}.{key}")
        return tuple(value)

    name = check.string(t, "name", path, w)
    if not _NAME_RE.fullmatch(name):
        raise DataError(f"name {name!r} must be 1-64 letters, digits, '_' or '-'", file=path,
                        key=f"{w}.name")
    start = date(t, "start", w)
    end = date(t, "end", w, lo=start)
    latest_end = check.date(t, "latest_end", path, w, end, hi, default=end)
    earliest_event = check.date(t, "earliest_event", path, w, lo, start, default=start)
    capital = check.string(t, "capital", path, w)
    if not capital.strip():
        raise DataError("empty (expected the capital's province name)", file=path, key=f"{w}.capital")
    regions = names("regions")
    for key in ("prior_regions", "focus_regions"):
        unknown = sorted(set(names(key, ())) - set(regions))
        if unknown:
            raise DataError(f"unknown region(s) {unknown}; expected among theatre.regions",
                            file=path, key=f"{w}.{key}")
    provinces = check.number(t, "provinces", path, w, 1, 100_000, default=None, integer=True)
    dates = check.table(t, "dates", path, w)
    check.check_keys(dates, _DATE_KEYS, path, f"{w}.dates")
    dw = f"{w}.dates"
    capital_fell = date(dates, "capital_fell", dw, lo=start, hi=latest_end)

    def optional_path(key) -> Path | None:
        value = check.string(t, key, path, w, None)
        return None if value is None else (folder / value)

    return Theatre(
        name=name, description=" ".join(check.string(t, "description", path, w, "").split()),
        data_dir=folder, start=start, end=end, latest_end=latest_end,
        earliest_event=earliest_event, capital=capital, regions=regions,
        prior_regions=names("prior_regions", ()), focus_regions=names("focus_regions", ()),
        provinces_expected=provinces, capital_fell=capital_fell,
        deadline=date(dates, "deadline", dw, lo=start, hi=latest_end),
        first_capital_fell=date(dates, "first_capital_fell", dw, lo=start, hi=latest_end),
        first_cutoff=date(dates, "first_cutoff", dw, lo=start, hi=capital_fell),
        sanctuary=check.string(t, "sanctuary", path, w, ""), scenarios_dir=optional_path("scenarios"),
        record=optional_path("record"), labelled_cities=names("labelled_cities", ()),
        title=" ".join(check.string(t, "title", path, w, "").split()),
        country=" ".join(check.string(t, "country", path, w, "").split()))


def _load(folder: Path) -> Theatre:
    return _load_uncached(folder)


#: The shipped theatre: Afghanistan, May to December 2021 (``sim/data/theatre.toml``).
AFGHANISTAN_2021 = _load(DATA_DIR.resolve())
SHIPPED = {AFGHANISTAN_2021.name: AFGHANISTAN_2021}


def default_theatre() -> Theatre:
    """The theatre used when none is named: :data:`AFGHANISTAN_2021`."""
    return AFGHANISTAN_2021
