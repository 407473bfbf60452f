"""How well simulated fall times reproduce the record: the fit report and the null models.

Definitions (also in the README):

* A capital's *predictive median date* is the calendar day of the median of its simulated fall
  times, never-fallen replicates counting as later than the horizon.
* ``capital_mae_days``: mean over the 33 capitals (Kabul included) of the whole days between that
  median date and the recorded date; 0 when the median falls inside a recorded window (Herat,
  Kandahar, Maidan Shar).
* ``capital_spearman``: Spearman rank correlation between the predictive median dates and the
  recorded dates (window midpoints); tied days get mid-ranks on both sides. The same with the mean
  fall times (no ties) is reported as ``capital_spearman_mean_times``.
* ``coverage_90``: share of capitals whose recorded day (window) meets the predictive 90%
  interval [5%, 95%] of calendar days; ``interval_width_90``: mean of the 95% minus 5% quantile
  of the fall time, in days.
* ``district_checkpoint_errors``: at each dated checkpoint, (predictive median - record) / record.
* ``what_decides_the_width`` (written by the calibration, which knows each replicate's posterior
  draw): the decision date's 90% range and its variance split between posterior draws and
  chance, the share of it explained by the replicate's countryside at the last fitted count before
  the first capital fell, and each capital's mean 90% range of days after the decision.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy.stats import spearmanr

from .conditioning import counts_at
from .geography import Geography
from .summary import QUANTILE_METHOD, quantiles
from .targets import Targets

# Days and dates are on the theatre's clock (geo.theatre, targets.theatre): day 0 is its start.


def _window_error(pred_day: float, lo: int, hi: int) -> float:
    if not np.isfinite(pred_day):
        return np.nan
    d = int(np.floor(pred_day))
    return float(max(lo - d, d - hi, 0))


def capital_table(fall_time: np.ndarray, geo: Geography, targets: Targets,
                  horizon: float = 245.0) -> list[dict]:
    th = geo.theatre
    rows = []
    for c in targets.capitals:
        x = fall_time[:, geo.provinces[c.province_index].capital_index]
        q = quantiles(x, [0.05, 0.25, 0.5, 0.75, 0.95])
        lo, hi = int(th.day_of(c.earliest)), int(th.day_of(c.latest))
        q05_day = np.floor(q[0]) if np.isfinite(q[0]) else np.inf
        q95_day = np.floor(q[4]) if np.isfinite(q[4]) else np.inf
        rows.append({
            "province": c.province, "capital": c.capital,
            "recorded": c.earliest.isoformat() if c.earliest == c.latest
            else f"{c.earliest.isoformat()}/{c.latest.isoformat()}",
            "p_fall": float(np.isfinite(x).mean()),
            "median": th.date_of(q[2]).isoformat() if np.isfinite(q[2]) else None,
            "q05": th.date_of(q[0]).isoformat() if np.isfinite(q[0]) else None,
            "q95": th.date_of(q[4]).isoformat() if np.isfinite(q[4]) else None,
            "error_days": _window_error(q[2], lo, hi),
            "covered_90": bool(q05_day <= hi and q95_day >= lo),
            # an interval still open at the horizon is measured to the horizon (censored)
            "width_90_days": float(min(q[4], horizon) - q[0]) if np.isfinite(q[0]) else np.inf,
            "open_90": bool(not np.isfinite(q[4])),
            "mean_fall_day": float(np.nanmean(x)) if np.isfinite(x).any() else np.nan,
            "_median_day": float(np.floor(q[2])) if np.isfinite(q[2]) else np.inf,
            "_recorded_mid": (lo + hi) / 2.0,
        })
    return rows


def _spearman(a, b) -> float | None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    rho = spearmanr(a, b).statistic
    return None if np.isnan(rho) else float(rho)


def capital_metrics(rows: list[dict]) -> dict:
    err = np.array([r["error_days"] for r in rows], dtype=float)
    widths = np.array([r["width_90_days"] for r in rows], dtype=float)
    return {
        "capital_mae_days": float(np.nanmean(err)) if np.isfinite(err).any() else None,
        "capital_never_fall": int(np.isnan(err).sum()),
        "capital_spearman": _spearman([r["_median_day"] for r in rows],
                                      [r["_recorded_mid"] for r in rows]),
        "capital_spearman_mean_times": _spearman([r["mean_fall_day"] for r in rows],
                                                 [r["_recorded_mid"] for r in rows]),
        "coverage_90": float(np.mean([r["covered_90"] for r in rows])),
        "interval_width_90": float(np.mean(widths)) if np.all(np.isfinite(widths)) else None,
        "intervals_open_at_horizon": int(sum(r["open_90"] for r in rows)),
    }


def checkpoint_errors(fall_time: np.ndarray, targets: Targets) -> list[dict]:
    th = targets.theatre
    out = []
    for t in targets.districts:
        with np.errstate(invalid="ignore"):
            counts = (fall_time < th.day_of(t.date) + 1).sum(axis=1)
        q = np.quantile(counts, [0.05, 0.5, 0.95], method=QUANTILE_METHOD)
        # a value is a range of width zero: the error is the distance outside the range
        low, high = (t.low, t.high) if t.is_range else (t.districts, t.districts)
        outside = max(low - q[1], q[1] - high, 0.0)
        row = {"id": t.id, "date": t.date.isoformat(), "record": t.districts,
               "weight": t.weight, "predictive_median": float(q[1]),
               "predictive_90": [float(q[0]), float(q[2])],
               "relative_error": float(np.sign(q[1] - t.districts) * outside / t.districts),
               "within_10_percent": bool(0.9 * low <= q[1] <= 1.1 * high)}
        if t.is_range:
            row.update(record_range=[low, high],
                       p_inside_range=float(np.mean((counts >= low) & (counts <= high))))
        out.append(row)
    return out


def kabul_quantiles(fall_time: np.ndarray, geo: Geography) -> dict:
    th = geo.theatre
    k = fall_time[:, geo.kabul_row]
    q = quantiles(k, [0.05, 0.25, 0.5, 0.75, 0.95])
    out = {f"q{int(p * 100):02d}": (th.date_of(v).isoformat() if np.isfinite(v) else None)
           for p, v in zip([0.05, 0.25, 0.5, 0.75, 0.95], q)}
    out["p_fall"] = float(np.isfinite(k).mean())
    out["width_90_days"] = float(q[4] - q[0]) if np.isfinite(q[4]) else None
    med = q[2]
    out["median_error_days"] = (float(np.floor(med) - th.day_of(th.capital_fell))
                                if np.isfinite(med) else None)
    return out


def p_capital_before(fall_time: np.ndarray, geo: Geography, date: dt.date | None = None) -> float:
    """Share of replicates in which some capital fell before ``date`` (default: the theatre's
    first recorded capital fall, 6 August 2021)."""
    th = geo.theatre
    date = date or th.first_capital_fell
    caps = fall_time[:, geo.capital_rows]
    with np.errstate(invalid="ignore"):
        return float((caps < th.day_of(date)).any(axis=1).mean())


def fit_report(fall_time: np.ndarray, geo: Geography, targets: Targets,
               horizon: float = 245.0) -> dict:
    rows = capital_table(fall_time, geo, targets, horizon)
    report = {
        **capital_metrics(rows),
        "p_capital_before_aug6": p_capital_before(fall_time, geo),
        "district_checkpoint_errors": checkpoint_errors(fall_time, targets),
        "kabul_fall_date": kabul_quantiles(fall_time, geo),
        "replicates": int(fall_time.shape[0]),
        "capitals": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
    }
    return report


def what_decides_the_width(fall_time: np.ndarray, assault_time: np.ndarray,
                           draw_group: np.ndarray, geo: Geography, targets: Targets) -> dict:
    """Where the capitals' wide intervals come from (issue 10: the report says what decides them).

    A capital's date is the date the Taliban turn on the cities plus its fall after that. The
    first part's variance is split by the law of total variance into the posterior's (between
    parameter draws: what the record leaves unknown about the decision and the countryside) and
    chance's (within a draw); and the share of it that the replicate's own countryside explains
    (R^2 of a straight line on the districts fallen at the last fitted count before the first
    recorded capital fall): the decision waits for the countryside, so a replicate whose
    countryside ran fast turns on the cities early. The second part is each recorded capital's
    90% range of days after the decision (replicates where it fell), averaged."""
    ok = np.isfinite(assault_time)
    out: dict = {"p_assault": float(ok.mean())}
    if ok.sum() < 3:
        return out
    a, groups = assault_time[ok], np.asarray(draw_group)[ok]
    _, inv, size = np.unique(groups, return_inverse=True, return_counts=True)
    means = np.bincount(inv, weights=a) / size
    total = float(a.var())
    between = float((size * (means - a.mean()) ** 2).sum() / len(a))
    q05, q95 = np.quantile(a, [0.05, 0.95])
    out.update({
        "assault_width_90_days": float(q95 - q05),
        "assault_variance_share_posterior": between / total if total > 0 else None,
        "assault_variance_share_chance": (total - between) / total if total > 0 else None,
    })
    th = geo.theatre
    before = [t for t in targets.fitted_districts if t.date < th.first_capital_fell]
    if before and total > 0:
        point = max(before, key=lambda t: t.date)
        counts = counts_at(fall_time[ok], (point,), th)[:, 0]
        if counts.std() > 0:
            slope = np.polyfit(counts, a, 1)[0]
            out.update({"countryside_checkpoint": f"{point.id} ({point.date.isoformat()})",
                        "assault_variance_share_countryside": float(np.corrcoef(counts, a)[0, 1] ** 2),
                        "assault_days_earlier_per_10_districts": float(-10.0 * slope)})
    rows = [geo.provinces[c.province_index].capital_index for c in targets.capitals]
    after = fall_time[ok][:, rows] - a[:, None]
    widths = [float(np.subtract(*np.quantile(col[np.isfinite(col)], [0.95, 0.05])))
              for col in after.T if np.isfinite(col).sum() >= 3]
    if widths:
        out["cascade_width_90_days_mean"] = float(np.mean(widths))
    return out


# ====================================================================== null models

def variance_sources(X: np.ndarray) -> dict:
    """Shares of the variance of ``X`` (A, B, m): A levels of one factor crossed with B levels of
    another, m replicates in every cell. The classical two-way decomposition of a balanced design:
    the spread of the A means (``first``), of the B means (``second``), what neither explains
    alone (``interaction``) and the spread within cells (``chance``); the four add up to 1.

    The calibration's cut draws the countryside's parameters and the cities' independently, so
    crossing draws of one with draws of the other (``calibration/decision_sources.py``) says
    which of the two posteriors a date's uncertainty comes from, which a random pairing (the
    predictive run) cannot separate. Each main effect also carries a little chance (the variance
    of a mean of B m or A m replicates), negligible at the sizes used."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 3 or min(X.shape) < 2 or not np.all(np.isfinite(X)):
        raise ValueError("variance_sources needs finite values of shape (A, B, m), each >= 2")
    grand, cell = X.mean(), X.mean(axis=2)
    first, second = cell.mean(axis=1) - grand, cell.mean(axis=0) - grand
    interaction = cell - grand - first[:, None] - second[None, :]
    total = X.var()
    return {"first": float(first.var() / total), "second": float(second.var() / total),
            "interaction": float(interaction.var() / total),
            "chance": float((X - cell[..., None]).var() / total), "sd": float(np.sqrt(total))}


