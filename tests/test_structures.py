"""Every shipped calibration structure stays runnable as the code changes.

The structures under ``calibration/structures`` are the evidence the README's comparisons rest on
(each a config, its posterior, often forecasts). A renamed parameter, a tightened bound or a new
targets rule would leave one that no longer loads, and nobody would know until someone tried to
rerun it; these tests fail first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT

CALIBRATION = ROOT / "calibration"
# every config a README names (config_seed7.toml and the like included) and every posterior kept
CONFIGS = sorted(CALIBRATION.rglob("config*.toml")) + [CALIBRATION / "default.toml"]
POSTERIORS = sorted(CALIBRATION.rglob("*posterior.csv"))


def _name(path: Path) -> str:
    return str(path.relative_to(CALIBRATION))


@pytest.mark.parametrize("config", CONFIGS, ids=_name)
def test_every_structure_config_and_its_targets_load(config, geo):
    from sim.calibration_config import load_config
    from sim.targets import load_targets
    cfg = load_config(config, geo.theatre)
    targets = load_targets(cfg.targets_path, geo)
    assert cfg.stages and (targets.fitted_districts or targets.capitals)


@pytest.mark.parametrize("posterior", POSTERIORS, ids=_name)
def test_every_shipped_posterior_reads_within_the_parameter_bounds(posterior):
    from sim.posterior import read_posterior
    source = read_posterior(posterior)
    assert len(source.rows) > 0


def test_there_are_structures_to_check():
    assert len(CONFIGS) > 30 and len(POSTERIORS) > 30
