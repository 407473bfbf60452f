"""Speed and memory benchmarks (not tests): ``python benchmarks/run_benchmarks.py``.

Measures, on the machine it runs on:

1. the SimPy reference engine: one baseline replicate (1 May - 31 December), median of 5 rounds of N runs,
   with the table's (fixed) parameters and with the installed posterior's medians;
2. the batch engine on one core: replicates per second over a 10,000-replicate baseline ensemble
   (median of 5), with fixed parameters and with every replicate drawing from the posterior;
3. a 10,000-replicate baseline ensemble on all local cores, every output written (``afsim run``);
4. peak memory (max RSS of the process, one worker) of a 100,000-replicate ensemble with the
   streamed summaries only (``--no-fall-times``), every other output written;
5. with ``--calibration``: the default calibration's wall time (``afsim calibrate``, all cores);
   ``--calibration-only`` measures just that and adds it to ``results.json`` (``--keep-calibration
   DIR`` keeps its output, so the timed run can be the one installed);
6. with ``--forecast DATE`` (repeatable): the wall time of the default's forecast as of each date
   (``afsim forecast --as-of DATE``, all cores; issue 10 asks for <= 10 minutes, like the
   calibration), added to ``results.json`` under ``forecast_wall_seconds`` (``--keep-forecasts
   DIR`` keeps each one's output in ``DIR/forecast-DATE``, so the timed runs can be the committed ones).

Results are printed as a Markdown table and written to ``benchmarks/results.json`` with the
machine's description. Timings on shared machines vary by 10-20%; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.toml"


def machine() -> dict:
    """The machine a figure was measured on. A virtual machine may name its CPU only "AMD EPYC":
    the family and model tell a Zen 4 (family 25) from a Zen 5 (family 26), whose speeds differ,
    and numpy's SIMD extensions say which of its vectorised routines ran (their last bits can
    differ between CPUs; README, Robustness and reproducibility)."""
    import numpy as np

    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model") and key not in fields:
                fields[key] = value.strip()
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
        simd = sorted(name for name, on in features.items() if on and name.startswith("AVX512"))
    except ImportError:
        simd = []
    return {"cpu": fields.get("model name", ""), "cpu_family": fields.get("cpu family", ""),
            "cpu_model": fields.get("model", ""), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "numpy_avx512": simd, "platform": platform.platform()}


def bench_simpy(n: int, posterior: bool, rounds: int = 5) -> dict:
    import numpy as np

    from sim.engine import run_replicate
    from sim.geography import load_geography
    from sim.model import Model
    from sim.parameters import NAMES, Params
    from sim.posterior import load_default_posterior
    from sim.randomness import draw_replicate
    from sim.scenario import load_scenario
    geo = load_geography()
    sc = load_scenario(BASELINE, geo)
    model = Model.build(geo, sc.events, sc.focus_regions, sc.end)
    post = load_default_posterior() if posterior else None
    # the table's values (fixed parameters), or the installed posterior's medians
    values = sc.parameters() if post is None else dict(zip(NAMES, np.median(post.rows, axis=0)))
    params = Params(sc.apply(values))
    all_draws = [draw_replicate(1, k, geo.n) for k in range(n)]
    run_replicate(model, params, all_draws[0], record_log=False)     # warm-up
    times, round_medians = [], []
    # several rounds, because a shared virtual machine's speed drifts by tens of percent over
    # minutes: the spread of the rounds' medians shows how much
    for _ in range(rounds):
        this_round = []
        for draws in all_draws:
            t0 = time.perf_counter()
            run_replicate(model, params, draws, record_log=False)
            this_round.append(time.perf_counter() - t0)
        times += this_round
        round_medians.append(statistics.median(this_round))
    tag = "posterior_median" if posterior else "fixed"
    return {f"simpy_replicate_ms_median_{tag}": 1000 * statistics.median(times),
            f"simpy_replicate_ms_p90_{tag}": 1000 * sorted(times)[int(0.9 * len(times))],
            f"simpy_replicate_ms_round_medians_min_{tag}": 1000 * min(round_medians),
            f"simpy_replicate_ms_round_medians_max_{tag}": 1000 * max(round_medians)}


def bench_batch(replicates: int, parameters, repeats: int = 3) -> dict:
    """Replicates per second of sim.run on one core (draws, engine and streamed summaries)."""
    import sim
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sim.run(BASELINE, replicates=replicates, seed=1, workers=1, keep_fall_times=False,
                parameters=parameters)
        times.append(time.perf_counter() - t0)
    tag = "fixed" if parameters == "fixed" else "posterior"
    return {f"batch_replicates_per_second_one_core_{tag}": replicates / statistics.median(times),
            f"batch_replicates_per_second_one_core_{tag}_range": [replicates / max(times),
                                                                  replicates / min(times)]}


def timed_cli(args: list[str]) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of an afsim command (the largest of its processes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0


def time_calibration(keep: Path | None = None) -> float:
    """Wall time of the default calibration; its output is kept in ``keep`` if given (so the timed
    run can be the one installed, instead of sampling twice)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = keep if keep is not None else Path(tmp) / "cal"
        wall, _ = timed_cli(["calibrate", str(ROOT / "calibration" / "default.toml"), "--quiet",
                             "--workers", "0", "--out", str(out)])
    return wall


