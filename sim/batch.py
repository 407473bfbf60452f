"""The batch engine: many replicates at once, replicates as an array axis.

Same model (:mod:`sim.hazard`), same draws (:mod:`sim.randomness`), same exact threshold
dynamics as the SimPy reference engine (:mod:`sim.engine`); the test-suite checks that both give
the same fall times. It is organised for speed rather than for reading:

* Every iteration advances *each* live replicate to its own next event (a rural fall, a capital
  fall, a dated driver change, the Taliban's decision to turn on the cities, a reactive driver
  change or the horizon), so replicates move in lock-step by event count, not by time.
* The rural rule factorises into a nationwide factor g(t) (momentum, national pay, national
  brake: the same for every district of a replicate) times a district's own factor h_i(t)
  (neighbours, air cover, covariates, and its departure from the national pay and brake where a
  scoped event set its own: ``hazard.scoped_levels_offset``, kept per row in ``off`` and
  recomputed with h when a driver segment or reactive level changes them). On the operational
  clock tau, with d tau = g dt, a district's cumulative hazard grows at the constant rate h_i
  between changes of h_i, so its fall is a deadline D_i on that clock. A change of h_i at tau
  rescales the remaining distance: D_i <- tau + (D_i - tau) h_old / h_new. A fall changes g
  (momentum) for free and h only for the fallen district's neighbours, so an event costs
  O(degree) updates and one arg-min over the deadlines.
* Capitals (34 per replicate) and the assault decision are recomputed directly after every event.
* Kabul's fall ends the republic but not the replicate: the government gone (G = 1) enters the
  nationwide factor and the capitals' rule, and the replicate runs on to the horizon.
* Finished replicates are set aside and dropped from the working arrays in batches.
"""

from __future__ import annotations

import numpy as np

from . import hazard
from .model import FIGHT, HELD, HELD_AT_START, NEGOTIATED, Model
from .outcomes import Outcomes
from .parameters import NAMES, ParameterTable, Params
from .randomness import Draws, initial_fallen

_COLUMN = {name: j for j, name in enumerate(NAMES)}
_RURAL, _CAPITAL, _SEGMENT, _DECISION, _REACTION, _HORIZON = range(6)


def run_batch(model: Model, table: ParameterTable, draws: Draws, *, audit: bool = False,
              stop_after_capitals: int | None = None,
              stop_after_day: float | None = None) -> Outcomes:
    """Simulate ``len(table)`` replicates; row k of ``table`` and of ``draws`` is replicate k.

    ``stop_after_capitals`` ends a replicate once that many capitals have fallen (Kabul among
    them), for a caller that reads nothing but the capitals' fall times and the assault's start:
    every capital for the calibration's capitals stage, which reads them all; one for
    :mod:`sim.cut_lift`, which reads only when the cities' fall began. What it reads is then final,
    and the falls after it are not simulated (they stay NaN in ``fall_time``). With
    ``stop_after_day`` such a replicate runs on to that day first, for a caller that also reads
    counts dated after the capitals it needs (:mod:`sim.cut_lift` with the record's count by
    Kabul's fall): every fall before the day is simulated, none after it, so the counts up to the
    day are final too.

    ``audit`` (for tests) checks, as each replicate finishes, that every share the engine kept
    incrementally (neighbours, provinces, the ring around Kabul, the counts) equals the same share
    recomputed from the replicate's fallen districts: a state array forgotten in an update or in
    the compaction of finished rows fails it.
    """
    return _BatchRun(model, table, draws, audit, stop_after_capitals=stop_after_capitals,
                     stop_after_day=stop_after_day).run()


#: The per-row state a run can be resumed from (:class:`sim.prologue.Prologue`): everything the
#: countryside has moved before the assault decision. The rest of :attr:`_BatchRun._STATE` is
#: either a draw, a parameter's consequence, or still at its start value before the decision.
RESUMABLE = ("t", "seg", "tau", "g", "h", "D", "X", "fallen", "fall_time", "mode", "off")
#: Their types where not float.
_RESUMED_DTYPE = {"seg": np.int64, "fallen": bool, "mode": np.int8}


