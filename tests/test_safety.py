"""Issue 12, item by item: nothing a user types may lose data, lie, or crash.

Each test here fails without its fix. They call ``sim.cli.main`` or the Python API in-process
(no subprocess) except where a real process must be killed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.errors import UserError
from sim.output import MARKER, output_lock

from conftest import BASELINE, ROOT

FAST = ["-n", "20", "--fixed-parameters", "--no-plots", "-q"]


def cli(*argv):
    """sim.cli.main in-process: (exit code, stderr)."""
    from sim.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def listing(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ====================================================================== data loss

def test_force_replaces_only_a_folder_afsim_wrote(tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("secret")
    assert_one_line_error(*cli("run", BASELINE, *FAST, "--out", home, "--force"),
                          "not written by afsim")
    assert (home / ".ssh" / "id_ed25519").read_text() == "secret"
    out = tmp_path / "run"
    assert cli("run", BASELINE, *FAST, "--out", out)[0] == 0
    assert (out / MARKER).is_file()
    assert cli("run", BASELINE, *FAST, "--out", out, "--force", "--seed", "2")[0] == 0


def test_force_never_replaces_the_inputs_folder_or_the_current_directory(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "scenarios", project / "scenarios")
    (project / "scenarios" / MARKER).write_text("{}")           # even if it looks like afsim's
    scen = project / "scenarios" / "baseline.toml"
    assert_one_line_error(*cli("run", scen, *FAST, "--out", project / "scenarios", "--force"),
                          "input")
    monkeypatch.chdir(project / "scenarios")
    for out in (".", "..", str(project)):
        assert_one_line_error(*cli("run", "baseline.toml", *FAST, "--out", out, "--force"),
                              "current directory")
    assert (project / "scenarios" / "baseline.toml").is_file()


def test_a_second_run_to_the_same_output_gets_a_one_line_error(tmp_path):
    out = tmp_path / "run"
    with output_lock(out):             # as if another process were running
        # a real second process sees the lock (flock is per open file, so in-process too)
        proc = subprocess.run([sys.executable, "-m", "sim", "run", str(BASELINE), *FAST,
                               "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
        assert_one_line_error(proc.returncode, proc.stderr, "another afsim run")
        proc = subprocess.run([sys.executable, "-m", "sim", "run", str(BASELINE), *FAST,
                               "--out", str(out), "--resume"], cwd=ROOT, capture_output=True,
                              text=True)
        assert_one_line_error(proc.returncode, proc.stderr, "another afsim run")
    assert not out.exists()
    assert cli("run", BASELINE, *FAST, "--out", out)[0] == 0       # the lock is released
    assert not (tmp_path / "run.lock").exists()


# ====================================================================== wrong results

@pytest.mark.parametrize("text,key", [
    ("b_pay\nnan\n", "b_pay"), ("b_pay\ninf\n", "b_pay"), ("base_rate\n-0.1\n", "base_rate"),
    ("b_pay\n99\n", "b_pay"), ("initial_fallen\n10.5\n", "initial_fallen"),
    ("initial_fallen\n-5\n", "initial_fallen"), ("initial_fallen\n500\n", "initial_fallen"),
    ("b_pay,b_pay\n1,2\n", "b_pay"), ("b_pay,b_air\n1\n", "truncated"),
    ("b_pay,weight\n1,1e308\n1,1e308\n", "weight"), ("b_pay\n1e999\n", "b_pay"),
])
def test_every_posterior_cell_is_validated(tmp_path, text, key):
    from sim.posterior import read_posterior
    path = tmp_path / "post.csv"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_posterior(path)
    assert key in err.value.one_line() and str(path) in err.value.one_line()


def test_a_utf16_posterior_is_refused(tmp_path):
    path = tmp_path / "post.csv"
    path.write_text("b_pay,weight\n1.0,1\n", encoding="utf-16")
    assert_one_line_error(*cli("run", BASELINE, "-n", "5", "--posterior", path, "--out",
                               tmp_path / "o", "-q"), "UTF-8")
    assert not (tmp_path / "o").exists()


def test_sensitivity_is_the_same_bytes_with_the_same_seed(tmp_path):
    # scipy's own bootstrap drew from fresh entropy: the intervals differed on every run
    assert cli("sensitivity", BASELINE, "--parameters", "b_pay,b_air", "--sobol-n", 8,
               "--sobol-replicates", 2, "--workers", 1, "--fixed-parameters", "-q", "--out",
               tmp_path / "s1")[0] == 0
    assert cli("sensitivity", BASELINE, "--parameters", "b_pay,b_air", "--sobol-n", 8,
               "--sobol-replicates", 2, "--workers", 1, "--fixed-parameters", "-q", "--out",
               tmp_path / "s2")[0] == 0
    for name in ("sensitivity.csv", "sensitivity.png"):
        assert (tmp_path / "s1" / name).read_bytes() == (tmp_path / "s2" / name).read_bytes()


def test_calibration_log_probability_does_not_depend_on_how_points_are_batched(geo):
    """--workers 1 evaluates a step's walkers as one batch, --workers 2 as two halves."""
    from sim.calibrate import (Evaluator, StageProblem, _model_for, _stage_horizon,
                               load_config)
    from sim.likelihood import Likelihood
    from sim.parameters import NAMES
    from sim.randomness import draw_batch
    from sim.scenario import load_scenario
    from sim.targets import load_targets
    cfg = load_config(ROOT / "calibration" / "default.toml")
    scen, targets = load_scenario(cfg.scenario_path, geo), load_targets(cfg.targets_path, geo)
    stage = [s for s in cfg.stages if s.name == "capitals"][0]
    R = 8
    base = np.tile(np.array([scen.parameters()[n] for n in NAMES]), (R, 1))
    problem = StageProblem(_model_for(scen, geo, _stage_horizon(stage.name, targets, cfg)), base,
                           draw_batch(1, range(R), geo.n),
                           np.array([NAMES.index(n) for n in stage.names]), stage.priors,
                           Likelihood.build(targets.for_stage(stage.name), geo))
    rng = np.random.default_rng(0)
    Z = np.column_stack([p.from_unit(rng.random(6)) for p in stage.priors])
    ev = Evaluator(problem, 1)
    whole = ev.log_prob(Z)
    halves = np.concatenate([ev.log_prob(part) for part in np.array_split(Z, 2)])
    singles = np.concatenate([ev.log_prob(Z[k:k + 1]) for k in range(len(Z))])
    assert np.array_equal(whole, halves) and np.array_equal(whole, singles)


