"""Out-of-sample skill of a forecast: the weighted interval score of its quantiles against what
followed the cut-off.

Model structures are compared by leave-future-out skill (issue 10): each structure is fitted on
the record up to a cut-off date (``afsim forecast --as-of``) and scored on what happened after it,
the same way for each. The score is the *weighted interval score* (WIS; Bracher et al. 2021, PLoS
Comput Biol 17: e1008618), a proper scoring rule for forecasts given as quantiles that
approximates the CRPS: for the median m and central intervals [l_a, u_a] at levels 1 - a,

    WIS = (|y - m| / 2 + sum_a a/2 * IS_a) / (K + 1/2),
    IS_a = (u_a - l_a) + 2/a (l_a - y)+ + 2/a (y - u_a)+.

It is in the outcome's units (days for a fall date, districts for a count); lower is better. It
reads only a forecast's published quantile tables (``capitals.csv``, ``daily.csv``), so forecasts
made by older versions of the code are scored exactly like new ones.

A quantile left blank in a table means "after the horizon": it is read as the horizon's day,
which favours the forecast (its true quantile is later still).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError

#: The central intervals a forecast publishes: (lower quantile column suffix, upper, alpha).
INTERVALS = (("q25", "q75", 0.5), ("q05", "q95", 0.1))


def interval_score(lower, upper, y, alpha):
    """IS_alpha of the central (1 - alpha) interval [lower, upper] for the observation y."""
    lower, upper, y = (np.asarray(v, dtype=float) for v in (lower, upper, y))
    return ((upper - lower) + 2.0 / alpha * np.maximum(lower - y, 0.0)
            + 2.0 / alpha * np.maximum(y - upper, 0.0))


def weighted_interval_score(quantiles: dict[str, float], y: float) -> float:
    """WIS from the quantiles ``q05, q25, q50, q75, q95`` (a dict) and the observation."""
    total = 0.5 * abs(y - quantiles["q50"])
    for lo, hi, alpha in INTERVALS:
        total += alpha / 2.0 * float(interval_score(quantiles[lo], quantiles[hi], y, alpha))
    return total / (len(INTERVALS) + 0.5)


@dataclass(frozen=True)
class Scored:
    outcome: str          # e.g. "capital:Herat" or "districts:2021-07-31"
    observed: float
    median: float
    wis: float
    inside_90: bool


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise UserError("missing; expected a forecast's predictive table", file=path)
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _day(text: str, origin: dt.date, horizon_day: float) -> float:
    return horizon_day if not text else float((dt.date.fromisoformat(text) - origin).days)


def score_forecast(folder: str | Path, as_of: dt.date, origin: dt.date, horizon: dt.date,
                   count_targets: dict[dt.date, float]) -> list[Scored]:
    """Score the forecast in ``folder`` (its ``predictive/`` tables) on what followed ``as_of``:
    every capital that fell after the cut-off (fall day; the record's date) and every district
    count dated after it (``count_targets``: date -> the record's count)."""
    folder = Path(folder)
    pred = folder / "predictive" if (folder / "predictive").is_dir() else folder
    horizon_day = float((horizon - origin).days + 1)
    out: list[Scored] = []
    for row in _read(pred / "capitals.csv"):
        if not row["historical_fall_date"]:
            continue
        fell = dt.date.fromisoformat(row["historical_fall_date"])
        if fell <= as_of:
            continue
        q = {k: _day(row[f"fall_date_{k}"], origin, horizon_day)
             for k in ("q05", "q25", "q50", "q75", "q95")}
        y = float((fell - origin).days) + 0.5            # falls are read at mid-day
        out.append(Scored(f"capital:{row['capital']}", y, q["q50"], weighted_interval_score(q, y),
                          q["q05"] <= y <= q["q95"] + 1.0))
    daily = {row["date"]: row for row in _read(pred / "daily.csv")}
    for date, count in sorted(count_targets.items()):
        if date <= as_of or date.isoformat() not in daily:
            continue
        row = daily[date.isoformat()]
        q = {k: float(row[f"fallen_{k}"]) for k in ("q05", "q25", "q50", "q75", "q95")}
        out.append(Scored(f"districts:{date.isoformat()}", float(count), q["q50"],
                          weighted_interval_score(q, float(count)), q["q05"] <= count <= q["q95"]))
    return out


def summarise(scores: list[Scored]) -> dict:
    """Mean WIS and 90% coverage, for the capitals (days) and the district counts (districts)."""
    out = {}
    for kind, unit in (("capital", "days"), ("districts", "districts")):
        part = [s for s in scores if s.outcome.startswith(kind)]
        if part:
            out[kind] = {"n": len(part), f"mean_wis_{unit}": float(np.mean([s.wis for s in part])),
                         "coverage_90": float(np.mean([s.inside_90 for s in part]))}
    kabul = [s for s in scores if s.outcome == "capital:Kabul"]
    if kabul:
        out["kabul"] = {"wis_days": kabul[0].wis, "median_day": kabul[0].median,
                        "observed_day": kabul[0].observed}
    return out
