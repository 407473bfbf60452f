"""Build ``sim/data/covariates.csv`` and ``sim/data/district_facts.csv`` (re-runnable, deterministic).

Usage (from the repository root)::

    python tools/build_spatial_data.py --seed-facts PATH/seed_facts.py --seed PATH/seed.txt

``--seed-facts`` is the curated dataset's hand transcription of the seed article
(``shared/data/build/seed_facts.py``: its list ``DE`` of dated district events); ``--seed`` is the
seed article itself, used only to check that every quote is an exact substring of it. Both are
read at build time only; the package never reads outside itself at run time. Everything else
comes from the package's own tables (``sim/data``). Documentation: ``docs/covariates.md`` and
``docs/district_facts.md``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import math
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.district_facts import FACT_COLUMNS, WINDOW, split_rule  # noqa: E402
from sim.geography import (DATA_DIR, capital_ring_from_graph, great_circle_km,  # noqa: E402
                           geography_from_rows)

SEED_SOURCE = ("seed article '2021 Taliban offensive' (Wikipedia, CC BY-SA 4.0), "
               "shared/seeds/000_88b9748bfadf5faa.txt")

# ------------------------------------------------------------------------------ covariates
#: Floor added to the 2019 turnout before the log (1 percentage point): districts where the
#: IEC planned no station or none reported get log(0.01), below every observed turnout but one.
TURNOUT_FLOOR = 0.01

#: Ring road as consecutive waypoints (district pcodes). The provincial capitals on it, plus three
#: general-knowledge waypoints between Kandahar and Herat (Girishk in Nahr-e-Saraj, Delaram in
#: Khashrod, Shindand). ASSUMPTION: the route between waypoints is the shortest chain of
#: neighbouring districts by distance between their points (no road layer is shipped).
RING_ROAD = ("AF0101", "AF0401", "AF1101", "AF2601", "AF2701",      # Kabul-Maidan Shar-Ghazni-Qalat-Kandahar
             "AF3004", "AF3405", "AF3214", "AF3201",                # Girishk-Delaram-Shindand-Herat
             "AF3101", "AF2901", "AF2801", "AF2101",                # Qala-e-Naw-Maymana-Sheberghan-Mazar
             "AF2001", "AF0901", "AF0301", "AF0101")                # Aybak-Pul-e-Khumri-Charikar-Kabul
#: Crossings whose districts are not linked to the ring road: mountain passes, not highways.
CROSSINGS_OFF_HIGHWAY = ("Ishkashim", "Wakhjir Pass")

#: Local resistance named by the seed (pcode prefix or pcode -> quote).
LOCAL_RESISTANCE = {
    "AF08": ("With the fall of Kabul, former Northern Alliance members and other anti-Taliban "
             "forces based in Panjshir, led by Ahmad Massoud and former Vice President Amrullah "
             "Saleh, became the primary organized resistance to the Taliban in Afghanistan."),
    "AF1003": ("Pro-government forces gained victories in Bamyan Province, as local militias and "
               "the police retook the districts of Sayghan and Kahmard from the Taliban, and in "
               "Herat Province, where the government recaptured Karakh District."),
    "AF1004": ("Pro-government forces gained victories in Bamyan Province, as local militias and "
               "the police retook the districts of Sayghan and Kahmard from the Taliban, and in "
               "Herat Province, where the government recaptured Karakh District."),
}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict], columns) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _path(pred: np.ndarray, src: int, dst: int) -> list[int]:
    out = [dst]
    while out[-1] != src:
        prev = int(pred[out[-1]])
        if prev < 0:
            raise RuntimeError(f"no path {src} -> {dst}")
        out.append(prev)
    return out[::-1]


def build_covariates(geo, drows, crossings) -> list[dict]:
    n = geo.n
    idx = {p: i for i, p in enumerate(geo.pcodes)}
    # (a) state presence: 2019 turnout of registered voters, log-scaled and standardised
    turnout = np.full(n, np.nan)
    basis = [""] * n
    for i, r in enumerate(drows):
        planned = r["polling_stations_planned_2019"]
        if planned == "":
            basis[i] = "no IEC district (imputed: border-weighted mean of neighbours' log turnout)"
            continue
        if float(planned) == 0:
            turnout[i] = 0.0
            basis[i] = "no polling station planned (turnout 0)"
            continue
        votes = float(r["valid_votes_2019"] or 0)
        turnout[i] = votes / float(r["registered_voters_2019"])
        basis[i] = "valid votes / registered voters" if votes > 0 else "no votes reported (turnout 0)"
    log_t = np.log(turnout + TURNOUT_FLOOR)
    for i in np.flatnonzero(np.isnan(log_t)):
        nb = geo.neighbours_of(i)
        w = geo.nb_weight[geo.nb_indptr[i]:geo.nb_indptr[i + 1]]
        ok = ~np.isnan(log_t[nb])
        log_t[i] = float(np.sum(w[ok] * log_t[nb][ok]) / np.sum(w[ok]))
    presence = (log_t - log_t.mean()) / log_t.std()

    # (b) border crossing
    crossing = np.zeros(n, dtype=int)
    crossing_names = [""] * n
    for c in crossings:
        crossing[idx[c["pcode"]]] = 1
        crossing_names[idx[c["pcode"]]] = ";".join(filter(None, [crossing_names[idx[c["pcode"]]],
                                                                 c["crossing"]]))

    # (c) ring around the province's capital
    ring = capital_ring_from_graph(geo).astype(int)

    # (d) highways: shortest chains of neighbours between waypoints
    rows_i = np.repeat(np.arange(n), np.diff(geo.nb_indptr))
    cost = great_circle_km(geo.lon[rows_i], geo.lat[rows_i], geo.lon[geo.nb_indices],
                           geo.lat[geo.nb_indices])
    graph = csr_matrix((cost, geo.nb_indices, geo.nb_indptr), shape=(n, n))
    dist, pred = dijkstra(graph, directed=False, return_predecessors=True)
    highway = np.zeros(n, dtype=int)
    route = [set() for _ in range(n)]
    for a, b in zip(RING_ROAD[:-1], RING_ROAD[1:]):
        for k in _path(pred[idx[a]], idx[a], idx[b]):
            highway[k] = 1
            route[k].add("ring road")
    ring_nodes = np.flatnonzero(highway)
    for c in crossings:
        if c["crossing"] in CROSSINGS_OFF_HIGHWAY:
            continue
        dst = idx[c["pcode"]]
        src = int(ring_nodes[np.argmin(dist[ring_nodes, dst])])
        for k in _path(pred[src], src, dst):
            highway[k] = 1
            if k != src or not route[k]:
                route[k].add(f"to {c['crossing']}")

    # (e) local resistance named by the seed
    resistance = np.zeros(n, dtype=int)
    resistance_quote = [""] * n
    for key, quote in LOCAL_RESISTANCE.items():
        for i, p in enumerate(geo.pcodes):
            if p == key or (len(key) == 4 and p.startswith(key)):
                resistance[i] = 1
                resistance_quote[i] = quote

    out = []
    for i, p in enumerate(geo.pcodes):
        out.append({
            "pcode": p, "name": geo.names[i],
            "turnout_2019": "" if np.isnan(turnout[i]) else f"{turnout[i]:.10g}",
            "state_presence": f"{presence[i]:.6f}", "state_presence_basis": basis[i],
            "border_crossing": int(crossing[i]), "border_crossing_names": crossing_names[i],
            "capital_ring": int(ring[i]),
            "highway": int(highway[i]), "highway_route": ";".join(sorted(route[i])),
            "local_resistance": int(resistance[i]), "local_resistance_quote": resistance_quote[i],
        })
    return out


COVARIATE_COLUMNS = ("pcode", "name", "turnout_2019", "state_presence", "state_presence_basis",
                     "border_crossing", "border_crossing_names", "capital_ring", "highway",
                     "highway_route", "local_resistance", "local_resistance_quote")


# ------------------------------------------------------------------------------ facts
#: DE rows not used, and why.
DE_EXCLUDED = {
    "E04": "duplicate of E10 (Saydabad, dated 27 June within the same June)",
    "E05": "an attack (a massacre of surrendering commandos), not a change of control",
    "E06": "the Sher Khan Bandar crossing, kept as its crossing_captured row",
    "E18": "the Spin Boldak border post, kept as its crossing_captured row",
    "E33": "the Kandahar airport, not a district (its location in Daman is general knowledge)",
}

#: DE event type -> fact kind (site captures read as 'the district had fallen by that date').
DE_KIND = {"captured_by_taliban": "captured", "site_captured": "fell_by",
           "government_repelled_attack": "repelled", "government_held": "held",
           "retaken_by_government": "recaptured", "taliban_entry_route": "fell_by"}

PANJSHIR_HELD_QUOTE = ("On 17 August 2021, Afghan Vice President Amrullah Saleh declared himself "
                       "caretaker President of Afghanistan in Panjshir Valley.")
PANJSHIR_FELL_QUOTE = ("On 6 September, the Taliban took full control of the Panjshir province, "
                       "with resistance fighters retreating to the mountains to continue fighting "
                       "within the province.")


def build_facts(geo, DE, crossings, covariates, seed_text: str) -> list[dict]:
    idx = {p: i for i, p in enumerate(geo.pcodes)}
    forced = {r["pcode"] for r in covariates if r["local_resistance"] == 1}
    facts = []

    def add(fid, pcode, kind, lower, upper, precision, quote, source, confidence, note):
        if quote not in seed_text:
            raise SystemExit(f"{fid}: quote is not an exact substring of the seed: {quote[:60]!r}")
        i = idx[pcode]
        score = upper if kind in ("captured", "fell_by", "recaptured", "crossing_captured") else lower
        split = split_rule(pcode, pcode in forced)
        facts.append({
            "id": fid, "pcode": pcode, "district": geo.names[i],
            "province": geo.provinces[geo.province_index[i]].name, "kind": kind,
            "date_lower": lower, "date_upper": upper, "date_precision": precision,
            "in_window": int(WINDOW[0].isoformat() <= score <= WINDOW[1].isoformat()),
            "capital_district": int(geo.is_capital[i]), "split": split,
            "split_reason": ("forced fit: defines the local_resistance covariate"
                             if pcode in forced else "hash rule"),
            "mapping_confidence": confidence, "quote": quote, "source": source, "note": note})

    for (eid, start, end, precision, pcode, etype, quote, conf, mnote) in DE:
        if eid in DE_EXCLUDED:
            continue
        kind = DE_KIND[etype]
        src = f"{SEED_SOURCE}; seed_facts.py DE {eid}"
        if kind == "captured":
            lower, upper = start, (end or start)
        elif kind == "fell_by":
            lower, upper = "", (end or start)
        else:
            lower = upper = start
        note = mnote
        if etype == "site_captured":
            note = ("a site in the district was captured: read as the district had fallen by that "
                    "date. " + mnote).strip()
        if etype == "taliban_entry_route":
            note = ("the Taliban entered Kabul's outskirts through this district: read as fallen "
                    "by that date. " + mnote).strip()
        if eid == "E24":
            kind, lower, note = "fell_by", "", ("second capture after the 22 July recapture (E23); "
                                                "for a first-fall model it says 'fallen by 31 July'")
        add(f"DE-{eid}", pcode, kind, lower, upper, precision, quote, src, conf, note)
        if eid == "E20":        # "All surrounding districts save for Daman District had fallen"
            kandahar = idx["AF2701"]
            for j in geo.neighbours_of(kandahar):
                p = geo.pcodes[j]
                if p == pcode:
                    continue
                add(f"DE-{eid}-{p}", p, "fell_by", "", start, "as_of", quote, src, "medium",
                    "'All surrounding districts' read as the districts bordering Kandahar city "
                    "(AF2701) in the neighbour graph, save Daman")
        if eid == "E25":        # "the only area in Jowzjan Province which was still government-held"
            prov = geo.province_index[idx[pcode]]
            for j in np.flatnonzero(geo.province_index == prov):
                p = geo.pcodes[j]
                if p == pcode:
                    continue
                add(f"DE-{eid}-{p}", p, "fell_by", "", start, "as_of", quote, src, "medium",
                    "'the only area in Jowzjan Province which was still government-held' read as "
                    "every other Jowzjan district had fallen by 7 August")

    for c in crossings:
        add(f"CX-{c['crossing'].replace(' ', '_')}", c["pcode"], "crossing_captured",
            c["date_captured"], c["date_captured"], "day", c["seed_table_row"],
            f"{SEED_SOURCE}; border_crossings.csv (district assignment: {c['basis']})",
            c["confidence"],
            "a crossing captured is evidence its district had fallen by that date. "
            + (c["date_note"] or ""))

    for j in np.flatnonzero(geo.province_index == geo.province_by_name("Panjsher").index):
        p = geo.pcodes[j]
        add(f"PJ-held-{p}", p, "held", "2021-08-17", "2021-08-17", "day", PANJSHIR_HELD_QUOTE,
            f"{SEED_SOURCE}; section 'Aftermath'", "medium",
            "'Panjshir Valley' read as every district of Panjsher province")
        add(f"PJ-fell-{p}", p, "captured", "2021-08-18", "2021-09-06", "period",
            PANJSHIR_FELL_QUOTE, f"{SEED_SOURCE}; section 'Aftermath'", "medium",
            "fell after the 17 August stand (PJ-held) and by the 6 September full control")
    return facts


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed-facts", required=True, type=Path)
    ap.add_argument("--seed", required=True, type=Path)
    args = ap.parse_args(argv)
    spec = importlib.util.spec_from_file_location("seed_facts", args.seed_facts)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    seed_text = args.seed.read_text(encoding="utf-8")

    # the bare graph: this script writes the covariates the package's loader validates
    geo = geography_from_rows(_read(DATA_DIR / "districts.csv"), _read(DATA_DIR / "borders.csv"),
                              _read(DATA_DIR / "provinces.csv"))
    drows = _read(DATA_DIR / "districts.csv")
    crossings = _read(DATA_DIR / "border_crossings.csv")
    for c in crossings:
        if c["seed_table_row"] not in seed_text:
            raise SystemExit(f"crossing row not in the seed: {c['seed_table_row']!r}")
    cov = build_covariates(geo, drows, crossings)
    _write(DATA_DIR / "covariates.csv", cov, COVARIATE_COLUMNS)
    facts = build_facts(geo, mod.DE, crossings, cov, seed_text)
    _write(DATA_DIR / "district_facts.csv", facts, FACT_COLUMNS)
    print(f"covariates.csv: {len(cov)} rows; district_facts.csv: {len(facts)} facts")
    for s in ("fit", "holdout"):
        sub = [f for f in facts if f["split"] == s]
        print(s, len(sub), {k: sum(f["kind"] == k for f in sub)
                             for k in sorted({f["kind"] for f in facts})})


if __name__ == "__main__":
    main()
