"""Scale: the batch engine equals the SimPy engine on every shipped scenario; worker counts and a
Dask cluster give bit-identical results; huge ensembles keep only what they were asked to."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import sim
from sim.errors import UserError
from sim.results import FALL_TIMES_LIMIT

from conftest import BASELINE, SCENARIOS

SHIPPED = sorted(SCENARIOS.glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_batch_engine_equals_simpy_engine_on_every_shipped_scenario(geo, path):
    a = sim.run(path, replicates=6, seed=21, engine="simpy", geo=geo)
    b = sim.run(path, replicates=6, seed=21, engine="batch", geo=geo)
    np.testing.assert_allclose(b.fall_time, a.fall_time, rtol=0, atol=1e-8, equal_nan=True)
    assert np.array_equal(a.mode, b.mode)


def test_one_and_two_workers_give_bit_identical_outputs(geo, tmp_path):
    one = sim.run(BASELINE, replicates=300, seed=8, workers=1, chunk_size=50, geo=geo)
    two = sim.run(BASELINE, replicates=300, seed=8, workers=2, chunk_size=50, geo=geo)
    assert np.array_equal(one.fall_time, two.fall_time, equal_nan=True)
    one.write_into(tmp_path / "one", plots=False)
    two.write_into(tmp_path / "two", plots=False)
    for name in ("districts.csv", "capitals.csv", "daily.csv", "summary.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_a_dask_cluster_gives_the_local_results(geo):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = sim.run(BASELINE, replicates=120, seed=13, chunk_size=40, geo=geo,
                         scheduler=cluster.scheduler_address)
    local = sim.run(BASELINE, replicates=120, seed=13, chunk_size=40, geo=geo)
    assert np.array_equal(remote.fall_time, local.fall_time, equal_nan=True)
    assert np.array_equal(remote.mode, local.mode)


def test_an_unreachable_scheduler_is_a_clean_error(geo):
    pytest.importorskip("distributed")
    with pytest.raises(UserError, match="Dask scheduler"):
        sim.run(BASELINE, replicates=10, seed=1, geo=geo, scheduler="tcp://127.0.0.1:9")


def test_streamed_summaries_equal_those_from_the_full_fall_times(geo):
    full = sim.run(BASELINE, replicates=200, seed=4, geo=geo)
    lean = sim.run(BASELINE, replicates=200, seed=4, geo=geo, keep_fall_times=False)
    assert lean.fall_time is None
    assert lean.districts() == full.districts()
    assert lean.capitals() == full.capitals()
    assert lean.daily() == full.daily()
    # the streamed day-level quantiles are the calendar days of the continuous sample quantiles
    ft = np.where(np.isnan(full.fall_time), np.inf, full.fall_time)
    q = np.quantile(ft, 0.5, axis=0, method="inverted_cdf")
    assert np.array_equal(np.floor(q), full.summary.fall_day_quantile(0.5))


def test_above_the_limit_fall_times_need_an_explicit_choice(geo):
    with pytest.raises(UserError, match="keep_fall_times=False"):
        sim.run(BASELINE, replicates=FALL_TIMES_LIMIT + 1, seed=1, geo=geo)


def test_streamed_probability_of_falling_matches_the_fall_times_at_every_date(geo):
    res = sim.run(BASELINE, replicates=40, seed=6, parameters="fixed", geo=geo)
    for date in (dt.date(2021, 4, 1), dt.date(2021, 4, 30), dt.date(2021, 5, 1),
                 dt.date(2021, 7, 15), dt.date(2021, 12, 31)):
        day = (date - dt.date(2021, 5, 1)).days
        direct = (res.fall_time < day + 1).mean(axis=0)      # fallen by the end of that day
        np.testing.assert_allclose(res.summary.p_fallen_by(date), direct, err_msg=str(date))
