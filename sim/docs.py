"""Documentation generated from the code's own tables, so it cannot drift from them."""

from __future__ import annotations

from .parameters import PARAMETERS
from .timeline import DRIVERS

GROUP_TITLES = {
    "district": "Rural districts (the surrender rule)", "capital": "Provincial capitals",
    "trigger": "The Taliban's decision to turn on the cities", "kabul": "Kabul and after Kabul",
    "mode": "Mode of a fall (negotiated or fought)", "initial": "The initial state (1 May 2021)",
    "policy": "Policy levers (0 in the historical run; what-ifs change them)",
}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _posterior_summary() -> dict[str, str]:
    """Median and 5-95% range of each calibrated parameter in the installed posterior."""
    import numpy as np

    from .parameters import NAMES
    from .posterior import load_default_posterior
    post = load_default_posterior()
    if post is None:
        return {}
    out = {}
    for j, name in enumerate(NAMES):
        col = post.rows[:, j]
        if np.ptp(col) > 0:
            lo, med, hi = np.quantile(col, [0.05, 0.5, 0.95])
            out[name] = f"{med:.3g} [{lo:.3g}, {hi:.3g}]"
    return out


def parameters_markdown() -> str:
    """The parameter table as Markdown: name, default, posterior, unit, bounds, meaning, source."""
    post = _posterior_summary()
    out = ["# Model parameters", "",
           "Generated from `sim/parameters.py` and the installed posterior (`sim/data/posterior.csv`)",
           "by `afsim parameters --markdown`; do not edit by hand. `afsim run` draws each replicate's",
           "calibrated parameters from the posterior (column *posterior*: median [5%, 95%]); the",
           "*default* is used with `--fixed-parameters` (for calibrated parameters, the",
           "highest-posterior draw of the previous default calibration, until 6 December 2026:",
           "`calibration/structures/previous_default`; the current default's draw is in",
           "`calibration/default/fit_report.json`).", ""]
    for group, title in GROUP_TITLES.items():
        rows = [p for p in PARAMETERS if p.group == group]
        if not rows:
            continue
        out += [f"## {title}", "", "| name | default | posterior | unit | range | meaning | source |",
                "|---|---|---|---|---|---|---|"]
        for p in rows:
            out.append(f"| `{p.name}` | {p.default:g} | {post.get(p.name, 'fixed')} | {_cell(p.unit)} | "
                       f"[{p.lower:g}, {p.upper:g}] | {_cell(p.meaning)} | {_cell(p.source)} |")
        out.append("")
    out += ["## Timeline drivers", "", "| driver | meaning | allowed values |", "|---|---|---|"]
    for name, (meaning, lo, hi) in DRIVERS.items():
        out.append(f"| `{name}` | {_cell(meaning)} | [{lo:g}, {hi:g}] |")
    return "\n".join(out) + "\n"


def parameters_text() -> str:
    lines = [f"{'name':26s} {'default':>10s}  {'unit':28s} meaning"]
    for p in PARAMETERS:
        lines.append(f"{p.name:26s} {p.default:>10.4g}  {p.unit[:28]:28s} {p.meaning}")
    return "\n".join(lines) + "\n"
