"""Would longer chains mix the walkers? Split R-hat after 400, 600, 800 and 1,000 steps.

The default calibration runs 400 steps, and its walkers' split R-hat (each walker's chain after
the burn-in read as a chain, ``sim.calibration_sampler.walker_rhat``) is 1.72 and 1.80: not mixed.
``calibration/structures/long1000`` is the default run for 1,000 steps with two seeds. Its first
400 countryside steps are the default's own (the same seed: a stage's chain does not depend on the
steps that follow), so truncating its chains says what each extra 200 steps would have bought, with
the default's burn-in of 150 steps kept throughout. Its cities' chains differ from the default's
from the first step: the cities' replicates carry draws of the countryside's posterior, which the
longer countryside chain changes.

Writes ``calibration/structures/long1000/chain_length.json`` and ``docs/figures/chain_length.png``.
Run from the project folder: ``python calibration/chain_length.py`` (a second).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim.calibration_config import load_config
from sim.calibration_sampler import walker_rhat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FOLDER = HERE / "structures" / "long1000"
OUT_JSON = FOLDER / "chain_length.json"
OUT_PNG = ROOT / "docs" / "figures" / "chain_length.png"
#: seed label -> the long run's chains
RUNS = {"20210815": FOLDER / "chains.npz", "11": FOLDER / "seed11" / "chains.npz"}
STAGES = ("rural", "capitals")
_DEFAULT = load_config(HERE / "default.toml")
_LONG = load_config(FOLDER / "config.toml")
#: from the default's length to the long run's, every 200 steps
STEPS = tuple(range(_DEFAULT.steps, _LONG.steps + 1, 200))
#: the long run's burn-in (the default's), dropped at every length
BURN_IN = _LONG.burn_in


def rhat_by_length(chains: Path) -> dict:
    """Each stage's split R-hat across walkers (median and worst over its parameters) after each
    number of steps in STEPS, the first BURN_IN steps dropped."""
    data = np.load(chains)
    out = {}
    for stage in STAGES:
        chain = data[f"{stage}_chain_z"]
        if chain.shape[0] < max(STEPS):
            raise ValueError(f"{chains}: {stage} has {chain.shape[0]} steps; expected at least "
                             f"{max(STEPS)}")
        rows = {}
        for steps in STEPS:
            r = walker_rhat(chain[BURN_IN:steps])
            rows[str(steps)] = {"median": round(float(np.median(r)), 4),
                                "max": round(float(np.max(r)), 4)}
        out[stage] = rows
    return out


def result() -> dict:
    return {"burn_in": BURN_IN, "steps": list(STEPS),
            "seeds": {seed: rhat_by_length(path) for seed, path in RUNS.items()}}


def draw(res: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    titles = {"rural": "the countryside's stage", "capitals": "the cities' stage"}
    for ax, stage in zip(axes, STAGES):
        for (seed, by_stage), colour in zip(res["seeds"].items(), ("tab:blue", "tab:orange")):
            rows = by_stage[stage]
            ax.plot(STEPS, [rows[str(s)]["median"] for s in STEPS], "o-", color=colour,
                    label=f"seed {seed}, median over parameters")
            ax.plot(STEPS, [rows[str(s)]["max"] for s in STEPS], "o--", color=colour, alpha=0.5,
                    label=f"seed {seed}, worst parameter")
        ax.axhline(1.1, color="k", lw=1, ls=":")
        ax.text(STEPS[0], 1.11, "1.1: a mixed ensemble stays below", fontsize=8, va="bottom")
        ax.axvline(_DEFAULT.steps, color="grey", lw=1)
        ax.text(_DEFAULT.steps + 5, 2.1, f"the default's\n{_DEFAULT.steps} steps", fontsize=8,
                va="top", color="grey")
        ax.set_title(titles[stage])
        ax.set_xlabel(f"steps (the first {BURN_IN} dropped)")
        ax.set_xticks(STEPS)
    axes[0].set_ylabel("split R-hat across the 32 walkers")
    axes[0].set_ylim(1.0, 2.2)
    axes[0].legend(fontsize=8, frameon=False, loc="upper right")
    fig.suptitle("Would longer chains mix the walkers? The default run for 1,000 steps, two seeds\n"
                 "(calibration/structures/long1000; python calibration/chain_length.py)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    OUT_PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT_PNG, dpi=100)
    plt.close(fig)


def main() -> int:
    res = result()
    OUT_JSON.write_text(json.dumps(res, indent=1) + "\n")
    draw(res)
    for seed, by_stage in res["seeds"].items():
        for stage in STAGES:
            line = ", ".join(f"{s}: {by_stage[stage][str(s)]['median']:.2f}" for s in STEPS)
            print(f"seed {seed}, {stage}: median R-hat after {line} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