@pytest.fixture
def small_run(tmp_path):
    out = tmp_path / "run"
    assert cli("run", BASELINE, *FAST, "--seed", 5, "--out", out)[0] == 0
    return out


def reproduce_cli(folder):
    from sim.cli import main
    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        code = main(["reproduce", str(folder), "-q"])
    return code, buf.getvalue() + err.getvalue()


def test_reproduce_detects_a_deleted_fall_times_file(small_run):
    assert reproduce_cli(small_run)[0] == 0
    (small_run / "fall_times.npz").unlink()
    code, text = reproduce_cli(small_run)
    assert code == 1 and "fall_times.npz" in text and "MISSING" in text


@pytest.mark.parametrize("edit", ["parameters", "scenario", "seed_kept_hash"])
def test_reproduce_detects_an_edited_manifest(small_run, edit):
    path = small_run / "manifest.json"
    m = json.loads(path.read_text())
    if edit == "parameters":
        m["parameters"]["b_pay"] = 0.5
        m["parameter_source_values"]["b_pay"] = 0.5
    elif edit == "scenario":
        m["scenario"] = "salaries_paid"
    else:                              # an edit that also recomputes the self-hash
        from sim.reproduce import manifest_digest
        m["parameters"]["b_air"] = 0.1
        m["manifest_sha256"] = manifest_digest(m)
    path.write_text(json.dumps(m))
    code, text = reproduce_cli(small_run)
    assert code == 1 and "manifest.json" in text and "NOT reproduced" in text


