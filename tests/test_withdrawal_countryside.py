"""The withdrawal in the countryside (``b_withdrawal``, A13c): every rural district's log hazard
rises by b_withdrawal x W(t), the US withdrawal's progress, a dated driver of the timeline. 0 in
the default, so every shipped run is unchanged; a structure estimates it
(``calibration/structures/withdrawal_countryside``) to ask whether the arrears or the withdrawal
carried the countryside's June acceleration (A11c).

Statistical checks use fixed seeds and paired replicates (common random numbers); the margins
are stated where they are asserted.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.batch import run_batch
from sim.model import Model
from sim.parameters import NAMES, ParameterTable
from sim.randomness import draw_batch
from sim.scenario import load_scenario

from conftest import BASELINE, write_moved_baseline
from test_engines import assert_engines_agree, baseline_model


def _table(sc, R, **values):
    base = sc.parameters()
    base.update(values)
    return ParameterTable.constant(base, R)


def test_both_engines_agree_with_the_withdrawal_acting_on_the_countryside(geo):
    sc, model = baseline_model(geo)
    table = _table(sc, 16, b_withdrawal=1.5)
    table.values[:, NAMES.index("b_withdrawal")] = np.linspace(0.0, 3.0, 16)  # one value per row
    assert_engines_agree(model, table, seed=21)


def test_both_engines_agree_when_the_withdrawal_reacts_to_the_assault(tmp_path, geo):
    """A reactive withdrawal step (here the last troops leave a day after the assault) moves the
    countryside after the decision, so the batch engine must read the reactive level too, as the
    reference engine does (before A13c only the decision read W, and only before the assault)."""
    whatif = tmp_path / "leave.toml"
    whatif.write_text(f'''[scenario]
name = "leave"
base = "{BASELINE.as_posix()}"
description = "the last troops leave a day after the assault"
[[timeline.add]]
id = "leave_after_assault"
after = "assault"
delay_days = 1
driver = "withdrawal"
value = 0.1
source = "test"
''')
    sc = load_scenario(whatif, geo)
    model = Model.build(geo, sc.events, sc.focus_regions, sc.end)
    b = assert_engines_agree(model, _table(sc, 12, b_withdrawal=3.0), seed=5)
    assert np.isfinite(b.assault_time).sum() >= 6      # the reaction fired in most replicates


def test_the_term_reads_the_withdrawal_and_nothing_else(tmp_path, geo):
    """A what-if that moves only the withdrawal's milestones leaves the countryside before the
    decision the same while b_withdrawal is 0 (to 1e-9 days: the milestones still cut the batch
    engine's integration at other instants), and changes it once it is not."""
    moved = write_moved_baseline(tmp_path / "late.toml", "late",      # a month later each
                                 {"resolute_support_out": "2021-07-30", "bagram_handover": "2021-08-02"})
    base = load_scenario(BASELINE, geo)
    late = load_scenario(moved, geo)
    R = 40
    draws = draw_batch(4, range(R), geo.n)
    start = dt.date(2021, 5, 1)

    def countryside(sc, b):
        m = Model.build(geo, sc.events, sc.focus_regions, sc.end)
        out = run_batch(m, _table(sc, R, b_withdrawal=b, assault_rate=0.0), draws)
        return out.fall_time

    cutoff = (dt.date(2021, 8, 1) - start).days
    a0, b0 = countryside(base, 0.0), countryside(late, 0.0)
    same = lambda x, y: np.allclose(np.where(x < cutoff, x, 1e9), np.where(y < cutoff, y, 1e9),
                                    rtol=0, atol=1e-9)
    assert same(a0, b0)
    a2, b2 = countryside(base, 2.0), countryside(late, 2.0)
    assert not same(a2, b2)
    # and the direction: a later withdrawal, fewer districts fallen by 31 July (paired; the mean
    # difference must exceed three standard errors)
    d = (a2 < cutoff).sum(axis=1) - (b2 < cutoff).sum(axis=1)
    assert d.mean() > 3 * d.std(ddof=1) / np.sqrt(R), (d.mean(), d.std(ddof=1))


def test_a_stronger_withdrawal_term_takes_more_districts_by_the_end_of_june(geo):
    """Paired replicates: b_withdrawal 2 against 0 adds falls by 30 June in the mean, by more than
    three standard errors (W is 0.1-0.6 through June, so the hazard is 1.2-3.3 times higher)."""
    sc, model = baseline_model(geo)
    R = 60
    draws = draw_batch(8, range(R), geo.n)
    june = (dt.date(2021, 6, 30) - dt.date(2021, 5, 1)).days
    counts = [(run_batch(model, _table(sc, R, b_withdrawal=b), draws).fall_time < june).sum(axis=1)
              for b in (0.0, 2.0)]
    d = counts[1] - counts[0]
    assert d.mean() > 3 * d.std(ddof=1) / np.sqrt(R), (d.mean(), d.std(ddof=1))
