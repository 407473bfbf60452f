"""The district results layer: each district's polygon with what a run says about it (GeoJSON).

Every ``afsim run`` output folder gets ``districts.geojson`` next to ``districts.csv``: one
Feature per district, its polygon from the package's simplified AGCHO boundaries
(``sim/data/districts_agcho_2018_simplified.geojson``: AGCHO/OCHA 2018, CC BY-IGO, simplified
0.005 degree; see ``sim/data/SOURCES.md``) and these properties:

``pcode``, ``name``, ``province``, ``is_capital``, ``lon``, ``lat`` (the agent's point),
``p_fall`` (fell within the horizon), ``p_fallen_by_<date>`` for each of :func:`layer_dates`,
``fall_date_q05``/``q50``/``q95`` (ISO, null when the quantile is after the horizon),
``mode_most_likely`` (``held``, ``negotiated``, ``fight`` or ``taliban_at_start``) and
``p_mode_<mode>`` for each, ``p_negotiated`` (share of falls during the campaign that were
negotiated; null when it never fell).

It opens in QGIS, geojson.io or any web map; the file's top-level ``attribution`` names the
boundary source and its licence.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import DataError
from .geography import DATA_DIR, Geography

POLYGON_FILE = DATA_DIR / "districts_agcho_2018_simplified.geojson"
POLYGON_CODE_PROPERTY = "pcode"
ATTRIBUTION = ("District boundaries: Afghanistan Geodesy and Cartography Head Office (AGCHO) via "
               "OCHA, afg_admbnda_adm2_agcho_20180522 (HDX), CC BY-IGO; simplified (0.005 degree). "
               "Values: afsim simulation output.")


def attribution(geo: Geography) -> str:
    """Where the theatre's district polygons come from: the AGCHO credit for the package's own,
    the theatre's file otherwise."""
    if geo.theatre.data_dir.resolve() == DATA_DIR.resolve():
        return ATTRIBUTION
    return (f"District boundaries: {POLYGON_FILE.name} of theatre {geo.theatre.name}. Values: "
            "afsim simulation output.")


#: How far (degrees) a polygon may reach beyond the box of its theatre's district points: a
#: district's polygon extends well past its point (Wakhan's, in Afghanistan, by ~2.5 degrees).
BBOX_MARGIN_DEG = 3.0


def bounding_box(geo: Geography) -> tuple[float, float, float, float]:
    """(lon_min, lat_min, lon_max, lat_max) the district polygons must lie in: the box of the
    theatre's own district points (districts.csv) with a margin of :data:`BBOX_MARGIN_DEG`, so
    coordinates in another system (metres, swapped axes) are caught in any theatre. In
    Afghanistan about 57.9-76.3 E, 26.9-41.4 N."""
    m = BBOX_MARGIN_DEG
    return (round(float(geo.lon.min()) - m, 3), round(float(geo.lat.min()) - m, 3),
            round(float(geo.lon.max()) + m, 3), round(float(geo.lat.max()) + m, 3))


def load_district_polygons(geo: Geography, path: str | Path | None = None) -> dict[str, dict]:
    """pcode -> GeoJSON geometry (Polygon or MultiPolygon) for every district of ``geo``.

    Validated: a readable FeatureCollection, one feature per district code, every district of the
    geography present, polygons in longitude/latitude around the districts' own points
    (:func:`bounding_box`). A broken file is a one-line :class:`DataError` naming it.
    """
    path = Path(path) if path is not None else geo.theatre.data_dir / POLYGON_FILE.name
    if not path.is_file():
        raise DataError("file not found (expected the district polygons, GeoJSON)", file=path)
    stat = path.stat()
    by_code = _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size, bounding_box(geo))
    missing = [p for p in geo.pcodes if p not in by_code]
    if missing:
        raise DataError(f"no polygon for district(s) {missing[:5]}", file=path,
                        key=POLYGON_CODE_PROPERTY)
    return by_code


