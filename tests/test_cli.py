"""The command line end to end: the output contract, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import BASELINE, ROOT

CONTRACT = {
    "districts.csv": ["pcode", "name", "province", "p_fall", "fall_date_q05", "fall_date_q50",
                      "fall_date_q95", "p_negotiated"],
    "capitals.csv": ["province", "capital", "pcode", "p_fall", "fall_date_q05", "fall_date_q25",
                     "fall_date_q50", "fall_date_q75", "fall_date_q95", "historical_fall_date"],
    "daily.csv": ["date", "fallen_q05", "fallen_q25", "fallen_q50", "fallen_q75", "fallen_q95",
                  "fallen_mean", "capitals_fallen_q50"],
}


def afsim(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def read_csv(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "baseline"
    proc = afsim("run", BASELINE, "--replicates", 30, "--seed", 1, "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    return out


def test_run_writes_every_file_and_column_of_the_contract(run_dir):
    for name, columns in CONTRACT.items():
        fields, rows = read_csv(run_dir / name)
        assert fields[:len(columns)] == columns or set(columns) <= set(fields), name
        assert rows, name
    _, districts = read_csv(run_dir / "districts.csv")
    assert len(districts) == 399
    assert all(0.0 <= float(r["p_fall"]) <= 1.0 for r in districts)
    _, caps = read_csv(run_dir / "capitals.csv")
    assert len(caps) == 34
    assert sum(1 for r in caps if r["historical_fall_date"]) == 33
    _, daily = read_csv(run_dir / "daily.csv")
    assert daily[0]["date"] == "2021-05-01" and daily[-1]["date"] == "2021-12-31"
    med = [int(r["fallen_q50"]) for r in daily]
    assert med == sorted(med)                                  # control only grows
    for r in daily:
        assert int(r["fallen_q05"]) <= int(r["fallen_q50"]) <= int(r["fallen_q95"])

    manifest = json.loads((run_dir / "manifest.json").read_text())
    for key in ("scenario", "scenario_file_sha256", "parameters", "seed", "replicates",
                "package_version", "start_date", "end_date"):
        assert key in manifest, key
    assert manifest["seed"] == 1 and manifest["replicates"] == 30
    assert manifest["start_date"] == "2021-05-01" and manifest["end_date"] == "2021-12-31"

    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0.0 <= summary["kabul_p_fall"] <= 1.0
    assert set(summary["kabul_fall_date"]) == {"q05", "q25", "q50", "q75", "q95"}
    assert "capitals_fallen_by_2021_08_15_q50" in summary

    npz = np.load(run_dir / "fall_times.npz", allow_pickle=False)
    assert npz["fall_time"].shape == (30, 399)
    assert npz["mode"].shape == (30, 399)
    assert list(npz["pcode"]) == [r["pcode"] for r in districts]
    ft = npz["fall_time"]
    assert np.all((ft[np.isfinite(ft)] >= 0) & (ft[np.isfinite(ft)] < 245))

    for png in ("districts_fan.png", "capitals.png"):
        path = run_dir / "plots" / png
        assert path.stat().st_size > 20_000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_summary_measures_the_collapse_at_kabuls_fall_from_the_fall_times(run_dir, geo):
    """summary.json's coherence figures (and the CLI's second line) are the medians, over the
    replicates where Kabul falls, of the other capitals fallen strictly before it and of the
    districts still held then: recomputed here from the raw fall times."""
    summary = json.loads((run_dir / "summary.json").read_text())
    npz = np.load(run_dir / "fall_times.npz", allow_pickle=False)
    assert list(npz["pcode"]) == list(geo.pcodes)
    ft = np.where(np.isnan(npz["fall_time"]), np.inf, npz["fall_time"])
    kabul = ft[:, geo.kabul_row]
    falls = np.isfinite(kabul)
    assert falls.sum() >= 15                     # the baseline: Kabul falls in most replicates
    before = ft[falls] < kabul[falls, None]
    others = geo.capital_rows[geo.capital_rows != geo.kabul_row]
    assert summary["capitals_fallen_before_kabul_q50"] == float(
        np.median(before[:, others].sum(axis=1)))
    before[:, geo.kabul_row] = False
    assert summary["districts_held_at_kabul_fall_q50"] == float(
        np.median(geo.n - 1 - before.sum(axis=1)))
    assert 0 <= summary["capitals_fallen_before_kabul_q50"] <= 33


def test_tables_agree_with_the_fall_times(run_dir):
    npz = np.load(run_dir / "fall_times.npz")
    ft = npz["fall_time"]
    _, districts = read_csv(run_dir / "districts.csv")
    p_fall = np.isfinite(ft).mean(axis=0)
    np.testing.assert_allclose([float(r["p_fall"]) for r in districts], p_fall)
    _, daily = read_csv(run_dir / "daily.csv")
    end_of_july = next(i for i, r in enumerate(daily) if r["date"] == "2021-07-31")
    counts = (ft < end_of_july + 1).sum(axis=1)
    assert float(daily[end_of_july]["fallen_mean"]) == pytest.approx(counts.mean(), abs=1e-3)


@pytest.mark.parametrize("args,needle", [
    (["run", "no/such/file.toml"], "file not found"),
    (["run", BASELINE, "--replicates", "0"], "--replicates"),
    (["run", BASELINE, "--replicates", "many"], "whole number"),
    (["run", BASELINE, "--seed", "-4"], "seed"),
    (["run", BASELINE, "--posterior", "no/such.csv"], "posterior file not found"),
    (["compare", BASELINE, "--condition-on", "no/such/targets.toml"], "not found"),
    (["compare", BASELINE, "--condition-on", ROOT / "calibration" / "targets.toml",
      "--replicates-per-draw", "1"], "--replicates-per-draw"),
])
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, args, needle):
    out = tmp_path / "out"
    proc = afsim(*args, "--out", out)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_an_existing_output_folder_needs_force(run_dir):
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    proc = afsim("run", BASELINE, "--replicates", 5, "--out", run_dir, "--quiet")
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before


def test_api_reads_a_posterior_by_its_path():
    """A notebook user runs a structure's posterior in one call, as ``afsim run --posterior``
    does: the path (a Path or a string ending in .csv) gives the same run as the source read
    from it, and differs from the committed posterior's."""
    import sim
    from sim.posterior import read_posterior
    path = ROOT / "calibration" / "structures" / "seed7" / "posterior.csv"
    kabul = [sim.run(BASELINE, replicates=20, parameters=p).kabul_fall_time
             for p in (path, str(path), read_posterior(path), None)]
    np.testing.assert_array_equal(kabul[0], kabul[2])
    np.testing.assert_array_equal(kabul[1], kabul[2])
    assert not np.array_equal(kabul[0], kabul[3], equal_nan=True)


