"""The second source of district capture dates (TOLOnews' first reports, issue 11): the table as
shipped, how it joins the seed's facts, the targets key that fits it, and the external check."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sim.calibration_output import external_district_validation
from sim.district_facts import (FACTS_FILE, REPORTS_FILE, DistrictFacts, load_district_facts,
                                split_rule)
from sim.errors import DataError, UserError
from sim.likelihood import _fact_fields
from sim.targets import load_targets
from tests.conftest import ROOT, load_script

START = dt.date(2021, 5, 1)


@pytest.fixture(scope="module")
def reports(geo):
    return load_district_facts(REPORTS_FILE, geo=geo)


@pytest.fixture(scope="module")
def seed_facts(geo):
    return load_district_facts(FACTS_FILE, geo=geo)


def test_each_reported_district_is_one_hold_then_one_capture_between_snapshots(reports):
    by_pcode: dict[str, dict[str, object]] = {}
    for f in reports.facts:
        assert "Taliban-Takeover" in f.source and "0d8a39e" in f.source, f.id
        assert f.kind in ("held", "captured") and f.mapping_confidence in ("high", "medium-high")
        by_pcode.setdefault(f.pcode, {})[f.kind] = f
    assert len(by_pcode) >= 120
    for pcode, pair in by_pcode.items():
        held, captured = pair["held"], pair["captured"]
        # held at the end of the snapshot before, fallen by the end of the first report
        assert held.date_lower == held.date_upper == captured.date_lower - dt.timedelta(days=1)
        assert START <= held.date_lower < captured.date_upper <= dt.date(2021, 8, 16)
        assert held.split == captured.split and held.quote == captured.quote


def test_a_district_keeps_one_split_across_both_sources(reports, seed_facts, geo):
    seed_split = {f.pcode: f.split for f in seed_facts.facts}
    for f in reports.facts:
        assert f.split == seed_split.get(f.pcode, split_rule(f.pcode)), f.id
    both = DistrictFacts.concatenate([seed_facts, reports])
    assert len(both) == len(seed_facts) + len(reports)
    assert list(both.row) == list(seed_facts.row) + list(reports.row)
    held_out = np.mean(reports.select("holdout").kind == "captured")
    assert 0.45 < held_out < 0.55            # pairs: one hold, one capture each
    assert 0.25 < len(reports.select("holdout")) / len(reports) < 0.45


def test_joining_tables_refuses_a_repeated_id_or_a_district_on_both_sides(seed_facts, geo):
    with pytest.raises(DataError, match="more than one table"):
        DistrictFacts.concatenate([seed_facts, seed_facts])
    k = int(np.flatnonzero(seed_facts.split == "fit")[0])
    other = DistrictFacts.from_arrays([seed_facts.row[k]], [10.0], [20.0], "captured",
                                      split="holdout", geo=geo)
    with pytest.raises(DataError, match="both splits"):
        DistrictFacts.concatenate([seed_facts, other])


def _targets_with(tmp_path, geo, files_line: str):
    text = (ROOT / "calibration" / "targets.toml").read_text(encoding="utf-8")
    anchor = '[district_facts]\nsplit = "fit"\n'
    assert anchor in text
    path = tmp_path / "targets.toml"
    path.write_text(text.replace(anchor, anchor + files_line + "\n"), encoding="utf-8")
    return load_targets(path, geo)


def test_the_targets_fit_the_reports_only_when_they_list_them(tmp_path, geo, reports):
    default = load_targets(ROOT / "calibration" / "targets.toml", geo)
    assert default.facts.files == ("district_facts.csv",)
    both = _targets_with(tmp_path, geo,
                         'files = ["district_facts.csv", "district_reports_tolonews.csv"]')
    n0 = len(_fact_fields(default, geo)["fact_rows"])
    fields = _fact_fields(both, geo)
    latest = geo.theatre.day_of(both.facts.latest) + 1.0
    added = reports.select("fit", capitals=False)
    added = added.subset(np.flatnonzero(added.score_day <= latest))
    assert len(fields["fact_rows"]) == n0 + len(added) > n0 + 100
    assert fields["fact_held"].sum() >= np.sum(added.kind == "held")
    # the held-out third never enters the likelihood
    held_out_rows = set(reports.select("holdout").row.tolist())
    assert held_out_rows.isdisjoint(fields["fact_rows"][n0:].tolist())


def test_the_targets_can_fit_statuses_at_fixed_dates(tmp_path, geo, reports):
    """at_fixed_dates: the likelihood sees each fit-split district's statuses at the fixed dates
    (held or fallen by the end of each), never a fact's own one-day interval, and reads them as
    the one interval they leave its fall time: one term per district, between two fixed dates."""
    from sim.district_skill import STATUS_DATES
    t = _targets_with(tmp_path, geo, 'files = ["district_facts.csv", '
                      '"district_reports_tolonews.csv"]\nat_fixed_dates = true')
    assert t.facts.at_fixed_dates
    fields = _fact_fields(t, geo)
    ends = {geo.theatre.day_of(d) + 1.0 for d in STATUS_DATES}
    assert set(fields["fact_hi"].tolist()) <= ends
    assert set(fields["fact_lo"][np.isfinite(fields["fact_lo"])].tolist()) <= ends
    assert len(set(fields["fact_rows"].tolist())) == len(fields["fact_rows"])    # once each
    interval = ~fields["fact_held"]
    assert np.all(fields["fact_lo"][interval] < fields["fact_hi"][interval])
    assert np.all(np.isneginf(fields["fact_lo"][fields["fact_held"]]))
    # the statuses a district's facts imply are exactly what its interval says
    statuses = DistrictFacts.concatenate([load_district_facts(geo=geo), reports]).select(
        split="fit", in_window=True, capitals=False).status_on(STATUS_DATES)
    k = int(np.flatnonzero(interval & np.isfinite(fields["fact_lo"]))[0])
    mine = statuses.row == fields["fact_rows"][k]
    fallen_by = statuses.score_day[mine & (statuses.outcome == 1)]
    held_at = statuses.score_day[mine & (statuses.outcome == 0)]
    assert fields["fact_lo"][k] == held_at.max() and fields["fact_hi"][k] == fallen_by.min()
    fit_rows = set(reports.select("fit").row.tolist())
    assert set(fields["fact_rows"].tolist()) & fit_rows
    assert set(reports.select("holdout").row.tolist()).isdisjoint(fields["fact_rows"].tolist())
    with pytest.raises(UserError) as err:
        _targets_with(tmp_path, geo, 'at_fixed_dates = "yes"')
    assert "district_facts.at_fixed_dates" in str(err.value) and "true or false" in str(err.value)


def test_reported_districts_are_read_given_that_they_were_reported(tmp_path, geo, reports):
    """reported_only: each fitted district of a source that lists only what it reported taken
    adds one division by P(listed) = P(fell between the source's first snapshot and its last
    report), once per district, and the term is the one the docs write."""
    from scipy.special import ndtr

    from sim.likelihood import Likelihood
    both = 'files = ["district_facts.csv", "district_reports_tolonews.csv"]\nat_fixed_dates = true'
    plain = _targets_with(tmp_path, geo, both)
    selected = _targets_with(tmp_path, geo, both + '\nreported_only = ["district_reports_tolonews.csv"]')
    assert selected.facts.reported_only == ("district_reports_tolonews.csv",)
    f0, f1 = _fact_fields(plain, geo), _fact_fields(selected, geo)
    n = len(f0["fact_rows"])
    np.testing.assert_array_equal(f1["fact_rows"][:n], f0["fact_rows"])
    extra = f1["fact_rows"][n:]
    assert np.all(f1["fact_sign"][:n] == 1) and np.all(f1["fact_sign"][n:] == -1)
    assert set(extra.tolist()) == set(f0["fact_rows"].tolist()) & set(reports.row.tolist())
    assert len(extra) == len(set(extra.tolist())) > 50                 # once per district
    last = float(reports.upper.max()) + 1.0
    assert np.all(f1["fact_hi"][n:] == last) and not f1["fact_held"][n:].any()
    # the term, by hand, on made-up fall times
    lik = Likelihood.build(selected, geo)
    t = np.random.default_rng(2).uniform(0.0, 150.0, size=(1, 40, len(f1["fact_rows"])))
    h = lik.fact_bandwidth
    by = ndtr((lik.fact_hi - t) / h)
    after = np.nan_to_num(ndtr((lik.fact_lo - t) / h), nan=0.0)
    p = np.where(lik.fact_held, 1.0 - by, by - after).mean(axis=1)
    logp = np.log(np.maximum(p, lik.floor)) * lik.fact_sign
    for j in np.flatnonzero(lik.fact_pair >= 0):       # a district's interval over its selection
        k = lik.fact_pair[j]
        logp[:, k] = np.log(max(p[0, k] / p[0, j], lik.floor)) if p[0, j] > 0 else np.log(lik.floor)
        logp[:, j] = 0.0
    want = (logp * lik.fact_w).sum(axis=1)
    np.testing.assert_allclose(lik._facts(t), want, rtol=1e-12)
    assert np.array_equal(np.flatnonzero(lik.fact_pair >= 0), np.flatnonzero(lik.fact_sign < 0))
    with pytest.raises(UserError) as err:
        _targets_with(tmp_path, geo, 'reported_only = ["district_reports_tolonews.csv"]')
    assert "district_facts.reported_only" in str(err.value)
    # as of a cut-off the source had listed only the districts reported by its eve: the others'
    # earlier facts would be news from after it, and the selection ends at the cut-off
    cutoff = dt.date(2021, 7, 1)
    forecast = _fact_fields(selected.as_of(cutoff), geo)
    cut = geo.theatre.day_of(cutoff)
    reported_by = set(reports.row[(reports.kind == "captured")
                                  & (reports.upper + 1.0 <= cut)].tolist())
    sel = forecast["fact_sign"] < 0
    assert set(forecast["fact_rows"][sel].tolist()) <= reported_by
    assert np.all(forecast["fact_hi"][sel] == cut)
    later = set(reports.row.tolist()) - reported_by - set(
        load_district_facts(geo=geo).row.tolist())        # not also in the seed's table
    assert later and later.isdisjoint(forecast["fact_rows"].tolist())
    assert np.all(forecast["fact_hi"][~sel] <= cut)


@pytest.mark.parametrize("cutoff", [None, dt.date(2021, 6, 23), dt.date(2021, 7, 21)])
def test_a_selected_district_is_read_as_a_conditional_probability(tmp_path, geo, cutoff):
    """Read given its selection, each listed district's term is P(its facts and fell between the
    series' first snapshot and its last report) / P(fell between them): a probability, so never
    above 1 whatever the fall times. Before the numerator held the selection, a district
    reported after its last fixed date gave P(held then) / P(fell by the report), which passes 1
    when the countryside does not fall, and the fit froze the 23 June forecast's countryside (92
    districts on 30 June against the record's 157)."""
    from scipy.special import ndtr

    from sim.likelihood import Likelihood
    t = _targets_with(tmp_path, geo, 'files = ["district_facts.csv", '
                      '"district_reports_tolonews.csv"]\nat_fixed_dates = true\n'
                      'reported_only = ["district_reports_tolonews.csv"]')
    if cutoff is not None:
        t = t.as_of(cutoff)
    lik = Likelihood.build(t, geo)
    sel = lik.fact_sign < 0
    assert sel.sum() > 20
    # only a fall after the series' first snapshot (11 May 2021) can be listed
    first = geo.theatre.day_of(dt.date(2021, 5, 11)) + 1.0
    rng = np.random.default_rng(5)
    for scale in (5.0, 60.0, 400.0, 5000.0):          # from a collapse in days to none at all
        fall = rng.exponential(scale, size=(1, 30, geo.n))
        t_f = fall[:, :, lik.fact_rows]
        h = lik.fact_bandwidth
        by = ndtr((lik.fact_hi - t_f) / h)
        after = np.nan_to_num(ndtr((lik.fact_lo - t_f) / h), nan=0.0)
        p = np.where(lik.fact_held, 1.0 - by, by - after).mean(axis=1)[0]
        for r in np.unique(lik.fact_rows[sel]):
            num = (lik.fact_rows == r) & ~sel
            den = (lik.fact_rows == r) & sel
            assert num.sum() == 1 and den.sum() == 1
            assert not lik.fact_held[num][0] and lik.fact_hi[num][0] <= lik.fact_hi[den][0]
            assert lik.fact_lo[num][0] >= lik.fact_lo[den][0] == first
            assert p[num][0] <= p[den][0] + 1e-12, (scale, r)


