"""The reporting layer: draws shared by replicates, the effect decomposition, the comparison's
files and columns, area effects, the sensitivity cache, progress lines, fall_times.npz."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

import sim
from sim.compare import compare, decompose, outcomes
from sim.theatre import AFGHANISTAN_2021

OUTCOMES = outcomes(AFGHANISTAN_2021)
from sim.ensemble import ParameterSource
from sim.parameters import BY_NAME, NAMES, defaults
from sim.randomness import replicate_generator

from conftest import BASELINE, SCENARIOS


# ---------------------------------------------------------------------- the decomposition

def _synthetic(rng, groups: int, m: int, sd_between: float, sd_within: float, mu: float = 2.0):
    g = np.arange(groups * m) // m
    b = rng.normal(0.0, sd_between, groups)
    return mu + b[g] + rng.normal(0.0, sd_within, len(g)), g


def test_decomposition_recovers_a_known_between_draw_spread():
    """400 draws x 10 replicates, between-draw sd 1.5, within-draw sd 4 (so the raw group means
    have sd 1.95, and their quantiles would overstate the spread by 30%). Tolerances: about
    three standard errors of each estimate at this size."""
    rng = np.random.default_rng(7)
    y, g = _synthetic(rng, 400, 10, 1.5, 4.0)
    e = decompose(y, g)
    assert e["draws"] == 400
    assert e["between_sd"] == pytest.approx(1.5, abs=0.25)
    assert e["within_sd"] == pytest.approx(4.0, abs=0.15)
    true_q = 2.0 + 1.6448536 * 1.5
    assert e["pred_q95"] == pytest.approx(true_q, abs=0.45)
    assert e["pred_q05"] == pytest.approx(4.0 - true_q, abs=0.45)
    # the raw per-group means are wider than the shrunken ones
    raw = np.bincount(g, weights=y) / 10
    assert np.quantile(raw, 0.95) - np.quantile(raw, 0.05) > e["pred_q95"] - e["pred_q05"]
    # Monte Carlo s.e. of the mean: sqrt((1.5^2 + 4^2 / 10) / 400) = 0.098
    assert e["mc_se"] == pytest.approx(0.098, rel=0.2)


def test_monte_carlo_error_is_calibrated_across_repetitions():
    """Over 300 repeated experiments the stated MC s.e. matches the spread of the means."""
    rng = np.random.default_rng(11)
    means, ses = [], []
    for _ in range(300):
        y, g = _synthetic(rng, 30, 5, 1.0, 2.0)
        e = decompose(y, g)
        means.append(e["mean"])
        ses.append(e["mc_se"])
    assert np.mean(ses) == pytest.approx(np.std(means, ddof=1), rel=0.15)


def test_no_between_draw_spread_gives_a_narrow_predictive_interval():
    rng = np.random.default_rng(3)
    y, g = _synthetic(rng, 200, 10, 0.0, 3.0)
    e = decompose(y, g)
    # the estimate of sigma_b^2 has sd ~ 3^2 sqrt(2/199) / 10 = 0.09 under no spread: three sd
    assert e["between_sd"] < np.sqrt(0.27)
    assert e["pred_q95"] - e["pred_q05"] < 0.3 * (e["replicate_q95"] - e["replicate_q05"])


def test_decomposition_with_unbalanced_or_singleton_groups():
    rng = np.random.default_rng(5)
    y, g = _synthetic(rng, 100, 10, 1.0, 1.0)
    e = decompose(y[:-3], g[:-3])            # the last group short, as when R is not a multiple of m
    assert e["draws"] == 100 and e["between_sd"] == pytest.approx(1.0, abs=0.3)
    single = decompose(y, np.arange(len(y)))
    assert np.isnan(single["between_sd"]) and np.isnan(single["pred_q05"])
    assert single["mc_se"] == pytest.approx(y.std(ddof=1) / np.sqrt(len(y)))
    fixed = decompose(y, g, between_zero=True)
    assert fixed["pred_q05"] == pytest.approx(fixed["mean"]) == fixed["pred_q95"]


# ---------------------------------------------------------------------- draw assignment

def _posterior(rows: int = 50) -> ParameterSource:
    rng = np.random.default_rng(0)
    base = np.array([defaults()[n] for n in NAMES])
    return ParameterSource.posterior(base * (1 + 0.01 * rng.random((rows, len(NAMES)))))


def test_replicates_of_a_group_share_a_draw_and_groups_do_not_depend_on_chunks():
    src = _posterior()
    picks = src.picks(5, range(100), 10)
    assert all(len(set(picks[a:a + 10])) == 1 for a in range(0, 100, 10))
    assert len(set(picks)) > 3
    assert np.array_equal(src.picks(5, range(37, 100), 10), picks[37:])
    # one replicate per draw is the historical rule, bit for bit
    cdf = np.cumsum(src.weights)
    old = [min(int(np.searchsorted(cdf, replicate_generator(5, k, 1).random(), side="right")),
               len(cdf) - 1) for k in range(100)]
    assert np.array_equal(src.picks(5, range(100), 1), old)


def test_a_run_with_shared_draws_is_the_same_whatever_the_chunks(geo):
    src = _posterior()
    a = sim.run(BASELINE, replicates=24, seed=2, parameters=src, geo=geo, replicates_per_draw=4,
                chunk_size=5)
    b = sim.run(BASELINE, replicates=24, seed=2, parameters=src, geo=geo, replicates_per_draw=4,
                chunk_size=24)
    np.testing.assert_array_equal(a.table.values, b.table.values)
    np.testing.assert_array_equal(a.fall_time, b.fall_time)
    assert a.manifest()["replicates_per_draw"] == 4
    with pytest.raises(sim.UserError if hasattr(sim, "UserError") else Exception):
        sim.run(BASELINE, replicates=4, geo=geo, replicates_per_draw=0)


# ---------------------------------------------------------------------- the comparison's files

@pytest.fixture(scope="module")
def written(tmp_path_factory, geo):
    comp = compare([BASELINE, SCENARIOS / "salaries_paid.toml", SCENARIOS / "southern_first.toml",
                    SCENARIOS / "air_support_sustained.toml"], replicates=40, seed=2, geo=geo,
                   replicates_per_draw=5)
    out = tmp_path_factory.mktemp("cmp") / "out"
    comp.write(out, plots=False)
    return comp, out


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_comparison_columns_are_snake_case_with_a_base_and_sorted_by_effect(written):
    comp, out = written
    rows = _csv(out / "comparison.csv")
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in rows[0])
    assert rows[0]["scenario"] == "baseline" and {r["base"] for r in rows} == {"baseline"}
    sizes = [abs(float(r["kabul_days_effect_mean"])) for r in rows[1:]]
    assert sizes == sorted(sizes, reverse=True)
    for key in OUTCOMES:
        for stat in ("mean", "mc_se", "pred_q05", "pred_q95", "between_draw_sd"):
            assert f"{key}_effect_{stat}" in rows[0]
    r = next(r for r in rows if r["scenario"] == "salaries_paid")
    e = comp.effect("salaries_paid", "kabul_days")
    assert float(r["kabul_days_effect_pred_q05"]) == pytest.approx(e["pred_q05"], abs=1e-3)
    assert float(r["kabul_days_effect_mc_se"]) == pytest.approx(e["mc_se"], abs=1e-3)
    effects = _csv(out / "effects.csv")
    for key in OUTCOMES:
        block = [abs(float(x["mean"])) for x in effects if x["outcome"] == key]
        assert len(block) == 3 and block == sorted(block, reverse=True)


def test_capitals_held_at_kabuls_fall_counts_what_fell_strictly_before(written, geo):
    comp, _ = written
    res = comp.results["salaries_paid"]
    ft = res.fall_time
    kab = np.where(np.isnan(ft[:, geo.kabul_row]), np.inf, ft[:, geo.kabul_row])
    others = [r for r in geo.capital_rows if r != geo.kabul_row]
    before = (np.where(np.isnan(ft[:, others]), np.inf, ft[:, others]) < kab[:, None]).sum(axis=1)
    np.testing.assert_array_equal(comp.outcome("salaries_paid", "capitals_held_at_kabul_fall"),
                                  len(others) - before)


def test_area_effects_cover_every_district_and_match_a_direct_computation(written, geo):
    comp, out = written
    for level, n_areas in (("province", 34), ("region", len(set(geo.region)))):
        rows = _csv(out / f"effects_by_{level}.csv")
        assert len(rows) == 3 * n_areas
        for name in ("salaries_paid", "southern_first"):
            mine = [r for r in rows if r["scenario"] == name]
            assert sum(int(r["districts"]) for r in mine) == geo.n
            shifts = [abs(float(r["district_median_shift_days"])) for r in mine]
            assert shifts == sorted(shifts, reverse=True)
    rows = _csv(out / "effects_by_province.csv")
    r = next(r for r in rows if r["scenario"] == "salaries_paid" and r["province"] == "Kandahar")
    prov = [i for i in range(geo.n) if geo.provinces[geo.province_index[i]].name == "Kandahar"]
    import datetime as dt
    dp = (comp.results["salaries_paid"].summary.p_fallen_by(dt.date(2021, 8, 15))
          - comp.base.summary.p_fallen_by(dt.date(2021, 8, 15)))[prov].mean()
    assert float(r["p_fallen_by_2021_08_15_diff"]) == pytest.approx(dp, abs=1e-4)


def test_several_structures_report_their_spread(geo):
    name = next(n for n in NAMES if n.startswith("b_") and defaults()[n] > 0)
    a = ParameterSource.fixed(label="a")
    b = ParameterSource.fixed({name: 2 * defaults()[name]}, label="b")
    comp = compare([BASELINE, SCENARIOS / "salaries_paid.toml"], replicates=20, seed=1, geo=geo,
                   parameters={"a": a, "b": b}, replicates_per_draw=5)
    assert comp.structure_names == ["a", "b"]
    e = comp.effect("salaries_paid", "kabul_days")
    means = [comp.effect("salaries_paid", "kabul_days", structure=s)["mean"] for s in "ab"]
    assert e["structure_min"] == pytest.approx(min(means))
    assert e["structure_max"] == pytest.approx(max(means))
    assert e["mean"] == pytest.approx(means[0])
    assert "kabul_days_effect_structure_max" in comp.table()[0]
    # effects_by_structure.csv: each headline effect under each structure, the primary's equal to
    # effects.csv's own mean, the other's to its structure mean
    rows = comp.effects_by_structure()
    headline = comp.headline
    assert len(rows) == len(headline) * 1 * 2
    kabul = {r["structure"]: r for r in rows if r["outcome"] == "kabul_days"}
    assert set(kabul) == {"a", "b"}
    assert kabul["a"]["mean"] == pytest.approx(means[0], abs=1e-3)
    assert kabul["b"]["mean"] == pytest.approx(means[1], abs=1e-3)
    assert kabul["b"]["pred_q05"] <= kabul["b"]["mean"] <= kabul["b"]["pred_q95"]
    # the censoring each structure's effect on Kabul carries, from its own runs
    for s in "ab":
        runs = comp.structures[s]
        base_holds = np.isnan(runs["baseline"].kabul_fall_time)
        either = base_holds | np.isnan(runs["salaries_paid"].kabul_fall_time)
        assert kabul[s]["baseline_kabul_held_share"] == pytest.approx(base_holds.mean(), abs=1e-4)
        assert kabul[s]["kabul_held_share"] == pytest.approx(either.mean(), abs=1e-4)
        assert kabul[s]["kabul_held_share"] >= kabul[s]["baseline_kabul_held_share"]
    assert any(r["kabul_held_share"] > 0 for r in kabul.values())     # not vacuous
    assert all(r["kabul_held_share"] == "" for r in rows if r["outcome"] != "kabul_days")
    from sim.report import _structures_table
    table = _structures_table(comp)           # the report's side-by-side table names both
    assert "<th>a</th><th>b</th>" in table and f"{means[1]:+.1f} [" in table
    one = compare([BASELINE, SCENARIOS / "salaries_paid.toml"], replicates=10, seed=1, geo=geo,
                  parameters=a, replicates_per_draw=5)
    assert one.effects_by_structure() == []
    assert _structures_table(one) == ""


# ---------------------------------------------------------------------- sensitivity cache

def test_the_sensitivity_cache_skips_recomputation_on_the_same_inputs(tmp_path, geo, monkeypatch):
    import importlib
    S = importlib.import_module("sim.sensitivity")    # sim.sensitivity is also a function
    from sim.scenario import load_scenario
    calls = []
    real = S.sensitivity

    def counting(*a, **k):
        calls.append(k.get("seed"))
        return real(*a, **k)

    monkeypatch.setattr(S, "sensitivity", counting)
    scen = load_scenario(BASELINE, geo)
    src = ParameterSource.fixed()
    params = tuple(p for p in S.calibrated_parameters() if BY_NAME[p].default > 0)[:2]
    kw = dict(source=src, parameters=params, n=8, replicates=2, geo=geo, cache_dir=tmp_path)
    first = S.cached_sensitivity(scen, seed=1, **kw)
    second = S.cached_sensitivity(scen, seed=1, **kw)
    assert len(calls) == 1 and "cache" in second.cache_note.lower()
    np.testing.assert_array_equal(first.total["kabul_day"], second.total["kabul_day"])
    S.cached_sensitivity(scen, seed=2, **kw)              # another input: computed again
    assert calls == [1, 2]
    assert len(list(tmp_path.glob("sensitivity-*.json"))) == 2


def test_default_sensitivity_parameters_come_from_the_source_not_from_the_code():
    from sim.sensitivity import default_parameters
    src = _posterior()            # every column with a non-zero default varies
    assert set(default_parameters(src)) == {n for n in NAMES if defaults()[n] != 0}
    rows = np.tile(np.array([defaults()[n] for n in NAMES]), (5, 1))
    rows[:, 3] *= np.linspace(1, 2, 5)
    assert default_parameters(ParameterSource.posterior(rows)) == (NAMES[3],)


# ---------------------------------------------------------------------- figures and report

def test_survival_chart_breaks_its_axis_when_a_scenario_holds_for_months(geo):
    from sim.plots import survival_chart, survival_window
    comp = compare([BASELINE, SCENARIOS / "salaries_paid.toml"], replicates=12, seed=1, geo=geo)
    lo, hi, broken = survival_window(comp)
    assert broken and hi < comp.base.model.horizon - 60   # the main panel leaves months out
    fig = survival_chart(comp)
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    # dates never touch: on every panel, consecutive tick labels are apart once drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels()
                        if t.get_visible() and t.get_text()), key=lambda b: b.x0)
        assert len(boxes) >= 2
        assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [t.get_text() for t in ax.get_xticklabels()]
    same = compare([BASELINE, SCENARIOS / "southern_first.toml"], replicates=12, seed=1, geo=geo)
    assert not survival_window(same)[2]


def test_report_has_the_structural_assumptions_and_sorted_effects(written, tmp_path):
    from sim.report import render_html, structural_assumptions_markdown
    comp, out = written
    html = render_html(comp, comp.table(), [], tmp_path, by_area={
        "region": comp.effects_by_area("region"), "province": comp.effects_by_area("province")})
    assert "<h2>Structural assumptions</h2>" in html
    bullet = next(line[2:] for line in structural_assumptions_markdown().splitlines()
                  if line.startswith("- "))
    assert bullet.split("**")[1] in html
    pos = [html.index(f"<tr><td>{n}</td>") for n in comp.whatifs()]
    assert pos == sorted(pos)
    assert "Effects by region and province" in html


def test_sobol_labels_are_the_parameters_meanings():
    from sim.plots import readable_name
    for p in NAMES[:10]:
        label = readable_name(p)
        assert len(label) <= 66 and label != p
        words = set(re.findall(r"[a-z]{5,}", BY_NAME[p].meaning.lower()))
        assert words & set(re.findall(r"[a-z]{5,}", label.lower()))


def test_dates_on_axes_are_one_line():
    import matplotlib.dates as mdates
    import datetime as dt
    from sim.plots import _date_label
    for d in (dt.datetime(2021, 8, 15), dt.datetime(2022, 1, 1)):
        assert "\n" not in _date_label(AFGHANISTAN_2021)(mdates.date2num(d))


# ---------------------------------------------------------------------- progress and npz

def test_progress_writes_whole_lines_when_stderr_is_not_a_terminal(capsys):
    from sim.progress import LineProgress, progress_bar
    bar = progress_bar(10, "stage", True, unit="step")
    assert isinstance(bar, LineProgress)                # pytest's captured stderr is no terminal
    buf = io.StringIO()
    bar = LineProgress(100, "stage", stream=buf, min_interval=0.0)
    for _ in range(100):
        bar.update(1)
    bar.close()
    text = buf.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert lines[0].startswith("stage: started") and lines[-1].startswith("stage: done 100/100")
    assert 3 <= len(lines) <= 12


def test_fall_times_npz_describes_itself(written, geo):
    _, out = written
    with np.load(out / "salaries_paid" / "fall_times.npz", allow_pickle=False) as z:
        readme = " ".join(z["README"])
        assert "2021-05-01" in readme and "fall_time[replicate, district]" in readme
        assert z["dates"][0] == "2021-05-01" and len(z["dates"]) == 245
        np.testing.assert_array_equal(z["draw_group"], np.arange(40) // 5)
        assert z["fall_time"].shape == (40, geo.n)


def test_the_capitals_charts_of_a_comparison_share_one_time_axis(written):
    from sim.plots import capitals_chart, capitals_day_range
    from sim.report import _shared_capitals_range
    comp, _ = written
    lo, hi = _shared_capitals_range(comp)
    spans = [capitals_day_range(r) for r in comp.results.values()]
    assert lo == min(a for a, _ in spans) and hi == max(b for _, b in spans)
    limits = {capitals_chart(r, day_range=(lo, hi)).axes[0].get_xlim() for r in comp.results.values()}
    assert len(limits) == 1


def test_sensitivity_outcomes_are_the_comparisons_headline_outcomes(geo):
    import datetime as dt
    from sim.model import Model
    from sim.randomness import draw_batch
    from sim.scenario import load_scenario
    from sim.sensitivity import OutcomeProblem
    day_of = AFGHANISTAN_2021.day_of
    R = 12
    scen = load_scenario(BASELINE, geo)
    vals = np.array([defaults()[n] for n in NAMES])
    model = Model.build(geo, scen.events, scen.focus_regions, scen.end)
    problem = OutcomeProblem(model, np.tile(vals, (R, 1)), draw_batch(3, range(R), geo.n),
                             np.array([0]), day_of(dt.date(2021, 8, 15)) + 1, geo.capital_rows,
                             geo.kabul_row)
    kabul, held = problem.evaluate(vals[:1][None, :])[0]
    res = sim.run(BASELINE, replicates=R, seed=3, parameters="fixed", geo=geo)
    assert held == pytest.approx(res.summary.caps_held_at_kabul.mean())
    assert kabul == pytest.approx(OUTCOMES["kabul_days"].per_replicate(res).mean())


def test_compare_cli_with_a_second_structure_reports_the_spread_across_structures(tmp_path):
    from sim.cli import main
    import csv
    # a second structure: the package's posterior with a decision that ignores the countryside
    # (assault_b_share = 0, the clock-like limit of the assault decision)
    root = BASELINE.parents[1]
    with (root / "sim" / "data" / "posterior.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["assault_b_share"] = "0.0"
    post = tmp_path / "withdrawal_only.csv"
    with post.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "cmp"
    code = main(["compare", str(BASELINE), str(SCENARIOS / "salaries_paid.toml"), "-n", "20",
                 "--replicates-per-draw", "5", "--workers", "1", "--no-plots", "--no-sensitivity",
                 "--quiet", "--structure", f"withdrawal_only={post}", "--out", str(out)])
    assert code == 0
    rows = _csv(out / "comparison.csv")
    r = rows[1]
    assert r["scenario"] == "salaries_paid" and r["replicates_per_draw"] == "5"
    lo, hi = float(r["kabul_days_effect_structure_min"]), float(r["kabul_days_effect_structure_max"])
    assert lo <= float(r["kabul_days_effect_mean"]) <= hi
    per = {row["structure"]: float(row["mean"]) for row in _csv(out / "effects_by_structure.csv")
           if row["outcome"] == "kabul_days" and row["scenario"] == "salaries_paid"}
    assert len(per) == 2 and "withdrawal_only" in per
    assert min(per.values()) == pytest.approx(lo, abs=1e-3)
    assert max(per.values()) == pytest.approx(hi, abs=1e-3)
    assert main(["compare", str(BASELINE), "--structure", "nameonly", "--out",
                 str(tmp_path / "x")]) == 2


def test_a_compare_scenario_folder_reproduces_with_its_replicates_per_draw(written):
    from sim.reproduce import reproduce
    _, out = written
    rep = reproduce(out / "salaries_paid")
    assert rep["match"], rep


def test_the_report_names_the_assumptions_that_decide_the_effects_when_sensitivity_does(written):
    from types import SimpleNamespace
    from sim.report import _decided_by, _effects_table
    comp, _ = written
    names = list(NAMES[:3])
    fake = SimpleNamespace(
        outcomes=("kabul_day",),
        rows=lambda: [{"parameter": n, "assumption": f"A{k + 1}: words"} for k, n in enumerate(names)],
        ranking=lambda outcome: [(names[2], 0.6), (names[0], 0.3), (names[1], 0.01)])
    comp.sensitivity = fake
    try:
        assert _decided_by(comp) == "A3: words; A1: words"        # by size; negligible ones left out
        assert "decided by" in _effects_table(comp) and "A3: words" in _effects_table(comp)
        fake.rows = lambda: [{"parameter": n} for n in names]     # no such column: nothing claimed
        assert _decided_by(comp) == "" and "decided by" not in _effects_table(comp)
    finally:
        comp.sensitivity = None


# ---------------------------------------------------------------------- conditioned what-ifs

def test_conditioned_effects_use_the_recorded_countryside_and_the_same_replicates(geo, tmp_path):
    """Statistical (fixed seeds, 300 replicates in draws of 10): the replicates the conditioning
    keeps must match the recorded counts better than chance would (their mean absolute error at
    21 July below that of every one of 200 uniform resamples within the same draws: a one-sided
    test at p < 0.005, whatever the posterior's spread), stay inside their draws, and every
    what-if's conditioned effect must be the paired difference on exactly those replicates."""
    from sim.compare import decompose
    from sim.conditioning import counts_at
    from sim.targets import load_targets
    from conftest import ROOT
    points = load_targets(ROOT / "calibration" / "targets.toml", geo).fitted_districts
    comp = compare([BASELINE, SCENARIOS / "salaries_paid.toml"], replicates=300, seed=4, geo=geo,
                   replicates_per_draw=10)
    c = comp.condition_on(points)
    assert np.array_equal(c.indices // 10, np.arange(300) // 10)
    july21 = [t for t in points if t.id == "milley_21_july"]
    counts = counts_at(comp.base.fall_time, tuple(july21), AFGHANISTAN_2021)[:, 0]
    conditioned = np.abs(counts[c.indices] - 199.5).mean()
    rng = np.random.default_rng(0)
    by_chance = [np.abs(counts[(np.arange(300) // 10) * 10 + rng.integers(10, size=300)]
                        - 199.5).mean() for _ in range(200)]
    assert conditioned < min(by_chance)
    e = comp.conditioned_effect("salaries_paid")
    diff = comp.kabul_day("salaries_paid") - comp.kabul_day(comp.baseline)
    assert e["mean"] == pytest.approx(diff[c.indices].mean())
    assert e["mean"] == pytest.approx(decompose(diff[c.indices], comp.groups[c.indices])["mean"])
    row = {r["scenario"]: r for r in comp.table()}["salaries_paid"]
    assert row["kabul_days_effect_conditioned_mean"] == pytest.approx(e["mean"], rel=1e-3)
    assert any("conditioned_mean" in r for r in comp.effects())
    comp.write(tmp_path / "out", plots=False)
    written = {r["scenario"]: r for r in _csv(tmp_path / "out" / "comparison.csv")}
    assert float(written["salaries_paid"]["kabul_days_effect_conditioned_mean"]) == pytest.approx(
        e["mean"], rel=1e-3)
    assert float(written["baseline"]["kabul_days_effect_conditioned_mean"]) == 0.0
    assert written["baseline"]["conditioned_kabul_fall_date_q50"]
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Conditioned on the recorded countryside" in html and "milley_21_july" in html


def test_conditioning_needs_draws_of_several_replicates(geo):
    from sim.errors import UserError
    from sim.targets import load_targets
    from conftest import ROOT
    points = load_targets(ROOT / "calibration" / "targets.toml", geo).fitted_districts
    comp = compare([BASELINE], replicates=8, seed=1, geo=geo, replicates_per_draw=1)
    with pytest.raises(UserError) as err:
        comp.condition_on(points)
    assert err.value.argument == "replicates_per_draw"
    with pytest.raises(UserError):
        comp.conditioned_effect("baseline")


def test_reliability_bins_find_a_calibrated_forecast_calibrated_and_a_confident_one_not():
    """Outcomes drawn with the predicted probabilities land inside their bins' 90% intervals
    (all six bins but at most one, 3,000 draws); a forecast that says 0.9 where the truth is 0.5
    is outside."""
    from sim.plots import reliability_bins
    rng = np.random.default_rng(12)
    p = rng.uniform(0.0, 1.0, 3000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    mid, share, lo, hi, n = reliability_bins(p, y, bins=6)
    assert n.sum() == p.size and len(mid) == 6
    assert np.all((lo <= share) & (share <= hi))
    assert np.sum((mid < lo) | (mid > hi)) <= 1
    y_half = (rng.uniform(size=p.size) < 0.5).astype(float)
    mid, share, lo, hi, n = reliability_bins(np.full(p.size, 0.9), y_half, bins=6)
    assert len(mid) == 1 and hi[0] < 0.9


def test_a_structure_with_its_own_baseline_runs_every_scenario_rebased_on_it(tmp_path, geo):
    """The structure's timeline reaches every scenario, and nothing else changes: with the same
    parameters, a baseline that only moves the arrears changes the baseline's replicates, while
    salaries_paid (which removes every arrears step) is bit for bit the primary structure's."""
    from conftest import write_moved_baseline
    moved = write_moved_baseline(tmp_path / "arrears_later.toml", "baseline",
                                 {"arrears_1_month": "2021-07-01", "arrears_2_months": "2021-08-01"})
    a, b = ParameterSource.fixed(label="a"), ParameterSource.fixed(label="b")
    comp = compare([BASELINE, SCENARIOS / "salaries_paid.toml"], replicates=20, seed=1, geo=geo,
                   parameters={"a": a, "b": b}, replicates_per_draw=5, baselines={"b": moved})
    A, B = comp.structures["a"], comp.structures["b"]
    same = lambda x, y: np.array_equal(x.fall_time, y.fall_time, equal_nan=True)
    assert same(A["salaries_paid"], B["salaries_paid"])
    assert not same(A["baseline"], B["baseline"])
    import datetime as dt
    arrears = [e.date for e in B["baseline"].scenario.events if e.driver == "pay_arrears"]
    assert arrears[:2] == [dt.date(2021, 7, 1), dt.date(2021, 8, 1)]
    from sim.report import _structures_table
    table = _structures_table(comp)     # the report marks the structure with its own timeline
    assert "<th>a</th><th>b *</th>" in table and "b: " in table and "arrears_later.toml" in table
    with pytest.raises(sim.errors.UserError, match="unknown structure"):
        compare([BASELINE], replicates=5, geo=geo, parameters={"a": a}, baselines={"c": moved})


def test_compare_cli_reads_a_structure_folder_with_its_baseline(tmp_path):
    from sim.cli import main
    import json
    import shutil
    root = BASELINE.parents[1]
    folder = tmp_path / "later"
    folder.mkdir()
    shutil.copy(root / "sim" / "data" / "posterior.csv", folder / "posterior.csv")
    (folder / "baseline.toml").write_text(
        (root / "calibration" / "structures" / "arrears_later" / "baseline.toml").read_text()
        .replace('base = "../../../scenarios/baseline.toml"', f'base = "{BASELINE.as_posix()}"'))
    out = tmp_path / "cmp"
    code = main(["compare", str(BASELINE), str(SCENARIOS / "salaries_paid.toml"), "-n", "10",
                 "--replicates-per-draw", "5", "--workers", "1", "--no-plots", "--no-sensitivity",
                 "--quiet", "--structure", f"later={folder}", "--out", str(out)])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["structure_baselines"]["later"][-1] == str(folder / "baseline.toml")
    assert manifest["structure_posteriors"]["later"]["path"] == str(folder / "posterior.csv")
    assert len(manifest["structure_posteriors"]["later"]["sha256"]) == 64
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["compare", str(BASELINE), "--structure", f"x={empty}", "--out",
                 str(tmp_path / "y")]) == 2
