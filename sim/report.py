"""The comparison report: one self-contained HTML page (figures embedded), plus its files.

Layout of a comparison folder::

    report.html            every figure and the comparison table; opens in a browser, no server
    map.html               the interactive map alone (also in report.html): offline, no server;
                           see sim.interactive_map
    comparison.csv         one row per scenario, baseline first, what-ifs by effect size
                           (see sim.compare.Comparison.table)
    effects.csv            one row per (outcome, what-if): every effect with its Monte Carlo
                           error and its spread across posterior draws (and structures)
    effects_by_structure.csv
                           with several structures: each headline effect under each one apart
    effects_by_province.csv, effects_by_region.csv
                           per what-if and area: shifts of fall dates, P(fallen by 15 Aug)
    sensitivity.csv        Sobol indices, when a sensitivity analysis was run
    plots/*.png            the report's figures
    <scenario>/            each scenario's own run outputs (the contract of ``afsim run``)
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
from pathlib import Path

import re
from importlib import resources

import numpy as np

from .version import __version__
from .progress import progress_bar
from .results import write_csv, write_json

#: The packaged text of the report's "Structural assumptions" section.
STRUCTURAL_ASSUMPTIONS = "structural_assumptions.md"


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
text-align:right;white-space:nowrap}th{background:#f4f4f4;white-space:normal}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%}.meta{color:#555;font-size:.9em}li{margin:.3em 0}
.small{font-size:.85em;color:#444}
"""



def structural_assumptions_markdown() -> str:
    return resources.files("sim").joinpath("data", STRUCTURAL_ASSUMPTIONS).read_text(encoding="utf-8")


def _inline(text: str) -> str:
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return out


def markdown_html(text: str, *, top_level: int = 3) -> str:
    """The small Markdown subset of the packaged texts: headings, bullet lists, paragraphs,
    **bold** and `code`. Headings are demoted to start at ``top_level``."""
    parts, para, items = [], [], []

    def flush():
        if para:
            parts.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if items:
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("#"):
            flush()
            level = min(6, len(stripped) - len(stripped.lstrip("#")) + top_level - 1)
            parts.append(f"<h{level}>{_inline(stripped.lstrip('#').strip())}</h{level}>")
        elif stripped[:2] in ("- ", "* "):
            if para:
                flush()
            items.append(stripped[2:])
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + stripped
        else:
            para.append(stripped)
    flush()
    return "\n".join(parts)


def _drop_title(text: str) -> str:
    """The packaged file's own top heading repeats the section's title: drop it."""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines)


