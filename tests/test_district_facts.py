"""The district facts: the table as shipped, its split rule, and one-line errors for bad rows."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest

from sim.district_facts import (FACT_COLUMNS, FACTS_FILE, FALLEN_KINDS, KINDS, load_district_facts,
                                split_rule)
from sim.errors import DataError
from sim.theatre import AFGHANISTAN_2021

START = AFGHANISTAN_2021.start


@pytest.fixture(scope="module")
def facts(geo):
    return load_district_facts(geo=geo)


def test_every_fact_is_known_sourced_and_quoted(facts, geo):
    assert len(facts) >= 60
    for f in facts.facts:
        assert f.pcode in geo.pcodes and f.kind in KINDS
        assert "seed article" in f.source and len(f.quote) > 20
    # the arrays line up with the rows
    assert [geo.pcodes[r] for r in facts.row] == [f.pcode for f in facts.facts]
    assert list(facts.kind) == [f.kind for f in facts.facts]


def test_intervals_and_scoring_days_follow_the_observation_model(facts):
    for k, f in enumerate(facts.facts):
        assert facts.upper[k] == (f.date_upper - START).days
        if f.kind == "fell_by":
            assert facts.lower[k] == -np.inf
        else:
            assert facts.lower[k] <= facts.upper[k]
        if f.kind in FALLEN_KINDS:
            assert facts.outcome[k] == 1 and facts.score_day[k] == facts.upper[k] + 1
        else:
            assert facts.outcome[k] == 0 and facts.score_day[k] == facts.lower[k] + 1
    # a month-precision capture is the whole month
    nerkh = next(f for f in facts.facts if f.pcode == "AF0402")
    assert (nerkh.date_lower, nerkh.date_upper) == (dt.date(2021, 5, 1), dt.date(2021, 5, 31))
    mid = facts.midpoint[facts.ids.index(nerkh.id)]
    assert mid == pytest.approx(15.5)


def test_the_split_follows_the_stated_rule_and_spans_may_to_august(facts, geo):
    forced = {geo.pcodes[i] for i in np.flatnonzero(geo.local_resistance)}
    for f in facts.facts:
        assert f.split == split_rule(f.pcode, f.pcode in forced), f.id
    held_out = facts.select("holdout")
    assert 0.2 < len(held_out) / len(facts.select()) < 0.45
    for split in ("fit", "holdout"):
        months = {(START + dt.timedelta(days=int(u))).month
                  for u in facts.select(split).upper}
        assert {5, 6, 7, 8} <= months, (split, months)
    # the covariate-defining districts never sit in the held-out split
    assert not set(held_out.row) & set(np.flatnonzero(geo.local_resistance))


def test_select_filters_and_counts_add_up(facts):
    counts = facts.counts()
    assert sum(sum(c.values()) for c in counts.values()) == len(facts)
    caps = facts.select(kinds="captured")
    assert len(caps) == counts["fit"]["captured"] + counts["holdout"]["captured"]
    assert set(facts.select(capitals=False).capital) == {False}
    with pytest.raises(ValueError, match="unknown kind"):
        facts.select(kinds="sacked")


def test_the_crossings_are_all_there(facts):
    crossings = facts.select(kinds="crossing_captured", in_window=None)
    with (FACTS_FILE.parent / "border_crossings.csv").open(encoding="utf-8") as fh:
        expected = {(r["pcode"], r["date_captured"]) for r in csv.DictReader(fh)}
    assert {(f.pcode, f.date_upper.isoformat()) for f in crossings.facts} == expected


# ----------------------------------------------------------------------------- broken files
def _write_edited(tmp_path, edit):
    with FACTS_FILE.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    edit(rows)
    path = tmp_path / "district_facts.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(FACT_COLUMNS), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def _set(column, value, row=3):
    def edit(rows):
        rows[row][column] = value
    return edit


@pytest.mark.parametrize("edit,column,needle", [
    (_set("pcode", "AF9999"), "pcode", "unknown district code"),
    (_set("date_upper", "2021-13-01"), "date_upper", "ISO date"),
    (_set("date_lower", "2021-12-01"), "date_lower", "after date_upper"),
    (_set("kind", "sacked"), "kind", "unknown kind"),
    (_set("split", "test"), "split", "unknown split"),
    (_set("quote", ""), "quote", "empty"),
    (_set("in_window", "0"), "in_window", "inside"),
    (_set("district", "Kabul"), "district", "not the name"),
])
def test_a_bad_cell_is_one_line_naming_file_line_and_column(tmp_path, geo, edit, column, needle):
    path = _write_edited(tmp_path, edit)
    with pytest.raises(DataError) as err:
        load_district_facts(path, geo)
    msg = str(err.value)
    assert needle in msg and f"district_facts.csv:5" in msg and f"key '{column}'" in msg
    assert "\n" not in msg


def test_a_district_split_across_fit_and_holdout_is_refused(tmp_path, geo):
    def edit(rows):
        karukh = [r for r in rows if r["pcode"] == "AF3204"]
        assert len(karukh) >= 2
        karukh[0]["split"] = "holdout" if karukh[1]["split"] == "fit" else "fit"
    with pytest.raises(DataError, match="both splits"):
        load_district_facts(_write_edited(tmp_path, edit), geo)


def test_a_missing_file_is_named(tmp_path, geo):
    with pytest.raises(DataError, match="file not found"):
        load_district_facts(tmp_path / "nope.csv", geo)