def test_a_countryside_that_never_falls_cannot_win_the_selected_districts(tmp_path, geo):
    """A listed district's term is its interval's probability over its selection's, floored as
    one ratio. Floored apart, a run in which no district ever falls scored log(floor) -
    log(floor) = 0 on every listed district, the best score there is, and a forecast as of
    23 June fitted that way froze its countryside at the 73 districts of 1 May (the record's 88
    by 31 May was known). Now such a run scores the floor on each; a run whose falls sit inside
    the listed intervals scores near 0."""
    from sim.likelihood import Likelihood
    t = _targets_with(tmp_path, geo, 'files = ["district_facts.csv", '
                      '"district_reports_tolonews.csv"]\nat_fixed_dates = true\n'
                      'reported_only = ["district_reports_tolonews.csv"]').as_of(dt.date(2021, 6, 23))
    lik = Likelihood.build(t, geo)
    pairs = np.flatnonzero(lik.fact_pair >= 0)
    assert pairs.size > 20
    never = np.full((1, 10, lik.fact_rows.size), np.inf)
    inside = np.where(np.isfinite(lik.fact_lo), lik.fact_lo, 0.0) + 0.5 * (
        lik.fact_hi - np.where(np.isfinite(lik.fact_lo), lik.fact_lo, 0.0))
    inside = np.broadcast_to(inside, (1, 10, lik.fact_rows.size)).copy()
    # every listed district at the floor (other facts can only lower the sum further)
    assert lik._facts(never)[0] <= pairs.size * lik.fact_w * np.log(lik.floor) + 1e-9
    assert lik._facts(inside)[0] > lik._facts(never)[0] + pairs.size  # far better


