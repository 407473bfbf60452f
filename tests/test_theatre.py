"""Theatres (issue 13 item 2): the synthetic theatre of tests/fixtures/capitalia_1975 runs end to
end on its own calendar and names, beside the shipped Afghan one in the same process."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.calibrate import calibrate
from sim.calibration_config import load_config
from sim.errors import DataError
from sim.theatre import AFGHANISTAN_2021, Theatre, default_theatre

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "capitalia_1975"
BASELINE = FIXTURE / "scenarios" / "baseline.toml"
PAID = FIXTURE / "scenarios" / "paid.toml"


@pytest.fixture(scope="module")
def capitalia():
    return sim.load_geography(FIXTURE)


def test_the_shipped_theatre_is_afghanistan_2021():
    th = default_theatre()
    assert th is AFGHANISTAN_2021 and Theatre.load("afghanistan_2021") is th
    assert (th.start, th.end, th.capital, th.capital_fell) == (
        dt.date(2021, 5, 1), dt.date(2021, 12, 31), "Kabul", dt.date(2021, 8, 15))
    assert th.prior_regions == ("Southern",) and len(th.regions) == 8
    assert sim.load_geography().theatre is th


def test_the_synthetic_theatre_loads_with_its_own_names(capitalia):
    th = capitalia.theatre
    assert th.name == "capitalia_1975" and th.start == dt.date(1975, 3, 1)
    assert capitalia.n == 9 and sorted(capitalia.province_names()) == ["Alpha", "Bravo", "Capitalia"]
    assert capitalia.pcodes[capitalia.kabul_row] == "XC0202"       # the capital's row
    assert capitalia.pakistan_border.sum() == 3                    # the sanctuary: Outland
    assert th.day_of(dt.date(1975, 3, 2)) == 1.0 and th.date_of(61.5) == dt.date(1975, 5, 1)


def test_two_theatres_run_in_one_process_each_on_its_own_clock(capitalia, geo, tmp_path):
    ours = sim.run(BASELINE, replicates=16, seed=1, parameters="fixed", geo=capitalia)
    afghan = sim.run("baseline", replicates=4, seed=1, parameters="fixed", geo=geo)
    assert ours.dates[0] == dt.date(1975, 3, 1) and ours.dates[-1] == dt.date(1975, 6, 30)
    assert afghan.dates[0] == dt.date(2021, 5, 1) and afghan.dates[-1] == dt.date(2021, 12, 31)
    s = ours.summary_dict()
    assert s["horizon"] == "1975-06-30" and "capitalia_p_fall" in s
    assert "districts_fallen_by_1975_04_30_q50" in s and "kabul_p_fall" not in s
    assert "kabul_p_fall_by_2021_08_31" in afghan.summary_dict()
    for row in ours.districts():
        assert row["fall_date_q50"] == "" or row["fall_date_q50"].startswith("1975-")
    # the capital falls (the fixture's baseline is made so): its dates are real 1975 dates
    assert s["capitalia_p_fall"] >= 0.75
    median = dt.date.fromisoformat(s["capitalia_fall_date"]["q50"])
    assert dt.date(1975, 3, 1) < median <= dt.date(1975, 6, 30)
    assert s["capitalia_fall_date"]["q05"].startswith("1975-")
    capital = ours.kabul_fall_time
    assert np.all(capital[np.isfinite(capital)] < ours.model.horizon)
    out = ours.write(tmp_path / "run")
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["theatre"], manifest["start_date"]) == ("capitalia_1975", "1975-03-01")
    caps = list(csv.DictReader((out / "capitals.csv").open()))
    assert {r["capital"] for r in caps} == {"Alphaville", "Capitalia", "Bravoburg"}
    row = next(r for r in caps if r["capital"] == "Capitalia")
    assert row["fall_date_q50"] == median.isoformat() and row["historical_fall_date"] == "1975-04-30"
    daily = list(csv.DictReader((out / "daily.csv").open()))
    assert daily[0]["date"] == "1975-03-01"
    layer = json.loads((out / "districts.geojson").read_text())
    assert layer["dates"][-1] == "1975-04-30"


def test_compare_on_the_synthetic_theatre(capitalia, tmp_path):
    comp = sim.compare([BASELINE, PAID], replicates=20, seed=2, parameters="fixed", geo=capitalia,
                       replicates_per_draw=1)
    assert comp.headline[0] == "capitalia_days" and "p_capitalia_fallen_by_1975_05_15" in comp.outcomes
    table = comp.table()
    assert "capitalia_fall_date_q50" in table[0] and "capitals_held_1975_04_30_q50" in table[0]
    assert not any("kabul" in k or "2021" in k for k in table[0])
    # paying the Frontier cannot make its districts fall sooner on the same random numbers
    diff = comp.district_differences("paid")["p_fallen_by_1975_04_30"]
    assert np.all(diff <= 1e-12)
    assert all("Capitalia" in f for f in comp.findings())
    # the capital falls in the baseline; paying delays its fall or leaves it standing, replicate
    # by replicate on the same random numbers, and does so in some
    base, paid = (np.nan_to_num(comp.results[n].kabul_fall_time, nan=np.inf)   # NaN: standing
                  for n in ("baseline", "paid"))
    assert np.isfinite(base).mean() >= 0.75
    assert np.all(paid >= base)
    assert np.any(paid > base)
    q = table[0]["capitalia_fall_date_q50"]
    assert q.startswith("1975-") and q <= "1975-06-30"
    assert table[1]["capitalia_fall_date_q50"] == "" or table[1]["capitalia_fall_date_q50"] >= q
    assert comp.effect("paid", "capitalia_days")["mean"] > 0


def test_calibrate_on_the_synthetic_theatre(capitalia, tmp_path):
    config = load_config(FIXTURE / "calibration.toml", capitalia.theatre)
    assert config.horizon == dt.date(1975, 5, 15)
    result = calibrate(config, geo=capitalia)
    from sim.parameters import NAMES
    assert result.calibrated == ("base_rate", "b_pay")
    assert result.posterior.shape[1] == len(NAMES) and np.isfinite(result.posterior).all()
    for name in result.calibrated:             # the calibrated columns vary within their priors
        col = result.posterior[:, NAMES.index(name)]
        assert col.min() >= 0.0 and col.max() <= 3.0
    assert result.targets.theatre == capitalia.theatre
    with pytest.raises(sim.UserError, match="1975-03-15 to 1975-04-30"):
        result.targets.as_of(dt.date(2021, 6, 1))


def test_a_theatre_without_its_file_or_a_key_is_one_line(tmp_path):
    with pytest.raises(DataError, match="theatre.toml: file not found"):
        Theatre.load(tmp_path)
    text = (FIXTURE / "theatre.toml").read_text().replace('capital = "Capitalia"\n', "")
    (tmp_path / "theatre.toml").write_text(text)
    with pytest.raises(DataError) as err:
        Theatre.load(tmp_path)
    assert "theatre.toml" in str(err.value) and "key 'theatre.capital'" in str(err.value)
    assert "\n" not in str(err.value)


def test_the_loader_checks_come_from_the_theatre(tmp_path):
    for f in FIXTURE.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    text = (FIXTURE / "theatre.toml").read_text()
    (tmp_path / "theatre.toml").write_text(text.replace("provinces = 3", "provinces = 34"))
    with pytest.raises(DataError, match="expected 34 provinces, found 3"):
        sim.load_geography(tmp_path)
    (tmp_path / "theatre.toml").write_text(text.replace('capital = "Capitalia"', 'capital = "Kabul"'))
    with pytest.raises(DataError, match="no province named 'Kabul'"):
        sim.load_geography(tmp_path)


# ----------------------------------------------------------------------------- the command line
def _afsim(*args) -> int:
    from sim.cli import main
    return main([str(a) for a in args])


def test_cli_run_baseline_by_name_in_the_synthetic_theatre(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)        # the name resolves to the theatre's scenarios, from anywhere
    assert _afsim("--theatre", FIXTURE, "run", "baseline", "-n", 16, "--fixed-parameters",
                  "--no-plots", "-q", "--workers", 1, "--out", "run") == 0
    out = capsys.readouterr().out
    assert "Capitalia falls in" in out and "capitals fallen by 30 Apr" in out and "Kabul" not in out
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert (manifest["theatre"], manifest["start_date"], manifest["end_date"]) == (
        "capitalia_1975", "1975-03-01", "1975-06-30")
    assert manifest["scenario_files"] == [str(BASELINE.resolve())]
    daily = list(csv.DictReader((tmp_path / "run" / "daily.csv").open()))
    assert (daily[0]["date"], daily[-1]["date"]) == ("1975-03-01", "1975-06-30")
    caps = list(csv.DictReader((tmp_path / "run" / "capitals.csv").open()))
    assert {r["capital"] for r in caps} == {"Alphaville", "Capitalia", "Bravoburg"}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "capitalia_fall_date" in summary and not any("kabul" in k for k in summary)
    assert summary["capitalia_fall_date"]["q50"].startswith("1975-")
    # --theatre after the command works too, and a name the theatre lacks lists its own names
    assert _afsim("run", "salaries_paid", "--theatre", FIXTURE, "--out", "x") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'salaries_paid'" in err and "capitalia_1975" in err
    assert "baseline, paid" in err and not (tmp_path / "x").exists()


def test_cli_compare_in_the_synthetic_theatre(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert _afsim("--theatre", FIXTURE, "compare", "baseline", "paid", "-n", 12,
                  "--replicates-per-draw", 1, "--fixed-parameters", "--no-sensitivity",
                  "--no-animation", "-q", "--workers", 1, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "paid:" in printed and "Capitalia" in printed
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert [r["scenario"] for r in rows] == ["baseline", "paid"]
    assert "capitalia_fall_date_q50" in rows[0] and "p_capitalia_fallen_by_1975_05_15" in rows[0]
    assert not any("kabul" in k or "2021" in k for k in rows[0])
    for r in rows:
        assert r["capitalia_fall_date_q50"] == "" or r["capitalia_fall_date_q50"].startswith("1975-")
    assert json.loads((out / "manifest.json").read_text())["scenarios"] == ["baseline", "paid"]
    daily = list(csv.DictReader((out / "baseline" / "daily.csv").open()))
    assert daily[0]["date"] == "1975-03-01"
    # the report and the map speak of the theatre: its title, capital and dates, not Afghanistan's
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>What if? Synthetic: nine districts of Alpha, Capitalia and Bravo, spring 1975," in report
    assumptions = report.index("<h2>Structural assumptions</h2>")   # the model's own documentation
    ours = report[:assumptions] + report[report.index("<h2>Findings</h2>"):]
    assert "sorted by the size of the effect on Capitalia" in ours
    assert "censored at the horizon (30 June 1975)" in ours and "counts on 30 April," in ours
    assert "<code>capitalia_held_share</code>" in ours
    for word in ("Kabul", "Afghan", "2021", "August", "AGCHO", "TAJIKISTAN", "Panjshir"):
        assert word not in ours, word
    page = (out / "map.html").read_text(encoding="utf-8")
    assert ">Capitalia</text>" in page and ">Bravoburg</text>" not in page   # default: the capital
    assert "aria-label=\"Map of the districts\"" in page
    for word in ("Kabul", "Afghan", "2021", "AGCHO", "TAJIKISTAN"):
        assert word not in page, word
    assert not (out / "plots" / "collapse_baseline.gif").exists()   # cells need an outline


def test_cli_calibrate_in_the_synthetic_theatre(tmp_path, capsys):
    out = tmp_path / "cal"
    assert _afsim("--theatre", FIXTURE, "calibrate", FIXTURE / "calibration.toml", "-q",
                  "--workers", 1, "--out", out) == 0
    assert "calibration 'capitalia'" in capsys.readouterr().out
    posterior = list(csv.DictReader((out / "posterior.csv").open()))
    assert posterior and {"base_rate", "b_pay"} <= set(posterior[0])
    pred = out / "predictive"                  # the predictive ran on the synthetic geography
    manifest = json.loads((pred / "manifest.json").read_text())
    assert (manifest["theatre"], manifest["start_date"]) == ("capitalia_1975", "1975-03-01")
    daily = list(csv.DictReader((pred / "daily.csv").open()))
    assert daily[0]["date"] == "1975-03-01" and daily[-1]["date"] == "1975-06-30"
    assert len(list(csv.DictReader((pred / "districts.csv").open()))) == 9
    report = json.loads((out / "fit_report.json").read_text())
    assert report["district_skill"] == {}          # no district facts in this theatre
    # the package's default posterior is Afghanistan's: another theatre's cannot replace it
    assert _afsim("--theatre", FIXTURE, "calibrate", FIXTURE / "calibration.toml", "-q",
                  "--set-default", "--out", tmp_path / "cal2") == 2
    err = capsys.readouterr().err
    assert "--set-default" in err and "capitalia_1975" in err and not (tmp_path / "cal2").exists()


@pytest.mark.parametrize("where", ["nowhere_1999", "empty_folder"])
def test_cli_a_bad_theatre_is_one_line_naming_the_flag_exit_2(where, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_folder").mkdir()
    for argv in (["--theatre", where, "run", "baseline", "--out", "x"],
                 ["scenarios", "--theatre", where],
                 ["compare", "baseline", "--theatre", where, "--out", "x"]):
        assert _afsim(*argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err
        assert err.startswith("afsim: error: ") and "option '--theatre'" in err
        assert "theatre.toml" in err                     # what was expected
    assert not (tmp_path / "x").exists()


def test_cli_scenarios_lists_the_theatres_own(capsys):
    assert _afsim("scenarios", "--theatre", FIXTURE) == 0
    out = capsys.readouterr().out
    assert "capitalia_1975" in out and "\nbaseline" in out and "\npaid  (changes baseline)" in out
    assert "salaries_paid" not in out


# ----------------------------------------------------------------------------- names and shapes
def test_labelled_cities_title_and_country_come_from_the_theatre(capitalia, geo, tmp_path):
    assert geo.labelled_cities[:4] == ("Kabul", "Herat", "Kandahar", "Mazar-i-Sharif")
    assert len(geo.labelled_cities) == 8 and set(geo.labelled_cities) <= {p.capital for p in geo.provinces}
    assert capitalia.labelled_cities == ("Capitalia",)              # default: the capital's city
    assert (geo.theatre.heading, geo.theatre.country) == (
        "The fall of the Afghan republic, 2021", "Afghanistan")
    assert capitalia.theatre.heading.startswith("Synthetic: nine districts")    # the description
    assert capitalia.theatre.country == ""
    for f in FIXTURE.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    text = (FIXTURE / "theatre.toml").read_text()
    (tmp_path / "theatre.toml").write_text(text.replace(
        'capital = "Capitalia"', 'capital = "Capitalia"\nlabelled_cities = ["Bravoburg", "Kabul"]'))
    with pytest.raises(DataError, match=r"key 'theatre.labelled_cities'.*\['Kabul'\]"):
        sim.load_geography(tmp_path)


def test_the_capitals_held_record_is_counted_from_the_provinces(capitalia, geo):
    from sim.plots import _record_held, _record_note
    others = [p for p in geo.provinces if p.index != geo.capital_province.index]
    assert _record_note(_record_held(others, geo.theatre.capital_fell)) == "record: 1 (Panjshir)"
    assert _record_note(_record_held(geo.provinces, geo.theatre.capital_fell)) == "record: 1 (Panjshir)"
    assert len(_record_held(geo.provinces, dt.date(2021, 8, 5))) == 34
    assert _record_note(_record_held(capitalia.provinces, dt.date(1975, 4, 15))) == \
        "record: 2 (Alpha, Capitalia)"
    assert _record_note(_record_held(capitalia.provinces, dt.date(1975, 4, 30))) == "record: 0"


def test_the_polygon_check_is_around_the_theatres_own_districts(capitalia, geo, tmp_path):
    from sim.district_layer import bounding_box, load_district_polygons
    west, south, east, north = bounding_box(capitalia)    # the fixture sits near 10 E, 45 N
    assert west < 10.0 < east and south < 45.0 < north and east < 60.0
    assert len(load_district_polygons(capitalia)) == 9
    assert len(load_district_polygons(geo)) == 399        # Afghanistan's still pass its own box
    west, south, east, north = bounding_box(geo)
    assert west < 60.5 and east > 74.9 and south < 29.4 and north > 38.5
    layer = json.loads((FIXTURE / "districts_agcho_2018_simplified.geojson").read_text())
    for feature in layer["features"]:                      # the same squares in metres (UTM-like)
        feature["geometry"]["coordinates"] = [[[x * 1e5, y * 1e5] for x, y in ring]
                                              for ring in feature["geometry"]["coordinates"]]
    path = tmp_path / "metres.geojson"
    path.write_text(json.dumps(layer))
    with pytest.raises(DataError, match="not longitude/latitude near the districts' points"):
        load_district_polygons(capitalia, path)


def test_the_forecast_chart_names_the_theatres_capital_and_leaves_out_the_us_estimates(capitalia):
    from sim.plots import forecast_chart
    result = sim.run(BASELINE, replicates=8, seed=1, parameters="fixed", geo=capitalia)
    ax = forecast_chart(result, dt.date(1975, 4, 1)).axes[0]
    assert ax.get_title().startswith("Forecast of the fall of Capitalia") and "US" not in ax.get_title()
    assert ax.get_ylabel() == "probability Capitalia has fallen"
    assert not [t for t in ax.texts if "(T3" in t.get_text() or "(T1" in t.get_text()]


def test_sensitivity_on_the_synthetic_theatre_speaks_of_its_capital_and_caches_apart(
        capitalia, tmp_path):
    from sim.scenario import load_scenario
    from sim.sensitivity import cache_key, cached_sensitivity
    from sim.ensemble import resolve_parameter_source
    scenario = load_scenario(BASELINE, capitalia)
    source = resolve_parameter_source("fixed")
    sens = cached_sensitivity(scenario, source=source, cache_dir=tmp_path, n=8, replicates=2,
                              parameters=("base_rate", "b_pay"), geo=capitalia)
    assert sens.labels["kabul_day"] == "Capitalia's fall date (mean day)"
    kw = dict(parameters=("base_rate", "b_pay"), n=8, replicates=2, seed=1)
    assert cache_key(scenario, source, theatre=capitalia.theatre, **kw) != \
        cache_key(scenario, source, **kw) == cache_key(scenario, source, theatre=AFGHANISTAN_2021, **kw)
