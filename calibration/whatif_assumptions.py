"""Which assumptions decide each what-if: every what-if under every structure tried, side by side.

The main command pools seventeen posteriors that the record cannot tell apart, and its intervals
carry them. The other structures tried were left out for a stated reason (the record rejects
them, they forecast worse, or they fit the capitals worse), but each one varies one named
assumption, so together they say which what-if rests on which assumption. This script runs the
baseline and every what-if under all of them on the same random numbers (``sim.compare``: 1,000
paired replicates, 10 per posterior draw, seed 1; a structure with its own ``baseline.toml`` is
rebased on it) and writes:

* ``calibration/structures/whatif_assumptions.csv``: each what-if's effect on the days Kabul
  holds under each structure (mean, Monte Carlo s.e., 5-95% across its posterior draws), with the
  structure's assumption, whether the main command pools it and why not;
* ``calibration/structures/whatif_assumptions.md``: the same as a table;
* ``docs/figures/whatif_assumptions.png``: one panel per what-if, a row per structure.

Run from the project folder: ``python calibration/whatif_assumptions.py`` (about 3.5 minutes on
two cores; the numbers do not depend on the number of workers); ``--redraw`` redraws the table
and the figure from the CSV without simulating.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STRUCTURES_DIR = HERE / "structures"
OUT_CSV = STRUCTURES_DIR / "whatif_assumptions.csv"
OUT_MD = STRUCTURES_DIR / "whatif_assumptions.md"
OUT_PNG = ROOT / "docs" / "figures" / "whatif_assumptions.png"

POOLED = "pooled in the main command"
FITS = "not rejected by the record; not in the main command"
DISFAVOURED = "disfavoured by the record"

#: (name, folder under calibration/, the assumption it varies, its standing, why). The first is
#: the default; the next sixteen are the main command's other posteriors (README line 6, which
#: reads them from calibration/structures/pooled.toml), chosen as each was tried (3-7 December 2026), not by one rule, six of them further calibration seeds (the
#: calibration's own Monte Carlo error; the default's second and third among them) and two the
#: default's model sampled otherwise (the default until 7 December 2026, precedent, and
#: rural192_differential); the rest were tried later or beside them.
STRUCTURES = (
    ("default", "default", "the calibrated default", POOLED, ""),
    ("default_seed11", "structures/rural192_cities128/seed11",
     "the default with another calibration seed", POOLED, ""),
    ("default_seed7", "structures/rural192_cities128/seed7",
     "the default with a third calibration seed", POOLED, ""),
    ("precedent", "structures/precedent",
     "the default until 7 December: its model sampled less well (R-hat 3.5)", POOLED, ""),
    ("precedent_seed7", "structures/precedent/seed7",
     "the same with another calibration seed", POOLED, ""),
    ("statuses_joint_capacity", "structures/statuses_joint_capacity",
     "no precedent for the cities' pace (A35 off): the default of 6 December", POOLED, ""),
    ("statuses_joint_capacity_seed7", "structures/statuses_joint_capacity/seed7",
     "the same with another calibration seed", POOLED, ""),
    ("rural192_differential", "structures/rural192_differential",
     "the precedent, its countryside's likelihood on 4x the replicates, differential moves", POOLED,
     ""),
    ("rural192_differential_seed11", "structures/rural192_differential/seed11",
     "the same with another calibration seed", FITS, "its first seed is pooled"),
    ("seed7", "structures/seed7", "the previous default with another calibration seed", POOLED, ""),
    ("weighted_start", "structures/weighted_start",
     "1 May state drawn on low reach, the border and the south", POOLED, ""),
    ("statuses_joint_narrow", "structures/statuses_joint_narrow",
     "offensive capacity unlimited (A32 off)", POOLED, ""),
    ("capital_fallen", "structures/capital_fallen",
     "a province follows its capital (A30), previous default", POOLED, ""),
    ("previous_default", "structures/previous_default",
     "the previous default (seed's facts, bandwagon only)", POOLED, ""),
    ("arrears_earlier", "structures/arrears_earlier", "arrears a month earlier (A11c)", POOLED, ""),
    ("withdrawal_countryside", "structures/withdrawal_countryside",
     "the withdrawal acts on the districts (A13c)", POOLED, ""),
    ("cities_fallen", "structures/cities_fallen",
     "the districts follow the fallen cities nationwide (A34), the count by Kabul's fall fitted",
     POOLED, ""),
    ("cities_fallen_seed7", "structures/cities_fallen/seed7",
     "cities_fallen with another calibration seed", POOLED, ""),
    ("capacity_brake_wide", "structures/capacity_brake_wide",
     "the national brake's prior widened (A8b)", FITS, "its capitals' error above the goal"),
    ("capital_endurance", "structures/capital_endurance", "enduring cities (A33)", FITS,
     "its capitals' error above the goal"),
    ("contagion_wide", "structures/contagion_wide", "contagion's prior widened to U(0, 10)", FITS,
     "an equal fit"),
    ("capacity_capital_fallen", "structures/capacity_capital_fallen",
     "a province follows its capital (A30) under the finite capacity", FITS, "an equal fit"),
    ("statuses_joint_capacity_pay", "structures/statuses_joint_capacity_pay",
     "the arrears' saturation estimated (A11b)", FITS, "an equal fit"),
    ("count_by_kabul", "structures/count_by_kabul",
     "the default of 6 December with the count by Kabul's fall fitted", FITS,
     "it cannot reach the count; early attacks 42%"),
    ("decision_gentle", "structures/decision_gentle",
     "the decision reads the share gently (A14b)", DISFAVOURED,
     "0.8% of the default's draws there against 20% of its prior; forecasts worse"),
    ("arrears_later", "structures/arrears_later", "arrears a month later (A11c)", DISFAVOURED,
     "the counts reject it (13.6 log units)"),
)

#: The what-ifs drawn, in the README's order (the largest effects first).
WHATIFS = ("salaries_paid", "surrender_chain_broken", "withdrawal_delayed",
           "air_support_sustained", "rural_held", "capitals_reinforced")


def _capitals_error(folder: Path) -> float:
    report = json.loads((folder / "fit_report.json").read_text())
    return float(report["capital_mae_days"])


def run(workers: int | None = None) -> list[dict]:
    import os

    import sim
    folders = {name: HERE / sub for name, sub, *_ in STRUCTURES}
    parameters = {name: folder / "posterior.csv" for name, folder in folders.items()}
    baselines = {name: folder / "baseline.toml" for name, folder in folders.items()
                 if (folder / "baseline.toml").is_file()}
    scenarios = sorted((ROOT / "scenarios").glob("*.toml"))
    comparison = sim.compare(scenarios, replicates=1000, seed=1, parameters=parameters,
                             baselines=baselines, workers=workers or os.cpu_count() or 1,
                             progress=True, keep_fall_times=False)
    meta = {name: (assumption, standing) for name, _, assumption, standing, _ in STRUCTURES}
    rows = []
    for e in comparison.effects_by_structure():
        if e["outcome"] != "kabul_days":
            continue
        assumption, standing = meta[e["structure"]]
        rows.append({"scenario": e["scenario"], "structure": e["structure"],
                     "assumption": assumption, "standing": standing,
                     "capitals_error_days": round(_capitals_error(folders[e["structure"]]), 2),
                     "mean": round(e["mean"], 1), "mc_se": round(e["mc_se"], 2),
                     "pred_q05": round(e["pred_q05"], 1), "pred_q95": round(e["pred_q95"], 1)})
    return rows


def ranges(rows: list[dict], standings: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """Each what-if's range of mean effects across the structures of the given standings."""
    out = {}
    for scenario in WHATIFS:
        means = [r["mean"] for r in rows if r["scenario"] == scenario and r["standing"] in standings]
        out[scenario] = (min(means), max(means))
    return out


