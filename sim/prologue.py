"""The countryside before the decision, simulated once: the capitals' stage resumes from it.

Until the Taliban turn on the cities nothing the cities' parameters set can move the countryside:
no capital has a hazard, no reactive driver has fired, and the decision only waits. The
calibration's capitals stage varies exactly those parameters (the decision's, the cities', Kabul's)
on fixed replicates (common random numbers, each carrying a fixed draw of the rural posterior), so
every one of its tens of thousands of parameter points used to re-simulate the same months of
rural falls before its assault.

:class:`Prologue` simulates each replicate once with the assault switched off, recording after
every event the state the decision reads (its exposures, the timeline segment, the step) and, every
few events, the whole state of the row. For a parameter point it then replays the decision's
cumulative hazard along that path with the engine's own arithmetic (the same functions, the same
additions in the same order), finds the first event at which the threshold can be crossed, and
resumes the batch engine from the last recorded state before it. The result is the uninterrupted
run's, bit for bit (``tests/test_prologue.py``): a saving of time, not an approximation.

It applies when every parameter a stage varies is one of :data:`sim.hazard.CITY_PARAMETERS`;
otherwise :func:`simulate_sets` simply runs every point from the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import hazard
from .batch import RESUMABLE, _BatchRun
from .model import Model
from .outcomes import Outcomes
from .parameters import NAMES, ParameterTable, Params
from .randomness import Draws

#: Record the whole state of every row after every this many events. A resumed row re-simulates
#: at most this many events before its decision; the snapshots' memory falls as it grows.
SNAPSHOT_EVERY = 8

#: A point's decision may fire at an event once its replayed cumulative hazard is this close to
#: the threshold; the row is then resumed from before that event. Being early costs a few events
#: of re-simulation; the margin covers the rounding of the engine's own comparison of times.
_MARGIN = 1e-9


def applies(columns) -> bool:
    """Whether a stage varying these parameter columns can resume from a prologue."""
    return len(columns) > 0 and all(NAMES[c] in hazard.CITY_PARAMETERS for c in columns)


@dataclass(eq=False)
class Prologue:
    """Each replicate's path with the assault switched off, and its states to resume from."""

    model: Model
    base: np.ndarray                 # (R, len(NAMES)) the replicates' parameters
    draws: Draws
    outcome: Outcomes                # the replicates' runs with no assault (their end if none comes)
    dt: np.ndarray                   # (R, K + 1) each iteration's step (column 0 unused; 0 once finished)
    seg: np.ndarray                  # (R, K + 1) the timeline segment after each event
    exposure: dict                   # name -> (R, K + 1) the decision's exposures after each event
    events: np.ndarray               # (R,) the events of each row's run (its last is the horizon)
    snapshots: list = field(default_factory=list)   # [(event, rows, {name: array})]

    @classmethod
    def simulate(cls, model: Model, base: np.ndarray, draws: Draws) -> "Prologue":
        off = base.copy()
        off[:, NAMES.index("assault_rate")] = 0.0
        R = len(base)
        steps: list = []
        snapshots: list = []

        def observe(run: _BatchRun, dt) -> None:
            rows = run.rows.copy()
            i = len(steps)
            x = run.ex.for_rule(run.X, "decision", replicates=np.arange(len(rows)))
            steps.append((rows, None if dt is None else dt.copy(), run.seg.copy(),
                          {k: np.asarray(v)[:, 0].copy() for k, v in x.items()}))
            if i % SNAPSHOT_EVERY == 0:
                snapshots.append((i, rows, {name: getattr(run, name).copy()
                                            for name in RESUMABLE
                                            if getattr(run, name) is not None}))

        run = _BatchRun(model, ParameterTable(off), draws, observer=observe)
        outcome = run.run()
        K = len(steps) - 1
        dt = np.zeros((R, K + 1))
        seg = np.zeros((R, K + 1), dtype=np.int64)
        exposure = {k: np.zeros((R, K + 1)) for k in steps[0][3]}
        events = np.zeros(R, dtype=np.int64)
        for i, (rows, step, s, x) in enumerate(steps):
            if step is not None:
                dt[rows, i] = step
            seg[rows, i] = s
            for k, v in x.items():
                exposure[k][rows, i] = v
            events[rows] = i
        return cls(model, base, draws, outcome, dt, seg, exposure, events, snapshots)

    # ------------------------------------------------------------------ replaying the decision
    def _decision_event(self, values: np.ndarray, replicate: np.ndarray):
        """For rows of parameters ``values`` on replicates ``replicate``: the first event at which
        the decision may fire (-1: never before the horizon), and the cumulative hazard after
        each event, as the uninterrupted run accumulates it."""
        p = Params.from_table(ParameterTable(values))
        tl = self.model.timeline
        withdrawal = np.array([s.withdrawal for s in tl.states])
        air = np.array([s.air_national for s in tl.states])
        seg = self.seg[replicate]
        lam = hazard.rate(hazard.assault_log_hazard(
            p, {k: v[replicate] for k, v in self.exposure.items()}, withdrawal[seg], air[seg]))
        # H_i = H_(i-1) + lam_(i-1) dt_i: the engine's update, one iteration at a time
        H = np.zeros_like(lam)
        H[:, 1:] = np.cumsum(lam[:, :-1] * self.dt[replicate, 1:], axis=1)
        threshold = np.asarray(hazard.assault_threshold(p, self.draws.u_actor[replicate, 0:1]))
        reach = (H >= threshold * (1.0 - _MARGIN))
        reach[:, 0] = False
        reach &= np.arange(H.shape[1])[None, :] <= self.events[replicate][:, None]
        first = np.where(reach.any(axis=1), np.argmax(reach, axis=1), -1)
        return first, H

    def resume(self, values: np.ndarray, stop_after_capitals: int | None = None,
               stop_after_day: float | None = None) -> Outcomes:
        """Simulate rows of parameters ``values`` ((S * R, len(NAMES)), row s * R + r on replicate
        r, as :func:`sim.parameter_sets.simulate_sets` lays them out) from the prologue
        (``stop_after_capitals`` and ``stop_after_day`` as in :func:`sim.batch.run_batch`)."""
        R = len(self.base)
        M = len(values)
        replicate = np.arange(M) % R
        first, H = self._decision_event(values, replicate)
        o = self.outcome
        out = Outcomes(o.fall_time[replicate].copy(), o.mode[replicate].copy(),
                       np.full(M, np.nan), o.end_time[replicate].copy())
        go = np.flatnonzero(first >= 0)
        if len(go) == 0:
            return out
        # resume from the last snapshot at or before the event before the first possible firing
        at = (first[go] - 1) // SNAPSHOT_EVERY
        state = {name: [] for name in RESUMABLE}
        order, groups = [], []
        for j in np.unique(at):
            event, rows, arrays = self.snapshots[j]
            mine = go[at == j]
            position = np.searchsorted(rows, replicate[mine])
            assert np.array_equal(rows[position], replicate[mine])
            for name, a in arrays.items():
                state[name].append(a[position])
            order.append(mine)
            groups.append(j * R + replicate[mine])      # rows resumed from one snapshot row
            state.setdefault("H_decision", []).append(H[mine, event])
        order = np.concatenate(order)
        start = {name: np.concatenate(parts) for name, parts in state.items() if parts}
        res = _BatchRun(self.model, ParameterTable(values[order]), self.draws.row(replicate[order]),
                        start=start, stop_after_capitals=stop_after_capitals,
                        stop_after_day=stop_after_day,
                        start_groups=np.concatenate(groups), copy_start=False).run()
        out.fall_time[order] = res.fall_time
        out.mode[order] = res.mode
        out.assault_time[order] = res.assault_time
        out.end_time[order] = res.end_time
        return out

