"""Scoped pay arrears and mobilization (issue 14 item 6): "pay restored in the north only" or
"mobilization in Bamyan and Panjshir only" can be written, both engines agree on it, a scope that
covers everything is the national event, and the effect lands where the scope says."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import batch
from sim.batch import run_batch
from sim.engine import run_replicate
from sim.errors import UserError
from sim.model import NEGOTIATED, Model
from sim.parameters import NAMES, ParameterTable, Params
from sim.randomness import draw_batch, draw_replicate
from sim.scenario import load_scenario
from sim.theatre import AFGHANISTAN_2021
from sim.timeline import DRIVERS, LOCAL_DRIVERS, NATIONAL_DRIVERS, SCOPABLE_DRIVERS

day_of = AFGHANISTAN_2021.day_of

from conftest import BASELINE

HEAD = '[scenario]\nname = "{name}"\ndescription = "what if"\nbase = "{base}"\n'
NORTH = ("Northern", "North Eastern")

#: The README's example: salaries paid in the north from 1 June, the arrears growing elsewhere.
PAY_NORTH = """
    [[timeline.add]]
    id = "pay_north"
    date = 2021-06-01
    driver = "pay_arrears"
    value = 0.0
    regions = ["Northern", "North Eastern"]
    source = "what-if: salaries paid in the north only"
