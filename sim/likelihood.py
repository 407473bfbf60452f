"""The simulated likelihood of the record, given replicates simulated at one parameter value.

With common random numbers (the same R replicate draws at every parameter value) each term below
is a smooth function of the parameters, which is what lets an MCMC sampler work on it.

* District counts: a synthetic likelihood (Wood 2010). The simulated counts at the checkpoints
  are treated as multivariate normal, mean and covariance estimated from the replicates; the
  record's own error (tolerance x value, divided by the point's weight) is added on the diagonal.
* District ranges: a count the record gives only as a range of readings (``low``..``high``),
  scored as the probability of lying inside it, from the same normal approximation (the
  replicates' mean and variance at that date, the record's error added): log of
  Phi((high - mu) / s) - Phi((low - mu) / s), times the weight. Taken as independent of the
  point counts (an approximation: the range is wide, so its covariance with them matters little).
* Capitals: the sequence is read as *when it began* and *how it unfolded*. The first capital's
  fall date (the record: 6 August) counts once, absolutely; every recorded capital's date counts
  relative to the first fall in the same replicate (the record: days after 6 August). Each is the
  probability of falling in the recorded day (or window), from the R simulated times smoothed with
  a normal kernel; the log of it, floored, times the weight (a composite likelihood: the weights
  carry the judgement that the dates are not independent). Kabul's date also counts absolutely
  (the end of the republic). Together they hold the information of the absolute dates, but the
  shape of the cascade is no longer swamped by the
  uncertainty of when the Taliban turned on the cities: with a stochastic decision (issue 10) an
  absolute-date likelihood preferred cascades that collapse everything at once.
* Constraints: the kernel-smoothed probability that no capital fell before a date, that the
  assault on the capitals began on the recorded day, and that at least so many other capitals
  fell before Kabul (the order within each replicate, which the capitals' dates scored one by
  one cannot see: a posterior could match every capital's date on average while Kabul falls
  halfway through the cascade in most replicates). The count of capitals fallen before Kabul is
  smoothed like the dates (each capital's contribution is Phi((t_Kabul - t_c) / h)), and "at
  least k" is a normal CDF of half a capital around k - 1/2. A precedent (A35: once the
  Taliban turn on the cities, a first capital falls within d days) is the smoothed probability
  that the first fall came within d days of the assault's start, over the replicates in which
  the assault began at least d days before the end of the simulated stage (``horizon``); a
  parameter value none of whose replicates saw the assault in time is not scored by it.
* District facts (issue 11; the tables the targets' ``[district_facts] files`` lists, by default
  the seed's ``district_facts.csv``; the fit split only): each dated
  district-level fact of the record as it is stated, kernel-smoothed like the capitals. A capture
  dated to a month is the probability of falling within that month; "fell by" (and a border
  crossing captured, or a district later recaptured) the probability of having fallen by the date;
  "held" or "repelled" the probability of still being held at the end of that day. The log of each,
  floored, times the weight. This is what lets the spatial coefficients be estimated: the counts
  cannot tell which districts fell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr, ndtr

from .geography import Geography
from .targets import Targets

COMPONENTS = ("districts", "capitals", "constraints", "district_facts")


@dataclass(frozen=True, eq=False)
class Likelihood:
    count_days: np.ndarray        # (K,) end of each checkpoint's day, model time
    count_obs: np.ndarray         # (K,)
    count_var: np.ndarray         # (K,) record variance / weight
    capital_slots: np.ndarray     # (C,) position in the province-ordered capital rows
    capital_lo: np.ndarray        # (C,) start of the earliest recorded day
    capital_hi: np.ndarray        # (C,) end of the latest recorded day
    capital_w: np.ndarray         # (C,)
    first_day: float              # start of the day the first recorded capital fell (inf: none)
    kabul_target: int             # position of Kabul among the capital targets (-1: none)
    constraint_days: np.ndarray   # (Q,) no capital before these days
    constraint_w: np.ndarray      # (Q,)
    assault_days: np.ndarray      # (A,) the assault began on these days
    assault_w: np.ndarray         # (A,)
    no_assault_days: np.ndarray   # (N,) the assault had not begun by these days
    no_assault_w: np.ndarray      # (N,)
    order_counts: np.ndarray      # (B,) at least this many other capitals fell before Kabul
    order_w: np.ndarray           # (B,)
    kabul_slot: int               # Kabul's position among the 34 capitals
    bandwidth: float
    floor: float
    capital_rows: np.ndarray      # (34,) district rows of the capitals
    fact_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (F,)
    fact_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))   # a capture's start (-inf: open)
    fact_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))   # fallen before this time
    fact_held: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # says it held
    fact_w: float = 0.0
    fact_bandwidth: float = 1.0
    # +1 for a fact; -1 for a listed district's selection (it fell between fact_lo and fact_hi:
    # the source's first snapshot and its last report), which divides its facts' probability by
    # that of being listed at all
    fact_sign: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (F,)
    # For a selection (sign -1) read against one interval (statuses at fixed dates): the index of
    # that district's interval, so the two are floored as one ratio; -1 elsewhere
    fact_pair: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (F,)
    range_days: np.ndarray = field(default_factory=lambda: np.zeros(0))   # (J,) end of the day
    range_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))     # (J,)
    range_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))     # (J,)
    range_var: np.ndarray = field(default_factory=lambda: np.zeros(0))    # (J,) the record's error
    range_w: np.ndarray = field(default_factory=lambda: np.zeros(0))      # (J,)
    precedent_days: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,) first fall within
    precedent_w: np.ndarray = field(default_factory=lambda: np.zeros(0))     # (P,)
    #: The end of the simulated stage (model time; set by the calibration, which knows it): an
    #: assault that began later than ``horizon - days`` says nothing about a precedent.
    horizon: float = float("inf")

    @classmethod
    def build(cls, targets: Targets, geo: Geography) -> "Likelihood":
        counts = targets.fitted_districts
        ranges = targets.fitted_ranges
        caps = [c for c in targets.capitals if c.weight > 0]
        cons = [c for c in targets.constraints if c.weight > 0 and c.kind == "no_capital_before"]
        starts = [c for c in targets.constraints if c.weight > 0 and c.kind == "assault_start"]
        not_yet = [c for c in targets.constraints if c.weight > 0 and c.kind == "no_assault_before"]
        orders = [c for c in targets.constraints if c.weight > 0 and c.kind == "capitals_before_kabul"]
        precedents = [c for c in targets.constraints
                      if c.weight > 0 and c.kind == "first_capital_within"]
        day_of = geo.theatre.day_of
        return cls(
            count_days=np.array([day_of(t.date) + 1 for t in counts]),
            count_obs=np.array([t.districts for t in counts]),
            count_var=np.array([(t.tolerance * t.districts) ** 2 / t.weight for t in counts]),
            capital_slots=np.array([c.province_index for c in caps], dtype=np.int64),
            capital_lo=np.array([day_of(c.earliest) for c in caps]),
            capital_hi=np.array([day_of(c.latest) + 1 for c in caps]),
            capital_w=np.array([c.weight for c in caps]),
            first_day=float(min(day_of(c.earliest) for c in caps)) if caps else float("inf"),
            kabul_target=next((k for k, c in enumerate(caps)
                               if geo.capital_rows[c.province_index] == geo.kabul_row), -1),
            constraint_days=np.array([day_of(c.date) for c in cons]),
            constraint_w=np.array([c.weight for c in cons]),
            assault_days=np.array([day_of(c.date) for c in starts]),
            assault_w=np.array([c.weight for c in starts]),
            no_assault_days=np.array([day_of(c.date) for c in not_yet], dtype=float),
            no_assault_w=np.array([c.weight for c in not_yet], dtype=float),
            order_counts=np.array([c.count for c in orders], dtype=float),
            order_w=np.array([c.weight for c in orders]),
            kabul_slot=int(np.flatnonzero(geo.capital_rows == geo.kabul_row)[0]),
            bandwidth=targets.bandwidth, floor=targets.floor, capital_rows=geo.capital_rows,
            range_days=np.array([day_of(t.date) + 1 for t in ranges], dtype=float),
            range_lo=np.array([t.low for t in ranges], dtype=float),
            range_hi=np.array([t.high for t in ranges], dtype=float),
            range_var=np.array([(t.tolerance * t.districts) ** 2 for t in ranges], dtype=float),
            range_w=np.array([t.weight for t in ranges], dtype=float),
            precedent_days=np.array([c.days for c in precedents], dtype=float),
            precedent_w=np.array([c.weight for c in precedents], dtype=float),
            **_fact_fields(targets, geo))

    @property
    def n_facts(self) -> int:
        return len(self.fact_rows)

    # ------------------------------------------------------------------ features of replicates
    @property
    def reads_only_capitals(self) -> bool:
        """Whether this likelihood reads nothing but the capitals' fall times and the assault's
        start (no district counts, no district facts): a simulation may then stop once every
        capital has fallen (:func:`sim.batch.run_batch`, ``stop_after_capitals``); one that reads
        counts too, once :attr:`counts_read_until` has also passed."""
        return self.counts_read_until is None and self.n_facts == 0

    @property
    def capitals_read(self) -> int | None:
        """How many capitals' falls a run must reach before this likelihood has read all it
        reads of them: 1 when it reads nothing of the cascade after the first fall (no capital's
        date, no order: a forecast's cities stage, which knows "none yet", "not yet begun" and a
        precedent about the first fall), None when it reads every capital."""
        return 1 if not len(self.capital_slots) and not len(self.order_counts) else None

    @property
    def counts_read_until(self) -> float | None:
        """The end of the last day a count is read on (model time), None when none is: a run
        read for capitals and counts alone may stop once this day has ended and the capitals it
        needs have fallen (:func:`sim.batch.run_batch`, ``stop_after_day``)."""
        days = np.concatenate([self.count_days, self.range_days])
        return float(days.max()) if len(days) else None

    def features(self, fall_time: np.ndarray, assault_time: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the likelihood reads from (M, n) fall times and (M,) assault times: counts at the
        checkpoints, then at the ranges' dates (M, K + J), the capitals' fall times with the
        assault's start appended (M, 35), and the fall times of the facts' districts (M, F), NaN
        read as never (+inf)."""
        days = np.concatenate([self.count_days, self.range_days])
        with np.errstate(invalid="ignore"):
            counts = (fall_time[:, None, :] < days[None, :, None]).sum(axis=2)
        caps = fall_time[:, self.capital_rows]
        assault = np.full(len(fall_time), np.nan) if assault_time is None else assault_time
        times = np.column_stack([caps, assault])
        facts = fall_time[:, self.fact_rows]
        return (counts.astype(float), np.where(np.isnan(times), np.inf, times),
                np.where(np.isnan(facts), np.inf, facts))

    # ------------------------------------------------------------------ the terms
    def components(self, counts: np.ndarray, capitals: np.ndarray, facts: np.ndarray | None = None
                   ) -> np.ndarray:
        """Log-likelihood terms for S parameter values: counts (S, R, K + J), capitals (S, R, 35: the
        34 capitals' fall times, then the assault's start), the facts' districts' fall times
        (S, R, F) -> (S, 4) in the order of :data:`COMPONENTS`."""
        S = counts.shape[0]
        out = np.zeros((S, 4))
        if self.n_facts and facts is not None:
            out[:, 3] = self._facts(facts)
        out[:, 0] = self.count_loglik(counts)
        if len(self.capital_slots):
            h = self.bandwidth
            first = capitals[:, :, :-1].min(axis=2)                       # (S, R)
            # when it began: the first fall's date, counted once (weight 1, like Kabul's)
            out[:, 1] = self._first_fall(first)
            # how it unfolded: each capital's fall relative to the first, against the record's
            # day differences (a one-day record is the difference d +/- half a day)
            x = capitals[:, :, self.capital_slots]                       # (S, R, C)
            with np.errstate(invalid="ignore"):
                rel = np.where(np.isfinite(first)[..., None], x - first[..., None], np.inf)
            lo = self.capital_lo - self.first_day - 0.5
            hi = self.capital_hi - 1.0 - self.first_day + 0.5
            p = (ndtr((hi - rel) / h) - ndtr((lo - rel) / h)).mean(axis=1)
            out[:, 1] += (np.log(np.maximum(p, self.floor)) * self.capital_w * 0.5).sum(axis=1)
            # ... and when it happened: each date absolutely, with the other half of its weight
            pa = (ndtr((self.capital_hi - x) / h) - ndtr((self.capital_lo - x) / h)).mean(axis=1)
            out[:, 1] += (np.log(np.maximum(pa, self.floor)) * self.capital_w * 0.5).sum(axis=1)
            # when it ended: Kabul's date, absolutely, with its own weight (the end of the
            # republic is the record's best-known date, and the one the what-ifs are about)
            k = self.kabul_target
            if k >= 0:
                xk = x[:, :, k]
                pk = (ndtr((self.capital_hi[k] - xk) / h) - ndtr((self.capital_lo[k] - xk) / h)).mean(axis=1)
                out[:, 1] += np.log(np.maximum(pk, self.floor)) * self.capital_w[k]
        h = self.bandwidth
        if len(self.constraint_days):
            out[:, 2] += self._none_before(capitals[:, :, :-1].min(axis=2))
        if len(self.assault_days):
            out[:, 2] += self._assault_start(capitals[:, :, -1])
        if len(self.no_assault_days):
            out[:, 2] += self._no_assault_before(capitals[:, :, -1])
        if len(self.order_counts):
            out[:, 2] += self._order(capitals[:, :, :-1], h)
        if len(self.precedent_days):
            out[:, 2] += self.first_within(capitals[:, :, :-1].min(axis=2), capitals[:, :, -1])
        return out

    def start_loglik(self, capitals: np.ndarray) -> np.ndarray:
        """The terms about when the cities' fall began, as :meth:`components` counts them: the
        first capital's fall on its recorded day, no capital before the constraints' dates, the
        assault's start on its recorded day (or, as of a cut-off before it, not yet begun);
        capitals (S, R, 35) -> (S,). These are the data
        that lift the cut for the countryside (:mod:`sim.cut_lift`): the countryside's pace
        decides when the Taliban turn on the cities, the cities' own dates after it are cut off."""
        out = np.zeros(capitals.shape[0])
        first = capitals[:, :, :-1].min(axis=2)
        if len(self.capital_slots):
            out += self._first_fall(first)
        if len(self.constraint_days):
            out += self._none_before(first)
        if len(self.assault_days):
            out += self._assault_start(capitals[:, :, -1])
        if len(self.no_assault_days):
            out += self._no_assault_before(capitals[:, :, -1])
        if len(self.precedent_days):
            out += self.first_within(first, capitals[:, :, -1])
        return out

    @property
    def reads_counts(self) -> bool:
        """Whether any district count (a value or a range) is fitted."""
        return len(self.count_obs) > 0 or len(self.range_days) > 0

    def count_loglik(self, counts: np.ndarray) -> np.ndarray:
        """The district counts' terms (values, then ranges); counts (S, R, K + J) -> (S,)."""
        out = np.zeros(counts.shape[0])
        K = len(self.count_obs)
        if K:
            out += self._counts(counts[:, :, :K])
        if len(self.range_days):
            out += self._ranges(counts[:, :, K:])
        return out

    def _first_fall(self, first: np.ndarray) -> np.ndarray:
        """log P(the first capital fell on the recorded first day), per value; first (S, R)."""
        h = self.bandwidth
        pf = (ndtr((self.first_day + 1 - first) / h) - ndtr((self.first_day - first) / h)).mean(axis=1)
        return np.log(np.maximum(pf, self.floor))

    def _none_before(self, first: np.ndarray) -> np.ndarray:
        """log P(no capital before each constraint's day), times its weight, summed; first (S, R)."""
        q = ndtr((first[:, :, None] - self.constraint_days) / self.bandwidth).mean(axis=1)
        return (np.log(np.maximum(q, self.floor)) * self.constraint_w).sum(axis=1)

    def _assault_start(self, start: np.ndarray) -> np.ndarray:
        """log P(the assault began on each recorded day), times its weight, summed; start (S, R)."""
        h, start = self.bandwidth, start[:, :, None]
        a = (ndtr((self.assault_days + 1 - start) / h) - ndtr((self.assault_days - start) / h)).mean(axis=1)
        return (np.log(np.maximum(a, self.floor)) * self.assault_w).sum(axis=1)

    def _no_assault_before(self, start: np.ndarray) -> np.ndarray:
        """log P(the assault had not begun by each day), times its weight, summed; start (S, R),
        +inf where the Taliban never turned on the cities. The censored form of
        :meth:`_assault_start` that a forecast's cut-off knows (``Targets.as_of``)."""
        q = ndtr((start[:, :, None] - self.no_assault_days) / self.bandwidth).mean(axis=1)
        return (np.log(np.maximum(q, self.floor)) * self.no_assault_w).sum(axis=1)

    def first_within(self, first: np.ndarray, start: np.ndarray) -> np.ndarray:
        """log P(the first capital fell within each precedent's days of the assault's start),
        times its weight, summed; first and start (S, R), +inf where none fell / never began.
        Only the replicates whose assault began early enough for the precedent to be seen count;
        a value with none is not scored (0)."""
        out = np.zeros(first.shape[0])
        with np.errstate(invalid="ignore"):
            gap = first - start                                    # inf: no capital fell in time
        for d, w in zip(self.precedent_days, self.precedent_w):
            seen = np.isfinite(start) & (start + d <= self.horizon)
            p = np.where(seen, ndtr((d - np.where(seen, gap, 0.0)) / self.bandwidth), 0.0)
            n = seen.sum(axis=1)
            q = p.sum(axis=1) / np.maximum(n, 1)
            out += np.where(n > 0, np.log(np.maximum(q, self.floor)) * w, 0.0)
        return out

    def _order(self, caps: np.ndarray, h: float) -> np.ndarray:
        """log P(at least k other capitals fell before Kabul), times the weight, per value."""
        kabul = caps[:, :, self.kabul_slot][..., None]                     # (S, R, 1)
        others = np.delete(caps, self.kabul_slot, axis=2)                  # (S, R, 33)
        with np.errstate(invalid="ignore"):
            before = ndtr((kabul - others) / h)                            # inf - inf: neither fell
        smooth_count = np.nan_to_num(before, nan=0.0).sum(axis=2)          # (S, R)
        p = ndtr((smooth_count[:, :, None] - (self.order_counts - 0.5)) / 0.5).mean(axis=1)
        return (np.log(np.maximum(p, self.floor)) * self.order_w).sum(axis=1)

    def _facts(self, t: np.ndarray) -> np.ndarray:
        h = self.fact_bandwidth
        with np.errstate(invalid="ignore"):
            by = ndtr((self.fact_hi - t) / h)                           # fallen by (or in) the fact
            after_lo = ndtr((self.fact_lo - t) / h)                     # 0 where the interval is open
        p = np.where(self.fact_held, 1.0 - by, by - np.nan_to_num(after_lo, nan=0.0)).mean(axis=1)
        logp = np.log(np.maximum(p, self.floor)) * self.fact_sign
        den = np.flatnonzero(self.fact_pair >= 0)
        if den.size:
            # A selected district's term is the ratio P(interval) / P(selection), floored as one:
            # floored apart, a countryside in which neither can happen scores log(floor) -
            # log(floor) = 0, the best score there is (a frozen countryside won a forecast so).
            # A selection the run never produces is as unlikely as the floor says.
            num = self.fact_pair[den]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = p[:, num] / p[:, den]
            logp[:, num] = np.where(p[:, den] > 0, np.log(np.maximum(ratio, self.floor)),
                                    np.log(self.floor))
            logp[:, den] = 0.0
        return (logp * self.fact_w).sum(axis=1)

    def _ranges(self, counts: np.ndarray) -> np.ndarray:
        """log P(each ranged count lies inside its range), times its weight, summed; (S, R, J)."""
        mu = counts.mean(axis=1)                                          # (S, J)
        sd = np.sqrt(counts.var(axis=1, ddof=1 if counts.shape[1] > 1 else 0) + self.range_var)
        a, b = (self.range_hi - mu) / sd, (self.range_lo - mu) / sd      # a > b
        # log(Phi(a) - Phi(b)) without cancellation far outside (no floor: like the point counts,
        # a countryside far from the record pays in full): both in the lower tail above the
        # range; below it, by symmetry, Phi(a) - Phi(b) = Phi(-b) - Phi(-a)
        below = mu < 0.5 * (self.range_lo + self.range_hi)
        hi, lo = np.where(below, -b, a), np.where(below, -a, b)
        logp = log_ndtr(hi) + np.log1p(-np.exp(log_ndtr(lo) - log_ndtr(hi)))
        return (logp * self.range_w).sum(axis=1)

    def _counts(self, counts: np.ndarray) -> np.ndarray:
        S, R, K = counts.shape
        mu = counts.mean(axis=1)                                          # (S, K)
        dev = counts - mu[:, None, :]
        cov = np.einsum("srk,srl->skl", dev, dev) / max(R - 1, 1)
        cov = cov + np.diag(self.count_var)[None]
        resid = self.count_obs[None] - mu
        sign, logdet = np.linalg.slogdet(cov)
        sol = np.linalg.solve(cov, resid[..., None])[..., 0]
        return -0.5 * (np.einsum("sk,sk->s", resid, sol) + logdet + K * np.log(2 * np.pi))