class _Columns:
    """Per-replicate parameters stored by column; a column that is the same for every replicate
    is kept as a scalar, so a run with fixed parameters never gathers anything."""

    def __init__(self, values: np.ndarray):
        self.cols: list = []
        for j in range(values.shape[1]):
            col = values[:, j]
            self.cols.append(float(col[0]) if np.all(col == col[0]) else np.ascontiguousarray(col))

    def compact(self, keep: np.ndarray) -> None:
        self.cols = [c if isinstance(c, float) else c[keep] for c in self.cols]


class _RowParams:
    """The parameters of some rows, gathered only when read: ``(m, 1)`` columns to broadcast over
    districts, or ``(m,)`` when each row meets one value (``flat``)."""

    __slots__ = ("_cols", "_idx", "_flat")

    def __init__(self, cols: _Columns, idx: np.ndarray, flat: bool = False):
        self._cols, self._idx, self._flat = cols, idx, flat

    def __getattr__(self, name: str):
        col = self._cols.cols[_COLUMN[name]]
        if isinstance(col, float):
            return col
        col = col[self._idx]
        return col if self._flat else col[:, None]


def _entries(indptr, degree, idx, k) -> tuple:
    """The entries of columns k[m] of a CSR-by-column (indptr, degree), each with its row idx[m]."""
    deg = degree[k]
    ends = np.cumsum(deg)
    entry = np.repeat(indptr[k] - ends + deg, deg) + np.arange(ends[-1] if len(ends) else 0)
    return entry, np.repeat(idx, deg)


def _flat(a: np.ndarray) -> np.ndarray:
    """A 1-D view (never a copy) of a C-contiguous state array, for writes through flat indices."""
    v = a.reshape(-1)
    assert np.shares_memory(v, a), "state arrays must be C-contiguous"
    return v


