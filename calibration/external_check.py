"""Check a calibration's district predictions against a source it was not built from.

``sim/data/district_reports_tolonews.csv`` holds, for 132 districts, the first date TOLOnews
reported each under Taliban control (``docs/district_facts.md``, "A second source"). This script
rebuilds a committed calibration's posterior predictive ensemble exactly (same posterior, same
seed, same replicates: its ``fit_report.json``'s seed-checked district skill is reproduced to
the bit before anything else is reported), scores it on those reports (rural districts; the
capitals' dates are fitted) with the same Brier skill over the national-share null and Spearman
of median fall dates as the seed's held-out facts, and writes ``external_check.json`` beside the
fit report and ``plots/external_check_map.png``: the reported dates beside the model's median
fall dates of the same districts, on the district polygons. Newer fit reports carry the same
numbers (``district_skill_external``).

Run from the project folder: ``python calibration/external_check.py [FOLDER ...]`` (default
``calibration/default``; about 10 s per folder on two cores). A folder needs the calibration's
``fit_report.json`` and ``posterior.csv``, and its config (``config.toml`` in the folder, else
the path the fit report names); otherwise a one-line error and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.calibration_config import load_config
from sim.calibration_output import (PREDICTIVE_REPLICATES_PER_DRAW, external_district_validation,
                                    fixed_date_validation)
from sim.district_reference import reference_validation
from sim.district_skill import district_skill
from sim.errors import UserError
from sim.ensemble import run
from sim.geography import load_geography
from sim.posterior import read_posterior
from sim.scenario import load_scenario

HERE = Path(__file__).resolve().parent


def rebuild_predictive(folder: Path):
    """The posterior predictive ensemble of the calibration in ``folder``, rebuilt exactly and
    checked against its fit report's held-out district skill (to the bit): (run, geography,
    scenario, fit report)."""
    for name in ("fit_report.json", "posterior.csv"):
        if not (folder / name).is_file():
            raise UserError(f"no {name} (expected a calibration's output folder, e.g. "
                            "calibration/default)", file=folder)
    geo = load_geography()
    report = json.loads((folder / "fit_report.json").read_text(encoding="utf-8"))
    cal = report["calibration"]
    kept = folder / "config.toml"     # a structure's folder keeps the config it was run with
    config = load_config(kept if kept.is_file() else HERE.parent / cal["config"], geo.theatre)
    scenario = load_scenario(config.scenario_path, geo)
    pred = run(scenario, replicates=report["replicates"],
               seed=cal["predictive_seed"], parameters=read_posterior(folder / "posterior.csv"),
               workers=None, replicates_per_draw=PREDICTIVE_REPLICATES_PER_DRAW, geo=geo,
               keep_fall_times=True)
    again = district_skill(pred.fall_time, split="holdout").to_dict()
    if again != report["district_skill"]["holdout"]:
        want = report["district_skill"]["holdout"]["skill"]["value"]
        raise SystemExit(f"{folder}: the predictive ensemble was not reproduced (held-out skill "
                         f"{again['skill']['value']} vs {want})")
    return pred, geo, scenario, report


def run_on_folder(script: str, compute, argv: list[str]):
    """A check script's command line: ``compute`` the calibration folder named by the first
    argument (default ``calibration/default``); a user's mistake is one line and exit code 2."""
    try:
        return compute((HERE.parent / (argv[0] if argv else "calibration/default")).resolve())
    except UserError as exc:
        print(f"{script}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def check(folder: Path, out_dir: Path | None = None) -> dict:
    """Score the calibration in ``folder``; write ``external_check.json`` and the map into
    ``out_dir`` (default: ``folder`` itself)."""
    pred, geo, scenario, report = rebuild_predictive(folder)
    cal = report["calibration"]
    out_dir = folder if out_dir is None else out_dir
    label = str(folder.relative_to(HERE.parent) if folder.is_relative_to(HERE.parent) else folder)
    out = {"calibration": label, "replicates": report["replicates"],
           "predictive_seed": cal["predictive_seed"],
           "reproduced": "the fit report's held-out district skill, to the bit",
           **external_district_validation(pred.fall_time, geo),
           "covariate_reference": {
               "what": "a covariate-only proportional-hazards reference on the run's national "
                       "curve (sim/district_reference.py), fitted to the fit split(s) and scored "
                       "on each source's held-out facts beside the simulation, paired (Brier "
                       "skill; and the Spearman of median fall dates on the dated facts)",
               **reference_validation(pred.fall_time, geo, scenario.focus_regions)},
           "at_fixed_dates": fixed_dates(pred.fall_time, geo, scenario),
           "count_by_end_of_offensive": count_by_end_of_offensive(pred.fall_time, geo)}
    (out_dir / "external_check.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    draw_map(pred.fall_time, geo, out_dir / "plots" / "external_check_map.png")
    return out


def fixed_dates(fall_time, geo, scenario) -> dict:
    """The held-out facts of both sources scored as statuses at dates common to every district
    (``sim.district_skill.fixed_date_skill``), the covariate reference beside them, and what an
    oracle that knows each TOLOnews district's fall to within a given sd would score either way:
    a fact's own date asks for the day, which caps the skill of any model that does not know it
    (``docs/district_facts.md``, "Scoring at fixed dates")."""
    import numpy as np

    from sim.district_facts import load_sources
    from sim.district_neighbours import neighbour_validation
    from sim.district_skill import STATUS_DATES, district_skill, fixed_date_skill
    sources = load_sources(geo)
    out = {"what": "Brier skill of P(district had fallen by the end of each date) over the "
                   "national share, at every date where a district's facts imply its status; "
                   "bootstrap over districts. Spearman as on the facts' own dates.",
           **fixed_date_validation(fall_time, geo),
           "covariate_reference": reference_validation(fall_time, geo, scenario.focus_regions,
                                                       status_dates=STATUS_DATES)}
    out["given_neighbours"] = {
        "what": "each held-out district's P(fallen) given its neighbours' reported statuses on "
                "the same date (both sources' fit splits), read off this run's replicates that "
                "agree with them, beside the unconditional one and an empirical neighbour "
                "reference (sim/district_neighbours.py)",
        **neighbour_validation(fall_time, geo, sources, STATUS_DATES)}
    held = sources["tolonews"].select(split="holdout", capitals=False)
    captured = held.select(kinds="captured")
    truth = 0.5 * (captured.lower + captured.upper + 1.0)
    oracle = {}
    for sd in (3.0, 7.0, 14.0, 28.0):
        rng = np.random.default_rng(int(sd))
        run = np.array(fall_time, dtype=float, copy=True)
        run[:, captured.row] = truth + rng.normal(0.0, sd, size=(run.shape[0], len(captured)))
        oracle[f"sd_{sd:g}_days"] = {
            "on_the_facts_own_dates": district_skill(run, held, bootstrap=200).skill.value,
            "at_fixed_dates": fixed_date_skill(run, held, bootstrap=200).skill.value}
    out["oracle_tolonews_holdout"] = {
        "what": "this run with each held-out TOLOnews district's fall times replaced by its "
                "reported date plus normal noise of the given sd: the skill a model centred on "
                "the truth would score",
        **oracle}
    return out


def count_by_end_of_offensive(fall_time, geo) -> dict:
    """The districts fallen by the end of the offensive's last day, against the record's range
    (never fitted: the countryside's stage stops at 14 August, A25). The record, in the package's
    ``history.csv``: H05 districts held at the start, H01 captured by the end of the offensive
    (its ``date_end``), H02 claimed on top; H03 "later controlling 305-399 districts"."""
    import csv
    import datetime as dt

    import numpy as np
    with (geo.source_dir / "history.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    start, captured, claimed = (float(rows[k]["value"]) for k in ("H05", "H01", "H02"))
    end = dt.date.fromisoformat(rows["H01"]["date_end"])
    low, high = start + captured, start + captured + claimed
    day = geo.theatre.day_of(end) + 1
    with np.errstate(invalid="ignore"):
        count = (np.nan_to_num(fall_time, nan=np.inf) < day).sum(axis=1)
    q05, q50, q95 = np.quantile(count, [0.05, 0.5, 0.95])
    return {"what": "districts (of all the geography's, capitals included) fallen by the end of "
                    f"{end.isoformat()} in the predictive run, against the record: H05 + H01 "
                    "(held at the start and captured by then) to H05 + H01 + H02 (and the "
                    "captures the Taliban claimed); never fitted",
            "date": end.isoformat(), "record_low": low, "record_high": high,
            "districts": int(geo.n), "q05": float(q05), "q50": float(q50), "q95": float(q95),
            "p_inside_record_range": float(((count >= low) & (count <= high)).mean()),
            "p_below_record_range": float((count < low).mean())}


def draw_map(fall_time, geo, path: Path) -> None:
    """The reported fall dates (midpoints of the intervals) beside the model's median fall dates,
    for the rural districts TOLOnews reported; the others grey."""
    import numpy as np

    from sim.district_facts import REPORTS_FILE, load_district_facts
    from sim.district_skill import median_fall_day
    from sim.maps import side_by_side
    captured = load_district_facts(REPORTS_FILE, geo=geo).select(kinds="captured", capitals=False)
    reported = np.full(geo.n, np.nan)
    reported[captured.row] = captured.midpoint
    model = np.full(geo.n, np.nan)
    model[captured.row] = median_fall_day(fall_time)[captured.row]
    fig = side_by_side(reported, model, titles=(
        f"TOLOnews: first reported taken ({len(captured)} rural districts)",
        "The model: median fall date of the same districts"), geo=geo, date_values=True,
        missing_label="not reported, a capital, or not mapped",
        label="fall date", title="Where the collapse came first: reported against simulated "
        "(calibration/external_check.py)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str]) -> None:
    f = lambda e: f"{e['value']:+.2f} [{e['lo']:+.2f}, {e['hi']:+.2f}]"  # noqa: E731
    for name in argv or ["calibration/default"]:
        try:
            out = check((HERE.parent / name).resolve())
        except UserError as exc:       # a user's mistake: one line, exit 2, nothing written
            print(f"external_check: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        print(out["calibration"])
        for split in ("holdout", "fit", "all"):
            s = out[split]
            print(f"  {split:8s} n={s['n_facts']:3d}  Brier skill {f(s['skill'])}  Spearman "
                  f"(n={s['n_dated']}) {f(s['spearman'])}")
        c = out["count_by_end_of_offensive"]
        print(f"  districts fallen by {c['date']}: median {c['q50']:.0f} (90%: {c['q05']:.0f}-"
              f"{c['q95']:.0f}); the record {c['record_low']:.0f}-{c['record_high']:.0f}, inside in "
              f"{c['p_inside_record_range']:.0%} of the replicates, below in "
              f"{c['p_below_record_range']:.0%}")
        fixed = out["at_fixed_dates"]
        for key in ("tolonews_holdout", "seed_holdout"):
            s = fixed[key]
            print(f"  at fixed dates, {key} (n={s['n_facts']} statuses): Brier skill "
                  f"{f(s['skill'])}")
        for key, c in fixed["covariate_reference"]["fitted_to_both_fit_splits"].items():
            print(f"  at fixed dates, reference fitted to both fit splits, {key}: "
                  f"{f(c['reference_skill'])}; intercept alone "
                  f"{f(fixed['covariate_reference']['intercept_only_fitted_to_seed_fit_split'][key]['reference_skill'])}")
        for key in ("tolonews_holdout", "seed_holdout"):
            g = fixed["given_neighbours"][key]
            print(f"  at fixed dates, {key}: unconditional {f(g['skill_unconditional'])}, given "
                  f"the neighbours' reports {f(g['skill_given_neighbours'])}, neighbour reference "
                  f"{f(g['skill_neighbour_reference'])}")
        for key, o in fixed["oracle_tolonews_holdout"].items():
            if key != "what":
                print(f"  oracle {key}: {o['on_the_facts_own_dates']:+.2f} on the facts' own dates, "
                      f"{o['at_fixed_dates']:+.2f} at fixed dates")
        for fit, scored in out["covariate_reference"].items():
            if fit == "what":
                continue
            for name, c in scored.items():
                print(f"  reference {fit}, {name} (n={c['facts']}): reference "
                      f"{f(c['reference_skill'])}, simulation {f(c['simulation_skill'])}, "
                      f"difference {f(c['simulation_minus_reference'])}")
                if "reference_spearman" in c:
                    print(f"    Spearman (n={c['dated_facts']}): reference "
                          f"{f(c['reference_spearman'])}, simulation {f(c['simulation_spearman'])}, "
                          f"difference {f(c['simulation_minus_reference_spearman'])}")


if __name__ == "__main__":
    main(sys.argv[1:])
