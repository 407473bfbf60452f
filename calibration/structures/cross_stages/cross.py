"""The default's calibration with its two stages from different seeds: the countryside's stage
from one (its likelihood's random numbers and its sampler), the cities' stage from another (its
random numbers, which countryside draws its replicates carry, its sampler, the lift).

Run from the project folder: ``python calibration/structures/cross_stages/cross.py RURAL_SEED
CITY_SEED OUT`` (about 5-6 minutes on two cores). ``11 20210815`` and ``20210815 11`` give the
posteriors in this folder. Not part of the package: it swaps ``sim.calibrate``'s
``draw_batch`` and ``run_stage`` for the countryside's stage only, so that stage is exactly the
calibration with RURAL_SEED's (its fit report shows that seed's countryside to the digit)."""
import sys, dataclasses, time, importlib
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
cal = importlib.import_module("sim.calibrate")
from sim.calibration_config import load_config
from sim.calibration_output import write_calibration
from sim.ensemble import resolve_workers
from sim.geography import load_geography
rural_seed, city_seed, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
geo = load_geography()
cfg = load_config(ROOT / 'calibration' / 'default.toml', geo.theatre)
R_RURAL = next(s.replicates for s in cfg.stages if s.name == "rural")
orig_draws, orig_run = cal.draw_batch, cal.run_stage
def draws(seed, replicates, n):
    return orig_draws(rural_seed if len(replicates) == R_RURAL else seed, replicates, n)
def run_stage(evaluator, settings, stage, seed, *a, **k):
    if stage.name == "rural":
        seed = rural_seed + 101          # what calibrate gives the first stage's sampler
    return orig_run(evaluator, settings, stage, seed, *a, **k)
cal.draw_batch, cal.run_stage = draws, run_stage
cfg = dataclasses.replace(cfg, seed=city_seed)
w = resolve_workers(0)
t = time.perf_counter()
res = cal.calibrate(cfg, workers=w, geo=geo)
rep = write_calibration(res, out, workers=w)
print("seconds", time.perf_counter() - t)
