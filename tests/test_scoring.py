"""The weighted interval score: proper, in the outcome's units, and read from forecast tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scoring import interval_score, score_forecast, summarise, weighted_interval_score


def test_a_point_forecast_scores_half_its_absolute_error_over_the_levels():
    q = {k: 10.0 for k in ("q05", "q25", "q50", "q75", "q95")}
    # intervals of zero width: each IS_a = 2/a |y - 10|, weighted a/2: |y - 10| each
    assert weighted_interval_score(q, 14.0) == pytest.approx((0.5 * 4 + 4 + 4) / 2.5)
    assert weighted_interval_score(q, 10.0) == 0.0


def test_interval_score_penalises_misses_by_two_over_alpha():
    assert interval_score(0.0, 2.0, 1.0, 0.1) == 2.0
    assert interval_score(0.0, 2.0, 3.0, 0.1) == pytest.approx(2.0 + 20.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(-5, 5))
def test_the_true_quantiles_beat_a_shifted_forecast_on_average(shift):
    """Propriety, checked statistically: for normal outcomes, the true quantiles have a lower mean
    WIS than the same quantiles shifted (tolerance: 2,000 outcomes, fixed seed)."""
    from scipy.stats import norm
    y = np.random.default_rng(0).normal(size=2000)
    true = {f"q{int(p * 100):02d}": norm.ppf(p) for p in (0.05, 0.25, 0.5, 0.75, 0.95)}
    moved = {k: v + shift for k, v in true.items()}
    a = np.mean([weighted_interval_score(true, v) for v in y])
    b = np.mean([weighted_interval_score(moved, v) for v in y])
    assert a <= b + 1e-9 if abs(shift) > 0.3 else a <= b + 0.02


def test_scores_a_forecast_folder_only_on_what_followed_the_cut_off(tmp_path):
    (tmp_path / "capitals.csv").write_text(
        "province,capital,pcode,p_fall,fall_date_q05,fall_date_q25,fall_date_q50,fall_date_q75,"
        "fall_date_q95,historical_fall_date,fall_day_mean\n"
        "A,Early,X1,1,2021-06-01,2021-06-02,2021-06-03,2021-06-04,2021-06-05,2021-06-03,33\n"
        "B,Late,X2,1,2021-08-10,2021-08-12,2021-08-14,2021-08-16,,2021-08-15,106\n"
        "C,Held,X3,0,,,,,,,\n")
    (tmp_path / "daily.csv").write_text(
        "date,fallen_q05,fallen_q25,fallen_q50,fallen_q75,fallen_q95,fallen_mean,capitals_fallen_q50\n"
        "2021-06-30,100,110,120,130,140,120,0\n2021-07-31,200,210,220,230,240,220,0\n")
    origin = dt.date(2021, 5, 1)
    s = score_forecast(tmp_path, dt.date(2021, 7, 1), origin, dt.date(2021, 12, 31),
                       {dt.date(2021, 6, 30): 157, dt.date(2021, 7, 31): 221})
    assert [x.outcome for x in s] == ["capital:Late", "districts:2021-07-31"]
    assert s[0].inside_90 and s[1].inside_90
    assert s[1].wis == pytest.approx(weighted_interval_score(
        {"q05": 200, "q25": 210, "q50": 220, "q75": 230, "q95": 240}, 221))
    summary = summarise(s)
    assert summary["capital"]["n"] == 1 and summary["districts"]["coverage_90"] == 1.0
