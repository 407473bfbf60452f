"""Scenario files: inheritance, changes, and a one-line error for every kind of bad input."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import pytest

from sim.errors import UserError
from sim.parameters import NAMES, ParameterTable, defaults
from sim.scenario import load_scenario

from conftest import BASELINE

HEAD = '[scenario]\nname = "w"\ndescription = "what if"\nbase = "{base}"\n'


def whatif(tmp_path, body: str, name="w.toml"):
    path = tmp_path / name
    path.write_text(HEAD.format(base=BASELINE) + textwrap.dedent(body), encoding="utf-8")
    return path


def test_baseline_loads_with_sourced_events(geo):
    sc = load_scenario(BASELINE, geo)
    assert sc.name == "baseline" and sc.base_name is None
    assert len(sc.events) >= 10
    assert all(ev.source.strip() for ev in sc.events)
    assert sc.focus_regions == ("Northern", "North Eastern")
    assert sc.parameters() == defaults()


def test_whatif_changes_parameters_and_events(tmp_path, geo):
    path = whatif(tmp_path, """
        [parameters]
        b_neighbour = 1.0
        b_pay = { scale = 0.5 }
        taliban_strength = { shift = -0.3 }
        [strategy]
        focus_regions = ["Southern"]
        [timeline]
        remove = ["contractors_leave"]
        [[timeline.move]]
        id = "bagram_handover"
        date = 2021-09-11
        [[timeline.set]]
        id = "b52_strikes"
        value = 0.9
        [[timeline.add]]
        id = "new_air"
        date = 2021-06-01
        driver = "air_support"
        value = 1.0
        source = "ASSUMPTION: test"
    """)
    sc = load_scenario(path, geo)
    base = load_scenario(BASELINE, geo)
    p = sc.parameters()
    d = defaults()
    assert p["b_neighbour"] == 1.0
    assert p["b_pay"] == pytest.approx(d["b_pay"] * 0.5)
    assert p["taliban_strength"] == pytest.approx(-0.3)
    assert sc.focus_regions == ("Southern",)
    ids = {e.id for e in sc.events}
    assert "contractors_leave" not in ids and "new_air" in ids
    assert sc.event("bagram_handover").date == dt.date(2021, 9, 11)
    assert sc.event("b52_strikes").value == 0.9
    assert len(sc.events) == len(base.events)        # one removed, one added
    assert sc.files[0].name == "baseline.toml" and len(sc.file_hashes) == 2
    # scale and shift act on each replicate's own draw
    table = ParameterTable(np.tile([d[n] for n in NAMES], (3, 1)))
    table.values[:, NAMES.index("b_pay")] = [0.2, 0.4, 0.8]
    out = sc.apply_table(table)
    np.testing.assert_allclose(out.column("b_pay"), [0.1, 0.2, 0.4])


BAD = {
    "unknown top-level key": ("[colour]\nx = 1\n", "colour", "unknown key"),
    "unknown parameter": ("[parameters]\nb_nieghbour = 1.0\n", "parameters.b_nieghbour", "unknown parameter"),
    "wrong type": ('[parameters]\nb_pay = "high"\n', "parameters.b_pay", "expected a number"),
    "out of range": ("[parameters]\nb_pay = 99\n", "parameters.b_pay", "out of range"),
    "scale out of range": ("[parameters]\nb_pay = { scale = -1 }\n", "parameters.b_pay", "out of range"),
    "scale past the bound": ("[parameters]\nb_pay = { scale = 50 }\n", "parameters.b_pay", "outside the allowed range"),
    "bad operation": ("[parameters]\nb_pay = { times = 2 }\n", "parameters.b_pay", "scale"),
    "unknown province": ('[[timeline.add]]\nid = "x"\ndate = 2021-08-07\ndriver = "air_support_local"\n'
                         'value = 0.5\nprovinces = ["Atlantis"]\nsource = "s"\n',
                         "timeline.add[0].provinces", "unknown province"),
    "unknown driver": ('[[timeline.add]]\nid = "x"\ndate = 2021-08-07\ndriver = "morale"\nvalue = 0.5\n'
                       'source = "s"\n', "timeline.add[0].driver", "unknown driver"),
    "date out of range": ('[[timeline.move]]\nid = "bagram_handover"\ndate = 2025-01-01\n',
                          "timeline.move[0].date", "out of range"),
    "malformed date": ('[[timeline.move]]\nid = "bagram_handover"\ndate = "2 July"\n',
                       "timeline.move[0].date", "YYYY-MM-DD"),
    "unknown event id": ('[timeline]\nremove = ["no_such_event"]\n', "timeline.remove", "unknown event id"),
    "duplicate event": ('[[timeline.add]]\nid = "bagram_handover"\ndate = 2021-08-07\ndriver = "withdrawal"\n'
                        'value = 0.5\nsource = "s"\n', "timeline.add[0].id", "already exists"),
    "missing source": ('[[timeline.add]]\nid = "x"\ndate = 2021-08-07\ndriver = "withdrawal"\nvalue = 0.5\n',
                       "timeline.add[0].source", "missing"),
    "event value out of range": ('[[timeline.set]]\nid = "bagram_handover"\nvalue = 3\n',
                                 "timeline.set[0].value", "out of range"),
    "unknown region": ('[strategy]\nfocus_regions = ["Narnia"]\n', "strategy.focus_regions", "unknown region"),
    "horizon before start": ("[run]\nend = 2021-01-01\n", "run.end", "out of range"),
    "date and after": ('[[timeline.add]]\nid = "x"\ndate = 2021-08-07\nafter = "assault"\n'
                       'driver = "air_support"\nvalue = 0.1\nsource = "s"\n', "timeline.add[0].date",
                       "exactly one of date"),
    "neither date nor after": ('[[timeline.add]]\nid = "x"\ndriver = "air_support"\nvalue = 0.1\n'
                               'source = "s"\n', "timeline.add[0].date", "exactly one of date"),
    "unknown trigger": ('[[timeline.add]]\nid = "x"\nafter = "kabul"\ndriver = "air_support"\n'
                        'value = 0.1\nsource = "s"\n', "timeline.add[0].after", "unknown trigger"),
    "negative delay": ('[[timeline.add]]\nid = "x"\nafter = "assault"\ndelay_days = -1\n'
                       'driver = "air_support"\nvalue = 0.1\nsource = "s"\n',
                       "timeline.add[0].delay_days", "out of range"),
    "delay without after": ('[[timeline.add]]\nid = "x"\ndate = 2021-08-07\ndelay_days = 1\n'
                            'driver = "air_support"\nvalue = 0.1\nsource = "s"\n',
                            "timeline.add[0].delay_days", "reactive event"),
    "moving a reaction": ('[[timeline.move]]\nid = "b52_strikes"\ndate = 2021-08-01\n',
                          "timeline.move[0].id", "is a reaction"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gives_one_line_naming_file_and_key(tmp_path, geo, case):
    body, key, needle = BAD[case]
    path = whatif(tmp_path, body)
    with pytest.raises(UserError) as err:
        load_scenario(path, geo)
    msg = err.value.one_line()
    assert str(path) in msg, msg
    assert f"key '{key}'" in msg, msg
    assert needle in msg, msg
    assert "\n" not in msg


def test_file_level_problems(tmp_path, geo):
    cases = {
        "missing.toml": (None, "file not found"),
        "empty.toml": (b"", "empty"),
        "latin1.toml": ('[scenario]\nname = "caf\xe9"\n'.encode("latin-1"), "not UTF-8"),
        "syntax.toml": (b'[scenario]\nname = "x\ndescription = 1\n', "not valid TOML"),
        "noscenario.toml": (b"[parameters]\nb_pay = 1.0\n", "missing [scenario]"),
    }
    for name, (content, needle) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(UserError) as err:
            load_scenario(path, geo)
        msg = err.value.one_line()
        assert name in msg and needle in msg, msg


def test_toml_syntax_errors_carry_the_line(tmp_path, geo):
    path = tmp_path / "syntax.toml"
    path.write_text('[scenario]\nname = "x"\ndescription = "d"\n[parameters]\nb_pay = = 1\n')
    with pytest.raises(UserError) as err:
        load_scenario(path, geo)
    assert f"{path}:5" in err.value.one_line()


def test_inheritance_cycles_are_refused(tmp_path, geo):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[scenario]\nname = "a"\ndescription = "d"\nbase = "b.toml"\n')
    b.write_text('[scenario]\nname = "b"\ndescription = "d"\nbase = "a.toml"\n')
    with pytest.raises(UserError, match="cycle"):
        load_scenario(a, geo)


def test_whatif_of_a_whatif_composes_changes(tmp_path, geo):
    first = whatif(tmp_path, "[parameters]\nb_pay = { scale = 0.5 }\n", "first.toml")
    second = tmp_path / "second.toml"
    second.write_text('[scenario]\nname = "second"\ndescription = "d"\nbase = "first.toml"\n'
                      "[parameters]\nb_pay = { shift = 0.1 }\n")
    p = load_scenario(second, geo).parameters()
    assert p["b_pay"] == pytest.approx(defaults()["b_pay"] * 0.5 + 0.1)
    assert load_scenario(first, geo).parameters()["b_pay"] == pytest.approx(defaults()["b_pay"] * 0.5)


def test_local_air_support_can_name_districts(tmp_path, geo):
    path = whatif(tmp_path, """
        [[timeline.add]]
        id = "cover"
        date = 2021-07-10
        driver = "air_support_local"
        value = 0.8
        districts = ["AF2701", "Arghandab (Kandahar)", "spin boldak"]
        source = "ASSUMPTION: test"
    """)
    sc = load_scenario(path, geo)
    assert sc.event("cover").districts == ("AF2701", "AF2702", "AF2711")
    from sim.model import Model
    model = Model.build(geo, sc.events, sc.focus_regions, sc.end)
    k = model.timeline.segment_at(75.0)
    air = model.timeline.states[k].air_by_district()
    covered = [geo.index_of(c) for c in ("AF2701", "AF2702", "AF2711")]
    assert np.allclose(air[covered] - air[geo.index_of("AF2703")], 0.8)


@pytest.mark.parametrize("ref,needle", [("Atlantis", "unknown district"),
                                        ("Arghandab", "ambiguous"), ("AF9999", "unknown district")])
def test_unknown_or_ambiguous_district_names_are_refused(tmp_path, geo, ref, needle):
    path = whatif(tmp_path, f"""
        [[timeline.add]]
        id = "cover"
        date = 2021-07-10
        driver = "air_support_local"
        value = 0.8
        districts = ["{ref}"]
        source = "s"
    """)
    with pytest.raises(UserError) as err:
        load_scenario(path, geo)
    msg = err.value.one_line()
    assert needle in msg and "timeline.add[0].districts" in msg and str(path) in msg


def test_a_reactive_event_follows_the_assault_in_every_replicate(tmp_path, geo):
    """The surge declared 'after the assault' adds its value at the assault plus its delay, in
    each replicate at its own time: the capitals' air cover rises then, and not before."""
    import sim
    path = whatif(tmp_path, """
        [[timeline.add]]
        id = "kabul_surge"
        after = "assault"
        delay_days = 2.5
        driver = "air_support_local"
        value = 0.7
        provinces = ["Kabul"]
        source = "test"
        """)
    sc = load_scenario(path, geo)
    ev = sc.event("kabul_surge")
    assert ev.reactive and ev.date is None and ev.delay_days == 2.5
    from sim.engine import run_replicate
    from sim.model import Model
    from sim.parameters import Params
    from sim.randomness import draw_replicate
    model = Model.build(geo, sc.events, sc.focus_regions, sc.end)
    rx = model.timeline.reactive
    assert list(rx.delays) == sorted(rx.delays) and 2.5 in rx.delays
    kabul = geo.kabul_row
    j = list(rx.delays).index(2.5) + 1
    assert rx.air[j, kabul] - rx.air[j - 1, kabul] == pytest.approx(0.7)
    times = []
    for k in range(4):
        res = run_replicate(model, Params(sc.parameters()), draw_replicate(3, k, model.n))
        hit = [e.time for e in res.log if e.subject == "kabul_surge"]
        if np.isfinite(res.assault_time) and res.assault_time + 2.5 < model.horizon:
            assert hit == [pytest.approx(res.assault_time + 2.5)]
            times.append(hit[0])
        else:
            assert hit == []
    assert len(set(np.round(times, 6))) == len(times)      # each replicate at its own time


