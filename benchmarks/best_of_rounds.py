"""Best-of-rounds timing of both engines, for comparing two checkouts on a noisy machine.

Run it in each checkout, one after the other (``PYTHONPATH=. python benchmarks/best_of_rounds.py
LABEL``): the best of 8 rounds is the figure least disturbed by other load; the medians of
``run_benchmarks.py`` are the figures to quote for one checkout.
"""

import sys
import time

import numpy as np

from sim.batch import run_batch
from sim.engine import run_replicate
from sim.geography import load_geography
from sim.model import Model
from sim.parameters import ParameterTable, Params
from sim.randomness import draw_batch, draw_replicate
from sim.scenario import load_scenario

geo = load_geography()
sc = load_scenario("scenarios/baseline.toml", geo)
model = Model.build(geo, sc.events, sc.focus_regions, sc.end)
params = Params(sc.parameters())
simpy_ms = []
for _ in range(8):
    t = time.perf_counter()
    for k in range(10):
        run_replicate(model, params, draw_replicate(1, k, model.n), record_log=False)
    simpy_ms.append((time.perf_counter() - t) / 10 * 1000)
table = ParameterTable.constant(sc.parameters(), 1000)
draws = draw_batch(1, range(1000), model.n)
per_second = []
for _ in range(8):
    t = time.perf_counter()
    run_batch(model, table, draws)
    per_second.append(1000 / (time.perf_counter() - t))
label = sys.argv[1] if len(sys.argv) > 1 else "this checkout"
print(f"{label}: SimPy replicate best {min(simpy_ms):.1f} ms (median {np.median(simpy_ms):.1f}); "
      f"batch best {max(per_second):.0f}/s (median {np.median(per_second):.0f}/s), 1,000 replicates")
