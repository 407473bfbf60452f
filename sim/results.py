"""The result of an ensemble: fall times, the tables users read, and the output contract on disk.

Quantiles of fall dates are *unconditional*: a replicate in which a district never fell counts
as falling after the horizon. So ``fall_date_q50`` is the date by which the district had fallen in
half of the replicates, and it is blank when that never happened within the horizon. Sample
quantiles are taken without interpolation (numpy's ``inverted_cdf``), so each is a date some
replicate actually produced.

The files written by :meth:`EnsembleResult.write` are a contract other tools read; columns may
be added, never renamed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .model import FIGHT, HELD_AT_START, NEGOTIATED, Model
from .parameters import NAMES, ParameterTable
from .timeline import START, date_of, day_of

QUANTILE_METHOD = "inverted_cdf"
KABUL_FELL_DATE = dt.date(2021, 8, 15)


def quantiles(x: np.ndarray, qs, axis=0) -> np.ndarray:
    """Sample quantiles with NaN read as 'never' (+inf)."""
    x = np.where(np.isnan(x), np.inf, x)
    return np.quantile(x, qs, axis=axis, method=QUANTILE_METHOD)


def iso_or_blank(day: float) -> str:
    return date_of(day).isoformat() if np.isfinite(day) else ""


class ResultBuilder:
    """Collects chunks of replicates into preallocated arrays, in replicate order."""

    def __init__(self, model: Model, replicates: int):
        self.model = model
        n = model.n
        self.fall_time = np.full((replicates, n), np.nan)
        self.mode = np.zeros((replicates, n), dtype=np.int8)
        self.assault_time = np.full(replicates, np.nan)
        self.end_time = np.full(replicates, np.nan)
        self.filled = np.zeros(replicates, dtype=bool)

    def add(self, reps: range, chunk) -> None:
        sl = slice(reps.start, reps.stop)
        self.fall_time[sl] = chunk.fall_time
        self.mode[sl] = chunk.mode
        self.assault_time[sl] = chunk.assault_time
        self.end_time[sl] = chunk.end_time
        self.filled[sl] = True


@dataclass(eq=False)
class EnsembleResult:
    """Fall times of every district in every replicate, plus what produced them."""

    model: Model
    scenario: Any                 # sim.scenario.Scenario
    seed: int
    source: Any                   # sim.ensemble.ParameterSource
    table: ParameterTable         # the parameters each replicate used
    fall_time: np.ndarray         # (R, n)
    mode: np.ndarray              # (R, n)
    assault_time: np.ndarray      # (R,)
    end_time: np.ndarray          # (R,)
    engine: str = "batch"
    elapsed: float = 0.0
    extra_manifest: dict = field(default_factory=dict)

    @classmethod
    def from_builder(cls, b: ResultBuilder, **kw) -> "EnsembleResult":
        assert b.filled.all(), "some replicates were not simulated"
        return cls(model=b.model, fall_time=b.fall_time, mode=b.mode, assault_time=b.assault_time,
                   end_time=b.end_time, **kw)

    # ------------------------------------------------------------------ basics
    @property
    def geo(self):
        return self.model.geo

    @property
    def replicates(self) -> int:
        return self.fall_time.shape[0]

    @property
    def n_days(self) -> int:
        return int(self.model.horizon)

    @property
    def dates(self) -> list[dt.date]:
        return [START + dt.timedelta(days=d) for d in range(self.n_days)]

    @property
    def kabul_fall_time(self) -> np.ndarray:
        return self.fall_time[:, self.geo.kabul_row]

    def fallen_by(self, date: dt.date, columns=None) -> np.ndarray:
        """Per replicate, the number of districts (or of ``columns``) fallen by the end of ``date``."""
        ft = self.fall_time if columns is None else self.fall_time[:, columns]
        with np.errstate(invalid="ignore"):
            return (ft < day_of(date) + 1).sum(axis=1)

    def daily_counts(self, columns=None) -> np.ndarray:
        """(R, days): districts fallen by the end of each day."""
        ft = self.fall_time if columns is None else self.fall_time[:, columns]
        R, D = ft.shape[0], self.n_days
        day = np.where(np.isfinite(ft), np.floor(ft), D).astype(np.int64)
        day = np.clip(day, 0, D)
        flat = (np.arange(R)[:, None] * (D + 1) + day).ravel()
        counts = np.bincount(flat, minlength=R * (D + 1)).reshape(R, D + 1)[:, :D]
        return np.cumsum(counts, axis=1)

    # ------------------------------------------------------------------ tables
    def districts(self) -> list[dict]:
        geo = self.geo
        ft = self.fall_time
        q = quantiles(ft, [0.05, 0.5, 0.95])
        fell_during = (self.mode == NEGOTIATED) | (self.mode == FIGHT)
        n_during = fell_during.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_neg = np.where(n_during > 0, (self.mode == NEGOTIATED).sum(axis=0) / n_during, np.nan)
        rows = []
        for i in range(geo.n):
            rows.append({
                "pcode": geo.pcodes[i], "name": geo.names[i],
                "province": geo.provinces[geo.province_index[i]].name,
                "p_fall": float(np.isfinite(ft[:, i]).mean()),
                "fall_date_q05": iso_or_blank(q[0, i]), "fall_date_q50": iso_or_blank(q[1, i]),
                "fall_date_q95": iso_or_blank(q[2, i]),
                "p_negotiated": "" if np.isnan(p_neg[i]) else round(float(p_neg[i]), 4),
                "p_taliban_at_start": float((self.mode[:, i] == HELD_AT_START).mean()),
            })
        return rows

    def capitals(self) -> list[dict]:
        geo = self.geo
        rows = []
        for prov in geo.provinces:
            x = self.fall_time[:, prov.capital_index]
            q = quantiles(x, [0.05, 0.25, 0.5, 0.75, 0.95])
            rows.append({
                "province": prov.name, "capital": prov.capital, "pcode": prov.capital_pcode,
                "p_fall": float(np.isfinite(x).mean()),
                "fall_date_q05": iso_or_blank(q[0]), "fall_date_q25": iso_or_blank(q[1]),
                "fall_date_q50": iso_or_blank(q[2]), "fall_date_q75": iso_or_blank(q[3]),
                "fall_date_q95": iso_or_blank(q[4]),
                "historical_fall_date": prov.fell_on,
                "fall_day_mean": float(np.nanmean(x)) if np.isfinite(x).any() else "",
            })
        return rows

    def daily(self) -> list[dict]:
        counts = self.daily_counts()
        q = np.quantile(counts, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0, method=QUANTILE_METHOD)
        caps = np.quantile(self.daily_counts(self.geo.capital_rows), 0.5, axis=0,
                           method=QUANTILE_METHOD)
        rows = []
        for d, date in enumerate(self.dates):
            rows.append({"date": date.isoformat(),
                         "fallen_q05": int(q[0, d]), "fallen_q25": int(q[1, d]),
                         "fallen_q50": int(q[2, d]), "fallen_q75": int(q[3, d]),
                         "fallen_q95": int(q[4, d]), "fallen_mean": round(float(counts[:, d].mean()), 3),
                         "capitals_fallen_q50": int(caps[d])})
        return rows

    def summary(self) -> dict:
        kab = self.kabul_fall_time
        q = quantiles(kab, [0.05, 0.25, 0.5, 0.75, 0.95])
        caps_aug15 = self.fallen_by(KABUL_FELL_DATE, self.geo.capital_rows)
        dist_aug15 = self.fallen_by(KABUL_FELL_DATE)
        return {
            "scenario": self.scenario.name,
            "replicates": self.replicates,
            "horizon": date_of(self.model.horizon - 1).isoformat(),
            "kabul_p_fall": float(np.isfinite(kab).mean()),
            "kabul_fall_date": {f"q{int(p * 100):02d}": iso_or_blank(v)
                                for p, v in zip([0.05, 0.25, 0.5, 0.75, 0.95], q)},
            "kabul_p_fall_by_2021_08_31": float((kab < day_of(dt.date(2021, 8, 31)) + 1).mean()),
            "capitals_fallen_by_2021_08_15_q50": float(np.quantile(caps_aug15, 0.5,
                                                                   method=QUANTILE_METHOD)),
            "capitals_fallen_by_2021_08_15_mean": float(caps_aug15.mean()),
            "districts_fallen_by_2021_08_15_q50": float(np.quantile(dist_aug15, 0.5,
                                                                    method=QUANTILE_METHOD)),
            "p_capital_before_2021_08_06": float(
                (self.fallen_by(dt.date(2021, 8, 5), self.geo.capital_rows) > 0).mean()),
            "assault_date_q50": iso_or_blank(quantiles(self.assault_time, 0.5)),
        }

    def manifest(self) -> dict:
        from .provenance import environment_record
        sc = self.scenario
        table = self.table
        if self.source.kind == "fixed":
            params = {n: float(table.values[0, i]) for i, n in enumerate(NAMES)}
        else:
            params = {n: {"q05": float(np.quantile(table.values[:, i], 0.05)),
                          "q50": float(np.quantile(table.values[:, i], 0.5)),
                          "q95": float(np.quantile(table.values[:, i], 0.95))}
                      for i, n in enumerate(NAMES)}
        return {
            "scenario": sc.name,
            "scenario_description": sc.description,
            "scenario_files": [str(p) for p in sc.files],
            "scenario_file_sha256": list(sc.file_hashes),
            "scenario_hash": sc.hash,
            "parameter_source": self.source.label,
            "parameter_source_kind": self.source.kind,
            "parameter_changes": [{"name": c.name, "op": c.op, "value": c.value} for c in sc.changes],
            "parameters": params,
            "seed": self.seed,
            "replicates": self.replicates,
            "engine": self.engine,
            "start_date": START.isoformat(),
            "end_date": date_of(self.model.horizon - 1).isoformat(),
            "package_version": __version__,
            "elapsed_seconds": round(self.elapsed, 3),
            **environment_record(),
            **self.extra_manifest,
        }

    # ------------------------------------------------------------------ plots (matplotlib lives in sim.plots)
    def plot_fan(self, ax=None, **kw):
        from .plots import fan_chart
        return fan_chart(self, ax=ax, **kw)

    def plot_capitals(self, ax=None, **kw):
        from .plots import capitals_chart
        return capitals_chart(self, ax=ax, **kw)

    # ------------------------------------------------------------------ writing the contract
    def write(self, out_dir: str | Path, *, force: bool = False, plots: bool = True,
              fall_times: bool = True) -> Path:
        """Write the output contract into ``out_dir`` atomically (all files or none)."""
        from .output import atomic_directory
        with atomic_directory(out_dir, force=force) as tmp:
            self.write_into(tmp, plots=plots, fall_times=fall_times)
        return Path(out_dir)

    def write_into(self, out: Path, *, plots: bool = True, fall_times: bool = True) -> None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "manifest.json", self.manifest())
        if fall_times:
            np.savez_compressed(out / "fall_times.npz", fall_time=self.fall_time,
                                pcode=np.array(self.geo.pcodes), mode=self.mode,
                                mode_names=np.array(["held", "negotiated", "fight",
                                                     "taliban_at_start"]),
                                assault_time=self.assault_time, end_time=self.end_time,
                                replicate=np.arange(self.replicates))
        write_csv(out / "districts.csv", self.districts())
        write_csv(out / "capitals.csv", self.capitals())
        write_csv(out / "daily.csv", self.daily())
        write_json(out / "summary.json", self.summary())
        if plots:
            from .plots import write_run_plots
            write_run_plots(self, out / "plots")


def write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (dt.date,)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))
