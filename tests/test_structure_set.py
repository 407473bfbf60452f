"""The structure set file (sim.structure_set): what the main command pools, as data.

The set must give the comparison the explicit ``--structure`` options give (the same numbers, to
the bit), and every mistake in it must be one line naming the file and the key, exit code 2,
before anything runs.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from sim.errors import UserError
from sim.structure_set import load_structure_set

ROOT = Path(__file__).resolve().parents[1]
POOLED = ROOT / "calibration" / "structures" / "pooled.toml"
BASELINE = ROOT / "scenarios" / "baseline.toml"
POSTERIOR = ROOT / "sim" / "data" / "posterior.csv"


def test_the_shipped_set_lists_sixteen_calibrated_posteriors_each_with_its_reasons():
    listed = load_structure_set(POOLED)
    assert len(listed.structures) == 16 and len(set(listed.names)) == 16
    for s in listed.structures:
        assert s.posterior.is_file() and s.posterior.name == "posterior.csv", s.name
        # every pooled posterior is a kept calibration: its fit report beside it
        assert (s.posterior.parent / "fit_report.json").is_file(), s.name
        assert s.differs and s.why, s.name
    assert list(listed.baselines()) == ["arrears_earlier"]
    assert len(listed.sha256) == 64


def _set(tmp_path: Path, body: str, name: str = "set.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def _posterior_folder(tmp_path: Path, name: str, baseline: bool = False) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(POSTERIOR, folder / "posterior.csv")
    if baseline:
        (folder / "baseline.toml").write_text(
            (ROOT / "calibration" / "structures" / "arrears_later" / "baseline.toml").read_text()
            .replace('base = "../../../scenarios/baseline.toml"', f'base = "{BASELINE.as_posix()}"'))
    return folder


@pytest.mark.parametrize("body, key, message", [
    ('[[structures]]\nname = "a"\nposterior = "nowhere.csv"\n', "structures[0].posterior",
     "file not found"),
    ('[[structures]]\nname = "a"\nposterior = "p/posterior.csv"\nweight = 2\n',
     "structures[0].weight", "unknown key"),
    ('[[structures]]\nposterior = "p/posterior.csv"\n', "structures[0].name", "missing"),
    ('[[structures]]\nname = "a b"\nposterior = "p/posterior.csv"\n', "structures[0].name",
     "letters, digits and _"),
    ('[[structures]]\nname = "a"\nposterior = "p/posterior.csv"\n'
     '[[structures]]\nname = "a"\nposterior = "p/posterior.csv"\n', "structures[1].name",
     "listed twice"),
    ('[[structures]]\nname = "a"\nposterior = "p/posterior.csv"\nbaseline = "p/none.toml"\n',
     "structures[0].baseline", "file not found"),
    ('[set]\ndescription = "nothing"\n', "structures", "no structure listed"),
    ('[[structures]]\nname = "a"\nposterior = 3\n', "structures[0].posterior",
     "expected a string"),
    ('structures = 1\n', "structures", "expected an array of tables"),
])
def test_a_mistake_in_the_set_is_one_line_naming_the_file_and_the_key(tmp_path, body, key,
                                                                      message):
    _posterior_folder(tmp_path, "p")
    path = _set(tmp_path, body)
    with pytest.raises(UserError) as err:
        load_structure_set(path)
    line = str(err.value)
    assert "\n" not in line and str(path) in line and f"key '{key}'" in line and message in line


def test_a_bad_posterior_in_the_set_is_refused_when_the_set_is_read(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "posterior.csv").write_text("b_air,weight\nhigh,1\n")
    path = _set(tmp_path, '[[structures]]\nname = "a"\nposterior = "p/posterior.csv"\n')
    with pytest.raises(UserError, match="posterior.csv"):
        load_structure_set(path)


def test_the_set_runs_what_the_same_structures_given_one_by_one_run(tmp_path):
    """--structures FILE and the same posteriors as --structure options (a folder with its own
    baseline among them) give the same comparison to the bit; the manifest names the set and
    the report states why each structure is kept."""
    from sim.cli import main
    a = _posterior_folder(tmp_path, "a")
    b = _posterior_folder(tmp_path, "b", baseline=True)
    path = _set(tmp_path, '[set]\ndescription = "two"\n'
                '[[structures]]\nname = "first"\nposterior = "a/posterior.csv"\n'
                'differs = "the same posterior"\nwhy = "a test"\n'
                '[[structures]]\nname = "later"\nposterior = "b/posterior.csv"\n'
                'baseline = "b/baseline.toml"\nwhy = "arrears a month later"\n')
    common = ["compare", str(BASELINE), str(ROOT / "scenarios" / "salaries_paid.toml"),
              "-n", "10", "--replicates-per-draw", "5", "--workers", "1", "--no-sensitivity",
              "--quiet", "--no-animation"]
    by_file, one_by_one = tmp_path / "by_file", tmp_path / "one_by_one"
    assert main(common + ["--structures", str(path), "--out", str(by_file)]) == 0
    assert main(common + ["--no-plots", "--structure", f"first={a / 'posterior.csv'}",
                          "--structure", f"later={b}", "--out", str(one_by_one)]) == 0
    for table in ("comparison.csv", "effects_by_structure.csv", "effects.csv"):
        assert (by_file / table).read_text() == (one_by_one / table).read_text(), table
    with (by_file / "effects_by_structure.csv").open() as fh:
        assert {row["structure"] for row in csv.DictReader(fh)} >= {"first", "later"}
    manifest = json.loads((by_file / "manifest.json").read_text())
    assert manifest["structure_set"]["path"] == str(path)
    assert list(manifest["structure_baselines"]) == ["later"]
    report = (by_file / "report.html").read_text()
    assert "The structures compared" in report and "arrears a month later" in report
    assert json.loads((one_by_one / "manifest.json").read_text())["structure_set"] is None


def test_the_cli_refuses_a_name_given_twice_and_a_bad_set_with_exit_code_2(tmp_path, capsys):
    from sim.cli import main
    _posterior_folder(tmp_path, "a")
    path = _set(tmp_path, '[[structures]]\nname = "first"\nposterior = "a/posterior.csv"\n')
    out = tmp_path / "out"
    assert main(["compare", str(BASELINE), "--structures", str(path), "--structure",
                 f"first={POSTERIOR}", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'first' given twice" in err and "--structure" in err
    assert main(["compare", str(BASELINE), "--structures", str(tmp_path / "none.toml"),
                 "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "none.toml" in err and "file not found" in err
    assert not out.exists()


def test_the_api_takes_the_set_as_a_file_or_loaded_and_refuses_a_clash(tmp_path, geo):
    import sim
    _posterior_folder(tmp_path, "a")
    path = _set(tmp_path, '[[structures]]\nname = "first"\nposterior = "a/posterior.csv"\n')
    kw = dict(replicates=10, seed=2, geo=geo, replicates_per_draw=5)
    from_file = sim.compare([BASELINE, "salaries_paid"], structures=path, **kw)
    loaded = sim.compare([BASELINE, "salaries_paid"], structures=load_structure_set(path), **kw)
    assert list(from_file.structures)[1:] == ["first"] == list(loaded.structures)[1:]
    e1 = from_file.effect("salaries_paid", from_file.capital_days, structure="first")
    e2 = loaded.effect("salaries_paid", loaded.capital_days, structure="first")
    assert e1["mean"] == e2["mean"]
    with pytest.raises(UserError, match="also given"):
        sim.compare([BASELINE], structures=path,
                    parameters={"first": str(POSTERIOR)}, **kw)
