"""Build ``sim/data/district_reports_tolonews.csv``: the first date TOLOnews reported each district
under Taliban control, mapped to the AGCHO districts, as an *external* check of the model's
district predictions (issue 11, item 3: validation that cannot be tuned to; never fitted).

Source: the public repository ``tadhglooram93/Taliban-Takeover`` (a Harvard CS171 project,
commit 0d8a39e1f9f3f8c54caf924da93b645713d0465e), files ``data/cleaned/taliban_takeover.csv``
(district x snapshot date, 1 = "reported to be under taliban control", 0 = "not reported to be
under taliban control", built from scraped TOLOnews articles: ``documents/Data Description.pdf``)
and ``data/cleaned/combined.json`` (TopoJSON of the 329-district layout the names belong to).
The repository declares no licence; we copy only facts (a district's name and the dates of two
snapshots), with attribution, not its text or code.

Reading (an assumption, stated in ``docs/district_facts.md``): a district first reported under
Taliban control at snapshot ``d`` and not reported at the previous snapshot ``d0`` fell in
``(d0, d]``. That gives a ``captured`` fact with ``date_lower = d0 + 1 day`` and ``date_upper =
d``, and a ``held`` fact at the end of ``d0`` (absence of a report read as still held: the weak
part of the reading, which is why it is an external check and not a likelihood).

Mapping: names are unique keys in the source except seven (Fayzabad, Dawlatabad, Kohistan,
Muqur, Qarabagh, Arghandab, Reg: two districts each), which are dropped because the table cannot
say which one it means. Each remaining district is matched by name to the one AGCHO district of
its province (the source's provinces predate Panjsher and Daykundi) whose normalised name (or
alternative name) is at least 75% similar, or by the short list of spellings
``ALIASES``; none or two such districts: dropped. The match is
``high`` when the source polygon's centroid lies in that district, ``medium-high`` when it lies
in a neighbour (a 2004-2018 boundary change); dropped otherwise.

It also writes ``sim/data/tolonews_report_counts.csv``: at each snapshot, how many of the source's
districts had been reported under Taliban control (all of them, mapped or not), the tally the
calibration's lower bounds on the national count read (``calibration/targets.toml``).

Run: python tools/build_tolonews_reports.py --repo /path/to/Taliban-Takeover (a git directory or
a checkout; read at the pinned commit).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import difflib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from matplotlib.path import Path as PolygonPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.district_facts import FACT_COLUMNS, split_rule  # noqa: E402
from sim.geography import DATA_DIR, load_geography  # noqa: E402

COMMIT = "0d8a39e1f9f3f8c54caf924da93b645713d0465e"
REPO = "tadhglooram93/Taliban-Takeover"
#: The source's 2004-era provinces whose districts now lie in more than one province.
PROVINCES = {"Parwan": ("Parwan", "Panjsher"), "Uruzgan": ("Uruzgan", "Daykundi"),
             "Wardak": ("Maidan Wardak",), "Sari Pul": ("Sar-e-Pul",)}
#: Spellings the similarity rule misses, and districts AGCHO puts in another province (each the
#: same district under the AGCHO spelling; checked by the centroid like every match).
ALIASES = {"Archi": "AF1906", "Arghistan": "AF2708", "Kishim": "AF1715", "Ishkashim": "AF1723",
           "Ragh": "AF1714", "Murghab": "AF3105", "Kahmard": "AF1004", "Azra": "AF0507",
           "Nesh": "AF2712", "Kishindih": "AF2114"}
OUT = DATA_DIR / "district_reports_tolonews.csv"
COUNTS = DATA_DIR / "tolonews_report_counts.csv"
SOURCE = (f"TOLOnews reports as tabulated in github.com/{REPO} (commit {COMMIT[:7]}, "
          "data/cleaned/taliban_takeover.csv; no licence declared: facts only, with attribution)")


def _git_show(repo: Path, path: str) -> str:
    return subprocess.check_output(["git", "-C", str(repo), "show", f"{COMMIT}:{path}"],
                                   text=True)


def _norm(name: str) -> str:
    name = name.lower().replace("-e-", "").replace("-i-", "").replace("district", "")
    return re.sub(r"[^a-z]", "", name)


def _ring_centroid(ring: np.ndarray) -> tuple[float, float, float]:
    x, y = ring[:, 0], ring[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    area = cross.sum() / 2.0
    if abs(area) < 1e-12:
        return float(x.mean()), float(y.mean()), 0.0
    cx = ((x[:-1] + x[1:]) * cross).sum() / (6 * area)
    cy = ((y[:-1] + y[1:]) * cross).sum() / (6 * area)
    return float(cx), float(cy), abs(float(area))


def topo_centroids(topo: dict) -> dict[str, tuple[str, float, float]]:
    """{district name: (province, lon, lat)} from the TopoJSON (largest outer ring's centroid)."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        a = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([a[:, 0] * sx + tx, a[:, 1] * sy + ty]))

    def ring(indices):
        pts = []
        for i in indices:
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.append(a if not pts else a[1:])
        return np.vstack(pts)

    out = {}
    for g in topo["objects"]["districts"]["geometries"]:
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        best = max((_ring_centroid(ring(p[0])) for p in polys), key=lambda c: c[2])
        out.setdefault(g["id"], []).append((g["properties"]["province"], best[0], best[1]))
    return out


def agcho_paths(geojson: Path) -> dict[str, list[PolygonPath]]:
    fc = json.loads(geojson.read_text(encoding="utf-8"))
    out = {}
    for f in fc["features"]:
        g = f["geometry"]
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        out[f["properties"]["pcode"]] = [PolygonPath(np.asarray(p[0])) for p in polys]
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, required=True)
    args = ap.parse_args(argv)
    geo = load_geography()
    table = list(csv.DictReader(io.StringIO(_git_show(args.repo, "data/cleaned/taliban_takeover.csv"))))
    centres = topo_centroids(json.loads(_git_show(args.repo, "data/cleaned/combined.json")))
    paths = agcho_paths(DATA_DIR / "districts_agcho_2018_simplified.geojson")
    index = {p: i for i, p in enumerate(geo.pcodes)}
    with (DATA_DIR / "districts.csv").open(encoding="utf-8") as fh:
        alt_names = {r["pcode"]: [a.strip() for a in re.split(r"[;/]", r["name_alt"]) if a.strip()]
                     for r in csv.DictReader(fh)}

    # One split per district across both tables (facts about one district are not independent).
    with (DATA_DIR / "district_facts.csv").open(encoding="utf-8") as fh:
        split_of = {r["pcode"]: r["split"] for r in csv.DictReader(fh)}

    series: dict[str, list[tuple[dt.date, int]]] = {}
    for r in table:
        day = dt.datetime.strptime(r["date"], "%m/%d/%Y").date()
        series.setdefault(r["id"], []).append((day, int(r["taliban_control"])))

    pairs: dict[str, tuple[dt.date, list[dict]]] = {}     # pcode -> (first report, its two rows)
    dropped = []
    for name in sorted(series):
        s = sorted(series[name])
        if any(a[1] > b[1] for a, b in zip(s, s[1:])):
            dropped.append((name, "not monotone"))
            continue
        first = next((k for k, (_, c) in enumerate(s) if c == 1), None)
        if first is None:
            continue                      # never reported: says nothing either way
        if first == 0:
            dropped.append((name, "reported at the first snapshot: no lower bound"))
            continue
        if len(centres.get(name, [])) != 1:
            dropped.append((name, "name used by two districts of the source's layout"))
            continue
        province, lon, lat = centres[name][0]
        candidates = [j for j in range(len(geo.pcodes))
                      if geo.provinces[geo.province_index[j]].name in PROVINCES.get(province,
                                                                                    (province,))]
        if name in ALIASES:
            i = index[ALIASES[name]]
            ratio = difflib.SequenceMatcher(None, _norm(name), _norm(geo.names[i])).ratio()
        else:
            scored = sorted(((max(difflib.SequenceMatcher(None, _norm(name), _norm(o)).ratio()
                                  for o in [geo.names[j]] + alt_names.get(geo.pcodes[j], [])), j)
                             for j in candidates), reverse=True)
            if not scored or scored[0][0] < 0.75 or (len(scored) > 1 and scored[1][0] >= 0.75):
                dropped.append((name, "no single AGCHO district of that name in its province"))
                continue
            ratio, i = scored[0]
        pcode = geo.pcodes[i]
        around = {pcode} | {geo.pcodes[j] for j in geo.neighbours_of(i)}
        inside = {p for p, ps in paths.items() if any(pp.contains_point((lon, lat)) for pp in ps)}
        if not inside & around:
            dropped.append((name, f"matched {pcode} by name but its centroid lies elsewhere"))
            continue
        confidence = "high" if pcode in inside else "medium-high"
        d0, d1 = s[first - 1][0], s[first][0]
        common = {"pcode": pcode, "district": geo.names[i],
                  "province": geo.provinces[geo.province_index[i]].name,
                  "in_window": 1, "capital_district": int(geo.is_capital[i]),
                  "split": split_of.get(pcode, split_rule(pcode)),
                  "split_reason": ("as the seed's facts about this district" if pcode in split_of
                                   else "hash rule"),
                  "mapping_confidence": confidence, "source": SOURCE}
        note = (f"source name {name!r} ({province}) matched by name (similarity {ratio:.2f}); its "
                f"centroid {lon:.3f},{lat:.3f} lies in {', '.join(sorted(inside)) or 'none'}")
        quote = (f"{name}: taliban_control 0 at the {d0.isoformat()} snapshot, 1 at "
                 f"{d1.isoformat()}")
        pair = [{**common, "id": f"TN-{pcode}-held", "kind": "held",
                 "date_lower": d0.isoformat(), "date_upper": d0.isoformat(),
                 "date_precision": "day", "quote": quote,
                 "note": "not yet reported under Taliban control (read as held). " + note},
                {**common, "id": f"TN-{pcode}", "kind": "captured",
                 "date_lower": (d0 + dt.timedelta(days=1)).isoformat(),
                 "date_upper": d1.isoformat(), "date_precision": "period", "quote": quote,
                 "note": "first reported under Taliban control between two snapshots. " + note}]
        if pcode in pairs:        # two source names for one AGCHO district: the earlier report
            dropped.append((name, f"a second source name for {pcode}: kept the earlier report"))
            if pairs[pcode][0] <= d1:
                continue
        pairs[pcode] = (d1, pair)
    rows = [r for _, pair in pairs.values() for r in pair]      # in the source names' order
    # The national tally: how many of the source's districts (by name, mapped or not) had been
    # reported under Taliban control by each snapshot; a name the source uses twice counts once,
    # so the tally can only undercount.
    first_report = {name: min(d for d, c in s if c == 1) for name, s in series.items()
                    if any(c == 1 for _, c in s)}
    snapshots = sorted({d for s in series.values() for d, _ in s})
    with COUNTS.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["date", "districts_first_reported", "source"])
        for day in snapshots:
            w.writerow([day.isoformat(), sum(v <= day for v in first_report.values()), SOURCE])
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=FACT_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {COUNTS.relative_to(ROOT)}: {len(snapshots)} snapshots")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rows) // 2} districts "
          f"({sum(r['mapping_confidence'] == 'high' for r in rows) // 2} high confidence)")
    for name, why in dropped:
        print(f"  dropped {name}: {why}")


if __name__ == "__main__":
    main()
