"""The comparison report: one self-contained HTML page (figures embedded), plus its files.

Layout of a comparison folder::

    report.html            every figure and the comparison table; opens in a browser, no server
    comparison.csv         one row per scenario (see sim.compare.Comparison.table)
    sensitivity.csv        Sobol indices, when a sensitivity analysis was run
    plots/*.png            the report's figures
    <scenario>/            each scenario's own run outputs (the contract of ``afsim run``)
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

import numpy as np

from . import __version__
from .results import write_csv, write_json


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    kind = "gif" if path.suffix == ".gif" else "png"
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/{kind};base64,{data}"/></figure>'


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = []
    for r in rows:
        body.append("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(key, '')))}</td>"
                                     for key, _ in columns) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#1f1f1f;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.82em;margin:1em 0}th,td{border:1px solid #ddd;padding:.3em .5em;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%}.meta{color:#555;font-size:.9em}li{margin:.3em 0}
.small{font-size:.85em;color:#444}
"""


def write_comparison_outputs(comparison, out: Path, *, plots: bool = True, boundaries=None,
                             map_scenario: str | None = None, animation: bool = True) -> None:
    """Write every file of a comparison into ``out`` (an empty folder)."""
    from . import plots as P
    out.mkdir(parents=True, exist_ok=True)
    for name, res in comparison.results.items():
        res.write_into(out / name, plots=plots)
    rows = comparison.table()
    write_csv(out / "comparison.csv", rows)
    sens = comparison.sensitivity
    if sens is not None:
        write_csv(out / "sensitivity.csv", sens.rows())
    write_json(out / "manifest.json", {
        "scenarios": comparison.names, "baseline": comparison.baseline, "seed": comparison.seed,
        "replicates": comparison.replicates, "parameter_source": comparison.base.source.label,
        "package_version": __version__, "elapsed_seconds": round(comparison.elapsed, 2),
        "scenario_hashes": {n: r.scenario.hash for n, r in comparison.results.items()},
        **comparison.notes})
    figs: list[tuple[str, str, str]] = []          # (file, alt, caption)
    if plots:
        pdir = out / "plots"
        pdir.mkdir(exist_ok=True)

        def save(fig, name, alt, caption):
            fig.savefig(pdir / name, dpi=120)
            figs.append((name, alt, caption))

        save(P.survival_chart(comparison), "survival.png", "Kabul survival curves",
             "Probability that Kabul is still held, by date, for every scenario.")
        save(P.forest_chart(comparison), "effects.png", "Paired effects",
             "Effect of each what-if against the baseline, paired replicate by replicate.")
        save(P.scenario_fans(comparison), "fans.png", "Districts under Taliban control per scenario",
             "Districts under Taliban control over time; dashed: the baseline's median.")
        save(P.capitals_held_chart(comparison), "capitals_held.png", "Capitals held on 15 August",
             "Provincial capitals still held on 15 August 2021, per scenario.")
        _maps(comparison, save, boundaries, map_scenario)
        if animation:
            gif = _animation(comparison, out)
            figs.append((gif, "Animated map of the collapse",
                         "The baseline's collapse, every third day from 1 May to 31 August 2021."))
        if sens is not None:
            save(P.sensitivity_chart(sens), "sensitivity.png", "Sobol indices",
                 "Which parameters' uncertainty moves the outcomes (Sobol indices).")
    (out / "report.html").write_text(render_html(comparison, rows, figs, out / "plots"),
                                     encoding="utf-8")


def _maps(comparison, save, boundaries, map_scenario) -> None:
    from .maps import district_map, side_by_side
    base = comparison.base
    med = base.summary.fall_day_quantile(0.5) + 0.5          # the middle of the median's day
    med = np.where(np.isfinite(med), med, np.nan)
    fig = district_map(med, base.geo, date_values=True, boundaries=boundaries,
                       label="median fall date",
                       title=f"Baseline: median date each district falls ({base.replicates} replicates)")
    save(fig, "map_baseline_median_fall.png", "Map of median fall dates",
         "Baseline: median date on which each district falls (grey: held in most replicates).")
    others = [n for n in comparison.names if n != comparison.baseline]
    if not others:
        return
    if map_scenario is None or map_scenario not in comparison.results:
        map_scenario = max(others, key=lambda n: abs(comparison.effect(n, "kabul_days")["mean"]))
    aug15 = dt.date(2021, 8, 15)
    p_base = base.summary.p_fallen_by(aug15)
    p_alt = comparison.results[map_scenario].summary.p_fallen_by(aug15)
    fig = side_by_side(p_base, p_alt, titles=("baseline", map_scenario), geo=base.geo,
                       boundaries=boundaries, vmin=0.0, vmax=1.0, cmap="Reds",
                       label="probability the district has fallen by 15 August 2021",
                       title=f"Probability each district has fallen by 15 August: baseline vs "
                             f"{map_scenario}")
    save(fig, f"map_{map_scenario}.png", "Side-by-side map",
         f"Probability each district has fallen by 15 August 2021, baseline vs {map_scenario} "
         "(the what-if with the largest effect on Kabul unless chosen with --map-scenario).")