def null_models(geo: Geography, targets: Targets) -> dict:
    """Benchmarks that need no simulation. Each is given the record's own 6-15 August window (or
    median), which flatters them; the model is not."""
    th = geo.theatre
    caps = targets.capitals
    if not caps:                   # a record without capital dates: only the counts' null
        return {"logistic_district_counts": logistic_null(targets)}
    lo = np.array([int(th.day_of(c.earliest)) for c in caps])
    hi = np.array([int(th.day_of(c.latest)) for c in caps])
    mid = (lo + hi) / 2
    first, last = lo.min(), hi.max()
    med_day = float(np.floor(np.median(mid)))

    def point_model(pred_days: np.ndarray, label: str, width: float = 0.0,
                    lo_int=None, hi_int=None) -> dict:
        pred = np.floor(pred_days)
        err = [_window_error(p, a, b) for p, a, b in zip(pred, lo, hi)]
        lo_i = pred if lo_int is None else lo_int
        hi_i = pred if hi_int is None else hi_int
        cov = np.mean((np.floor(lo_i) <= hi) & (np.floor(hi_i) >= lo))
        capital = geo.theatre.capital
        kabul = ([c.province for c in caps].index(capital) if any(c.province == capital for c in caps)
                 else None)
        return {"description": label, "capital_mae_days": float(np.mean(err)),
                "capital_spearman": _spearman(pred, mid), "coverage_90": float(cov),
                "interval_width_90": float(width),
                "kabul_median": th.date_of(pred[kabul]).isoformat() if kabul is not None else None}

    dist = geo.distance_to_kabul_km[[geo.provinces[c.province_index].capital_index for c in caps]]
    order = np.argsort(np.argsort(-dist, kind="stable"), kind="stable")     # farthest first
    spread = first + order / max(len(caps) - 1, 1) * (last - first)
    uni_lo, uni_hi = first + 0.05 * (last + 1 - first), first + 0.95 * (last + 1 - first)
    out = {
        "record_median_date": point_model(np.full(len(caps), med_day),
                                          f"every capital falls on the record's median date "
                                          f"({th.date_of(med_day)})"),
        "uniform_over_record_window": point_model(
            np.full(len(caps), (first + last + 1) / 2), "every capital's date uniform over the "
            "record's 6-15 August window", width=uni_hi - uni_lo,
            lo_int=np.full(len(caps), uni_lo), hi_int=np.full(len(caps), uni_hi)),
        "distance_from_kabul": point_model(spread, "capitals fall farthest-from-Kabul first, "
                                           "spread evenly over 6-15 August"),
    }
    out["logistic_district_counts"] = logistic_null(targets)
    return out


