"""Maps of Afghanistan's 399 districts coloured by a per-district value.

Three ways to draw a district:

* **Default: the real polygons shipped with the package.** ``data/districts_agcho_2018_simplified.
  geojson`` holds the AGCHO 2018 district polygons (AGCHO via OCHA, HDX
  ``afg_admbnda_adm2_agcho_20180522``, CC BY-IGO), simplified to 0.005 degree for maps, matched
  to districts by their pcode (property ``pcode``). Province borders are the polygon edges whose
  two sides lie in different provinces (tested just off each edge, so the small mismatches of an
  independently simplified coverage do not turn every district edge into a province line); the
  national border is where the outer side lies in no district.

* **Another boundary file** (``boundaries=PATH``): a GeoJSON (or, with the optional package
  ``pyshp``, a shapefile) whose features carry the pcode in ``code_property`` (default
  ``ADM2_PCODE``, as in the full-resolution OCHA file; convert a shapefile with
  ``ogr2ogr -f GeoJSON out.geojson in.shp`` or install ``pyshp``).

* **Nearest-centre cells** (``boundaries="cells"``), the old approximation kept for comparison:
  a longitude/latitude pixel grid over Afghanistan's outline, each pixel given to the nearest
  district point (distances in a locally equirectangular metric, longitude scaled by
  cos(latitude)); right in place and adjacency, wrong in the exact line of a border, and the map
  says so in a footnote.

Data: ``data/ne_50m_afg_neighbours.geojson`` is Natural Earth 1:50m Admin-0 countries (public
domain), via GitHub aripiz/cfa-index, clipped to Afghanistan and its neighbours; only
Afghanistan's polygon (``ADM0_A3 == "AFG"``) is used, for the outline.

Figures use matplotlib's object API only (no pyplot), like :mod:`sim.plots`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import patheffects
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter
from scipy.ndimage import binary_dilation
from scipy.spatial import cKDTree

from .errors import UserError
from .geography import DATA_DIR, Geography, load_geography

OUTLINE_FILE = DATA_DIR / "ne_50m_afg_neighbours.geojson"
COUNTRY_CODE = "AFG"
#: The package's district polygons (AGCHO 2018, simplified) and their code property.
DISTRICT_POLYGONS = DATA_DIR / "districts_agcho_2018_simplified.geojson"
DISTRICT_POLYGONS_CODE = "pcode"
DISTRICT_POLYGONS_NOTE = "Boundaries: AGCHO 2018 via OCHA (CC BY-IGO), simplified"
#: ``boundaries=CELLS`` draws nearest-centre cells instead of polygons.
CELLS = "cells"
CELLS_NOTE = "District areas approximated: each place is given to the nearest district centre"
#: How far off a polygon edge (degrees, ~1 km) its two sides are tested for their province:
#: twice the simplification tolerance of the shipped polygons.
SIDE_OFFSET_DEG = 0.01

#: Pixel size in degrees: ~2.5 km, fine enough that the smallest district (Jalalabad city,
#: 24 km2, 3.5 km from its neighbour's point) still gets its own pixels.
RESOLUTION_DEG = 0.025

#: Share of the districts a boundary file must match; fewer means the wrong file or property.
MIN_MATCHED_SHARE = 0.9

NAN_GREY = "#d9d9d9"
DISTRICT_EDGE = dict(colors=(0.15, 0.15, 0.15, 0.35), linewidths=0.25)
PROVINCE_EDGE = dict(colors="#262626", linewidths=0.8)
NATIONAL_EDGE = dict(colors="#111111", linewidths=1.2)
OUTLINE_STYLE = dict(edgecolor="#111111", linewidth=1.2, facecolor="none")
DATE_CMAP = "YlOrRd_r"      # early falls dark red, late falls pale
#: How many of the theatre's labelled cities (``geo.labelled_cities``, most important first) a
#: static map names, to keep it legible.
LABELLED_ON_STATIC_MAPS = 4


# ----------------------------------------------------------------------------- geometry helpers
def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _oriented(ring: np.ndarray, ccw: bool) -> np.ndarray:
    """Outer rings counter-clockwise, holes clockwise.

    Matplotlib fills compound paths by the non-zero winding rule, so a hole is only a hole if
    it runs the other way round; GeoJSON writers and shapefiles disagree on the convention.
    """
    return ring if (_signed_area(ring) > 0) == ccw else ring[::-1]


def _polygons_path(polygons) -> MplPath:
    """One compound Path from polygons given as lists of rings (outer ring first)."""
    verts, codes = [], []
    for rings in polygons:
        for k, ring in enumerate(rings):
            ring = _oriented(ring, ccw=(k == 0))
            verts.append(np.vstack([ring, ring[:1]]))
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 1) + [MplPath.CLOSEPOLY])
    return MplPath(np.concatenate(verts), np.concatenate(codes).astype(MplPath.code_type))


def _geometry_polygons(geometry) -> list[list[np.ndarray]]:
    """Polygon/MultiPolygon -> list of polygons, each a list of open (m, 2) rings.

    Other geometry types carry no area and are skipped, as are degenerate rings.
    """
    kind = (geometry or {}).get("type")
    coords = (geometry or {}).get("coordinates") or []
    if kind == "Polygon":
        coords = [coords]
    elif kind != "MultiPolygon":
        return []
    polygons = []
    for poly in coords:
        rings = []
        for ring in poly:
            arr = np.asarray(ring, dtype=float)[:, :2]
            if len(arr) > 1 and np.array_equal(arr[0], arr[-1]):
                arr = arr[:-1]          # paths close themselves; a repeated vertex is noise
            if len(arr) >= 3:
                rings.append(arr)
        if rings:
            polygons.append(rings)
    return polygons


def has_outline(geo: Geography) -> bool:
    """Whether nearest-centre cells can be drawn for this theatre: its folder holds the national
    outline they are clipped to (:data:`OUTLINE_FILE`; only the shipped theatre's does)."""
    return (geo.theatre.data_dir / OUTLINE_FILE.name).is_file()


@lru_cache(maxsize=1)
def outline_path() -> MplPath:
    """Afghanistan's national outline (Natural Earth 1:50m) as a matplotlib Path in lon/lat."""
    with OUTLINE_FILE.open(encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    for feature in features:
        if feature["properties"].get("ADM0_A3") == COUNTRY_CODE:
            return _polygons_path(_geometry_polygons(feature["geometry"]))
    raise RuntimeError(f"{OUTLINE_FILE} has no feature with ADM0_A3 == {COUNTRY_CODE!r}")


def _aspect(lat_lo: float, lat_hi: float) -> float:
    """Data aspect that makes a degree of longitude as long as it is at the map's latitude."""
    return 1.0 / math.cos(math.radians(0.5 * (lat_lo + lat_hi)))


# ----------------------------------------------------------------------------- the raster
@dataclass(frozen=True, eq=False)
class Raster:
    """Pixel -> district assignment over Afghanistan's bounding box (row 0 is the south)."""

    labels: np.ndarray          # (ny, nx) int: district row, -1 where off the map
    inside: np.ndarray          # (ny, nx) bool: pixel centre inside the national outline
    extent: tuple[float, float, float, float]   # (west, east, south, north) for imshow
    resolution: float
    district_edges: np.ndarray  # (k, 2, 2) segments between districts of one province
    province_edges: np.ndarray  # (k, 2, 2) segments between provinces


def district_raster(geo: Geography | None = None, resolution: float = RESOLUTION_DEG) -> Raster:
    """The (cached) raster of nearest-district cells; arrays are read-only because shared."""
    return _raster(geo or load_geography(), float(resolution))


@lru_cache(maxsize=4)
def _raster(geo: Geography, resolution: float) -> Raster:
    west, south, east, north = _bounds(outline_path())
    nx = int(math.ceil((east - west) / resolution))
    ny = int(math.ceil((north - south) / resolution))
    xc = west + (np.arange(nx) + 0.5) * resolution
    yc = south + (np.arange(ny) + 0.5) * resolution
    lon, lat = (a.ravel() for a in np.meshgrid(xc, yc))
    inside = outline_path().contains_points(np.column_stack([lon, lat])).reshape(ny, nx)
    # One pixel more than the outline: the image is clipped to the vector outline, and pixels
    # whose centre falls just outside would otherwise leave a ragged gap along the border.
    cover = binary_dilation(inside)
    labels = np.full((ny, nx), -1, dtype=np.int64)
    labels[cover] = _nearest_district(lon[cover.ravel()], lat[cover.ravel()], geo)
    _give_every_district_a_pixel(labels, geo, west, south, resolution)

    province = np.where(labels >= 0, geo.province_index[np.maximum(labels, 0)], -1)
    dist_v, dist_h = _change_masks(labels)
    prov_v, prov_h = _change_masks(province)
    origin = (west, south, resolution)
    raster = Raster(labels=labels, inside=inside, extent=(west, west + nx * resolution,
                                                          south, south + ny * resolution),
                    resolution=resolution,
                    district_edges=_segments(dist_v & ~prov_v, dist_h & ~prov_h, *origin),
                    province_edges=_segments(prov_v, prov_h, *origin))
    for arr in (raster.labels, raster.inside, raster.district_edges, raster.province_edges):
        arr.setflags(write=False)
    return raster


def _bounds(path: MplPath) -> tuple[float, float, float, float]:
    (west, south), (east, north) = path.vertices.min(axis=0), path.vertices.max(axis=0)
    return float(west), float(south), float(east), float(north)


def _nearest_district(lon: np.ndarray, lat: np.ndarray, geo: Geography, k: int = 8) -> np.ndarray:
    """Nearest district point of each pixel, with longitude scaled by the pixel's cos(lat).

    A KD-tree needs one fixed metric, so it proposes k candidates under the country's mean
    latitude and each pixel picks among them with its own scale; a single scale would skew the
    cells by up to ~6% between the north and the south of the country.
    """
    ref = math.cos(math.radians(float(np.mean(geo.lat))))
    tree = cKDTree(np.column_stack([geo.lon * ref, geo.lat]))
    _, cand = tree.query(np.column_stack([lon * ref, lat]), k=min(k, geo.n))
    cand = cand.reshape(len(lon), -1)
    dx = (geo.lon[cand] - lon[:, None]) * np.cos(np.radians(lat))[:, None]
    dy = geo.lat[cand] - lat[:, None]
    return cand[np.arange(len(lon)), np.argmin(dx * dx + dy * dy, axis=1)]


def _give_every_district_a_pixel(labels, geo, west, south, resolution) -> None:
    """A district whose point shares a pixel with a closer point would vanish from the map;
    give it the pixel its point lies in, so every district can be seen and coloured."""
    counts = np.bincount(labels[labels >= 0], minlength=geo.n)
    for row in np.flatnonzero(counts == 0):
        i = int((geo.lat[row] - south) / resolution)
        j = int((geo.lon[row] - west) / resolution)
        labels[i, j] = row


def _change_masks(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where two on-map neighbouring pixels differ: (ny, nx-1) across x, (ny-1, nx) across y."""
    on = grid >= 0
    across_x = on[:, :-1] & on[:, 1:] & (grid[:, :-1] != grid[:, 1:])
    across_y = on[:-1, :] & on[1:, :] & (grid[:-1, :] != grid[1:, :])
    return across_x, across_y


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True along axis 1: (row, start, stop) with stop exclusive."""
    step = np.diff(np.pad(mask.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(step == 1)
    _, stops = np.nonzero(step == -1)     # row-major order pairs each stop with its start
    return rows, starts, stops


def _segments(across_x, across_y, west, south, res) -> np.ndarray:
    """Pixel-edge boundary segments, consecutive edges merged into one straight line each
    (a few thousand lines instead of tens of thousands of pixel edges)."""
    j, i0, i1 = _runs(across_x.T)                     # vertical lines at x = west + (j+1) res
    x = west + (j + 1) * res
    vertical = np.stack([np.column_stack([x, south + i0 * res]),
                         np.column_stack([x, south + i1 * res])], axis=1)
    i, j0, j1 = _runs(across_y)                       # horizontal lines at y = south + (i+1) res
    y = south + (i + 1) * res
    horizontal = np.stack([np.column_stack([west + j0 * res, y]),
                           np.column_stack([west + j1 * res, y])], axis=1)
    return np.concatenate([vertical, horizontal]).reshape(-1, 2, 2)


# ----------------------------------------------------------------------------- boundary files
def _read_boundaries(path: Path, code_property: str) -> dict[str, list[list[np.ndarray]]]:
    """District code -> polygons, from a GeoJSON or (with pyshp) a shapefile; cached per file
    version, so side-by-side maps and repeated calls parse the file once."""
    if not path.is_file():
        raise UserError("file not found (expected a district boundary file: GeoJSON, or a "
                        "shapefile with pyshp installed)", file=path)
    stat = path.stat()
    return _read_boundaries_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size,
                                   code_property)


@lru_cache(maxsize=4)
def _read_boundaries_cached(path: str, _mtime_ns: int, _size: int, code_property: str):
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in (".shp", ".zip"):
        features = _shapefile_features(file)
    elif suffix in (".geojson", ".json"):
        features = _geojson_features(file)
    else:
        raise UserError(f"unsupported boundary file type {suffix!r}; expected .geojson/.json, "
                        "or .shp/.zip with pyshp installed", file=file)
    by_code: dict[str, list] = {}
    for props, geometry in features:
        code = (props or {}).get(code_property)
        if code is not None:
            # Multi-part districts may come as several features with one code.
            by_code.setdefault(str(code).strip(), []).extend(_geometry_polygons(geometry))
    if not by_code:
        seen = sorted((features[0][0] or {}).keys()) if features else []
        raise UserError(f"no feature has the district-code property '{code_property}' "
                        f"(properties found: {', '.join(seen) or 'none'}); pass code_property=",
                        file=file, key=code_property)
    return by_code


def _geojson_features(path: Path) -> list[tuple[dict, dict]]:
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"not valid GeoJSON ({exc})", file=path) from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise UserError("not a GeoJSON FeatureCollection (no 'features' list)", file=path)
    return [(f.get("properties"), f.get("geometry")) for f in features if isinstance(f, dict)]


def _shapefile_features(path: Path) -> list[tuple[dict, dict]]:
    try:
        import shapefile        # optional dependency (pyshp)
    except ImportError:
        raise UserError("reading a shapefile needs the optional package pyshp (pip install "
                        "pyshp); or convert it: ogr2ogr -f GeoJSON out.geojson in.shp",
                        file=path) from None
    try:
        with shapefile.Reader(str(path)) as reader:
            return [(rec.record.as_dict(), rec.shape.__geo_interface__)
                    for rec in reader.iterShapeRecords()]
    except shapefile.ShapefileException as exc:
        raise UserError(f"cannot read the shapefile ({exc})", file=path) from None


def _match_boundaries(by_code, geo: Geography, path: Path, code_property: str) -> dict[int, list]:
    """District row -> polygons; refuses a file that covers too few districts to be a map."""
    rows = {row: by_code[code] for row, code in enumerate(geo.pcodes) if code in by_code}
    if not rows:
        example = next(iter(by_code))
        raise UserError(f"no '{code_property}' value matches a district code (file has e.g. "
                        f"{example!r}, expected codes like {geo.pcodes[0]!r})",
                        file=path, key=code_property)
    if len(rows) < MIN_MATCHED_SHARE * geo.n:
        raise UserError(f"only {len(rows)} of {geo.n} districts matched by '{code_property}'; "
                        f"expected at least {MIN_MATCHED_SHARE:.0%} (the AGCHO 2018 district file)",
                        file=path, key=code_property)
    lon_lat_ok = all(np.all(np.abs(r) <= (180, 90)) for polys in rows.values()
                     for rings in polys for r in rings)
    if not lon_lat_ok:
        raise UserError("coordinates are not longitude/latitude; reproject to EPSG:4326",
                        file=path)
    return rows


def _province_segments(rows: dict[int, list], geo: Geography) -> np.ndarray:
    """Polygon edges on a province border (or the national border): (k, 2, 2) segments."""
    provincial, national = _border_segments(rows, geo)
    return np.concatenate([provincial, national])


def _border_segments(rows: dict[int, list], geo: Geography,
                     offset: float = SIDE_OFFSET_DEG) -> tuple[np.ndarray, np.ndarray]:
    """(province borders, national border) among the polygons' edges.

    An edge is tested at two points just off its middle, one on each side: if both lie in the
    district's own province it is inside the province and not drawn heavy; if one lies in no
    district of the province or its neighbours it is on the national border. This works for
    coverages whose neighbours share vertices exactly and for independently simplified ones,
    whose shared borders differ by less than the offset.
    """
    segs_by_prov: dict[int, list[np.ndarray]] = {}
    polys_by_prov: dict[int, list] = {}
    for row, polygons in rows.items():
        prov = int(geo.province_index[row])
        polys_by_prov.setdefault(prov, []).extend(polygons)
        for rings in polygons:
            for ring in rings:
                segs_by_prov.setdefault(prov, []).append(
                    np.stack([ring, np.roll(ring, -1, axis=0)], axis=1))
    paths = {p: _polygons_path(polys) for p, polys in polys_by_prov.items()}
    provincial, national = [], []
    for prov, parts in segs_by_prov.items():
        segs = np.concatenate(parts)
        d = segs[:, 1] - segs[:, 0]
        length = np.hypot(d[:, 0], d[:, 1])
        segs, d, length = segs[length > 0], d[length > 0], length[length > 0]
        mid = segs.mean(axis=1)
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / length[:, None] * offset
        sides = (mid + normal, mid - normal)
        own = [paths[prov].contains_points(q) for q in sides]
        border = ~(own[0] & own[1])
        if not border.any():
            continue
        # the side that left the province: in a neighbouring province, or outside the country
        outer_normal = np.where(own[0][:, None], -normal, normal)[border]
        outer = mid[border] + outer_normal
        elsewhere = np.zeros(len(outer), dtype=bool)
        for other in geo.province_neighbours[prov]:
            if other in paths:
                elsewhere |= paths[other].contains_points(outer)
        # Not in a neighbouring province: a corner of a third province, or a sliver gap of the
        # simplified coverage; look in every province, and a little further out.
        for far in (1.0, 3.0):
            lost = np.flatnonzero(~elsewhere)
            if not lost.size:
                break
            probe = mid[border][lost] + far * outer_normal[lost]
            for other, other_path in paths.items():
                if other != prov:
                    elsewhere[lost] |= other_path.contains_points(probe)
        on_border = segs[border]
        provincial.append(on_border[elsewhere])
        national.append(on_border[~elsewhere])
    empty = np.zeros((0, 2, 2))
    return (np.concatenate(provincial) if provincial else empty,
            np.concatenate(national) if national else empty)


# ----------------------------------------------------------------------------- drawing
@dataclass(frozen=True)
class _Style:
    cmap: matplotlib.colors.Colormap
    norm: Normalize
    date_values: bool
    boundaries: Path | None      # None: nearest-centre cells
    code_property: str
    capitals: bool
    note: str                    # the footnote naming the boundaries
    missing_label: str | None = None   # what a grey (NaN) district means; None: the default


def _style(arrays, *, cmap="Reds", vmin=None, vmax=None, date_values=False, boundaries=None,
           code_property="ADM2_PCODE", capitals=True, missing_label=None) -> _Style:
    """The shared colour scale of one or more maps (one colourbar serves them all)."""
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays])
    lo = float(vmin) if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = float(vmax) if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if hi <= lo:                    # a constant map still needs a scale to show its colour
        lo, hi = lo - 0.5, hi + 0.5
    if date_values and cmap == "Reds":
        cmap = DATE_CMAP
    colormap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    if isinstance(boundaries, str) and boundaries == CELLS:
        path, note = None, CELLS_NOTE
    elif boundaries is None or Path(boundaries).resolve() == DISTRICT_POLYGONS.resolve():
        path, code_property = DISTRICT_POLYGONS, DISTRICT_POLYGONS_CODE
        note = DISTRICT_POLYGONS_NOTE
    else:
        path = Path(boundaries)
        note = f"Boundaries: {path.name}"
    return _Style(cmap=colormap.with_extremes(bad=NAN_GREY), norm=Normalize(lo, hi),
                  date_values=date_values, boundaries=path, code_property=code_property,
                  capitals=capitals, note=note, missing_label=missing_label)


def _as_values(values, geo: Geography) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (geo.n,):
        raise ValueError(f"expected one value per district, shape ({geo.n},), got {arr.shape}")
    return arr


def _draw(ax, values: np.ndarray, geo: Geography, style: _Style, title: str):
    """Draw one map into ``ax``; returns the artist that carries the colour scale."""
    if style.boundaries is None:
        mappable = _draw_raster(ax, values, geo, style)
    else:
        mappable = _draw_polygons(ax, values, geo, style)
    handles = []
    if np.isnan(values).any():
        text = style.missing_label or ("never fell" if style.date_values else "no value")
        handles.append(Patch(facecolor=NAN_GREY, edgecolor="#888888", label=text))
    if style.capitals:
        _draw_capitals(ax, geo)
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=4,
                              markerfacecolor="black", markeredgecolor="white",
                              label="provincial capital"))
    handles.append(Line2D([], [], color=PROVINCE_EDGE["colors"],
                          linewidth=PROVINCE_EDGE["linewidths"], label="province border"))
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
    ax.text(0.01, 0.01, style.note, transform=ax.transAxes, fontsize=6.5, color="#666666")
    ax.set_title(title)
    ax.set_axis_off()
    return mappable