def write_comparison_outputs(comparison, out: Path, *, plots: bool = True, boundaries=None,
                             map_scenario: str | None = None, animation: bool = True,
                             progress: bool = False) -> None:
    """Write every file of a comparison into ``out`` (an empty folder)."""
    from . import plots as P
    from .maps import has_outline
    animation = animation and has_outline(comparison.base.geo)    # the cells need the outline
    out.mkdir(parents=True, exist_ok=True)
    others = comparison.whatifs()
    figures = 6 + len(others) + int(animation) + int(comparison.sensitivity is not None)
    n_steps = len(comparison.results) + 2 + (figures if plots else 0)
    bar = progress_bar(n_steps, "report", progress, unit="step")
    day_range = _shared_capitals_range(comparison) if plots else None
    for name, res in comparison.results.items():
        res.plot_day_range = day_range
        res.write_into(out / name, plots=plots)
        bar.update(1)
    rows = comparison.table()
    write_csv(out / "comparison.csv", rows)
    effects = comparison.effects()
    if effects:
        write_csv(out / "effects.csv", effects)
    by_structure = comparison.effects_by_structure()
    if by_structure:
        write_csv(out / "effects_by_structure.csv", by_structure)
    by_area = {level: comparison.effects_by_area(level) for level in ("province", "region")}
    for level, area_rows in by_area.items():
        if area_rows:
            write_csv(out / f"effects_by_{level}.csv", area_rows)
    sens = comparison.sensitivity
    if sens is not None:
        write_csv(out / "sensitivity.csv", sens.rows())
    write_json(out / "manifest.json", {
        "scenarios": comparison.names, "baseline": comparison.baseline, "seed": comparison.seed,
        "replicates": comparison.replicates, "replicates_per_draw": comparison.replicates_per_draw,
        "parameter_source": comparison.base.source.label,
        "structures": {s: next(iter(r.values())).source.label
                       for s, r in comparison.structures.items()},
        # where each structure's posterior was read (labels name only the file), and its hash
        "structure_posteriors": {s: {"path": src.path, "sha256": src.digest}
                                 for s, r in comparison.structures.items()
                                 for src in [next(iter(r.values())).source]},
        # a structure that dates the timeline differently: its baseline's chain of files
        "structure_baselines": _own_timelines(comparison),
        # the set file (--structures) the structures were listed in, if any
        "structure_set": (None if comparison.structure_set is None else
                          {"path": str(comparison.structure_set.path),
                           "sha256": comparison.structure_set.sha256}),
        "package_version": __version__, "elapsed_seconds": round(comparison.elapsed, 2),
        "scenario_hashes": {n: r.scenario.hash for n, r in comparison.results.items()},
        **comparison.notes})
    bar.update(1)
    from .interactive_map import write_interactive_map
    interactive = write_interactive_map(comparison, out)          # map.html; embedded below too
    bar.update(1)
    figs: list[tuple[str, str, str]] = []          # (file, alt, caption)
    if plots:
        pdir = out / "plots"
        pdir.mkdir(exist_ok=True)

        def save(fig, name, alt, caption):
            fig.savefig(pdir / name, dpi=120)
            figs.append((name, alt, caption))
            bar.update(1)

        th = comparison.theatre
        K, fell = th.capital, th.capital_fell
        lo, hi, broken = P.survival_window(comparison)
        save(P.survival_chart(comparison), "survival.png", f"{K} survival curves",
             f"Probability that {K} is still held, by date, for every scenario"
             + ("; the right panel compresses the rest of the horizon, where some scenario still "
                "holds." if broken else "."))
        save(P.forest_chart(comparison), "effects.png", "Paired effects",
             "Effect of each what-if against the baseline, paired replicate by replicate; each "
             "panel sorted by the size of the effect.")
        save(P.scenario_fans(comparison), "fans.png", "Districts under Taliban control per scenario",
             "Districts under Taliban control over time; dashed: the baseline's median.")
        save(P.capitals_held_chart(comparison), "capitals_held.png", "Capitals held",
             f"Provincial capitals still held when {K} falls and on {_long_date(fell)}, per "
             "scenario.")
        _maps(comparison, save, boundaries, map_scenario)
        _difference_maps(comparison, save, boundaries)
        if animation:
            gif = _animation(comparison, out)
            figs.append((gif, "Animated map of the collapse",
                         f"The baseline's collapse, every third day from "
                         f"{_long_date(th.start, th.deadline)} to {_long_date(th.deadline)}."))
            bar.update(1)
        if sens is not None:
            save(P.sensitivity_chart(sens), "sensitivity.png", "Sobol indices",
                 "Which parameters' uncertainty moves the outcomes (Sobol indices).")
    (out / "report.html").write_text(render_html(comparison, rows, figs, out / "plots",
                                                 effects=effects, by_area=by_area,
                                                 interactive=interactive),
                                     encoding="utf-8")
    bar.close()


