"""Structural checks of a calibration config, before :func:`sim.calibrate.load_config` reads it.

``load_config`` checks each value; these checks make sure every section it reads is a table (or an
array of tables), that dates are dates and that the sampler's sizes are ones emcee and the
differential-evolution search accept, so that no config can reach it in a shape that raises
anything but a one-line :class:`UserError`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from . import tomlcheck as check
from .errors import UserError
from .scenario import NAME_RE
from .userfiles import read_toml

SECTIONS = ("calibration", "sampler", "stages", "predictive")
STAGE_NAMES = ("rural", "capitals")
#: emcee's stretch move needs two halves of at least two walkers; scipy's differential evolution
#: needs a starting population of at least five.
MIN_WALKERS = 4
MIN_INITIAL_DESIGN = 5


def check_config_structure(data: dict, path: Path) -> None:
    for section in SECTIONS:
        if section in data:
            check.table(data, section, path)
    cal = data.get("calibration", {})
    if "horizon" in cal:
        check.check_date(cal["horizon"], path, "calibration.horizon", dt.date.min, dt.date.max)
    name = cal.get("name")
    if isinstance(name, str) and not NAME_RE.fullmatch(name):
        raise UserError(f"name {name!r:.70} must be 1-64 letters, digits, '_' or '-'", file=path,
                        key="calibration.name")
    for key in ("name", "scenario", "targets"):
        value = cal.get(key)
        if isinstance(value, str) and ("\x00" in value or (key != "name" and not value.strip())):
            raise UserError(f"expected a non-empty string without NUL bytes, got {value!r}",
                            file=path, key=f"calibration.{key}")
    for sname, stage in data.get("stages", {}).items():
        stage = check.table(data["stages"], sname, path, "stages")
        check.tables(stage, "parameters", path, f"stages.{sname}")
    sampler = data.get("sampler", {})
    for key, least in (("walkers", MIN_WALKERS), ("initial_design", MIN_INITIAL_DESIGN)):
        value = sampler.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < least:
            raise UserError(f"expected a whole number >= {least}, got {value}", file=path,
                            key=f"sampler.{key}")


def read_config(path: str | Path) -> tuple[dict, bytes]:
    """A calibration config's table (structurally checked) and its raw bytes."""
    data, raw = read_toml(path, "a calibration TOML file")
    check_config_structure(data, Path(path))
    return data, raw