def test_reproduce_refuses_an_emptied_hash(small_run):
    path = small_run / "manifest.json"
    m = json.loads(path.read_text())
    m["scenario_file_sha256"] = [""]
    path.write_text(json.dumps(m))
    assert_one_line_error(*reproduce_cli(small_run), "scenario_file_sha256")


@pytest.mark.parametrize("body", ["[]", "{", '{"scenario_files": 5, "scenario_file_sha256": [], '
                                  '"seed": 1, "replicates": 1, "parameter_source_kind": "fixed"}',
                                  "\x00\x01", '"x"'])
def test_reproduce_refuses_a_corrupted_manifest_in_one_line(tmp_path, body):
    (tmp_path / "manifest.json").write_text(body)
    assert_one_line_error(*reproduce_cli(tmp_path), "manifest.json")


def test_reproduce_on_a_compare_folder_reproduces_each_scenario(tmp_path):
    out = tmp_path / "cmp"
    code, err = cli("compare", BASELINE, ROOT / "scenarios" / "salaries_paid.toml", "-n", 20,
                    "--fixed-parameters", "--no-plots", "--no-sensitivity", "--no-animation",
                    "-q", "--out", out)
    assert code == 0, err
    code, text = reproduce_cli(out)
    assert code == 0 and "baseline/daily.csv" in text and "salaries_paid/daily.csv" in text, text