def test_api_errors_name_the_argument_and_the_cli_names_the_flag(tmp_path, capsys):
    """Issue 13 item 3: the Python API speaks of its arguments, the command line of its flags."""
    import sim
    from sim.cli import main
    from sim.errors import UserError
    from sim.output import check_output_dir
    with pytest.raises(UserError) as err:
        sim.run(BASELINE, parameters="posterior")
    assert str(err.value) == ("argument 'parameters': unknown parameter source 'posterior'; "
                              "allowed: default, fixed, or the path of a posterior CSV")
    with pytest.raises(UserError) as err:
        sim.run(BASELINE, parameters=str(tmp_path / "missing.csv"))
    assert "posterior file not found" in str(err.value) and "missing.csv" in str(err.value)
    with pytest.raises(UserError) as err:
        sim.run(BASELINE, replicates=0)
    assert str(err.value).startswith("argument 'replicates': ") and "--" not in str(err.value)
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    with pytest.raises(UserError) as err:
        check_output_dir(full, force=False)
    message = str(err.value)
    assert "argument 'out'" in message and "force=True" in message and "--" not in message
    # the same error from the command line: the flags, exit code 2
    assert main(["run", str(BASELINE), "--replicates", "2", "--out", str(full), "--quiet"]) == 2
    line = capsys.readouterr().err.strip()
    assert "option '--out'" in line and "pass --force to replace it or choose another --out" in line
    assert "force=True" not in line and "argument '" not in line
    # a flag that is not the argument's name: forecast's cut-off date out of range
    assert main(["forecast", "--as-of", "2021-05-02", "--config",
                 str(ROOT / "calibration" / "default.toml"), "--out", str(tmp_path / "f"),
                 "--quiet"]) == 2
    line = capsys.readouterr().err.strip()
    assert "option '--as-of'" in line and "as_of" not in line, line


def test_the_cli_maps_api_arguments_to_flags():
    from sim.cli import flag_of
    assert flag_of("replicates_per_draw") == "--replicates-per-draw"
    assert flag_of("resume=True") == "--resume"
    assert flag_of("plots=False") == "--no-plots"
    assert flag_of("keep_fall_times=False") == "--no-fall-times"
    assert flag_of("checkpoint") == "--out"
    assert flag_of("engine='simpy'") == "--engine simpy"


def test_set_default_writes_only_into_a_project_folder(tmp_path):
    """Issue 14: --set-default never writes into an installed copy (site-packages)."""
    from sim.calibration_output import default_posterior_target
    from sim.errors import UserError
    project = tmp_path / "proj"
    (project / "sim" / "data").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert default_posterior_target(project / "sim") == project / "sim" / "data" / "posterior.csv"
    installed = tmp_path / "lib" / "python3.11" / "site-packages" / "sim"
    installed.mkdir(parents=True)
    with pytest.raises(UserError, match="installed copy"):
        default_posterior_target(installed)
    bare = tmp_path / "bare" / "sim"
    bare.mkdir(parents=True)
    with pytest.raises(UserError, match="installed copy"):
        default_posterior_target(bare)


def test_an_interrupt_says_how_to_resume_when_a_checkpoint_was_left(tmp_path, monkeypatch, capsys):
    """Issue 14 item 7: Ctrl-C prints how to resume (the same command with --resume)."""
    import sim.cli as cli
    out = tmp_path / "run"
    (tmp_path / "run.checkpoint").mkdir()

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "cmd_run", interrupted)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), interrupted))
    code = cli.main(["run", str(BASELINE), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 130 and "--resume" in err and "run.checkpoint" in err


def _with_func(parser, func):
    parser.set_defaults(func=func)
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for p in sub.choices.values():
        p.set_defaults(func=func)
    return parser
