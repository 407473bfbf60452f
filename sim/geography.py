"""The district graph: 399 AGCHO districts as rows of arrays, validated on load.

Everything the hazard needs to know about *where* a district is lives here, derived once from
the package's own tables (``sim/data``, copied from the curated dataset with its attribution):

* the neighbour graph in CSR form with border-length weights, so that "the border-weighted share
  of neighbours fallen" is one sparse product;
* the covariates the model uses (government reach, the sanctuary border (Pakistan's), region,
  distance to the theatre's capital, Kabul);
* the spatial covariates of ``covariates.csv`` (``docs/covariates.md``): a non-saturating state
  presence (log 2019 turnout, standardised), border-crossing districts, the rural ring around
  each provincial capital, the main highways (an ASSUMPTION built from the neighbour graph) and
  local resistance named by the record; each an (n,) float array;
* provinces and their capital districts.

Validation happens on load, because a broken graph would silently bias every result: the
neighbour lists must be symmetric and agree with ``borders.csv``, every neighbour code must be
known, and each of the theatre's provinces (34 in Afghanistan) must have exactly one capital
district that matches ``provinces.csv``. A failure is a :class:`~sim.errors.DataError` naming the
file and the key.

A geography belongs to a :class:`~sim.theatre.Theatre` (``geo.theatre``): the theatre's folder
holds the tables, and its ``theatre.toml`` names the capital, the regions and the number of
provinces the tables are checked against.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .errors import DataError
from .theatre import DATA_DIR, Theatre, default_theatre

#: Mean Earth radius (km) for great-circle distances; the error against the ellipsoid (<0.5%)
#: is far below anything the model can resolve.
EARTH_RADIUS_KM = 6371.0088


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError("file not found (expected a CSV table of the district dataset)", file=path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None


def _require(rows: list[dict[str, str]], path: Path, columns: tuple[str, ...]) -> None:
    have = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in have]
    if not rows or missing:
        raise DataError(f"missing column(s) {missing or list(columns)}; expected {list(columns)}",
                        file=path, key=missing[0] if missing else None)


def _float(value: str, path: Path, key: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise DataError(f"expected a number, got {value!r}", file=path, key=key) from None


def great_circle_km(lon1, lat1, lon2, lat2):
    """Haversine distance in km (vectorised)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Province:
    index: int
    name: str            # AGCHO spelling (e.g. "Hilmand")
    pcode: str
    name_seed: str       # the seed's spelling (e.g. "Helmand")
    region: str
    capital: str         # capital as the seed spells it
    capital_pcode: str
    capital_index: int   # row of the capital district
    capital_lon: float
    capital_lat: float
    fell_on: str         # ISO date from the seed's table, "" for Panjshir
    fell_on_earliest: str
    fell_on_latest: str
    fall_order: str


