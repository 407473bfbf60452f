"""The three TOML readers (scenarios, calibration configs, targets) share one validation helper,
:mod:`sim.tomlcheck`: the same mistake reads the same in every file type, and no reader keeps a
private copy of the generic checks."""

from __future__ import annotations

import ast
import re

import pytest

from sim.errors import UserError

from conftest import BASELINE, ROOT

SIM = ROOT / "sim"
CONFIG = ROOT / "calibration" / "default.toml"
TARGETS = ROOT / "calibration" / "targets.toml"

#: Names of the generic helpers the readers used to define for themselves.
GENERIC = {"_check_keys", "_keys", "_unknown", "_need", "_optional", "_num", "_number", "_text",
           "_string", "_date", "_table", "_tables"}


def scenario_error(tmp_path, geo, field: str, extra: str = "") -> UserError:
    from sim.scenario import load_scenario
    path = tmp_path / "s.toml"
    head = f'[scenario]\nname = "x"\ndescription = "d"\nbase = "{BASELINE}"\n'
    if field.startswith("date"):
        body = f'[[timeline.move]]\nid = "bagram_handover"\n{field}\n{extra}'
    else:
        body = f'[[timeline.set]]\nid = "bagram_handover"\n{field}\n{extra}'
    path.write_text(head + body, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_scenario(path, geo)
    return err.value


def targets_error(tmp_path, geo, field: str, extra: str = "") -> UserError:
    from sim.targets import load_targets
    path = tmp_path / "targets.toml"
    value = field.replace("value", "weight") if not field.startswith("date") else field
    weight = "" if value.startswith("weight") else "weight = 1.0\n"
    date = "" if value.startswith("date") else "date = 2021-08-01\n"
    path.write_text(TARGETS.read_text(encoding="utf-8") + (
        f'\n[[constraints]]\nid = "x"\nkind = "no_capital_before"\n{date}{weight}{value}\n{extra}'),
        encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_targets(path, geo)
    return err.value


def config_error(tmp_path, geo, field: str, extra: str = "") -> UserError:
    from sim.calibration_config import load_config
    path = tmp_path / "c.toml"
    text = CONFIG.read_text(encoding="utf-8")
    if field.startswith("date"):
        text = re.sub(r"(?m)^horizon = .*$", field.replace("date", "horizon"), text, count=1)
    else:
        text = re.sub(r"(?m)^lower = .*$", field.replace("value", "lower") + "\n" + extra, text,
                      count=1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_config(path)
    return err.value


READERS = {"scenario": scenario_error, "targets": targets_error, "config": config_error}


@pytest.mark.parametrize("field, expected", [
    ('value = "high"', "expected a number, got str 'high'"),
    ("value = true", "expected a number, got bool True"),
    ("value = nan", "value nan out of range; allowed ["),
    ("value = inf", "value inf out of range; allowed ["),
    ("value = -1e400", "value -inf out of range; allowed ["),
    ("value = 1e9", "value 1e+09 out of range; allowed ["),
    ("date = 2025-01-01", "date 2025-01-01 out of range; allowed "),
    ("date = 5", "expected a date YYYY-MM-DD, got int 5"),
    ('date = "soon"', "expected a date YYYY-MM-DD, got 'soon'"),
])
def test_the_same_mistake_reads_the_same_in_every_file_type(tmp_path, geo, field, expected):
    details = {}
    for kind, error in READERS.items():
        err = error(tmp_path, geo, field)
        assert err.detail.startswith(expected), (kind, err.detail)
        assert err.key.split(".")[-1] in ("value", "weight", "lower", "date", "horizon")
        assert str(tmp_path) in str(err) and "\n" not in str(err)
        details[kind] = err.detail
    if not expected.endswith(("[", " ")):
        assert len(set(details.values())) == 1, details


def test_an_unknown_key_reads_the_same_in_every_file_type(tmp_path, geo):
    for kind, error in READERS.items():
        err = error(tmp_path, geo, "value = 0.5", extra="colour = 1\n")
        assert err.detail.startswith("unknown key; allowed: "), (kind, err.detail)
        assert err.key.endswith(".colour"), (kind, err.key)


def reader_modules() -> list:
    """Every module that reads a TOML file (or checks one's table), and the three readers."""
    found = {p for p in SIM.glob("*.py")
             if re.search(r"read_toml|parse_toml|tomllib|tomlcheck", p.read_text(encoding="utf-8"))}
    found |= {SIM / f"{m}.py" for m in ("scenario", "calibration_config", "targets")}
    return sorted(p for p in found if p.stem != "tomlcheck")


def test_no_reader_defines_its_own_generic_helpers():
    offenders = []
    readers = reader_modules()
    assert {"scenario", "calibration_config", "config_checks", "targets"} <= {p.stem for p in readers}
    for path in readers:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.name}:{node.lineno} {node.name}" for node in ast.walk(tree)
                      if isinstance(node, ast.FunctionDef) and node.name in GENERIC]
    assert not offenders, f"use sim.tomlcheck instead of {offenders}"


@pytest.mark.parametrize("module", ["scenario", "calibration_config", "config_checks", "targets"])
def test_each_reader_imports_the_helper(module):
    tree = ast.parse((SIM / f"{module}.py").read_text(encoding="utf-8"))
    assert any(isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None
               and any(a.name == "tomlcheck" for a in node.names) for node in ast.walk(tree))


def test_numbers_refuse_bools_nan_and_out_of_range():
    from sim import tomlcheck as check
    assert check.number({"x": 2}, "x", "f.toml", "t", 0, 5) == 2.0
    assert check.number({}, "x", "f.toml", "t", 0, 5, default=3) == 3
    assert check.number({"x": 7}, "x", "f.toml", "t", 0, 9, integer=True) == 7
    for value, needle in [(True, "expected a number"), (float("nan"), "value nan out of range"),
                          (6, "value 6 out of range; allowed [0, 5]"),
                          (10 ** 400, "value beyond the float range out of range")]:
        with pytest.raises(UserError, match=re.escape(needle)) as err:
            check.number({"x": value}, "x", "f.toml", "t", 0, 5)
        assert err.value.key == "t.x" and err.value.file == "f.toml"
    with pytest.raises(UserError, match=re.escape("expected a whole number, got float 2.5")):
        check.number({"x": 2.5}, "x", "f.toml", "", 0, 5, integer=True)
    with pytest.raises(UserError, match=re.escape("missing (expected a number)")) as err:
        check.number({}, "x", "f.toml", "", 0, 5)
    assert err.value.key == "x"