def _shared_capitals_range(comparison) -> tuple[float, float]:
    """One time axis for every scenario's capitals chart, so they can be read side by side."""
    from .plots import capitals_day_range
    spans = [capitals_day_range(r) for r in comparison.results.values()]
    return min(a for a, _ in spans), max(b for _, b in spans)


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
    others = comparison.whatifs()
    if not others:
        return
    if map_scenario is None or map_scenario not in comparison.results:
        map_scenario = others[0]
    th = base.theatre
    fell = th.capital_fell           # the capital's recorded fall (15 August 2021)
    p_base = base.summary.p_fallen_by(fell)
    p_alt = comparison.results[map_scenario].summary.p_fallen_by(fell)
    fig = side_by_side(p_base, p_alt, titles=("baseline", map_scenario), geo=base.geo,
                       boundaries=boundaries, vmin=0.0, vmax=1.0, cmap="Reds",
                       label=f"probability the district has fallen by {fell:%-d %B %Y}",
                       title=f"Probability each district has fallen by {fell:%-d %B}: baseline vs "
                             f"{map_scenario}")
    save(fig, f"map_{map_scenario}.png", "Side-by-side map",
         f"Probability each district has fallen by {fell:%-d %B %Y}, baseline vs {map_scenario} "
         f"(the what-if with the largest effect on {th.capital} unless chosen with --map-scenario).")


DIFF_CMAP = "RdBu"          # red: falls earlier / more likely than in the baseline; blue: later


