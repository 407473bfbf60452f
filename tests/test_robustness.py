"""Robustness: malformed input always gives the clean error; interrupted runs resume exactly.

The property-based tests generate about 3,000 malformed inputs per run (hypothesis, derandomised
so CI is reproducible): scenario files, calibration configs, targets, posterior CSVs, manifests,
checkpoint chunks and command-line flags. Each must give a one-line UserError naming the file
(exit code 2 from the CLI) with nothing written, or load with only valid values; never another
exception. ``pytest --hypothesis-show-statistics`` shows the counts.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.calibrate import load_config
from sim.errors import UserError
from sim.scenario import load_scenario

from conftest import BASELINE, ROOT

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# ---------------------------------------------------------------- a tiny TOML writer for tests


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not np.isfinite(v):
            return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        out = []
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_text(doc: dict) -> str:
    lines = []
    for section, body in doc.items():
        if isinstance(body, list):                      # array of tables
            for item in body:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def valid_whatif() -> dict:
    return {
        "scenario": {"name": "w", "description": "d", "base": str(BASELINE)},
        "parameters": {"b_pay": 1.0, "b_neighbour": {"scale": 0.5}},
        "strategy": {"focus_regions": ["Southern"]},
        "timeline": {"remove": ["contractors_leave"]},
        "timeline.move": [{"id": "bagram_handover", "date": dt.date(2021, 9, 1)}],
        "timeline.add": [{"id": "x", "date": dt.date(2021, 6, 1), "driver": "air_support_local",
                          "value": 0.5, "provinces": ["Kandahar"], "source": "s"}],
    }


# Places in a valid what-if where a value can be replaced: (section, key)
SLOTS = [("scenario", "name"), ("scenario", "description"), ("scenario", "base"),
         ("parameters", "b_pay"), ("parameters", "b_neighbour"), ("strategy", "focus_regions"),
         ("timeline", "remove"), ("timeline.move", "id"), ("timeline.move", "date"),
         ("timeline.add", "id"), ("timeline.add", "date"), ("timeline.add", "driver"),
         ("timeline.add", "value"), ("timeline.add", "provinces"), ("timeline.add", "source")]

scalars = st.one_of(
    st.integers(-10 ** 6, 10 ** 6), st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.booleans(), st.text(max_size=12), st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)))
values = st.one_of(scalars, st.lists(scalars, max_size=3),
                   st.dictionaries(st.sampled_from(["set", "scale", "shift", "x"]), scalars, max_size=2))
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=14)


def assert_clean(path, geo):
    """Loads, or raises a one-line UserError that names the file; nothing else."""
    try:
        load_scenario(path, geo)
    except UserError as err:
        msg = err.one_line()
        assert str(path) in msg and "\n" not in msg, msg
        return msg
    return None


@SETTINGS
@given(slot=st.sampled_from(SLOTS), value=values)
def test_any_value_anywhere_loads_or_fails_cleanly(tmp_path, geo, slot, value):
    doc = valid_whatif()
    section, key = slot
    target = doc[section][0] if isinstance(doc[section], list) else doc[section]
    target[key] = value
    path = tmp_path / "mutated.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    assert_clean(path, geo)


@SETTINGS
@given(section=st.sampled_from(["scenario", "parameters", "strategy", "timeline", "timeline.add",
                                "run", "TOP"]), key=names, value=scalars)
def test_unknown_keys_are_refused_with_their_name(tmp_path, geo, section, key, value):
    doc = valid_whatif()
    from sim.parameters import NAMES
    known = {"scenario": {"name", "description", "base"}, "parameters": set(NAMES),
             "strategy": {"focus_regions"}, "timeline": {"remove", "add", "move", "set"},
             "timeline.add": {"id", "date", "driver", "value", "source", "provinces", "districts",
                              "regions"},
             "run": {"end"}, "TOP": {"scenario", "run", "parameters", "strategy", "timeline"}}
    if key in known[section]:
        return
    if section == "TOP":
        doc[key] = {"x": 1}
    elif section == "run":
        doc["run"] = {key: value}
    elif isinstance(doc[section], list):
        doc[section][0][key] = value
    else:
        doc[section][key] = value
    path = tmp_path / "unknown.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    msg = assert_clean(path, geo)
    assert msg is not None and key in msg


@SETTINGS
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_loader(tmp_path, geo, data):
    path = tmp_path / "bytes.toml"
    path.write_bytes(data)
    msg = assert_clean(path, geo)
    assert msg is not None          # random bytes are never a complete scenario


@SETTINGS
@given(day=st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)))
def test_event_dates_outside_the_allowed_range_are_refused(tmp_path, geo, day):
    doc = valid_whatif()
    doc["timeline.add"][0]["date"] = day
    path = tmp_path / "date.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    msg = assert_clean(path, geo)
    if day < dt.date(2020, 1, 1) or day > dt.date(2021, 12, 31):
        assert msg is not None and "timeline.add[0].date" in msg and "out of range" in msg
    else:
        assert msg is None


@SETTINGS
@given(name=st.text(min_size=1, max_size=20))
def test_unknown_province_names_are_refused(tmp_path, geo, name):
    known = {v.lower() for p in geo.provinces for v in (p.name, p.name_seed, p.pcode)}
    doc = valid_whatif()
    doc["timeline.add"][0]["provinces"] = [name]
    path = tmp_path / "province.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    msg = assert_clean(path, geo)
    if name.strip().lower() in known:
        assert msg is None
    else:
        assert msg is not None and "unknown province" in msg


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(length=st.integers(1, 5))
def test_inheritance_cycles_of_any_length_are_refused(tmp_path, geo, length):
    for k in range(length):
        (tmp_path / f"s{k}.toml").write_text(
            f'[scenario]\nname = "s{k}"\ndescription = "d"\nbase = "s{(k + 1) % length}.toml"\n')
    with pytest.raises(UserError, match="cycle"):
        load_scenario(tmp_path / "s0.toml", geo)


def test_empty_and_whitespace_files_are_refused(tmp_path, geo):
    for text in ("", "   \n\t\n"):
        path = tmp_path / "empty.toml"
        path.write_text(text)
        with pytest.raises(UserError, match="empty"):
            load_scenario(path, geo)


@pytest.mark.parametrize("body,key", [
    ('[sampler]\nwalkers = 3\nsteps = 10\n[stages.rural]\nreplicates = 8\n'
     '[[stages.rural.parameters]]\nname = "b_pay"\nprior = "uniform"\nlower = 0\nupper = 1\n'
     'why = "x"\n', "sampler.walkers"),
    ('[stages.rural]\nreplicates = 8\n[[stages.rural.parameters]]\nname = "nope"\nprior = "uniform"\n'
     'lower = 0\nupper = 1\nwhy = "x"\n', "name"),
    ('[stages.rural]\nreplicates = 8\n[[stages.rural.parameters]]\nname = "b_pay"\nprior = "cauchy"\n'
     'lower = 0\nupper = 1\nwhy = "x"\n', "prior"),
    ('[stages.rural]\nreplicates = 8\n[[stages.rural.parameters]]\nname = "b_pay"\nprior = "uniform"\n'
     'lower = 0\nupper = 99\nwhy = "x"\n', "upper"),
    ('[bogus]\nx = 1\n', "bogus"),
    ('[sampler]\nwalkers = 8\nsteps = 10\nthin = "two"\n[stages.rural]\nreplicates = 8\n'
     '[[stages.rural.parameters]]\nname = "b_pay"\nprior = "uniform"\nlower = 0\nupper = 1\n'
     'why = "x"\n', "sampler.thin"),
    ('[sampler]\nwalkers = 8\nsteps = 10\nburn_in = 2.9\n[stages.rural]\nreplicates = 8\n'
     '[[stages.rural.parameters]]\nname = "b_pay"\nprior = "uniform"\nlower = 0\nupper = 1\n'
     'why = "x"\n', "sampler.burn_in"),
    ('[stages.rural]\nreplicates = 8\n[[stages.rural.parameters]]\nname = "b_pay"\nprior = "normal"\n'
     'lower = 0\nupper = 1\nmean = 0.5\nsd = 0\nwhy = "x"\n', "sd"),
])
def test_calibration_config_errors_name_the_key(tmp_path, body, key):
    head = ('[calibration]\nname = "t"\nscenario = "s.toml"\ntargets = "t.toml"\nseed = 1\n'
            '[sampler]\nwalkers = 8\nsteps = 10\n' if not body.startswith("[sampler]") else
            '[calibration]\nname = "t"\nscenario = "s.toml"\ntargets = "t.toml"\nseed = 1\n')
    path = tmp_path / "cal.toml"
    path.write_text(head + body)
    with pytest.raises(UserError) as err:
        load_config(path)
    assert key in err.value.one_line() and str(path) in err.value.one_line()


@pytest.mark.parametrize("weights", [["1", "x"], ["1", "-1"], ["0", "0"], ["1", "nan"]])
def test_a_posterior_file_with_bad_weights_is_refused_naming_the_column(tmp_path, weights):
    from sim.posterior import read_posterior
    path = tmp_path / "post.csv"
    path.write_text("b_pay,weight\n" + "".join(f"1.0,{w}\n" for w in weights))
    with pytest.raises(UserError) as err:
        read_posterior(path)
    assert "weight" in err.value.one_line() and str(path) in err.value.one_line()


# ---------------------------------------------------------------- interruption and resume

def afsim_cmd(*args):
    return [sys.executable, "-m", "sim", *map(str, args)]


# 30 chunks, interrupted after the first is saved, so the run is still going when the signal
# comes even on a loaded machine
RUN = ("run", BASELINE, "--replicates", 3000, "--chunk-size", 100, "--seed", 3, "--no-plots",
       "--fixed-parameters", "--quiet")


def _ctrl_c_as_at_a_terminal():
    """Give the run Ctrl-C's default handling. A test suite started in the background by a
    non-interactive shell inherits SIGINT *ignored*, and Python then leaves it ignored, so the run
    would rightly shrug the signal off and finish (exit 0): the test would measure its launcher."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_chunks(folder, n, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.exists() and len(list(folder.glob("chunk_*.npz"))) >= n:
            return True
        time.sleep(0.05)
    return False