def _draw_raster(ax, values, geo, style: _Style):
    raster = district_raster(geo)
    on_map = raster.labels >= 0
    pixels = np.where(on_map, values[np.maximum(raster.labels, 0)], np.nan)
    image = ax.imshow(np.ma.masked_invalid(pixels), extent=raster.extent, origin="lower",
                      cmap=style.cmap, norm=style.norm, interpolation="nearest")
    outline = PathPatch(outline_path(), **OUTLINE_STYLE, zorder=4)
    ax.add_patch(outline)
    image.set_clip_path(outline)
    for segments, kw, z in ((raster.district_edges, DISTRICT_EDGE, 2),
                            (raster.province_edges, PROVINCE_EDGE, 3)):
        lines = LineCollection(segments, **kw, zorder=z)
        ax.add_collection(lines)
        lines.set_clip_path(outline)
    west, east, south, north = raster.extent
    _frame(ax, west, east, south, north)
    return image


@dataclass(frozen=True, eq=False)
class PolygonLayer:
    """Districts of a boundary file, ready to draw: one Path per matched district, and borders."""

    rows: np.ndarray                  # district rows, in the order of ``paths``
    paths: tuple                      # matplotlib Paths (lon/lat)
    province_edges: np.ndarray        # (k, 2, 2)
    national_edges: np.ndarray        # (k, 2, 2)
    bounds: tuple[float, float, float, float]   # west, south, east, north