def one_interval_per_district(rows: np.ndarray, hi: np.ndarray, held: np.ndarray):
    """A district's statuses at fixed dates, read as the one interval they leave its fall time.

    "Held at the end of a" and "fallen by the end of b" are statements about one fall time T, so
    together they say a < T <= b (a the latest date held, b the earliest date fallen; -inf and
    +inf where there is none). Read as independent facts their product is no probability of
    anything once a selection divides it (A24d), and it counts a district with many statuses
    several times. Returns ``(rows, lo, hi, held)``, one entry per district in ``rows``' sorted
    order: an interval (``held`` False, P(lo < T <= hi)) where a fallen status exists, else
    "held at the end of hi" (``held`` True, P(T > hi)). A district whose statuses contradict each
    other (held after it had fallen) gives none."""
    out = []
    for r in np.unique(rows):
        mine = rows == r
        a = float(hi[mine & held].max()) if (mine & held).any() else -np.inf
        b = float(hi[mine & ~held].min()) if (mine & ~held).any() else np.inf
        if a >= b:
            continue
        out.append((r, -np.inf, a, True) if np.isinf(b) else (r, a, b, False))
    return (np.array([o[0] for o in out], dtype=np.int64), np.array([o[1] for o in out]),
            np.array([o[2] for o in out]), np.array([o[3] for o in out], dtype=bool))