def write_table(rows: list[dict]) -> None:
    with OUT_CSV.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cell = {(r["structure"], r["scenario"]): r for r in rows}
    lines = ["Days Kabul holds beyond the baseline, mean [5-95% across the structure's posterior "
             "draws]; 1,000 paired replicates, seed 1 (`python calibration/whatif_assumptions.py`). "
             "A Kabul that holds counts as falling on 31 December, so +135 to +138 means it "
             "holds in every replicate.", "",
             "| structure (the assumption it varies) | capitals' error | standing | "
             + " | ".join(WHATIFS) + " |",
             "|---|---|---|" + "---|" * len(WHATIFS)]
    for name, _, assumption, standing, why in STRUCTURES:
        first = cell[(name, WHATIFS[0])]
        effects = " | ".join(f"{cell[(name, s)]['mean']:+.1f} [{cell[(name, s)]['pred_q05']:+.0f}"
                             f" to {cell[(name, s)]['pred_q95']:+.0f}]" for s in WHATIFS)
        lines.append(f"| `{name}` ({assumption}) | {first['capitals_error_days']:.2f} d | "
                     f"{standing}{': ' + why if why else ''} | {effects} |")
    pooled, fits = ranges(rows, (POOLED,)), ranges(rows, (POOLED, FITS))
    n_pooled, n_fits = (sum(st[3] == k for st in STRUCTURES) for k in (POOLED, FITS))
    lines += ["", f"Range of the mean effects across the main command's {_words(n_pooled)}, and "
              "across every structure the record does not reject (the "
              f"{_words(n_pooled)} and the {_words(n_fits)} beside them):", "",
              f"| what-if | the main command's {_words(n_pooled)} | every structure not rejected |",
              "|---|---|---|"]
    lines += [f"| {s} | {pooled[s][0]:+.1f} to {pooled[s][1]:+.1f} | "
              f"{fits[s][0]:+.1f} to {fits[s][1]:+.1f} |" for s in WHATIFS]
    OUT_MD.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _words(n: int) -> str:
    """A small count as the README writes it."""
    words = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
             "fourteen fifteen sixteen seventeen eighteen nineteen twenty").split()
    return words[n] if n < len(words) else str(n)