def polygon_layer(geo: Geography | None = None, boundaries=None,
                  code_property: str = "ADM2_PCODE") -> PolygonLayer:
    """The (cached) drawable polygons: the theatre's own districts (in Afghanistan the package's
    AGCHO polygons; a file of the same name in any theatre's folder) unless ``boundaries``."""
    geo = geo or load_geography()
    if boundaries is None or Path(boundaries).resolve() == DISTRICT_POLYGONS.resolve():
        path = geo.theatre.data_dir / DISTRICT_POLYGONS.name
        code_property = DISTRICT_POLYGONS_CODE
    else:
        path = Path(boundaries)
    if not path.is_file():
        raise UserError("file not found (expected a district boundary file: GeoJSON, or a "
                        "shapefile with pyshp installed)", file=path)
    stat = path.stat()
    return _polygon_layer(str(path.resolve()), stat.st_mtime_ns, stat.st_size, code_property, geo)


@lru_cache(maxsize=4)
def _polygon_layer(path: str, _mtime: int, _size: int, code_property: str,
                   geo: Geography) -> PolygonLayer:
    file = Path(path)
    rows = _match_boundaries(_read_boundaries(file, code_property), geo, file, code_property)
    order = np.array(sorted(rows), dtype=np.int64)
    provincial, national = _border_segments(rows, geo)
    verts = np.concatenate([r for polys in rows.values() for rings in polys for r in rings])
    (west, south), (east, north) = verts.min(axis=0), verts.max(axis=0)
    for arr in (order, provincial, national):
        arr.setflags(write=False)
    return PolygonLayer(rows=order, paths=tuple(_polygons_path(rows[r]) for r in order),
                        province_edges=provincial, national_edges=national,
                        bounds=(float(west), float(south), float(east), float(north)))


