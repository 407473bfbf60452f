"""The command line: a thin layer over the Python API (``afsim`` or ``python -m sim``).

Every user mistake ends as one line on stderr and exit code 2; nothing is written in that case.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2, as argparse itself uses)."""

    def error(self, message):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"expected 0 <= seed < 2**63, got {value}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number (0 = all cores), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected >= 0 (0 = all cores), got {value}")
    return value


def _add_run_options(p: argparse.ArgumentParser, *, default_replicates: int = 200) -> None:
    p.add_argument("--replicates", "-n", type=_positive_int, default=default_replicates,
                   help=f"number of replicates (default {default_replicates})")
    p.add_argument("--seed", type=_seed, default=1, help="random seed (default 1)")
    p.add_argument("--workers", type=_workers, default=1,
                   help="local worker processes (0 = all cores; default 1)")
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
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _parameter_source(args):
    from .ensemble import ParameterSource  # noqa: F401
    from .posterior import read_posterior
    if args.fixed_parameters:
        return "fixed"
    if args.posterior is not None:
        return read_posterior(args.posterior)
    return None


def cmd_run(args) -> int:
    from .ensemble import run
    from .output import check_output_dir
    from .scenario import load_scenario
    scenario = load_scenario(args.scenario)
    out = Path(args.out) if args.out else Path("results") / scenario.name
    check_output_dir(out, args.force)
    started = time.perf_counter()
    result = run(scenario, replicates=args.replicates, seed=args.seed,
                 parameters=_parameter_source(args), engine=args.engine, workers=args.workers,
                 scheduler=args.scheduler, progress=not args.quiet)
    result.extra_manifest["command"] = "afsim " + " ".join(sys.argv[1:])
    result.write(out, force=args.force, plots=not args.no_plots)
    s = result.summary()
    kq = s["kabul_fall_date"]
    print(f"{scenario.name}: {args.replicates} replicates in {time.perf_counter() - started:.1f} s "
          f"-> {out}")
    print(f"  Kabul falls in {s['kabul_p_fall']:.0%} of replicates; median {kq['q50'] or 'after the horizon'} "
          f"(90%: {kq['q05'] or '-'} to {kq['q95'] or 'after the horizon'}); capitals fallen by "
          f"15 Aug (median) {s['capitals_fallen_by_2021_08_15_q50']:.0f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = _Parser(prog="afsim", description="Simulate the 2021 fall of the Afghan republic, "
                     "district by district.")
    parser.add_argument("--version", action="version", version=f"afsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run one scenario's ensemble and write the output contract")
    p.add_argument("scenario", type=Path, help="scenario TOML file (e.g. scenarios/baseline.toml)")
    p.add_argument("--out", "-o", type=Path, default=None,
                   help="output folder (default results/<scenario name>)")
    _add_run_options(p)
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"afsim: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("afsim: interrupted; no partial output was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":   # pragma: no cover
    raise SystemExit(main())
