"""Exposures: the shares of something fallen that the rule reads, declared once, as data.

Almost every dynamic input of the surrender rule is a share of districts fallen, ``X = W . fallen
/ d`` for a sparse weight matrix ``W`` and a denominator ``d``: the national share (the bandwagon
and the forces freed for the cities), each district's border-weighted share of neighbours fallen,
the share of a capital's own province fallen (encirclement), the share of the other capitals
fallen (the cascade), the share of the provinces around the capital fallen. They differ only in
``W``. So they are declared here, once:

* an :class:`Exposure` is a name, a *scope* (``national``: one value per replicate; ``district``:
  one per district; ``capital``: one per provincial capital, in province order), a builder of
  ``(W, d)`` from the geography, and its meaning;
* a :class:`Term` says which rule reads which exposure, through which parameter and with which
  sign: ``Term("capital", "encirclement", "cap_b_encircle")`` is ``+ cap_b_encircle * E_c`` in
  the capitals' rule (:mod:`sim.hazard` adds the declared terms in declaration order).

Both engines keep one vector of *numerators* per replicate (``W . fallen``, a block per exposure:
:class:`ExposureSet`), add column ``j`` of ``W`` when district ``j`` falls, and divide by ``d``
when they read. Their state is keyed by this declaration (the batch engine compacts it as one
array), so an exposure cannot be forgotten by one engine; ``sim.batch``'s audit checks the kept
numerators against ``W . fallen`` recomputed. Each engine keeps its own clock and events, so
their agreement stays a real check.

Adding a mechanism that reads a new share: a builder and an :class:`Exposure` here, a
:class:`Term` here, a parameter row in :mod:`sim.parameters` (and a data column if the weights
need one). No engine edit: a fall updates every declared exposure, and a district-scope exposure
that changes makes the engines recompute exactly the districts it touched.

Counts are kept as floats of whole numbers (exact below 2**53) and the border weights are added
in the order of the falls, so the numbers do not depend on how replicates are batched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from .geography import Geography
from .parameters import NAMES

SCOPES = ("national", "district", "capital")
#: The rules that read exposures (:mod:`sim.hazard`): the rural districts' (national exposures in
#: the nationwide factor, district ones in the district's own factor), the capitals', Kabul's,
#: the Taliban's assault decision, and the fall's mode (negotiated or fought).
RULES = {"rural": ("national", "district"), "capital": ("national", "district", "capital"),
         "kabul": ("national", "district", "capital"), "decision": ("national",),
         "mode": ("national", "district")}


@dataclass(frozen=True)
class Exposure:
    name: str
    scope: str
    weights: Callable[[Geography], tuple]     # geography -> (W: sparse (m, n), d: (m,))
    meaning: str
    #: False when the share counts provincial capitals only: they have no hazard until the
    #: Taliban turn on the cities, so the exposure is 0 before the decision whatever the
    #: parameters, and a countryside term that reads it is the cities' parameter
    #: (:data:`sim.hazard.CITY_PARAMETERS`; checked against the weights by the tests).
    moves_before_assault: bool = True


@dataclass(frozen=True)
class Term:
    """``sign * parameter * (exposure - centre)`` in ``rule``."""

    rule: str
    exposure: str
    parameter: str
    sign: float = 1.0
    centre: float = 0.0


# --------------------------------------------------------------------------- weight builders

def _rows(geo: Geography, row_of_source: np.ndarray, m: int, denominator) -> tuple:
    """W with one entry per source district (``row_of_source[j]`` = its target, -1 = none)."""
    from scipy.sparse import csr_matrix
    src = np.flatnonzero(row_of_source >= 0)
    W = csr_matrix((np.ones(len(src)), (row_of_source[src], src)), shape=(m, geo.n))
    return W, np.asarray(denominator, dtype=float).reshape(m)


def _national_share(geo: Geography, member: np.ndarray) -> tuple:
    member = np.asarray(member, dtype=bool)
    return _rows(geo, np.where(member, 0, -1), 1, [max(int(member.sum()), 1)])


def momentum_weights(geo: Geography) -> tuple:
    """Every district, over the number of districts."""
    return _rows(geo, np.zeros(geo.n, dtype=np.int64), 1, [geo.n])


def neighbour_weights(geo: Geography) -> tuple:
    """W[i, j] = j's share of i's border with its neighbours (geography's neighbour matrix)."""
    return geo.neighbour_matrix, np.ones(geo.n)


def encirclement_weights(geo: Geography) -> tuple:
    """Each province's rural districts, over their number (capitals are not counted)."""
    rural = ~geo.is_capital
    target = np.where(rural, geo.province_index, -1)
    sizes = np.bincount(geo.province_index[rural], minlength=geo.n_provinces)
    return _rows(geo, target, geo.n_provinces, np.maximum(sizes, 1))


def cascade_weights(geo: Geography) -> tuple:
    """The provincial capitals other than the capital city's."""
    other = geo.is_capital & (np.arange(geo.n) != geo.kabul_row)
    return _national_share(geo, other)


def own_capital_weights(geo: Geography) -> tuple:
    """W[i, c] = 1 for each rural district i and the capital c of its province."""
    capital_of_province = np.full(geo.n_provinces, -1, dtype=np.int64)
    capital_of_province[geo.province_index[geo.capital_rows]] = geo.capital_rows
    rows = np.flatnonzero(~geo.is_capital)
    from scipy.sparse import csr_matrix
    W = csr_matrix((np.ones(len(rows)), (rows, capital_of_province[geo.province_index[rows]])),
                   shape=(geo.n, geo.n))
    return W, np.ones(geo.n)


def province_weights(geo: Geography) -> tuple:
    """W[i, j] = 1 for rural i and the other rural districts j of its province, over their number
    (capitals are neither counted nor given a row: their own province enters through
    encirclement, their fall through ``own_capital``)."""
    from scipy.sparse import csr_matrix
    rural = np.flatnonzero(~geo.is_capital)
    prov = geo.province_index[rural]
    same = (prov[:, None] == prov[None, :]) & (rural[:, None] != rural[None, :])
    rows, cols = np.nonzero(same)
    W = csr_matrix((np.ones(len(rows)), (rural[rows], rural[cols])), shape=(geo.n, geo.n))
    others = np.bincount(rural[rows], minlength=geo.n)
    return W, np.maximum(others, 1).astype(float)


def capital_ring_weights(geo: Geography) -> tuple:
    """Every district (capitals included) of the provinces bordering the capital city's."""
    home = int(geo.province_index[geo.kabul_row])
    return _national_share(geo, np.isin(geo.province_index, sorted(geo.province_neighbours[home])))


#: The declaration. Order matters only within a rule: terms are added in this order.
EXPOSURES: tuple[Exposure, ...] = (
    Exposure("momentum", "national", momentum_weights,
             "M: the national share of districts fallen (the bandwagon; the forces freed for the cities)."),
    Exposure("neighbours", "district", neighbour_weights,
             "N_i: the border-length weighted share of district i's neighbours fallen."),
    Exposure("encirclement", "capital", encirclement_weights,
             "E_c: the share of capital c's own province (its rural districts) fallen."),
    Exposure("cascade", "national", cascade_weights,
             "C: the share of the other provincial capitals fallen.", moves_before_assault=False),
    Exposure("kabul_ring", "national", capital_ring_weights,
             "R: the share fallen of the districts in the provinces around Kabul."),
    Exposure("own_capital", "district", own_capital_weights,
             "K_i: 1 once the capital of rural district i's province has fallen (0 for capitals).",
             moves_before_assault=False),
    Exposure("province", "district", province_weights,
             "P_i: the share of the other rural districts of district i's province fallen (0 for capitals)."),
)

TERMS: tuple[Term, ...] = (
    Term("rural", "momentum", "b_momentum"),
    Term("rural", "neighbours", "b_neighbour"),
    Term("rural", "own_capital", "b_capital_fallen"),
    Term("rural", "cascade", "b_cities_fallen"),
    Term("rural", "province", "b_province"),
    Term("decision", "momentum", "assault_b_share", centre=0.5),
    Term("capital", "encirclement", "cap_b_encircle"),
    Term("capital", "cascade", "cap_b_cascade"),
    Term("capital", "momentum", "cap_b_forces"),
    Term("kabul", "cascade", "kabul_b_capitals"),
    Term("kabul", "kabul_ring", "kabul_b_ring"),
    Term("kabul", "momentum", "cap_b_forces"),
    Term("mode", "momentum", "mode_b_momentum"),
)


def check_declaration(exposures=None, terms=None, parameter_names=None) -> None:
    """Every term names a declared exposure of a scope its rule can read, and a parameter."""
    exposures = EXPOSURES if exposures is None else exposures
    terms = TERMS if terms is None else terms
    by_name = {e.name: e for e in exposures}
    if len(by_name) != len(exposures):
        raise ValueError("exposures: a name is declared twice")
    for e in exposures:
        if e.scope not in SCOPES:
            raise ValueError(f"exposure {e.name!r}: scope {e.scope!r} is not one of {SCOPES}")
    for t in terms:
        if t.rule not in RULES:
            raise ValueError(f"term {t}: rule {t.rule!r} is not one of {tuple(RULES)}")
        e = by_name.get(t.exposure)
        if e is None:
            raise ValueError(f"term {t}: no exposure named {t.exposure!r}")
        if e.scope not in RULES[t.rule]:
            raise ValueError(f"term {t}: the {t.rule} rule cannot read a {e.scope} exposure")
        if parameter_names is not None and t.parameter not in parameter_names:
            raise ValueError(f"term {t}: no parameter named {t.parameter!r}")


_TERMS_CACHE: dict = {}


def terms_of(rule: str, scope: str | None = None) -> tuple:
    """The declared terms of one rule (and, for the rural rule, of one scope), in declaration
    order, as ``(exposure, parameter, adds, centre)`` tuples (``adds``: the sign is +). Read from
    the module's declaration at call time (cached while it is the same object), so a test or a
    notebook may declare another set by assigning EXPOSURES and TERMS."""
    hit = _TERMS_CACHE.get((rule, scope))
    if hit is not None and hit[0] is TERMS and hit[1] is EXPOSURES:
        return hit[2]
    scopes = {e.name: e.scope for e in EXPOSURES}
    found = tuple((t.exposure, t.parameter, t.sign > 0, t.centre) for t in TERMS
                  if t.rule == rule and (scope is None or scopes[t.exposure] == scope))
    _TERMS_CACHE[(rule, scope)] = (TERMS, EXPOSURES, found)
    return found


# --------------------------------------------------------------------------- compiled for a geography

@dataclass(frozen=True, eq=False)
class ExposureSet:
    """The declared exposures compiled for one geography: one vector of numerators per replicate,
    a block per exposure, and the weights by source district for the updates on a fall."""

    geo: Geography
    exposures: tuple[Exposure, ...]
    blocks: dict          # name -> slice of the numerator vector
    denominator: np.ndarray   # (T,)
    matrix: object        # sparse (T, n): stacked W, rows in block order
    src_indptr: np.ndarray    # (n + 1,): column j's entries are src_indptr[j]:src_indptr[j+1]
    src_target: np.ndarray    # position in the numerator vector
    src_weight: np.ndarray
    src_district: np.ndarray  # the target district of a district-scope entry, else -1

    @classmethod
    def build(cls, geo: Geography, exposures=None) -> "ExposureSet":
        from scipy.sparse import csr_matrix, vstack
        exposures = EXPOSURES if exposures is None else exposures
        check_declaration(exposures, TERMS, parameter_names=set(NAMES))
        blocks, mats, dens, start = {}, [], [], 0
        for e in exposures:
            W, d = e.weights(geo)
            W = csr_matrix(W)
            expected = {"national": 1, "district": geo.n, "capital": geo.n_provinces}[e.scope]
            if W.shape != (expected, geo.n) or d.shape != (expected,):
                raise ValueError(f"exposure {e.name!r}: weights of shape {W.shape} and denominator "
                                 f"{d.shape}, expected ({expected}, {geo.n}) and ({expected},)")
            blocks[e.name] = slice(start, start + expected)
            mats.append(W)
            dens.append(d)
            start += expected
        matrix = csr_matrix(vstack(mats, format="csr"))
        by_source = matrix.tocsc()
        by_source.sort_indices()
        district = np.full(start, -1, dtype=np.int64)
        for e in exposures:
            if e.scope == "district":
                sl = blocks[e.name]
                district[sl] = np.arange(geo.n)
        target = by_source.indices.astype(np.int64)
        return cls(geo=geo, exposures=tuple(exposures), blocks=blocks,
                   denominator=np.concatenate(dens), matrix=matrix,
                   src_indptr=by_source.indptr.astype(np.int64), src_target=target,
                   src_weight=by_source.data.astype(float), src_district=district[target])

    @property
    def size(self) -> int:
        return len(self.denominator)

    def numerators(self, fallen) -> np.ndarray:
        """W . fallen for (n,) or (R, n) fallen flags: (T,) or (R, T), C-contiguous.

        A sparse product sums each row's entries in a fixed order (unlike a BLAS product, whose
        blocking depends on the batch size), so a replicate's numbers do not depend on which
        replicates it is batched with."""
        fallen = np.asarray(fallen, dtype=float)
        return np.ascontiguousarray((self.matrix @ fallen.T).T)

    @cached_property
    def district_entries(self) -> tuple:
        """The entries of district-scope exposures, by source (CSR: ``indptr``, position,
        weight, target district): a fall changes these districts' own factors."""
        keep = self.src_district >= 0
        counts = np.bincount(self._source[keep], minlength=self.geo.n)
        indptr = np.r_[0, np.cumsum(counts)]
        return indptr, self.src_target[keep], self.src_weight[keep], self.src_district[keep]

    @cached_property
    def other_entries(self) -> tuple:
        """The other entries (national and capital scope), padded to ``(n, k)`` arrays of
        positions and weights; padding points at position ``size`` (a sink column one past the
        numerators, never read), so a batch adds them with one vectorised step."""
        other = np.flatnonzero(self.src_district < 0)
        source = self._source[other]
        counts = np.bincount(source, minlength=self.geo.n)
        # entries are grouped by source: an entry's slot is its rank within its source's group
        slot = np.arange(len(other)) - np.r_[0, np.cumsum(counts)][source]
        target = np.full((self.geo.n, counts.max(initial=0)), self.size, dtype=np.int64)
        weight = np.zeros(target.shape)
        target[source, slot] = self.src_target[other]
        weight[source, slot] = self.src_weight[other]
        return target, weight

    @cached_property
    def _source(self) -> np.ndarray:
        """The source district of each entry (the column of W it belongs to)."""
        return np.repeat(np.arange(self.geo.n), np.diff(self.src_indptr))

    def entries(self, j: int) -> slice:
        """The entries of W's column j: what a fall of district j adds, and where."""
        return slice(self.src_indptr[j], self.src_indptr[j + 1])

    def values(self, numerators) -> dict:
        """Every exposure's values by name from numerators ``(..., T)`` (for checks and reports)."""
        return {e.name: numerators[..., self.blocks[e.name]] / self.denominator[self.blocks[e.name]]
                for e in self.exposures}

    def _reads(self, rule: str, scope: str | None = None) -> tuple:
        """What ``rule`` reads (only the exposures some term of it names): ``(name, where, its
        denominators or None, by_row, single)``; ``where`` is a slice or positions of the
        numerator vector, ``by_row`` marks a district exposure of the rural or mode rule, read at
        the rows asked, and ``single`` is the position of a value read alone (else None).
        ``scope`` keeps the exposures of one scope (the rural rule's two factors)."""
        cached = self.__dict__.setdefault("_reads_cache", {})
        hit = cached.get((rule, scope))
        if hit is not None and hit[0] is TERMS:
            return hit[1]
        geo = self.geo
        kabul_slot = int(np.flatnonzero(geo.capital_rows == geo.kabul_row)[0])
        wanted = {t[0] for t in terms_of(rule, scope)}
        reads = []
        for e in self.exposures:
            if e.name not in wanted:
                continue
            sl = self.blocks[e.name]
            where, by_row = sl, False
            if e.scope == "district" and rule in ("rural", "mode"):
                by_row = True
            elif e.scope == "district":                       # a capital's own district
                where = sl.start + geo.capital_rows
            if rule == "kabul" and e.scope != "national":
                where = (np.arange(sl.start, sl.stop) if isinstance(where, slice) else where
                         )[kabul_slot:kabul_slot + 1]
            # x / 1.0 is x: a block of unit denominators is read undivided
            den = None if np.all(self.denominator[sl] == 1.0) else self.denominator[where]
            # one position (a national exposure, or Kabul's own): read as a number by read()
            positions = np.arange(self.size)[where]
            single = int(positions[0]) if len(positions) == 1 and not by_row else None
            reads.append((e.name, where, den, by_row, single))
        cached[(rule, scope)] = (TERMS, tuple(reads))
        return cached[(rule, scope)][1]

    def for_rule(self, numerators, rule: str, rows=None, replicates=None, scope=None,
                 silent=frozenset()) -> dict:
        """The values the rule ``rule`` reads from numerators ``(..., T)``, by name: national
        exposures as ``(..., 1)``; district ones at ``rows`` for the rural and mode rules (every
        district when None), at the capitals for the capitals' rules; capital ones per capital
        (for Kabul, its own). ``replicates`` picks rows of a ``(R, T)`` array, gathering only the
        columns read. ``scope`` keeps one scope (the rural rule's nationwide or own factor).
        Exposures named in ``silent`` (:meth:`quiet_exposures`: every term reads them times 0)
        are read as 0.0 and not gathered; the terms add the same 0."""
        out = {}
        for name, where, den, by_row, _ in self._reads(rule, scope):
            if name in silent:
                out[name] = 0.0
                continue
            if by_row and rows is not None:
                where = where.start + np.asarray(rows)
                den = None if den is None else self.denominator[where]
            num = numerators[..., where]
            num = num if replicates is None else num[replicates]
            out[name] = num if den is None else num / den
        return out

    def read(self, values, rule: str, rows=None, scope=None) -> dict:
        """As :meth:`for_rule`, for one replicate, from values already divided (``values =
        numerators / denominator``, ``(T,)``, which the SimPy engine keeps up to date fall by
        fall). A value at one position (a national exposure, Kabul's own) is a plain number, so
        the rule's scalar parts stay scalar arithmetic."""
        out = {}
        for name, where, _, by_row, single in self._reads(rule, scope):
            if single is not None:
                out[name] = float(values[single])
            elif by_row and rows is not None:
                out[name] = values[where][rows]
            else:
                out[name] = values[where]
        return out

    def at_pairs(self, numerators, rule: str, replicates, districts, scope: str | None = None,
                 silent=frozenset()) -> dict:
        """The values ``rule`` reads for pairs (replicate ``replicates[m]``, district
        ``districts[m]``) of a ``(R, T)`` numerator array, each as ``(len(pairs),)``: national
        exposures of the replicate, district ones of the district (``scope`` keeps one scope;
        ``silent`` as in :meth:`for_rule`)."""
        flat = numerators.reshape(-1)
        base = np.asarray(replicates) * numerators.shape[-1]
        out = {}
        for name, where, den, by_row, _ in self._reads(rule, scope):
            if name in silent:
                out[name] = 0.0
                continue
            pos = where.start + (np.asarray(districts) if by_row else 0)
            out[name] = flat[base + pos] if den is None else flat[base + pos] / self.denominator[pos]
        return out

    def quiet_exposures(self, parameter_is_zero) -> frozenset:
        """The district exposures read by no term whose parameter is nonzero
        (``parameter_is_zero(name)``, e.g. zero in every row of a batch): A30's while
        ``b_capital_fallen`` is 0, A31's while ``b_province`` is 0. Every term reads them times 0,
        so their values cannot move a rate: an engine need not keep them."""
        return frozenset(e.name for e in self.exposures if e.scope == "district"
                         and all(parameter_is_zero(t.parameter) for t in TERMS if t.exposure == e.name))

    def quiet_district_entries(self, parameter_is_zero) -> np.ndarray:
        """(E,) bool over :attr:`district_entries`: the entry belongs to a quiet exposure
        (:meth:`quiet_exposures`). A fall need neither add such entries nor recompute the
        districts they touch."""
        block = np.full(self.size, False)
        for name in self.quiet_exposures(parameter_is_zero):
            block[self.blocks[name]] = True
        _, target, _, _ = self.district_entries
        return block[target]

    def touches_twice_among(self, keep: np.ndarray) -> np.ndarray:
        """(n,) bool: district j's fall touches some district through more than one of the kept
        district entries (``keep``: (E,) bool over :attr:`district_entries`)."""
        n = self.geo.n
        indptr, _, _, district = self.district_entries
        source = np.repeat(np.arange(n), np.diff(indptr))[keep]
        pairs = np.sort(source * n + district[keep])
        twice = np.zeros(n, dtype=bool)
        twice[pairs[1:][pairs[1:] == pairs[:-1]] // n] = True
        return twice

    @cached_property
    def touches_twice(self) -> np.ndarray:
        """(n,) bool: district j's fall changes some district's own exposures through more than
        one entry (a capital's neighbours that are also its province's districts, say). Only
        those falls need their touched districts made unique; checking per fall instead of per
        declaration keeps the common fall (a rural district's: its neighbours only) as cheap as
        with one district exposure."""
        return self.touches_twice_among(np.ones(len(self.district_entries[1]), dtype=bool))
