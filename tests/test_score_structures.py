"""calibration/score_structures.py: the committed leave-future-out comparison is what the script
computes from the committed forecasts, and every posterior the main command pools is in it."""

from __future__ import annotations

import re

from conftest import ROOT, load_script


def test_the_committed_comparison_is_what_the_script_computes_and_covers_the_main_command(tmp_path):
    """The tables are read from committed quantile files, so the rerun must match the committed
    ``comparison.md`` exactly; and each posterior README line 6 pools (and the default) must be
    scored at both cut-offs, with a finite score for the capitals after the cut-off."""
    script = load_script("calibration/score_structures.py")
    result = script.main(tmp_path)
    committed = ROOT / "calibration" / "structures"
    assert (tmp_path / "comparison.md").read_text() == (committed / "comparison.md").read_text()
    line = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[5]
    pooled = re.findall(r"--structure (\w+)=", line)
    assert len(pooled) == 8
    folders = {label: forecasts for label, forecasts, _ in script.ENTRIES}
    for name in pooled + ["default"]:
        labels = [label for label, f in folders.items()
                  if (f[:2] == ("structures", name) if name != "default" else f == ())]
        assert labels, f"{name}: no forecasts scored"
        for cut_off, block in result["cut_offs"].items():
            wis = [block[label]["capital"]["mean_wis_days"] for label in labels]
            assert all(0 < w < 200 for w in wis), (name, cut_off, wis)