@dataclass(frozen=True, eq=False)
class Geography:
    """District agents as a structure of arrays (row i is district ``pcodes[i]``)."""

    pcodes: tuple[str, ...]
    names: tuple[str, ...]
    province_index: np.ndarray          # (n,) int: row in ``provinces``
    is_capital: np.ndarray              # (n,) bool
    lon: np.ndarray                     # (n,) agent location (point inside the polygon)
    lat: np.ndarray
    area_km2: np.ndarray
    region: tuple[str, ...]
    reach: np.ndarray                   # (n,) 2019 polling-station reporting rate, 0..1
    reach_imputed: np.ndarray           # (n,) bool: reach filled from neighbours
    pakistan_border: np.ndarray         # (n,) bool: borders the theatre's sanctuary country
    border_km: np.ndarray               # (n,) national border length
    distance_to_kabul_km: np.ndarray    # (n,) to the theatre's capital city
    registered_voters: np.ndarray       # (n,) float, NaN where the IEC list has none
    nb_indptr: np.ndarray               # CSR neighbour structure
    nb_indices: np.ndarray
    nb_weight: np.ndarray               # shared border km / district's internal border km
    nb_border_km: np.ndarray
    provinces: tuple[Province, ...]
    province_neighbours: tuple[frozenset[int], ...]   # adjacent provinces (by index)
    source_dir: Path = field(default=DATA_DIR)
    # --- spatial covariates (covariates.csv; docs/covariates.md), each (n,) float
    state_presence: np.ndarray = None   # standardised log(2019 turnout + 0.01): mean 0, sd 1
    turnout_2019: np.ndarray = None     # valid votes / registered voters 2019 (NaN: no IEC district)
    border_crossing: np.ndarray = None  # 1 if a crossing of border_crossings.csv lies in it
    capital_ring: np.ndarray = None     # 1 for rural districts bordering their province's capital
    highway: np.ndarray = None          # 1 on the ring road or a route to a crossing (ASSUMPTION)
    local_resistance: np.ndarray = None  # 1 where the record names local resistance
    theatre: Theatre = None             # required: the theatre whose tables these are

    def __post_init__(self):
        if self.theatre is None:
            raise TypeError("a Geography needs its theatre")
        n = len(self.pcodes)
        for name in COVARIATE_FIELDS:       # synthetic graphs without covariates: all zero
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(n))

    # ----------------------------------------------------------------- convenience
    @property
    def n(self) -> int:
        return len(self.pcodes)

    @property
    def n_provinces(self) -> int:
        return len(self.provinces)

    @cached_property
    def capital_rows(self) -> np.ndarray:
        """Rows of the capital districts in province order."""
        rows = np.array([p.capital_index for p in self.provinces], dtype=np.int64)
        rows.flags.writeable = False
        return rows

    @property
    def capital_province(self) -> Province:
        """The province whose capital's fall ends the regime (the theatre's ``capital``)."""
        return self.province_by_name(self.theatre.capital)

    @property
    def labelled_cities(self) -> tuple[str, ...]:
        """The provincial capitals (city names) the maps name: the theatre's ``labelled_cities``,
        by default its capital's city alone."""
        return self.theatre.labelled_cities or (self.capital_province.capital,)

    @cached_property
    def kabul_row(self) -> int:
        """Row of the theatre's capital district (Kabul's in Afghanistan; the name is kept for
        the engines, which read it)."""
        return self.capital_province.capital_index

    @property
    def regions(self) -> tuple[str, ...]:
        """The theatre's region names."""
        return self.theatre.regions

    def index_of(self, pcode: str) -> int:
        return self._pcode_index[pcode]

    def neighbours_of(self, row: int) -> np.ndarray:
        return self.nb_indices[self.nb_indptr[row]:self.nb_indptr[row + 1]]

    def province_by_name(self, name: str) -> Province:
        key = name.strip().lower()
        for p in self.provinces:
            if key in (p.name.lower(), p.name_seed.lower(), p.pcode.lower()):
                return p
        raise KeyError(name)

    def province_names(self) -> list[str]:
        return [p.name for p in self.provinces]

    def neighbour_share(self, fallen: np.ndarray) -> np.ndarray:
        """Border-weighted share of each district's neighbours that have fallen.

        ``fallen`` is (n,) or (R, n) of 0/1; the result has the same shape.
        """
        fallen = np.asarray(fallen, dtype=float)
        # A sparse product sums each district's neighbours in a fixed order (unlike a BLAS
        # product, whose blocking depends on the batch size), so a replicate's numbers do not
        # depend on which replicates it is batched with.
        return np.ascontiguousarray((self.neighbour_matrix @ fallen.T).T)

    @cached_property
    def neighbour_matrix(self):
        """Sparse (n, n) matrix W with W[i, j] = j's weight in i's neighbour share."""
        from scipy.sparse import csr_matrix
        return csr_matrix((self.nb_weight, self.nb_indices, self.nb_indptr), shape=(self.n, self.n))

    def in_regions(self, regions) -> np.ndarray:
        wanted = set(regions)
        return np.array([r in wanted for r in self.region], dtype=bool)

    @cached_property
    def _pcode_index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.pcodes)}


DISTRICT_COLUMNS = ("pcode", "name", "province", "province_pcode", "region",
                    "is_provincial_capital", "lon", "lat", "area_km2", "neighbours",
                    "border_countries", "national_border_km", "polling_stations_planned_2019",
                    "polling_stations_reporting_2019", "registered_voters_2019")