def test_a_garrison_driver_reinforces_named_cities_from_a_date(tmp_path, geo):
    """Issue 14: "Kabul's garrison reinforced from 1 July" can be written; both engines agree on
    it, and in paired replicates Kabul holds at least as long and, on average, longer."""
    import sim
    from sim.batch import run_batch
    from sim.engine import run_replicate
    from sim.model import Model
    from sim.parameters import ParameterTable, Params
    from sim.randomness import draw_batch, draw_replicate
    path = whatif(tmp_path, """
        [[timeline.add]]
        id = "kabul_reinforced"
        date = 2021-07-01
        driver = "garrison"
        value = 2.0
        provinces = ["Kabul"]
        source = "test"
        """)
    sc = load_scenario(path, geo)
    model = Model.build(geo, sc.events, sc.focus_regions, sc.end)
    k = model.timeline.segment_at(100.0)
    assert model.timeline.states[k].garrison[geo.kabul_row] == 2.0
    assert model.timeline.states[0].garrison[geo.kabul_row] == 0.0
    table = ParameterTable.constant(sc.parameters(), 12)
    b = run_batch(model, table, draw_batch(4, range(12), model.n))
    for r in range(12):
        ref = run_replicate(model, Params(table.row(r)), draw_replicate(4, r, model.n),
                            record_log=False)
        np.testing.assert_allclose(b.fall_time[r], ref.fall_time, atol=1e-8, equal_nan=True)
    base = sim.run(BASELINE, replicates=60, seed=4, parameters="fixed", geo=geo)
    held = sim.run(path, replicates=60, seed=4, parameters="fixed", geo=geo)
    kb = np.nan_to_num(base.fall_time[:, geo.kabul_row], nan=1e3)
    kh = np.nan_to_num(held.fall_time[:, geo.kabul_row], nan=1e3)
    assert (kh - kb).mean() > 0.5
    with pytest.raises(UserError, match="provinces or districts"):
        load_scenario(whatif(tmp_path, """
            [[timeline.add]]
            id = "g"
            date = 2021-07-01
            driver = "garrison"
            value = 1.0
            source = "test"
            """, name="g.toml"), geo)