def _draw_polygons(ax, values, geo, style: _Style):
    layer = polygon_layer(geo, style.boundaries, style.code_property)
    collection = PatchCollection([PathPatch(p) for p in layer.paths], cmap=style.cmap,
                                 norm=style.norm, edgecolors=DISTRICT_EDGE["colors"],
                                 linewidths=DISTRICT_EDGE["linewidths"], zorder=1)
    collection.set_array(np.ma.masked_invalid(values[layer.rows]))
    collection.district_rows = layer.rows       # which district each patch is (for re-colouring)
    ax.add_collection(collection)
    ax.add_collection(LineCollection(layer.province_edges, **PROVINCE_EDGE, zorder=3))
    ax.add_collection(LineCollection(layer.national_edges, **NATIONAL_EDGE, zorder=4))
    west, south, east, north = layer.bounds
    _frame(ax, west, east, south, north)
    return collection


def _frame(ax, west, east, south, north, margin=0.15) -> None:
    ax.set_xlim(west - margin, east + margin)
    ax.set_ylim(south - margin, north + margin)
    ax.set_aspect(_aspect(south, north))


def _draw_capitals(ax, geo: Geography) -> None:
    """Provincial capitals as small dots; only the theatre's first four labelled cities named,
    to keep the map legible."""
    lon = [p.capital_lon for p in geo.provinces]
    lat = [p.capital_lat for p in geo.provinces]
    ax.scatter(lon, lat, s=9, c="black", edgecolors="white", linewidths=0.5, zorder=5)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for p in geo.provinces:
        if p.capital in geo.labelled_cities[:LABELLED_ON_STATIC_MAPS]:
            ax.annotate(p.capital, (p.capital_lon, p.capital_lat), xytext=(4, 3),
                        textcoords="offset points", fontsize=8, zorder=6, path_effects=halo)


