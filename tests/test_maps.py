"""District maps: the package's polygons are drawn by default with real province and national
borders, the nearest-centre cells still cover every district, bad boundary files fail as
one-line user errors."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from scipy.spatial import cKDTree
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch

from sim import maps
from sim.errors import UserError


@pytest.fixture(scope="module")
def raster(geo):
    return maps.district_raster(geo)


@pytest.fixture(scope="module")
def values(geo):
    return np.random.default_rng(7).uniform(0.0, 1.0, geo.n)


def _square(lon, lat, half=0.03):
    return [[[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
             [lon - half, lat + half], [lon - half, lat - half]]]


def _write_squares(path, geo, rows=None, prop="ADM2_PCODE"):
    rows = range(geo.n) if rows is None else rows
    features = [{"type": "Feature", "properties": {prop: geo.pcodes[r], "name": geo.names[r]},
                 "geometry": {"type": "Polygon",
                              "coordinates": _square(geo.lon[r], geo.lat[r])}}
                for r in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


# ----------------------------------------------------------------------------- outline and raster
def test_outline_contains_kabul_but_not_neighbouring_capitals():
    path = maps.outline_path()
    assert path.contains_point((69.17, 34.53))            # Kabul
    assert not path.contains_point((73.05, 33.69))        # Islamabad
    assert not path.contains_point((69.24, 41.30))        # Tashkent
    assert not path.contains_point((59.61, 36.30))        # Mashhad


def test_raster_shows_every_district_and_covers_the_country(raster, geo):
    inside = raster.labels[raster.inside]
    assert raster.inside.sum() > 100_000                  # ~0.025 degree pixels over Afghanistan
    assert (inside >= 0).all()                            # no hole in the country
    assert np.unique(inside).size == geo.n                # all 399 districts visible


def test_each_district_point_lies_in_its_own_cell(raster, geo):
    west, _, south, _ = raster.extent
    i = ((geo.lat - south) / raster.resolution).astype(int)
    j = ((geo.lon - west) / raster.resolution).astype(int)
    assert np.array_equal(raster.labels[i, j], np.arange(geo.n))


def test_raster_is_cached_and_read_only(raster, geo):
    assert maps.district_raster(geo) is raster
    with pytest.raises(ValueError):
        raster.labels[0, 0] = 1


def test_province_borders_separate_provinces(raster, geo):
    # Every province meets another, so each must contribute province-border segments; the
    # province lines are a strict subset of where districts change.
    assert len(raster.province_edges) > 500
    assert len(raster.district_edges) > len(raster.province_edges)


# ----------------------------------------------------------------------------- default drawing
def test_district_map_renders_a_real_png(tmp_path, values):
    fig = maps.district_map(values, title="P(fall)", label="probability")
    assert isinstance(fig, Figure)
    out = tmp_path / "map.png"
    fig.savefig(out, dpi=100)
    assert out.stat().st_size > 30_000


def test_date_values_with_nans_show_dates_and_never_fell(tmp_path, geo):
    days = np.random.default_rng(3).uniform(60.0, 110.0, geo.n)
    days[::10] = np.nan
    fig = maps.district_map(days, date_values=True, title="median fall day")
    out = tmp_path / "dates.png"
    fig.savefig(out, dpi=100)
    assert out.stat().st_size > 30_000
    cbar_ax = fig.axes[-1]
    ticks = [t.get_text() for t in cbar_ax.get_xticklabels() if t.get_text()]
    assert ticks and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", t) for t in ticks), ticks
    assert "1 Jul" in ticks                               # day 61 = 2021-07-01
    legend = fig.axes[0].get_legend()
    assert legend is not None and legend.get_texts()[0].get_text() == "never fell"
    # a map whose grey means something else says so, in both panels of a pair
    named = maps.side_by_side(days, days, date_values=True, missing_label="not reported")
    assert [ax.get_legend().get_texts()[0].get_text() for ax in named.axes[:2]] == ["not reported"] * 2


def test_draws_into_a_given_axes(values):
    fig = Figure()
    ax = fig.add_subplot()
    assert maps.district_map(values, ax=ax) is fig
    patches = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert len(patches) == 1 and len(fig.axes) == 2       # the map and its colourbar
    assert not ax.images                                  # polygons, not pixels


def test_default_map_draws_the_shipped_polygons_with_a_legend(geo, values):
    fig = maps.district_map(values, title="P(fall)")
    ax = fig.axes[0]
    patches = next(c for c in ax.collections if isinstance(c, PatchCollection))
    assert len(patches.get_paths()) == geo.n
    np.testing.assert_array_equal(patches.district_rows, np.arange(geo.n))
    np.testing.assert_allclose(patches.get_array(), values)     # district i has value i
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "provincial capital" in labels and "province border" in labels
    assert any("AGCHO" in t.get_text() for t in ax.texts)        # attribution on the map


def test_polygon_borders_separate_provinces_not_every_district(geo):
    layer = maps.polygon_layer(geo)
    total = sum(len(r) for p in layer.paths for r in [p.vertices])
    assert 300 < len(layer.province_edges) < 0.5 * total   # simplified edges do not all go heavy
    # the national border: about the 6,010 km of the AGCHO outline (data README)
    seg = layer.national_edges
    lat = np.radians(seg[:, :, 1].mean(axis=1))
    dx = (seg[:, 1, 0] - seg[:, 0, 0]) * np.cos(lat)
    dy = seg[:, 1, 1] - seg[:, 0, 1]
    km = 111.2 * np.hypot(dx, dy).sum()
    assert 5000 < km < 6600, km
    # national-border edges lie on the Natural Earth outline (AGCHO and NE differ by < 0.09 deg)
    outline = maps.outline_path().interpolated(50).vertices     # densified: ~1 km steps
    dist, _ = cKDTree(outline).query(seg.mean(axis=1))
    assert np.quantile(dist, 0.99) < 0.1, np.quantile(dist, 0.99)
    # ...and no province-border edge does (they are inside the country)
    dist, _ = cKDTree(outline).query(layer.province_edges.mean(axis=1))
    assert np.quantile(dist, 0.5) > 0.3


def test_cells_mode_is_still_available(values):
    fig = maps.district_map(values, boundaries="cells")
    assert len(fig.axes[0].images) == 1


def test_wrong_number_of_values_is_refused():
    with pytest.raises(ValueError, match="399"):
        maps.district_map(np.zeros(10))


# ----------------------------------------------------------------------------- side by side
def test_side_by_side_shares_one_scale(tmp_path, values):
    fig = maps.side_by_side(values, values * 0.5 + 0.6, titles=("baseline", "what-if"))
    collections = [c for ax in fig.axes for c in ax.collections if isinstance(c, PatchCollection)]
    assert len(collections) == 2 and len(fig.axes) == 3   # two maps, one colourbar
    norms = [c.norm for c in collections]
    assert norms[0] is norms[1]
    assert norms[0].vmin == pytest.approx(values.min())
    assert norms[0].vmax == pytest.approx((values * 0.5 + 0.6).max())
    fig.savefig(tmp_path / "pair.png", dpi=60)


def test_difference_map_is_centred_on_zero(tmp_path, geo, values):
    other = values + np.linspace(-3.0, 1.0, geo.n)
    fig = maps.difference_map(other, values, geo, label="days later than the baseline")
    patches = next(c for c in fig.axes[0].collections if isinstance(c, PatchCollection))
    assert patches.norm.vmin == pytest.approx(-3.0) and patches.norm.vmax == pytest.approx(3.0)
    np.testing.assert_allclose(patches.get_array(), other - values)
    fig.savefig(tmp_path / "diff.png", dpi=60)


# ----------------------------------------------------------------------------- polygon mode
def test_polygon_mode_draws_every_district(tmp_path, geo, values):
    path = _write_squares(tmp_path / "districts.geojson", geo)
    fig = maps.district_map(values, boundaries=path, title="squares")
    ax = fig.axes[0]
    patches = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert len(patches) == 1 and len(patches[0].get_paths()) == geo.n
    assert not ax.images                                  # no raster in this mode
    out = tmp_path / "poly.png"
    fig.savefig(out, dpi=100)
    assert out.stat().st_size > 20_000


def test_polygon_holes_stay_empty():
    outer = _square(0.0, 0.0, half=0.8)[0]
    hole = _square(0.0, 0.0, half=0.3)[0]
    # Same winding as the outer ring on purpose: the map must not rely on the writer's
    # convention, since matplotlib fills by the non-zero rule.
    path = maps._polygons_path(maps._geometry_polygons(
        {"type": "MultiPolygon", "coordinates": [[outer, hole]]}))
    fig = Figure(figsize=(2, 2), dpi=50)
    ax = fig.add_axes((0, 0, 1, 1), xlim=(-1, 1), ylim=(-1, 1))
    ax.set_axis_off()
    ax.add_patch(PathPatch(path, facecolor="black", edgecolor="none"))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    grey = np.asarray(canvas.buffer_rgba())[..., 0]      # 100 x 100, centre at (50, 50)
    assert grey[50, 50] == 255                            # the hole is white
    assert grey[50, 22] == 0                              # the ring (x = -0.55) is filled


def test_polygon_province_lines_skip_edges_inside_a_province(geo):
    # Two unit squares sharing the edge x = 1: heavy line there only across provinces.
    left = [np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)]
    right = [np.array([[1, 0], [2, 0], [2, 1], [1, 1]], dtype=float)]
    same = np.flatnonzero(geo.province_index == geo.province_index[0])[:2]
    other = np.flatnonzero(geo.province_index != geo.province_index[0])[0]

    def has_shared_edge(rows):
        segs = maps._province_segments({rows[0]: [left], rows[1]: [right]}, geo)
        return any(np.allclose(s[:, 0], 1.0) for s in segs)

    assert not has_shared_edge(same)
    assert has_shared_edge((same[0], other))


def test_wrong_code_property_names_the_expected_one(tmp_path, geo, values):
    path = _write_squares(tmp_path / "bad.geojson", geo, prop="DIST_CODE")
    with pytest.raises(UserError, match="ADM2_PCODE"):
        maps.district_map(values, boundaries=path)
    # ...and the caller can name the property instead.
    assert maps.district_map(values, boundaries=path, code_property="DIST_CODE")


def test_too_few_matched_districts_is_refused(tmp_path, geo, values):
    path = _write_squares(tmp_path / "part.geojson", geo, rows=range(300))
    with pytest.raises(UserError, match="only 300 of 399"):
        maps.district_map(values, boundaries=path)


def test_missing_boundary_file(tmp_path, values):
    with pytest.raises(UserError, match="file not found") as err:
        maps.district_map(values, boundaries=tmp_path / "nope.geojson")
    assert err.value.file.endswith("nope.geojson")


def test_shapefile_without_pyshp_says_what_to_do(tmp_path, values, monkeypatch):
    shp = tmp_path / "afg_admbnda_adm2_agcho_20180522.shp"
    shp.write_bytes(b"\0" * 100)
    monkeypatch.setitem(sys.modules, "shapefile", None)   # make `import shapefile` fail
    with pytest.raises(UserError, match="pyshp") as err:
        maps.district_map(values, boundaries=shp)
    assert "ogr2ogr" in str(err.value) and "\n" not in str(err.value)
