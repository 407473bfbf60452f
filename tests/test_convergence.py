"""The calibration's convergence diagnostic: the walkers' split R-hat, which must tell an ensemble
that has mixed from one whose walkers each stay in their own part of the posterior (the case
emcee's integrated autocorrelation time, centring each walker on its own mean, cannot see)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sim.calibration_config import MOVES, load_config
from sim.calibration_sampler import ensemble_moves, walker_rhat
from sim.errors import UserError

from conftest import ROOT, default_config_text


def _ar1(rng, steps, walkers, rho, offsets):
    """Each walker an AR(1) chain of stationary variance 1 around its own offset."""
    x = np.empty((steps, walkers))
    x[0] = rng.standard_normal(walkers)
    for t in range(1, steps):
        x[t] = rho * x[t - 1] + np.sqrt(1 - rho ** 2) * rng.standard_normal(walkers)
    return x + offsets


def test_rhat_is_near_one_for_mixed_walkers_and_large_for_stuck_ones():
    """32 walkers of 400 steps, autocorrelated (rho 0.9, about 19 steps of autocorrelation) but
    sampling one law: R-hat within 0.05 of 1 (its sampling error at this size is about 0.01).
    The same walkers each offset by a draw of N(0, 3^2), as stuck walkers are, give R-hat near
    sqrt(1 + 9) ~ 3.2: far above the 1.1 that the fit report's reader is told to look for."""
    rng = np.random.default_rng(5)
    mixed = _ar1(rng, 400, 32, 0.9, 0.0)
    stuck = _ar1(rng, 400, 32, 0.9, rng.normal(0, 3, 32))
    chain = np.stack([mixed, stuck], axis=2)            # (steps, walkers, d)
    r = walker_rhat(chain)
    assert abs(r[0] - 1.0) < 0.05
    assert 2.0 < r[1] < 5.0


def test_rhat_sees_a_trend_within_every_walker():
    """Walkers that all drift the same way (an ensemble still moving from its start) share one
    mean, so only the split into halves can see it: a drift of four standard deviations over
    the chain gives about 1.3, above the 1.1 a mixed ensemble stays under."""
    rng = np.random.default_rng(6)
    x = _ar1(rng, 400, 32, 0.5, 0.0) + np.linspace(0, 4, 400)[:, None]
    assert walker_rhat(x[:, :, None])[0] > 1.2


def test_too_short_a_chain_has_no_rhat():
    assert np.isnan(walker_rhat(np.zeros((3, 4, 2)))).all()


def test_moves_are_checked_and_built(tmp_path):
    """``[sampler] moves`` takes emcee's stretch (the default) or differential-evolution moves;
    anything else is a one-line error naming the key."""
    assert ensemble_moves("stretch") is None
    mix = ensemble_moves("differential")
    assert [w for _, w in mix] == [0.8, 0.2]
    assert set(MOVES) == {"stretch", "differential"}
    text = default_config_text()
    # the default since 7 December 2026 moves by differential evolution; the default before it,
    # kept as a structure, by the stretch move (the key's default)
    assert load_config(ROOT / "calibration" / "default.toml").moves == "differential"
    before = ROOT / "calibration" / "structures" / "precedent" / "config.toml"
    assert "moves" not in before.read_text() and load_config(before).moves == "stretch"
    path = tmp_path / "bad.toml"
    text = re.sub(r'\nmoves = "\w+"\n', "\n", text)           # whatever moves the default ships
    path.write_text(text.replace("[sampler]\n", '[sampler]\nmoves = "gibbs"\n', 1))
    with pytest.raises(UserError, match=r"sampler\.moves.*unknown moves 'gibbs'") as err:
        load_config(path)
    assert "\n" not in str(err.value)


