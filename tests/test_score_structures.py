"""calibration/score_structures.py: the committed leave-future-out comparison is what the script
computes from the committed forecasts, and every posterior the main command pools is in it."""

from __future__ import annotations

from conftest import ROOT, load_script, main_command_structures


def test_the_committed_comparison_is_what_the_script_computes_and_covers_the_main_command(tmp_path):
    """The tables are read from committed quantile files, so the rerun must match the committed
    ``comparison.md`` exactly; and each posterior README line 6 pools (and the default) must be
    scored at both cut-offs, with a finite score for the capitals after the cut-off."""
    script = load_script("calibration/score_structures.py")
    result = script.main(tmp_path)
    committed = ROOT / "calibration" / "structures"
    assert (tmp_path / "comparison.md").read_text() == (committed / "comparison.md").read_text()
    folders = main_command_structures()
    pooled = list(folders)
    assert len(pooled) == 16
    scored_as = {entry[3]: entry[0] for entry in script.ENTRIES if entry[3]}
    assert set(scored_as) == set(pooled) | {"default"}
    # the entry scored under a name is the calibration the main command pools under it
    calibrated = {entry[3]: ROOT.joinpath("calibration", *entry[2]) for entry in script.ENTRIES}
    for name, folder in folders.items():
        assert folder.resolve() == calibrated[name].resolve(), name
    for name in pooled + ["default"]:
        for cut_off, block in result["cut_offs"].items():
            wis = block[scored_as[name]]["capital"]["mean_wis_days"]
            assert 0 < wis < 200, (name, cut_off, wis)
