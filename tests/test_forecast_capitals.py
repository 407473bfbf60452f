"""calibration/forecast_capitals.py: the distribution of capitals fallen by 15 August in each
committed forecast, and the fields every forecast now reports beside the median."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, load_script

COMMITTED = ROOT / "calibration" / "default" / "forecast_capitals.json"


@pytest.fixture(scope="module")
def script():
    return load_script(ROOT / "calibration" / "forecast_capitals.py")


@pytest.fixture(scope="module")
def committed():
    return json.loads(COMMITTED.read_text())


def test_each_forecast_s_shares_are_its_histogram_s(committed):
    """The shares, mean and median the JSON gives are those of the histogram it gives, and the
    three bands (none, 1-24, 25 or more) add up to every replicate."""
    within = committed["within"]
    assert len(committed["forecasts"]) == 8
    for name, f in committed["forecasts"].items():
        hist = np.asarray(f["histogram"])
        R = hist.sum()
        assert R == 20000 and len(hist) == 35, name
        counts = np.repeat(np.arange(35), hist)
        assert f["share_none"] == pytest.approx(hist[0] / R, abs=1e-12)
        assert f[f"share_within_{within}_of_record"] == pytest.approx(
            hist[33 - within:].sum() / R, abs=1e-12)
        assert f["share_at_least_25"] == pytest.approx(hist[25:].sum() / R, abs=1e-12)
        assert f["share_none"] + f["share_1_to_24"] + f["share_at_least_25"] == pytest.approx(1)
        assert f["mean"] == pytest.approx(counts.mean(), abs=1e-9)
        assert f["q50"] == np.quantile(counts, 0.5) and f["q05"] == np.quantile(counts, 0.05)


def test_the_medians_are_the_committed_forecasts_and_the_probability_is_steadier(committed,
                                                                                  script):
    """Each entry's quantiles are its committed forecast.json's; as of 21 July the three seeds'
    medians span 2 to 27 capitals while their probabilities of coming within 8 of the record
    span less than 0.1, which is why the README reads the probability."""
    for name, f in committed["forecasts"].items():
        forecast = json.loads((ROOT / f["folder"] / "forecast.json").read_text())
        block = forecast["capitals_fallen_by_2021_08_15"]
        assert {k: f[k] for k in ("q05", "q50", "q95", "record")} == {
            k: block[k] for k in ("q05", "q50", "q95", "record")}, name
        assert (script.folder(f["run"], f["as_of"]) / "posterior.csv").is_file(), name
    seeds = [committed["forecasts"][f"{s} as of 2021-07-21"]
             for s in ("default", "default_seed11", "default_seed7")]
    medians = [f["q50"] for f in seeds]
    shares = [f["share_within_8_of_record"] for f in seeds]
    assert max(medians) - min(medians) > 20
    assert max(shares) - min(shares) < 0.1


def test_a_missing_forecast_folder_is_a_one_line_error(script, tmp_path, geo):
    from sim.errors import UserError
    with pytest.raises(UserError) as err:
        script.resimulate(tmp_path / "forecast-2021-07-21", geo)
    assert "forecast.json" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_the_default_s_21_july_entry_is_what_its_committed_posterior_gives(script, committed,
                                                                          geo):
    """Re-simulating the default's 21 July forecast from its committed posterior reproduces its
    committed forecast.json (the script's own check) and the committed entry here, to the bit."""
    from sim.calibration_output import forecast_summary
    where = script.folder("default", "2021-07-21")
    pred, as_of, forecast = script.resimulate(where, geo, workers=2)
    summary = forecast_summary(pred, as_of)
    script.check_reproduced(summary, forecast, where)
    entry = committed["forecasts"]["default as of 2021-07-21"]
    block = summary["capitals_fallen_by_2021_08_15"]
    assert {k: entry[k] for k in block} == block
    caps = pred.fallen_by(pred.theatre.capital_fell, capitals=True).astype(int)
    assert np.bincount(caps, minlength=35).tolist() == entry["histogram"]
