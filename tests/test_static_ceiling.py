"""calibration/static_ceiling.py: the committed JSON is what the script computes, and its claim
holds (no static map of where districts are, down to each province's own timing learned from its
other districts, predicts TOLOnews' held-out statuses as well as the simulation does)."""

from __future__ import annotations

import json

from conftest import ROOT, load_script


def _script():
    return load_script("calibration/static_ceiling.py")


def test_the_committed_static_ceiling_is_what_the_script_computes(tmp_path):
    """Fixed seeds throughout (the default's predictive ensemble, rebuilt to the bit; the
    bootstrap's seed): the committed table reproduced, the simulation's skill to 1e-12, the
    references' (fitted by an optimiser, below) to 1e-4. The claim is the paired one: for
    every reference and both ways of fitting it, the simulation's Brier skill is above the
    reference's (measured: the best reference +0.089, the simulation +0.143)."""
    got = _script().static_ceiling(ROOT / "calibration" / "default", tmp_path / "static_ceiling.json")
    committed = json.loads((ROOT / "calibration" / "default" / "static_ceiling.json").read_text())
    assert got["references"].keys() == committed["references"].keys()
    for fit_name, by_variant in committed["references"].items():
        assert by_variant.keys() == got["references"][fit_name].keys()
        for name, c in by_variant.items():
            mine = got["references"][fit_name][name]
            # the simulation's skill is rebuilt to the bit; a reference is an L-BFGS-B fit
            # whose iterates differ in the last bits between CPUs (numpy's and BLAS's vector
            # paths), which its bootstrap's percentiles carry to ~5e-6 (measured on a Zen 4 EPYC
            # against the machine that wrote the table): far below the three decimals reported
            for key, tol in (("simulation_skill", 1e-12), ("reference_skill", 1e-4),
                             ("simulation_minus_reference", 1e-4)):
                for end in ("value", "lo", "hi"):
                    assert abs(mine[key][end] - c[key][end]) < tol, (fit_name, name, key, end)
            assert mine["simulation_skill"]["value"] > mine["reference_skill"]["value"], (fit_name, name)
