"""Figures of results. Each function takes results (never the engine) and returns a Figure.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``), so they need no
display and leave pyplot's global state alone; in a notebook the returned figure shows itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from .record import capital_falls, district_checkpoints
from .summary import quantiles

BAND = "#c0504d"        # Taliban control
HISTORY = "#1f1f1f"
MUTED = "#8c8c8c"


def _to_dates(th, days) -> list[dt.datetime]:
    """Model times (days since the theatre ``th``'s start, 1 May 2021 in Afghanistan, fractions
    included) as datetimes for the axes."""
    origin = dt.datetime.combine(th.start, dt.time())
    return [origin + dt.timedelta(days=float(d)) for d in days]


def _date_label(th):
    """Tick labels, one line per tick: '15 Aug', with the year only outside the theatre's
    starting year (no wrapped labels)."""
    def label(value, _pos=None) -> str:
        d = mdates.num2date(value)
        return f"{d.day} {d:%b}" + (f" {d.year}" if d.year != th.start.year else "")
    return FuncFormatter(label)


def _date_axis(ax, th, axis="x", maxticks: int = 8) -> None:
    loc = mdates.AutoDateLocator(minticks=3, maxticks=maxticks)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(loc)
    target.set_major_formatter(_date_label(th))
    if axis == "x":
        ax.tick_params(axis="x", labelrotation=0)


def _title(result) -> str:
    return (f"scenario '{result.scenario.name}': {result.replicates} replicates, seed {result.seed}, "
            f"{result.source.label}")


def _plot_end(result) -> float:
    """Stop the time axis a month after 95% of replicates have ended, if they did."""
    kab = result.kabul_fall_time
    if np.isfinite(kab).mean() >= 0.95:
        return min(result.model.horizon, float(np.nanquantile(kab, 0.95)) + 30)
    return result.model.horizon


def _record_counts(ax, th, *, small: bool = False) -> None:
    """The record's district counts (history.csv) as points: hollow where a count disagrees with
    the monthly series, a bar where the record gives a range of readings."""
    size = 4 if small else 7
    for cp in district_checkpoints(th.record.parent):
        when = dt.datetime.combine(cp.date, dt.time()) + dt.timedelta(days=1)
        if cp.low is not None:
            ax.plot([when, when], [cp.low, cp.high], color=HISTORY, linewidth=1.5 if small else 2,
                    marker="_", markersize=size + 3, zorder=5)
            continue
        ax.plot([when], [cp.districts], marker="o", markersize=size,
                markerfacecolor=HISTORY if cp.consistent else "white",
                markeredgecolor=HISTORY, linestyle="none", zorder=5)
        if not cp.consistent and not small:
            ax.annotate(cp.id.replace("_", " "), (when, cp.districts), textcoords="offset points",
                        xytext=(-8, 7), ha="right", fontsize=8, color=MUTED)


def fan_chart(result, ax=None, *, history: bool = True, label: str | None = None,
              color: str = BAND) -> Figure:
    """Districts under Taliban control over time: median, 50% and 90% bands, the record's points."""
    th = result.theatre
    fig = ax.figure if ax is not None else Figure(figsize=(10, 5.5), layout="constrained")
    ax = ax or fig.add_subplot()
    counts = result.daily_counts()
    q = np.quantile(counts, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0, method="inverted_cdf")
    days = np.arange(counts.shape[1]) + 1.0          # counts are at the end of each day
    end = _plot_end(result)
    keep = days <= end + 1
    x = _to_dates(th, days[keep])
    ax.fill_between(x, q[0][keep], q[4][keep], color=color, alpha=0.18, linewidth=0,
                    label="90% interval" if label is None else None)
    ax.fill_between(x, q[1][keep], q[3][keep], color=color, alpha=0.35, linewidth=0,
                    label="50% interval" if label is None else None)
    ax.plot(x, q[2][keep], color=color, linewidth=2, label=label or "median")
    if history and th.record is not None:       # a theatre without a record has no points
        _record_counts(ax, th)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], marker="o", color=HISTORY, linestyle="none"),
                    Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor=HISTORY,
                           linestyle="none")]
        handles += [Line2D([], [], color=HISTORY, linewidth=2, marker="_", markersize=10)]
        labels += ["record (history.csv)", "record, inconsistent with the monthly series",
                   "record, a range of readings"]
        ax.legend(handles, labels, loc="upper left", frameon=True, framealpha=0.9)
    ax.axhline(result.geo.n, color=MUTED, linewidth=0.8, linestyle=":")
    ax.text(_to_dates(th, [end])[0], result.geo.n + 3, f"all {result.geo.n} districts", va="bottom",
            ha="right", fontsize=8, color=MUTED)
    ax.set_ylabel("districts under Taliban control")
    ax.set_ylim(0, result.geo.n * 1.04)
    ax.set_xlim(_to_dates(th, [0])[0], _to_dates(th, [end + 1])[0])
    ax.grid(alpha=0.3)
    _date_axis(ax, th)
    ax.set_title(f"Districts under Taliban control\n{_title(result)}", fontsize=11)
    return fig