def draw(rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    cell = {(r["structure"], r["scenario"]): r for r in rows}
    names = [s[0] for s in STRUCTURES]
    labels = [f"{s[2]}  ({s[0]})" for s in STRUCTURES]
    standing = [s[3] for s in STRUCTURES]
    pooled = np.array([st == POOLED for st in standing])
    # a gap between the groups
    y = np.arange(len(names))[::-1] - 0.6 * np.array([(POOLED, FITS, DISFAVOURED).index(st)
                                                      for st in standing])
    bands = ranges(rows, (POOLED,))
    fig, axes = plt.subplots(2, 3, figsize=(17, 10.5), sharey=True)
    for ax, scenario in zip(axes.flat, WHATIFS):
        mean = np.array([cell[(n, scenario)]["mean"] for n in names])
        lo = np.array([cell[(n, scenario)]["pred_q05"] for n in names])
        hi = np.array([cell[(n, scenario)]["pred_q95"] for n in names])
        ax.axvspan(*bands[scenario], color="0.85", zorder=0,
                   label=f"range of the means across the main command's {_words(pooled.sum())}")
        ax.axvline(0, color="0.5", lw=0.8)
        for group, colour, marker, label in (
                (POOLED, "black", "o", "pooled in the main command: mean, 5-95% across its draws"),
                (FITS, "tab:blue", "s", "not rejected by the record, not pooled"),
                (DISFAVOURED, "tab:orange", "D", "disfavoured by the record (A14b, A11c)")):
            k = np.array([st == group for st in standing])
            ax.hlines(y[k], lo[k], hi[k], color=colour, lw=1.6, alpha=0.6)
            ax.plot(mean[k], y[k], marker, color=colour, mfc=colour if group == POOLED else "white",
                    ms=6, label=label)
        ax.set_title(scenario.replace("_", " "), fontsize=11)
        ax.grid(axis="x", color="0.9")
        ax.set_xlabel("days Kabul holds beyond the baseline")
    axes[0, 0].set_yticks(y, labels, fontsize=8.5)
    axes[1, 0].set_yticks(y, labels, fontsize=8.5)
    handles, legend_labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="lower center", ncol=4, frameon=False)
    fig.suptitle("Which assumptions decide each what-if: every what-if under every structure "
                 "tried (calibration/whatif_assumptions.py)\n1,000 paired replicates each; a "
                 "Kabul that holds to 31 December counts as falling then, so a delay of about "
                 "+137 days means it holds in every replicate", fontsize=12)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    OUT_PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT_PNG, dpi=100)


def read_rows() -> list[dict]:
    """The rows of a previous run (``--redraw``: the table and the figure again, no simulation)."""
    with OUT_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    numbers = ("capitals_error_days", "mean", "mc_se", "pred_q05", "pred_q95")
    return [{k: float(v) if k in numbers else v for k, v in r.items()} for r in rows]


def main(argv: list[str]) -> int:
    from sim.errors import UserError
    if argv not in ([], ["--redraw"]):
        print("whatif_assumptions: expected no argument or --redraw", file=sys.stderr)
        return 2
    try:
        if argv == ["--redraw"]:
            if not OUT_CSV.is_file():
                raise UserError("no previous run to redraw; run without --redraw first",
                                file=OUT_CSV)
            rows = read_rows()
        else:
            rows = run()
    except UserError as exc:             # a user's mistake: one line, exit 2, nothing written
        print(f"whatif_assumptions: {exc}", file=sys.stderr)
        return 2
    write_table(rows)
    draw(rows)
    print(OUT_MD.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