BORDER_COLUMNS = ("pcode_a", "pcode_b", "shared_border_km")
#: Spatial covariates (``covariates.csv``): Geography attribute -> column.
COVARIATE_FIELDS = ("state_presence", "turnout_2019", "border_crossing", "capital_ring", "highway",
                    "local_resistance")
COVARIATE_FLAGS = ("border_crossing", "capital_ring", "highway", "local_resistance")
COVARIATE_COLUMNS = ("pcode", *COVARIATE_FIELDS)
PROVINCE_COLUMNS = ("province", "province_pcode", "province_name_seed", "region", "capital_name",
                    "capital_pcode", "capital_lon", "capital_lat", "capital_fell_on",
                    "fell_on_earliest", "fell_on_latest", "fall_order")


def load_geography(theatre: Theatre | str | Path | None = None) -> Geography:
    """Load and validate a theatre's district graph: ``None`` for the shipped theatre
    (:func:`sim.theatre.default_theatre`), a :class:`~sim.theatre.Theatre`, a shipped theatre's
    name or a theatre folder (holding ``theatre.toml`` and the tables). Cached for the shipped
    theatres."""
    if theatre is None:
        theatre = default_theatre()
    elif not isinstance(theatre, Theatre):
        theatre = Theatre.load(theatre)
    from .theatre import SHIPPED
    if SHIPPED.get(theatre.name) == theatre:
        return _load_shipped(theatre)
    return _load(theatre)


@lru_cache(maxsize=4)
def _load_shipped(theatre: Theatre) -> Geography:
    return _load(theatre)


def _load(theatre: Theatre) -> Geography:
    data_dir = theatre.data_dir
    dpath, bpath, ppath = data_dir / "districts.csv", data_dir / "borders.csv", data_dir / "provinces.csv"
    cpath, xpath = data_dir / "covariates.csv", data_dir / "border_crossings.csv"
    geo = geography_from_rows(_read_csv(dpath), _read_csv(bpath), _read_csv(ppath),
                              paths=(dpath, bpath, ppath), source_dir=data_dir, theatre=theatre)
    # the maps' names must be capitals of this folder's provinces (checked here, on a theatre's
    # own tables, not in geography_from_rows, which also builds small geographies for tests)
    unknown = sorted(set(theatre.labelled_cities) - {p.capital for p in geo.provinces})
    if unknown:
        raise DataError(f"labelled city(ies) {unknown} are not provincial capitals of "
                        f"{ppath.name} (column capital_name)", file=data_dir / "theatre.toml",
                        key="theatre.labelled_cities")
    return with_covariates(geo, _read_csv(cpath), _read_csv(xpath), paths=(cpath, xpath))