def test_a_later_fact_cannot_leak_into_a_forecast_at_fixed_dates(tmp_path, geo, monkeypatch):
    """As of a cut-off the statuses come only from facts known by its eve. Fitted as statuses at
    fixed dates, a capture reported in July implies that its district held on 1 and 15 June,
    which a forecast made on 23 June could not know. Removing every fact dated on or after the
    cut-off from the tables must leave the forecast's facts unchanged, and the tables do hold
    such facts (so this fails if they leak in)."""
    import sim.district_facts as dfm
    targets = _targets_with(tmp_path, geo, 'files = ["district_facts.csv", '
                            '"district_reports_tolonews.csv"]\nat_fixed_dates = true\n'
                            'reported_only = ["district_reports_tolonews.csv"]')
    real = dfm.load_district_facts
    for cutoff in (dt.date(2021, 6, 23), dt.date(2021, 7, 21)):
        cut = geo.theatre.day_of(cutoff)
        everything = _fact_fields(targets.as_of(cutoff), geo)

        def known_only(path, geo=None, _cut=cut):
            t = real(path, geo=geo)
            later = t.upper + 1.0 > _cut
            assert later.any()                  # the tables do carry later news
            return t.subset(np.flatnonzero(~later))

        monkeypatch.setattr(dfm, "load_district_facts", known_only)
        known = _fact_fields(targets.as_of(cutoff), geo)
        monkeypatch.setattr(dfm, "load_district_facts", real)
        for key in ("fact_rows", "fact_lo", "fact_hi", "fact_held", "fact_sign"):
            np.testing.assert_array_equal(everything[key], known[key], err_msg=key)
        assert np.all(everything["fact_hi"] <= cut)