def _animation(comparison, out: Path) -> str | None:
    """The baseline's collapse, day by day (raster maps only: polygons would be slow to redraw)."""
    from .maps import collapse_animation
    base = comparison.base
    path = out / "plots" / "collapse_baseline.gif"
    collapse_animation(base.summary.p_fallen_by_day(), path, base.geo, last_day=122, every=3,
                       title=f"The collapse, baseline ({base.replicates} replicates): "
                             "probability each district is under Taliban control")
    return path.name


def render_html(comparison, rows, figs, pdir: Path) -> str:
    base = comparison.base
    scen_items = []
    for name, res in comparison.results.items():
        sc = res.scenario
        changes = [f"{c.name} {c.op} {c.value:g}" for c in sc.changes]
        scen_items.append(f"<li><b>{html.escape(name)}</b>"
                          + (f" (changes {html.escape(', '.join(changes))})" if changes else "")
                          + f": {html.escape(sc.description)}</li>")
    findings = "".join(f"<li>{html.escape(f)}</li>" for f in comparison.findings())
    columns = [("scenario", "scenario"), ("kabul_fall_q50", "Kabul falls (median)"),
               ("kabul_fall_q05", "5%"), ("kabul_fall_q95", "95%"),
               ("p_kabul_by_2021_08_31", "P(Kabul by 31 Aug)"),
               ("p_kabul_by_2021_12_31", "P(Kabul by 31 Dec)"),
               ("capitals_held_2021_08_15_q50", "capitals held 15 Aug (median)"),
               ("districts_held_2021_08_15_q50", "districts held 15 Aug (median)"),
               ("d_kabul_days_mean", "Kabul delay vs baseline (days)"),
               ("d_kabul_days_ci90_lo", "90% CI lo"), ("d_kabul_days_ci90_hi", "90% CI hi"),
               ("d_capitals_held_aug15_mean", "extra capitals held 15 Aug")]
    sens_html = ""
    sens = comparison.sensitivity
    if sens is not None:
        top = sens.ranking("kabul_day")[:3]
        sens_html = ("<h2>Which parameter matters most</h2><p>Sobol total-effect indices "
                     f"({sens.evaluations} parameter sets x {sens.replicates} replicates). For "
                     "Kabul's fall date the largest are: "
                     + ", ".join(f"<b>{html.escape(n)}</b> ({v:.2f})" for n, v in top)
                     + ". Ranges: posterior 5-95% for calibrated parameters, half to one and a half "
                     "times the value otherwise; see sensitivity.csv.</p>")
        sens_html += "".join(_img(pdir / f, a) + f"<p class='small'>{html.escape(c)}</p>"
                             for f, a, c in figs if f == "sensitivity.png")
    fig_html = "".join(_img(pdir / f, a) + f"<p class='small'>{html.escape(c)}</p>"
                       for f, a, c in figs if f != "sensitivity.png")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>afsim: what-if comparison</title><style>{CSS}</style></head><body>
<h1>What if? The fall of the Afghan republic, 2021, under {len(rows) - 1} alternative histories</h1>
<p class="meta">Scenarios: {', '.join(html.escape(n) for n in comparison.names)}. Baseline:
<b>{html.escape(comparison.baseline)}</b>. {comparison.replicates} replicates per scenario, seed
{comparison.seed}, paired on common random numbers. Parameters: {html.escape(base.source.label)}.
afsim {__version__}, generated {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}, run time
{comparison.elapsed:.0f} s.</p>
<h2>Findings</h2><p>Effects are paired differences against the baseline (mean, 90% confidence
interval of the mean, and the 5-95% range over replicates). Kabul's date is censored at the
horizon (31 December 2021), so delays are lower bounds when Kabul often holds.</p><ul>{findings}</ul>
<h2>Comparison table</h2>{_table(rows, columns)}<p class="small">All columns, with intervals, are in
comparison.csv; each scenario's full outputs are in its own folder.</p>
{sens_html}
<h2>Figures</h2>{fig_html}
<h2>Scenarios</h2><ul>{''.join(scen_items)}</ul>
<h2>How to read this</h2><p class="small">Each replicate of a what-if shares its random numbers
(district resistances, the initial districts and the parameter draw) with the same replicate of the
baseline, so differences are due to the policy alone. The model and its assumptions are described
in the project's README and docs/assumptions.md; the parameters' meanings and sources in
docs/parameters.md.</p></body></html>
"""
