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
* ``reactions`` waits for the assault on the cities and then sends each reactive driver change
  (the 7 August surge is one) at its delay after it;
* ``horizon`` ends the run at the horizon;
* ``surrenders`` is the campaign itself: it sleeps until the next fall (or the Taliban's decision
  to turn on the cities, an actor with its own hazard and threshold) and applies it. The other
  processes *interrupt* that sleep when something outside the campaign changes (SimPy's
  interrupt idiom): falls are the common event (~300 a replicate) and messages the rare one
  (~30), so the common path costs one timeout and nothing else.

Kabul's fall ends the republic (``end_time``) but not the run: the government gone is a state of
the rule (every hazard rises by ``b_government_gone``), so what is left falls in a short
post-Kabul phase unless it resists (Panjshir).

New kinds of actors (a government reinforcement process, a Taliban effort allocator) are added
here first, as processes that send messages to the campaign.

This engine favours legibility over speed; :mod:`sim.batch` runs many replicates at once with
the same rule and the same draws, and the test-suite checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from . import hazard
from .model import FIGHT, HELD, HELD_AT_START, NEGOTIATED, Model
from .outcomes import Outcomes
from .parameters import Params
from .randomness import Draws, initial_fallen


@dataclass(frozen=True)
class LogEntry:
    time: float
    kind: str        # initial | driver | assault | fall | end
    subject: str     # district pcode, event id, ...
    detail: str = ""