def with_covariates(geo: Geography, crows: list[dict[str, str]], xrows: list[dict[str, str]],
                    *, paths=("covariates.csv", "border_crossings.csv")) -> Geography:
    """The geography with its spatial covariates read from ``covariates.csv`` rows, validated.

    Refused with a one-line :class:`DataError` naming the file, the line and the column: a missing
    or unknown pcode, a value that is not a finite number, a flag other than 0/1, a turnout
    outside [0, 1], a ``border_crossing`` that disagrees with ``border_crossings.csv``, or a
    ``capital_ring`` that disagrees with the neighbour graph (rural districts bordering their own
    province's capital district).
    """
    import dataclasses
    cpath, xpath = (Path(p) for p in paths)
    _require(crows, cpath, COVARIATE_COLUMNS)
    index = {p: i for i, p in enumerate(geo.pcodes)}
    values = {name: np.full(geo.n, np.nan) for name in COVARIATE_FIELDS}
    seen = np.zeros(geo.n, dtype=bool)
    line_of: dict[str, int] = {}
    for k, r in enumerate(crows):
        line = k + 2                     # the header is line 1
        code = r["pcode"].strip()
        line_of.setdefault(code, line)
        if code not in index:
            raise DataError(f"unknown district code {code!r}", file=cpath, key="pcode", line=line)
        i = index[code]
        if seen[i]:
            raise DataError(f"duplicate district code {code!r}", file=cpath, key="pcode", line=line)
        seen[i] = True
        for name in COVARIATE_FIELDS:
            cell = r[name].strip()
            if name == "turnout_2019" and cell == "":
                continue                 # no IEC district (AF2116): stays NaN
            try:
                v = float(cell)
            except ValueError:
                raise DataError(f"expected a number, got {cell!r}", file=cpath, key=name,
                                line=line) from None
            if not math.isfinite(v):
                raise DataError(f"expected a finite number, got {cell!r}", file=cpath, key=name,
                                line=line)
            if name in COVARIATE_FLAGS and v not in (0.0, 1.0):
                raise DataError(f"expected 0 or 1, got {cell!r}", file=cpath, key=name, line=line)
            if name == "turnout_2019" and not 0.0 <= v <= 1.0:
                raise DataError(f"turnout {v} outside [0, 1]", file=cpath, key=name, line=line)
            values[name][i] = v
    if not seen.all():
        missing = [geo.pcodes[i] for i in np.flatnonzero(~seen)]
        raise DataError(f"no row for district(s) {missing[:5]}", file=cpath, key="pcode")

    crossing = np.zeros(geo.n)
    for k, r in enumerate(xrows):
        code = r.get("pcode", "").strip()
        if code not in index:
            raise DataError(f"unknown district code {code!r}", file=xpath, key="pcode", line=k + 2)
        crossing[index[code]] = 1.0
    bad = np.flatnonzero(values["border_crossing"] != crossing)
    if bad.size:
        i = int(bad[0])
        raise DataError(f"border_crossing of {geo.pcodes[i]} is {values['border_crossing'][i]:g} "
                        f"but {xpath.name} {'lists' if crossing[i] else 'does not list'} a "
                        "crossing in it", file=cpath, key="border_crossing",
                        line=line_of[geo.pcodes[i]])
    ring = capital_ring_from_graph(geo)
    bad = np.flatnonzero(values["capital_ring"] != ring)
    if bad.size:
        i = int(bad[0])
        raise DataError(f"capital_ring of {geo.pcodes[i]} is {values['capital_ring'][i]:g} but the "
                        f"neighbour graph gives {ring[i]:g}", file=cpath, key="capital_ring",
                        line=line_of[geo.pcodes[i]])
    for arr in values.values():
        arr.flags.writeable = False
    return dataclasses.replace(geo, **values)


def capital_ring_from_graph(geo: Geography) -> np.ndarray:
    """(n,) 0/1: rural districts that share a border with their own province's capital district."""
    ring = np.zeros(geo.n)
    for prov in geo.provinces:
        for j in geo.neighbours_of(prov.capital_index):
            if geo.province_index[j] == prov.index and not geo.is_capital[j]:
                ring[j] = 1.0
    return ring