def capitals_day_range(result) -> tuple[float, float]:
    """The x range (model days) capitals_chart gives one result; union them to share an axis."""
    horizon = result.model.horizon
    geo = result.geo
    lo_all = result.summary.fall_day_quantile(0.02, geo.capital_rows)
    hi_all = result.summary.fall_day_quantile(0.98, geo.capital_rows)
    lo_day = float(np.min(lo_all)) if np.isfinite(lo_all).any() else 90
    hi_day = min(horizon, float(np.max(hi_all[np.isfinite(hi_all)])) + 3) if np.isfinite(hi_all).any() \
        else horizon
    return min(lo_day, 96) - 3, max(hi_day, 108)


def capitals_chart(result, ax=None, day_range: tuple[float, float] | None = None) -> Figure:
    """Each capital's simulated fall-date interval beside its historical date.

    ``day_range`` (model days) fixes the time axis, e.g. to share one across scenarios."""
    geo, th = result.geo, result.theatre
    hist = {c.pcode: c for c in capital_falls(geo)}
    order = sorted(geo.provinces, key=lambda p: (p.fell_on == "", p.fell_on, p.fall_order.zfill(5)))
    n = len(order)
    fig = ax.figure if ax is not None else Figure(figsize=(10, 0.28 * n + 1.8), layout="constrained")
    ax = ax or fig.add_subplot()
    horizon = result.model.horizon
    rows = np.array([p.capital_index for p in order])
    qd = {p: result.summary.fall_day_quantile(p, rows) for p in (0.05, 0.25, 0.5, 0.75, 0.95)}
    for y, prov in enumerate(order):
        q = [qd[p][y] for p in (0.05, 0.25, 0.5, 0.75, 0.95)]      # calendar days of the quantiles
        clip = lambda v: min(v, horizon)     # noqa: E731
        # an interval spans whole days: from the start of its first to the end of its last
        if np.isfinite(q[0]):
            ax.plot(_to_dates(th, [q[0], clip(q[4] + 1)]), [y, y], color=BAND, linewidth=1.2, alpha=0.8)
        if np.isfinite(q[1]):
            ax.plot(_to_dates(th, [q[1], clip(q[3] + 1)]), [y, y], color=BAND, linewidth=5, alpha=0.6,
                    solid_capstyle="butt")
        if np.isfinite(q[2]):
            ax.plot(_to_dates(th, [q[2] + 0.5]), [y], marker="|", color="black", markersize=9)
        h = hist.get(prov.capital_pcode)
        if h is not None:
            lo = dt.datetime.combine(h.earliest, dt.time())
            hi = dt.datetime.combine(h.latest, dt.time()) + dt.timedelta(days=1)
            ax.plot([lo + (hi - lo) / 2], [y], marker="D", color=HISTORY, markersize=5, zorder=5)
            if h.earliest != h.latest:
                ax.plot([lo, hi], [y, y], color=HISTORY, linewidth=1, zorder=5)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{p.capital} ({p.name})" for p in order], fontsize=8)
    ax.invert_yaxis()
    lo_day, hi_day = day_range if day_range is not None else capitals_day_range(result)
    ax.set_xlim(_to_dates(th, [lo_day])[0], _to_dates(th, [hi_day])[0])
    ax.grid(axis="x", alpha=0.3)
    _date_axis(ax, th)
    ax.legend(handles=[Line2D([], [], color=BAND, linewidth=1.2, label="simulated 90% interval"),
                       Line2D([], [], color=BAND, linewidth=5, alpha=0.6, label="simulated 50% interval"),
                       Line2D([], [], marker="|", color="black", linestyle="none", markersize=9,
                              label="simulated median"),
                       Line2D([], [], marker="D", color=HISTORY, linestyle="none",
                              label="historical date (provinces.csv)")],
              loc="lower left", frameon=True, fontsize=8)
    ax.set_title("Provincial capitals: simulated fall dates vs the record (sorted by historical date)\n"
                 + _title(result), fontsize=11)
    return fig


