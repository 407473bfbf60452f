"""The district results layer: districts.csv gains lon/lat, every run writes districts.geojson."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import sim
from conftest import BASELINE
from sim.district_layer import POLYGON_FILE, layer_dates, load_district_polygons
from sim.theatre import AFGHANISTAN_2021

LAYER_DATES = layer_dates(AFGHANISTAN_2021)
from sim.errors import DataError


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    result = sim.run(BASELINE, replicates=24, seed=3)
    out = tmp_path_factory.mktemp("layer") / "run"
    result.write(out, plots=False)
    return result, out


def test_the_shipped_polygons_cover_every_district(geo):
    shapes = load_district_polygons(geo)
    assert set(shapes) == set(geo.pcodes)
    assert {g["type"] for g in shapes.values()} <= {"Polygon", "MultiPolygon"}


def test_districts_csv_gains_lon_lat(run_out, geo):
    _, out = run_out
    with (out / "districts.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["pcode"] for r in rows] == list(geo.pcodes)
    np.testing.assert_allclose([float(r["lon"]) for r in rows], geo.lon, atol=1e-5)
    np.testing.assert_allclose([float(r["lat"]) for r in rows], geo.lat, atol=1e-5)


def test_geojson_carries_each_districts_results_on_its_polygon(run_out, geo):
    result, out = run_out
    layer = json.loads((out / "districts.geojson").read_text())
    assert layer["type"] == "FeatureCollection" and "CC BY-IGO" in layer["attribution"]
    feats = layer["features"]
    assert [f["properties"]["pcode"] for f in feats] == list(geo.pcodes)
    shapes = load_district_polygons(geo)
    assert all(f["geometry"] == shapes[f["properties"]["pcode"]] for f in feats)

    with (out / "districts.csv").open(newline="") as fh:
        table = {r["pcode"]: r for r in csv.DictReader(fh)}
    ft = result.fall_time
    for i, f in enumerate(feats):
        p = f["properties"]
        assert p["p_fall"] == pytest.approx(float(table[p["pcode"]]["p_fall"]), abs=1e-4)
        assert (p["fall_date_q50"] or "") == table[p["pcode"]]["fall_date_q50"]
        probs = [p[f"p_fallen_by_{d.isoformat()}"] for d in LAYER_DATES]
        assert probs == sorted(probs) and probs[-1] <= p["p_fall"] + 1e-9
        # against the raw fall times: fallen by the end of 15 August
        aug15 = (LAYER_DATES[-1] - AFGHANISTAN_2021.start).days + 1
        assert probs[-1] == pytest.approx(np.mean(ft[:, i] < aug15), abs=1e-4)
        modes = {m: p[f"p_mode_{m}"] for m in ("held", "negotiated", "fight", "taliban_at_start")}
        assert sum(modes.values()) == pytest.approx(1.0, abs=1e-3)
        assert modes[p["mode_most_likely"]] == max(modes.values())
        assert p["p_mode_held"] == pytest.approx(1 - p["p_fall"], abs=1e-3)


def test_a_broken_polygon_file_is_one_line(tmp_path, geo):
    data = json.loads(POLYGON_FILE.read_text())
    data["features"] = data["features"][:-1]
    bad = tmp_path / "p.geojson"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match="no polygon for district") as err:
        load_district_polygons(geo, bad)
    assert "p.geojson" in str(err.value) and "\n" not in str(err.value)
    projected = json.loads(POLYGON_FILE.read_text())
    ring = projected["features"][0]["geometry"]["coordinates"][0]
    ring[0] = [500000.0, 3800000.0]
    bad.write_text(json.dumps(projected))
    with pytest.raises(DataError, match="longitude/latitude"):
        load_district_polygons(geo, bad)
