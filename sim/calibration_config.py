"""A calibration's configuration: the TOML file (priors per stage, sampler settings, predictive
replicates), read and validated into :class:`CalibrationConfig`. Used by :mod:`sim.calibrate`."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .parameters import BY_NAME, NAMES

STAGES = ("rural", "capitals")
PRIOR_KINDS = ("uniform", "loguniform", "normal")


# ====================================================================== configuration

@dataclass(frozen=True)
class Prior:
    name: str
    kind: str
    lower: float
    upper: float
    mean: float = 0.0
    sd: float = 1.0
    why: str = ""

    # sampling happens in z: log(x) for log-uniform priors, x otherwise
    def to_z(self, x):
        return np.log(x) if self.kind == "loguniform" else np.asarray(x, dtype=float)

    def from_z(self, z):
        return np.exp(z) if self.kind == "loguniform" else np.asarray(z, dtype=float)

    @property
    def z_bounds(self) -> tuple[float, float]:
        return (float(self.to_z(self.lower)), float(self.to_z(self.upper)))

    def log_density_z(self, z) -> np.ndarray:
        lo, hi = self.z_bounds
        inside = (z >= lo) & (z <= hi)
        dens = np.zeros_like(z, dtype=float)
        if self.kind == "normal":
            dens = -0.5 * ((z - self.mean) / self.sd) ** 2
        return np.where(inside, dens, -np.inf)

    def from_unit(self, u):
        """Map uniform [0, 1] numbers to z through the prior (for the initial design)."""
        lo, hi = self.z_bounds
        if self.kind == "normal":
            from scipy.stats import truncnorm
            a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
            return truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd)
        return lo + u * (hi - lo)


@dataclass(frozen=True)
class StageConfig:
    name: str
    priors: tuple[Prior, ...]
    replicates: int
    #: Candidate countrysides per replicate when the stage conditions on the recorded counts
    #: (1: no conditioning; see :func:`conditioned_replicates`).
    candidates: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.priors)


@dataclass(frozen=True)
class CalibrationConfig:
    path: Path
    name: str
    description: str
    scenario_path: Path
    targets_path: Path
    seed: int
    horizon: dt.date
    walkers: int
    steps: int
    burn_in: int
    thin: int
    checkpoint_every: int
    initial_design: int
    search_generations: int
    stages: tuple[StageConfig, ...]
    predictive_replicates: int
    digest: str

    @property
    def calibrated(self) -> tuple[str, ...]:
        return tuple(n for s in self.stages for n in s.names)


def _need(table, key, path, where, types, lo=None, hi=None):
    if key not in table:
        raise UserError("missing", file=path, key=f"{where}{key}")
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, types):
        expected = {str: "a string", int: "a whole number"}.get(types, "a number")
        raise UserError(f"expected {expected}, got {v!r}", file=path, key=f"{where}{key}")
    if lo is not None and not (lo <= v <= hi):
        raise UserError(f"value {v} out of range; allowed [{lo}, {hi}]", file=path, key=f"{where}{key}")
    return v


def _optional(table, key, default, path, where, types, lo=None, hi=None):
    """Like :func:`_need`, with a default when the key is absent."""
    return _need(table, key, path, where, types, lo, hi) if key in table else default


def _keys(table, allowed, path, where):
    for k in table:
        if k not in allowed:
            raise UserError(f"unknown key; allowed: {', '.join(sorted(allowed))}", file=path,
                            key=f"{where}{k}")


def load_config(path: str | Path) -> CalibrationConfig:
    """Read and validate a calibration config (``calibration/*.toml``)."""
    from .config_checks import read_config
    path = Path(path)
    data, raw = read_config(path)
    _keys(data, {"calibration", "sampler", "stages", "predictive"}, path, "")
    cal = data.get("calibration", {})
    _keys(cal, {"name", "description", "scenario", "targets", "seed", "horizon"}, path, "calibration.")
    sampler = data.get("sampler", {})
    _keys(sampler, {"walkers", "steps", "burn_in", "thin", "checkpoint_every", "initial_design",
                    "search_generations"}, path, "sampler.")
    pred = data.get("predictive", {})
    _keys(pred, {"replicates"}, path, "predictive.")
    horizon = cal.get("horizon", dt.date(2021, 8, 31))
    if not isinstance(horizon, dt.date) or not dt.date(2021, 5, 2) <= horizon <= dt.date(2021, 12, 31):
        raise UserError(f"expected a date between 2021-05-02 and 2021-12-31, got {horizon!r}",
                        file=path, key="calibration.horizon")
    stages_raw = data.get("stages", {})
    _keys(stages_raw, set(STAGES), path, "stages.")
    stages = []
    seen = set()
    for sname in STAGES:
        if sname not in stages_raw:
            continue
        st = stages_raw[sname]
        where = f"stages.{sname}."
        _keys(st, {"replicates", "parameters", "condition_on_counts"}, path, where)
        priors = []
        for k, pr in enumerate(st.get("parameters", [])):
            w = f"{where}parameters[{k}]."
            _keys(pr, {"name", "prior", "lower", "upper", "mean", "sd", "why"}, path, w)
            name = _need(pr, "name", path, w, str)
            if name not in BY_NAME:
                raise UserError(f"unknown parameter {name!r}; allowed: {', '.join(NAMES)}", file=path,
                                key=f"{w}name")
            if name in seen:
                raise UserError(f"parameter {name!r} is calibrated twice", file=path, key=f"{w}name")
            seen.add(name)
            kind = _need(pr, "prior", path, w, str)
            if kind not in PRIOR_KINDS:
                raise UserError(f"unknown prior {kind!r}; allowed: {', '.join(PRIOR_KINDS)}",
                                file=path, key=f"{w}prior")
            spec = BY_NAME[name]
            lo = float(_need(pr, "lower", path, w, (int, float), spec.lower, spec.upper))
            hi = float(_need(pr, "upper", path, w, (int, float), spec.lower, spec.upper))
            if not lo < hi:
                raise UserError(f"lower {lo} must be below upper {hi}", file=path, key=f"{w}upper")
            if kind == "loguniform" and lo <= 0:
                raise UserError("a log-uniform prior needs lower > 0", file=path, key=f"{w}lower")
            mean = float(_optional(pr, "mean", (lo + hi) / 2, path, w, (int, float), lo, hi))
            sd = float(_optional(pr, "sd", (hi - lo) / 4, path, w, (int, float), 1e-12, 1e12))
            why = _need(pr, "why", path, w, str)
            priors.append(Prior(name, kind, lo, hi, mean, sd, why))
        if not priors:
            raise UserError("a stage needs at least one parameter", file=path, key=f"{where}parameters")
        candidates = int(_optional(st, "condition_on_counts", 1, path, where, int, 1, 1000))
        if candidates > 1 and sname == "rural":
            raise UserError("the countryside's own stage fits the counts; it cannot also be "
                            "conditioned on them", file=path, key=f"{where}condition_on_counts")
        stages.append(StageConfig(sname, tuple(priors),
                                  int(_need(st, "replicates", path, where, int, 2, 100000)),
                                  candidates))
    if not stages:
        raise UserError(f"no stages; expected one or both of {', '.join(STAGES)}", file=path,
                        key="stages")
    walkers = _optional(sampler, "walkers", 24, path, "sampler.", int, 2, 10 ** 5)
    max_d = max(len(s.priors) for s in stages)
    if walkers < 2 * max_d or walkers % 2:
        raise UserError(f"walkers must be even and at least twice the largest stage's dimension "
                        f"({2 * max_d}), got {walkers}", file=path, key="sampler.walkers")
    steps = int(_need(sampler, "steps", path, "sampler.", int, 1, 10 ** 6))
    burn = _optional(sampler, "burn_in", steps // 3, path, "sampler.", int, 0, 10 ** 6)
    if not 0 <= burn < steps:
        raise UserError(f"burn_in must be in [0, steps), got {burn}", file=path, key="sampler.burn_in")
    base = path.parent
    return CalibrationConfig(
        path=path, name=str(_need(cal, "name", path, "calibration.", str)),
        description=str(cal.get("description", "")),
        scenario_path=base / _need(cal, "scenario", path, "calibration.", str),
        targets_path=base / _need(cal, "targets", path, "calibration.", str),
        seed=int(_need(cal, "seed", path, "calibration.", int, 0, 2 ** 63 - 1)), horizon=horizon,
        walkers=walkers, steps=steps, burn_in=burn,
        thin=_optional(sampler, "thin", 1, path, "sampler.", int, 1, 10 ** 6),
        checkpoint_every=_optional(sampler, "checkpoint_every", 25, path, "sampler.", int, 1, 10 ** 6),
        initial_design=max(walkers, _optional(sampler, "initial_design", 8 * walkers, path,
                                              "sampler.", int, 1, 10 ** 6)),
        search_generations=_optional(sampler, "search_generations", 20, path, "sampler.", int, 0,
                                     10 ** 4),
        stages=tuple(stages),
        predictive_replicates=_optional(pred, "replicates", 1000, path, "predictive.", int, 10,
                                        10 ** 6),
        digest=hashlib.sha256(raw).hexdigest())