def _difference_maps(comparison, save, boundaries) -> None:
    """Per what-if, two maps of what-if minus baseline per district, on diverging scales centred
    on zero: the change in the probability of still being held on 15 August (one scale for every
    what-if, so those maps compare) and the shift of the median fall date (each what-if its own
    scale: one that moves Kabul by months would otherwise wash out those that move it by days)."""
    from matplotlib.figure import Figure

    from .maps import district_map
    others = comparison.whatifs()
    if not others:
        return
    diffs = {n: comparison.district_differences(n) for n in others}
    th = comparison.theatre
    fell = th.capital_fell           # the capital's recorded fall (15 August 2021)
    p_key = f"p_fallen_by_{th.stamp(fell)}"
    p_lim = max(0.05, max(float(np.nanmax(np.abs(d[p_key]))) for d in diffs.values()))
    geo = comparison.base.geo
    for name in others:
        d = diffs[name]
        s_lim = max(1.0, float(np.nanquantile(np.abs(d["median_fall_day"]), 0.98)))
        fig = Figure(figsize=(16, 7.2), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        district_map(-d[p_key], geo, ax=ax1, cmap=DIFF_CMAP, vmin=-p_lim,
                     vmax=p_lim, boundaries=boundaries,
                     label=f"change in P(held on {fell.day} {fell:%b}): what-if minus baseline "
                           "(blue: more often held)",
                     title=f"P(still held on {_long_date(fell, fell)})")
        shift = np.clip(d["median_fall_day"], -s_lim, s_lim)
        district_map(shift, geo, ax=ax2, cmap=DIFF_CMAP, vmin=-s_lim, vmax=s_lim,
                     boundaries=boundaries,
                     label=f"shift of the median fall date, days (blue: later; clipped at \u00b1{s_lim:.0f})",
                     title="median fall date")
        fig.suptitle(f"{name} minus {comparison.baseline}, per district\n", fontsize=13)
        save(fig, f"diff_map_{name}.png", f"Difference map {name}",
             f"{name} minus {comparison.baseline}, district by district: the change in the "
             f"probability of still being held on {_long_date(fell, fell)} (left) and the shift of the median "
             "fall date (right; a district held in most replicates counts as falling at the "
             "horizon). Blue: held longer under the what-if. The left scale is the same for every "
             "what-if; the right one is the what-if's own.")


def _animation(comparison, out: Path) -> str | None:
    """The baseline's collapse, day by day (raster maps only: polygons would be slow to redraw)."""
    from .maps import collapse_animation
    base = comparison.base
    path = out / "plots" / "collapse_baseline.gif"
    th = comparison.theatre          # to the deadline (31 August 2021: day 122)
    last_day = int(min(th.day_of(th.deadline), base.model.horizon - 1))
    collapse_animation(base.summary.p_fallen_by_day(), path, base.geo, last_day=last_day, every=3,
                       title=f"The collapse, baseline ({base.replicates} replicates): "
                             "probability each district is under Taliban control")
    return path.name


def _long_date(date: dt.date, beside: dt.date | None = None) -> str:
    """``15 August 2021``; without the year when ``beside``, the other end of a range, is of the
    same year (``1 May`` to ``31 August 2021``)."""
    if beside is not None and beside.year == date.year:
        return f"{date.day} {date:%B}"
    return f"{date.day} {date:%B %Y}"


def _num(v, digits: int = 1, signed: bool = True) -> str:
    if v == "" or v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _effects_table(comparison) -> str:
    """The what-if table: headline effects, sorted by the effect on Kabul, with each effect's
    Monte Carlo error and its spread across posterior draws (and structures) kept apart."""
    OUTCOMES, HEADLINE = comparison.outcomes, comparison.headline
    multi = len(comparison.structures) > 1
    head = ["what-if"]
    for key in HEADLINE:
        label = html.escape(OUTCOMES[key].label)
        head += [f"{label}: mean", "MC s.e.", "5-95% across draws"] + (["range across structures"]
                                                                        if multi else [])
    decided = _decided_by(comparison)
    if decided:
        head.append("decided by (largest Sobol total effects)")
    body = []
    for name in comparison.whatifs():
        cells = [html.escape(name)]
        for key in HEADLINE:
            e = comparison.effect(name, key)
            cells += [_num(e["mean"]), _num(e["mc_se"], 2, False),
                      f"{_num(e['pred_q05'])} to {_num(e['pred_q95'])}"]
            if multi:
                cells.append(f"{_num(e['structure_min'])} to {_num(e['structure_max'])}")
        if decided:
            cells.append(html.escape(decided))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def _structures_table(comparison) -> str:
    """With several structures: the effect on Kabul under each, side by side (mean and, in
    brackets, 5-95% across that structure's draws), so a reader sees which structure decides the
    range rather than only its ends."""
    if len(comparison.structures) < 2:
        return ""
    key = comparison.capital_days
    names = list(comparison.structures)
    rows = []
    for name in comparison.whatifs():
        row = {"what-if": name}
        for s in names:
            e = comparison.effect(name, key, structure=s)
            row[s] = f"{_num(e['mean'])} [{_num(e['pred_q05'])} to {_num(e['pred_q95'])}]"
        rows.append(row)
    label = html.escape(comparison.outcomes[key].label)
    own = _own_timelines(comparison)
    note = ("" if not own else
            " Marked *: the structure dates the timeline differently, and every scenario ran "
            "rebased on its own baseline (" + "; ".join(
                f"{html.escape(s)}: {html.escape(Path(files[-1]).as_posix())}"
                for s, files in own.items()) + ").")
    return (f"<h3>Under each structure: {label}</h3><p>The mean effect under each posterior, and "
            "in brackets the 5-95% spread across its draws (effects_by_structure.csv has every "
            f"headline outcome).{note}</p>"
            + _table(rows, [("what-if", "what-if")]
                     + [(s, f"{s} *" if s in own else s) for s in names])
            + _structure_set_table(comparison))


def _structure_set_table(comparison) -> str:
    """The structures a set file listed, each with how it differs from the primary and why it is
    kept, as the file states them (``--structures``)."""
    listed = comparison.structure_set
    if listed is None:
        return ""
    rows = [{"structure": s.name, "differs": s.differs, "why": s.why,
             "posterior": Path(s.posterior).as_posix()} for s in listed.structures]
    return (f"<h3>The structures compared</h3><p>Listed in "
            f"<code>{html.escape(Path(listed.path).as_posix())}</code>"
            + (f": {html.escape(listed.description)}" if listed.description else "")
            + " The first column of the table above is the primary.</p>"
            + _table(rows, [("structure", "structure"), ("differs", "how it differs"),
                            ("why", "why it is kept"), ("posterior", "posterior")]))


def _own_timelines(comparison) -> dict:
    """The structures whose baseline is not the primary's: name -> its chain of files."""
    base = comparison.base.scenario.files
    return {s: [os.path.normpath(f) for f in r[comparison.baseline].scenario.files]
            for s, r in comparison.structures.items()
            if r[comparison.baseline].scenario.files != base}


def _conditioned_table(comparison) -> str:
    """The headline effects again, in the 2021s whose countryside went as recorded (only when the
    comparison was conditioned: ``--condition-on``)."""
    c = comparison.conditioning
    if c is None:
        return ""
    OUTCOMES, HEADLINE = comparison.outcomes, comparison.headline
    head = ["what-if"] + [f"{html.escape(OUTCOMES[k].label)}: {w}" for k in HEADLINE
                          for w in ("as simulated", "conditioned")]
    body = []
    for name in comparison.whatifs():
        cells = [html.escape(name)]
        for key in HEADLINE:
            for e in (comparison.effect(name, key), comparison.conditioned_effect(name, key)):
                cells.append(f"{_num(e['mean'])} [{_num(e['pred_q05'])} to {_num(e['pred_q95'])}]")
        body.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    return (f"<h3>Conditioned on the recorded countryside</h3><p>The same paired effects (mean "
            f"[5-95% across posterior draws]) on the baseline replicates resampled, within each "
            f"posterior draw, by how well their district counts match the record "
            f"({html.escape(', '.join(c.points))}; effective sample {c.effective_replicates:.0f} "
            f"of {len(c.indices)}), every what-if taking the same replicates: the what-if asked of "
            f"the 2021s that went as recorded until the policy's effect.</p>"
            "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def _decided_by(comparison) -> str:
    """Which structural assumptions decide the effects, when the sensitivity output says (a
    column ``assumption`` in its rows): those of the parameters with the largest total Sobol
    index on Kabul's date. Empty when there is no such column."""
    sens = comparison.sensitivity
    if sens is None:
        return ""
    rows = sens.rows()
    if not rows or "assumption" not in rows[0]:
        return ""
    by_param = {r["parameter"]: r["assumption"] for r in rows if r.get("assumption")}
    picked = []
    for name, value in sens.ranking(sens.outcomes[0])[:3]:
        a = by_param.get(name)
        if a and a not in picked and value > 0.05:
            picked.append(a)
    return "; ".join(picked)


def _pivot(rows: list[dict], level: str, order: list[str], value: str, fmt) -> str:
    """Areas as rows, what-ifs as columns."""
    if not rows:
        return ""
    areas = list(dict.fromkeys(r[level] for r in sorted(rows, key=lambda r: r[level])))
    cell = {(r["scenario"], r[level]): r for r in rows}
    head = "".join(f"<th>{html.escape(n)}</th>" for n in order)
    body = []
    for a in areas:
        tds = "".join(f"<td>{fmt(cell[(n, a)])}</td>" if (n, a) in cell else "<td></td>" for n in order)
        body.append(f"<tr><td>{html.escape(a)}</td>{tds}</tr>")
    return (f"<table><thead><tr><th>{level}</th>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table>")


def render_html(comparison, rows, figs, pdir: Path, *, effects=None, by_area=None,
                interactive: str = "") -> str:
    base = comparison.base
    scen_items = []
    for name, res in comparison.results.items():
        sc = res.scenario
        changes = [f"{c.name} {c.op} {c.value:g}" for c in sc.changes]
        scen_items.append(f"<li><b>{html.escape(name)}</b>"
                          + (f" (changes {html.escape(', '.join(changes))})" if changes else "")
                          + f": {html.escape(sc.description)}</li>")
    findings = "".join(f"<li>{html.escape(f)}</li>" for f in comparison.findings())
    th = comparison.theatre         # its capital (Kabul) and dates name the columns
    k, K, st = th.capital_key, th.capital, th.stamp
    fell, dl = th.capital_fell, th.deadline
    Kh = html.escape(K)
    horizon = th.date_of(base.model.horizon - 1)        # the last day simulated (inclusive)
    columns = [("scenario", "scenario"), (f"{k}_fall_date_q50", f"{K} falls (median)"),
               (f"{k}_fall_date_q05", "5%"), (f"{k}_fall_date_q95", "95%"),
               (f"{k}_held_share", f"{K} held to the horizon (share)"),
               (f"capitals_held_at_{k}_fall_q50", f"other capitals held at {K}'s fall (median)"),
               (f"districts_held_at_{k}_fall_q50", f"districts held at {K}'s fall (median)"),
               (f"p_{k}_fallen_by_{st(dl)}", f"P({K} by {dl.day} {dl:%b})"),
               (f"capitals_held_{st(fell)}_q50", f"capitals held {fell.day} {fell:%b} (median)"),
               (f"districts_held_{st(fell)}_q50", f"districts held {fell.day} {fell:%b} (median)"),
               (f"{k}_days_effect_mean", f"{K} holds vs baseline (days)"),
               (f"{k}_days_effect_pred_q05", "5% across draws"),
               (f"{k}_days_effect_pred_q95", "95% across draws")]
    sens_html = ""
    sens = comparison.sensitivity
    if sens is not None:
        from .plots import readable_name
        top = sens.ranking(sens.outcomes[0])[:3]
        cached = getattr(sens, "cache_note", "")
        sens_html = ("<h2>Which parameter matters most</h2><p>Sobol total-effect indices "
                     f"({sens.evaluations} parameter sets x {sens.replicates} replicates) of the "
                     f"baseline. For {K}'s fall date the largest are: "
                     + ", ".join(f"<b>{html.escape(readable_name(n).replace(chr(10), ' '))}</b> "
                                 f"(<code>{html.escape(n)}</code>, {v:.2f})" for n, v in top)
                     + ". Ranges: posterior 5-95% for calibrated parameters, half to one and a half "
                     "times the value otherwise; see sensitivity.csv."
                     + (f" {html.escape(cached)}" if cached else "") + "</p>")
        sens_html += "".join(_img(pdir / f, a) + f"<p class='small'>{html.escape(c)}</p>"
                             for f, a, c in figs if f == "sensitivity.png")
    diff_html = "".join(_img(pdir / f, a) + f"<p class='small'>{html.escape(c)}</p>"
                        for f, a, c in figs if f.startswith("diff_map_"))
    fig_html = "".join(_img(pdir / f, a) + f"<p class='small'>{html.escape(c)}</p>"
                       for f, a, c in figs if f != "sensitivity.png" and not f.startswith("diff_map_"))
    order = comparison.whatifs()
    by_area = by_area or {}
    area_html = ""
    if order and by_area.get("region"):
        area_html = (
            "<h2>Effects by region and province</h2><p>Per what-if (columns, largest effect on "
            f"{html.escape(K)} first): the median over the area's districts of the shift of each "
            "district's median fall date, in days (positive: later than in the baseline; a district "
            "held in more than half the replicates counts as falling at the horizon), and in "
            "brackets the change in the share of its districts fallen by "
            f"{_long_date(fell, fell)}, in percentage points. "
            "Every column, including the capitals' shifts and the paired mean shifts, is in "
            "effects_by_region.csv and effects_by_province.csv.</p><h3>Regions</h3>"
            + _pivot(by_area["region"], "region", order, "district_median_shift_days", _area_cell)
            + "<h3>Provinces</h3>"
            + _pivot(by_area.get("province", []), "province", order, "district_median_shift_days",
                     _area_cell))
    structures = ""
    if len(comparison.structures) > 1:
        structures = (" Structures compared (one posterior each): "
                      + ", ".join(f"<b>{html.escape(s)}</b>" for s in comparison.structures)
                      + "; the first is the primary one shown in the figures.")
    m = comparison.replicates_per_draw
    draws = -(-comparison.replicates // m)
    uncertainty = (
        f"<p>Each posterior draw is simulated {m} times ({draws} draws x {m} replicates), so an "
        "effect's spread splits into two parts that are shown apart: the <b>Monte Carlo standard "
        "error</b> of the mean (it shrinks with more replicates and says how precisely this run "
        "computed the mean) and the <b>spread across posterior draws</b> (5-95% of the per-draw "
        "mean effects, with the within-draw simulation noise removed by a one-way random-effects "
        "decomposition): how uncertain the effect is given the calibration. Neither includes the "
        "uncertainty in the model's structure, below." + structures + "</p>"
        if m > 1 else
        "<p>Every replicate has its own posterior draw (replicates per draw = 1), so the spread "
        "across draws cannot be told from simulation noise and is not shown; rerun with "
        "<code>--replicates-per-draw 10</code>.</p>")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>afsim: what-if comparison</title><style>{CSS}</style></head><body>
<h1>What if? {html.escape(th.heading)}, under {len(rows) - 1} alternative histories</h1>
<p class="meta">Scenarios: {', '.join(html.escape(n) for n in comparison.names)}. Baseline:
<b>{html.escape(comparison.baseline)}</b>. {comparison.replicates} replicates per scenario, seed
{comparison.seed}, paired on common random numbers, {m} replicates per posterior draw. Parameters:
{html.escape(base.source.label)}. afsim {__version__}, generated
{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}, run time {comparison.elapsed:.0f} s.</p>
<h2>What-if effects</h2><p>Paired differences against <b>{html.escape(comparison.baseline)}</b>,
sorted by the size of the effect on {Kh}. The headline outcomes are measured relative to {Kh}'s
own fall (how many days longer it holds; how many other capitals and districts are still held when
it falls) rather than as counts on {_long_date(fell, fell)}, which swing by dozens when {Kh} moves by a day.
{Kh}'s fall day is censored at the horizon ({_long_date(horizon)}): a replicate in which {Kh} holds
counts as falling on the last day, so the mean is a restricted mean and a delay is a lower bound
where {Kh} holds (the share is in comparison.csv, <code>{k}_held_share</code>).</p>
{uncertainty}
{_effects_table(comparison)}
{_structures_table(comparison)}
{_conditioned_table(comparison)}
{"<h2>Interactive map</h2>" + interactive if interactive else ""}
<h2>Structural assumptions</h2><div class="small">{markdown_html(_drop_title(structural_assumptions_markdown()))}</div>
<h2>Findings</h2><ul>{findings}</ul>
<h2>Comparison table</h2>{_table(rows, columns)}<p class="small">All columns, with every effect's
Monte Carlo error and spread across draws, are in comparison.csv (one row per scenario) and
effects.csv (one row per effect); each scenario's full outputs are in its own folder.</p>
{area_html}
<h2>Difference maps</h2>{diff_html}
{sens_html}
<h2>Figures</h2>{fig_html}
<h2>Scenarios</h2><ul>{''.join(scen_items)}</ul>
<h2>How to read this</h2><p class="small">Each replicate of a what-if shares its random numbers
(district resistances, the initial districts and the parameter draw) with the same replicate of the
baseline, so differences are due to the policy alone. The model and its assumptions are described
in the project's README and docs/assumptions.md; the parameters' meanings and sources in
docs/parameters.md.</p></body></html>
"""


def _area_cell(r: dict) -> str:
    p_diff = next(v for key, v in r.items() if key.startswith("p_fallen_by_") and key.endswith("_diff"))
    return (f"{r['district_median_shift_days']:+.0f} ({100 * p_diff:+.0f})"
            .replace("+0 (+0)", "0 (0)"))
