"""The examples run as written (small sizes), and what they print holds."""

from __future__ import annotations


from conftest import load_script


def _load(name):
    return load_script(f"examples/{name}.py")


def test_pay_the_north_runs_and_delays_kabul_in_both_readings(tmp_path, capsys):
    """Fixed seed, 200 paired replicates in draws of 10: paying the north from 1 June must delay
    Kabul (the whole 5-95% spread across posterior draws above zero) as simulated and in the
    2021s that went as recorded, and the example must write its figure."""
    out = _load("pay_the_north").main(replicates=200, out=tmp_path / "example")
    for key in ("as_simulated", "as_recorded"):
        e = out[key]
        assert e["pred_q05"] > 0 and e["mean"] > 10, (key, e["mean"], e["pred_q05"])
    assert (tmp_path / "example" / "survival.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "in the 2021s that went as recorded" in printed and "effective sample" in printed


def test_where_districts_fell_scores_both_posteriors_and_draws_the_diagram(tmp_path, capsys):
    """Fixed seed, 200 replicates per posterior (measured on 6 December 2026: the default +0.15 at
    200 and +0.14 at 1,000 replicates, the previous default +0.08 at both, on TOLOnews' held-out
    districts at fixed dates; the committed 2,000-replicate figures +0.14 and +0.08). Stated
    tolerances: the default within 0.06 of its committed +0.14, ahead of the previous default by
    at least 0.03, and the neighbours' reports adding to each."""
    out = _load("where_districts_fell").main(replicates=200, out=tmp_path / "example")
    default, previous = out["scores"]["default"], out["scores"]["previous default"]
    assert abs(default["at_fixed_dates"] - 0.14) < 0.06
    assert default["at_fixed_dates"] - previous["at_fixed_dates"] >= 0.03
    for s in (default, previous):
        assert s["given_neighbours"] > s["at_fixed_dates"]
    assert (tmp_path / "example" / "reliability.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "given the neighbours' reports" in printed and "reliability.png" in printed