def test_checkpoint_chunks_replaced_by_zeros_or_swapped_are_refused(tmp_path, geo):
    ck = tmp_path / "ck"
    sim.run(BASELINE, replicates=40, seed=2, parameters="fixed", geo=geo, chunk_size=20,
            checkpoint=ck)
    a, b = ck / "chunk_00000000_00000020.npz", ck / "chunk_00000020_00000040.npz"
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(raw_b)
    b.write_bytes(raw_a)
    with pytest.raises(UserError, match="swapped"):
        sim.run(BASELINE, replicates=40, seed=2, parameters="fixed", geo=geo, chunk_size=20,
                checkpoint=ck, resume=True)
    a.write_bytes(raw_a)
    b.write_bytes(raw_b)
    with np.load(b) as z:
        d = {k: z[k] for k in z.files}
    d["fall_time"] = np.zeros_like(d["fall_time"])
    np.savez(b, **d)
    with pytest.raises(UserError, match="sha256"):
        sim.run(BASELINE, replicates=40, seed=2, parameters="fixed", geo=geo, chunk_size=20,
                checkpoint=ck, resume=True)
    b.write_bytes(raw_b[: len(raw_b) // 2])                       # truncated
    with pytest.raises(UserError, match="truncated"):
        sim.run(BASELINE, replicates=40, seed=2, parameters="fixed", geo=geo, chunk_size=20,
                checkpoint=ck, resume=True)


SCEN_HEAD = f'[scenario]\nname = "x"\ndescription = "d"\nbase = "{BASELINE}"\n'


@pytest.mark.parametrize("body,needle", [
    ('[scenario]\nname = "x\\n"\ndescription = "d"\n', "scenario.name"),
    (SCEN_HEAD + '[parameters]\ninitial_fallen = {scale = 0.5}\n', "whole number"),
    (SCEN_HEAD + '[[timeline.add]]\nid = "e\\n"\ndate = 2021-06-01\ndriver = "pay_arrears"\n'
     'value = 1\nsource = "s"\n', "timeline.add[0].id"),
])
def test_accepted_nonsense_in_scenarios_is_refused(tmp_path, geo, body, needle):
    from sim.scenario import load_scenario
    path = tmp_path / "s.toml"
    path.write_text(body)
    with pytest.raises(UserError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_scenario(path, geo)


def targets_text(**over) -> str:
    cap = {"earliest": "2021-08-06", "latest": "2021-08-06", "id": '"c"', "date": "2021-08-06"}
    cap.update(over)
    return ("[settings]\ncapital_bandwidth_days = 0.5\ncapital_probability_floor = 0.002\n"
            '[[districts]]\nid = "a"\ndate = 2021-05-31\ndistricts = 88\ntolerance = 0.05\n'
            'weight = 1\n'
            f'[[capitals]]\nprovince = "Nimroz"\nearliest = {cap["earliest"]}\n'
            f'latest = {cap["latest"]}\nweight = 1\n'
            f'[[constraints]]\nid = {cap["id"]}\nkind = "no_capital_before"\n'
            f'date = {cap["date"]}\nweight = 1\n')


@pytest.mark.parametrize("over,key", [
    ({"earliest": "1990-08-06", "latest": "1990-08-06"}, "capitals[0].earliest"),
    ({"latest": "2099-08-06"}, "capitals[0].latest"),
    ({"date": "1990-01-01"}, "constraints[0].date"),
    ({"id": '"c\\n"'}, "constraints[0].id"),
])
def test_target_dates_outside_the_campaign_and_bad_ids_are_refused(tmp_path, geo, over, key):
    from sim.targets import load_targets
    path = tmp_path / "t.toml"
    path.write_text(targets_text(**over))
    with pytest.raises(UserError) as err:
        load_targets(path, geo)
    assert key in err.value.one_line()


def test_map_scenario_and_sensitivity_parameters_are_checked_before_simulating(tmp_path,
                                                                             monkeypatch):
    import importlib
    compare_module = importlib.import_module("sim.compare")
    sensitivity_module = importlib.import_module("sim.sensitivity")

    def boom(*a, **k):
        raise AssertionError("simulated before checking the flags")
    monkeypatch.setattr(compare_module, "run", boom)
    monkeypatch.setattr(sensitivity_module, "simulate_sets", boom)
    whatif = ROOT / "scenarios" / "salaries_paid.toml"
    assert_one_line_error(*cli("compare", BASELINE, whatif, "--map-scenario", "nope", "-q",
                               "--out", tmp_path / "c"), "--map-scenario", "nope")
    assert_one_line_error(*cli("compare", BASELINE, whatif, "--sobol-n", 12, "-q",
                               "--out", tmp_path / "c"), "--sobol-n", "power of 2")
    for bad in ("", "b_pay,b_pay", "b_pay", "b_pay,,b_air", "b_pay,nope"):
        assert_one_line_error(*cli("sensitivity", BASELINE, "--parameters", bad, "-q", "--out",
                                   tmp_path / "s"), "--parameters")
    bad_geojson = tmp_path / "b.geojson"
    bad_geojson.write_text('{"type": "FeatureCollection", "features": [{"properties": '
                           '{"ADM2_PCODE": "AF0101"}, "geometry": {"type": "Polygon", '
                           '"coordinates": [[1, 2]]}}]}')
    assert_one_line_error(*cli("compare", BASELINE, whatif, "--boundaries", bad_geojson, "-q",
                               "--out", tmp_path / "c"), str(bad_geojson))
    assert listing(tmp_path) == ["b.geojson"]


# ====================================================================== tracebacks

def _scenario(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_hostile_scenario_files_are_one_line_errors(tmp_path):
    cases = {
        "huge.toml": SCEN_HEAD + f"[parameters]\nb_pay = {10 ** 400}\n",
        "digits.toml": SCEN_HEAD + f"[parameters]\nb_pay = {'1' * 4400}\n",
        "deep.toml": SCEN_HEAD + "[run]\nend = " + "[" * 3000 + "]" * 3000 + "\n",
    }
    for name, text in cases.items():
        path = _scenario(tmp_path, text, name)
        assert_one_line_error(*cli("run", path, *FAST, "--out", tmp_path / "o"), name)
    for k in range(1200):                               # a chain of 1,200 base files
        nxt = f"c{k + 1}.toml" if k < 1199 else str(BASELINE)
        _scenario(tmp_path, f'[scenario]\nname = "c{k}"\ndescription = "d"\nbase = "{nxt}"\n',
                  f"c{k}.toml")
    assert_one_line_error(*cli("run", tmp_path / "c0.toml", *FAST, "--out", tmp_path / "o"),
                          "base")
    loop = tmp_path / "loop.toml"
    os.symlink(loop, loop)
    assert_one_line_error(*cli("run", loop, *FAST, "--out", tmp_path / "o"), "loop.toml")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert_one_line_error(*cli("run", fifo, *FAST, "--out", tmp_path / "o"), "not a regular file")
    assert_one_line_error(*cli("run", "/dev/zero", *FAST, "--out", tmp_path / "o"),
                          "not a regular file")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.checkpoint").exists()


def test_bad_output_locations_are_one_line_errors(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, needle in [(a_file / "out", "is a file"), ("/proc/nope/out", "--out"),
                        (tmp_path / ("a" * 300), "bytes"), ("/", "root"),
                        ("/proc", "mount point")]:
        assert_one_line_error(*cli("run", BASELINE, *FAST, "--out", out, "--force"), needle)
    assert_one_line_error(*cli("run", BASELINE, *FAST, "-n", 18446744073709551616, "--out",
                               tmp_path / "o"), "--replicates")
    assert listing(tmp_path) == ["file"]


def test_an_output_on_a_read_only_file_system_is_refused_before_simulating(tmp_path,
                                                                          monkeypatch):
    import importlib
    output = importlib.import_module("sim.output")
    monkeypatch.setattr(output.os, "access", lambda path, mode: False)   # as EROFS makes it
    assert_one_line_error(*cli("run", BASELINE, *FAST, "--out", tmp_path / "ro" / "run"),
                          "not writable")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("where", ["output", "checkpoint"])
def test_a_full_disk_leaves_no_output_checkpoint_or_temporary(tmp_path, monkeypatch, where):
    import errno
    import importlib

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    if where == "output":
        monkeypatch.setattr(importlib.import_module("sim.results"), "write_csv", full)
    else:
        monkeypatch.setattr(importlib.import_module("sim.checkpoint").np, "savez", full)
    assert_one_line_error(*cli("run", BASELINE, *FAST, "--out", tmp_path / "o"), "disk is full")
    assert listing(tmp_path) == []


CAL = {"calibration": f'name = "t"\nscenario = "{BASELINE}"\n'
                      f'targets = "{ROOT / "calibration" / "targets.toml"}"\nseed = 1\n',
       "sampler": "walkers = 8\nsteps = 4\n",
       "rural": 'replicates = 8\n[[stages.rural.parameters]]\nname = "b_pay"\nprior = "uniform"\n'
                'lower = 0\nupper = 1\nwhy = "x"\n'}


@pytest.mark.parametrize("text,key", [
    ("calibration = 5\n[sampler]\n{sampler}[stages.rural]\n{rural}", "calibration"),
    ("[calibration]\n{calibration}[sampler]\n{sampler}[stages]\nrural = 5\n", "stages.rural"),
    ("[calibration]\n{calibration}[sampler]\n{sampler}[stages.rural]\nreplicates = 8\n"
     "parameters = 5\n", "stages.rural.parameters"),
    ("[calibration]\n{calibration}horizon = 2021-08-31T10:00:00\n[sampler]\n{sampler}"
     "[stages.rural]\n{rural}", "calibration.horizon"),
    ("[calibration]\n{calibration}[sampler]\n{sampler}initial_design = 4\n[stages.rural]\n{rural}",
     "sampler.initial_design"),
    ("[calibration]\n{calibration}[sampler]\nwalkers = 2\nsteps = 4\n[stages.rural]\n{rural}",
     "sampler.walkers"),
    ("[calibration]\n{calibration}[sampler]\n{sampler}[stages.rural]\n{rural}".replace(
        "{calibration}", CAL["calibration"].replace('name = "t"', 'name = "t\\n"')),
     "calibration.name"),
])
def test_bad_calibration_configs_are_one_line_errors(tmp_path, text, key):
    path = tmp_path / "cal.toml"
    path.write_text(text.format(**CAL))
    code, err = cli("calibrate", path, "--out", tmp_path / "o", "-q")
    assert_one_line_error(code, err, key)
    assert listing(tmp_path) == ["cal.toml"]


def test_targets_with_no_district_counts_are_refused_before_calibrating(tmp_path):
    targets = tmp_path / "t.toml"
    targets.write_text("[settings]\ncapital_bandwidth_days = 0.5\ncapital_probability_floor = 0.002\n"
                       '[[capitals]]\nprovince = "Nimroz"\nearliest = 2021-08-06\n'
                       "latest = 2021-08-06\nweight = 1\n")
    cfg = tmp_path / "cal.toml"
    cfg.write_text(f'[calibration]\nname = "t"\nscenario = "{BASELINE}"\ntargets = "{targets}"\n'
                   'seed = 1\n[sampler]\nwalkers = 8\nsteps = 4\n[stages.rural]\nreplicates = 8\n'
                   '[[stages.rural.parameters]]\nname = "b_pay"\nprior = "uniform"\nlower = 0\n'
                   'upper = 1\nwhy = "x"\n')
    assert_one_line_error(*cli("calibrate", cfg, "--out", tmp_path / "o", "-q"), "districts")
    assert listing(tmp_path) == ["cal.toml", "t.toml"]


# ====================================================================== processes and leftovers

def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                    reason="needs Linux and two cores")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_parent(tmp_path, how):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(BASELINE), "-n", "6000",
                             "--chunk-size", "200", "--workers", "2", "--fixed-parameters",
                             "--no-plots", "-q", "--no-fall-times", "--out", str(out)], cwd=ROOT)
    deadline = time.monotonic() + 60
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = [c for c in _children(proc.pid) if _alive(c)]
        time.sleep(0.1)
    assert len(workers) >= 2, "the pool never started"
    while time.monotonic() < deadline and not list((tmp_path / "run.checkpoint").glob("chunk_*")):
        time.sleep(0.1)                 # the workers have initialised (and asked to die with us)
    proc.send_signal(how)
    assert proc.wait(timeout=30) == (-how if how == signal.SIGKILL else 143)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "workers outlived their parent"
    assert not out.exists() and not list(tmp_path.glob(".run.tmp-*"))


def test_workers_are_capped_at_the_chunks_and_cores(monkeypatch, geo):
    import sim.ensemble
    from sim.workers import usable_workers
    assert usable_workers(64, 4) <= min(4, os.cpu_count() or 1)
    seen = []

    class Recorder(sim.ensemble.ProcessPoolExecutor):
        def __init__(self, max_workers=None, **kw):
            seen.append(max_workers)
            super().__init__(max_workers=max_workers, **kw)
    monkeypatch.setattr(sim.ensemble, "ProcessPoolExecutor", Recorder)
    sim.run(BASELINE, replicates=40, seed=1, parameters="fixed", geo=geo, chunk_size=20,
            workers=64)
    assert all(w <= min(2, os.cpu_count() or 1) for w in seen)


def test_stale_temporaries_are_removed_by_the_next_run(tmp_path):
    other = tmp_path / ".run.tmp-other"      # another output's: '.r*.tmp-*' as a glob matches it
    other.mkdir()
    assert cli("run", BASELINE, *FAST, "--out", tmp_path / "r*")[0] == 0
    assert other.exists()
    shutil.rmtree(tmp_path / "r*")
    other.rmdir()
    stale = tmp_path / ".run.tmp-dead1234"
    (stale / "plots").mkdir(parents=True)
    (stale / "fall_times.npz").write_bytes(b"x" * 1000)
    assert cli("run", BASELINE, *FAST, "--out", tmp_path / "run")[0] == 0
    assert not stale.exists()
    assert listing(tmp_path) == ["run"] + [f"run/{n}" for n in listing(tmp_path / "run")]


def test_a_bad_scheduler_leaves_no_checkpoint(tmp_path):
    out = tmp_path / "run"
    code, err = cli("run", BASELINE, *FAST, "--out", out, "--scheduler", "nope://0")
    assert_one_line_error(code, err, "--scheduler")
    assert listing(tmp_path) == []
    code, err = cli("compare", BASELINE, *FAST, "--no-sensitivity", "--out", tmp_path / "c",
                    "--scheduler", "nope://0")
    assert_one_line_error(code, err, "--scheduler")
    assert listing(tmp_path) == []
    assert cli("run", BASELINE, *FAST, "--out", out)[0] == 0        # the next plain run works


def test_output_folders_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert cli("run", BASELINE, *FAST, "--out", tmp_path / "run")[0] == 0
    finally:
        os.umask(old)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755


def test_a_damaged_calibration_checkpoint_is_a_one_line_error_on_resume(tmp_path):
    import importlib

    import emcee
    from sim.calibrate import load_config
    from sim.cli import _check_calibration_checkpoint
    cal = importlib.import_module("sim.calibrate")
    path = tmp_path / "cal.toml"
    path.write_text("[calibration]\n{calibration}[sampler]\n{sampler}[stages.rural]\n{rural}"
                    .format(**CAL))
    config = load_config(path)
    out = tmp_path / "o"
    ck = tmp_path / "o.checkpoint" / "stage_rural.npz"
    ck.parent.mkdir()
    W = config.walkers
    rs = np.random.RandomState(1).get_state()
    state = emcee.State(np.zeros((W, 1)), log_prob=np.zeros(W), random_state=rs)
    cal._save_checkpoint(ck, "key", [np.zeros((W, 1))] * 2, [np.zeros(W)] * 2, np.zeros(W), state)
    _check_calibration_checkpoint(out, config)                  # a sound one passes
    raw = ck.read_bytes()
    for damaged in (raw[: len(raw) // 2], b"junk"):
        ck.write_bytes(damaged)
        assert_one_line_error(*cli("calibrate", path, "--out", out, "--resume", "-q"),
                              "stage_rural.npz", "--resume")
    state = emcee.State(np.zeros((W, 3)), log_prob=np.zeros(W), random_state=rs)   # wrong shape
    cal._save_checkpoint(ck, "key", [np.zeros((W, 3))], [np.zeros(W)], np.zeros(W), state)
    assert_one_line_error(*cli("calibrate", path, "--out", out, "--resume", "-q"),
                          "does not fit this config")


def test_a_forecasts_longer_checkpoint_resumes_only_as_a_forecast(tmp_path):
    """A stage with ``forecast_steps`` saves longer chains in a forecast: resuming it as a forecast
    is accepted, resuming the same chains as a full calibration (the sampler's steps) is not."""
    import importlib

    import emcee
    from sim.calibrate import load_config
    from sim.cli import _check_calibration_checkpoint
    cal = importlib.import_module("sim.calibrate")
    path = tmp_path / "cal.toml"
    path.write_text("[calibration]\n{calibration}[sampler]\n{sampler}[stages.rural]\nforecast_steps = 12\n{rural}"
                    .format(**CAL))
    config = load_config(path)
    assert config.steps == 4 and config.stages[0].forecast_steps == 12
    ck = tmp_path / "o.checkpoint" / "stage_rural.npz"
    ck.parent.mkdir()
    W = config.walkers
    state = emcee.State(np.zeros((W, 1)), log_prob=np.zeros(W),
                        random_state=np.random.RandomState(1).get_state())
    cal._save_checkpoint(ck, "key", [np.zeros((W, 1))] * 8, [np.zeros(W)] * 8, np.zeros(W), state)
    _check_calibration_checkpoint(tmp_path / "o", config, forecast=True)
    with pytest.raises(UserError, match="does not fit this config"):
        _check_calibration_checkpoint(tmp_path / "o", config)
