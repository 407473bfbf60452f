"""calibration/chain_drivers.py: its attribution of a what-if's effect to the parameters, checked
on cases with a known answer, and its committed JSON, rerun (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, load_script


def _script():
    return load_script("calibration/chain_drivers.py")


def _groups(n_groups: int, per: int) -> np.ndarray:
    return np.repeat([f"g{k}" for k in range(n_groups)], per)


def test_a_linear_effect_is_attributed_to_the_parameter_and_stage_that_carry_it():
    """effect = 10 x city - 2 x rural + noise; the groups differ in ``city`` only. The model must
    explain nearly all the variance, predict each group's mean, and put the groups' differences
    on the cities' stage, not the countryside's (nor on a parameter that does not vary)."""
    rng = np.random.default_rng(3)
    groups = _groups(4, 500)
    shift = np.repeat([0.0, 1.0, 2.0, 3.0], 500)
    city = rng.normal(shift, 1.0)
    rural = rng.normal(0.0, 1.0, groups.size)
    X = np.column_stack([city, rural, np.full(groups.size, 7.0)])
    effect = 10 * city - 2 * rural + rng.normal(0, 0.1, groups.size)
    stage_of = {"city": "cities", "rural": "countryside", "fixed": "countryside"}
    out = _script().attribute(effect, X, groups, ["city", "rural", "fixed"], stage_of)
    assert out["r2"] > 0.999
    assert set(out["coefficient_per_sd_days"]) == {"city", "rural"}
    for g, p in out["posteriors"].items():
        assert p["predicted"] == pytest.approx(p["effect"], abs=0.05)
    assert out["held_out"] == {}
    sd = out["stage_part_sd_across_posteriors_days"]
    # the groups' means of city are 0..3 apart (sd 1.12): 10 days per unit
    assert sd["cities"] == pytest.approx(10 * np.std([0, 1, 2, 3]), rel=0.1)
    assert sd["countryside"] < 0.1 * sd["cities"]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 100.0))
def test_a_parameter_measured_in_other_units_changes_nothing(seed, scale):
    """The model reads standardised parameters: rescaling one leaves the fit, the predictions
    and the stages' parts as they were."""
    rng = np.random.default_rng(seed)
    groups = _groups(3, 200)
    X = rng.normal(size=(groups.size, 3)) + np.repeat([[0, 0, 0], [1, 0, 0], [0, 1, 0]], 200, axis=0)
    effect = X @ np.array([3.0, -1.0, 0.5]) + rng.normal(0, 1, groups.size)
    stage_of = {"a": "cities", "b": "countryside", "c": "countryside"}
    f = _script().attribute
    base = f(effect, X, groups, ["a", "b", "c"], stage_of)
    Y = X.copy()
    Y[:, 1] *= scale
    scaled = f(effect, Y, groups, ["a", "b", "c"], stage_of)
    assert scaled["r2"] == pytest.approx(base["r2"], abs=1e-9)
    for s, v in base["stage_part_sd_across_posteriors_days"].items():
        assert scaled["stage_part_sd_across_posteriors_days"][s] == pytest.approx(v, abs=1e-7)


def test_a_held_out_group_is_predicted_not_fitted():
    """A group left out of the fit whose draws follow the same law is predicted from its draws;
    one that breaks the law (ten days added) is predicted as the law says, so the check can fail;
    and the fit itself is the one made without either group."""
    rng = np.random.default_rng(5)
    groups = np.array(["a"] * 400 + ["b"] * 400 + ["same"] * 400 + ["broken"] * 400)
    x = rng.normal(np.repeat([0.0, 2.0, 1.0, 1.0], 400), 1.0)
    effect = 5 * x + rng.normal(0, 0.5, x.size)
    effect[groups == "broken"] += 10.0
    f = _script().attribute
    out = f(effect, x[:, None], groups, ["x"], {"x": "cities"}, held_out=("same", "broken"))
    alone = f(effect[:800], x[:800, None], groups[:800], ["x"], {"x": "cities"})
    assert set(out["posteriors"]) == {"a", "b"}
    assert out["r2"] == pytest.approx(alone["r2"], abs=1e-12)
    same, broken = out["held_out"]["same"], out["held_out"]["broken"]
    assert same["predicted"] == pytest.approx(same["effect"], abs=0.3)
    assert broken["effect"] - broken["predicted"] == pytest.approx(10.0, abs=0.3)