@pytest.mark.parametrize("line,needle", [
    ('files = "district_facts.csv"', "list of file names"),
    ("files = []", "list of file names"),
    ('files = ["district_facts.csv", ""]', "list of file names"),
    ('files = ["no_such_table.csv"]', "no facts table 'no_such_table.csv'"),
    ('files = ["../targets.toml"]', "not a plain file name"),
    ('files = ["/etc/hostname"]', "not a plain file name"),
    ('files = ["district_facts.csv", "district_facts.csv"]', "listed twice"),
])
def test_a_bad_files_key_is_one_line_naming_it(tmp_path, geo, line, needle):
    with pytest.raises(UserError) as err:
        _targets_with(tmp_path, geo, line)
    msg = str(err.value)
    assert needle in msg and "district_facts.files" in msg and "targets.toml" in msg
    assert "\n" not in msg


def test_the_external_check_rewards_the_reported_order_and_punishes_its_reverse(reports, geo):
    """A run whose rural districts fall exactly inside their reported intervals scores far above
    the national-share null; one that reverses the order scores below it."""
    captured = reports.select(kinds="captured", capitals=False)
    rng = np.random.default_rng(3)
    n_rep = 40
    base = rng.uniform(0, 110, size=(n_rep, geo.n))
    truth = base.copy()
    mid = 0.5 * (captured.lower + captured.upper + 1.0)
    truth[:, captured.row] = mid[None, :]
    reverse = base.copy()
    reverse[:, captured.row] = (mid.max() + mid.min() - mid)[None, :]
    good = external_district_validation(truth, geo)
    bad = external_district_validation(reverse, geo)
    assert good["source"] == REPORTS_FILE.name
    for split in ("holdout", "fit", "all"):
        assert good[split]["skill"]["value"] > 0.5
        assert good[split]["spearman"]["value"] > 0.95
        assert bad[split]["spearman"]["value"] < -0.5
        assert bad[split]["skill"]["value"] < good[split]["skill"]["value"]
    n_all = good["all"]["n_facts"]
    assert n_all == good["holdout"]["n_facts"] + good["fit"]["n_facts"]
    assert n_all == 2 * good["all"]["n_dated"] == 2 * len(captured)


