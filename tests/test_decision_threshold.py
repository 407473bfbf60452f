"""calibration/decision_threshold.py: the committed JSON is what the script computes, and its
claim holds (the early attacks barely depend on the decision threshold's chance)."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, load_script


def _script():
    return load_script("calibration/decision_threshold.py")


@pytest.mark.slow   # a committed script's output rerun (10-16 s): CI's slow run checks it
def test_the_committed_decision_threshold_check_is_what_the_script_computes(tmp_path):
    """Fixed seed, 4,000 replicates in draws of 10 on common random numbers (about 10 s). The
    committed figures are reproduced to 1e-9; the README's claim is a paired one: with the
    threshold nearly fixed the share of replicates with a capital before 6 August moves by less
    than 0.03 (measured 0.324 -> 0.316; a paired difference on 4,000 replicates has a standard
    error under 0.01), while both stay far above the 0.05 goal."""
    got = _script().main(out=tmp_path / "decision_threshold.json")
    committed = json.loads((ROOT / "calibration" / "default" / "decision_threshold.json").read_text())
    assert got.keys() == committed.keys()
    for key in ("as_calibrated", "threshold_nearly_fixed", "countryside"):
        for name, value in committed[key].items():
            if isinstance(value, list):
                assert all(abs(a - b) < 1e-9 for a, b in zip(got[key][name], value)), (key, name)
            else:
                assert abs(got[key][name] - value) < 1e-9, (key, name)
    calibrated = got["as_calibrated"]["p_capital_before_aug6"]
    nearly_fixed = got["threshold_nearly_fixed"]["p_capital_before_aug6"]
    assert abs(calibrated - nearly_fixed) < 0.03
    assert min(calibrated, nearly_fixed) > 0.2
