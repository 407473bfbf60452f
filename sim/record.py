"""The historical record, as the package's data files state it (``history.csv``, ``provinces.csv``).

Two kinds of facts are used: the number of districts under Taliban control at dated
checkpoints, and the day each provincial capital fell. Both come with their row id so plots and
calibration targets can cite them. The record is noisy and partly inconsistent (the data README
lists the mismatches); this module reports it as printed and leaves the weighing to the
calibration targets (``calibration/targets.toml``).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .geography import DATA_DIR, Geography, load_geography


@dataclass(frozen=True)
class DistrictCheckpoint:
    """Districts under Taliban control on a date, as read from one or more rows of the record."""

    id: str
    date: dt.date
    districts: float
    derivation: str
    rows: tuple[str, ...]
    consistent: bool     # agrees with the monthly series; False marks the record's outliers
    low: float | None = None     # a range of readings (``districts`` is then its midpoint)
    high: float | None = None


@dataclass(frozen=True)
class CapitalFall:
    province: str
    capital: str
    pcode: str
    fell_on: dt.date
    earliest: dt.date
    latest: dt.date
    fall_order: str


@lru_cache(maxsize=1)
def _history_rows(data_dir: Path = DATA_DIR) -> dict[str, dict[str, str]]:
    with (data_dir / "history.csv").open(newline="", encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def district_checkpoints(data_dir: Path = DATA_DIR) -> list[DistrictCheckpoint]:
    """Districts controlled at each dated point the record gives, derived from history.csv.

    The monthly captures (15 in May, 69 in June, 64 in July) added to the 73 of 1 May give the
    consistent spine; Milley's "half of all districts" on 21 July and "73 to 223" after three
    months agree with it. "108 districts fell ... in the last two months" (27 June) does not.
    "As of 12 July, the Taliban had seized 148 districts" reads two ways: 148 held in all, or 148
    taken since 1 May on top of the 73 (221). Either value alone contradicts the monthly series
    (below June's 157, or July's whole total eleven days into July); the range between the two
    readings agrees with it, and is what the record says for certain.
    """
    h = _history_rows(data_dir)
    v = lambda key: float(h[key]["value"])   # noqa: E731
    start = v("H05")
    seized = v("H30")       # two readings: held in all, or taken since 1 May on top of start
    may, june, july = v("H07"), v("H11"), v("H21")
    return [
        DistrictCheckpoint("start", dt.date(2021, 5, 1), start, "73 on 1 May", ("H05",), True),
        DistrictCheckpoint("end_may", dt.date(2021, 5, 31), start + may,
                           "73 + 15 captured in May", ("H05", "H07"), True),
        DistrictCheckpoint("tolo_27_june", dt.date(2021, 6, 27), start + v("H19") - v("H20"),
                           "73 + 108 fell in two months - 10 retaken (ToloNews)", ("H05", "H19", "H20"),
                           False),
        DistrictCheckpoint("end_june", dt.date(2021, 6, 30), start + may + june,
                           "73 + 15 + 69 captured in May and June", ("H05", "H07", "H11"), True),
        DistrictCheckpoint("seized_12_july", dt.date(2021, 7, 12), (seized + start + seized) / 2,
                           "148 seized as of 12 July: 148 held in all, up to 73 + 148 if taken "
                           "since 1 May", ("H05", "H30"), True, seized, start + seized),
        DistrictCheckpoint("milley_21_july", dt.date(2021, 7, 21), v("H31") * 399,
                           "half of all districts (Milley) x 399", ("H31",), True),
        DistrictCheckpoint("end_july", dt.date(2021, 7, 31), start + may + june + july,
                           "73 + 15 + 69 + 64 captured May-July", ("H05", "H07", "H11", "H21"), True),
        DistrictCheckpoint("three_months", dt.date(2021, 8, 1), v("H06"),
                           "73 to 223 in the first three months", ("H06",), True),
    ]


def capital_falls(geo: Geography | None = None) -> list[CapitalFall]:
    """The 33 capitals that fell, with the seed's date and its window (provinces.csv)."""
    geo = geo or load_geography()
    out = []
    for p in geo.provinces:
        if not p.fell_on:
            continue
        out.append(CapitalFall(p.name, p.capital, p.capital_pcode, dt.date.fromisoformat(p.fell_on),
                               dt.date.fromisoformat(p.fell_on_earliest),
                               dt.date.fromisoformat(p.fell_on_latest), p.fall_order))
    return out


def historical_capital_date(geo: Geography, province_index: int) -> dt.date | None:
    p = geo.provinces[province_index]
    return dt.date.fromisoformat(p.fell_on) if p.fell_on else None
