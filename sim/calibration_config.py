"""A calibration's configuration: the TOML file (priors per stage, sampler settings, predictive
replicates), read and validated into :class:`CalibrationConfig`. Used by :mod:`sim.calibrate`."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import tomlcheck as check
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
    #: (countryside draws, city draws) when the record's start informs the countryside's
    #: parameters (the cut lifted for it; :mod:`sim.cut_lift`), None for the plain cut.
    lift_cut: tuple[int, int] | None = None
    #: MCMC steps of this stage in a forecast (a calibration as of a cut-off), None: the
    #: sampler's. Before the first capital falls the cities' stage knows only "none yet", so its
    #: posterior is nearly its wide prior, which the walkers, started from the mode search, cross
    #: slowly; a forecast's cities stage simulates only to the cut-off and is cheap to run longer.
    forecast_steps: int | None = None
    #: Prior draws for importance sampling this stage in a forecast (None: the MCMC). Before the
    #: first capital falls the cities' stage knows only "none yet": independent prior draws,
    #: weighted by the likelihood, cover its near-prior posterior where walkers crawl
    #: (:func:`sim.calibration_sampler.run_importance`); if the weights' effective sample size is
    #: below a quarter of the posterior's draws, the stage falls back to the MCMC.
    forecast_prior_draws: int | None = None
    #: City draws of the lifted cut in a forecast (None: ``lift_cut``'s). The joint posterior
    #: holds only the city draws the lift pairs, so a forecast's near-prior cities need more
    #: than a full calibration's narrow ones (:func:`lift_draws`).
    forecast_lift_city_draws: int | None = None
    #: This stage's own settings of :data:`STAGE_SAMPLER_KEYS` (``[stages.NAME.sampler]``),
    #: overriding ``[sampler]``'s: the countryside's mode search costs about four times as many
    #: MCMC steps and reaches its mode on half the population
    #: (``calibration/structures/rural192_search48``), while the cities' stage needs the full
    #: search to stay off its poor broad mode.
    sampler: tuple[tuple[str, int], ...] = ()
    #: Replicates the lifted cut simulates each pair on: the first this many of the stage's
    #: (None: all). The start is one date per replicate, and the lift simulates every pair of
    #: countryside and city draws on each, so its cost grows with the stage's replicates; a stage
    #: that takes more of them to steady its own likelihood need not pay that again here.
    lift_replicates: int | None = None

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
    #: replicates of a forecast's predictive: its posterior is wide (the cities' stage nearly
    #: its prior), so it needs more draw groups than a full calibration's for the same precision
    forecast_replicates: int | None = None
    #: the ensemble's proposal moves (:data:`MOVES`): "stretch", emcee's default, or
    #: "differential", emcee's differential-evolution moves (a DE move 4 times in 5, a snooker
    #: move otherwise), which cross this posterior's long correlated ridges faster
    moves: str = "stretch"

    @property
    def calibrated(self) -> tuple[str, ...]:
        return tuple(n for s in self.stages for n in s.names)


def load_config(path: str | Path, theatre=None) -> CalibrationConfig:
    """Read and validate a calibration config (``calibration/*.toml``) for ``theatre`` (default
    :func:`sim.theatre.default_theatre`), whose dates bound its horizon."""
    from .theatre import default_theatre
    from .config_checks import read_config
    path = Path(path)
    data, raw = read_config(path)
    check.check_keys(data, {"calibration", "sampler", "stages", "predictive"}, path)
    cal = check.table(data, "calibration", path)
    check.check_keys(cal, {"name", "description", "scenario", "targets", "seed", "horizon"}, path,
                     "calibration")
    sampler = check.table(data, "sampler", path)
    check.check_keys(sampler, {"walkers", "steps", "burn_in", "thin", "checkpoint_every",
                               "initial_design", "search_generations", "moves"}, path, "sampler")
    pred = check.table(data, "predictive", path)
    check.check_keys(pred, {"replicates", "forecast_replicates"}, path, "predictive")
    th = theatre or default_theatre()
    # from the day after the theatre's start to its default horizon; by default its deadline
    # (31 August 2021 in Afghanistan)
    horizon = check.date(cal, "horizon", path, "calibration", th.start + dt.timedelta(days=1),
                         th.end, default=th.deadline)
    stages_raw = check.table(data, "stages", path)
    check.check_keys(stages_raw, set(STAGES), path, "stages")
    stages = []
    seen = set()
    for sname in STAGES:
        if sname not in stages_raw:
            continue
        st = check.table(stages_raw, sname, path, "stages")
        where = f"stages.{sname}"
        check.check_keys(st, {"replicates", "parameters", "condition_on_counts", "lift_cut",
                              "forecast_steps", "forecast_prior_draws", "sampler"}, path, where)
        priors = []
        for k, pr in enumerate(check.tables(st, "parameters", path, where)):
            w = f"{where}.parameters[{k}]"
            check.check_keys(pr, {"name", "prior", "lower", "upper", "mean", "sd", "why"}, path, w)
            name = check.string(pr, "name", path, w)
            if name not in BY_NAME:
                raise UserError(f"unknown parameter {name!r}; allowed: {', '.join(NAMES)}", file=path,
                                key=f"{w}.name")
            if name in seen:
                raise UserError(f"parameter {name!r} is calibrated twice", file=path,
                                key=f"{w}.name")
            seen.add(name)
            kind = check.string(pr, "prior", path, w)
            if kind not in PRIOR_KINDS:
                raise UserError(f"unknown prior {kind!r}; allowed: {', '.join(PRIOR_KINDS)}",
                                file=path, key=f"{w}.prior")
            spec = BY_NAME[name]
            lo = float(check.number(pr, "lower", path, w, spec.lower, spec.upper))
            hi = float(check.number(pr, "upper", path, w, spec.lower, spec.upper))
            if not lo < hi:
                raise UserError(f"lower {lo} must be below upper {hi}", file=path, key=f"{w}.upper")
            if kind == "loguniform" and lo <= 0:
                raise UserError("a log-uniform prior needs lower > 0", file=path, key=f"{w}.lower")
            mean = float(check.number(pr, "mean", path, w, lo, hi, (lo + hi) / 2))
            sd = float(check.number(pr, "sd", path, w, 1e-12, 1e12, (hi - lo) / 4))
            why = check.string(pr, "why", path, w)
            priors.append(Prior(name, kind, lo, hi, mean, sd, why))
        if not priors:
            raise UserError("a stage needs at least one parameter", file=path,
                            key=f"{where}.parameters")
        candidates = check.number(st, "condition_on_counts", path, where, 1, 1000, 1,
                                  integer=True)
        if candidates > 1 and sname == "rural":
            raise UserError("the countryside's own stage fits the counts; it cannot also be "
                            "conditioned on them", file=path, key=f"{where}.condition_on_counts")
        lift = forecast_city_draws = lift_replicates = None
        replicates = check.number(st, "replicates", path, where, 2, 100000, integer=True)
        if "lift_cut" in st:
            if not stages:
                raise UserError("only a stage after another can lift the cut between them",
                                file=path, key=f"{where}.lift_cut")
            lt = check.table(st, "lift_cut", path, where)
            check.check_keys(lt, {"countryside_draws", "city_draws", "forecast_city_draws",
                                  "replicates"}, path, f"{where}.lift_cut")
            lift = tuple(check.number(lt, key, path, f"{where}.lift_cut", 1, 100000, integer=True)
                         for key in ("countryside_draws", "city_draws"))
            forecast_city_draws = check.number(lt, "forecast_city_draws", path,
                                               f"{where}.lift_cut", 1, 100000, None, integer=True)
            # a subset of the stage's replicates: at most as many as it has
            lift_replicates = check.number(lt, "replicates", path, f"{where}.lift_cut", 2,
                                           replicates, None, integer=True)
        forecast_steps = None
        if "forecast_steps" in st:
            forecast_steps = int(check.number(st, "forecast_steps", path, where, 1, 10 ** 6,
                                              integer=True))
        prior_draws = None
        if "forecast_prior_draws" in st:
            prior_draws = int(check.number(st, "forecast_prior_draws", path, where, 100, 10 ** 7,
                                           integer=True))
        own = {}
        if "sampler" in st:
            ss = check.table(st, "sampler", path, where)
            check.check_keys(ss, set(STAGE_SAMPLER_KEYS), path, f"{where}.sampler")
            own = {key: int(check.number(ss, key, path, f"{where}.sampler", least, most,
                                         integer=True))
                   for key, (least, most) in STAGE_SAMPLER_KEYS.items() if key in ss}
        stages.append(StageConfig(sname, tuple(priors), replicates, candidates, lift,
                                  forecast_steps, prior_draws, forecast_city_draws,
                                  tuple(sorted(own.items())), lift_replicates))
    if not stages:
        raise UserError(f"no stages; expected one or both of {', '.join(STAGES)}", file=path,
                        key="stages")
    walkers = check.number(sampler, "walkers", path, "sampler", 2, 10 ** 5, 24, integer=True)
    max_d = max(len(s.priors) for s in stages)
    if walkers < 2 * max_d or walkers % 2:
        raise UserError(f"walkers must be even and at least twice the largest stage's dimension "
                        f"({2 * max_d}), got {walkers}", file=path, key="sampler.walkers")
    steps = int(check.number(sampler, "steps", path, "sampler", 1, 10 ** 6, integer=True))
    burn = check.number(sampler, "burn_in", path, "sampler", 0, 10 ** 6, steps // 3, integer=True)
    if not 0 <= burn < steps:
        raise UserError(f"burn_in must be in [0, steps), got {burn}", file=path, key="sampler.burn_in")
    for st in stages:
        own = dict(st.sampler)
        s_steps, s_burn = own.get("steps", steps), own.get("burn_in", burn)
        if not s_burn < s_steps:
            raise UserError(f"burn_in must be below the stage's steps ({s_steps}), got {s_burn}",
                            file=path, key=f"stages.{st.name}.sampler.burn_in")
        if own.get("initial_design", walkers) < walkers:
            raise UserError(f"initial_design must be at least the walkers ({walkers}), got "
                            f"{own['initial_design']}", file=path,
                            key=f"stages.{st.name}.sampler.initial_design")
    base = path.parent
    return CalibrationConfig(
        path=path, name=str(check.string(cal, "name", path, "calibration")),
        description=str(cal.get("description", "")),
        scenario_path=base / check.string(cal, "scenario", path, "calibration"),
        targets_path=base / check.string(cal, "targets", path, "calibration"),
        seed=check.number(cal, "seed", path, "calibration", 0, 2 ** 63 - 1, integer=True),
        horizon=horizon,
        walkers=walkers, steps=steps, burn_in=burn,
        thin=check.number(sampler, "thin", path, "sampler", 1, 10 ** 6, 1, integer=True),
        checkpoint_every=check.number(sampler, "checkpoint_every", path, "sampler", 1, 10 ** 6, 25,
                                      integer=True),
        initial_design=max(walkers, check.number(sampler, "initial_design", path,
                                                 "sampler", 1, 10 ** 6, 8 * walkers, integer=True)),
        search_generations=check.number(sampler, "search_generations", path, "sampler", 0,
                                        10 ** 4, 20, integer=True),
        stages=tuple(stages),
        predictive_replicates=check.number(pred, "replicates", path, "predictive", 10,
                                           10 ** 6, 1000, integer=True),
        digest=hashlib.sha256(raw).hexdigest(),
        forecast_replicates=check.number(pred, "forecast_replicates", path, "predictive", 10,
                                         10 ** 6, None, integer=True),
        moves=_moves(sampler, path))


#: The ``[sampler]`` settings a stage may set for itself (``[stages.NAME.sampler]``), with their
#: bounds; the walkers and moves stay the config's, so every stage keeps posteriors of one shape.
STAGE_SAMPLER_KEYS = {"steps": (1, 10 ** 6), "burn_in": (0, 10 ** 6),
                      "initial_design": (5, 10 ** 6), "search_generations": (0, 10 ** 4)}

#: The ensemble moves a calibration can ask for (``[sampler] moves``).
MOVES = ("stretch", "differential")


def _moves(sampler: dict, path: Path) -> str:
    moves = sampler.get("moves", "stretch")
    if moves not in MOVES:
        raise UserError(f"unknown moves {moves!r}; expected one of {', '.join(MOVES)}",
                        file=path, key="sampler.moves")
    return moves


def stage_sampler(config: CalibrationConfig, stage: StageConfig, forecast: bool) -> CalibrationConfig:
    """The sampler settings a stage runs with: the config's with the stage's own
    (``[stages.NAME.sampler]``), and in a forecast the stage's ``forecast_steps`` with the burn-in
    and thinning scaled by the same factor, so that the stage keeps the same share of burn-in and
    the same number of draws."""
    if stage.sampler:
        config = replace(config, **dict(stage.sampler))
    if not forecast or stage.forecast_steps is None or stage.forecast_steps == config.steps:
        return config
    factor = stage.forecast_steps / config.steps
    burn = min(int(round(config.burn_in * factor)), stage.forecast_steps - 1)
    thin = max(1, int(round(config.thin * factor)))
    return replace(config, steps=stage.forecast_steps, burn_in=burn, thin=thin)


def lift_draws(stage: StageConfig, forecast: bool) -> tuple[int, int] | None:
    """The (countryside, city) draws the stage's lifted cut pairs (None: the plain cut); in a
    forecast, the city draws of ``forecast_city_draws`` when given."""
    if stage.lift_cut is None or not forecast or stage.forecast_lift_city_draws is None:
        return stage.lift_cut
    return (stage.lift_cut[0], stage.forecast_lift_city_draws)


def posterior_draws(config: CalibrationConfig) -> int:
    """How many draws a stage's MCMC keeps with these settings (walkers x kept steps): the number
    an importance-sampled stage resamples to, so both samplers give posteriors of one size."""
    return config.walkers * len(range(config.burn_in, config.steps, config.thin))
