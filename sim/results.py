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

from .version import __version__
from .model import Model
from .parameters import NAMES, ParameterTable
from .provenance import environment_record, manifest_digest
from .summary import QUANTILE_METHOD, Summary, iso_or_blank, quantiles  # noqa: F401

# Every date here is on the result's own theatre's clock (``result.theatre``): the origin, the
# capital's recorded fall (Kabul, 15 August 2021), the deadline and the first capital's fall.


#: Above this many replicates the full fall-time array is kept only on request.
FALL_TIMES_LIMIT = 20_000


class ResultBuilder:
    """Collects chunks of replicates: always the streaming summary, and the full fall times and
    modes when they are kept (the default up to 20,000 replicates)."""

    def __init__(self, model: Model, replicates: int, keep_fall_times: bool = True):
        self.model = model
        self.summary = Summary(model, replicates)
        self.fall_time = np.full((replicates, model.n), np.nan) if keep_fall_times else None
        self.mode = np.zeros((replicates, model.n), dtype=np.int8) if keep_fall_times else None

    def add(self, reps: range, chunk) -> None:
        self.summary.add(reps, chunk.fall_time, chunk.mode, chunk.assault_time, chunk.end_time)
        if self.fall_time is not None:
            sl = slice(reps.start, reps.stop)
            self.fall_time[sl] = chunk.fall_time
            self.mode[sl] = chunk.mode