def assert_same_outputs(a, b):
    for name in ("districts.csv", "capitals.csv", "daily.csv", "summary.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    with np.load(a / "fall_times.npz") as x, np.load(b / "fall_times.npz") as y:
        for k in x.files:
            assert np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f"), k


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_an_interrupted_run_leaves_no_output_and_resumes_to_identical_results(tmp_path, how):
    out = tmp_path / "run"
    ck = tmp_path / "run.checkpoint"
    proc = subprocess.Popen(afsim_cmd(*RUN, "--out", out), cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_as_at_a_terminal)
    assert wait_for_chunks(ck, 1), "the run never checkpointed"
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if how == "SIGINT":
        assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not out.exists()                                   # nothing half-written
    assert not list(tmp_path.glob(".run.tmp-*"))              # no temporary left in view
    saved = len(list(ck.glob("chunk_*.npz")))
    assert 0 < saved < 30

    again = subprocess.run(afsim_cmd(*RUN, "--out", out), cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr   # not silently restarted
    resumed = subprocess.run(afsim_cmd(*RUN, "--out", out, "--resume"), cwd=ROOT,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not ck.exists()

    ref = tmp_path / "ref"
    clean = subprocess.run(afsim_cmd(*RUN, "--out", ref), cwd=ROOT, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert_same_outputs(out, ref)


def test_a_run_resumed_with_another_chunk_size_is_accepted_and_identical(tmp_path, geo):
    # the chunk size follows the number of workers, so resuming on a machine with more cores
    # must not be refused as "a different run"; chunks that no longer fit are simulated again
    ck = tmp_path / "ck"
    first = sim.run(BASELINE, replicates=60, seed=2, parameters="fixed", geo=geo, chunk_size=20,
                    checkpoint=ck)
    (ck / "chunk_00000040_00000060.npz").unlink()          # as if stopped before the last chunk
    resumed = sim.run(BASELINE, replicates=60, seed=2, parameters="fixed", geo=geo,
                      chunk_size=30, checkpoint=ck, resume=True)
    assert np.array_equal(first.fall_time, resumed.fall_time, equal_nan=True)
    assert np.array_equal(first.daily_counts(), resumed.daily_counts())


def test_reproduce_confirms_a_run_bit_for_bit_and_detects_a_change(tmp_path):
    out = tmp_path / "run"
    # a relative scenario path, as a user types it
    proc = subprocess.run(afsim_cmd("run", "scenarios/baseline.toml", "-n", 80, "--seed", 5,
                                    "--fixed-parameters", "--out", out, "--quiet", "--no-plots"),
                          cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rep = subprocess.run(afsim_cmd("reproduce", out, "--quiet"), cwd=ROOT, capture_output=True,
                         text=True)
    assert rep.returncode == 0 and "bit for bit" in rep.stdout, rep.stdout + rep.stderr
    # the manifest names its files absolutely: reproduce works from another directory too
    rep = subprocess.run(afsim_cmd("reproduce", out, "--quiet"), cwd=tmp_path, capture_output=True,
                         text=True)
    assert rep.returncode == 0 and "bit for bit" in rep.stdout, rep.stdout + rep.stderr
    # tamper with one output: reproduce must notice
    daily = out / "daily.csv"
    daily.write_text(daily.read_text().replace("2021-05-01,73", "2021-05-01,74", 1))
    rep = subprocess.run(afsim_cmd("reproduce", out, "--quiet"), cwd=ROOT, capture_output=True,
                         text=True)
    assert rep.returncode == 1 and "daily.csv" in rep.stdout and "DIFFERS" in rep.stdout


def test_results_files_are_data_not_code():
    """No pickle anywhere: every npz the package reads is opened with allow_pickle=False."""
    sources = "\n".join(p.read_text() for p in (ROOT / "sim").glob("*.py"))
    assert "pickle.load" not in sources and "eval(" not in sources and "exec(" not in sources
    for line in sources.splitlines():
        if "np.load(" in line:
            assert "allow_pickle=False" in line, line


# ================================================================ beyond scenario files
# Calibration configs, targets, posterior CSVs, manifests, checkpoint chunks and command-line
# flags: every malformed input is refused with a one-line UserError (or exit code 2 from the
# CLI) naming the file or flag, and nothing is written.

MORE = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

huge = st.sampled_from([10 ** 19, -(10 ** 19), 10 ** 400, 2 ** 63, 2 ** 64])
anything = st.one_of(scalars, huge, st.lists(scalars, max_size=3),
                     st.dictionaries(names, scalars, max_size=2),
                     st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1)))


@settings(max_examples=75, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slot=st.sampled_from(SLOTS), value=huge)
def test_integers_beyond_the_float_range_in_any_scenario_slot_are_refused(tmp_path, geo, slot,
                                                                          value):
    doc = valid_whatif()
    section, key = slot
    target = doc[section][0] if isinstance(doc[section], list) else doc[section]
    target[key] = value
    path = tmp_path / "huge.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    assert assert_clean(path, geo) is not None


def files_in(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def assert_refused_or_loaded(load, path):
    """``load(path)`` succeeds or raises a one-line UserError naming the file; nothing else."""
    try:
        load(path)
    except UserError as err:
        msg = err.one_line()
        assert str(path) in msg and "\n" not in msg, msg
        return msg
    return None


# ---------------------------------------------------------------- calibration configs

def valid_config(tmp_path) -> dict:
    return {
        "calibration": {"name": "t", "scenario": str(BASELINE),
                        "targets": str(ROOT / "calibration" / "targets.toml"), "seed": 1,
                        "horizon": dt.date(2021, 8, 31)},
        "sampler": {"walkers": 8, "steps": 10, "burn_in": 2, "thin": 1, "checkpoint_every": 2,
                    "initial_design": 16, "search_generations": 2},
        "predictive": {"replicates": 50},
        "stages.rural": {"replicates": 8},
        "stages.rural.parameters": [{"name": "b_pay", "prior": "uniform", "lower": 0.0,
                                     "upper": 3.0, "why": "x"}],
    }


CONFIG_SLOTS = [("calibration", k) for k in ("name", "scenario", "targets", "seed", "horizon")] + \
    [("sampler", k) for k in ("walkers", "steps", "burn_in", "thin", "checkpoint_every",
                              "initial_design", "search_generations")] + \
    [("predictive", "replicates"), ("stages.rural", "replicates"), ("stages.rural", "parameters"),
     ("TOP", "calibration"), ("TOP", "sampler"), ("TOP", "stages"), ("TOP", "predictive")] + \
    [("stages.rural.parameters", k) for k in ("name", "prior", "lower", "upper", "mean", "sd", "why")]


def config_text(doc: dict) -> str:
    top = {k: v for k, v in doc.items() if not isinstance(v, (dict, list))}
    lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
    rest = {k: v for k, v in doc.items() if isinstance(v, (dict, list))}
    return "\n".join(lines) + "\n" + toml_text(rest)


@MORE
@given(slot=st.sampled_from(CONFIG_SLOTS), value=anything)
def test_any_value_in_a_calibration_config_loads_or_fails_cleanly(tmp_path, slot, value):
    doc = valid_config(tmp_path)
    section, key = slot
    if section == "TOP":
        doc.pop(key, None)
        if key == "stages":
            doc.pop("stages.rural", None)
            doc.pop("stages.rural.parameters", None)
        doc = {key: value, **doc} if not isinstance(value, (dict, list)) else doc
    elif isinstance(doc[section], list):
        doc[section][0][key] = value
    elif key == "parameters":
        doc.pop("stages.rural.parameters")
        doc[section][key] = value
    else:
        doc[section][key] = value
    path = tmp_path / "cal.toml"
    path.write_text(config_text(doc), encoding="utf-8")
    before = files_in(tmp_path)
    assert_refused_or_loaded(load_config, path)
    assert files_in(tmp_path) == before


# ---------------------------------------------------------------- targets

def valid_targets() -> dict:
    return {
        "settings": {"capital_bandwidth_days": 0.5, "capital_probability_floor": 0.002},
        "districts": [{"id": "a", "date": dt.date(2021, 5, 31), "districts": 88, "tolerance": 0.05,
                       "weight": 1.0, "source": "s", "why": "w"}],
        "capitals": [{"province": "Nimroz", "capital": "Zaranj", "earliest": dt.date(2021, 8, 6),
                      "latest": dt.date(2021, 8, 6), "weight": 1.0, "source": "s", "why": "w"}],
        "constraints": [{"id": "c", "kind": "no_capital_before", "date": dt.date(2021, 8, 6),
                         "weight": 1.0, "source": "s", "why": "w"}],
    }


TARGET_SLOTS = [("settings", k) for k in ("capital_bandwidth_days", "capital_probability_floor")] + \
    [("districts", k) for k in ("id", "date", "districts", "tolerance", "weight", "source")] + \
    [("capitals", k) for k in ("province", "capital", "earliest", "latest", "weight", "why")] + \
    [("constraints", k) for k in ("id", "kind", "date", "weight")]


@MORE
@given(slot=st.sampled_from(TARGET_SLOTS), value=anything)
def test_any_value_in_a_targets_file_loads_or_fails_cleanly(tmp_path, geo, slot, value):
    from sim.targets import load_targets
    doc = valid_targets()
    section, key = slot
    target = doc[section][0] if isinstance(doc[section], list) else doc[section]
    target[key] = value
    path = tmp_path / "targets.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    assert_refused_or_loaded(lambda p: load_targets(p, geo), path)


@MORE
@given(day=st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)),
       where=st.sampled_from([("capitals", "earliest"), ("constraints", "date"),
                              ("districts", "date")]))
def test_target_dates_outside_the_campaign_are_refused(tmp_path, geo, day, where):
    from sim.targets import load_targets
    from sim.theatre import AFGHANISTAN_2021 as th
    LAST_CUTOFF, DEFAULT_END, START = th.last_cutoff, th.end, th.start
    doc = valid_targets()
    section, key = where
    doc[section][0][key] = day
    if key == "earliest":
        doc[section][0]["latest"] = day
    path = tmp_path / "targets.toml"
    path.write_text(toml_text(doc), encoding="utf-8")
    msg = assert_refused_or_loaded(lambda p: load_targets(p, geo), path)
    hi = LAST_CUTOFF if section == "districts" else DEFAULT_END
    if not START <= day <= hi:
        assert msg is not None and f"{section}[0]" in msg


# ---------------------------------------------------------------- posterior CSVs

cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.integers(-10 ** 6, 10 ** 6).map(str), st.text(max_size=8),
                  st.sampled_from(["", "1e999", "-0", "10.5", "500", "nan", "inf", "1,2", '"']))
posterior_columns = st.lists(st.sampled_from(["base_rate", "b_pay", "initial_fallen",
                                              "assault_ramp_days", "weight", "draw", "nope", ""]),
                             min_size=1, max_size=4)


@MORE
@given(columns=posterior_columns, rows=st.lists(st.lists(cells, min_size=0, max_size=5),
                                                 min_size=0, max_size=4))
def test_any_posterior_csv_loads_valid_values_or_fails_cleanly(tmp_path, columns, rows):
    from sim.parameters import BY_NAME
    from sim.posterior import read_posterior
    path = tmp_path / "post.csv"
    text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    try:
        src = read_posterior(path)
    except UserError as err:
        assert str(path) in err.one_line() and "\n" not in err.one_line()
        return
    # accepted: then every value is a finite number within its bounds (whole where it must be)
    from sim.parameters import NAMES
    assert np.all(np.isfinite(src.rows)) and np.all(np.isfinite(src.weights))
    for j, name in enumerate(NAMES):
        spec = BY_NAME[name]
        col = src.rows[:, j]
        assert np.all((col >= spec.lower) & (col <= spec.upper)), name
        if spec.integer:
            assert np.all(col == np.round(col)), name


@MORE
@given(data=st.binary(max_size=120), encoding=st.sampled_from(["raw", "utf-16", "utf-32"]))
def test_arbitrary_bytes_as_a_posterior_never_crash(tmp_path, data, encoding):
    from sim.posterior import read_posterior
    path = tmp_path / "post.csv"
    if encoding == "raw":
        path.write_bytes(data)
    else:
        path.write_bytes(("b_pay,weight\n1.0,1\n" + data.decode("latin-1")).encode(encoding))
    assert_refused_or_loaded(read_posterior, path)


# ---------------------------------------------------------------- manifests

def valid_manifest() -> dict:
    return {"scenario": "baseline", "scenario_files": [str(BASELINE)],
            "scenario_file_sha256": ["0" * 64], "seed": 1, "replicates": 10,
            "parameter_source_kind": "fixed", "parameter_source_values": {"b_pay": 1.0},
            "engine": "batch", "fall_times_kept": True, "package_version": "0"}


MANIFEST_KEYS = ["scenario_files", "scenario_file_sha256", "seed", "replicates",
                 "parameter_source_kind", "parameter_source_values", "parameter_source_file",
                 "engine", "fall_times_kept", "scenarios"]


@MORE
@given(key=st.sampled_from(MANIFEST_KEYS), value=st.one_of(anything, st.none()),
       drop=st.booleans())
def test_a_corrupted_manifest_is_refused_in_one_line(tmp_path, key, value, drop):
    import json
    from sim.reproduce import _manifest
    m = valid_manifest()
    if drop:
        m.pop(key, None)
    else:
        m[key] = value
    (tmp_path / "manifest.json").write_text(json.dumps(m, default=str))
    msg = assert_refused_or_loaded(_manifest, tmp_path)
    if msg is None:          # accepted: the values reproduce reads are of the right kind
        if "scenario_files" in m:
            assert isinstance(m["seed"], int) and isinstance(m["replicates"], int)


@MORE
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_as_a_manifest_never_crash(tmp_path, data):
    from sim.reproduce import _manifest
    (tmp_path / "manifest.json").write_bytes(data)
    assert assert_refused_or_loaded(_manifest, tmp_path) is not None


# ---------------------------------------------------------------- checkpoint chunks

@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory, geo):
    ck = tmp_path_factory.mktemp("ck") / "run.checkpoint"
    sim.run(BASELINE, replicates=40, seed=4, parameters="fixed", geo=geo, chunk_size=20,
            checkpoint=ck)
    return ck


