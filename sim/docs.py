"""Documentation generated from the code's own tables, so it cannot drift from them."""

from __future__ import annotations

from .parameters import PARAMETERS
from .timeline import DRIVERS

GROUP_TITLES = {
    "district": "Rural districts (the surrender rule)", "capital": "Provincial capitals",
    "trigger": "The strategic trigger of the assault on cities", "kabul": "Kabul and the collapse",
    "mode": "Mode of a fall (negotiated or fought)", "initial": "The initial state (1 May 2021)",
    "policy": "Policy levers (0 in the historical run; what-ifs change them)",
}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def parameters_markdown() -> str:
    """The parameter table as Markdown: name, default, unit, bounds, meaning, source."""
    out = ["# Model parameters", "",
           "Generated from `sim/parameters.py` by `afsim parameters --markdown`; do not edit by hand.",
           "Defaults are the hand-set values; `afsim run` draws each replicate's calibrated parameters",
           "from the committed posterior unless `--fixed-parameters` is given.", ""]
    for group, title in GROUP_TITLES.items():
        rows = [p for p in PARAMETERS if p.group == group]
        if not rows:
            continue
        out += [f"## {title}", "", "| name | default | unit | range | meaning | source |",
                "|---|---|---|---|---|---|"]
        for p in rows:
            out.append(f"| `{p.name}` | {p.default:g} | {_cell(p.unit)} | [{p.lower:g}, {p.upper:g}] | "
                       f"{_cell(p.meaning)} | {_cell(p.source)} |")
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
