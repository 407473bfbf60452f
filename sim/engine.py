"""The reference engine: one replicate as SimPy processes, exact for piecewise-constant hazards.

Threshold formulation (``model.md`` section 4): every district draws a resistance r_i ~ Exp(1)
once per replicate and falls when its cumulative hazard H_i(t) = integral of lambda_i reaches
r_i. Between two events every hazard is constant, so the next fall is exactly
``min_i (r_i - H_i) / lambda_i`` away. On every event the integrals are brought up to date and
the hazards recomputed. This is the same law as a time-inhomogeneous Poisson process per
district, with the bonus that each district's randomness is one number drawn once: scenarios
run with the same seed share it and differ only by policy.

Processes:

* ``exogenous_timeline`` sends each dated driver change (air support, pay arrears, the
  mobilization brake, withdrawal milestones) when its day comes;
* ``assault_clock`` sends the opening of the window in which cities may be assaulted, and once
  the assault has begun, each new day of it (its intensity grows day by day);
* ``horizon`` ends the run at the horizon;
* ``surrenders`` is the campaign itself: it waits for the next fall or for a message, whichever
  comes first, and applies it.

New kinds of actors (a government reinforcement process, a Taliban effort allocator) are added
here first, as processes that send messages to the campaign.

This engine favours legibility over speed; :mod:`sim.batch` runs many replicates at once with
the same rule and the same draws, and the test-suite checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from . import hazard
from .model import FIGHT, HELD, HELD_AT_START, NEGOTIATED, Model
from .parameters import Params
from .randomness import Draws, initial_fallen


@dataclass(frozen=True)
class LogEntry:
    time: float
    kind: str        # initial | driver | assault | fall | collapse | end
    subject: str     # district pcode, event id, ...
    detail: str = ""


@dataclass
class ReplicateResult:
    fall_time: np.ndarray        # (n,) days since 1 May 2021; NaN = held to the end
    mode: np.ndarray             # (n,) int8, see sim.model
    assault_time: float          # when the assault on cities began (NaN = never)
    end_time: float              # Kabul's fall (the republic ends) or the horizon
    log: list[LogEntry] = field(default_factory=list)


class Campaign:
    """The state of one replicate and the SimPy processes that change it."""

    def __init__(self, env: simpy.Environment, model: Model, params: Params, draws: Draws,
                 record_log: bool = True):
        self.env, self.model, self.p, self.draws = env, model, params, draws
        geo, cov, p = model.geo, model.cov, params
        self.record_log = record_log
        self.log: list[LogEntry] = []
        n = model.n

        start = initial_fallen(hazard.initial_log_weights(p, cov), draws.gumbel,
                               int(round(float(p.initial_fallen))))
        self.fallen = start.copy()
        self.fall_time = np.where(start, 0.0, np.nan)
        self.mode = np.where(start, HELD_AT_START, HELD).astype(np.int8)
        self.neighbour_share = geo.neighbour_share(self.fallen)
        self.n_fallen = int(start.sum())
        self.capitals_fallen = 0                       # other than Kabul
        self.quiet = ~cov.rural | self.fallen          # no rural hazard: capitals and the fallen
        self.cumulative = np.zeros(n)
        self.t_last = 0.0
        self.drivers = model.timeline.states[0]
        self.air = self.drivers.air_by_district()
        self._refresh_local()
        self.window_opens = float(model.timeline.withdrawal_reached(float(p.assault_withdrawal_level))
                                  + float(p.assault_delay_days))
        self.window_open = self.window_opens <= 0.0
        self.assault_time = np.nan
        self.assault_days = 0
        self._assault_started = env.event()
        self.end_time = model.horizon
        self.over = False
        for i in np.flatnonzero(start):
            self._log(0.0, "initial", geo.pcodes[i])

        self._inbox: list[tuple[str, object]] = []
        self._wake = env.event()
        env.process(self.exogenous_timeline())
        env.process(self.assault_clock())
        env.process(self.horizon())
        self.process = env.process(self.surrenders())
        self._check_trigger()

    # ------------------------------------------------------------------ messaging
    def _send(self, kind: str, payload=None) -> None:
        self._inbox.append((kind, payload))
        if not self._wake.triggered:
            self._wake.succeed()

    def _log(self, time, kind, subject, detail="") -> None:
        if self.record_log:
            self.log.append(LogEntry(float(time), kind, subject, detail))

    # ------------------------------------------------------------------ exogenous processes
    def exogenous_timeline(self):
        tl = self.model.timeline
        for k in range(1, len(tl.starts)):
            yield self.env.timeout(tl.starts[k] - self.env.now)
            self._send("drivers", k)

    def assault_clock(self):
        if np.isfinite(self.window_opens) and 0 < self.window_opens < self.model.horizon:
            yield self.env.timeout(self.window_opens)
            self._send("window")
        yield self._assault_started
        for _ in range(int(round(float(self.p.assault_ramp_days)))):
            yield self.env.timeout(1.0)
            self._send("assault_day")

    def horizon(self):
        yield self.env.timeout(self.model.horizon)
        self._send("horizon")

    # ------------------------------------------------------------------ the campaign
    def _refresh_local(self, rows=slice(None)) -> None:
        """Each district's own part of the rule (neighbours, air cover, covariates), kept up to date
        for the districts whose inputs changed; the nationwide part is added in :meth:`hazards`."""
        cov = self.model.cov
        if isinstance(rows, slice):
            self.local = np.empty(self.model.n)
        self.local[rows] = hazard.local_log_hazard(
            self.p, self.neighbour_share[rows], self.air[rows], cov.reach[rows], cov.pakistan[rows],
            cov.focus[rows])

    def hazards(self) -> np.ndarray:
        """Current hazard of every district (0 for the fallen and for capitals not yet assaulted)."""
        p, cov, drv = self.p, self.model.cov, self.drivers
        momentum = self.n_fallen / self.model.n
        # district_log_hazard = nationwide_log_pressure + local_log_hazard (sim.hazard)
        lam = np.exp(hazard.nationwide_log_pressure(p, momentum, drv.pay, drv.mobilization)
                     + self.local)
        lam[self.quiet] = 0.0
        if not np.isnan(self.assault_time):
            rows = cov.capital_rows
            cascade = self.capitals_fallen / (len(rows) - 1)
            encirclement = cov.encirclement(self.fallen)
            lam_cap = np.exp(hazard.capital_log_hazard(
                p, encirclement, cascade, momentum, drv.pay, self.air[rows], cov.reach[rows],
                cov.distance_100km[rows], cov.focus[rows], cov.city_size[rows], self.assault_days))
            ring = cov.ring_share(self.fallen)
            lam_cap[cov.kabul_slot] = np.exp(hazard.kabul_log_hazard(p, cascade, ring,
                                                                     self.assault_days))
            lam_cap[self.fallen[rows]] = 0.0
            lam[rows] = lam_cap
        return lam

    def surrenders(self):
        env = self.env
        while not self.over:
            lam = self.hazards()
            # time each district needs to use up its remaining resistance at its current hazard
            wait = np.divide(self.draws.resistance - self.cumulative, lam,
                             out=np.full(lam.shape, np.inf), where=lam > 0)
            nxt = int(np.argmin(wait))
            timer = None
            if np.isfinite(wait[nxt]) and env.now + wait[nxt] < self.model.horizon:
                timer = env.timeout(max(float(wait[nxt]), 0.0))
                yield self._wake | timer
            else:
                yield self._wake
            self.cumulative += lam * (env.now - self.t_last)
            self.t_last = env.now
            if timer is not None and timer.processed and not self.over:
                self._fall(nxt)
            if self._wake.triggered:
                inbox, self._inbox = self._inbox, []
                self._wake = env.event()
                for kind, payload in inbox:
                    self._receive(kind, payload)

    def _receive(self, kind: str, payload) -> None:
        now = self.env.now
        if self.over:
            return
        if kind == "drivers":
            self.drivers = self.model.timeline.states[payload]
            self.air = self.drivers.air_by_district()
            self._refresh_local()
            if self.record_log:
                for ev in self.model.timeline.events:
                    if ev.day == self.model.timeline.starts[payload]:
                        self._log(now, "driver", ev.id, f"{ev.driver}={ev.value:g}")
        elif kind == "window":
            self.window_open = True
            self._check_trigger()
        elif kind == "assault_day":
            self.assault_days += 1
        elif kind == "horizon":
            self.over = True
            self._log(now, "end", "horizon")

    def _check_trigger(self) -> None:
        if np.isnan(self.assault_time) and self.window_open and hazard.assault_ready(
                self.p, self.env.now, self.window_opens, self.n_fallen / self.model.n):
            self.assault_time = self.env.now
            self._assault_started.succeed()
            self._log(self.env.now, "assault", "capitals", "the assault on provincial capitals begins")

    def _fall(self, j: int) -> None:
        now, p, geo = self.env.now, self.p, self.model.geo
        momentum = self.n_fallen / self.model.n
        negotiated = self.draws.u_mode[j] < hazard.negotiated_probability(
            p, self.drivers.pay, momentum, float(geo.is_capital[j]))
        self._mark(j, now, NEGOTIATED if negotiated else FIGHT)
        self._log(now, "fall", geo.pcodes[j], "negotiated" if negotiated else "fight")
        if j == geo.kabul_row:
            self._collapse(now)
            return
        self._check_trigger()

    def _mark(self, j: int, now: float, mode: int) -> None:
        geo = self.model.geo
        self.fallen[j] = True
        self.quiet[j] = True
        self.fall_time[j] = now
        self.mode[j] = mode
        self.n_fallen += 1
        self.capitals_fallen += int(geo.is_capital[j] and j != geo.kabul_row)
        sl = slice(geo.nb_indptr[j], geo.nb_indptr[j + 1])
        neighbours = geo.nb_indices[sl]
        self.neighbour_share[neighbours] += self.model.incoming_weight[sl]
        self._refresh_local(neighbours)

    def _collapse(self, now: float) -> None:
        """Kabul has fallen: the republic ends; what is still held may surrender with it."""
        p, geo = self.p, self.model.geo
        prob = np.where(geo.is_capital, p.collapse_capital_prob, p.collapse_district_prob)
        for i in np.flatnonzero(~self.fallen & (self.draws.u_collapse < prob)):
            self._mark(i, now, NEGOTIATED)
            self._log(now, "collapse", geo.pcodes[i], "negotiated")
        self.end_time = now
        self.over = True
        self._log(now, "end", "kabul", "the republic falls")

    def result(self) -> ReplicateResult:
        return ReplicateResult(self.fall_time, self.mode, float(self.assault_time),
                               float(self.end_time), self.log)


def run_replicate(model: Model, params: Params, draws: Draws, record_log: bool = True
                  ) -> ReplicateResult:
    """Simulate one replicate with the SimPy engine."""
    env = simpy.Environment()
    campaign = Campaign(env, model, params, draws, record_log)
    env.run(until=campaign.process)
    return campaign.result()