"""


def whatif(tmp_path, body: str, name="w"):
    path = tmp_path / f"{name}.toml"
    path.write_text(HEAD.format(name=name, base=BASELINE) + textwrap.dedent(body),
                    encoding="utf-8")
    return path


def build(path, geo):
    sc = load_scenario(path, geo)
    return sc, Model.build(geo, sc.events, sc.focus_regions, sc.end)


def level_on(model, date: str, field: str):
    import datetime as dt
    st_ = model.timeline.states[model.timeline.segment_at(day_of(dt.date.fromisoformat(date)))]
    return getattr(st_, field)


# ====================================================================== semantics

def test_a_scoped_level_holds_for_good_and_national_events_rule_the_rest(tmp_path, geo):
    """The rule stated in sim.timeline ("Scoped levels"): a scoped event sets its districts'
    level from its date, capitals included; later national events (the baseline's arrears rising
    on 1 July, 1 August, 1 September) no longer reach them but still reach everyone else; a later
    scoped event naming them changes them again."""
    path = whatif(tmp_path, PAY_NORTH + """
        [[timeline.add]]
        id = "balkh_unpaid_again"
        date = 2021-08-15
        driver = "pay_arrears"
        value = 5.0
        provinces = ["Balkh"]
        source = "test"
        """)
    _, model = build(path, geo)
    north = geo.in_regions(NORTH)
    balkh = geo.province_index == geo.province_by_name("Balkh").index
    mazar = geo.provinces[geo.province_by_name("Balkh").index].capital_index
    assert balkh[mazar] and north[mazar]
    # before the scoped event every district follows the national level
    pay = level_on(model, "2021-05-15", "district_pay")
    assert np.all(pay == level_on(model, "2021-05-15", "pay")) and np.all(pay == 0.0)
    # 1 July - 14 August: the north at 0 while the nation's arrears rise to 2 then 3 months
    for date, national in (("2021-07-10", 2.0), ("2021-08-10", 3.0)):
        pay = level_on(model, date, "district_pay")
        assert level_on(model, date, "pay") == national
        assert np.all(pay[north] == 0.0) and np.all(pay[~north] == national)
    # from 15 August Balkh (its capital Mazar included) has its own 5 months; the rest of the
    # north stays at 0 through the national step of 1 September
    pay = level_on(model, "2021-09-10", "district_pay")
    assert np.all(pay[balkh] == 5.0) and pay[mazar] == 5.0
    assert np.all(pay[north & ~balkh] == 0.0) and np.all(pay[~north] == 4.0)
    assert model.timeline.scoped_levels


def test_mobilization_in_bamyan_and_panjshir_only(tmp_path, geo):
    path = whatif(tmp_path, """
        [timeline]
        remove = ["national_mobilization"]
        [[timeline.add]]
        id = "local_mobilization"
        date = 2021-06-25
        driver = "mobilization"
        value = 1.0
        provinces = ["Bamyan", "Panjsher"]
        source = "test"
        """)
    _, model = build(path, geo)
    inside = np.isin(geo.province_index, [geo.province_by_name(p).index
                                          for p in ("Bamyan", "Panjsher")])
    brake = level_on(model, "2021-07-01", "district_mobilization")
    assert level_on(model, "2021-07-01", "mobilization") == 0.0
    assert np.all(brake[inside] == 1.0) and np.all(brake[~inside] == 0.0)
    assert np.all(level_on(model, "2021-06-01", "district_mobilization") == 0.0)


def test_a_reactive_scoped_event_adds_to_its_districts_only(tmp_path, geo):
    path = whatif(tmp_path, """
        [[timeline.add]]
        id = "kandahar_unpaid_after_assault"
        after = "assault"
        delay_days = 3
        driver = "pay_arrears"
        value = 2.0
        provinces = ["Kandahar"]
        source = "test"
        """)
    _, model = build(path, geo)
    tl = model.timeline
    j = list(tl.reactive.delays).index(3.0) + 1
    kandahar = geo.province_index == geo.province_by_name("Kandahar").index
    seg = tl.segment_at(day_of(__import__("datetime").date(2021, 8, 10)))
    drv = tl.drivers(seg, j)
    assert drv.pay == tl.states[seg].pay                       # the national level is untouched
    np.testing.assert_array_equal(drv.district_pay, tl.states[seg].pay + 2.0 * kandahar)


def test_every_driver_is_local_scopable_or_national_with_a_reason():
    assert set(LOCAL_DRIVERS) | set(SCOPABLE_DRIVERS) | set(NATIONAL_DRIVERS) == set(DRIVERS)
    assert not (set(LOCAL_DRIVERS) & set(SCOPABLE_DRIVERS))
    assert set(NATIONAL_DRIVERS) == {"air_support", "withdrawal"}
    assert all(NATIONAL_DRIVERS.values())


# ====================================================================== (a) engine agreement

def scoped_scenario(tmp_path):
    """Scoped pay (dated, by region and by district, and a reactive one by province) and scoped
    mobilization: every new path of both engines."""
    return whatif(tmp_path, PAY_NORTH + """
        [timeline]
        remove = ["national_mobilization"]
        [[timeline.add]]
        id = "local_mobilization"
        date = 2021-06-25
        driver = "mobilization"
        value = 1.0
        provinces = ["Bamyan", "Panjsher"]
        source = "test"
        [[timeline.add]]
        id = "kandahar_city_unpaid"
        date = 2021-07-15
        driver = "pay_arrears"
        value = 8.0
        districts = ["AF2701", "Arghandab (Kandahar)"]
        source = "test"
        [[timeline.add]]
        id = "hirat_unpaid_after_assault"
        after = "assault"
        delay_days = 2
        driver = "pay_arrears"
        value = 3.0
        provinces = ["Hirat"]
        source = "test"
        """, name="scoped")


def test_engines_agree_exactly_with_scoped_pay_and_mobilization_through_compaction(
        tmp_path, geo, monkeypatch):
    """72 replicates, each with its own posterior draw: the batch engine's audit of its
    incremental state passes and, on every other replicate (the SimPy engine is the slow part),
    the SimPy engine gives the same fall times (1e-8 days), modes and assault times. Finished rows are compacted away during the run (counted),
    so the per-row offsets must follow the compaction: replicates all end at the horizon, in
    lock-step by event count, so half of them get a weaker Taliban (fewer falls, fewer events)
    and finish, and are dropped, while the others still run (the engine compacts once 32 rows
    have finished: a third, 24, sufficed under the previous default's posterior, whose other rows
    finished sooner)."""
    from sim.ensemble import default_parameter_source
    sc, model = build(scoped_scenario(tmp_path), geo)
    assert model.timeline.scoped_levels
    R = 72
    table = sc.apply_table(default_parameter_source().table(23, range(R)))
    table.values[: R // 2, NAMES.index("rural_defence")] = -2.5
    compactions = []
    original = batch._Columns.compact

    def counting(self, keep):
        compactions.append(int(keep.sum()))
        return original(self, keep)

    monkeypatch.setattr(batch._Columns, "compact", counting)
    b = run_batch(model, table, draw_batch(23, range(R), model.n), audit=True)
    assert any(k > 0 for k in compactions), compactions     # rows were dropped mid-run
    for k in range(0, R, 2):
        ref = run_replicate(model, Params(table.row(k)), draw_replicate(23, k, model.n),
                            record_log=False)
        np.testing.assert_allclose(b.fall_time[k], ref.fall_time, rtol=0, atol=1e-8,
                                   equal_nan=True)
        assert np.array_equal(b.mode[k], ref.mode)
        np.testing.assert_allclose(b.assault_time[k], ref.assault_time, atol=1e-8, equal_nan=True)
    # and the scoped events changed something (else this test would prove nothing)
    base = Model.build(geo, load_scenario(BASELINE, geo).events, sc.focus_regions, sc.end)
    b0 = run_batch(base, table, draw_batch(23, range(R), model.n))
    assert not np.allclose(np.nan_to_num(b0.fall_time, nan=-1), np.nan_to_num(b.fall_time, nan=-1))


def test_the_negotiated_mode_reads_the_districts_own_arrears(tmp_path, geo):
    """Salaries paid everywhere but in Kandahar, where 24 months are owed from the start; with a
    mode rule that negotiates only when arrears are high, every fall in Kandahar is negotiated
    and almost none elsewhere, in both engines."""
    path = whatif(tmp_path, """
        [timeline]
        remove = ["arrears_1_month", "arrears_2_months", "arrears_3_months", "arrears_4_months"]
        [[timeline.add]]
        id = "kandahar_unpaid"
        date = 2021-05-01
        driver = "pay_arrears"
        value = 24.0
        provinces = ["Kandahar"]
        source = "test"
        """)
    sc, model = build(path, geo)
    values = {**sc.parameters(), "mode_intercept": -10.0, "mode_b_pay": 5.0,
              "mode_b_momentum": 0.0, "mode_capital_offset": 0.0}
    table = ParameterTable.constant(values, 16)
    b = run_batch(model, table, draw_batch(8, range(16), model.n))
    kandahar = geo.province_index == geo.province_by_name("Kandahar").index
    fell = np.isfinite(b.fall_time) & (b.fall_time > 0)
    assert fell[:, kandahar].sum() > 50 and fell[:, ~kandahar].sum() > 500
    assert np.all(b.mode[:, kandahar][fell[:, kandahar]] == NEGOTIATED)
    assert (b.mode[:, ~kandahar][fell[:, ~kandahar]] == NEGOTIATED).mean() < 0.01
    for k in range(4):
        ref = run_replicate(model, Params(table.row(k)), draw_replicate(8, k, model.n),
                            record_log=False)
        assert np.array_equal(b.mode[k], ref.mode)


# ====================================================================== (b) scope over everything

PROPERTY = settings(max_examples=5, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(driver=st.sampled_from(["pay_arrears", "mobilization"]),
       scope=st.sampled_from(["provinces", "regions"]),
       day=st.integers(0, 120), value=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_a_scope_over_every_province_is_the_national_event(tmp_path_factory, geo, driver, scope,
                                                           day, value, seed):
    """Property: the baseline with every event of a driver (its own and one more, at a random
    date and value) made national, and the same events each scoped over all 34 provinces (or all
    8 regions), give the same fall times and modes. It fails if a capital or a fall's mode read
    the national level instead of its own, or if an offset were not recomputed at a step."""
    import datetime as dt
    tmp = tmp_path_factory.mktemp("everywhere")
    base = load_scenario(BASELINE, geo)
    mine = [ev for ev in base.events if ev.driver == driver]
    date = dt.date(2021, 5, 1) + dt.timedelta(days=day)
    value = value * (DRIVERS[driver][2] / 4 if driver == "pay_arrears" else 1.0)
    everything = (f"provinces = {[p.name for p in geo.provinces]!r}" if scope == "provinces"
                  else 'regions = ["Capital", "Central Highland", "Eastern", "North Eastern", '
                       '"Northern", "South Eastern", "Southern", "Western"]')
    everything = everything.replace("'", '"')

    def event(ev_id, when, v, scoped):
        return textwrap.dedent(f"""
            [[timeline.add]]
            id = "{ev_id}"
            date = {when.isoformat()}
            driver = "{driver}"
            value = {v!r}
            source = "test"
            """) + (everything + "\n" if scoped else "")

    def scenario(name, scoped):
        body = f"[timeline]\nremove = {[ev.id for ev in mine]!r}\n".replace("'", '"')
        body += "".join(event(f"{ev.id}_again", ev.date, float(ev.value), scoped) for ev in mine)
        body += event("extra", date, float(value), scoped)
        return whatif(tmp, body, name=name)

    runs = []
    for name, scoped in (("national", False), ("everywhere", True)):
        sc, model = build(scenario(name, scoped), geo)
        assert model.timeline.scoped_levels == scoped
        table = ParameterTable.constant(sc.parameters(), 24)
        runs.append(run_batch(model, table, draw_batch(seed, range(24), model.n)))
    national, everywhere = runs
    np.testing.assert_allclose(everywhere.fall_time, national.fall_time, rtol=0, atol=1e-8,
                               equal_nan=True)
    assert np.array_equal(everywhere.mode, national.mode)
    np.testing.assert_allclose(everywhere.assault_time, national.assault_time, atol=1e-8,
                               equal_nan=True)


# ====================================================================== (c) the effect lands north

def test_paying_the_north_only_delays_the_north_and_barely_moves_the_south(tmp_path, geo):
    """Fixed seeds, 60 paired replicates (common random numbers), default parameters (8 s on a
    loaded 2-core machine, so not marked slow). Measured
    with 200 replicates: the share of the north's (Northern, North Eastern) rural districts fallen
    by 1 August drops from 0.66 to 0.37 (paired difference -0.29, sd 0.05 across replicates) and
    their median fall day moves from day 76 to day 145; the south's (Southern) share drops only
    0.03 (through the national momentum). Tolerances: the north must lose at least 0.15 of its
    share and gain at least 20 days of median; the south must move by less than 0.08 and by less
    than a quarter of the north."""
    path = whatif(tmp_path, PAY_NORTH, name="pay_north_only")
    a = sim.run(BASELINE, replicates=60, seed=31, parameters="fixed", geo=geo)
    b = sim.run(path, replicates=60, seed=31, parameters="fixed", geo=geo)
    north = geo.in_regions(NORTH) & ~geo.is_capital
    south = geo.in_regions(["Southern"]) & ~geo.is_capital
    aug1 = day_of(__import__("datetime").date(2021, 8, 1))

    def share(res, rows):
        return (np.nan_to_num(res.fall_time[:, rows], nan=np.inf) < aug1).mean(axis=1)

    def median_day(res, rows):
        return float(np.median(np.nan_to_num(res.fall_time[:, rows], nan=1e3)))

    d_north = float((share(b, north) - share(a, north)).mean())
    d_south = float((share(b, south) - share(a, south)).mean())
    assert d_north <= -0.15, d_north
    assert abs(d_south) < 0.08 and abs(d_south) < abs(d_north) / 4, (d_north, d_south)
    assert median_day(b, north) - median_day(a, north) >= 20.0
    assert abs(median_day(b, south) - median_day(a, south)) < 10.0


# ====================================================================== (d) validation

def test_a_scoped_event_naming_an_unknown_province_is_a_one_line_error(tmp_path, geo):
    path = whatif(tmp_path, PAY_NORTH.replace('regions = ["Northern", "North Eastern"]',
                                              'provinces = ["Balkh", "Atlantis"]'))
    with pytest.raises(UserError) as err:
        load_scenario(path, geo)
    msg = err.value.one_line()
    assert "unknown province 'Atlantis'" in msg and "timeline.add[0].provinces" in msg
    assert str(path) in msg and "\n" not in msg
    from test_safety import assert_one_line_error, cli
    assert_one_line_error(*cli("run", path, "--replicates", "2", "--out", tmp_path / "o", "-q"),
                          "timeline.add[0].provinces", "Atlantis", str(path))
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("body,key,needle", [
    ('regions = ["Narnia"]', "timeline.add[0].regions", "unknown region 'Narnia'"),
    ('regions = []', "timeline.add[0].regions", "non-empty list of region names"),
    ('districts = ["Atlantis"]', "timeline.add[0].districts", "unknown district"),
])
def test_bad_scopes_are_refused(tmp_path, geo, body, key, needle):
    path = whatif(tmp_path, PAY_NORTH.replace('regions = ["Northern", "North Eastern"]', body))
    with pytest.raises(UserError) as err:
        load_scenario(path, geo)
    assert key in err.value.one_line() and needle in err.value.one_line()


@pytest.mark.parametrize("driver", sorted(NATIONAL_DRIVERS))
def test_national_drivers_refuse_a_scope_and_say_why(tmp_path, geo, driver):
    path = whatif(tmp_path, f"""
        [[timeline.add]]
        id = "x"
        date = 2021-07-01
        driver = "{driver}"
        value = 0.5
        provinces = ["Balkh"]
        source = "test"
        """)
    with pytest.raises(UserError) as err:
        load_scenario(path, geo)
    msg = err.value.one_line()
    assert "timeline.add[0].provinces" in msg and f"{driver} is national" in msg
    assert NATIONAL_DRIVERS[driver] in msg


def test_the_readmes_scoped_example_loads_and_does_what_it_says(tmp_path, geo):
    """The README's scoped example (the block under "Where a driver acts"), pasted into a
    what-if: it loads, the north is paid and the brake is on in Bamyan and Panjsher only."""
    from conftest import ROOT
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("**Where a driver acts.**", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    _, model = build(whatif(tmp_path, block), geo)
    north = geo.in_regions(NORTH)
    pay = level_on(model, "2021-08-10", "district_pay")
    assert np.all(pay[north] == 0.0) and np.all(pay[~north] == 3.0)
    brake = level_on(model, "2021-07-10", "district_mobilization")
    centre = np.isin(geo.province_index, [geo.province_by_name(p).index
                                          for p in ("Bamyan", "Panjsher")])
    assert np.all(brake[centre] == 1.0) and np.all(brake[~centre] == 0.0)


@settings(max_examples=50, deadline=None)
@given(own=st.floats(0.0, 24.0), national=st.floats(0.0, 24.0), b_own=st.sampled_from([0.0, 1.0]),
       b_national=st.sampled_from([0.0, 1.0]))
def test_the_split_rule_does_not_depend_on_the_national_level_it_is_split_around(
        own, national, b_own, b_national):
    """sim.hazard: a district's log hazard with its own arrears and brake is the same whatever
    national levels the nationwide factor carries (the offset makes up the difference), and with
    no national levels given it is the unscoped rule. Fails if the offset's sign or terms drift
    from the nationwide factor's."""
    from sim import hazard
    from sim.parameters import defaults
    p = Params({**defaults(), "b_pay": 0.7, "b_mobilization": 0.9})
    c = hazard.LocalCovariates(0.6, 1.0, 1.0, 0.0, -0.4, 1.0, 0.0, 1.0)
    x = {"momentum": 0.4, "neighbours": 0.3, "own_capital": 0.0, "province": 0.2, "cascade": 0.1}
    whole = hazard.district_log_hazard(p, x, own, b_own, 0.0, 0.9, 0.5, c)
    split = hazard.district_log_hazard(p, x, own, b_own, 0.0, 0.9, 0.5, c,
                                       national_pay=national, national_mobilization=b_national)
    assert split == pytest.approx(whole, abs=1e-12)
    unscoped = (hazard.nationwide_log_pressure(p, x, own, b_own, 0.0, 0.9)
                + hazard.local_log_hazard(p, x, 0.5, c))
    assert whole == unscoped          # exactly: the offset of an unscoped district is 0.0