def logistic_null(targets: Targets) -> dict:
    """A logistic curve through the fitted district checkpoints (least squares, in sample)."""
    th = targets.theatre
    from scipy.optimize import curve_fit
    pts = list(targets.fitted_districts)
    if len(pts) < 2:
        return {"description": "logistic curve: too few checkpoints to fit", "errors": []}
    days = np.array([0.0] + [th.day_of(t.date) + 1 for t in pts])
    obs = np.array([73.0] + [t.districts for t in pts])

    def logistic(t, k, t0, cap):
        return cap / (1 + np.exp(-k * (t - t0)))

    try:
        (k, t0, cap), _ = curve_fit(logistic, days, obs, p0=(0.03, 80.0, 300.0),
                                    bounds=([1e-4, -200, 100], [1.0, 400, 399]), maxfev=20000)
    except RuntimeError:
        return {"description": "logistic curve: fit failed", "errors": []}
    errors = []
    for t in targets.districts:
        pred = logistic(th.day_of(t.date) + 1, k, t0, cap)
        errors.append({"id": t.id, "record": t.districts, "predicted": float(pred),
                       "relative_error": float((pred - t.districts) / t.districts)})
    return {"description": f"logistic curve fitted to the district checkpoints (rate {k:.3f}/day, "
                           f"midpoint {th.date_of(t0)}, ceiling {cap:.0f})", "errors": errors}
