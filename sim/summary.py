"""Streaming summaries: what the tables and figures need, accumulated chunk by chunk.

An ensemble's fall times are R x 399 numbers; at 100,000 replicates that is 320 MB before any
sorting. Everything the output contract reports at calendar-day resolution can instead be
accumulated as chunks arrive, in memory that does not grow with the district count times R:

* per district, a histogram of the day it fell (plus "never") and counts of each fall mode:
  exact day-level quantiles, probabilities and means;
* per replicate, the number of districts and of capitals fallen by the end of each day (int16 /
  int8: 49 MB at 100,000 replicates), from which daily quantiles, survival curves and every
  "held on date X" outcome of a comparison are exact;
* per replicate, Kabul's fall time, the assault's start and the end of the run;
* per replicate, how many of the other capitals and districts were still held when Kabul fell
  (not fallen strictly before it; at the horizon when Kabul held).

Day-level quantiles equal the calendar days of the sample quantiles of the continuous times
(the floor is monotone), so the tables are the same whichever way they are computed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .model import FIGHT, HELD_AT_START, NEGOTIATED, Model

#: Sample quantiles are taken without interpolation, so each is a value some replicate produced.
QUANTILE_METHOD = "inverted_cdf"


def quantiles(x: np.ndarray, qs, axis=0) -> np.ndarray:
    """Sample quantiles with NaN read as 'never' (+inf)."""
    x = np.where(np.isnan(x), np.inf, x)
    return np.quantile(x, qs, axis=axis, method=QUANTILE_METHOD)


def iso_or_blank(day: float, theatre) -> str:
    """The ISO date of a model time on ``theatre``'s clock, or "" for never."""
    return theatre.date_of(day).isoformat() if np.isfinite(day) else ""


def quantile_from_histogram(hist: np.ndarray, q: float) -> np.ndarray:
    """Inverted-CDF quantile of each row's histogram (bins are days; the last bin is 'never',
    returned as +inf)."""
    hist = np.atleast_2d(hist)
    total = hist.sum(axis=1, keepdims=True)
    cdf = np.cumsum(hist, axis=1)
    # smallest bin whose cumulative count reaches q * total (numpy's inverted_cdf rule)
    need = np.maximum(np.ceil(q * total - 1e-9), 1)
    idx = (cdf < need).sum(axis=1)
    out = idx.astype(float)
    out[idx >= hist.shape[1] - 1] = np.inf
    return out


class Summary:
    """Accumulates chunks of replicates (in any order) into day-level summaries."""

    def __init__(self, model: Model, replicates: int):
        self.model = model
        self.theatre = model.geo.theatre
        self.n = model.n
        self.days = int(model.horizon)
        self.replicates = replicates
        self.capital_rows = model.geo.capital_rows
        self.kabul_row = model.geo.kabul_row
        self.day_hist = np.zeros((self.n, self.days + 1), dtype=np.int64)   # last bin: never
        self.mode_counts = np.zeros((self.n, 4), dtype=np.int64)
        self.fall_sum = np.zeros(self.n)
        self.daily_all = np.zeros((replicates, self.days), dtype=np.int16)
        self.daily_caps = np.zeros((replicates, self.days), dtype=np.int8)
        self.kabul_time = np.full(replicates, np.nan)
        self.assault_time = np.full(replicates, np.nan)
        self.end_time = np.full(replicates, np.nan)
        self.filled = np.zeros(replicates, dtype=bool)
        self.caps_held_at_kabul = np.zeros(replicates, dtype=np.int16)
        self.districts_held_at_kabul = np.zeros(replicates, dtype=np.int16)

    def add(self, reps: range, fall_time: np.ndarray, mode: np.ndarray, assault_time: np.ndarray,
            end_time: np.ndarray) -> None:
        sl = slice(reps.start, reps.stop)
        n, D = self.n, self.days
        fell = np.isfinite(fall_time)
        day = np.where(fell, np.floor(np.where(fell, fall_time, 0.0)), D).astype(np.int64)
        day = np.clip(day, 0, D)
        self.day_hist += np.bincount((np.arange(n)[None, :] * (D + 1) + day).ravel(),
                                     minlength=n * (D + 1)).reshape(n, D + 1)
        for m in range(4):
            self.mode_counts[:, m] += (mode == m).sum(axis=0)
        self.fall_sum += np.where(fell, fall_time, 0.0).sum(axis=0)
        self.daily_all[sl] = _cumulative_by_day(day, D)
        self.daily_caps[sl] = _cumulative_by_day(day[:, self.capital_rows], D)
        self.kabul_time[sl] = fall_time[:, self.kabul_row]
        kabul = np.where(np.isnan(fall_time[:, self.kabul_row]), np.inf, fall_time[:, self.kabul_row])
        before = np.where(fell, fall_time, np.inf) < kabul[:, None]
        before[:, self.kabul_row] = False
        others = self.capital_rows[self.capital_rows != self.kabul_row]
        self.caps_held_at_kabul[sl] = len(others) - before[:, others].sum(axis=1)
        self.districts_held_at_kabul[sl] = (n - 1) - before.sum(axis=1)
        self.assault_time[sl] = assault_time
        self.end_time[sl] = end_time
        self.filled[sl] = True

    # ------------------------------------------------------------------ queries
    @property
    def complete(self) -> bool:
        return bool(self.filled.all())

    def p_fall(self) -> np.ndarray:
        return self.day_hist[:, :-1].sum(axis=1) / self.replicates

    def fall_day_quantile(self, q: float, rows=None) -> np.ndarray:
        hist = self.day_hist if rows is None else self.day_hist[rows]
        return quantile_from_histogram(hist, q)

    def p_fallen_by(self, date: dt.date) -> np.ndarray:
        d = int(self.theatre.day_of(date)) + 1
        return self.day_hist[:, :max(0, min(d, self.days))].sum(axis=1) / self.replicates

    def p_fallen_by_day(self) -> np.ndarray:
        """(n, days): probability each district has fallen by the end of each day."""
        return np.cumsum(self.day_hist[:, :-1], axis=1) / self.replicates

    def mean_fall_day(self) -> np.ndarray:
        fell = self.day_hist[:, :-1].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(fell > 0, self.fall_sum / np.maximum(fell, 1), np.nan)

    def p_negotiated(self) -> np.ndarray:
        during = self.mode_counts[:, NEGOTIATED] + self.mode_counts[:, FIGHT]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(during > 0, self.mode_counts[:, NEGOTIATED] / np.maximum(during, 1), np.nan)

    def p_taliban_at_start(self) -> np.ndarray:
        return self.mode_counts[:, HELD_AT_START] / self.replicates

    def fallen_by(self, date: dt.date, capitals: bool = False) -> np.ndarray:
        """Per replicate, districts (or capitals) fallen by the end of ``date``."""
        d = int(self.theatre.day_of(date))
        table = self.daily_caps if capitals else self.daily_all
        if d < 0:
            return np.zeros(self.replicates, dtype=np.int64)
        return table[:, min(d, self.days - 1)].astype(np.int64)


def _cumulative_by_day(day: np.ndarray, D: int) -> np.ndarray:
    """(R, D) number of columns with day <= d, for each day d (day D means never)."""
    R, n = day.shape
    counts = np.bincount((np.arange(R)[:, None] * (D + 1) + day).ravel(),
                         minlength=R * (D + 1)).reshape(R, D + 1)[:, :D]
    return np.cumsum(counts, axis=1)
