"""The command line: a thin layer over the Python API (``afsim`` or ``python -m sim``).

Every user mistake ends as one line on stderr and exit code 2; nothing is written in that case.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from .errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2, as argparse itself uses)."""

    def error(self, message):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def _whole_number(lo: int, hi: int | None, allowed: str):
    """An argparse type: a whole number in [lo, hi], with ``allowed`` in its error message."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {value}")
        return value
    return parse


#: Upper bounds of the sizes a user types: far beyond any sensible run, small enough that no
#: array size or integer conversion overflows.
MAX_REPLICATES = 10 ** 8
MAX_WORKERS = 4096
MAX_SOBOL_N = 2 ** 20
MAX_SOBOL_REPLICATES = 10 ** 5

_positive_int = _whole_number(1, MAX_REPLICATES, f"a whole number from 1 to {MAX_REPLICATES:,}")
_replicates = _positive_int
_seed = _whole_number(0, 2 ** 63 - 1, "a whole number 0 <= seed < 2**63")
_workers = _whole_number(0, MAX_WORKERS, f"a whole number from 0 (all cores) to {MAX_WORKERS}")
_sobol_n_range = _whole_number(8, MAX_SOBOL_N, f"a power of 2 from 8 to {MAX_SOBOL_N:,}")


def _sobol_n(text: str) -> int:
    """A power of 2, checked when the flag is read (compare runs its sensitivity last)."""
    value = _sobol_n_range(text)
    if value & (value - 1):
        raise argparse.ArgumentTypeError(f"expected a power of 2 from 8 to {MAX_SOBOL_N:,}, got "
                                         f"{value}")
    return value
_sobol_replicates = _whole_number(1, MAX_SOBOL_REPLICATES,
                                  f"a whole number from 1 to {MAX_SOBOL_REPLICATES:,}")


def _add_run_options(p: argparse.ArgumentParser, *, default_replicates: int = 200,
                     default_per_draw: int = 1) -> None:
    p.add_argument("--replicates", "-n", type=_replicates, default=default_replicates,
                   help=f"number of replicates (default {default_replicates})")
    p.add_argument("--replicates-per-draw", type=_positive_int, default=default_per_draw,
                   help="consecutive replicates sharing one posterior draw, so that the spread "
                        "across draws can be told from simulation noise (default "
                        f"{default_per_draw})")
    p.add_argument("--seed", type=_seed, default=1, help="random seed (default 1)")
    p.add_argument("--workers", type=_workers, default=0,
                   help="local worker processes (default 0 = every core available)")
    p.add_argument("--scheduler", default=None,
                   help="address of a Dask distributed scheduler to run on instead of local workers")
    p.add_argument("--engine", choices=("batch", "simpy"), default="batch",
                   help="batch (fast, default) or simpy (the reference engine); same numbers")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--fixed-parameters", action="store_true",
                     help="use the parameter table's defaults in every replicate instead of "
                          "drawing from the calibrated posterior")
    src.add_argument("--posterior", type=Path, default=None,
                     help="draw each replicate's parameters from this posterior CSV")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its checkpoint (<out>.checkpoint)")
    p.add_argument("--chunk-size", type=_positive_int, default=None,
                   help="replicates per chunk, the unit of parallel work and of checkpoints "
                        "(default: automatic, at most 2000); results do not depend on it")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    keep = p.add_mutually_exclusive_group()
    keep.add_argument("--no-fall-times", dest="keep_fall_times", action="store_false", default=None,
                      help="do not keep the full fall times (no fall_times.npz); needed above "
                           "20,000 replicates unless --keep-fall-times")
    keep.add_argument("--keep-fall-times", dest="keep_fall_times", action="store_true",
                      help="keep the full fall times even above 20,000 replicates")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


#: API arguments whose flag is not their name with dashes (``name=value`` for a given value).
#: Errors are written in API words (:func:`sim.errors.arg`); :func:`flag_of` maps them here.
FLAGS = {
    "checkpoint": "--out",                          # the checkpoint is <out>.checkpoint
    "keep_fall_times=True": "--keep-fall-times",
    "keep_fall_times=False": "--no-fall-times",
    "parameters='fixed'": "--fixed-parameters",
    "parameters=read_posterior(FILE)": "--posterior FILE",
    "source": "--fixed-parameters / --posterior",   # sensitivity's parameter source
    "n": "--sobol-n",
    "scenarios": "SCENARIO",
}


def flag_of(argument: str) -> str:
    """The command-line flag of an API argument (``name`` or ``name=value``): ``replicates`` ->
    ``--replicates``, ``resume=True`` -> ``--resume``, ``plots=False`` -> ``--no-plots``."""
    if argument in FLAGS:
        return FLAGS[argument]
    name, given, value = argument.partition("=")
    flag = FLAGS.get(name, "--" + name.replace("_", "-"))
    if not given or value == "True":
        return flag
    if value == "False":
        return "--no-" + flag.removeprefix("--")
    return f"{flag} {value.strip(chr(39))}"


def _add_theatre_option(p: argparse.ArgumentParser, default=None) -> None:
    """``--theatre NAME_OR_FOLDER``: on the main parser (``afsim --theatre X run ...``) and on each
    command that simulates (``afsim run ... --theatre X``; given there, it wins)."""
    p.add_argument("--theatre", default=default, metavar="NAME_OR_FOLDER",
                   help="the theatre to simulate: a shipped theatre's name (default "
                        "afghanistan_2021) or a folder holding theatre.toml and its tables (e.g. "
                        "tests/fixtures/capitalia_1975); scenario names are looked up among its "
                        "scenarios")


def _geo(args):
    """The geography of the theatre named by ``--theatre`` (the shipped one if none). Any mistake
    in it, a name or a folder or the tables there, is reported against the flag."""
    from .geography import load_geography
    try:
        return load_geography(getattr(args, "theatre", None))
    except UserError as exc:
        if exc.argument is None:
            exc.argument = "theatre"
        raise


def _day_month(date) -> str:
    return f"{date.day} {date:%b}"


def _parameter_source(args):
    from .posterior import read_posterior
    if args.fixed_parameters:
        return "fixed"
    if args.posterior is not None:
        return read_posterior(args.posterior)
    return None


def _discard_checkpoint_on(exc: UserError, checkpoint: Path) -> None:
    """A full disk: the checkpoint cannot be trusted to be whole and holds space; remove it."""
    if getattr(exc, "disk_full", False):
        shutil.rmtree(checkpoint, ignore_errors=True)
    try:
        checkpoint.rmdir()               # compare's folder of per-scenario checkpoints, if empty
    except OSError:
        pass


def cmd_run(args) -> int:
    from .ensemble import run
    from .output import check_output_dir, output_lock
    from .scenario import load_scenario
    geo = _geo(args)
    scenario = load_scenario(args.scenario, geo)
    out = Path(args.out) if args.out else Path("results") / scenario.name
    check_output_dir(out, args.force, inputs=[*scenario.files, args.posterior])
    source = _parameter_source(args)
    started = time.perf_counter()
    checkpoint = Path(str(out) + ".checkpoint")
    with output_lock(out):
        try:
            result = run(scenario, replicates=args.replicates, seed=args.seed,
                         parameters=source, engine=args.engine, workers=args.workers,
                         scheduler=args.scheduler, progress=not args.quiet,
                         keep_fall_times=args.keep_fall_times, chunk_size=args.chunk_size,
                         checkpoint=checkpoint, resume=args.resume,
                         replicates_per_draw=args.replicates_per_draw, geo=geo)
            result.extra_manifest["command"] = "afsim " + " ".join(sys.argv[1:])
            result.write(out, force=args.force, plots=not args.no_plots, progress=not args.quiet)
        except UserError as exc:
            _discard_checkpoint_on(exc, checkpoint)
            raise
        shutil.rmtree(checkpoint, ignore_errors=True)
    s = result.summary_dict()
    th = geo.theatre
    kq = s[f"{th.capital_key}_fall_date"]
    print(f"{scenario.name}: {args.replicates} replicates in {time.perf_counter() - started:.1f} s "
          f"-> {out}")
    print(f"  {th.capital} falls in {s[f'{th.capital_key}_p_fall']:.0%} of replicates; median "
          f"{kq['q50'] or 'after the horizon'} (90%: {kq['q05'] or '-'} to "
          f"{kq['q95'] or 'after the horizon'}); capitals fallen by {_day_month(th.capital_fell)} "
          f"(median) {s[f'capitals_fallen_by_{th.stamp(th.capital_fell)}_q50']:.0f}")
    if s[f"capitals_fallen_before_{th.capital_key}_q50"] is not None:
        print(f"  when {th.capital} falls (median): "
              f"{s[f'capitals_fallen_before_{th.capital_key}_q50']:.0f} other capitals fallen, "
              f"{s[f'districts_held_at_{th.capital_key}_fall_q50']:.0f} districts still held")
    return 0


def _date_arg(text: str):
    import datetime as dt
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def cmd_calibrate(args) -> int:
    from .calibrate import calibrate, load_config
    from .calibration_output import write_calibration
    from .ensemble import resolve_workers
    from .output import check_output_dir, output_lock
    from .theatre import default_theatre
    geo = _geo(args)
    config = load_config(args.config, geo.theatre)
    _check_calibration_inputs(config, geo)
    check_output_dir(args.out, args.force, inputs=_calibration_inputs(config))
    if args.set_default:                 # refused before hours of sampling, not after
        if geo.theatre != default_theatre():
            raise UserError(f"the package's default posterior is the shipped theatre's; a "
                            f"posterior of theatre {geo.theatre.name!r} cannot replace it",
                            key="--set-default")
        from .calibration_output import default_posterior_target
        target = default_posterior_target()
    workers = resolve_workers(args.workers)
    started = time.perf_counter()
    with output_lock(args.out):
        if args.resume:
            _check_calibration_checkpoint(args.out, config)
        result = calibrate(config, out=args.out, resume=args.resume, workers=workers,
                           progress=not args.quiet, geo=geo)
        report = write_calibration(result, args.out, replicates=args.replicates, workers=workers,
                                   progress=not args.quiet, force=args.force,
                                   set_default=args.set_default)
    _print_fit(report, f"calibration '{config.name}'", time.perf_counter() - started, args.out)
    if args.set_default:
        print(f"  installed as the project's default posterior ({target})")
    return 0


def cmd_forecast(args) -> int:
    from .calibrate import calibrate, load_config
    from .calibration_output import CAPITALS_WITHIN, write_forecast
    from .ensemble import resolve_workers
    from .output import check_output_dir, output_lock
    geo = _geo(args)
    config = load_config(args.config, geo.theatre)
    _check_calibration_inputs(config, geo, args.as_of)
    check_output_dir(args.out, args.force, inputs=_calibration_inputs(config))
    workers = resolve_workers(args.workers)
    started = time.perf_counter()
    with output_lock(args.out):
        if args.resume:
            _check_calibration_checkpoint(args.out, config, forecast=True)
        result = calibrate(config, out=args.out, as_of=args.as_of, resume=args.resume,
                           workers=workers, progress=not args.quiet, geo=geo)
        s = write_forecast(result, args.out,
                           replicates=(args.replicates or config.forecast_replicates
                                       or config.predictive_replicates),
                           workers=workers, progress=not args.quiet, force=args.force)
    th = geo.theatre
    cap = th.capital_key
    k = s[f"{cap}_fall_date"]
    print(f"forecast as of {args.as_of} in {time.perf_counter() - started:.0f} s -> {args.out}")
    print(f"  {th.capital}: median {k['q50'] or 'after the horizon'}, 80% interval {k['q10']} to "
          f"{k['q90'] or 'after the horizon'}; P(by {_day_month(th.deadline)}) "
          f"{s[f'p_{cap}_falls_by_{th.stamp(th.deadline)}']:.2f}, P(by {_day_month(th.end)}) "
          f"{s[f'p_{cap}_falls_by_{th.stamp(th.end)}']:.2f}")
    c = s[f"capitals_fallen_by_{th.stamp(th.capital_fell)}"]
    within = f"share_within_{CAPITALS_WITHIN}_of_record"
    print(f"  capitals fallen by {_day_month(th.capital_fell)}: median {c['q50']:.0f} (the record "
          f"{c['record']}); P(within {CAPITALS_WITHIN} of it) {c[within]:.2f}, none fallen "
          f"{c['share_none']:.2f}")
    return 0


def _calibration_inputs(config) -> list:
    return [config.path, config.scenario_path, config.targets_path]


def _check_calibration_inputs(config, geo, as_of=None) -> None:
    """The scenario and targets a config names, read before anything is simulated."""
    from .scenario import load_scenario
    from .targets import load_targets
    load_scenario(config.scenario_path, geo)
    targets = load_targets(config.targets_path, geo)
    if as_of is not None:
        targets = targets.as_of(as_of)
    stages = {s.name for s in config.stages}
    if "rural" in stages and not targets.fitted_districts:
        raise UserError("the config's rural stage needs district counts with a weight > 0 "
                        "(none in the targets" + (f" before {as_of})" if as_of else ")"),
                        file=config.targets_path, key="districts")
    if "capitals" in stages and not (any(c.weight > 0 for c in targets.capitals)
                                     or any(c.weight > 0 for c in targets.constraints)):
        raise UserError("the config's capitals stage needs capital dates or constraints with a "
                        "weight > 0 (none in the targets" + (f" before {as_of})" if as_of else ")"),
                        file=config.targets_path, key="capitals")


def _check_calibration_checkpoint(out, config, forecast: bool = False) -> None:
    """With --resume, each stage's saved sampler state must be readable and of this config's
    shape (walkers, dimensions, steps: in a forecast, the stage's ``forecast_steps``); a damaged
    one is a one-line error, not a traceback."""
    import numpy as np
    from .calibration_config import stage_sampler
    folder = Path(str(out) + ".checkpoint")
    for stage in config.stages:
        path = folder / f"stage_{stage.name}.npz"
        if not path.exists():
            continue
        W, d = config.walkers, len(stage.priors)
        try:
            with np.load(path, allow_pickle=False) as z:
                shapes = {k: z[k].shape for k in ("chain", "log_prob", "accepted", "coords",
                                                  "last_log_prob", "rs_keys")}
                str(z["digest"]), int(z["rs_pos"]), int(z["rs_has_gauss"]), float(z["rs_cached"])
        except Exception as exc:       # noqa: BLE001 - BadZipFile, zlib.error, KeyError, ...
            raise UserError(f"the calibration checkpoint cannot be read ({type(exc).__name__}: "
                            "truncated or damaged); delete it and run again without --resume",
                            file=path, key="--resume") from None
        steps = shapes["chain"][0] if shapes["chain"] else -1
        expected = {"chain": (steps, W, d), "log_prob": (steps, W), "accepted": (W,),
                    "coords": (W, d), "last_log_prob": (W,), "rs_keys": (624,)}
        wrong = [k for k, v in expected.items() if shapes[k] != v]
        most = stage_sampler(config, stage, forecast).steps   # a forecast's stage may run longer
        if wrong or not 0 < steps <= most:
            raise UserError(f"the calibration checkpoint does not fit this config ({wrong[0] if wrong else 'steps'} "
                            f"has shape {shapes[wrong[0]] if wrong else steps}); delete it and run "
                            "again without --resume", file=path, key="--resume")


def _print_fit(report: dict, what: str, seconds: float, out) -> None:
    print(f"{what} in {seconds:.0f} s -> {out}")
    for key, g in report["goals"].items():
        v = g["value"]
        shown = f"{v:.3f}" if isinstance(v, float) else str(v)
        print(f"  {key:42s} {shown:>10s}   goal {g['goal']:<32s} {'met' if g['met'] else 'NOT met'}")


def _check_boundaries(path: Path, geo) -> None:
    """Read and match a boundary file before simulating (not after, when a mistake costs a run)."""
    from .maps import _match_boundaries, _read_boundaries
    from .userfiles import read_bytes
    read_bytes(path, "a district boundary file (GeoJSON, or a shapefile with pyshp)", limit=2 ** 31)
    try:
        _match_boundaries(_read_boundaries(path, "ADM2_PCODE"), geo, path, "ADM2_PCODE")
    except UserError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError) as exc:
        raise UserError(f"not a valid district boundary file ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split()[:12])})", file=path,
                        key="--boundaries") from None


def _structures(args):
    """--structure NAME=POSTERIOR.csv or NAME=FOLDER (repeatable): the primary source first, then
    each named one; the structures' own baselines (a FOLDER's ``baseline.toml``, if it has one:
    a structure that dates the timeline differently); every file they read (a ``--structures``
    set's posteriors among them), which an output folder must not hold; and the ``--structures``
    set, loaded (or None), whose structures :func:`sim.compare.compare` runs after these."""
    from .ensemble import resolve_parameter_source
    from .posterior import read_posterior
    primary = _parameter_source(args)
    listed = None
    if args.structures is not None:
        from .structure_set import load_structure_set
        listed = load_structure_set(args.structures)
    files = listed.files() if listed else []
    if not args.structure:
        return primary, {}, files, listed
    first = resolve_parameter_source(primary)
    out, baselines = {first.label: first}, {}
    for item in args.structure:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserError(f"expected NAME=POSTERIOR.csv or NAME=FOLDER, got {item!r}",
                            key="--structure")
        if name in out or (listed and name in listed.names):
            raise UserError(f"structure {name!r} given twice (or also listed in --structures)",
                            key="--structure")
        folder = Path(path)
        if folder.is_dir():
            if not (folder / "posterior.csv").is_file():
                raise UserError("a structure's folder needs its posterior.csv (and may have its "
                                "own baseline.toml)", file=folder, key="--structure")
            if (folder / "baseline.toml").is_file():
                baselines[name] = folder / "baseline.toml"
            path = folder / "posterior.csv"
        out[name] = read_posterior(path)
        files.append(path)
    return out, baselines, files + list(baselines.values()), listed


def cmd_compare(args) -> int:
    from .compare import compare
    from .ensemble import resolve_workers
    from .output import check_output_dir, output_lock
    from .scenario import load_scenario
    from .sensitivity import cached_sensitivity, sensitivity
    geo = _geo(args)
    scenarios = [load_scenario(p, geo) for p in args.scenarios]
    names = {s.name for s in scenarios} | {s.base_name for s in scenarios if s.base_name}
    if args.map_scenario is not None and (args.map_scenario not in names
                                          or args.map_scenario == _baseline_name(scenarios)):
        raise UserError(f"unknown what-if {args.map_scenario!r}; allowed: "
                        f"{', '.join(sorted(n for n in names if n != _baseline_name(scenarios)))}",
                        key="--map-scenario")
    if args.boundaries is not None:
        _check_boundaries(args.boundaries, geo)
    points = None
    if args.condition_on is not None:
        from .targets import load_targets
        points = load_targets(args.condition_on, geo).fitted_districts
        from .conditioning import check_replicates_per_draw
        check_replicates_per_draw(args.replicates_per_draw)
    inputs = [f for s in scenarios for f in s.files] + [args.posterior, args.boundaries,
                                                        args.condition_on, args.structures]
    source, baselines, structure_files, structure_set = _structures(args)
    check_output_dir(args.out, args.force, inputs=[*inputs, *structure_files])
    started = time.perf_counter()
    checkpoint = Path(str(args.out) + ".checkpoint")
    with output_lock(args.out):
        try:
            comp = compare(scenarios, replicates=args.replicates, seed=args.seed,
                           parameters=source, workers=args.workers,
                           scheduler=args.scheduler, progress=not args.quiet,
                           keep_fall_times=args.keep_fall_times, chunk_size=args.chunk_size,
                           checkpoint=checkpoint, resume=args.resume, engine=args.engine,
                           replicates_per_draw=args.replicates_per_draw, geo=geo,
                           baselines=baselines, structures=structure_set)
            if points is not None:
                comp.condition_on(points)
            if args.sensitivity:
                kw = dict(source=comp.base.source, n=args.sobol_n, replicates=args.sobol_replicates,
                          seed=args.seed, workers=resolve_workers(args.workers),
                          progress=not args.quiet, geo=geo)
                scenario = comp.results[comp.baseline].scenario
                comp.sensitivity = (sensitivity(scenario, **kw) if args.no_cache
                                    else cached_sensitivity(scenario, cache_dir=args.cache_dir, **kw))
            comp.notes["command"] = "afsim " + " ".join(sys.argv[1:])
            comp.elapsed = time.perf_counter() - started
            comp.write(args.out, force=args.force, plots=not args.no_plots,
                       boundaries=args.boundaries, map_scenario=args.map_scenario,
                       animation=args.animation, progress=not args.quiet)
        except UserError as exc:
            _discard_checkpoint_on(exc, checkpoint)
            raise
        shutil.rmtree(checkpoint, ignore_errors=True)
    print(f"compared {len(comp.names)} scenarios x {args.replicates} replicates in "
          f"{time.perf_counter() - started:.0f} s -> {args.out}/report.html")
    for line in comp.findings():
        print("  " + line)
    if comp.sensitivity is not None:
        top = ", ".join(f"{n} {v:.2f}" for n, v in comp.sensitivity.ranking()[:3])
        print(f"  largest Sobol total effects on {geo.theatre.capital}'s date: {top}")
    return 0


def _baseline_name(scenarios) -> str | None:
    for s in scenarios:
        if s.base_name is None:
            return s.name
    return scenarios[0].base_name if scenarios else None


def cmd_sensitivity(args) -> int:
    from .output import atomic_directory, check_output_dir, output_lock
    from .plots import sensitivity_chart
    from .results import write_csv
    from .scenario import load_scenario
    from .sensitivity import DEFAULT_PARAMETERS, check_parameter_names, sensitivity
    geo = _geo(args)
    scenario = load_scenario(args.scenario, geo)
    params = (check_parameter_names(args.parameters.split(","), key="--parameters")
              if args.parameters is not None else DEFAULT_PARAMETERS)
    check_output_dir(args.out, args.force, inputs=[*scenario.files, args.posterior])
    source = _parameter_source(args)
    with output_lock(args.out):
        sens = sensitivity(scenario, parameters=params, source=source,
                           n=args.sobol_n, replicates=args.sobol_replicates, seed=args.seed,
                           workers=args.workers or 0, progress=not args.quiet, geo=geo)
        with atomic_directory(args.out, force=args.force) as tmp:
            write_csv(tmp / "sensitivity.csv", sens.rows())
            sensitivity_chart(sens).savefig(tmp / "sensitivity.png", dpi=120)
    print(f"sensitivity in {sens.seconds:.0f} s -> {args.out}")
    for outcome in sens.outcomes:
        top = ", ".join(f"{n} {v:.2f}" for n, v in sens.ranking(outcome)[:4])
        print(f"  {sens.labels[outcome]}: {top}")
    return 0


def _add_sobol_options(p, default_n: int = 256) -> None:
    p.add_argument("--sobol-n", type=_sobol_n, default=default_n,
                   help=f"Sobol base sample size, a power of 2 (default {default_n})")
    p.add_argument("--sobol-replicates", type=_sobol_replicates, default=16,
                   help="replicates per parameter set in the sensitivity analysis (default 16)")


def cmd_reproduce(args) -> int:
    from .reproduce import reproduce
    rep = reproduce(args.run_dir, workers=args.workers, progress=not args.quiet)
    for name, status in rep["files"].items():
        print(f"  {name:18s} {status}")
    for note in rep["notes"]:
        print(f"  note: {note}")
    print(f"{args.run_dir}: " + ("reproduced bit for bit" if rep["match"] else "NOT reproduced"))
    return 0 if rep["match"] else 1


def cmd_parameters(args) -> int:
    from .docs import parameters_markdown, parameters_text
    sys.stdout.write(parameters_markdown() if args.markdown else parameters_text())
    return 0


def cmd_scenarios(args) -> int:
    """The shipped scenarios, so a user who installed the package knows what names to type."""
    import textwrap
    from .shipped import shipped_descriptions, shipped_dir
    from .theatre import SHIPPED
    theatre = _geo(args).theatre
    rows = shipped_descriptions(theatre)
    if SHIPPED.get(theatre.name) is theatre:
        if not rows:
            raise UserError("no shipped scenarios found (the package's scenarios folder is missing)")
        print(f"Shipped scenarios ({shipped_dir(theatre)}); run one by name from any folder, e.g. "
              "afsim run baseline, afsim compare baseline salaries_paid:")
    else:
        if not rows:
            raise UserError(f"theatre {theatre.name!r} has no scenarios folder (key 'scenarios' "
                            "of its theatre.toml)", argument="theatre")
        print(f"Scenarios of theatre {theatre.name} ({shipped_dir(theatre)}); run one by name with "
              f"--theatre, e.g. afsim --theatre {args.theatre} run {rows[0][0]}:")
    for name, description, base in rows:
        first = description.split(". ")[0].rstrip(".") + "."        # the full text is in the file
        print(f"\n{name}" + (f"  (changes {Path(base).stem})" if base else ""))
        print(textwrap.fill(first, width=96, initial_indent="    ", subsequent_indent="    "))
    return 0


def _add_calibration_options(p: argparse.ArgumentParser, replicates_help: str,
                             resume_help: str) -> None:
    """The options calibrate and forecast share (both run a calibration)."""
    p.add_argument("--out", "-o", type=Path, required=True, help="output folder")
    p.add_argument("--workers", type=_workers, default=0, help="local worker processes (0 = all cores)")
    p.add_argument("--replicates", "-n", type=_positive_int, default=None, help=replicates_help)
    p.add_argument("--resume", action="store_true", help=resume_help)
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    from .version import __version__
    parser = _Parser(prog="afsim", description="Simulate the 2021 fall of the Afghan republic, "
                     "district by district.")
    parser.add_argument("--version", action="version", version=f"afsim {__version__}")
    _add_theatre_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run one scenario's ensemble and write the output contract")
    p.add_argument("scenario", type=Path, help="scenario TOML file (e.g. scenarios/baseline.toml) "
                   "or a shipped scenario's name (e.g. baseline; see afsim scenarios)")
    p.add_argument("--out", "-o", type=Path, default=None,
                   help="output folder (default results/<scenario name>)")
    _add_run_options(p)
    _add_theatre_option(p, default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("calibrate", help="estimate the posterior of the free parameters from the record")
    p.add_argument("config", type=Path, help="calibration config (e.g. calibration/default.toml)")
    _add_calibration_options(p, "posterior-predictive replicates (default: the config's)",
                             "continue an interrupted calibration")
    p.add_argument("--set-default", action="store_true",
                   help="install the posterior as the package default (sim/data/posterior.csv)")
    _add_theatre_option(p, default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("forecast", help="calibrate on what was known at a date, then forecast")
    p.add_argument("--as-of", type=_date_arg, required=True, help="cut-off date YYYY-MM-DD")
    p.add_argument("--config", type=Path, default=Path("calibration/default.toml"),
                   help="calibration config (default calibration/default.toml)")
    _add_calibration_options(p, "forecast replicates (default: the config's predictive replicates)",
                             "continue an interrupted forecast")
    _add_theatre_option(p, default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser("compare", help="run what-ifs against the baseline (paired) and write a report")
    p.add_argument("scenarios", type=Path, nargs="+",
                   help="scenario files or shipped names; the baseline is added if not given "
                        "(e.g. scenarios/*.toml, or baseline salaries_paid)")
    p.add_argument("--out", "-o", type=Path, default=Path("results/compare"),
                   help="output folder (default results/compare)")
    _add_run_options(p, default_replicates=1000, default_per_draw=10)
    p.add_argument("--structure", action="append", default=[], metavar="NAME=POSTERIOR",
                   help="also run every scenario under this posterior (one per structural variant "
                        "of the model; repeatable): effects then report their spread across "
                        "structures. NAME=FOLDER reads the folder's posterior.csv and, if it has "
                        "one, its baseline.toml: every scenario is then rebased on that timeline")
    p.add_argument("--structures", type=Path, default=None, metavar="FILE",
                   help="also run every scenario under each posterior this structure set lists "
                        "(TOML: a [[structures]] table per posterior, with its name, its "
                        "posterior, optionally its own baseline, and why it is kept; e.g. "
                        "calibration/structures/pooled.toml, the README's main command)")
    p.add_argument("--no-sensitivity", dest="sensitivity", action="store_false",
                   help="skip the global sensitivity analysis")
    # half the standalone command's sample: the first compare on a fresh machine stays near two
    # minutes on 2 cores (later ones read the cache); `afsim sensitivity` for more precision
    _add_sobol_options(p, default_n=128)
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where the baseline's sensitivity analysis is cached, keyed by its inputs "
                        "(default $AFSIM_CACHE_DIR or ~/.cache/afsim)")
    p.add_argument("--no-cache", action="store_true",
                   help="recompute the sensitivity analysis even if cached")
    p.add_argument("--boundaries", type=Path, default=None,
                   help="AGCHO district boundary file (GeoJSON, or .shp with pyshp) for real "
                        "polygons on the maps")
    p.add_argument("--map-scenario", default=None,
                   help="what-if shown beside the baseline on the map (default: largest effect)")
    p.add_argument("--no-animation", dest="animation", action="store_false",
                   help="skip the animated map of the collapse (about 10 s)")
    p.add_argument("--condition-on", type=Path, default=None, metavar="TARGETS.toml",
                   help="also report every effect in the 2021s whose countryside matches the "
                        "district counts of this targets file (e.g. calibration/targets.toml)")
    _add_theatre_option(p, default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sensitivity", help="global sensitivity (Sobol indices) of a scenario")
    p.add_argument("scenario", type=Path)
    p.add_argument("--out", "-o", type=Path, required=True, help="output folder")
    p.add_argument("--parameters", default=None,
                   help="comma-separated parameter names (default: the mechanisms' coefficients)")
    p.add_argument("--seed", type=_seed, default=1, help="random seed (default 1)")
    p.add_argument("--workers", type=_workers, default=0, help="local worker processes (0 = all cores)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--fixed-parameters", action="store_true")
    src.add_argument("--posterior", type=Path, default=None)
    _add_sobol_options(p)
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    _add_theatre_option(p, default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("reproduce", help="rerun a result from its manifest and check it matches")
    p.add_argument("run_dir", type=Path, help="output folder of afsim run")
    p.add_argument("--workers", type=_workers, default=0,
                   help="local worker processes (default 0 = every core available)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("parameters", help="list every model parameter with its meaning and source")
    p.add_argument("--markdown", action="store_true", help="as the Markdown table of docs/parameters.md")
    p.set_defaults(func=cmd_parameters)

    p = sub.add_parser("scenarios", help="list the scenarios shipped with the package (usable by name)")
    _add_theatre_option(p, default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_scenarios)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: workers stopped, temporary output removed."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _resume_hint(args) -> str:
    """How to continue an interrupted run, when it left a checkpoint to continue from."""
    out = getattr(args, "out", None)
    if out is None or not hasattr(args, "resume"):
        return ""
    if not Path(str(out) + ".checkpoint").exists():
        return ""
    again = "" if getattr(args, "resume", False) else " --resume"
    return (f"; the finished work is saved in {out}.checkpoint: run the same command{again} "
            "to continue")


def main(argv: list[str] | None = None) -> int:
    import errno
    import signal
    import threading
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"afsim: error: {exc.one_line(flag_of)}", file=sys.stderr)
        return 2
    except Terminated:
        print("afsim: terminated; no partial output was left behind", file=sys.stderr)
        # the output's temporary folder and lock are gone (the exception unwound them) and the
        # workers were terminated; exit now rather than wait in the interpreter's exit hooks,
        # which join process-pool threads that can hang once their workers were killed
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(143)
    except KeyboardInterrupt:
        print("afsim: interrupted; no partial output was left behind" + _resume_hint(args),
              file=sys.stderr)
        return 130
    except OSError as exc:
        # the machine, not the program: a full disk, a read-only or vanished folder
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                             errno.ENAMETOOLONG, errno.ENOTDIR, errno.ENOENT, errno.EIO):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"afsim: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def entry() -> None:
    """The ``afsim`` console script and ``python -m sim``: :func:`main`, then exit.

    After Ctrl-C the exit is immediate (``os._exit``), as it already was after SIGTERM: the
    interpreter's exit hooks join the process pools' manager threads, which can hang once their
    workers were terminated (seen on a loaded 2-core machine: the "interrupted" message printed,
    the process still alive a minute later). By then the output's temporary folder is gone and
    every finished chunk is in the checkpoint, so nothing is lost. :func:`main` itself returns
    130, so a caller in the same process (a notebook, the tests) keeps its interpreter."""
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    raise SystemExit(code)


if __name__ == "__main__":   # pragma: no cover
    entry()
