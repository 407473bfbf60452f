"""Spatial covariates (covariates.csv): shipped values, derivations, and errors on bad cells."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from scipy.stats import spearmanr

from sim.errors import DataError
from sim.geography import COVARIATE_FIELDS, DATA_DIR, capital_ring_from_graph, load_geography

FILES = ("districts.csv", "borders.csv", "provinces.csv", "covariates.csv", "border_crossings.csv",
         "theatre.toml")


def test_each_covariate_is_an_n_float_array(geo):
    for name in COVARIATE_FIELDS:
        arr = getattr(geo, name)
        assert arr.shape == (geo.n,) and arr.dtype == float, name
        assert not arr.flags.writeable, name


def test_state_presence_is_standardised_and_does_not_saturate(geo):
    sp = geo.state_presence
    assert abs(sp.mean()) < 1e-6 and abs(sp.std() - 1) < 1e-6
    # reach piles up at its maximum (about 40% at >= 0.95); state presence must not
    assert (geo.reach >= 0.95).mean() > 0.3
    top = sp >= np.quantile(sp, 0.95) - 1e-12
    assert top.mean() < 0.1
    # ...and it ranks the districts reach cannot tell apart
    saturated = geo.reach >= 0.95
    assert np.unique(np.round(sp[saturated], 3)).size > 0.9 * saturated.sum()
    # it still measures the same thing as reach
    assert spearmanr(sp, geo.reach)[0] > 0.6


def test_state_presence_is_the_log_turnout_it_says(geo):
    t = geo.turnout_2019
    known = ~np.isnan(t)
    assert known.sum() == geo.n - 1                      # AF2116 has no IEC district
    z = np.log(t[known] + 0.01)
    # the same monotone transform of turnout: identical ranks, linear in log
    slope, intercept = np.polyfit(z, geo.state_presence[known], 1)
    np.testing.assert_allclose(slope * z + intercept, geo.state_presence[known], atol=1e-5)
    assert slope > 0


def test_flags_match_their_definitions(geo):
    for name in ("border_crossing", "capital_ring", "highway", "local_resistance"):
        assert set(np.unique(getattr(geo, name))) <= {0.0, 1.0}, name
    assert geo.border_crossing.sum() == 12
    assert geo.border_crossing[geo.index_of("AF0617")] == 1          # Torkham, Muhmand Dara
    np.testing.assert_array_equal(geo.capital_ring, capital_ring_from_graph(geo))
    assert not np.any(geo.capital_ring[geo.is_capital])
    assert geo.capital_ring[geo.index_of("AF2704")] == 1              # Panjwayi, next to Kandahar
    panjshir = geo.province_index == geo.province_by_name("Panjsher").index
    assert geo.local_resistance[panjshir].all()
    assert geo.local_resistance.sum() == panjshir.sum() + 2           # + Sayghan, Kahmard


def test_highways_form_one_connected_network_through_the_ring_capitals(geo):
    on = np.flatnonzero(geo.highway)
    for pcode in ("AF0101", "AF2701", "AF3201", "AF2101", "AF1101", "AF0901"):
        assert geo.highway[geo.index_of(pcode)] == 1, pcode
    for pcode in ("AF0617", "AF2711", "AF3213", "AF2116"):           # main crossings reached
        assert geo.highway[geo.index_of(pcode)] == 1, pcode
    assert geo.highway[geo.index_of("AF1728")] == 0                   # Wakhan: a pass, no highway
    # connected within the highway districts
    seen, stack = {on[0]}, [on[0]]
    while stack:
        i = stack.pop()
        for j in geo.neighbours_of(i):
            if geo.highway[j] and j not in seen:
                seen.add(j)
                stack.append(j)
    assert len(seen) == on.size
    assert 0.1 < on.size / geo.n < 0.35


# ----------------------------------------------------------------------------- broken files
def corrupt(tmp_path, name, edit):
    for f in FILES:
        shutil.copy(DATA_DIR / f, tmp_path / f)
    path = tmp_path / name
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows, fields = list(reader), reader.fieldnames
    edit(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return tmp_path


def _cell(column, value, row=9):
    def edit(rows):
        rows[row][column] = value
    return edit


@pytest.mark.parametrize("edit,column,needle", [
    (_cell("state_presence", "high"), "state_presence", "expected a number"),
    (_cell("state_presence", "nan"), "state_presence", "finite"),
    (_cell("highway", "2"), "highway", "0 or 1"),
    (_cell("turnout_2019", "1.5"), "turnout_2019", "outside [0, 1]"),
    (_cell("pcode", "AF9999"), "pcode", "unknown district code"),
    (_cell("border_crossing", "1"), "border_crossing", "border_crossings.csv"),
    (_cell("capital_ring", "1", row=0), "capital_ring", "neighbour graph"),
])
def test_a_bad_covariate_is_one_line_with_file_line_and_column(tmp_path, edit, column, needle):
    folder = corrupt(tmp_path, "covariates.csv", edit)
    with pytest.raises(DataError) as err:
        load_geography(folder)
    msg = str(err.value)
    assert needle in msg and "covariates.csv:" in msg and f"key '{column}'" in msg
    assert "\n" not in msg


def test_a_missing_district_row_is_named(tmp_path):
    folder = corrupt(tmp_path, "covariates.csv", lambda rows: rows.pop(5))
    with pytest.raises(DataError, match="no row for district"):
        load_geography(folder)