class _BatchRun:
    # per-row state arrays, compacted together when finished rows are dropped
    # (X holds every declared exposure's numerators, sim.exposures: one array, one compaction)
    _STATE = ("rows", "alive", "r", "r_caps", "u_mode", "fallen", "fall_time",
              "mode", "X", "caps_down", "t", "seg", "level", "assault", "r_decision", "H_decision", "lam_decision", "gone", "tau", "h", "D",
              "Hc", "lam_c", "g", "off", "held", "stop")

    def __init__(self, model: Model, table: ParameterTable, draws: Draws, audit: bool = False,
                 start: dict | None = None, observer=None,
                 stop_after_capitals: int | None = None, stop_after_day: float | None = None,
                 start_groups: np.ndarray | None = None, copy_start: bool = True):
        """``start`` (rows' :data:`RESUMABLE` arrays and their ``H_decision``) resumes each row
        where a run with the assault switched off was before its decision; ``start_groups``
        (optional, one label per row) says which rows start from copies of one state, so that
        checking the state on one row of each group checks them all (a prologue resumes each of
        its snapshots under hundreds of parameter points); ``copy_start=False`` lets the run take
        ``start``'s arrays as its own, for a caller that built them for it alone.
        ``observer(run, dt)`` is called with the state at the start and after every iteration
        (``dt`` None at the start)."""
        self.model, self.audit, self.observer = model, audit, observer
        self.stop_after_capitals = stop_after_capitals
        self.stop_after_day = stop_after_day
        geo, cov, tl = model.geo, model.cov, model.timeline
        R, n = len(table), geo.n
        self.n = n
        self.ex = ex = model.exposures
        self.other_target, self.other_weight = ex.other_entries
        self.d_indptr, self.d_target, self.d_weight, self.d_district = ex.district_entries
        # entries whose exposure no term reads through a nonzero parameter in any row: a fall
        # neither adds them nor recomputes the districts they touch, and the rules read them as 0
        # (every term multiplies them by 0, so no rate can move); the live entries are kept as
        # their own CSR, built once
        zero = {name: not np.any(table.values[:, j]) for j, name in enumerate(NAMES)}
        self.quiet = ex.quiet_exposures(zero.__getitem__)
        self.capacity = not zero["b_capacity"]
        live = ~ex.quiet_district_entries(zero.__getitem__)
        self.touches_twice = ex.touches_twice_among(live)
        self.d_degree = np.bincount(np.repeat(np.arange(n), np.diff(self.d_indptr))[live],
                                    minlength=n)
        self.d_indptr = np.r_[0, np.cumsum(self.d_degree)]
        self.d_target, self.d_weight, self.d_district = (self.d_target[live], self.d_weight[live],
                                                         self.d_district[live])
        self.caps = cov.capital_rows
        self.kabul = int(geo.kabul_row)
        self.kabul_slot = cov.kabul_slot
        self.is_cap_float = geo.is_capital.astype(float)
        self.local_all = cov.local()
        self.seg_start = np.append(tl.starts, np.inf)
        self.seg_pay = np.array([s.pay for s in tl.states])
        self.seg_mob = np.array([s.mobilization for s in tl.states])
        self.seg_withdrawal = np.array([s.withdrawal for s in tl.states])
        self.seg_air_national = np.array([s.air_national for s in tl.states])
        self.seg_air = np.array([s.air_by_district() for s in tl.states])  # (K, n)
        self.seg_air_caps = np.ascontiguousarray(self.seg_air[:, self.caps])  # (K, 34)
        self.seg_gar_caps = np.array([s.garrison[self.caps] for s in tl.states])  # (K, 34)
        # arrears and brake in force in each district (the national level unless scoped)
        self.seg_pay_d = np.array([s.district_pay for s in tl.states])            # (K, n)
        self.seg_mob_d = np.array([s.district_mobilization for s in tl.states])   # (K, n)
        self.seg_pay_caps = np.ascontiguousarray(self.seg_pay_d[:, self.caps])   # (K, 34)
        rx = tl.reactive
        self.rx_delay = np.append(rx.delays, np.inf)          # (E+1,): the next one's delay
        self.rx_air, self.rx_pay, self.rx_mob = rx.air, rx.pay, rx.mobilization
        self.rx_withdrawal = rx.withdrawal
        self.rx_pay_d, self.rx_mob_d = rx.district_pay, rx.district_mobilization  # (E+1, n)
        self.rx_air_caps = np.ascontiguousarray(rx.air[:, self.caps])
        self.rx_gar_caps = np.ascontiguousarray(rx.garrison[:, self.caps])
        self.rx_pay_caps = np.ascontiguousarray(rx.district_pay[:, self.caps])
        # A change of air cover changes districts' own rates; pay, brake and withdrawal steps act
        # through the nationwide factor alone, unless some event is scoped: then a district's
        # departure from the national pay and brake is part of its own rate, and every change of
        # them is a change of h.
        self.scoped = tl.scoped_levels
        seg_local, rx_local = [self.seg_air], [rx.air]
        if self.scoped:
            seg_local += [self.seg_pay_d, self.seg_mob_d, self.seg_pay[:, None],
                          self.seg_mob[:, None]]
            rx_local += [rx.district_pay, rx.district_mobilization, rx.pay[:, None],
                         rx.mobilization[:, None]]
        self.local_changes = np.r_[False, np.any([np.any(a[1:] != a[:-1], axis=1)
                                                   for a in seg_local], axis=0), False]
        self.rx_local_changes = np.r_[False, np.any([np.any(a[1:] != a[:-1], axis=1)
                                                      for a in rx_local], axis=0), False]
        self.horizon = tl.horizon
        # each row's last day: the horizon, or sooner once what its caller reads is final
        self.stop = np.full(R, float(self.horizon))

        self.out_fall = np.full((R, n), np.nan)
        self.out_mode = np.zeros((R, n), dtype=np.int8)
        self.out_assault = np.full(R, np.nan)
        self.out_end = np.full(R, self.horizon)

        p = Params.from_table(table)
        self.p_cols = _Columns(table.values)
        # the rural calibration stage and the countryside-only runs switch the decision off: its
        # rate, log(0) plus finite terms, is exactly 0 in every row, so it is never recomputed
        rate_col = self.p_cols.cols[_COLUMN["assault_rate"]]
        self.never_decides = isinstance(rate_col, float) and rate_col == 0.0
        self.rows = np.arange(R)
        self.alive = np.ones(R, dtype=bool)
        self.r = hazard.district_resistance(p, draws.resistance, cov.rural)
        self.r_caps = self.r[:, self.caps]         # the cities' endurance (A33), not the raw draw
        self.capital_slot = np.full(n, -1)
        self.capital_slot[self.caps] = np.arange(len(self.caps))
        self.caps_down = np.zeros((R, len(self.caps)), dtype=bool)   # fallen capitals, by slot
        self.u_mode = draws.u_mode
        if start is None:        # a resumed run takes these from ``start`` (below) instead
            initial = initial_fallen(hazard.initial_log_weights(p, cov), draws.gumbel,
                                     np.rint(table.column("initial_fallen")).astype(int))
            self.fallen = initial
            self.fall_time = np.where(initial, 0.0, np.nan)
            self.mode = np.where(initial, HELD_AT_START, HELD).astype(np.int8)
            # (R, T + 1), C-contiguous, updated through flat views; the last column is a sink
            # for the padding of ExposureSet.other_entries, never read
            self.X = np.ascontiguousarray(np.c_[ex.numerators(initial), np.zeros(R)])
            self.t = np.zeros(R)
            self.seg = np.zeros(R, dtype=np.int64)
            self.tau = np.zeros(R)                  # the operational clock
            self.h = np.zeros((R, n))               # local rate; 0 = not a live rural district
            self.D = np.full((R, n), np.inf)        # deadline on the operational clock
            self.g = np.ones(R)
            # each district's scoped_levels_offset (None when no event is scoped: nothing to add)
            self.off = np.zeros((R, n)) if self.scoped else None
            # A32's count of the districts each row still holds (positive h), kept as they fall
            self.held = np.zeros(R, dtype=np.int64) if self.capacity else None
        self.level = np.zeros(R, dtype=np.int64)      # reactive events in force
        self.assault = np.full(R, np.nan)
        self.r_decision = np.asarray(hazard.assault_threshold(p, draws.u_actor[:, 0:1]))[:, 0]
        self.H_decision = np.zeros(R)
        self.lam_decision = np.zeros(R)
        self.gone = np.zeros(R)                       # 1 once Kabul has fallen
        self.Hc = np.zeros((R, len(self.caps)))
        self.lam_c = np.zeros((R, len(self.caps)))
        self.any_assault = False

        everyone = np.arange(R)
        if start is not None:
            # every array as the uninterrupted run had it after the same event: the decision's
            # rate is then recomputed from that state exactly as the run did after that event
            # (copied unless the caller gives them away: it may resume the same state twice;
            # none is computed first only to be replaced)
            take = np.array if copy_start else np.ascontiguousarray
            for name in RESUMABLE:
                if name == "off" and not self.scoped:
                    self.off = None
                    continue
                setattr(self, name, take(start[name], dtype=_RESUMED_DTYPE.get(name, float)))
            self.H_decision = np.array(start["H_decision"], dtype=float)
            self.held = hazard.held_count(self.h) if self.capacity else None
            # a snapshot taken where an exposure was silent (not kept) can be resumed where it is
            # read only if it had not moved: true of the cities' own exposures before the assault
            # (a prologue varies only the cities' parameters), checked rather than assumed, on
            # one row of each group of copies
            self._audit(everyone if start_groups is None
                        else np.unique(start_groups, return_index=True)[1])
            self._refresh_decision(everyone)
            return
        self._refresh_all_rural(everyone, first=True)
        self._refresh_g(everyone)
        self._refresh_decision(everyone)
        self._refresh_capitals(everyone)

    def _p(self, idx) -> _RowParams:
        return _RowParams(self.p_cols, idx)

    # ------------------------------------------------------------------ drivers per row
    def _pay(self, idx):
        return self.seg_pay[self.seg[idx]] + self.rx_pay[self.level[idx]]

    def _mobilization(self, idx):
        return self.seg_mob[self.seg[idx]] + self.rx_mob[self.level[idx]]

    def _withdrawal(self, idx):
        return self.seg_withdrawal[self.seg[idx]] + self.rx_withdrawal[self.level[idx]]

    def _air(self, idx):
        return self.seg_air[self.seg[idx]] + self.rx_air[self.level[idx]]

    def _refresh_offset(self, idx) -> None:
        """Each district's departure from the national pay and brake, for the given rows."""
        seg, level = self.seg[idx], self.level[idx]
        self.off[idx] = hazard.scoped_levels_offset(
            self._p(idx), self.seg_pay_d[seg] + self.rx_pay_d[level], self._pay(idx)[:, None],
            self.seg_mob_d[seg] + self.rx_mob_d[level], self._mobilization(idx)[:, None])

    # ------------------------------------------------------------------ hazard refreshes
    def _refresh_g(self, idx) -> None:
        """The nationwide factor of the given rows, after their own factors ``h`` are current."""
        p = self._p(idx)
        # A32's mean own factor of the districts held, only where some row has a capacity
        held_mean = 1.0
        if self.capacity:
            # nearly every row changes at every event: summing every row where it lies costs
            # less than gathering the changed rows first, and gives each row the same sum
            if 2 * len(idx) >= len(self.rows):
                held_mean = hazard.held_mean_rate(self.h, self.held)[idx, None]
            else:
                held_mean = hazard.held_mean_rate(self.h[idx], self.held[idx])[:, None]
        self.g[idx] = hazard.rate(hazard.nationwide_log_pressure(
            p, self.ex.for_rule(self.X, "rural", replicates=idx, scope="national"),
            self._pay(idx)[:, None], self._mobilization(idx)[:, None], self.gone[idx][:, None],
            self._withdrawal(idx)[:, None], held_mean)[:, 0])

    def _refresh_decision(self, idx) -> None:
        """The decision's hazard, for the rows that have not yet turned on the cities."""
        if self.never_decides:
            return
        idx = idx[np.isnan(self.assault[idx])]
        if len(idx) == 0:
            return
        seg = self.seg[idx]
        self.lam_decision[idx] = hazard.rate(hazard.assault_log_hazard(
            self._p(idx), self.ex.for_rule(self.X, "decision", replicates=idx),
            self.seg_withdrawal[seg][:, None], self.seg_air_national[seg][:, None]))[:, 0]

    def _refresh_all_rural(self, idx, first: bool = False) -> None:
        """Recompute h for every rural district of the given rows (start, or a driver change)."""
        if len(idx) == 0:
            return
        cov = self.model.cov
        tau = self.tau[idx][:, None]
        scoped = 0.0
        if self.scoped:
            self._refresh_offset(idx)
            scoped = self.off[idx]
        x = self.ex.for_rule(self.X, "rural", replicates=idx, scope="district", silent=self.quiet)
        h = hazard.rate(hazard.local_log_hazard(self._p(idx), x, self._air(idx), self.local_all,
                                                scoped))
        if first:
            live = cov.rural & ~self.fallen[idx]
            h = np.where(live, h, 0.0)
            with np.errstate(divide="ignore"):
                self.D[idx] = np.where(live, self.r[idx] / np.where(live, h, 1.0), np.inf)
        else:
            h_old = self.h[idx]
            live = h_old > 0
            h = np.where(live, h, 0.0)
            with np.errstate(invalid="ignore"):
                self.D[idx] = np.where(live, tau + (self.D[idx] - tau) * h_old
                                       / np.where(live, h, 1.0), np.inf)
        self.h[idx] = h
        if self.held is not None:
            self.held[idx] = hazard.held_count(h)

    def _add_to_exposures(self, idx, k) -> None:
        """District k[m] of row idx[m] has fallen: every declared exposure takes column k[m] of
        its W; the districts whose own exposures changed get their rates and deadlines rescaled."""
        X, width = _flat(self.X), self.X.shape[1]
        # one fall per row per call and distinct targets per column: no index repeats, but in
        # the sink column the padding of the national and capital entries adds to
        if self.other_target.shape[1]:
            X[(idx * width)[:, None] + self.other_target[k]] += self.other_weight[k]
        entry, row = _entries(self.d_indptr, self.d_degree, idx, k)
        X[row * width + self.d_target[entry]] += self.d_weight[entry]
        deg = self.d_degree[k]
        nb = self.d_district[entry]
        twice = self.touches_twice[k]
        if twice.any():       # only those rows' entries can repeat a district (rows never collide)
            dup = np.repeat(twice, deg)
            pairs = np.sort(row[dup] * self.n + nb[dup])
            pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
            row = np.concatenate([row[~dup], pairs // self.n])
            nb = np.concatenate([nb[~dup], pairs % self.n])
        self._refresh_local(row, nb)

    def _refresh_local(self, row, nb) -> None:
        """Recompute h of district nb[m] in row row[m] (one of its own exposures changed) and
        rescale its deadline."""
        if len(row) == 0:
            return
        cov = self.model.cov
        flat = row * self.n + nb
        h_all, D_all = _flat(self.h), _flat(self.D)
        h_old = h_all[flat]
        live = h_old > 0
        if not live.any():
            return
        keep = np.flatnonzero(live)
        flat, nb, row, h_old = flat[keep], nb[keep], row[keep], h_old[keep]
        air = self.seg_air[self.seg[row], nb] + self.rx_air[self.level[row], nb]
        scoped = _flat(self.off)[flat] if self.scoped else 0.0
        x = self.ex.at_pairs(self.X, "rural", row, nb, scope="district", silent=self.quiet)
        h = hazard.rate(hazard.local_log_hazard(
            _RowParams(self.p_cols, row, flat=True), x, air, cov.local(nb), scoped))
        tau = self.tau[row]
        D = D_all[flat]
        # an unchanged rate keeps its deadline as it is (tau + (D - tau) can round away from D),
        # so declaring a mechanism whose coefficient is zero changes no bit
        D_all[flat] = np.where(h == h_old, D, tau + (D - tau) * h_old / h)
        h_all[flat] = h
        if self.held is not None:
            lost = ~(h > 0)        # a rate that underflowed to 0: out of the rule from now on
            if lost.any():
                np.subtract.at(self.held, row[lost], 1)

    def _refresh_capitals(self, idx) -> None:
        idx = idx[~np.isnan(self.assault[idx])]
        if len(idx) == 0:
            return
        cov = self.model.cov
        p = self._p(idx)
        seg, level = self.seg[idx], self.level[idx]
        pay = self.seg_pay_caps[seg] + self.rx_pay_caps[level]      # each capital's own arrears
        air = self.seg_air_caps[seg] + self.rx_air_caps[level]
        garrison = self.seg_gar_caps[seg] + self.rx_gar_caps[level]
        at = cov.at_capitals
        x = self.ex.for_rule(self.X, "capital", replicates=idx, silent=self.quiet)
        lam = hazard.rate(hazard.capital_log_hazard(
            p, x, pay, air, at.reach, at.distance_100km, at.focus,
            at.city_size, at.resistance, self.gone[idx][:, None], garrison))
        k = self.kabul_slot
        x = self.ex.for_rule(self.X, "kabul", replicates=idx, silent=self.quiet)
        lam[:, k] = hazard.rate(hazard.kabul_log_hazard(
            p, x, pay[:, k:k + 1], air[:, k:k + 1], at.reach[k], garrison[:, k:k + 1]))[:, 0]
        # a fallen capital's rate is zero: it accumulates nothing and never comes next
        self.lam_c[idx] = np.where(self.caps_down[idx], 0.0, lam)

    # ------------------------------------------------------------------ events
    def _fall(self, idx, k) -> None:
        """District k[m] falls in row idx[m] at the row's current time."""
        if len(idx) == 0:
            return
        # the arrears in force in the falling district (its own where a scoped event set them)
        pay = self.seg_pay_d[self.seg[idx], k] + self.rx_pay_d[self.level[idx], k]
        x = self.ex.at_pairs(self.X, "mode", idx, k, silent=self.quiet)
        prob = hazard.negotiated_probability(_RowParams(self.p_cols, idx, flat=True), x, pay,
                                             self.is_cap_float[k])
        flat = idx * self.n + k
        if self.held is not None:      # one fall per row: no row repeats
            self.held[idx] -= _flat(self.h)[flat] > 0
        _flat(self.fallen)[flat] = True
        _flat(self.fall_time)[flat] = self.t[idx]
        _flat(self.mode)[flat] = np.where(_flat(self.u_mode)[flat] < prob, NEGOTIATED, FIGHT)
        _flat(self.D)[flat] = np.inf
        _flat(self.h)[flat] = 0.0
        capital = self.capital_slot[k] >= 0
        self.caps_down[idx[capital], self.capital_slot[k[capital]]] = True
        self._add_to_exposures(idx, k)

    # ------------------------------------------------------------------ main loop
    def run(self) -> Outcomes:
        caps = self.caps
        cand = np.empty((6, len(self.rows)))
        if self.observer is not None:
            self.observer(self, None)
        while len(self.rows):
            L = len(self.rows)
            live = np.arange(L)
            cand = cand[:, :L]
            k_rural = np.argmin(self.D, axis=1)
            tau_star = self.D[live, k_rural]
            with np.errstate(invalid="ignore"):
                # inf - inf is nan where nothing rural is left: argmin below skips it as inf
                np.add(self.t, (tau_star - self.tau) / self.g, out=cand[_RURAL])
            cand[_RURAL][~np.isfinite(tau_star)] = np.inf
            if self.any_assault:
                wait_c = np.divide(self.r_caps - self.Hc, self.lam_c, out=np.full_like(self.Hc, np.inf),
                                   where=self.lam_c > 0)
                j_cap = np.argmin(wait_c, axis=1)
                np.add(self.t, wait_c[live, j_cap], out=cand[_CAPITAL])
                # NaN before the assault, inf once every reactive event is in force
                cand[_REACTION] = np.where(np.isnan(self.assault), np.inf,
                                           self.assault + self.rx_delay[self.level])
            else:
                j_cap = np.zeros(L, dtype=np.int64)
                cand[_CAPITAL] = np.inf
                cand[_REACTION] = np.inf
            cand[_SEGMENT] = self.seg_start[self.seg + 1]
            wait_d = np.divide(self.r_decision - self.H_decision, self.lam_decision,
                               out=np.full(L, np.inf), where=self.lam_decision > 0)
            np.add(self.t, wait_d, out=cand[_DECISION])
            cand[_HORIZON] = self.stop
            kind = np.argmin(cand, axis=0)
            t_next = np.maximum(cand[kind, live], self.t)     # never step back through rounding
            kind = np.where(self.alive, kind, -1)

            dt = np.where(self.alive, t_next - self.t, 0.0)
            self.tau += self.g * dt
            self.Hc += self.lam_c * dt[:, None]
            self.H_decision += self.lam_decision * dt
            self.t += dt

            rural = np.flatnonzero(kind == _RURAL)
            capital = np.flatnonzero(kind == _CAPITAL)
            segment = np.flatnonzero(kind == _SEGMENT)
            decision = np.flatnonzero(kind == _DECISION)
            reaction = np.flatnonzero(kind == _REACTION)
            done = np.flatnonzero(kind == _HORIZON)

            fallen_caps = caps[j_cap[capital]]
            self._fall(np.concatenate([rural, capital]),
                       np.concatenate([k_rural[rural], fallen_caps]))
            kabul_fell = capital[fallen_caps == self.kabul]
            if len(segment):
                self.seg[segment] += 1
                self._refresh_all_rural(segment[self.local_changes[self.seg[segment]]])
            if len(decision):
                self.assault[decision] = self.t[decision]
                self.lam_decision[decision] = 0.0
                self.any_assault = True
            if len(reaction):
                self.level[reaction] += 1
                self._refresh_all_rural(reaction[self.rx_local_changes[self.level[reaction]]])
            if len(kabul_fell):
                # the republic ends: the government gone is a state of every remaining hazard
                self.gone[kabul_fell] = 1.0
                self.out_end[self.rows[kabul_fell]] = self.t[kabul_fell]

            changed = np.concatenate([rural, capital, segment, decision, reaction])
            self._refresh_g(changed)
            self._refresh_decision(changed)
            self._refresh_capitals(changed)
            if self.observer is not None:
                self.observer(self, dt)
            if self.stop_after_capitals is not None and len(capital):
                # a row can reach the count only in an iteration in which it took a capital
                complete = capital[self.caps_down[capital].sum(axis=1) >= self.stop_after_capitals]
                if self.stop_after_day is not None and len(complete):
                    # a count on that day is read too: run on to it (a horizon event), then stop
                    waiting = self.t[complete] < self.stop_after_day
                    self.stop[complete[waiting]] = min(float(self.horizon), self.stop_after_day)
                    complete = complete[~waiting]
                done = np.concatenate([done, complete]) if len(complete) else done

            if len(done):
                self._finish(done)
        return Outcomes(self.out_fall, self.out_mode, self.out_assault, self.out_end)

    def _audit(self, rows) -> None:
        fallen = self.fallen[rows]
        kept, recomputed = self.X[rows, :-1], self.ex.numerators(fallen)
        checks = {
            **{f"exposure {name}": (kept[:, sl], recomputed[:, sl])
               for name, sl in self.ex.blocks.items() if name not in self.quiet},
            "capitals down": (self.caps_down[rows], fallen[:, self.caps]),
            "fall times": (np.isfinite(self.fall_time[rows]), fallen),
        }
        if self.held is not None:
            checks["held districts"] = (self.held[rows], hazard.held_count(self.h[rows]))
        for name, (kept, recomputed) in checks.items():
            if not np.allclose(kept, recomputed, rtol=0, atol=1e-9):
                raise AssertionError(f"batch engine: kept {name} differ from the fallen districts'")

    def _finish(self, finished) -> None:
        if self.audit:
            self._audit(finished)
        g_rows = self.rows[finished]
        self.out_fall[g_rows] = self.fall_time[finished]
        self.out_mode[g_rows] = self.mode[finished]
        self.out_assault[g_rows] = self.assault[finished]
        self.alive[finished] = False
        self.D[finished] = np.inf
        self.lam_c[finished] = 0.0
        self.lam_decision[finished] = 0.0
        n_dead = len(self.alive) - int(self.alive.sum())
        if n_dead == len(self.alive) or n_dead >= max(32, len(self.alive) // 4):
            keep = self.alive
            for name in self._STATE:
                value = getattr(self, name)
                if value is not None:          # off is None when no event is scoped
                    setattr(self, name, value[keep])
            self.p_cols.compact(keep)
