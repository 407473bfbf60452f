"""Shipped scenarios by name: ``afsim run baseline`` from any folder, and from an installed wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib

import pytest

import sim
from sim.cli import main
from sim.errors import UserError
from sim.scenario import load_scenario
from sim.shipped import is_bare_name, resolve_scenario, shipped_scenarios

from conftest import ROOT, SCENARIOS

SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def test_bare_names_and_paths_are_told_apart():
    assert is_bare_name("baseline") and is_bare_name("salaries_paid")
    for path in ("baseline.toml", "./baseline", "scenarios/baseline", "a\\b", ".", ".."):
        assert not is_bare_name(path), path


def test_the_shipped_names_are_the_project_scenarios(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert list(shipped_scenarios()) == SHIPPED
    assert resolve_scenario("baseline").resolve() == (SCENARIOS / "baseline.toml").resolve()


def test_run_and_compare_by_name_from_an_empty_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "baseline", "-n", "4", "--fixed-parameters", "--no-plots", "-q",
                 "--out", "run"]) == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["scenario"] == "baseline"
    assert manifest["scenario_files"] == [str((SCENARIOS / "baseline.toml").resolve())]
    # a what-if by name, its base (baseline.toml, relative to the shipped file) followed
    assert main(["compare", "salaries_paid", "-n", "4", "--fixed-parameters", "--no-plots", "-q",
                 "--no-sensitivity", "--no-animation", "--out", "cmp"]) == 0
    assert json.loads((tmp_path / "cmp" / "manifest.json").read_text())["scenarios"] == \
        ["baseline", "salaries_paid"]
    assert sim.run("air_and_pay", replicates=2, parameters="fixed").scenario.base_name == \
        "air_support_sustained"


def test_a_file_in_the_current_folder_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (SCENARIOS / "salaries_paid.toml").read_text()
    (tmp_path / "baseline").write_text(text.replace('base = "baseline.toml"',
                                                    f'base = "{SCENARIOS / "baseline.toml"}"'))
    assert load_scenario("baseline").name == "salaries_paid"


def test_an_unknown_name_is_one_line_listing_the_shipped_ones_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "basline", "-n", "2", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'basline'" in err
    assert all(name in err for name in SHIPPED)
    assert not (tmp_path / "x").exists()
    with pytest.raises(UserError) as exc:      # a path keeps the usual "file not found" error
        load_scenario("basline.toml")
    assert "shipped" not in str(exc.value)


def test_afsim_scenarios_lists_every_shipped_name_with_its_description(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in SHIPPED:
        assert f"\n{name}" in out
        description = tomllib.loads((SCENARIOS / f"{name}.toml").read_text())["scenario"]["description"]
        assert " ".join(description.split()[:4]) in " ".join(out.split())
    assert "(changes air_support_sustained)" in out


def test_the_wheel_ships_the_top_level_scenarios_folder_as_package_data():
    """One copy of the files: pyproject maps scenarios/ into the package as sim/scenarios/."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "sim.scenarios" in setuptools["packages"]
    assert setuptools["package-dir"]["sim.scenarios"] == "scenarios"
    assert "*.toml" in setuptools["package-data"]["sim.scenarios"]


def test_an_installed_layout_finds_its_own_scenarios_from_any_folder(tmp_path):
    """What ``pip install .`` lays out (sim/ with sim/scenarios/*.toml, no project around it):
    a what-if by name resolves inside the installed package, its base chain included."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "sim", site / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "sim" / "scenarios").mkdir()
    for path in SCENARIOS.glob("*.toml"):
        shutil.copy(path, site / "sim" / "scenarios" / path.name)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    code = ("import json, sim; from sim.scenario import load_scenario; "
            "s = load_scenario('air_and_pay'); "
            "print(json.dumps([sim.__file__, [str(f) for f in s.files]]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    module, files = json.loads(proc.stdout)
    assert module == str(site / "sim" / "__init__.py")
    assert [f.rsplit("/", 1)[-1] for f in files] == \
        ["baseline.toml", "air_support_sustained.toml", "air_and_pay.toml"]
    assert all(f.startswith(str(site / "sim" / "scenarios")) for f in files)