def calibration_only(keep: Path | None = None) -> None:
    """The default calibration's wall time on all cores, added to the last full results (the
    other measures are kept as they were, with their own date)."""
    out = ROOT / "benchmarks" / "results.json"
    res = json.loads(out.read_text()) if out.is_file() else {"machine": machine()}
    res["default_calibration_wall_seconds"] = time_calibration(keep)
    res["default_calibration_measured"] = time.strftime("%Y-%m-%d %H:%M %Z")
    res["default_calibration_machine"] = machine()
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"default calibration, all cores: {res['default_calibration_wall_seconds']:.0f} s wall "
          f"({res['default_calibration_machine']['cpu']}, {res['default_calibration_machine']['cores']} "
          f"cores); written to {out}")


def forecasts_only(dates: list[str], keep: Path | None = None) -> None:
    """Each forecast's wall time on all cores, added to the last full results (the other measures
    kept as they were, with their own date); each output kept in ``keep/forecast-DATE`` if given."""
    out = ROOT / "benchmarks" / "results.json"
    res = json.loads(out.read_text()) if out.is_file() else {"machine": machine()}
    timed = res.setdefault("forecast_wall_seconds", {})
    for date in dates:
        with tempfile.TemporaryDirectory() as tmp:
            out_dir = keep / f"forecast-{date}" if keep is not None else Path(tmp) / "forecast"
            wall, _ = timed_cli(["forecast", "--as-of", date, "--quiet", "--workers", "0",
                                 "--out", str(out_dir), *(["--force"] if keep is not None else [])])
        timed[date] = {"wall_seconds": wall, "measured": time.strftime("%Y-%m-%d %H:%M %Z"),
                       "machine": machine()}
        print(f"forecast as of {date}, all cores: {wall:.0f} s wall ({timed[date]['machine']['cpu']}, "
              f"{timed[date]['machine']['cores']} cores)")
        out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"written to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", action="store_true", help="also time the default calibration")
    ap.add_argument("--simpy-runs", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    ap.add_argument("--keep-calibration", type=Path, default=None, metavar="DIR",
                    help="with --calibration-only: keep the timed calibration's output in DIR")
    ap.add_argument("--calibration-only", action="store_true",
                    help="time only the default calibration (all cores) and add it to results.json")
    ap.add_argument("--forecast", action="append", default=[], metavar="YYYY-MM-DD",
                    help="time only the default's forecast as of this date (all cores; repeatable) "
                         "and add it to results.json")
    ap.add_argument("--keep-forecasts", type=Path, default=None, metavar="DIR",
                    help="with --forecast: keep each timed forecast's output in DIR/forecast-DATE")
    args = ap.parse_args()
    if args.calibration_only:
        calibration_only(args.keep_calibration)
        return
    if args.forecast:
        forecasts_only(args.forecast, args.keep_forecasts)
        return
    res = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    for posterior in (False, True):
        res.update(bench_simpy(5 if args.quick else args.simpy_runs, posterior,
                               1 if args.quick else 5))
    res["batch_replicates"] = 1000 if args.quick else 10_000
    for parameters in ("fixed", None):
        res.update(bench_batch(res["batch_replicates"], parameters, 1 if args.quick else 5))
    with tempfile.TemporaryDirectory() as tmp:
        n = 1000 if args.quick else 10_000
        wall, _ = timed_cli(["run", str(BASELINE), "-n", str(n), "--workers", "0", "--quiet",
                             "--out", f"{tmp}/run10k"])
        res.update({"ensemble_replicates": n, "ensemble_wall_seconds_all_cores": wall})
        n = 2000 if args.quick else 100_000
        wall, peak = timed_cli(["run", str(BASELINE), "-n", str(n), "--workers", "1", "--quiet",
                                "--no-fall-times", "--out", f"{tmp}/run100k"])
        res.update({"large_ensemble_replicates": n, "large_ensemble_wall_seconds": wall,
                    "large_ensemble_peak_rss_mb": peak})
        if args.calibration:
            res["default_calibration_wall_seconds"] = time_calibration()
            res["default_calibration_measured"] = time.strftime("%Y-%m-%d %H:%M %Z")
            res["default_calibration_machine"] = machine()
    out = ROOT / "benchmarks" / ("results_quick.json" if args.quick else "results.json")
    if out.is_file():
        # the calibration's and the forecasts' timings, measured on their own (--calibration-only,
        # --forecast), each with its date and machine, stay unless this run measured them again
        previous = json.loads(out.read_text())
        res.update({k: v for k, v in previous.items() if k not in res and
                    (k.startswith("default_calibration") or k == "forecast_wall_seconds")})
    out.write_text(json.dumps(res, indent=2) + "\n")
    print("| measure | value |\n|---|---|")
    for key, value in res.items():
        if key != "machine" and not isinstance(value, dict):
            if isinstance(value, list):
                value = " to ".join(f"{v:.4g}" for v in value)
            print(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")
    print(f"\nmachine: {res['machine']}\nwritten to {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