def test_the_national_tally_bounds_the_targets_and_counts_every_mapped_report(reports, geo):
    """tolonews_report_counts.csv: cumulative, never below the mapped reports by the same day, and
    the tried structure's lower bounds are 73 (history.csv H05) plus its value on their date."""
    import csv as _csv
    from sim.district_facts import DATA_DIR
    with (DATA_DIR / "tolonews_report_counts.csv").open(encoding="utf-8") as fh:
        tally = {dt.date.fromisoformat(r["date"]): int(r["districts_first_reported"])
                 for r in _csv.DictReader(fh)}
    days = sorted(tally)
    assert all(tally[a] <= tally[b] for a, b in zip(days, days[1:]))
    captured = reports.select(kinds="captured", in_window=None)
    for day in days:
        mapped = sum(f.date_upper <= day for f in captured.facts)
        assert tally[day] >= mapped, day
    targets = load_targets(ROOT / "calibration" / "structures" / "tolonews_tally" / "targets.toml",
                           geo)
    bounds = [t for t in targets.districts if t.id.startswith("tolonews_tally_")]
    assert len(bounds) == 4
    for t in bounds:
        assert t.is_range and t.high == geo.n
        assert t.low == 73 + tally[t.date], t.id


@pytest.mark.slow   # a committed script's output rerun (10-16 s): CI's slow run checks it
def test_the_committed_external_check_is_what_the_script_computes(tmp_path):
    """calibration/external_check.py rebuilds the default's predictive ensemble (it refuses to go
    on unless the fit report's held-out skill is reproduced) and gets the committed numbers."""
    import json
    script = load_script("calibration/external_check.py")
    out = script.check(ROOT / "calibration" / "default", tmp_path)
    committed = json.loads((ROOT / "calibration" / "default" / "external_check.json").read_text())
    assert (tmp_path / "plots" / "external_check_map.png").stat().st_size > 50_000
    for split in ("holdout", "fit", "all"):
        assert out[split]["n_facts"] == committed[split]["n_facts"]
        for stat in ("skill", "spearman", "brier_model", "brier_null"):
            assert out[split][stat]["value"] == pytest.approx(committed[split][stat]["value"],
                                                              rel=1e-9, abs=1e-12)
    # the districts fallen by the offensive's last day, against the record's range (H05 + H01 to
    # H05 + H01 + H02 of history.csv: 73 + 232 = 305 to 399), never fitted
    count = out["count_by_end_of_offensive"]
    assert count == committed["count_by_end_of_offensive"]
    assert (count["record_low"], count["record_high"], count["date"]) == (305.0, 399.0, "2021-08-15")
    assert count["q05"] <= count["q50"] <= count["q95"]
    assert 0.0 <= count["p_inside_record_range"] + count["p_below_record_range"] <= 1.0
    with pytest.raises(UserError, match="no fit_report.json"):
        script.check(tmp_path)