@dataclass(eq=False)
class EnsembleResult:
    """An ensemble's outcome: its summary, the full fall times when kept, and what produced them."""

    model: Model
    scenario: Any                 # sim.scenario.Scenario
    seed: int
    source: Any                   # sim.ensemble.ParameterSource
    table: ParameterTable         # the parameters each replicate used
    summary: Summary
    fall_time: np.ndarray | None = None   # (R, n) days since the theatre's start, NaN = never
    mode: np.ndarray | None = None        # (R, n) int8, see sim.model; if kept
    engine: str = "batch"
    elapsed: float = 0.0
    extra_manifest: dict = field(default_factory=dict)
    replicates_per_draw: int = 1          # consecutive replicates sharing one parameter draw
    plot_day_range: tuple[float, float] | None = None   # shared x range of capitals.png, if set

    @classmethod
    def from_builder(cls, b: ResultBuilder, **kw) -> "EnsembleResult":
        assert b.summary.complete, "some replicates were not simulated"
        return cls(model=b.model, summary=b.summary, fall_time=b.fall_time, mode=b.mode, **kw)

    # ------------------------------------------------------------------ basics
    @property
    def geo(self):
        return self.model.geo

    @property
    def theatre(self):
        """The theatre simulated (its clock, capital and key dates)."""
        return self.model.geo.theatre

    @property
    def replicates(self) -> int:
        return self.summary.replicates

    @property
    def n_days(self) -> int:
        return int(self.model.horizon)

    @property
    def dates(self) -> list[dt.date]:
        start = self.theatre.start
        return [start + dt.timedelta(days=d) for d in range(self.n_days)]

    @property
    def kabul_fall_time(self) -> np.ndarray:
        return self.summary.kabul_time

    @property
    def assault_time(self) -> np.ndarray:
        return self.summary.assault_time

    @property
    def end_time(self) -> np.ndarray:
        return self.summary.end_time

    @property
    def has_fall_times(self) -> bool:
        return self.fall_time is not None

    def fallen_by(self, date: dt.date, capitals: bool = False) -> np.ndarray:
        """Per replicate, the number of districts (or capitals) fallen by the end of ``date``."""
        return self.summary.fallen_by(date, capitals)

    def daily_counts(self, capitals: bool = False) -> np.ndarray:
        """(R, days): districts (or capitals) fallen by the end of each day."""
        return self.summary.daily_caps if capitals else self.summary.daily_all

    # ------------------------------------------------------------------ tables
    def districts(self) -> list[dict]:
        geo, sm, th = self.geo, self.summary, self.theatre
        q = [sm.fall_day_quantile(p) for p in (0.05, 0.5, 0.95)]
        p_fall, p_neg, p_start = sm.p_fall(), sm.p_negotiated(), sm.p_taliban_at_start()
        rows = []
        for i in range(geo.n):
            rows.append({
                "pcode": geo.pcodes[i], "name": geo.names[i],
                "province": geo.provinces[geo.province_index[i]].name,
                "p_fall": float(p_fall[i]),
                "fall_date_q05": iso_or_blank(q[0][i], th), "fall_date_q50": iso_or_blank(q[1][i], th),
                "fall_date_q95": iso_or_blank(q[2][i], th),
                "p_negotiated": "" if np.isnan(p_neg[i]) else round(float(p_neg[i]), 4),
                "p_taliban_at_start": float(p_start[i]),
                "lon": round(float(geo.lon[i]), 5), "lat": round(float(geo.lat[i]), 5),
            })
        return rows

    def capitals(self) -> list[dict]:
        geo, sm, th = self.geo, self.summary, self.theatre
        rows_idx = geo.capital_rows
        qs = {p: sm.fall_day_quantile(p, rows_idx) for p in (0.05, 0.25, 0.5, 0.75, 0.95)}
        p_fall, mean = sm.p_fall()[rows_idx], sm.mean_fall_day()[rows_idx]
        rows = []
        for k, prov in enumerate(geo.provinces):
            rows.append({
                "province": prov.name, "capital": prov.capital, "pcode": prov.capital_pcode,
                "p_fall": float(p_fall[k]),
                **{f"fall_date_q{int(p * 100):02d}": iso_or_blank(qs[p][k], th) for p in qs},
                "historical_fall_date": prov.fell_on,
                "fall_day_mean": "" if np.isnan(mean[k]) else round(float(mean[k]), 3),
            })
        return rows

    def daily(self) -> list[dict]:
        counts = self.daily_counts()
        q = np.quantile(counts, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0, method=QUANTILE_METHOD)
        caps = np.quantile(self.daily_counts(capitals=True), 0.5, axis=0, method=QUANTILE_METHOD)
        mean = counts.mean(axis=0)
        rows = []
        for d, date in enumerate(self.dates):
            rows.append({"date": date.isoformat(),
                         "fallen_q05": int(q[0, d]), "fallen_q25": int(q[1, d]),
                         "fallen_q50": int(q[2, d]), "fallen_q75": int(q[3, d]),
                         "fallen_q95": int(q[4, d]), "fallen_mean": round(float(mean[d]), 3),
                         "capitals_fallen_q50": int(caps[d])})
        return rows

    def summary_dict(self) -> dict:
        """The headline numbers. Keys name the theatre's capital and dates: in Afghanistan
        ``kabul_p_fall_by_2021_08_31`` (the deadline), ``capitals_fallen_by_2021_08_15_q50`` (the
        capital's recorded fall), ``p_capital_before_2021_08_06`` (the first capital's fall); ``capitals_fallen_before_kabul_q50``
        and ``districts_held_at_kabul_fall_q50`` over the replicates where it falls (None if none)."""
        th = self.theatre
        cap, fell, stamp = th.capital_key, th.capital_fell, th.stamp
        kab = self.kabul_fall_time
        q = quantiles(kab, [0.05, 0.25, 0.5, 0.75, 0.95])
        caps_fell = self.fallen_by(fell, capitals=True)
        dist_fell = self.fallen_by(fell)
        first = th.first_capital_fell
        # measured where the capital falls, relative to its own fall: unlike counts on a fixed
        # date they do not swing by thirty when the capital's fall moves by a day (sim.measures)
        falls = np.isfinite(kab)
        others = len(self.geo.capital_rows) - 1
        at_fall = ({f"capitals_fallen_before_{cap}_q50": float(others - np.median(
                        self.summary.caps_held_at_kabul[falls])),
                    f"districts_held_at_{cap}_fall_q50": float(np.median(
                        self.summary.districts_held_at_kabul[falls]))}
                   if falls.any() else
                   {f"capitals_fallen_before_{cap}_q50": None,
                    f"districts_held_at_{cap}_fall_q50": None})
        return {
            "scenario": self.scenario.name,
            "replicates": self.replicates,
            "horizon": th.date_of(self.model.horizon - 1).isoformat(),
            f"{cap}_p_fall": float(np.isfinite(kab).mean()),
            f"{cap}_fall_date": {f"q{int(p * 100):02d}": iso_or_blank(v, th)
                                 for p, v in zip([0.05, 0.25, 0.5, 0.75, 0.95], q)},
            f"{cap}_p_fall_by_{stamp(th.deadline)}": float(
                (kab < th.day_of(th.deadline) + 1).mean()),
            f"capitals_fallen_by_{stamp(fell)}_q50": float(np.quantile(caps_fell, 0.5,
                                                                       method=QUANTILE_METHOD)),
            f"capitals_fallen_by_{stamp(fell)}_mean": float(caps_fell.mean()),
            f"districts_fallen_by_{stamp(fell)}_q50": float(np.quantile(dist_fell, 0.5,
                                                                        method=QUANTILE_METHOD)),
            f"p_capital_before_{stamp(first)}": float(
                (self.fallen_by(first - dt.timedelta(days=1), capitals=True) > 0).mean()),
            "assault_date_q50": iso_or_blank(quantiles(self.assault_time, 0.5), th),
            **at_fall,
        }

    def manifest(self) -> dict:
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
            # absolute, so that `afsim reproduce` works from any working directory
            "scenario_files": [str(Path(p).resolve()) for p in sc.files],
            "scenario_file_sha256": list(sc.file_hashes),
            "scenario_hash": sc.hash,
            "parameter_source": self.source.label,
            "parameter_source_kind": self.source.kind,
            "parameter_source_file": (str(Path(self.source.path).resolve()) if self.source.path
                                      else None),
            "parameter_source_values": ({n: float(v) for n, v in zip(NAMES, self.source.rows[0])}
                                        if self.source.kind == "fixed" else None),
            "parameter_source_sha256": self.source.digest,
            "parameter_changes": [{"name": c.name, "op": c.op, "value": c.value} for c in sc.changes],
            "parameters": params,
            "seed": self.seed,
            "replicates": self.replicates,
            "replicates_per_draw": self.replicates_per_draw,
            "engine": self.engine,
            "fall_times_kept": self.has_fall_times,
            "theatre": self.theatre.name,
            "start_date": self.theatre.start.isoformat(),
            "end_date": self.theatre.date_of(self.model.horizon - 1).isoformat(),
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
              fall_times: bool = True, progress: bool = False) -> Path:
        """Write the output contract into ``out_dir`` atomically (all files or none)."""
        from .output import atomic_directory
        from .progress import progress_bar
        bar = progress_bar(3 if plots else 2, "writing", progress, unit="step")
        with atomic_directory(out_dir, force=force) as tmp:
            self.write_into(tmp, plots=plots, fall_times=fall_times, on_step=bar.update)
        bar.close()
        return Path(out_dir)

    def write_into(self, out: Path, *, plots: bool = True, fall_times: bool = True,
                   on_step=None) -> None:
        step = on_step or (lambda n=1: None)
        out.mkdir(parents=True, exist_ok=True)
        manifest = json.loads(json.dumps(self.manifest(), default=_json_default))
        manifest["manifest_sha256"] = manifest_digest(manifest)
        write_json(out / "manifest.json", manifest)
        if fall_times and self.has_fall_times:
            np.savez_compressed(out / "fall_times.npz", fall_time=self.fall_time,
                                pcode=np.array(self.geo.pcodes), mode=self.mode,
                                mode_names=np.array(["held", "negotiated", "fight",
                                                     "taliban_at_start"]),
                                assault_time=self.assault_time, end_time=self.end_time,
                                replicate=np.arange(self.replicates),
                                draw_group=np.arange(self.replicates) // self.replicates_per_draw,
                                dates=np.array([d.isoformat() for d in self.dates]),
                                README=np.array(fall_times_readme(self)))
        step(1)
        write_csv(out / "districts.csv", self.districts())
        from .district_layer import write_district_geojson
        write_district_geojson(self, out / "districts.geojson")
        write_csv(out / "capitals.csv", self.capitals())
        write_csv(out / "daily.csv", self.daily())
        write_json(out / "summary.json", self.summary_dict())
        step(1)
        if plots:
            from .plots import write_run_plots
            write_run_plots(self, out / "plots", day_range=self.plot_day_range)
            step(1)


