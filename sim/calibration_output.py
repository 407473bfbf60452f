"""What a calibration or a forecast leaves on disk: posterior, fit report, figures, predictive run.

The posterior predictive is simulated with a different seed from the calibration's (the
calibration's replicates were used to fit; checking the fit on fresh randomness is fairer), for
the full horizon, with each group of ``PREDICTIVE_REPLICATES_PER_DRAW`` replicates sharing one
parameter draw from the posterior. The fit report judges it twice: as it is, and conditioned on
the countryside as recorded (the district counts the calibration saw; :mod:`sim.conditioning`),
which is what an analyst who knew the counts would predict.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np

from .calibrate import CalibrationResult, finish_checkpoints, summarise_stage, to_json
from .conditioning import condition_on_counts, contradicts_known_facts
from .ensemble import run
from .errors import UserError, arg
from .fit import fit_report, null_models, what_decides_the_width
from .output import atomic_directory
from .parameter_source import draw_groups
from .posterior import DEFAULT_POSTERIOR
from .results import write_csv
from .summary import quantiles
from .targets import load_targets

#: The goals of the calibration issue, checked in every fit report.
GOALS = {
    "capital_mae_days": ("<=", 1.5), "capital_spearman": (">=", 0.65), "coverage_90": (">=", 0.85),
    "interval_width_90": ("<=", 9.0), "p_capital_before_aug6": ("<=", 0.05),
}


#: Replicates sharing one posterior draw in the predictive run: enough for the conditioning on
#: the recorded counts to have a choice of countrysides within each draw.
PREDICTIVE_REPLICATES_PER_DRAW = 10

#: How close to the record the count of capitals fallen by the capital's own fall must come for
#: issue 10's forecast goal ("within 8 of the record's 33"). A forecast reports the probability
#: of that beside the median: the count is bimodal (the cities attacked in time or not), so its
#: median can flip between none and nearly all with a few percent of the replicates.
CAPITALS_WITHIN = 8


def predictive(result: CalibrationResult, replicates: int, workers: int, progress: bool):
    """The posterior predictive run, on the geography the calibration ran on (its targets')."""
    # the fit report reads every replicate's fall times, so they are kept at any size
    return run(result.scenario, replicates=replicates, seed=result.config.seed + 1,
               parameters=result.posterior_source(), workers=workers, progress=progress,
               replicates_per_draw=PREDICTIVE_REPLICATES_PER_DRAW, geo=result.geo,
               keep_fall_times=True)


def conditioned(result: CalibrationResult, pred):
    """The predictive's replicates resampled on the counts this calibration saw (for a forecast:
    only those dated before its cut-off, and what was known about the cities that morning: no
    capital fallen before the record's first, the assault not begun; a replicate that
    contradicts them is not a future the analyst could still face)."""
    excluded, facts = None, ()
    if result.as_of is not None:
        known = tuple(c for c in result.targets.constraints
                      if c.kind in ("no_capital_before", "no_assault_before") and c.weight > 0)
        excluded = contradicts_known_facts(pred.fall_time, pred.assault_time,
                                           np.asarray(pred.geo.capital_rows), known, pred.theatre)
        facts = tuple(c.id for c in known)
    return condition_on_counts(pred.fall_time, result.targets.fitted_districts,
                               pred.replicates_per_draw, result.config.seed + 2, pred.theatre,
                               excluded, facts)


def goals_table(report: dict) -> dict:
    out = {}
    for key, (op, limit) in GOALS.items():
        v = report.get(key)
        out[key] = {"value": v, "goal": f"{op} {limit}",
                    "met": v is not None and (v <= limit if op == "<=" else v >= limit)}
    errs = [abs(e["relative_error"]) for e in report["district_checkpoint_errors"] if e["weight"] > 0]
    out["district_checkpoints_within_10_percent"] = {
        "value": max(errs) if errs else None, "goal": "every fitted checkpoint within 10%",
        "met": bool(errs) and max(errs) <= 0.10}
    k = report["kabul_fall_date"]
    out["kabul_median_within_2_days"] = {"value": k["median_error_days"], "goal": "|error| <= 2 days",
                                         "met": k["median_error_days"] is not None
                                         and abs(k["median_error_days"]) <= 2}
    out["kabul_interval_90_width"] = {"value": k["width_90_days"], "goal": "<= 12 days",
                                      "met": k["width_90_days"] is not None and k["width_90_days"] <= 12}
    c = report.get("coherence")
    if c:      # where the capital never fell, nothing fell before it: no value, goal not met
        caps, share = c.get("capitals_before_kabul_q50"), c.get("share_fallen_at_kabul_q50")
        out["capitals_before_kabul_median"] = {"value": caps, "goal": ">= 20 (record: 32)",
                                               "met": caps is not None and caps >= 20}
        out["districts_fallen_at_kabul_median"] = {
            "value": share, "goal": ">= 0.5 (record: about 0.9)",
            "met": share is not None and share >= 0.5}
    d = (report.get("district_skill") or {}).get("holdout")
    if d:
        out["district_brier_skill_holdout"] = {"value": d["skill"]["value"], "goal": ">= 0.3",
                                               "met": d["skill"]["value"] >= 0.3}
        sp = d["spearman"]["value"]
        out["district_spearman_holdout"] = {"value": sp, "goal": ">= 0.55",
                                            "met": sp is not None and np.isfinite(sp) and sp >= 0.55}
    e = (report.get("district_skill_external") or {}).get("holdout")
    if e:
        out["district_brier_skill_external_holdout"] = {
            "value": e["skill"]["value"], "goal": ">= 0.3 (TOLOnews reports, never fitted)",
            "met": e["skill"]["value"] >= 0.3}
        sp = e["spearman"]["value"]
        out["district_spearman_external_holdout"] = {
            "value": sp, "goal": ">= 0.55 (TOLOnews reports, never fitted)",
            "met": sp is not None and np.isfinite(sp) and sp >= 0.55}
    for name, label in (("seed", "the seed's facts"), ("tolonews", "TOLOnews reports")):
        f = (report.get("district_skill_at_fixed_dates") or {}).get(f"{name}_holdout")
        if f:
            out[f"district_brier_skill_at_fixed_dates_{name}_holdout"] = {
                "value": f["skill"]["value"],
                "goal": f">= 0.3 ({label}, held out, as statuses at fixed dates)",
                "met": f["skill"]["value"] >= 0.3}
    return out


def coherence(fall_time: np.ndarray, geo) -> dict:
    """What had fallen when Kabul fell (replicates where it fell): capitals strictly before it,
    and the share of all districts (the record: 32 capitals, about 90% of districts)."""
    kabul = fall_time[:, geo.kabul_row]
    fell = np.isfinite(kabul)
    if not fell.any():
        return {"p_kabul_falls": 0.0}
    ft, k = fall_time[fell], kabul[fell][:, None]
    caps = (ft[:, geo.capital_rows] < k).sum(axis=1)
    share = (ft < k).sum(axis=1) / geo.n
    return {"p_kabul_falls": float(fell.mean()),
            "capitals_before_kabul_q05": float(np.quantile(caps, 0.05)),
            "capitals_before_kabul_q50": float(np.median(caps)),
            "capitals_before_kabul_q95": float(np.quantile(caps, 0.95)),
            "share_fallen_at_kabul_q50": float(np.median(share))}


def district_validation(fall_time: np.ndarray, geo) -> dict:
    """Skill at the district facts (issue 11): the held-out split is the validation the fit
    never saw; the fit split is shown beside it. Same run for the model and its null. Empty for
    a theatre without a facts table (``district_facts.csv`` in its folder)."""
    from .district_facts import FACTS_FILE, load_district_facts
    from .district_skill import district_skill
    if not (geo.theatre.data_dir / FACTS_FILE.name).is_file():
        return {}
    facts = load_district_facts(geo=geo)
    return {split: district_skill(fall_time, facts, split=split).to_dict()
            for split in ("holdout", "fit")}


def external_district_validation(fall_time: np.ndarray, geo) -> dict:
    """Skill at a second source of district capture dates (TOLOnews' first reports of each
    district under Taliban control, ``district_reports_tolonews.csv``; rural districts only: the
    capitals' dates are fitted). The ``holdout`` split is never fitted; the ``fit`` split only
    when the targets list the table (``[district_facts] files``); ``all`` is both. Empty for a
    theatre without the table."""
    from .district_facts import REPORTS_FILE, load_district_facts
    from .district_skill import district_skill
    path = geo.theatre.data_dir / REPORTS_FILE.name
    if not path.is_file():
        return {}
    facts = load_district_facts(path, geo=geo)
    scores = {split or "all": district_skill(fall_time, facts, split=split, capitals=False)
              for split in ("holdout", "fit", None)}
    return {"source": REPORTS_FILE.name, **{k: s.to_dict() for k, s in scores.items()}}


def fixed_date_validation(fall_time: np.ndarray, geo) -> dict:
    """The district facts of both sources (the seed's and, where the theatre has them, TOLOnews'),
    rural districts, scored as statuses at dates common to every district
    (:func:`sim.district_skill.fixed_date_skill`: "had district i fallen by d?"), each split
    apart. A fact's own date asks when, to the day, a district fell, which caps the skill of any
    model that does not know the day (``docs/district_facts.md``, "Scoring at fixed dates")."""
    from .district_facts import load_sources
    from .district_skill import STATUS_DATES, fixed_date_skill
    sources = load_sources(geo)
    if not sources:
        return {}
    return {"dates": [d.isoformat() for d in STATUS_DATES],
            **{f"{name}_{split}": fixed_date_skill(fall_time, facts, split=split,
                                                   capitals=False).to_dict()
               for name, facts in sources.items() for split in ("holdout", "fit")}}


def judge(fall_time: np.ndarray, assault_time: np.ndarray, geo, targets, horizon,
          draw_group: np.ndarray, cov=None) -> dict:
    """Every measure of the fit, for one ensemble of fall times (``draw_group``: each replicate's
    posterior draw; ``cov``: the run's covariates, for the covariate-only reference of the
    district skill, left out without them)."""
    report = fit_report(fall_time, geo, targets, horizon)
    aq = quantiles(assault_time, [0.05, 0.5, 0.95])
    report["assault_start_date"] = {k: (geo.theatre.date_of(v).isoformat() if np.isfinite(v) else None)
                                    for k, v in zip(("q05", "q50", "q95"), aq)}
    report["what_decides_the_width"] = what_decides_the_width(fall_time, assault_time, draw_group,
                                                              geo, targets)
    report["coherence"] = coherence(fall_time, geo)
    report["district_skill"] = district_validation(fall_time, geo)
    report["district_skill_external"] = external_district_validation(fall_time, geo)
    report["district_skill_at_fixed_dates"] = fixed_date_validation(fall_time, geo)
    if cov is not None:
        from .district_reference import reference_validation
        report["district_skill_reference"] = reference_validation(fall_time, geo, cov=cov)
    report["goals"] = goals_table(report)
    return report


def build_report(result: CalibrationResult, pred) -> dict:
    geo = pred.geo
    full_targets = load_targets(result.config.targets_path, geo)   # judged on the whole record
    groups = draw_groups(len(pred.fall_time), pred.replicates_per_draw)
    report = judge(pred.fall_time, pred.assault_time, geo, full_targets, pred.model.horizon, groups,
                   cov=pred.model.cov)
    cond = conditioned(result, pred)
    i = cond.indices
    report["conditional_on_recorded_counts"] = {
        **cond.to_dict(),
        "meaning": "the same predictive, each posterior draw's replicates resampled on how well "
                   "their countryside matches the recorded district counts the calibration saw",
        **judge(pred.fall_time[i], pred.assault_time[i], geo, full_targets, pred.model.horizon,
                groups[i], cov=pred.model.cov)}
    report["null_models"] = null_models(geo, full_targets)
    report["calibration"] = {
        "config": str(result.config.path), "config_sha256": result.config.digest,
        "name": result.config.name, "seed": result.config.seed,
        "predictive_seed": result.config.seed + 1,
        "as_of": result.as_of.isoformat() if result.as_of else None,
        "targets_used": {
            "districts": [t.id for t in result.targets.fitted_districts],
            "district_ranges": [t.id for t in result.targets.fitted_ranges],
            "capitals": [c.province for c in result.targets.capitals],
            "constraints": [f"{c.id} ({c.date})" for c in result.targets.constraints]},
        "method": "simulated likelihood with common random numbers; emcee ensemble MCMC; two "
                  "modules (rural, then capitals) with a cut" + (
                      ", lifted for the record's start (the countryside's draws reweighted by it "
                      "given each city draw; sim/cut_lift.py)" if result.lifted else ""),
        "seconds": round(result.seconds, 1),
        "stages": {st.name: summarise_stage(st) for st in result.stages},
        "lift_cut": result.lifted.summary() if result.lifted else None,
        "highest_posterior_draw": {name: value for st in result.stages
                                   for name, value in highest_draw(st).items()},
    }
    return report


def highest_draw(stage) -> dict:
    """The stage's post-burn-in draw with the highest log-posterior (a coherent point: marginal
    medians of correlated coefficients need not be)."""
    lp = stage.log_prob[stage.burn_in:]
    i = np.unravel_index(np.argmax(lp), lp.shape)
    z = stage.chain[stage.burn_in:][i]
    return {p.name: float(p.from_z(z[j])) for j, p in enumerate(stage.priors)}


def write_calibration(result: CalibrationResult, out: Path, *, replicates: int | None = None,
                      workers: int = 1, progress: bool = False, force: bool = False,
                      set_default: bool = False) -> dict:
    pred = predictive(result, replicates or result.config.predictive_replicates, workers, progress)
    report = build_report(result, pred)
    with atomic_directory(out, force=force) as tmp:
        _write_common(result, pred, report, tmp)
        (tmp / "fit_report.json").write_text(to_json(report) + "\n", encoding="utf-8")
    finish_checkpoints(out)
    if set_default:
        target = default_posterior_target()
        shutil.copyfile(Path(out) / "posterior.csv", target)
    return report


def default_posterior_target(package_dir: Path | None = None) -> Path:
    """Where ``--set-default`` installs a posterior: the project's own ``sim/data/posterior.csv``,
    and only in a source checkout (a ``pyproject.toml`` beside the package). An installed copy
    (site-packages after ``pip install .``) is refused: writing there would change every run of
    that environment silently and be lost on the next install."""
    package_dir = Path(package_dir) if package_dir is not None else DEFAULT_POSTERIOR.parent.parent
    project = package_dir.parent
    if not (project / "pyproject.toml").is_file() or "site-packages" in package_dir.parts:
        raise UserError(f"the package at {package_dir} is an installed copy, not a project folder; "
                        f"set it as the default ({arg('set_default', True)}) from a source checkout "
                        f"(pip install -e .), or pass {arg('parameters', 'read_posterior(FILE)')} "
                        "to later runs", argument="set_default")
    return package_dir / "data" / DEFAULT_POSTERIOR.name


def _write_common(result: CalibrationResult, pred, report: dict, tmp: Path) -> None:
    from .plots import capitals_chart, fan_chart, posterior_marginals, posterior_pairs, trace_chart
    write_csv(tmp / "posterior.csv", result.posterior_rows())
    np.savez_compressed(tmp / "chains.npz", **{
        f"{st.name}_chain_z": st.chain for st in result.stages}, **{
        f"{st.name}_log_prob": st.log_prob for st in result.stages}, **{
        f"{st.name}_names": np.array(st.names) for st in result.stages})
    pdir = tmp / "plots"
    pdir.mkdir()
    title = "posterior predictive" + (f", calibrated as of {result.as_of}" if result.as_of else "")
    fig = fan_chart(pred)
    fig.axes[0].set_title(f"Districts under Taliban control: {title}\n{pred.replicates} replicates, "
                          f"parameters drawn from the posterior", fontsize=11)
    fig.savefig(pdir / "predictive_districts_fan.png", dpi=130)
    fig = capitals_chart(pred)
    fig.axes[0].set_title(f"Provincial capitals: {title} vs the record\n{pred.replicates} replicates",
                          fontsize=11)
    fig.savefig(pdir / "predictive_capitals.png", dpi=130)
    posterior_marginals(result).savefig(pdir / "posterior_marginals.png", dpi=120)
    for st in result.stages:
        posterior_pairs(st).savefig(pdir / f"posterior_pairs_{st.name}.png", dpi=120)
    trace_chart(result).savefig(pdir / "trace.png", dpi=110)
    pred.write_into(tmp / "predictive", plots=False)


def after_the_assault(assault: np.ndarray, capital: np.ndarray, capitals_by_day: np.ndarray,
                      within_days: float = 7.0) -> dict:
    """How fast the cities fell once the Taliban turned on them, replicate by replicate: the
    share of replicates in which the assault began by the horizon; of those whose assault began
    at least ``within_days`` before it, the share in which a first capital had fallen by the end
    of the day ``within_days`` after the assault (the precedent of A35); of those attacked, the
    share in which the capital (Kabul) fell by the horizon; and the days from the assault to the
    capital's fall (quantiles over the attacked replicates, None where it had not fallen, and
    over those in which it fell).

    ``assault``, ``capital``: (R,) model times, NaN for never; ``capitals_by_day``: (R, D) the
    capitals fallen by the end of each day. A forecast whose cities keep wide priors reads
    "instant or never" here: the capital falls the day the assault begins in many replicates and
    not at all in many others (README, Forecasts)."""
    R, D = capitals_by_day.shape
    began = np.isfinite(assault)
    a = np.where(began, assault, np.inf)
    first_day = np.where(capitals_by_day[:, -1] > 0, (capitals_by_day > 0).argmax(axis=1),
                         D).astype(float)
    seen = began & (a + within_days < D)
    with np.errstate(invalid="ignore"):
        quick = first_day <= np.floor(np.where(seen, a, 0.0) + within_days)
        after = np.where(np.isnan(capital), np.inf, capital) - a
    after = after[began]
    q = quantiles(after, [0.1, 0.5, 0.9]) if began.any() else np.full(3, np.inf)
    fell = after[np.isfinite(after)]
    qf = quantiles(fell, [0.1, 0.5, 0.9]) if len(fell) else np.full(3, np.inf)
    return {
        "within_days": float(within_days),
        "share_attacked_by_the_horizon": float(began.mean()) if R else None,
        "share_first_capital_within": float(quick[seen].mean()) if seen.any() else None,
        "share_capital_falls_once_attacked": float(np.isfinite(after).mean()) if began.any() else None,
        "capital_days_after_the_assault": {k: (round(float(v), 1) if np.isfinite(v) else None)
                                           for k, v in zip(("q10", "q50", "q90"), q)},
        "capital_days_after_the_assault_where_it_fell": {
            k: (round(float(v), 1) if np.isfinite(v) else None)
            for k, v in zip(("q10", "q50", "q90"), qf)},
    }


def forecast_summary(pred, as_of: dt.date, rows: np.ndarray | None = None) -> dict:
    """What the forecast says about the capital (Kabul) and the provincial capitals (``rows``: a
    resampling of the replicates, e.g. conditioned on the counts known at the cut-off). Keys and
    dates are the theatre's (``kabul_80_interval_contains_2021_08_15``: its recorded fall)."""
    th = pred.theatre
    cap, stamp, fell = th.capital_key, th.stamp, th.capital_fell
    rows = np.arange(pred.replicates) if rows is None else rows
    kab = pred.kabul_fall_time[rows]
    q = quantiles(kab, [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    keys = ["q05", "q10", "q25", "q50", "q75", "q90", "q95"]
    caps = pred.fallen_by(fell, capitals=True)[rows]
    lo80, hi80 = q[1], q[5]
    fell_day = th.day_of(fell)
    # the record: capitals fallen by the capital's own fall (provinces.csv: 33 of 34 in 2021)
    record = sum(1 for p in pred.geo.provinces if p.fell_on and p.fell_on <= fell.isoformat())
    out = {
        "as_of": as_of.isoformat(),
        "replicates": int(len(rows)),
        f"{cap}_fall_date": {k: (th.date_of(v).isoformat() if np.isfinite(v) else None)
                             for k, v in zip(keys, q)},
        f"{cap}_80_interval_contains_{stamp(fell)}": bool(lo80 <= fell_day + 1 and hi80 >= fell_day),
        f"{cap}_80_interval_width_days": float(hi80 - lo80) if np.isfinite(hi80) else None,
        f"p_{cap}_falls_by_{stamp(th.deadline)}": float((kab < th.day_of(th.deadline) + 1).mean()),
        f"p_{cap}_falls_by_{stamp(th.end)}": float((kab < th.day_of(th.end) + 1).mean()),
        f"capitals_fallen_by_{stamp(fell)}": {
            "q05": float(np.quantile(caps, 0.05)), "q50": float(np.quantile(caps, 0.5)),
            "q95": float(np.quantile(caps, 0.95)), "record": record,
            "mean": float(caps.mean()), "share_none": float((caps == 0).mean()),
            f"share_within_{CAPITALS_WITHIN}_of_record":
                float((np.abs(caps - record) <= CAPITALS_WITHIN).mean())},
        "what_happened": f"{th.capital} fell on {fell.isoformat()}; {record} of "
                         f"{len(pred.geo.provinces)} capitals had fallen by then (provinces.csv).",
        "once_the_cities_are_attacked": after_the_assault(
            pred.assault_time[rows], kab, pred.summary.daily_caps[rows]),
    }
    if th.name != "afghanistan_2021":
        return out
    return {**out,
        "us_estimates": [
            {"issued": "2021-06-23", "estimate": "the government could fall within six months of the "
             "withdrawal (timeline.csv T12)"},
            {"issued": "2021-08-10", "estimate": "Kabul could fall within 30 to 90 days (T32)"},
            {"issued": "2021-08-13", "estimate": "the Taliban in Kabul within seven days (T36)"}]}


def write_forecast(result: CalibrationResult, out: Path, *, replicates: int, workers: int,
                   progress: bool, force: bool) -> dict:
    from .plots import forecast_chart
    pred = predictive(result, replicates, workers, progress)
    summary = forecast_summary(pred, result.as_of)
    cond = conditioned(result, pred)
    summary["conditional_on_what_was_known_at_the_cutoff"] = {
        **cond.to_dict(), **forecast_summary(pred, result.as_of, cond.indices)}
    report = build_report(result, pred)
    keys = ("capital_mae_days", "capital_spearman", "coverage_90", "interval_width_90",
            "p_capital_before_aug6")
    summary["fit_to_the_whole_record"] = {k: report[k] for k in keys}
    summary["fit_to_the_whole_record_conditional"] = {
        k: report["conditional_on_recorded_counts"][k] for k in keys}
    summary["calibration_seconds"] = round(result.seconds, 1)
    with atomic_directory(out, force=force) as tmp:
        _write_common(result, pred, report, tmp)
        (tmp / "fit_report.json").write_text(to_json(report) + "\n", encoding="utf-8")
        (tmp / "forecast.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        forecast_chart(pred, result.as_of).savefig(tmp / "plots" / "forecast_kabul.png", dpi=130)
    finish_checkpoints(out)
    return summary