def _day_label(start: dt.date):
    """Colourbar labels of model days counted from ``start`` (the theatre's origin)."""
    def label(day: float, _pos=None) -> str:
        date = start + dt.timedelta(days=float(day))
        return f"{date.day} {date:%b}"
    return label


def _date_ticks(lo: float, hi: float, START: dt.date) -> list[float]:
    """Model days (from ``START``, the theatre's origin) of the 1st and 15th of each month in
    range (only the 1st on long spans)."""
    first = START + dt.timedelta(days=math.floor(lo))
    last = START + dt.timedelta(days=math.ceil(hi))
    days_of_month = (1, 15) if (last - first).days <= 150 else (1,)
    ticks, year, month = [], first.year, first.month
    while dt.date(year, month, 1) <= last:
        for day in days_of_month:
            t = float((dt.date(year, month, day) - START).days)
            if lo <= t <= hi:
                ticks.append(t)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ticks if len(ticks) >= 3 else list(np.linspace(lo, hi, 4).round())


def _colourbar(fig, mappable, axes, style: _Style, label: str, theatre):
    bar = fig.colorbar(mappable, ax=axes, orientation="horizontal", shrink=0.6, pad=0.02,
                       aspect=35)
    if style.date_values:
        bar.set_ticks(_date_ticks(style.norm.vmin, style.norm.vmax, theatre.start))
        bar.ax.xaxis.set_major_formatter(FuncFormatter(_day_label(theatre.start)))
        label = label or f"date ({theatre.start.year})"
    bar.set_label(label)
    return bar