# ---------------------------------------------------------------------- a structure's own baseline

ARREARS_LATER = BASELINE.parents[1] / "calibration" / "structures" / "arrears_later" / "baseline.toml"


def _arrears(s):
    return [(e.id, e.date) for e in s.events if e.driver == "pay_arrears"]


def test_a_what_if_rebased_keeps_its_own_changes_on_the_structures_timeline(geo):
    from sim.scenario import rebase
    scen = BASELINE.parent
    base = rebase(load_scenario(BASELINE, geo), ARREARS_LATER, geo)
    assert base.name == "baseline" and base.base_name is None
    assert [d for _, d in _arrears(base)] == [dt.date(2021, m, 1) for m in (7, 8, 9, 10)]
    # the structure's parameter change travels with it (the cities' pay centre)
    assert [(c.name, c.value) for c in base.changes] == [("cap_pay_centre_months", 2.0)]
    paid = rebase(load_scenario(scen / "salaries_paid.toml", geo), ARREARS_LATER, geo)
    assert paid.name == "salaries_paid" and paid.base_name == "baseline"
    assert _arrears(paid) == []                     # the what-if still removes every step
    late = rebase(load_scenario(scen / "withdrawal_delayed.toml", geo), ARREARS_LATER, geo)
    plain = load_scenario(scen / "withdrawal_delayed.toml", geo)
    assert _arrears(late) == _arrears(base)         # the structure's arrears ...
    withdrawal = lambda s: [(e.id, e.date) for e in s.events if e.driver == "withdrawal"]
    assert withdrawal(late) == withdrawal(plain)    # ... and the what-if's own moves
    assert late.files[-1] == plain.files[-1] and ARREARS_LATER.resolve() in \
        [f.resolve() for f in late.files]


@pytest.mark.parametrize("name", ["baseline", "salaries_paid", "air_and_pay", "withdrawal_delayed",
                                  "surrender_chain_broken", "capitals_reinforced"])
def test_rebasing_on_the_root_baseline_changes_nothing(geo, name):
    """A property of rebasing: on the what-if's own root it is the identity."""
    from sim.scenario import rebase
    s = load_scenario(BASELINE.parent / f"{name}.toml", geo)
    r = rebase(s, BASELINE, geo)
    assert (r.name, r.base_name, r.events, r.changes, r.end, r.focus_regions) == \
        (s.name, s.base_name, s.events, s.changes, s.end, s.focus_regions)


def test_a_structures_baseline_must_derive_from_the_same_root(tmp_path, geo):
    from sim.scenario import rebase
    other = tmp_path / "own_root.toml"
    other.write_text(BASELINE.read_text().replace('name = "baseline"', 'name = "other"'))
    with pytest.raises(UserError) as err:
        rebase(load_scenario(BASELINE.parent / "salaries_paid.toml", geo), other, geo)
    msg = str(err.value)
    assert "own_root.toml" in msg and "scenario.base" in msg and "\n" not in msg
