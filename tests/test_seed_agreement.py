"""R-hat across calibration runs (``sim.calibration_sampler.runs_rhat``) and the committed
comparison of the calibrations' seeds (``calibration/seed_agreement.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, load_script
from sim.calibration_sampler import runs_rhat


def test_runs_of_one_distribution_agree_and_a_shifted_run_does_not():
    """Three runs of 2,000 independent normal draws: R-hat within 1% of 1 (its sampling error at
    this size is about 0.001). One run shifted by one standard deviation: the between-run
    variance is then about a third of the within-run one, R-hat near 1.15."""
    rng = np.random.default_rng(0)
    same = rng.standard_normal((3, 2000))
    assert abs(runs_rhat(same) - 1.0) < 0.01
    shifted = same.copy()
    shifted[1] += 1.0
    assert runs_rhat(shifted) > 1.1


def test_a_run_with_wider_tails_is_caught_by_the_folded_scores():
    """Same median, one run three times as wide: the bulk's R-hat barely moves, the tails' does."""
    rng = np.random.default_rng(1)
    runs = rng.standard_normal((3, 2000))
    runs[2] *= 3.0
    assert runs_rhat(runs) > 1.1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-3, 3))
def test_rhat_reads_ranks_so_a_monotone_reparametrisation_changes_nothing(seed, shift):
    """A log-uniform prior's parameter and its log must read alike: only ranks enter."""
    runs = np.random.default_rng(seed).standard_normal((3, 200))
    runs[0] += shift
    assert runs_rhat(np.exp(runs)) == pytest.approx(runs_rhat(runs), abs=1e-12)


def test_too_few_runs_or_draws_is_refused_and_a_constant_is_nan():
    with pytest.raises(ValueError, match="runs >= 2"):
        runs_rhat(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="runs >= 2"):
        runs_rhat(np.zeros(10))
    assert np.isnan(runs_rhat(np.ones((3, 10))))


def test_the_committed_agreement_is_what_the_script_computes_from_the_committed_posteriors():
    """The README's statement that the default's seeds agree better than the precedent's rests
    on ``calibration/default/seed_agreement.json``; it must be what the posteriors give."""
    script = load_script("calibration/seed_agreement.py")
    committed = json.loads((ROOT / "calibration" / "default" / "seed_agreement.json").read_text())
    result = json.loads(json.dumps(script.agreement()))
    assert result == committed
    assert len(result["default"]["seeds"]) >= 3
    assert result["default"]["median"] < result["precedent"]["median"]
    assert result["default"]["max"] < result["precedent"]["max"]