@lru_cache(maxsize=2)
def _load(path: str, _mtime: int, _size: int, box: tuple[float, float, float, float]
          ) -> dict[str, dict]:
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"not valid GeoJSON ({exc})", file=file) from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise DataError("not a GeoJSON FeatureCollection (no 'features' list)", file=file)
    out: dict[str, dict] = {}
    for k, feature in enumerate(features):
        props = (feature or {}).get("properties") or {}
        code = props.get(POLYGON_CODE_PROPERTY)
        geom = (feature or {}).get("geometry") or {}
        if not code:
            raise DataError(f"feature {k} has no '{POLYGON_CODE_PROPERTY}'", file=file,
                            key=POLYGON_CODE_PROPERTY)
        if code in out:
            raise DataError(f"two features for district {code}", file=file,
                            key=POLYGON_CODE_PROPERTY)
        if geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise DataError(f"district {code}: geometry {geom.get('type')!r} is not a polygon",
                            file=file, key="geometry")
        coords = np.array([pt for ring in _rings(geom) for pt in ring], dtype=float)
        if coords.size == 0 or np.any((coords[:, 0] < box[0]) | (coords[:, 0] > box[2])
                                      | (coords[:, 1] < box[1]) | (coords[:, 1] > box[3])):
            raise DataError(f"district {code}: coordinates are not longitude/latitude near the "
                            f"districts' points (expected EPSG:4326 within {box[0]:g} to "
                            f"{box[2]:g} E, {box[1]:g} to {box[3]:g} N)", file=file,
                            key="geometry")
        out[str(code)] = geom
    return out


def _rings(geom: dict):
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    for poly in polys:
        yield from poly


def _iso(day: float, theatre):
    return theatre.date_of(day).isoformat() if np.isfinite(day) else None


def layer_dates(theatre) -> tuple[dt.date, ...]:
    """The dates of the layer's ``p_fallen_by_<date>`` columns: the ends of the two months before
    the theatre's recorded capital fall, and that fall (30 June, 31 July, 15 August 2021)."""
    first = theatre.capital_fell.replace(day=1)
    end_prev = first - dt.timedelta(days=1)
    end_prev2 = end_prev.replace(day=1) - dt.timedelta(days=1)
    return tuple(d for d in (end_prev2, end_prev, theatre.capital_fell) if d >= theatre.start)


def district_features(result, dates=None) -> list[dict]:
    """Per-district properties of an :class:`~sim.results.EnsembleResult` (GeoJSON-ready)."""
    from .model import MODE_NAMES
    geo, sm = result.geo, result.summary
    dates = layer_dates(result.theatre) if dates is None else dates
    p_fall, p_neg = sm.p_fall(), sm.p_negotiated()
    by_date = {d: sm.p_fallen_by(d) for d in dates}
    q = {p: sm.fall_day_quantile(p) for p in (0.05, 0.5, 0.95)}
    modes = sm.mode_counts / max(sm.replicates, 1)
    props = []
    for i in range(geo.n):
        row = {"pcode": geo.pcodes[i], "name": geo.names[i],
               "province": geo.provinces[geo.province_index[i]].name,
               "is_capital": bool(geo.is_capital[i]),
               "lon": round(float(geo.lon[i]), 5), "lat": round(float(geo.lat[i]), 5),
               "p_fall": round(float(p_fall[i]), 4)}
        for d in dates:
            row[f"p_fallen_by_{d.isoformat()}"] = round(float(by_date[d][i]), 4)
        for p in (0.05, 0.5, 0.95):
            row[f"fall_date_q{int(round(p * 100)):02d}"] = _iso(q[p][i], result.theatre)
        row["mode_most_likely"] = MODE_NAMES[int(np.argmax(sm.mode_counts[i]))]
        for m, name in MODE_NAMES.items():
            row[f"p_mode_{name}"] = round(float(modes[i, m]), 4)
        row["p_negotiated"] = None if np.isnan(p_neg[i]) else round(float(p_neg[i]), 4)
        props.append(row)
    return props


def district_geojson(result, dates=None, polygons: str | Path | None = None) -> dict:
    """The run's district layer as a GeoJSON FeatureCollection (a dict)."""
    dates = layer_dates(result.theatre) if dates is None else dates
    shapes = load_district_polygons(result.geo, polygons)
    features = [{"type": "Feature", "properties": props, "geometry": shapes[props["pcode"]]}
                for props in district_features(result, dates)]
    return {"type": "FeatureCollection", "name": f"afsim_districts_{result.scenario.name}",
            "attribution": attribution(result.geo),
            "dates": [d.isoformat() for d in dates],
            "replicates": result.replicates, "features": features}


def write_district_geojson(result, path: str | Path, dates=None) -> Path:
    path = Path(path)
    path.write_text(json.dumps(district_geojson(result, dates), separators=(",", ":")) + "\n",
                    encoding="utf-8")
    return path