# ----------------------------------------------------------------------------- public API
def district_map(values, geo=None, *, ax=None, title="", cmap="Reds", vmin=None, vmax=None,
                 label="", boundaries=None, code_property="ADM2_PCODE", capitals=True,
                 date_values=False, missing_label=None) -> Figure:
    """Map of the districts coloured by ``values`` (one per district, NaN drawn light grey).

    ``date_values=True`` reads the values as model days since the theatre's start (2021-05-01)
    and labels the
    colourbar with calendar dates (the default colormap then becomes ``YlOrRd_r``: early falls
    dark). ``missing_label`` names what a grey (NaN) district means in the legend (default
    "never fell" for dates, else "no value"). Districts are the package's AGCHO polygons;
    ``boundaries`` is another district boundary file (GeoJSON, or shapefile with pyshp) whose features carry the pcode in
    ``code_property``, or ``"cells"`` for nearest-centre cells. Draws into ``ax`` if given;
    returns the figure either way.
    """
    geo = geo or load_geography()
    values = _as_values(values, geo)
    style = _style([values], cmap=cmap, vmin=vmin, vmax=vmax, date_values=date_values,
                   boundaries=boundaries, code_property=code_property, capitals=capitals,
                   missing_label=missing_label)
    fig = ax.figure if ax is not None else Figure(figsize=(9, 7.5), layout="constrained")
    ax = ax if ax is not None else fig.add_subplot()
    mappable = _draw(ax, values, geo, style, title)
    _colourbar(fig, mappable, ax, style, label, geo.theatre)
    return fig


