"""Data integrity: the package's own tables, and clear errors when a table is broken."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from sim.errors import DataError
from sim.geography import DATA_DIR, load_geography
from sim.record import capital_falls, district_checkpoints


def test_the_package_data_is_the_agcho_district_set(geo):
    assert geo.n == 399
    assert geo.n_provinces == 34
    assert geo.nb_indices.size == 2 * 1085           # 1,085 neighbour pairs (data README)
    assert geo.is_capital.sum() == 34


def test_every_province_has_exactly_one_capital_matching_provinces_csv(geo):
    for prov in geo.provinces:
        caps = np.flatnonzero(geo.is_capital & (geo.province_index == prov.index))
        assert [geo.pcodes[i] for i in caps] == [prov.capital_pcode]


def test_neighbours_are_symmetric_known_and_weighted(geo):
    known = set(range(geo.n))
    for i in range(geo.n):
        for j in geo.neighbours_of(i):
            assert j in known and j != i
            assert i in geo.neighbours_of(j)
    sums = np.add.reduceat(geo.nb_weight, geo.nb_indptr[:-1])
    np.testing.assert_allclose(sums, 1.0)


def test_covariates_are_in_range(geo):
    assert np.all((geo.reach >= 0) & (geo.reach <= 1))
    assert geo.reach_imputed.sum() == 1                       # AF2116, no IEC district
    assert geo.pakistan_border.sum() == 46                    # data README: 46 on Pakistan
    assert geo.distance_to_kabul_km[geo.kabul_row] == 0
    assert 700 < geo.distance_to_kabul_km[geo.index_of("AF3401")] < 900   # Zaranj


def test_the_record_is_read_as_printed():
    cps = {c.id: c for c in district_checkpoints()}
    assert cps["start"].districts == 73 and cps["end_may"].districts == 88
    assert cps["end_june"].districts == 157 and cps["end_july"].districts == 221
    assert not cps["tolo_27_june"].consistent
    # "148 seized as of 12 July": 148 held in all, or 73 + 148 taken since 1 May
    seized = cps["seized_12_july"]
    assert (seized.low, seized.high) == (148, 221) and seized.consistent
    assert seized.low <= cps["end_june"].districts + 64 * 12 / 31 <= seized.high
    falls = capital_falls()
    assert len(falls) == 33
    assert min(f.fell_on for f in falls).isoformat() == "2021-08-06"
    assert max(f.fell_on for f in falls).isoformat() == "2021-08-15"


def corrupt(tmp_path, name, edit):
    for f in ("districts.csv", "borders.csv", "provinces.csv", "theatre.toml"):
        shutil.copy(DATA_DIR / f, tmp_path / f)
    path = tmp_path / name
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows, fields = list(reader), reader.fieldnames
    edit(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return tmp_path


def _drop_neighbour(rows):
    row = next(r for r in rows if r["pcode"] == "AF1728")        # Wakhan: only Eshkashem
    other = next(r for r in rows if r["pcode"] == "AF1723")
    other["neighbours"] = ";".join(c for c in other["neighbours"].split(";") if c != "AF1728")
    assert row["neighbours"] == "AF1723"


def _unknown_code(rows):
    rows[0]["neighbours"] += ";AF9999"


def _second_capital(rows):
    next(r for r in rows if r["pcode"] == "AF0102")["is_provincial_capital"] = "1"


@pytest.mark.parametrize("name,edit,needle", [
    ("districts.csv", _drop_neighbour, "not symmetric"),
    ("districts.csv", _unknown_code, "unknown neighbour"),
    ("districts.csv", _second_capital, "exactly one capital"),
])
def test_a_broken_table_is_refused_with_file_and_key(tmp_path, name, edit, needle):
    folder = corrupt(tmp_path, name, edit)
    with pytest.raises(DataError) as err:
        load_geography(folder)
    msg = str(err.value)
    assert needle in msg and "districts.csv" in msg and "key '" in msg
    assert "\n" not in msg


def test_a_missing_table_is_named(tmp_path):
    with pytest.raises(DataError, match="borders.csv: file not found"):
        for f in ("districts.csv", "theatre.toml"):
            shutil.copy(DATA_DIR / f, tmp_path / f)
        load_geography(tmp_path)