def geography_from_rows(drows: list[dict[str, str]], brows: list[dict[str, str]],
                        prows: list[dict[str, str]], *, paths=("districts.csv", "borders.csv",
                                                              "provinces.csv"),
                        source_dir: Path | None = None, theatre: Theatre | None = None,
                        provinces_expected: int | None | str = "theatre") -> Geography:
    """Build and validate a geography from table rows (the CSV files, or a synthetic graph).

    ``theatre`` (default: the shipped one) names the capital, the regions, the sanctuary country
    and, unless ``provinces_expected`` is given, how many provinces there must be (Afghanistan:
    34). Tests build small synthetic graphs this way (``provinces_expected=None``).
    """
    theatre = theatre or default_theatre()
    source_dir = source_dir or theatre.data_dir
    if provinces_expected == "theatre":
        provinces_expected = theatre.provinces_expected
    dpath, bpath, ppath = (Path(p) for p in paths)
    _require(drows, dpath, DISTRICT_COLUMNS)
    _require(brows, bpath, BORDER_COLUMNS)
    _require(prows, ppath, PROVINCE_COLUMNS)

    pcodes = tuple(r["pcode"] for r in drows)
    if len(set(pcodes)) != len(pcodes):
        dup = sorted({p for p in pcodes if pcodes.count(p) > 1})
        raise DataError(f"duplicate district codes {dup[:5]}", file=dpath, key="pcode")
    index = {p: i for i, p in enumerate(pcodes)}
    n = len(pcodes)

    # --- neighbour graph: symmetric, known codes, identical to borders.csv
    listed: dict[str, set[str]] = {}
    for r in drows:
        nbs = {c for c in r["neighbours"].split(";") if c}
        unknown = sorted(nbs - index.keys())
        if unknown:
            raise DataError(f"district {r['pcode']} lists unknown neighbour code(s) {unknown}",
                            file=dpath, key="neighbours")
        if r["pcode"] in nbs:
            raise DataError(f"district {r['pcode']} lists itself as a neighbour", file=dpath,
                            key="neighbours")
        listed[r["pcode"]] = nbs
    for a, nbs in listed.items():
        for b in nbs:
            if a not in listed[b]:
                raise DataError(f"neighbours not symmetric: {a} lists {b} but {b} does not list {a}",
                                file=dpath, key="neighbours")
    border_km: dict[tuple[str, str], float] = {}
    for r in brows:
        a, b = r["pcode_a"], r["pcode_b"]
        for code in (a, b):
            if code not in index:
                raise DataError(f"unknown district code {code!r}", file=bpath, key="pcode_a/pcode_b")
        km = _float(r["shared_border_km"], bpath, "shared_border_km")
        if not km > 0:
            raise DataError(f"pair {a}-{b} has non-positive border {km}", file=bpath,
                            key="shared_border_km")
        border_km[(a, b)] = border_km[(b, a)] = km
    pairs_listed = {(a, b) for a, nbs in listed.items() for b in nbs}
    if pairs_listed != set(border_km):
        diff = sorted(pairs_listed ^ set(border_km))[:3]
        raise DataError(f"neighbour lists disagree with {bpath.name} on pairs {diff}", file=dpath,
                        key="neighbours")

    indptr = np.zeros(n + 1, dtype=np.int64)
    indices: list[int] = []
    kms: list[float] = []
    for i, p in enumerate(pcodes):
        nbs = sorted(listed[p], key=index.__getitem__)
        indices.extend(index[b] for b in nbs)
        kms.extend(border_km[(p, b)] for b in nbs)
        indptr[i + 1] = len(indices)
    if np.any(np.diff(indptr) == 0):
        lonely = [pcodes[i] for i in np.flatnonzero(np.diff(indptr) == 0)]
        raise DataError(f"districts without neighbours {lonely}", file=dpath, key="neighbours")
    nb_indices = np.asarray(indices, dtype=np.int64)
    nb_km = np.asarray(kms, dtype=float)
    totals = np.add.reduceat(nb_km, indptr[:-1])
    nb_weight = nb_km / np.repeat(totals, np.diff(indptr))

    # --- provinces and capitals
    provinces: list[Province] = []
    by_pcode = {}
    for i, r in enumerate(prows):
        cap = r["capital_pcode"]
        if cap not in index:
            raise DataError(f"capital district {cap!r} of {r['province']} is not a known district",
                            file=ppath, key="capital_pcode")
        prov = Province(
            index=i, name=r["province"], pcode=r["province_pcode"], name_seed=r["province_name_seed"],
            region=r["region"], capital=r["capital_name"], capital_pcode=cap,
            capital_index=index[cap],
            capital_lon=_float(r["capital_lon"], ppath, "capital_lon"),
            capital_lat=_float(r["capital_lat"], ppath, "capital_lat"),
            fell_on=r["capital_fell_on"], fell_on_earliest=r["fell_on_earliest"],
            fell_on_latest=r["fell_on_latest"], fall_order=r["fall_order"])
        provinces.append(prov)
        by_pcode[prov.pcode] = prov
    if provinces_expected is not None and len(provinces) != provinces_expected:
        raise DataError(f"expected {provinces_expected} provinces, found {len(provinces)}", file=ppath,
                        key="province")

    province_index = np.empty(n, dtype=np.int64)
    is_capital = np.zeros(n, dtype=bool)
    for i, r in enumerate(drows):
        prov = by_pcode.get(r["province_pcode"])
        if prov is None:
            raise DataError(f"district {r['pcode']} is in unknown province {r['province_pcode']!r}",
                            file=dpath, key="province_pcode")
        province_index[i] = prov.index
        is_capital[i] = r["is_provincial_capital"].strip() == "1"
    for prov in provinces:
        caps = [pcodes[i] for i in np.flatnonzero(is_capital & (province_index == prov.index))]
        if caps != [prov.capital_pcode]:
            raise DataError(f"province {prov.name} must have exactly one capital district "
                            f"({prov.capital_pcode} per {ppath.name}); {dpath.name} flags {caps}",
                            file=dpath, key="is_provincial_capital")

    # --- covariates
    lon = np.array([_float(r["lon"], dpath, "lon") for r in drows])
    lat = np.array([_float(r["lat"], dpath, "lat") for r in drows])
    for prov in provinces:   # the capital city itself is the better point for a capital district
        lon[prov.capital_index], lat[prov.capital_index] = prov.capital_lon, prov.capital_lat
    capital = next((p for p in provinces if p.name == theatre.capital), None)
    if capital is None:
        raise DataError(f"no province named {theatre.capital!r} (the theatre's capital: the model "
                        "ends with its fall)", file=ppath, key="province")
    dist = great_circle_km(lon, lat, capital.capital_lon, capital.capital_lat)

    reach = np.full(n, np.nan)
    for i, r in enumerate(drows):
        planned, reporting = r["polling_stations_planned_2019"], r["polling_stations_reporting_2019"]
        if planned == "":
            continue                       # no IEC district at all (AF2116): imputed below
        planned_f = _float(planned, dpath, "polling_stations_planned_2019")
        # No station planned means the state could not reach the district in 2019: reach 0.
        reach[i] = 0.0 if planned_f == 0 else _float(reporting, dpath,
                                                      "polling_stations_reporting_2019") / planned_f
    imputed = np.isnan(reach)
    for i in np.flatnonzero(imputed):    # border-weighted mean of known neighbours
        sl = slice(indptr[i], indptr[i + 1])
        known = ~np.isnan(reach[nb_indices[sl]])
        w = nb_weight[sl][known]
        reach[i] = float(np.sum(w * reach[nb_indices[sl]][known]) / np.sum(w))
    if np.any((reach < 0) | (reach > 1)):
        bad = pcodes[int(np.flatnonzero((reach < 0) | (reach > 1))[0])]
        raise DataError(f"district {bad}: polling-station reporting rate outside [0, 1]", file=dpath,
                        key="polling_stations_reporting_2019")

    voters = np.array([_float(r["registered_voters_2019"], dpath, "registered_voters_2019")
                       if r["registered_voters_2019"] else math.nan for r in drows])
    regions = tuple(r["region"] for r in drows)
    unknown_regions = sorted(set(regions) - set(theatre.regions))
    if unknown_regions:
        raise DataError(f"unknown region(s) {unknown_regions}; expected one of "
                        f"{list(theatre.regions)} (the theatre's regions)", file=dpath, key="region")

    adjacent: list[set[int]] = [set() for _ in provinces]
    for a, nbs in listed.items():
        for b in nbs:
            pa, pb = province_index[index[a]], province_index[index[b]]
            if pa != pb:
                adjacent[pa].add(int(pb))

    return Geography(
        pcodes=pcodes, names=tuple(r["name"] for r in drows), province_index=province_index,
        is_capital=is_capital, lon=lon, lat=lat,
        area_km2=np.array([_float(r["area_km2"], dpath, "area_km2") for r in drows]),
        region=regions, reach=reach, reach_imputed=imputed,
        pakistan_border=np.array([theatre.sanctuary in r["border_countries"].split(";")
                                  for r in drows]),
        border_km=np.array([_float(r["national_border_km"] or "0", dpath, "national_border_km")
                            for r in drows]),
        distance_to_kabul_km=dist, registered_voters=voters,
        nb_indptr=indptr, nb_indices=nb_indices, nb_weight=nb_weight, nb_border_km=nb_km,
        provinces=tuple(provinces), province_neighbours=tuple(frozenset(a) for a in adjacent),
        source_dir=source_dir, theatre=theatre)