def test_thirds_split_the_draws_evenly_and_follow_a_monotone_effect():
    x = np.linspace(0, 20, 3000)
    thirds = _script().by_thirds(100 - 3 * x, x)
    assert [t["draws"] for t in thirds] == [1000, 1000, 1000]
    means = [t["effect_mean"] for t in thirds]
    assert means[0] > means[1] > means[2]


def test_across_calibrations_counts_each_posterior_once():
    """Each calibration counts once, however many draws it has: groups of 1, 3 and 2 draws whose
    means are 10, 20 and 60 give a mean of 30 (not the draws' 31.7), the sample standard deviation
    of (10, 20, 60) and its standard error over three calibrations."""
    effect = np.array([10.0, 19.0, 20.0, 21.0, 50.0, 70.0])
    groups = np.array(["a", "b", "b", "b", "c", "c"])
    out = _script().across_calibrations(effect, groups)
    sd = float(np.std([10.0, 20.0, 60.0], ddof=1))
    assert out["calibrations"] == 3
    assert out["mean"] == pytest.approx(30.0)
    assert out["sd"] == pytest.approx(sd)
    assert out["standard_error"] == pytest.approx(sd / np.sqrt(3))
    assert out["range"] == [10.0, 60.0]


@pytest.mark.slow   # twenty posteriors x 2 scenarios x 5,000 replicates (about 55 s on two cores)
def test_the_committed_chain_drivers_are_what_the_script_computes(tmp_path):
    """The README's reading of the broken chain's seed spread rests on
    ``calibration/default/chain_drivers.json``: rerun from the committed posteriors it must give
    the same numbers (to 1e-6: they are means of simulated days), and say what the README says:
    one linear model of the draws' parameters explains most of the draws' variance and predicts
    every posterior's mean within 6 days, the ten it was not fitted to (the crossed stages and
    the cities fitted on one pooled countryside) as well, the cities' stage carries the posteriors' differences
    (at least three times the countryside's part), and the effect falls across the thirds of the
    parameter it follows most."""
    got = json.loads(json.dumps(_script().main(out=tmp_path / "chain_drivers.json", figure=False)))
    committed = json.loads((ROOT / "calibration" / "default" / "chain_drivers.json").read_text())

    def close(a, b, path=""):
        if isinstance(a, dict):
            assert a.keys() == b.keys(), path
            for k in a:
                close(a[k], b[k], f"{path}.{k}")
        elif isinstance(a, list):
            assert len(a) == len(b), path
            for i, (x, y) in enumerate(zip(a, b)):
                close(x, y, f"{path}[{i}]")
        elif isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-6, abs=1e-6), path
        else:
            assert a == b, path

    close(got, committed)
    model = got["linear_model"]
    assert model["r2"] > 0.7
    for p in list(model["posteriors"].values()) + list(model["held_out"].values()):
        assert abs(p["predicted"] - p["effect"]) < 6.0
    assert len(model["held_out"]) == 10
    sd = model["stage_part_sd_across_posteriors_days"]
    assert sd["cities (decision, capitals, Kabul)"] > 3 * sd["countryside"]
    (lead, thirds), = got["by_thirds_of"].items()
    assert lead.startswith(("cap_", "kabul_", "assault_"))
    means = [t["effect_mean"] for t in thirds]
    assert means[0] > means[1] > means[2]
    spread = got["across_calibrations"]      # the README's "about 11 days" of calibration error
    assert spread["calibrations"] == 20 and 8.0 < spread["sd"] < 15.0