class Campaign:
    """The state of one replicate and the SimPy processes that change it."""

    def __init__(self, env: simpy.Environment, model: Model, params: Params, draws: Draws,
                 record_log: bool = True):
        self.env, self.model, self.p, self.draws = env, model, params, draws
        geo, cov, p = model.geo, model.cov, params
        self.record_log = record_log
        self.log: list[LogEntry] = []
        n = self.n = model.n

        start = initial_fallen(hazard.initial_log_weights(p, cov), draws.gumbel,
                               int(round(float(p.initial_fallen))))
        self.fallen = start.copy()
        self.fall_time = np.where(start, 0.0, np.nan)
        self.mode = np.where(start, HELD_AT_START, HELD).astype(np.int8)
        # W . fallen for every declared exposure (sim.exposures), and the same divided by the
        # denominators: what the rule reads, kept up to date entry by entry
        self.exposure = model.exposures.numerators(self.fallen)
        self.value = self.exposure / model.exposures.denominator
        # 1.0 where the rural rule applies, 0.0 for the quiet (capitals and the fallen)
        self.exposed = (cov.rural & ~self.fallen).astype(float)
        # resistance not yet used up; +inf once fallen, so a fallen district never comes next
        self.remaining = np.where(start, np.inf,
                                  hazard.district_resistance(p, draws.resistance, cov.rural))
        self._wait = np.empty(n)
        self.t_last = 0.0
        self.segment, self.level = 0, 0                # dated segment, reactive events in force
        self.drivers = model.timeline.drivers(0, 0)
        self._scoped_levels = model.timeline.scoped_levels
        self._set_local_drivers()
        # the Taliban's decision to turn on the cities: an actor with its own threshold
        self.decision_remaining = float(hazard.assault_threshold(p, draws.u_actor[0]))
        self.assault_time = np.nan
        self._assault_started = env.event()
        self.government_gone = 0.0
        self.end_time = model.horizon
        self.over = False
        for i in np.flatnonzero(start):
            self._log(0.0, "initial", geo.pcodes[i])

        self._never = env.event()        # what the campaign waits on when no fall is due
        env.process(self.exogenous_timeline())
        env.process(self.reactions())
        env.process(self.horizon())
        self.process = env.process(self.surrenders())

    # ------------------------------------------------------------------ messaging
    def _send(self, kind: str, payload=None) -> None:
        """Wake the campaign: it brings its clock up to date, applies the message and recomputes
        the hazards before it sleeps again."""
        if not self.over:
            self.process.interrupt((kind, payload))

    def _log(self, time, kind, subject, detail="") -> None:
        if self.record_log:
            self.log.append(LogEntry(float(time), kind, subject, detail))

    # ------------------------------------------------------------------ exogenous processes
    def exogenous_timeline(self):
        tl = self.model.timeline
        for k in range(1, len(tl.starts)):
            yield self.env.timeout(tl.starts[k] - self.env.now)
            self._send("drivers", k)

    def reactions(self):
        """Reactive drivers: each at its delay after the assault on the cities began."""
        rx = self.model.timeline.reactive
        if rx.count == 0:
            return
        yield self._assault_started
        for j, delay in enumerate(rx.delays, start=1):
            at = self.assault_time + float(delay)
            if at >= self.model.horizon:
                return
            yield self.env.timeout(max(at - self.env.now, 0.0))
            self._send("reaction", j)

    def horizon(self):
        yield self.env.timeout(self.model.horizon)
        self._send("horizon")

    # ------------------------------------------------------------------ the campaign
    def _refresh_local(self, rows=None) -> None:
        """Each district's own factor of the rule, exp(local log hazard) (neighbours, air cover,
        covariates), kept up to date for the districts whose inputs changed (all of them when
        ``rows`` is None); 0 for the quiet. :meth:`hazards` multiplies it by the nationwide factor.
        """
        cov = self.model.cov
        if rows is None:
            rows = slice(None)
            self.local_rate = np.empty(self.n)
        scoped = 0.0 if self.scoped_offset is None else self.scoped_offset[rows]
        x = self.model.exposures.read(self.value, "rural", rows, scope="district")
        self.local_rate[rows] = hazard.rate(hazard.local_log_hazard(
            self.p, x, self.air[rows], cov.local(rows), scoped)) * self.exposed[rows]

    def hazards(self) -> np.ndarray:
        """Current hazard of every district (0 for the fallen and for capitals not yet assaulted)."""
        p, cov, drv, ex = self.p, self.model.cov, self.drivers, self.model.exposures
        # district_log_hazard = nationwide_log_pressure + local_log_hazard (sim.hazard), so the
        # district's rate is the nationwide factor times its own (sim.batch uses the same split)
        held_mean = hazard.held_mean_rate(self.local_rate) if p.b_capacity else 1.0   # A32
        lam = (hazard.rate(hazard.nationwide_log_pressure(
            p, ex.read(self.value, "rural", scope="national"), drv.pay, drv.mobilization,
            self.government_gone, drv.withdrawal, held_mean)) * self.local_rate)
        if not np.isnan(self.assault_time):
            rows = cov.capital_rows
            at = cov.at_capitals
            lam_cap = hazard.rate(hazard.capital_log_hazard(
                p, ex.read(self.value, "capital"), self.pay_capitals, self.air_capitals,
                at.reach, at.distance_100km, at.focus, at.city_size, at.resistance,
                self.government_gone, self.garrison_capitals))
            k = cov.kabul_slot
            lam_cap[k] = hazard.rate(hazard.kabul_log_hazard(
                p, ex.read(self.value, "kabul"), self.pay_capitals[k],
                self.air_capitals[k], at.reach[k], self.garrison_capitals[k]))
            lam_cap[self.fallen[rows]] = 0.0
            lam[rows] = lam_cap
        return lam

    def decision_hazard(self) -> float:
        """The hazard of the Taliban's decision to turn on the cities (0 once taken)."""
        if not np.isnan(self.assault_time):
            return 0.0
        drv = self.drivers
        return float(hazard.rate(hazard.assault_log_hazard(
            self.p, self.model.exposures.read(self.value, "decision"), drv.withdrawal,
            drv.air_national)))

    def _set_local_drivers(self) -> None:
        """The drivers that differ by district (air cover, garrisons, scoped arrears and brake),
        after a driver change; then every district's own factor is recomputed."""
        drv, caps = self.drivers, self.model.cov.capital_rows
        self.air = drv.air_by_district()
        self.air_capitals = self.air[caps]
        self.garrison_capitals = drv.garrison[caps]
        self.pay_capitals = drv.district_pay[caps]
        # None (nothing to add) unless some event is scoped: the common path stays as it was
        self.scoped_offset = (hazard.scoped_levels_offset(
            self.p, drv.district_pay, drv.pay, drv.district_mobilization, drv.mobilization)
            if self._scoped_levels else None)
        self._refresh_local()

    def surrenders(self):
        env = self.env
        while not self.over:
            lam = self.hazards()
            lam_a = self.decision_hazard()
            # time each district needs to use up its remaining resistance at its current hazard
            self._wait.fill(np.inf)
            wait = np.divide(self.remaining, lam, out=self._wait, where=lam > 0)
            nxt = int(wait.argmin())
            soonest = float(wait[nxt])
            wait_a = self.decision_remaining / lam_a if lam_a > 0 else np.inf
            decide = wait_a < soonest
            soonest = min(soonest, wait_a)
            due = env.now + soonest < self.model.horizon      # False when nothing can happen
            try:
                yield env.timeout(max(soonest, 0.0)) if due else self._never
            except simpy.Interrupt as message:
                self._use_up(lam, lam_a)
                self._receive(*message.cause)
            else:
                self._use_up(lam, lam_a)
                if decide:
                    self._start_assault()
                else:
                    self._fall(nxt)

    def _use_up(self, lam: np.ndarray, lam_a: float) -> None:
        """Every district (and the decision) spends resistance at its hazard since the last event."""
        elapsed = self.env.now - self.t_last
        self.remaining -= lam * elapsed
        self.decision_remaining -= lam_a * elapsed
        self.t_last = self.env.now

    def _receive(self, kind: str, payload) -> None:
        now = self.env.now
        if self.over:
            return
        tl = self.model.timeline
        if kind == "drivers":
            self.segment = payload
            self.drivers = tl.drivers(self.segment, self.level)
            self._set_local_drivers()
            if self.record_log:
                for ev in tl.events:
                    if not ev.reactive and ev.day == tl.starts[payload]:
                        self._log(now, "driver", ev.id, f"{ev.driver}={ev.value:g}")
        elif kind == "reaction":
            self.level = payload
            self.drivers = tl.drivers(self.segment, self.level)
            self._set_local_drivers()
            ev = tl.reactive.events[payload - 1]
            self._log(now, "driver", ev.id, f"{ev.driver}+={ev.value:g} ({ev.describe_when()})")
        elif kind == "horizon":
            self.over = True
            self._log(now, "end", "horizon")

    def _start_assault(self) -> None:
        self.assault_time = self.env.now
        self.decision_remaining = np.inf
        self._assault_started.succeed()
        self._log(self.env.now, "assault", "capitals", "the assault on provincial capitals begins")

    def _fall(self, j: int) -> None:
        now, p, geo = self.env.now, self.p, self.model.geo
        negotiated = self.draws.u_mode[j] < hazard.negotiated_probability(
            p, self.model.exposures.read(self.value, "mode", j),
            self.drivers.district_pay[j], float(geo.is_capital[j]))
        self._mark(j, now, NEGOTIATED if negotiated else FIGHT)
        self._log(now, "fall", geo.pcodes[j], "negotiated" if negotiated else "fight")
        if j == geo.kabul_row:
            # the republic ends; the government gone is now a state of every hazard
            self.government_gone = 1.0
            self.end_time = now
            self._log(now, "end", "kabul", "the republic falls")

    def _mark(self, j: int, now: float, mode: int) -> None:
        ex = self.model.exposures
        self.fallen[j] = True
        self.exposed[j] = 0.0
        self.local_rate[j] = 0.0
        self.remaining[j] = np.inf
        self.fall_time[j] = now
        self.mode[j] = mode
        # every declared exposure takes column j of its W; the districts whose own exposure
        # changed (the neighbours, for the shipped declaration) get their own factor recomputed
        sl = ex.entries(j)
        target = ex.src_target[sl]
        self.exposure[target] += ex.src_weight[sl]
        self.value[target] = self.exposure[target] / ex.denominator[target]
        touched = ex.src_district[sl]
        touched = touched[touched >= 0]
        if ex.touches_twice[j]:
            touched = np.unique(touched)
        if len(touched):
            self._refresh_local(touched)

    def result(self) -> Outcomes:
        return Outcomes(self.fall_time, self.mode, float(self.assault_time),
                        float(self.end_time), self.log)


def run_replicate(model: Model, params: Params, draws: Draws, record_log: bool = True
                  ) -> Outcomes:
    """Simulate one replicate with the SimPy engine."""
    env = simpy.Environment()
    campaign = Campaign(env, model, params, draws, record_log)
    env.run(until=campaign.process)
    return campaign.result()
