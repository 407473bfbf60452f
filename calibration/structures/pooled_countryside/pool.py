"""The default's calibration with the cities fitted on the countryside's posterior pooled over
three calibration seeds.

Why: the broken chain moves with the calibration seed, and ``../cross_stages`` measured that it
moves most with the countryside's stage, whose seeds settle on different stretches of the
contagion's ridge (each seed's common random numbers make its own slice of the simulated
likelihood). Fitting the cities on the union of those slices asks whether the cities' split
between the forces freed and the cascade then stops depending on the seed.

Run from the project folder: ``python calibration/structures/pooled_countryside/pool.py
CITY_SEED OUT [--cities-replicates N] [--cities-sampler-seed S] [--cities-walkers W]
[--cache DIR]``. The countryside's stage is run exactly as the calibrations with seeds
20210815, 11 and 7 run it (each its likelihood's random numbers and its sampler; each about
three minutes on two cores, kept in DIR, by default ``/tmp/pooled_countryside``, so a second
CITY_SEED reuses them), and its walkers are pooled (3 x 32); everything after it runs as the
calibration with CITY_SEED does, on the cities' stage's replicates of the default's configuration
(128) or N; with S, the cities' sampler (its mode search and moves) is the calibration with seed
S's, their likelihood's random numbers and carried countryside draws still CITY_SEED's; with W,
the cities' stage runs W walkers (the mode search's population at least W, the thinning scaled so
that it keeps as many draws). Not part of the package: it swaps ``sim.calibrate``'s
``run_stage`` for the countryside's stage only."""
import argparse
import dataclasses
import importlib
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
cal = importlib.import_module("sim.calibrate")
from sim.calibration_config import load_config  # noqa: E402
from sim.calibration_output import write_calibration  # noqa: E402
from sim.ensemble import resolve_workers  # noqa: E402
from sim.geography import load_geography  # noqa: E402

RURAL_SEEDS = (20210815, 11, 7)


def rural_stage(cfg, geo, seed, workers, cache: Path):
    """The countryside's stage of the calibration with ``seed``: that calibration cut after its
    first stage, so exactly what ``calibrate`` runs (its random numbers, its sampler's seed)."""
    path = cache / f"rural_{seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    t = time.perf_counter()
    result = cal.calibrate(dataclasses.replace(cfg, seed=seed, stages=cfg.stages[:1]),
                           workers=workers, geo=geo, progress=True).stages[0]
    print(f"countryside seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(result))
    return result


def pooled(results):
    """One stage result whose walkers are all the seeds' walkers, side by side."""
    first = results[0]
    return dataclasses.replace(
        first, chain=np.concatenate([r.chain for r in results], axis=1),
        log_prob=np.concatenate([r.log_prob for r in results], axis=1),
        acceptance=float(np.mean([r.acceptance for r in results])),
        seconds=float(sum(r.seconds for r in results)),
        evaluations=int(sum(r.evaluations for r in results)),
        note=f"the countryside's stages of seeds {', '.join(map(str, RURAL_SEEDS))}, pooled")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("city_seed", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--cities-replicates", type=int, default=None)
    ap.add_argument("--cities-sampler-seed", type=int, default=None)
    ap.add_argument("--cities-walkers", type=int, default=None)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/pooled_countryside"))
    args = ap.parse_args()
    city_seed, out, cache = args.city_seed, args.out, args.cache
    geo = load_geography()
    cfg = load_config(ROOT / "calibration" / "default.toml", geo.theatre)
    if args.cities_replicates:
        cfg = dataclasses.replace(cfg, stages=tuple(
            s if s.name == "rural" else dataclasses.replace(s, replicates=args.cities_replicates)
            for s in cfg.stages))
    workers = resolve_workers(0)
    t = time.perf_counter()
    countryside = pooled([rural_stage(cfg, geo, s, workers, cache) for s in RURAL_SEEDS])
    orig_run = cal.run_stage

    def run_stage(evaluator, settings, stage, seed, *a, **k):
        if stage.name == "rural":
            return countryside
        if args.cities_sampler_seed is not None:
            seed = args.cities_sampler_seed + 101 * 2      # what calibrate gives the second stage
        if args.cities_walkers:
            w = args.cities_walkers
            settings = dataclasses.replace(
                settings, walkers=w, initial_design=max(settings.initial_design, w),
                thin=max(1, round(settings.thin * w / settings.walkers)))
        return orig_run(evaluator, settings, stage, seed, *a, **k)

    cal.run_stage = run_stage
    t2 = time.perf_counter()
    res = cal.calibrate(dataclasses.replace(cfg, seed=city_seed), workers=workers, geo=geo)
    write_calibration(res, out, workers=workers)
    print(f"seconds: all {time.perf_counter() - t:.0f}, after the countryside "
          f"{time.perf_counter() - t2:.0f}", flush=True)


if __name__ == "__main__":
    main()