def test_the_committed_noise_reports_the_default_chains_rhat():
    """The R-hat the committed likelihood-noise JSON reports is the default's chains', recomputed
    here (cheap: the chains are committed), and it says what the README says: better mixed than
    the default until 7 December 2026 (3.5 in the countryside's stage), still not mixed (above
    1.1, where a converged ensemble stays)."""
    import json
    from conftest import load_script
    script = load_script("calibration/likelihood_noise.py")
    committed = json.loads((ROOT / "calibration" / "default" / "likelihood_noise.json").read_text())
    config = load_config(ROOT / "calibration" / "default.toml")
    assert script._rhat(ROOT / "calibration" / "default" / "chains.npz", config) == \
        committed["walker_rhat_of_the_default"]
    assert 1.1 < committed["walker_rhat_of_the_default"]["rural"]["median"] < 2.5


@pytest.mark.slow   # a committed script's output rerun (about 40 s): CI's slow run checks it
def test_the_committed_likelihood_noise_is_what_the_script_computes(tmp_path):
    """Fixed seeds: the rerun reproduces the committed JSON to 1e-9. Its claim is statistical:
    four times the replicates cut the log-likelihood's spread between sets of random numbers by
    about half (1/sqrt(4); measured 5.1 -> 2.1 from six sets at 80 points, whose own sampling
    error is about a tenth), so the test asks for at least a third less, and for the counts'
    share to be small beside the facts'."""
    import json
    from conftest import load_script
    got = load_script("calibration/likelihood_noise.py").main(out=tmp_path / "noise.json",
                                                              progress=False)
    committed = json.loads((ROOT / "calibration" / "default" / "likelihood_noise.json").read_text())

    def close(a, b):
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        if isinstance(a, float):
            return abs(a - b) < 1e-9
        return a == b

    assert close(got, committed)
    small, large = (got["noise_sd_across_random_numbers"][k] for k in ("48", "192"))
    assert large["total"] < small["total"] * 2 / 3
    assert small["counts"] < 0.1 * small["facts"]


def test_longer_chains_mix_the_walkers_only_slowly_as_committed():
    """``calibration/chain_length.py`` reads the committed 1,000-step chains of
    ``calibration/structures/long1000`` (two seeds); its JSON must be what they give, and it must
    say what the README says: each 200 steps lower R-hat in both stages and both seeds, by at
    least 0.25 over the 600 extra steps, and still not mixed after 1,000 (above 1.1)."""
    import json
    from conftest import load_script
    script = load_script("calibration/chain_length.py")
    committed = json.loads(script.OUT_JSON.read_text())
    assert json.loads(json.dumps(script.result())) == committed
    for seed, by_stage in committed["seeds"].items():
        for stage, rows in by_stage.items():
            medians = [rows[str(s)]["median"] for s in committed["steps"]]
            assert all(b < a for a, b in zip(medians, medians[1:])), (seed, stage, medians)
            assert medians[0] - medians[-1] > 0.25, (seed, stage, medians)
            assert medians[-1] > 1.1, (seed, stage, medians)


def test_the_long_runs_share_the_defaults_countryside_chain():
    """The README reads the long runs' first 400 countryside steps as the default's: a stage's
    chain does not depend on the steps that follow it. The committed default was calibrated on
    the Zen 4 EPYC and the long runs on the Zen 5, whose arithmetic parts in the last bits (README,
    "Robustness"): 1.3e-5 at most in the sampler's coordinates (each prior's range mapped to the
    real line), where a walker's accepted move is 0.08 at the median. So: equal to 1e-4."""
    default = np.load(ROOT / "calibration" / "default" / "chains.npz")
    long = np.load(ROOT / "calibration" / "structures" / "long1000" / "chains.npz")
    steps = default["rural_chain_z"].shape[0]
    assert long["rural_chain_z"].shape[0] > steps
    np.testing.assert_allclose(long["rural_chain_z"][:steps], default["rural_chain_z"], rtol=0,
                               atol=1e-4)
    np.testing.assert_allclose(long["rural_log_prob"][:steps], default["rural_log_prob"], rtol=0,
                               atol=1e-2)