def side_by_side(values_a, values_b, titles=("", ""), geo=None, **kw) -> Figure:
    """Two maps (e.g. baseline and a what-if) on one colour scale with one colourbar.

    ``kw`` takes :func:`district_map`'s options (``cmap``, ``vmin``, ``vmax``, ``label``,
    ``boundaries``, ``code_property``, ``capitals``, ``date_values``, ``missing_label``) and
    ``title`` for the whole figure; the scale spans both maps unless ``vmin``/``vmax`` are given.
    """
    geo = geo or load_geography()
    label, suptitle = kw.pop("label", ""), kw.pop("title", "")
    pair = [_as_values(values_a, geo), _as_values(values_b, geo)]
    style = _style(pair, **kw)
    fig = Figure(figsize=(15, 6.8), layout="constrained")
    axes = fig.subplots(1, 2)
    mappables = [_draw(ax, v, geo, style, "") for ax, v in zip(axes, pair)]
    for ax, t in zip(axes, titles):      # panel labels inside the frame: no clash with the title
        ax.text(0.02, 0.97, t, transform=ax.transAxes, fontsize=13, weight="bold", va="top")
    _colourbar(fig, mappables[0], list(axes), style, label, geo.theatre)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def difference_map(values, reference, geo=None, *, ax=None, title="", label="", cmap="RdBu_r",
                   limit=None, boundaries=None, code_property="ADM2_PCODE",
                   capitals=True) -> Figure:
    """Map of ``values - reference`` (e.g. a what-if's median fall day minus the baseline's) on a
    diverging scale centred on zero and symmetric (``limit``, default the largest absolute
    difference), so that "later" and "earlier" read alike. NaN (in either) is drawn grey.
    """
    geo = geo or load_geography()
    delta = _as_values(values, geo) - _as_values(reference, geo)
    finite = np.abs(delta[np.isfinite(delta)])
    lim = float(limit) if limit is not None else (float(finite.max()) if finite.size else 1.0)
    lim = lim if lim > 0 else 1.0
    return district_map(delta, geo, ax=ax, title=title, cmap=cmap, vmin=-lim, vmax=lim,
                        label=label or "difference", boundaries=boundaries,
                        code_property=code_property, capitals=capitals)


