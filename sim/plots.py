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

from .record import capital_falls, district_checkpoints
from .timeline import START

BAND = "#c0504d"        # Taliban control
HISTORY = "#1f1f1f"
MUTED = "#8c8c8c"


def _to_dates(days) -> list[dt.date]:
    return [START + dt.timedelta(days=float(d)) for d in days]


def _date_axis(ax, axis="x") -> None:
    loc = mdates.AutoDateLocator(minticks=5, maxticks=10)
    fmt = mdates.ConciseDateFormatter(loc)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(loc)
    target.set_major_formatter(fmt)


def _title(result) -> str:
    return (f"scenario '{result.scenario.name}': {result.replicates} replicates, seed {result.seed}, "
            f"{result.source.label}")


def _plot_end(result) -> float:
    """Stop the time axis a month after 95% of replicates have ended, if they did."""
    kab = result.kabul_fall_time
    if np.isfinite(kab).mean() >= 0.95:
        return min(result.model.horizon, float(np.nanquantile(kab, 0.95)) + 30)
    return result.model.horizon


def fan_chart(result, ax=None, *, history: bool = True, label: str | None = None,
              color: str = BAND) -> Figure:
    """Districts under Taliban control over time: median, 50% and 90% bands, the record's points."""
    fig = ax.figure if ax is not None else Figure(figsize=(10, 5.5), layout="constrained")
    ax = ax or fig.add_subplot()
    counts = result.daily_counts()
    q = np.quantile(counts, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0, method="inverted_cdf")
    days = np.arange(counts.shape[1]) + 1.0          # counts are at the end of each day
    end = _plot_end(result)
    keep = days <= end + 1
    x = _to_dates(days[keep])
    ax.fill_between(x, q[0][keep], q[4][keep], color=color, alpha=0.18, linewidth=0,
                    label="90% interval" if label is None else None)
    ax.fill_between(x, q[1][keep], q[3][keep], color=color, alpha=0.35, linewidth=0,
                    label="50% interval" if label is None else None)
    ax.plot(x, q[2][keep], color=color, linewidth=2, label=label or "median")
    if history:
        for cp in district_checkpoints(result.geo.source_dir):
            when = dt.datetime.combine(cp.date, dt.time()) + dt.timedelta(days=1)
            ax.plot([when], [cp.districts], marker="o",
                    markersize=7, markerfacecolor=HISTORY if cp.consistent else "white",
                    markeredgecolor=HISTORY, linestyle="none", zorder=5)
            if not cp.consistent:
                ax.annotate(cp.id.replace("_", " "), (when, cp.districts), textcoords="offset points",
                            xytext=(6, -12), fontsize=8, color=MUTED)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], marker="o", color=HISTORY, linestyle="none"),
                    Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor=HISTORY,
                           linestyle="none")]
        labels += ["record (history.csv)", "record, inconsistent with the monthly series"]
        ax.legend(handles, labels, loc="upper left", frameon=True, framealpha=0.9)
    ax.axhline(result.geo.n, color=MUTED, linewidth=0.8, linestyle=":")
    ax.text(_to_dates([end])[0], result.geo.n + 3, f"all {result.geo.n} districts", va="bottom",
            ha="right", fontsize=8, color=MUTED)
    ax.set_ylabel("districts under Taliban control")
    ax.set_ylim(0, result.geo.n * 1.04)
    ax.set_xlim(_to_dates([0])[0], _to_dates([end + 1])[0])
    ax.grid(alpha=0.3)
    _date_axis(ax)
    ax.set_title(f"Districts under Taliban control\n{_title(result)}", fontsize=11)
    return fig


def capitals_chart(result, ax=None) -> Figure:
    """Each capital's simulated fall-date interval beside its historical date."""
    geo = result.geo
    hist = {c.pcode: c for c in capital_falls(geo)}
    order = sorted(geo.provinces, key=lambda p: (p.fell_on == "", p.fell_on, p.fall_order.zfill(5)))
    n = len(order)
    fig = ax.figure if ax is not None else Figure(figsize=(10, 0.28 * n + 1.8), layout="constrained")
    ax = ax or fig.add_subplot()
    horizon = result.model.horizon
    for y, prov in enumerate(order):
        x = result.fall_time[:, prov.capital_index]
        x = np.where(np.isnan(x), np.inf, x)
        q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95], method="inverted_cdf")
        clip = lambda v: min(v, horizon)     # noqa: E731
        if np.isfinite(q[0]):
            ax.plot(_to_dates([q[0], clip(q[4])]), [y, y], color=BAND, linewidth=1.2, alpha=0.8)
        if np.isfinite(q[1]):
            ax.plot(_to_dates([q[1], clip(q[3])]), [y, y], color=BAND, linewidth=5, alpha=0.6,
                    solid_capstyle="butt")
        if np.isfinite(q[2]):
            ax.plot(_to_dates([q[2]]), [y], marker="|", color="black", markersize=9)
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
    falls = result.fall_time[:, geo.capital_rows]
    lo_day = np.nanquantile(falls, 0.02) if np.isfinite(falls).any() else 90
    hi_day = min(horizon, np.nanquantile(falls, 0.98) + 3) if np.isfinite(falls).any() else horizon
    lo_day = min(lo_day, 96) - 3
    hi_day = max(hi_day, 108)
    ax.set_xlim(_to_dates([lo_day])[0], _to_dates([hi_day])[0])
    ax.grid(axis="x", alpha=0.3)
    _date_axis(ax)
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


def write_run_plots(result, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, fig in (("districts_fan.png", fan_chart(result)),
                      ("capitals.png", capitals_chart(result))):
        path = folder / name
        fig.savefig(path, dpi=130)
        out.append(path)
    return out