CHUNK_DAMAGE = ["truncate", "bytes", "zeros", "swap", "shape", "drop_field", "key"]


@MORE
@given(how=st.sampled_from(CHUNK_DAMAGE), cut=st.integers(0, 4000), junk=st.binary(max_size=64))
def test_a_damaged_checkpoint_chunk_is_refused_on_resume(tmp_path, geo, saved_checkpoint, how,
                                                         cut, junk):
    import shutil
    ck = tmp_path / "run.checkpoint"
    if ck.exists():
        shutil.rmtree(ck)
    shutil.copytree(saved_checkpoint, ck)
    a, b = ck / "chunk_00000000_00000020.npz", ck / "chunk_00000020_00000040.npz"
    raw = a.read_bytes()
    if how == "truncate":
        a.write_bytes(raw[:cut % len(raw)])
    elif how == "bytes":
        a.write_bytes(junk)
    elif how == "swap":
        a.write_bytes(b.read_bytes())
        b.write_bytes(raw)
    else:
        with np.load(a, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if how == "zeros":
            d["fall_time"] = np.zeros_like(d["fall_time"])
        elif how == "shape":
            d["fall_time"] = d["fall_time"][:, : 1 + cut % 300]
        elif how == "drop_field":
            d.pop(["mode", "sha256", "start", "end_time"][cut % 4])
        else:
            d["key"] = np.array("0" * 64)
        with open(a, "wb") as fh:
            np.savez(fh, **d)
    with pytest.raises(UserError) as err:
        sim.run(BASELINE, replicates=40, seed=4, parameters="fixed", geo=geo, chunk_size=20,
                checkpoint=ck, resume=True)
    assert "resume=True" in err.value.one_line() and "\n" not in err.value.one_line()


# ---------------------------------------------------------------- command-line flags

def run_cli(argv):
    """sim.cli.main in-process: (exit code, stderr)."""
    import contextlib
    import io
    from sim.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


NUMERIC_FLAGS = {"run": ["--replicates", "--seed", "--workers", "--chunk-size"],
                 "sensitivity": ["--sobol-n", "--sobol-replicates", "--seed", "--workers"],
                 "compare": ["--replicates", "--sobol-n", "--sobol-replicates"]}
def _parses_as_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


bad_numbers = st.one_of(st.integers(max_value=-1), st.integers(min_value=2 ** 63),
                        st.sampled_from(["", "1.5", "1e3", "0x10", "nan", "ten", "-0.0"]),
                        st.text(max_size=6).filter(lambda t: not _parses_as_int(t)))


@MORE
@given(cmd=st.sampled_from(sorted(NUMERIC_FLAGS)), data=st.data(), value=bad_numbers)
def test_bad_numbers_on_the_command_line_exit_2_in_one_line(tmp_path, cmd, data, value):
    flag = data.draw(st.sampled_from(NUMERIC_FLAGS[cmd]))
    out = tmp_path / "out"
    code, err = run_cli([cmd, BASELINE, flag, str(value), "--out", out, "-q"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and files_in(tmp_path) == []


@MORE
@given(text=st.text(max_size=30))
def test_bad_sensitivity_parameter_lists_exit_2(tmp_path, text):
    from sim.parameters import NAMES
    names = text.split(",")
    if len(names) >= 2 and len(set(names)) == len(names) and all(n in NAMES for n in names):
        return
    out = tmp_path / "out"
    code, err = run_cli(["sensitivity", BASELINE, "--parameters", text, "--out", out, "-q"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert files_in(tmp_path) == []