# ----------------------------------------------------------------------------- animation
def collapse_animation(p_fallen: np.ndarray, path, geo: Geography | None = None, *,
                       first_day: int = 0, last_day: int | None = None, every: int = 4,
                       title: str = "", fps: int = 6) -> Path:
    """GIF of the collapse: each frame colours the districts by the probability that they have
    fallen by that day. ``p_fallen`` is (n, days). The polygons are drawn once and re-coloured
    per frame, so a 100-frame animation takes seconds (Pillow, which matplotlib already depends
    on, writes it)."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    geo = geo or load_geography()
    p_fallen = np.asarray(p_fallen, dtype=float)
    last_day = p_fallen.shape[1] - 1 if last_day is None else min(last_day, p_fallen.shape[1] - 1)
    days = list(range(first_day, last_day + 1, every))
    if days[-1] != last_day:
        days.append(last_day)
    fig = district_map(p_fallen[:, days[0]], geo, vmin=0.0, vmax=1.0, cmap="Reds",
                       label="probability the district is under Taliban control", title=title)
    ax = fig.axes[0]
    patches = next(c for c in ax.collections if isinstance(c, PatchCollection))
    rows = patches.district_rows
    stamp = ax.text(0.02, 0.95, "", transform=ax.transAxes, fontsize=13, weight="bold")

    def draw(k):
        day = days[k]
        patches.set_array(np.ma.masked_invalid(p_fallen[rows, day]))
        stamp.set_text((geo.theatre.start + dt.timedelta(days=day)).strftime("%d %B %Y"))
        return patches, stamp

    anim = FuncAnimation(fig, draw, frames=len(days), blit=False)
    path = Path(path)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=70)
    return path