def first_snapshot_end(table) -> float:
    """The end of a report series' first snapshot (its earliest ``held`` fact: the districts it
    did not yet report then), the earliest moment after which a fall can be listed."""
    held = table.kind == "held"
    return float(np.min(table.lower[held])) + 1.0 if held.any() else float(np.min(table.lower))


def _fact_fields(targets: Targets, geo: Geography) -> dict:
    """The facts the targets ask for, as the likelihood's arrays (none when they ask for none)."""
    if targets.facts is None or targets.facts.weight == 0:
        return {}
    from .district_facts import DistrictFacts, load_district_facts
    ft = targets.facts
    tables = {name: load_district_facts(geo.theatre.data_dir / name, geo=geo) for name in ft.files}
    # A district is listed when a snapshot reports it taken and the one before did not, so only a
    # fall after the source's first snapshot can be listed (the 73 of 1 May cannot): the
    # selection is "fell between the first snapshot and the last report".
    first = {name: first_snapshot_end(tables[name]) for name in ft.reported_only}
    if ft.cutoff is not None:
        # Only what was known by the cut-off's eve. A fact dated later must go before statuses
        # are derived from it: a capture reported in July says its district held in June, which
        # a forecast made in June could not know.
        cut = geo.theatre.day_of(ft.cutoff)
        tables = {name: t.subset(np.flatnonzero(t.upper + 1.0 <= cut))
                  for name, t in tables.items()}
        # before the cut-off a source that lists only what it reported taken had listed only the
        # districts reported by then: the others' earlier "held" facts are news from after it
        for name in ft.reported_only:
            t = tables[name]
            tables[name] = t.subset(np.flatnonzero(np.isin(t.row, t.row[t.kind == "captured"])))
    facts = DistrictFacts.concatenate(tables.values())
    if ft.at_fixed_dates:
        from .district_skill import STATUS_DATES
        facts = facts.select(in_window=True, capitals=False).status_on(STATUS_DATES)
    keep = facts.in_window & ~facts.capital & (facts.score_day <= geo.theatre.day_of(ft.latest) + 1.0)
    if ft.split != "all":
        keep &= facts.split == ft.split
    idx = np.flatnonzero(keep)
    captured = facts.kind[idx] == "captured"
    rows = facts.row[idx].astype(np.int64)
    lo = np.where(captured, facts.lower[idx], -np.inf)
    hi = np.where(captured, facts.upper[idx] + 1.0, facts.score_day[idx])
    held = facts.outcome[idx] == 0
    if ft.at_fixed_dates:
        rows, lo, hi, held = one_interval_per_district(rows, hi, held)
    sign = np.ones(rows.size)
    pair = np.full(rows.size, -1, dtype=np.int64)
    # A source that lists only the districts it reported taken (TOLOnews) says of each one, first,
    # that it was listed: its facts are read given that selection, P(facts | listed) =
    # P(facts and listed) / P(listed), one division per district (docs/district_facts.md,
    # "Fitting the statuses"; A24d).
    for name in ft.reported_only:
        table = tables[name]
        used = sorted(set(rows.tolist()) & set(table.row.tolist()))
        last = float(np.max(table.upper)) + 1.0 if ft.cutoff is None else float(cut)
        mine = np.isin(rows, used) & (sign > 0)
        if ft.at_fixed_dates:
            # The numerator must hold the selection too: a district reported after its last
            # fixed date says "held then, fallen by the report", not "held then". Without it
            # the ratio P(held) / P(fell by the report) is no probability (it can pass 1) and
            # rewards a countryside that does not fall at all.
            lo = np.where(mine & held, hi, lo)
            hi = np.where(mine, np.where(held, last, np.minimum(hi, last)), hi)
            held = held & ~mine
            # one interval per district: its selection is floored with it, as one ratio
            interval_of = {int(rows[k]): k for k in np.flatnonzero(mine)}
            pair = np.concatenate([pair, [interval_of[r] for r in used]]).astype(np.int64)
        else:
            pair = np.concatenate([pair, np.full(len(used), -1, dtype=np.int64)])
        lo = np.where(mine & ~held, np.maximum(lo, first[name]), lo)
        rows = np.concatenate([rows, np.array(used, dtype=np.int64)])
        lo = np.concatenate([lo, np.full(len(used), first[name])])
        hi = np.concatenate([hi, np.full(len(used), last)])
        held = np.concatenate([held, np.zeros(len(used), dtype=bool)])
        sign = np.concatenate([sign, -np.ones(len(used))])
    return dict(fact_rows=rows, fact_lo=lo, fact_hi=hi, fact_held=held, fact_w=ft.weight,
                fact_bandwidth=ft.bandwidth, fact_sign=sign, fact_pair=pair)