def fall_times_readme(result) -> list[str]:
    """The layout of fall_times.npz, stored in the file itself (its ``README`` array)."""
    th = result.theatre
    origin = th.start.isoformat()
    return [
        f"fall_times.npz written by afsim {__version__}: scenario '{result.scenario.name}', "
        f"{result.replicates} replicates x {result.geo.n} districts, seed {result.seed}.",
        "Load with numpy.load(path); every array is plain numpy (no pickle needed).",
        f"Time unit: days since {origin} 00:00 (local day boundaries; day d is the date "
        f"{origin} + floor(d) days). NaN = did not happen before the horizon "
        f"({th.date_of(result.model.horizon - 1).isoformat()}).",
        "fall_time[replicate, district]: float64, time the district fell (Taliban-held on "
        f"{origin}: 0).",
        "mode[replicate, district]: int8, how it fell; codes in mode_names "
        "(0 held, 1 negotiated, 2 fight, 3 Taliban-held at the start).",
        "pcode[district]: AGCHO district code of each column (same order as districts.csv).",
        "replicate[replicate]: replicate number k (its random numbers depend on seed and k only).",
        "draw_group[replicate]: k // replicates_per_draw; replicates of one group share one "
        f"posterior parameter draw (replicates_per_draw = {result.replicates_per_draw}).",
        "assault_time[replicate], end_time[replicate]: start of the assault on the cities and end "
        "of the run, in the same time unit.",
        f"dates[day]: ISO date of model day 0, 1, ... ({len(result.dates)} days), for labelling.",
    ]


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
