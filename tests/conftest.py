"""Shared helpers: small synthetic geographies and a 'null' parameter set for exact tests."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from sim.geography import geography_from_rows, load_geography
from sim.model import Model
from sim.parameters import Params, defaults
from sim.theatre import AFGHANISTAN_2021

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"


def load_script(path: Path):
    """A script of the project (``calibration/*.py``, ``examples/*.py``) imported as a module, so
    a test can call its functions; its folder goes on ``sys.path`` for the scripts that import
    their neighbours."""
    import importlib.util
    import sys
    path = ROOT / path
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def geo():
    return load_geography()


def write_moved_baseline(path, name: str, moves: dict) -> Path:
    """A scenario on the baseline that moves the given events (id -> date) and nothing else: the
    tests' way to date one of the record's open questions differently."""
    listed = ", ".join(f'{{ id = "{k}", date = {v} }}' for k, v in moves.items())
    path.write_text(f'[scenario]\nname = "{name}"\nbase = "{BASELINE.as_posix()}"\n'
                    f'description = "moved: {", ".join(moves)}"\n[timeline]\nmove = [{listed}]\n')
    return path


def tiny_geography(n_rural: int, edges, *, reach=None, pakistan=None, capital_link: float = 1e-6):
    """One province, 'Kabul': its capital district AF0101 plus ``n_rural`` rural districts.

    ``edges`` are (i, j, km) between rural districts 0..n_rural-1. The capital touches rural
    district 0 with a negligible border so the graph has no isolated node; with no assault it
    never falls, so it never influences anyone.
    """
    reach = np.zeros(n_rural) if reach is None else np.asarray(reach, dtype=float)
    pakistan = np.zeros(n_rural, dtype=bool) if pakistan is None else np.asarray(pakistan)
    codes = ["AF0101"] + [f"R{k:04d}" for k in range(n_rural)]
    nbs = {c: set() for c in codes}
    borders = []
    for i, j, km in [(-1, 0, capital_link), *edges]:
        a, b = codes[i + 1], codes[j + 1]
        nbs[a].add(b)
        nbs[b].add(a)
        borders.append({"pcode_a": min(a, b), "pcode_b": max(a, b), "shared_border_km": str(km)})
    drows = []
    for k, code in enumerate(codes):
        rural = k > 0
        planned = 100
        reporting = int(round(reach[k - 1] * planned)) if rural else 100
        drows.append({
            "pcode": code, "name": f"d{k}", "province": "Kabul", "province_pcode": "AF01",
            "region": "Capital", "is_provincial_capital": "0" if rural else "1",
            "lon": str(69.0 + 0.01 * k), "lat": "34.5", "area_km2": "100",
            "neighbours": ";".join(sorted(nbs[code])),
            "border_countries": "Pakistan" if rural and pakistan[k - 1] else "",
            "national_border_km": "0", "polling_stations_planned_2019": str(planned),
            "polling_stations_reporting_2019": str(reporting), "registered_voters_2019": "1000",
        })
    prows = [{"province": "Kabul", "province_pcode": "AF01", "province_name_seed": "Kabul",
              "region": "Capital", "capital_name": "Kabul", "capital_pcode": "AF0101",
              "capital_lon": "69.0", "capital_lat": "34.5", "capital_fell_on": "",
              "fell_on_earliest": "", "fell_on_latest": "", "fall_order": ""}]
    return geography_from_rows(drows, borders, prows, provinces_expected=None)


def complete_graph_edges(n: int):
    return [(i, j, 1.0) for i, j in itertools.combinations(range(n), 2)]


def null_values(**overrides) -> dict:
    """Every mechanism off: constant hazard base_rate, no initial districts, no assault."""
    v = defaults()
    for name in v:
        if name.startswith(("b_", "cap_b_", "kabul_b_", "mode_b_", "init_w_")):
            v[name] = 0.0
    v.update(initial_fallen=0, assault_rate=0.0, taliban_strength=0.0,
             capital_garrison=0.0, rural_defence=0.0)
    v.update(overrides)
    return v


def null_params(**overrides) -> Params:
    return Params(null_values(**overrides))


def tiny_model(geo, events=(), end=AFGHANISTAN_2021.end) -> Model:
    return Model.build(geo, list(events), [], end)


def default_config_text() -> str:
    """``calibration/default.toml`` with its scenario and targets made absolute, so that a test can
    write an edited copy anywhere (whichever files the shipped default points at)."""
    import re
    folder = ROOT / "calibration"
    text = (folder / "default.toml").read_text(encoding="utf-8")
    return re.sub(r'^(scenario|targets) = "([^"]+)"',
                  lambda m: f'{m.group(1)} = "{(folder / m.group(2)).resolve()}"', text,
                  flags=re.MULTILINE)


def targets_error(tmp_path, geo, extra: str):
    """The UserError raised by the shipped targets file with ``extra`` TOML appended, checked to
    be one line (the error a user sees for a malformed targets file)."""
    from sim.errors import UserError
    from sim.targets import load_targets
    bad = tmp_path / "targets.toml"
    bad.write_text((ROOT / "calibration" / "targets.toml").read_text(encoding="utf-8") + extra,
                   encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_targets(bad, geo)
    assert "\n" not in str(err.value)
    return err.value


def main_command_set():
    """The structure set README line 6 pools beside the default (its ``--structures`` file)."""
    import re
    from sim.structure_set import load_structure_set
    root = ROOT
    line = (root / "README.md").read_text(encoding="utf-8").splitlines()[5]
    files = re.findall(r"--structures (\S+)", line)
    assert len(files) == 1, "README line 6 must name one --structures file"
    return load_structure_set(root / files[0])


def main_command_structures() -> dict[str, Path]:
    """The posteriors README line 6 pools beside the default: name -> its calibration's folder
    (``arrears_earlier``'s holds its own ``baseline.toml``)."""
    return {s.name: s.posterior.parent for s in main_command_set().structures}
