"""The batch engine: many replicates at once, replicates as an array axis.

Same model (:mod:`sim.hazard`), same draws (:mod:`sim.randomness`), same exact threshold
dynamics as the SimPy reference engine (:mod:`sim.engine`); the test-suite checks that both give
the same fall times. It is organised for speed rather than for reading:

* Every iteration advances *each* live replicate to its own next event (a rural fall, a capital
  fall, a driver change, the opening of the assault window or the horizon), so all replicates
  move in lock-step by event count, not by time.
* The rural rule factorises into a nationwide factor g(t) (momentum, pay, brake: the same for all
  districts of a replicate) times a district's own factor h_i(t) (neighbours, air cover,
  covariates). Measuring time on the operational clock tau, d tau = g dt, a district's
  cumulative hazard grows at the constant rate h_i between changes of h_i, so its fall is
  a fixed deadline D_i on that clock. A fall changes g (momentum) for free and h only for the
  fallen district's neighbours (at most 12), so an event costs O(degree) updates plus one
  arg-min over the deadlines, instead of recomputing every hazard.
* Capitals (34 per replicate) are recomputed directly after every event.
* Finished replicates are dropped from the working arrays as they accumulate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import hazard
from .model import FIGHT, HELD, HELD_AT_START, NEGOTIATED, Model
from .parameters import ParameterTable, Params
from .randomness import Draws, initial_fallen


@dataclass
class BatchResult:
    fall_time: np.ndarray       # (R, n) days since 1 May 2021; NaN = held to the end
    mode: np.ndarray            # (R, n) int8
    assault_time: np.ndarray    # (R,)
    end_time: np.ndarray        # (R,)


class _Padded:
    """Neighbour lists padded to the maximum degree (pad entries point at the district itself
    with weight 0, which leaves every update unchanged)."""

    def __init__(self, model: Model):
        geo = model.geo
        deg = np.diff(geo.nb_indptr)
        width = int(deg.max())
        self.index = np.repeat(np.arange(geo.n)[:, None], width, axis=1)
        self.weight = np.zeros((geo.n, width))
        self.real = np.zeros((geo.n, width), dtype=bool)
        for j in range(geo.n):
            sl = slice(geo.nb_indptr[j], geo.nb_indptr[j + 1])
            d = deg[j]
            self.index[j, :d] = geo.nb_indices[sl]
            self.weight[j, :d] = model.incoming_weight[sl]
            self.real[j, :d] = True


def run_batch(model: Model, table: ParameterTable, draws: Draws) -> BatchResult:
    """Simulate ``len(table)`` replicates; row k of ``table`` and of ``draws`` is replicate k."""
    return _BatchRun(model, table, draws).run()


class _BatchRun:
    def __init__(self, model: Model, table: ParameterTable, draws: Draws):
        self.model = model
        geo, cov, tl = model.geo, model.cov, model.timeline
        R, n = len(table), geo.n
        self.R, self.n = R, n
        self.pad = _Padded(model)
        self.caps = cov.capital_rows
        self.kabul = int(geo.kabul_row)
        self.kabul_slot = cov.kabul_slot
        self.n_caps_other = len(self.caps) - 1
        self.is_cap_float = geo.is_capital.astype(float)
        self.collapse_prob_kind = geo.is_capital
        # driver levels per segment
        self.seg_start = np.append(tl.starts, np.inf)
        self.seg_pay = np.array([s.pay for s in tl.states])
        self.seg_mob = np.array([s.mobilization for s in tl.states])
        self.seg_air = np.array([s.air_by_district(cov.province_index) for s in tl.states])  # (K, n)
        self.horizon = tl.horizon

        # outputs for all replicates
        self.out_fall = np.full((R, n), np.nan)
        self.out_mode = np.zeros((R, n), dtype=np.int8)
        self.out_assault = np.full(R, np.nan)
        self.out_end = np.full(R, self.horizon)

        # ---- live state (rows = replicates still running)
        p = Params.from_table(table)
        self.p_table = table.values
        self.rows = np.arange(R)
        self.r = draws.resistance.copy()
        self.u_mode = draws.u_mode
        self.u_collapse = draws.u_collapse
        start = initial_fallen(hazard.initial_log_weights(p, cov), draws.gumbel,
                               np.rint(table.column("initial_fallen")).astype(int))
        self.fallen = start
        self.fall_time = np.where(start, 0.0, np.nan)
        self.mode = np.where(start, HELD_AT_START, HELD).astype(np.int8)
        self.N = geo.neighbour_share(start)
        self.n_fallen = start.sum(axis=1).astype(float)
        self.encircle = start @ cov.encircle_matrix                   # (R, 34)
        self.ring = start @ cov.ring_weights                          # (R,)
        self.caps_fallen = np.zeros(R)
        self.t = np.zeros(R)
        self.seg = np.zeros(R, dtype=np.int64)
        self.window_opens = (np.asarray(tl.withdrawal_reached(table.column("assault_withdrawal_level")))
                             + table.column("assault_delay_days"))
        self.window_open = self.window_opens <= 0.0
        self.assault = np.full(R, np.nan)
        # rural clock
        self.tau = np.zeros(R)
        self.tau_at = np.zeros((R, n))
        self.H_at = np.zeros((R, n))
        self.h = np.zeros((R, n))
        self.D = np.full((R, n), np.inf)
        # capitals
        self.Hc = np.zeros((R, len(self.caps)))
        self.lam_c = np.zeros((R, len(self.caps)))
        self.g_log = np.zeros(R)
        self.g = np.ones(R)

        self._refresh_all_rural(np.arange(R))
        self._refresh_g(np.arange(R))
        self._check_trigger(np.arange(R))
        self._refresh_capitals(np.arange(R))

    # ------------------------------------------------------------------ parameters of live rows
    def _p(self, idx) -> Params:
        return Params.from_table(ParameterTable(self.p_table[idx]))

    # ------------------------------------------------------------------ hazard refreshes
    def _refresh_g(self, idx) -> None:
        p = self._p(idx)
        seg = self.seg[idx]
        momentum = self.n_fallen[idx] / self.n
        self.g_log[idx] = hazard.nationwide_log_pressure(
            p, momentum[:, None], self.seg_pay[seg][:, None], self.seg_mob[seg][:, None])[:, 0]
        self.g = np.exp(self.g_log)

    def _refresh_all_rural(self, idx) -> None:
        """Recompute h for every rural district of the given rows (after a driver change)."""
        if len(idx) == 0:
            return
        cov = self.model.cov
        p = self._p(idx)
        tau = self.tau[idx][:, None]
        h_old = self.h[idx]
        self.H_at[idx] = self.H_at[idx] + h_old * (tau - self.tau_at[idx])
        self.tau_at[idx] = tau
        air = self.seg_air[self.seg[idx]]
        h = np.exp(hazard.local_log_hazard(p, self.N[idx], air, cov.reach, cov.pakistan, cov.focus))
        live = cov.rural & ~self.fallen[idx]
        h = np.where(live, h, 0.0)
        self.h[idx] = h
        with np.errstate(divide="ignore", invalid="ignore"):
            self.D[idx] = np.where(live, tau + (self.r[idx] - self.H_at[idx]) / h, np.inf)

    def _refresh_neighbours(self, idx, k) -> None:
        """District k[m] of row idx[m] has fallen: update its neighbours' deadlines."""
        cov = self.model.cov
        nb = self.pad.index[k]                      # (m, w)
        rr = idx[:, None]
        self.N[rr, nb] += self.pad.weight[k]
        p = self._p(idx)
        tau = self.tau[idx][:, None]
        h_old = self.h[rr, nb]
        H = self.H_at[rr, nb] + h_old * (tau - self.tau_at[rr, nb])
        air = self.seg_air[self.seg[idx][:, None], nb]
        h = np.exp(hazard.local_log_hazard(p, self.N[rr, nb], air, cov.reach[nb], cov.pakistan[nb],
                                           cov.focus[nb]))
        live = self.pad.real[k] & cov.rural[nb] & ~self.fallen[rr, nb]
        h = np.where(live, h, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            D = np.where(live, tau + (self.r[rr, nb] - H) / h, np.inf)
        # Pad entries point at k itself (fallen): writing them is harmless since live is False.
        self.H_at[rr, nb] = np.where(live, H, self.H_at[rr, nb])
        self.tau_at[rr, nb] = np.where(live, tau, self.tau_at[rr, nb])
        self.h[rr, nb] = h
        self.D[rr, nb] = D

    def _refresh_capitals(self, idx) -> None:
        if len(idx) == 0:
            return
        cov = self.model.cov
        on = ~np.isnan(self.assault[idx])
        idx = idx[on]
        if len(idx) == 0:
            return
        p = self._p(idx)
        caps = self.caps
        seg = self.seg[idx]
        momentum = (self.n_fallen[idx] / self.n)[:, None]
        cascade = (self.caps_fallen[idx] / self.n_caps_other)[:, None]
        lam = np.exp(hazard.capital_log_hazard(
            p, self.encircle[idx], cascade, momentum, self.seg_pay[seg][:, None],
            self.seg_air[seg][:, caps], cov.reach[caps], cov.distance_100km[caps], cov.focus[caps]))
        lam[:, self.kabul_slot] = np.exp(hazard.kabul_log_hazard(
            p, cascade, self.ring[idx][:, None]))[:, 0]
        lam = np.where(self.fallen[idx][:, caps], 0.0, lam)
        self.lam_c[idx] = lam

    def _check_trigger(self, idx) -> None:
        idx = idx[np.isnan(self.assault[idx]) & self.window_open[idx]]
        if len(idx) == 0:
            return
        thr = self.p_table[idx, _col("assault_share_threshold")]
        ready = (self.t[idx] >= self.window_opens[idx]) & (self.n_fallen[idx] / self.n >= thr)
        self.assault[idx[ready]] = self.t[idx[ready]]

    # ------------------------------------------------------------------ events
    def _fall(self, idx, k) -> None:
        """District k[m] falls in row idx[m] at the row's current time."""
        if len(idx) == 0:
            return
        p = self._p(idx)
        seg = self.seg[idx]
        momentum = self.n_fallen[idx] / self.n
        prob = hazard.negotiated_probability(p, self.seg_pay[seg][:, None], momentum[:, None],
                                             self.is_cap_float[k][:, None])[:, 0]
        negotiated = self.u_mode[idx, k] < prob
        self._mark(idx, k, np.where(negotiated, NEGOTIATED, FIGHT))
        self._refresh_neighbours(idx, k)

    def _mark(self, idx, k, mode) -> None:
        cov = self.model.cov
        self.fallen[idx, k] = True
        self.fall_time[idx, k] = self.t[idx]
        self.mode[idx, k] = mode
        self.D[idx, k] = np.inf
        self.h[idx, k] = 0.0
        self.n_fallen[idx] += 1
        self.encircle[idx] += cov.encircle_matrix[k]
        self.ring[idx] += cov.ring_weights[k]
        is_cap = self.model.geo.is_capital[k] & (k != self.kabul)
        self.caps_fallen[idx] += is_cap

    def _collapse(self, idx) -> None:
        """Kabul has fallen in these rows: what is still held may surrender with it."""
        if len(idx) == 0:
            return
        prob = np.where(self.collapse_prob_kind,
                        self.p_table[idx, _col("collapse_capital_prob")][:, None],
                        self.p_table[idx, _col("collapse_district_prob")][:, None])
        go = ~self.fallen[idx] & (self.u_collapse[idx] < prob)
        rows, cols = np.nonzero(go)
        g_rows = idx[rows]
        self.fallen[g_rows, cols] = True
        self.fall_time[g_rows, cols] = self.t[g_rows]
        self.mode[g_rows, cols] = NEGOTIATED

    # ------------------------------------------------------------------ main loop
    def run(self) -> BatchResult:
        caps = self.caps
        while len(self.rows):
            L = len(self.rows)
            live = np.arange(L)
            # candidate next events, per live row
            k_rural = np.argmin(self.D, axis=1)
            tau_star = self.D[live, k_rural]
            with np.errstate(invalid="ignore"):
                t_rural = self.t + (tau_star - self.tau) / self.g
            t_rural = np.where(np.isfinite(tau_star), t_rural, np.inf)
            with np.errstate(divide="ignore", invalid="ignore"):
                wait_c = np.where(self.lam_c > 0, (self.r[:, caps] - self.Hc) / self.lam_c, np.inf)
            j_cap = np.argmin(wait_c, axis=1)
            t_cap = self.t + wait_c[live, j_cap]
            t_seg = self.seg_start[self.seg + 1]
            t_win = np.where(self.window_open, np.inf, self.window_opens)
            cand = np.stack([t_rural, t_cap, t_seg, t_win, np.full(L, self.horizon)])
            kind = np.argmin(cand, axis=0)
            t_next = cand[kind, live]
            t_next = np.maximum(t_next, self.t)        # guard against rounding below now

            # advance the clocks
            dt = t_next - self.t
            self.tau = self.tau + self.g * dt
            self.Hc = self.Hc + self.lam_c * dt[:, None]
            self.t = t_next

            rural = np.flatnonzero(kind == 0)
            capital = np.flatnonzero(kind == 1)
            segment = np.flatnonzero(kind == 2)
            window = np.flatnonzero(kind == 3)
            done = np.flatnonzero(kind == 4)

            self._fall(rural, k_rural[rural])
            cap_rows = caps[j_cap[capital]]
            self._fall(capital, cap_rows)
            kabul_fell = capital[cap_rows == self.kabul]

            if len(segment):
                self.seg[segment] += 1
                self._refresh_all_rural(segment)
            if len(window):
                self.window_open[window] = True

            changed = np.concatenate([rural, capital, segment, window])
            self._refresh_g(changed)
            self._check_trigger(changed)
            self._refresh_capitals(changed)

            self._collapse(kabul_fell)
            self.out_end[self.rows[kabul_fell]] = self.t[kabul_fell]
            finished = np.concatenate([done, kabul_fell])
            if len(finished):
                self._retire(finished)
        return BatchResult(self.out_fall, self.out_mode, self.out_assault, self.out_end)

    def _retire(self, finished) -> None:
        g_rows = self.rows[finished]
        self.out_fall[g_rows] = self.fall_time[finished]
        self.out_mode[g_rows] = self.mode[finished]
        self.out_assault[g_rows] = self.assault[finished]
        keep = np.ones(len(self.rows), dtype=bool)
        keep[finished] = False
        for name in ("rows", "r", "u_mode", "u_collapse", "fallen", "fall_time", "mode", "N",
                     "n_fallen", "encircle", "ring", "caps_fallen", "t", "seg", "window_opens",
                     "window_open", "assault", "tau", "tau_at", "H_at", "h", "D", "Hc", "lam_c",
                     "p_table", "g", "g_log"):
            setattr(self, name, getattr(self, name)[keep])


def _col(name: str) -> int:
    from .parameters import NAMES
    return NAMES.index(name)
