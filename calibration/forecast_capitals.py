"""How many capitals fall by 15 August, as of each cut-off: the whole distribution, not its median.

Issue 10's forecast goal reads the median number of capitals fallen by 15 August (within 8 of the
record's 33). As of 21 July that count is bimodal under every calibration seed: either the
Taliban turn on the cities in time and nearly all fall, or they do not and none does, so its
median flips with a few percent of the replicates (20, 2 and 27 capitals with the default's
three seeds). The probability that the count comes within 8 of the record does not sit on that
knife edge; this script gives it, with the share of futures in which no capital has fallen and
the full distribution, for the committed forecasts of the default's three calibration seeds and
of the precedent (the same model sampled less well).

It re-simulates each forecast's posterior predictive from the committed forecast posterior (its
``posterior.csv``, seed and replicates as its ``fit_report.json`` and ``forecast.json`` record them)
and first checks that the re-simulation gives the committed ``forecast.json`` exactly (Kabul's
quantiles and probabilities, the capitals' quantiles): so the new numbers are those forecasts', not
new ones. Forecasts written since this script carry the same fields in their own ``forecast.json``
(``sim.calibration_output.forecast_summary``).

Writes ``calibration/default/forecast_capitals.json`` and ``docs/figures/forecast_capitals.png``.
Run from the project folder: ``python calibration/forecast_capitals.py`` (77 s on
two cores). A missing or malformed forecast folder is a one-line error, exit code 2.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from sim.calibrate import load_config
from sim.calibration_output import (CAPITALS_WITHIN, PREDICTIVE_REPLICATES_PER_DRAW,
                                    forecast_summary)
from sim.ensemble import resolve_workers, run
from sim.errors import UserError
from sim.geography import load_geography
from sim.posterior import read_posterior

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT_JSON = HERE / "default" / "forecast_capitals.json"
OUT_PNG = ROOT / "docs" / "figures" / "forecast_capitals.png"
CUT_OFFS = ("2021-06-23", "2021-07-21")
S = "structures"

#: label -> (what it is, its forecast folders' parent under calibration/ and their prefix)
RUNS = {
    "default": ("the default (seed 20210815)", ("",)),
    "default_seed11": ("the default calibrated with seed 11", (S, "rural192_cities128", "seed11")),
    "default_seed7": ("the default calibrated with seed 7", (S, "rural192_cities128", "seed7")),
    "precedent": ("the precedent: the default's model sampled less well", (S, "precedent")),
}


def folder(label: str, cut_off: str) -> Path:
    return HERE.joinpath(*[p for p in RUNS[label][1] if p]) / f"forecast-{cut_off}"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("file not found (expected a committed forecast's JSON)", file=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"not valid JSON ({exc})", file=path) from None


def resimulate(where: Path, geo, workers: int = 0):
    """The forecast's posterior predictive again, from its committed posterior and seed (on
    ``workers`` processes, 0 = every core: the numbers do not depend on it); and the committed
    forecast.json."""
    committed = _read_json(where / "forecast.json")
    calibration = _read_json(where / "fit_report.json").get("calibration", {})
    try:
        config_path, seed = calibration["config"], int(calibration["predictive_seed"])
        as_of = dt.date.fromisoformat(committed["as_of"])
        replicates = int(committed["replicates"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"missing or malformed forecast record ({exc})", file=where) from None
    config = load_config(ROOT / config_path, geo.theatre)
    pred = run(config.scenario_path, replicates=replicates, seed=seed,
               parameters=read_posterior(where / "posterior.csv"), workers=resolve_workers(workers),
               replicates_per_draw=PREDICTIVE_REPLICATES_PER_DRAW, geo=geo, keep_fall_times=True)
    return pred, as_of, committed


def check_reproduced(summary: dict, committed: dict, where: Path) -> None:
    """Every figure the committed forecast.json gives about Kabul and the capitals must come out
    the same from the re-simulation (the new fields aside)."""
    for key, value in committed.items():
        if key not in summary:          # the conditional forecast, the fit, the timing
            continue
        mine = summary[key]
        if isinstance(value, dict):
            mine = {k: mine.get(k) for k in value}
        if mine != value:
            raise AssertionError(f"{where}: re-simulated {key} {mine} differs from the committed "
                                 f"{value}")


def main(workers: int = 0) -> dict:
    geo = load_geography()
    out = {"what": "capitals fallen by the end of 15 August 2021 (the record: 33 of 34), in each "
                   "committed forecast's posterior predictive, re-simulated from its committed "
                   "posterior and checked against its forecast.json",
           "within": CAPITALS_WITHIN, "forecasts": {}}
    for label, (what, _) in RUNS.items():
        for cut_off in CUT_OFFS:
            where = folder(label, cut_off)
            pred, as_of, committed = resimulate(where, geo, workers)
            summary = forecast_summary(pred, as_of)
            check_reproduced(summary, committed, where)
            caps = pred.fallen_by(pred.theatre.capital_fell, capitals=True)
            block = summary["capitals_fallen_by_2021_08_15"]
            out["forecasts"][f"{label} as of {cut_off}"] = {
                "run": label, "what": what, "as_of": cut_off,
                "folder": where.relative_to(ROOT).as_posix(),
                **block,
                "share_1_to_24": float(((caps >= 1) & (caps <= 24)).mean()),
                "share_at_least_25": float((caps >= 25).mean()),
                "histogram": np.bincount(caps.astype(int), minlength=35).tolist(),
                "p_kabul_falls_by_2021_08_31": summary["p_kabul_falls_by_2021_08_31"],
            }
            print(f"{label:15s} {cut_off}: median {block['q50']:4.0f}  P(within "
                  f"{CAPITALS_WITHIN} of 33) {block[f'share_within_{CAPITALS_WITHIN}_of_record']:.3f}"
                  f"  none {block['share_none']:.3f}  mean {block['mean']:.1f}", flush=True)
    OUT_JSON.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    figure(out).savefig(OUT_PNG, dpi=130, bbox_inches="tight")
    return out


def figure(out: dict):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = {"default": "#1b4f72", "default_seed11": "#5dade2", "default_seed7": "#48c9b0",
               "precedent": "#999999"}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    counts = np.arange(35)
    within = out["within"]
    for ax, cut_off in zip(axes, CUT_OFFS):
        ax.axvspan(33 - within - 0.5, 34.5, color="#f9e79f", alpha=0.5, lw=0,
                   label=f"within {within} of the record")
        ax.axvline(33, color="black", lw=1.2, ls="--", label="the record: 33")
        for label in RUNS:
            f = out["forecasts"][f"{label} as of {cut_off}"]
            share = np.asarray(f["histogram"]) / sum(f["histogram"])
            p = f[f"share_within_{within}_of_record"]
            ax.step(counts, share, where="mid", color=colours[label],
                    lw=2.2 if label == "default" else 1.4,
                    label=f"{label}: median {f['q50']:.0f}, P(within {within}) {p:.2f}")
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 1)
        ax.set_xlim(-0.5, 34.5)
        ax.set_xlabel("capitals fallen by the end of 15 August (of 34)")
        ax.set_title(f"forecast as of {cut_off}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5, loc="upper center")
    axes[0].set_ylabel("share of the forecast's futures (log scale)")
    fig.suptitle("Capitals fallen by 15 August, as the forecasts saw it: none or nearly all, "
                 "so the median flips with the seed and the probability does not", fontsize=10)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    try:
        main()
    except UserError as exc:
        print(f"forecast_capitals: {exc}", file=sys.stderr)
        sys.exit(2)