def write_run_plots(result, folder: Path, day_range: tuple[float, float] | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, fig in (("districts_fan.png", fan_chart(result)),
                      ("capitals.png", capitals_chart(result, day_range=day_range))):
        path = folder / name
        fig.savefig(path, dpi=130)
        out.append(path)
    return out



# ====================================================================== calibration figures

def posterior_marginals(calibration) -> Figure:
    """Each calibrated parameter's posterior (histogram) inside its prior range (grey band)."""
    stages = calibration.stages
    panels = [(st, j, p) for st in stages for j, p in enumerate(st.priors)]
    cols = 4
    rows = int(np.ceil(len(panels) / cols))
    fig = Figure(figsize=(12, 2.4 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, (st, j, prior) in zip(axes.ravel(), panels):
        z = st.samples_z()[:, j]
        lo, hi = prior.z_bounds
        ax.axvspan(lo, hi, color="#e8e8e8", zorder=0)
        ax.hist(z, bins=30, color=BAND, alpha=0.8, density=True)
        ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
        label = f"log {prior.name}" if prior.kind == "loguniform" else prior.name
        ax.set_title(f"{label}\n({st.name} stage)", fontsize=9)
        ax.set_yticks([])
        med = np.median(prior.from_z(z))
        ax.text(0.02, 0.95, f"median {med:.3g}", transform=ax.transAxes, fontsize=8, va="top")
    fig.suptitle(f"Posterior marginals (grey: prior range) - calibration '{calibration.config.name}'"
                 + (f", as of {calibration.as_of}" if calibration.as_of else ""), fontsize=11)
    return fig


def posterior_pairs(stage, title: str = "") -> Figure:
    """Pairwise posterior scatter of a stage's parameters, with correlations."""
    z = stage.samples_z()
    d = z.shape[1]
    names = [f"log {p.name}" if p.kind == "loguniform" else p.name for p in stage.priors]
    fig = Figure(figsize=(1.6 * d + 1, 1.6 * d + 1), layout="constrained")
    axes = fig.subplots(d, d, squeeze=False)
    take = z[np.linspace(0, len(z) - 1, min(len(z), 1500)).astype(int)]
    corr = np.corrcoef(z.T) if d > 1 else np.ones((1, 1))
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j > i:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{corr[i, j]:+.2f}", transform=ax.transAxes, ha="center",
                        va="center", fontsize=10,
                        color=BAND if abs(corr[i, j]) > 0.5 else MUTED)
            elif i == j:
                ax.hist(z[:, i], bins=25, color=BAND, alpha=0.8)
            else:
                ax.plot(take[:, j], take[:, i], ".", markersize=1.5, color=HISTORY, alpha=0.3)
            if i == d - 1:
                ax.set_xlabel(names[j], fontsize=7, rotation=30, ha="right")
            if j == 0:
                ax.set_ylabel(names[i], fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(title or f"Posterior pairs, {stage.name} stage (upper: correlation)", fontsize=11)
    return fig


def trace_chart(calibration) -> Figure:
    """Log-posterior of every walker over the steps: burn-in and mixing at a glance."""
    stages = calibration.stages
    fig = Figure(figsize=(10, 2.6 * len(stages) + 0.5), layout="constrained")
    axes = fig.subplots(len(stages), 1, squeeze=False)[:, 0]
    for ax, st in zip(axes, stages):
        lp = st.log_prob
        finite = lp[np.isfinite(lp)]
        if hasattr(st, "effective_sample_size"):     # importance sampling: no walkers to trace
            ax.hist(finite, bins=40, color=HISTORY, alpha=0.7)
            ax.set_title(f"{st.name} stage: importance sampling from the prior, {st.prior_draws} "
                         f"draws, effective sample size {st.effective_sample_size:.0f}; log-posterior "
                         "of the resampled draws", fontsize=9)
            ax.set_xlabel("log-posterior")
            continue
        ax.plot(lp, color=HISTORY, alpha=0.25, linewidth=0.7)
        ax.axvline(st.burn_in, color=BAND, linestyle="--", linewidth=1)
        if finite.size:
            top = finite.max()
            ax.set_ylim(np.quantile(finite, 0.05) - 5, top + 0.05 * abs(top) + 1)
        ax.set_title(f"{st.name} stage: log-posterior per walker (dashed: end of burn-in; "
                     f"acceptance {st.acceptance:.2f})", fontsize=9)
        ax.set_xlabel("step")
    return fig


US_ESTIMATES = (
    # (issued, earliest, latest, label) from timeline.csv
    (dt.date(2021, 6, 23), None, dt.date(2022, 2, 28),
     "23 Jun: could fall within 6 months of the withdrawal (T12)"),
    (dt.date(2021, 8, 10), dt.date(2021, 9, 9), dt.date(2021, 11, 8),
     "10 Aug: Kabul could fall within 30-90 days (T32)"),
    (dt.date(2021, 8, 13), dt.date(2021, 8, 13), dt.date(2021, 8, 20),
     "13 Aug: Taliban in Kabul within 7 days (T36)"),
)


def forecast_chart(result, as_of: dt.date) -> Figure:
    """Forecast of the capital's fall: the probability it has fallen by each date, against what
    happened and against the US estimates of the time (Afghanistan's: drawn only when their dates
    lie in the theatre's calendar)."""
    th = result.theatre
    K = th.capital
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax = fig.add_subplot()
    kab = result.kabul_fall_time
    days = np.arange(result.n_days + 1)
    cdf = [(kab < d).mean() for d in days]
    x = _to_dates(th, days)
    ax.plot(x, cdf, color=BAND, linewidth=2.2, label=f"forecast as of {as_of}: P({K} has fallen)")
    q = quantiles(kab, [0.1, 0.9])
    if np.isfinite(q[0]):
        hi = min(q[1], result.model.horizon)
        ax.axvspan(_to_dates(th, [q[0]])[0], _to_dates(th, [hi])[0], color=BAND, alpha=0.12,
                   label="forecast 80% interval" + ("" if np.isfinite(q[1]) else " (open: beyond the horizon)"))
    fell = dt.datetime.combine(th.capital_fell, dt.time(12))
    ax.axvline(fell, color=HISTORY, linewidth=2, label=f"{th.capital} fell, {fell:%d %B}")
    ax.axvline(dt.datetime.combine(as_of, dt.time()), color=MUTED, linestyle=":", linewidth=1.5,
               label=f"cut-off {as_of}")
    horizon_end = _to_dates(th, [result.model.horizon])[0]
    estimates = [e for e in US_ESTIMATES if th.start <= e[0] <= th.latest_end]
    for k, (issued, lo, hi, label) in enumerate(estimates):
        y = 0.62 + 0.1 * k           # above the rising curve, on its empty upper-left side
        start = dt.datetime.combine(lo or issued, dt.time())
        end = min(dt.datetime.combine(hi, dt.time()), horizon_end)
        ax.annotate("", xy=(end, y), xytext=(start, y),
                    arrowprops=dict(arrowstyle="-|>" if dt.datetime.combine(hi, dt.time()) > horizon_end
                                    else "|-|",
                                    color="#2b6cb0", linewidth=1.6))
        said = dt.datetime.combine(issued, dt.time())
        ax.plot([said], [y], marker="v", color="#2b6cb0")
        if start > said:     # the estimate was issued before the window it gives: join them
            ax.plot([said, start], [y, y], color="#2b6cb0", linewidth=0.8, linestyle=":")
        ax.text(max(start, said) + dt.timedelta(days=1), y + 0.035, label, fontsize=8,
                color="#2b6cb0")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(_to_dates(th, [45])[0], horizon_end)
    ax.set_ylabel(f"probability {K} has fallen")
    ax.grid(alpha=0.3)
    _date_axis(ax, th)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(f"Forecast of the fall of {K}, calibrated on the record known on {as_of}\n"
                 f"{result.replicates} replicates, parameters from that posterior"
                 + ("; blue: US estimates of the time (timeline.csv)" if estimates else ""),
                 fontsize=11)
    return fig


# ====================================================================== comparison figures

PALETTE = ("#1f1f1f", "#c0504d", "#2b6cb0", "#d69e2e", "#38a169", "#805ad5", "#dd6b20",
           "#319795", "#b83280", "#718096", "#2c5282", "#9c4221")


def _colors(names):
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _survival(res, days: np.ndarray) -> np.ndarray:
    kab = res.kabul_fall_time
    with np.errstate(invalid="ignore"):
        return np.array([1.0 - (kab < d).mean() for d in days])


def survival_window(comparison) -> tuple[float, float, bool]:
    """(start, end, broken) of the survival chart's main panel, in model days: from a few days
    before the earliest fall to three weeks after the baseline's 99th percentile; ``broken`` when
    some scenario still holds in more than 2% of replicates at the end of that window, so the
    rest of the horizon goes to a second, compressed panel."""
    horizon = comparison.base.model.horizon
    firsts = [np.nanmin(r.kabul_fall_time) for r in comparison.results.values()
              if np.isfinite(r.kabul_fall_time).any()]
    lo = max(0.0, (min(firsts) if firsts else 60.0) - 5)
    b = comparison.base.kabul_fall_time
    hi_base = float(quantiles(b, 0.99)) if np.isfinite(b).mean() >= 0.99 else horizon
    hi = min(horizon, max(hi_base + 21, lo + 30))
    broken = hi < horizon and any(_survival(r, np.array([hi]))[0] > 0.02
                                  for r in comparison.results.values())
    return lo, hi, broken


def survival_chart(comparison) -> Figure:
    """Probability that the republic still stands (Kabul not fallen), by date, per scenario.

    When a scenario holds for months the axis is broken: the left panel shows the weeks around
    the baseline's fall at full resolution, the right one the rest of the horizon."""
    th = comparison.theatre
    lo, hi, broken = survival_window(comparison)
    horizon = comparison.base.model.horizon
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    if broken:
        axes = fig.subplots(1, 2, sharey=True, gridspec_kw=dict(width_ratios=[3, 1.2], wspace=0.02))
        spans = [(lo, hi), (hi, horizon)]
    else:
        axes = [fig.add_subplot()]
        spans = [(lo, hi)]
    colors = _colors(comparison.names)
    order = [comparison.baseline] + comparison.whatifs()      # legend: largest effect first
    for ax, (a, b) in zip(axes, spans):
        for name in order:
            res = comparison.results[name]
            days = np.arange(np.floor(a), np.ceil(b) + 1)
            ax.step(_to_dates(th, days), _survival(res, days), where="post", color=colors[name],
                    linewidth=2.6 if name == comparison.baseline else 1.6,
                    label=name + (" (baseline)" if name == comparison.baseline else ""))
        ax.set_xlim(_to_dates(th, [a])[0], _to_dates(th, [b])[0])
        ax.grid(alpha=0.3)
        if ax is axes[0]:
            _date_axis(ax, th, maxticks=8)
        else:            # a narrow panel: first-of-month ticks, at most four, so labels never touch
            ax.xaxis.set_major_locator(mdates.MonthLocator(
                interval=max(1, int(np.ceil((b - a) / 30.4 / 4)))))
            ax.xaxis.set_major_formatter(_date_label(th))
    main = axes[0]
    kabul_fell = dt.datetime.combine(th.capital_fell, dt.time(12))
    if _to_dates(th, [lo])[0] < kabul_fell < _to_dates(th, [hi])[0]:
        main.axvline(kabul_fell, color=MUTED, linestyle=":", linewidth=1.2)
        main.text(kabul_fell + dt.timedelta(hours=12), 0.02,
                  f"{th.capital} fell\n{th.capital_fell.day} {th.capital_fell:%b %Y}", fontsize=8,
                  color=MUTED)
    main.set_ylim(0, 1.02)
    main.set_ylabel(f"P({th.capital} still held)")
    main.legend(loc="lower left", fontsize=8, framealpha=0.9)
    if broken:
        right = axes[1]
        right.spines["left"].set_linestyle((0, (4, 3)))
        main.spines["right"].set_linestyle((0, (4, 3)))
        right.set_title("the rest of the horizon (compressed)", fontsize=9)
        right.tick_params(axis="y", left=False)
    fig.suptitle("Survival of the republic by scenario (paired runs on the same random numbers)\n"
                 f"{comparison.replicates} replicates per scenario, seed {comparison.seed}, "
                 f"{comparison.base.source.label}", fontsize=11)
    return fig


def scenario_fans(comparison) -> Figure:
    """Districts under Taliban control over time, one panel per scenario, baseline in grey."""
    th = comparison.theatre
    names = comparison.names
    cols = 3 if len(names) > 4 else 2
    rows = int(np.ceil(len(names) / cols))
    fig = Figure(figsize=(4.2 * cols, 2.9 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    base = np.quantile(comparison.base.daily_counts(), 0.5, axis=0, method="inverted_cdf")
    colors = _colors(names)
    for ax, name in zip(axes.ravel(), names):
        res = comparison.results[name]
        counts = res.daily_counts()
        q = np.quantile(counts, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0, method="inverted_cdf")
        x = _to_dates(th, np.arange(counts.shape[1]) + 1)
        col = colors[name] if name != comparison.baseline else BAND
        ax.fill_between(x, q[0], q[4], color=col, alpha=0.18, linewidth=0)
        ax.fill_between(x, q[1], q[3], color=col, alpha=0.35, linewidth=0)
        ax.plot(x, q[2], color=col, linewidth=1.8)
        if name != comparison.baseline:
            ax.plot(x, base, color=MUTED, linewidth=1.2, linestyle="--")
        elif th.record is not None:         # what the baseline is calibrated to, beside it
            _record_counts(ax, th, small=True)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        _date_axis(ax, th)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("districts under Taliban control", fontsize=8)
    record = "; points: the record's counts" if th.record is not None else ""
    fig.suptitle("Districts under Taliban control: median, 50% and 90% bands per scenario\n"
                 f"(dashed: baseline median{record})", fontsize=11)
    return fig


def _record_held(provinces, date: dt.date) -> list[str]:
    """The provinces (as the record's seed table spells them) whose capital had not fallen by the
    end of ``date`` in the record (``fell_on`` blank: never)."""
    return [p.name_seed or p.name for p in provinces
            if not p.fell_on or p.fell_on > date.isoformat()]


def _record_note(held: list[str]) -> str:
    return f"record: {len(held)}" + (f" ({', '.join(held)})" if 0 < len(held) <= 3 else "")


def capitals_held_chart(comparison, date: dt.date | None = None) -> Figure:
    """Capitals still held, per scenario (sorted by the mean): when the capital falls, and on a
    date; the record's values (provinces.csv) marked.

    A mean can lie outside its own 50% range when the distribution is lopsided or bimodal (in
    most replicates every capital falls, in a few many hold): such a mean is drawn hollow, and
    the median is marked too, so the dot is never read as a typical value."""
    names = comparison.names
    th, geo = comparison.theatre, comparison.base.geo
    date = date or th.capital_fell      # the capital's recorded fall
    n = len(geo.provinces)
    others = [p for p in geo.provinces if p.index != geo.capital_province.index]
    # the record (provinces.csv): capitals that had not fallen by the capital's fall (a fall the
    # same day counts as before it) and by ``date``; in Afghanistan 1, Panjshir, in both panels
    held_at_fall = _record_held(others, th.capital_fell)
    panels = [(comparison.headline[1], f"other capitals still held when {th.capital} falls "
               f"(of {n - 1})", n - 1, len(held_at_fall), _record_note(held_at_fall)),
              (None, f"capitals still held on {date:%d %B %Y} (of {n})", n,
               len(_record_held(geo.provinces, date)),
               _record_note(_record_held(geo.provinces, date)))]
    fig = Figure(figsize=(12, 0.45 * len(names) + 2.2), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False)[0]
    colors = _colors(names)
    outside_any = False
    for ax, (key, xlabel, total, record, note) in zip(axes, panels):
        data = {n: (comparison.outcome(n, key) if key else comparison.held(n, date, capitals=True))
                for n in names}
        order = sorted(names, key=lambda n: (-data[n].mean(), n))
        for y, name in enumerate(order):
            held = data[name]
            q = np.quantile(held, [0.05, 0.25, 0.5, 0.75, 0.95], method="inverted_cdf")
            mean = held.mean()
            ax.plot([q[0], q[4]], [y, y], color=colors[name], linewidth=1.3)
            ax.plot([q[1], q[3]], [y, y], color=colors[name], linewidth=6, alpha=0.6,
                    solid_capstyle="butt")
            ax.plot([q[2]], [y], marker="|", color="black", markersize=10)
            outside = not (q[1] <= mean <= q[3])
            outside_any |= outside
            ax.plot([mean], [y], marker="o", color=colors[name],
                    markerfacecolor="white" if outside else colors[name])
        ax.axvline(record, color=HISTORY, linestyle=":", linewidth=1)
        ax.text(record + 0.3, len(names) - 1 + 0.35, note, fontsize=8, color=HISTORY)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels(order, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(-0.5, total + 0.5)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
    title = ("Capitals held: mean (dot), median (bar), 50% and 90% ranges over replicates; "
             "sorted by the mean")
    if outside_any:
        title += ("\nhollow dot: the mean lies outside the 50% range (a lopsided, often two-peaked "
                  "distribution); read the median and the ranges")
    fig.suptitle(title, fontsize=10)
    return fig


def forest_chart(comparison, outcomes=None) -> Figure:
    """Paired effects against the baseline, each panel sorted by the size of its effect: the
    mean (dot) with its Monte Carlo 90% interval (black tick), the 5-95% spread across posterior
    draws (thick), across structures when there are several (open bracket), and the 5-95% range
    of the per-replicate differences (thin)."""
    table = comparison.outcomes
    outcomes = outcomes or comparison.headline     # the capital's days and the two held counts
    names = [n for n in comparison.names if n != comparison.baseline]
    fig = Figure(figsize=(4.6 * len(outcomes), 0.5 * len(names) + 2.3), layout="constrained")
    axes = fig.subplots(1, len(outcomes), squeeze=False)[0]
    colors = _colors(comparison.names)
    for ax, outcome in zip(axes, outcomes):
        key = comparison._key(outcome)
        effects = {name: comparison.effect(name, key) for name in names}
        order = sorted(names, key=lambda n: (-abs(effects[n]["mean"]), n))
        for y, name in enumerate(order):
            e = effects[name]
            ax.plot([e["replicate_q05"], e["replicate_q95"]], [y, y], color=colors[name],
                    linewidth=1, alpha=0.5)
            if np.isfinite(e["pred_q05"]):
                ax.plot([e["pred_q05"], e["pred_q95"]], [y, y], color=colors[name], linewidth=5,
                        solid_capstyle="butt", alpha=0.85)
            if "structure_min" in e:
                ax.plot([e["structure_min"], e["structure_max"]], [y + 0.28] * 2, color=HISTORY,
                        linewidth=1, marker="|")
            lo, hi = e["ci90"]
            ax.plot([lo, hi], [y, y], color="black", linewidth=2.2, solid_capstyle="butt")
            ax.plot([e["mean"]], [y], marker="o", color="black", markersize=4)
            ax.annotate(f"{e['mean']:+.1f}", (e["mean"], y), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=7)
        means = sorted(abs(e["mean"]) for e in effects.values())
        # one effect of months beside effects of days: a symmetric log axis for Kabul's date
        log_axis = key == comparison.capital_days and means and means[-1] > 30 and means[-1] > 10 * (
            means[len(means) // 2] + 0.5)
        if log_axis:
            ax.set_xscale("symlog", linthresh=2)
            lo_all = min(e["replicate_q05"] for e in effects.values())
            hi_all = max(e["replicate_q95"] for e in effects.values())
            ticks = [t for t in (-30, -10, -3, 0, 3, 10, 30, 100, 300) if lo_all - 1 <= t <= hi_all + 50]
            ax.set_xticks(ticks)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.axvline(0, color=MUTED, linewidth=1)
        ax.set_title(table[key].label + (" (log scale beyond 2 days)" if log_axis else ""),
                     fontsize=9)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels(order, fontsize=8)
        ax.set_ylim(len(order) - 0.5, -0.8)           # room above the first label
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Effect of each what-if against '{comparison.baseline}' (paired), each panel "
                 "sorted by size\nmean (dot; black bar: its Monte Carlo 90% interval), 5-95% across "
                 "posterior draws (thick), 5-95% of single replicates (thin)"
                 + ("; bracket: range across structures" if len(comparison.structures) > 1 else ""),
                 fontsize=10)
    return fig


def readable_name(name: str, width: int = 64) -> str:
    """A parameter's meaning from the parameter table, shortened for a chart label (at most
    ``width`` characters, on two lines)."""
    import textwrap

    from .parameters import BY_NAME
    spec = BY_NAME.get(name)
    if spec is None or not spec.meaning:
        return name
    text = spec.meaning.split(";")[0].split(": ")[0].rstrip(".")
    for lead, short in (("Log-hazard increase ", "hazard up "), ("Log-hazard decrease ", "hazard down "),
                        ("Increase of the ", ""), ("Extra ", "")):
        if text.startswith(lead):
            text = short + text[len(lead):]
            break
    text = text[0].upper() + text[1:] if text else name
    if len(text) > width:
        text = text[:width - 3].rsplit(" ", 1)[0] + "..."
    return "\n".join(textwrap.wrap(text, width=(width + 1) // 2 + 4)[:2])


def sensitivity_chart(sens) -> Figure:
    """Sobol indices (first order and total) of each parameter, per outcome."""
    outcomes = list(sens.outcomes)
    fig = Figure(figsize=(4.6 * len(outcomes) + 3, 0.55 * len(sens.names) + 2.0), layout="constrained")
    axes = fig.subplots(1, len(outcomes), sharey=True, squeeze=False)[0]
    y = np.arange(len(sens.names))
    order = np.argsort(-sens.total[outcomes[0]])
    for ax, outcome in zip(axes, outcomes):
        tot, first = sens.total[outcome][order], sens.first[outcome][order]
        lo, hi = sens.total_ci[outcome][0][order], sens.total_ci[outcome][1][order]
        ax.barh(y, tot, color=BAND, alpha=0.45, label="total effect")
        ax.barh(y, first, height=0.45, color=BAND, label="first order")
        ax.errorbar(tot, y, xerr=[np.clip(tot - lo, 0, None), np.clip(hi - tot, 0, None)],
                    fmt="none", ecolor=HISTORY, elinewidth=0.8, capsize=2)
        ax.set_title(sens.labels[outcome], fontsize=10)
        ax.set_xlim(0, max(1.0, float(np.nanmax(hi)) * 1.05))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([f"{readable_name(sens.names[i])} ({sens.names[i]})" for i in order],
                            fontsize=8)
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"Global sensitivity (Sobol indices, {sens.evaluations} parameter sets x "
                 f"{sens.replicates} replicates; bars: 95% bootstrap interval of the total effect)",
                 fontsize=11)
    return fig


def reliability_bins(predicted, observed, bins: int = 6):
    """Equal-width bins of the predicted probability that hold at least one prediction: each
    one's mean prediction, observed share, 90% Clopper-Pearson interval of that share and size."""
    from scipy.stats import beta
    p, y = np.asarray(predicted, dtype=float), np.asarray(observed, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    n = np.bincount(which, minlength=bins)
    k = np.bincount(which, weights=y, minlength=bins)
    has = n > 0
    n, k = n[has], k[has]
    mid = np.bincount(which, weights=p, minlength=bins)[has] / n
    lo = np.where(k > 0, beta.ppf(0.05, np.maximum(k, 1e-12), n - k + 1), 0.0)
    hi = np.where(k < n, beta.ppf(0.95, k + 1, np.maximum(n - k, 1e-12)), 1.0)
    return mid, k / n, lo, hi, n


def reliability_chart(curves: dict, bins: int = 6, title: str = "") -> Figure:
    """How far to trust a district probability: for each named set of predictions ``curves``
    (label -> (predicted P(fallen), observed 0/1), e.g. the statuses of
    :meth:`sim.district_facts.DistrictFacts.status_on` against :func:`sim.district_skill.model_probability`),
    the observed share fallen in each of ``bins`` equal-width bins of the predicted probability,
    with a 90% binomial interval and the bin's size; the diagonal is a perfectly calibrated
    forecast. Beside it, how the predictions spread: a forecast that puts everything near the
    national share is calibrated but says nothing about where."""
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax, spread = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1.3, 1]))
    edges = np.linspace(0.0, 1.0, bins + 1)
    colors = _colors(list(curves))
    offsets = np.linspace(-0.012, 0.012, max(len(curves), 1))
    for (label, (p, y)), dx in zip(curves.items(), offsets):
        mid, share, lo, hi, n = reliability_bins(p, y, bins)
        ax.errorbar(mid + dx, share, yerr=[share - lo, hi - share], fmt="o-",
                    color=colors[label], capsize=3, label=f"{label} ({len(p)} statuses)")
        for x, s, m in zip(mid + dx, share, n):
            ax.annotate(str(m), (x, s), textcoords="offset points", xytext=(5, -10), fontsize=7,
                        color=colors[label])
        spread.hist(np.asarray(p, dtype=float), bins=edges, histtype="step", linewidth=2,
                    color=colors[label], label=label)
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle=":", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("predicted P(fallen by the date)")
    ax.set_ylabel("observed share fallen (90% interval; bin sizes beside)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    spread.set_xlim(0, 1)
    spread.set_xlabel("predicted P(fallen by the date)")
    spread.set_ylabel("statuses")
    spread.grid(alpha=0.3)
    fig.suptitle(title or "Reliability of the district probabilities", fontsize=11)
    return fig
