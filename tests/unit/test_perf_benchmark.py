"""run_benchmark: readings that agree with known costs, options, exceptions, GC and threads."""

from __future__ import annotations

import asyncio
import gc
import json
import time

import numpy as np
import psutil
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from pytest_mlgate.errors import BenchmarkError
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.perf import (
    MEMORY_READINGS,
    OPTION_NAMES,
    TIMING_READINGS,
    BenchmarkOptions,
    run_benchmark,
)

QUICK = BenchmarkOptions(max_time=0.05, memory=False)


def noop() -> None:
    pass


# --- readings agree with known costs -------------------------------------------------------


@pytest.mark.serial
def test_sleep_2ms_reads_p50_between_2_and_2_6_ms() -> None:
    result = run_benchmark(
        time.sleep, (0.002,), options=BenchmarkOptions(max_time=0.2, memory=False)
    )
    assert 2.0 <= result.latency_p50_ms <= 2.6
    # A 2 ms call is far above the minimum round time: one call per round.
    assert result.calls_per_round == 1
    assert result.latency_max_ms >= result.latency_p99_ms >= result.latency_p95_ms >= 2.0


def test_100_mib_allocation_reads_peak_memory_within_10_percent() -> None:
    n = 100 * 2**20 // 8
    result = run_benchmark(
        np.ones, (n,), options=BenchmarkOptions(warmup=0, min_rounds=2, max_time=0.0)
    )
    assert result.peak_memory_mb is not None
    assert 90.0 <= result.peak_memory_mb <= 110.0


@pytest.mark.serial
def test_noop_reads_under_5_microseconds_because_calls_are_batched() -> None:
    result = run_benchmark(noop, options=BenchmarkOptions(max_time=0.05, memory=False))
    assert result.latency_p50_ms < 5e-3
    # The no-op is far faster than one round: calibration batched many calls per round.
    assert result.calls_per_round > 10
    assert result.calls_per_round * result.latency_p50_ms / 1e3 >= 0.5 * 20e-6


def test_rss_peak_sees_memory_held_during_the_call() -> None:
    before_mb = psutil.Process().memory_info().rss / 2**20

    def hold_200_mib() -> None:
        a = np.ones(200 * 2**20 // 8)
        time.sleep(0.03)  # releases the GIL: the sampler gets to look
        del a

    result = run_benchmark(
        hold_200_mib, options=BenchmarkOptions(warmup=0, min_rounds=1, max_time=0.0)
    )
    assert result.rss_peak_mb is not None
    assert result.rss_peak_mb >= before_mb + 150


# --- the result object ---------------------------------------------------------------------


def test_result_holds_readings_raw_timings_and_measurements() -> None:
    result = run_benchmark(sum, ([1, 2, 3],), options=BenchmarkOptions(max_time=0.05))
    assert set(result.readings) == set(TIMING_READINGS) | set(MEMORY_READINGS)
    assert result["latency_p95_ms"] == result.latency_p95_ms
    assert len(result.timings_s) == result.rounds >= 20
    assert result.latency_p50_ms == pytest.approx(np.median(result.timings_s) * 1e3)
    assert result.latency_mean_ms == pytest.approx(np.mean(result.timings_s) * 1e3)
    assert result.throughput_rps == pytest.approx(1.0 / np.mean(result.timings_s))
    with pytest.raises(KeyError, match="latency_p95_ms"):
        result["latency_p95"]
    with pytest.raises(ValueError):
        result.timings_s[0] = 0.0  # raw timings are read-only
    np.testing.assert_array_equal(result.samples()["timings_s"], result.timings_s)

    measurements = result.measurements()
    assert {m.name for m in measurements} == set(result.readings)
    by_name = {m.name: m for m in measurements}
    p50 = by_name["latency_p50_ms"]
    assert p50.method == "benchmark" and p50.n == result.rounds
    assert p50.info["units"] == "ms" and p50.info["calls_per_round"] == result.calls_per_round
    assert p50.low is not None and p50.high is not None
    assert p50.low <= p50.value <= p50.high
    assert by_name["throughput_rps"].info["units"] == "calls/s"
    assert by_name["peak_memory_mb"].info["units"] == "MiB"
    # Measurements ride on pytest reports between xdist workers: they must be JSON-safe.
    for m in measurements:
        assert Measurement.from_json(json.loads(json.dumps(m.to_json()))) == m


def test_rounds_respect_min_rounds_and_max_rounds() -> None:
    at_least = run_benchmark(
        noop, options=BenchmarkOptions(min_rounds=7, max_time=0.0, memory=False)
    )
    assert at_least.rounds == 7
    capped = run_benchmark(
        noop, options=BenchmarkOptions(min_rounds=5, max_rounds=50, max_time=10.0, memory=False)
    )
    assert capped.rounds == 50  # the 10 s budget is not spent: the cap stops it


def test_memory_false_skips_memory_readings() -> None:
    result = run_benchmark(noop, options=QUICK)
    assert result.peak_memory_mb is None and result.rss_peak_mb is None
    assert not {m.name for m in result.measurements()} & set(MEMORY_READINGS)


def test_args_and_kwargs_reach_the_function() -> None:
    seen: list[tuple[int, str]] = []

    def fn(a: int, *, label: str) -> None:
        seen.append((a, label))

    run_benchmark(fn, (3,), {"label": "x"}, options=QUICK)
    assert seen and set(seen) == {(3, "x")}


def test_throughput_in_rows_per_second() -> None:
    X = np.zeros((50, 3))
    by_len = run_benchmark(
        np.sum, (X,), options=BenchmarkOptions(max_time=0.05, rows=True, memory=False)
    )
    assert by_len.rows_per_call == 50
    assert by_len.throughput_rps == pytest.approx(50 / np.mean(by_len.timings_s))
    by_batch = run_benchmark(
        np.sum, (X,), options=BenchmarkOptions(max_time=0.05, batch_size=10, memory=False)
    )
    assert by_batch.rows_per_call == 10
    units = {m.name: m.info["units"] for m in by_batch.measurements()}
    assert units["throughput_rps"] == "rows/s"


def test_real_model_single_row_and_batch_latency() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    one = run_benchmark(
        model.predict, (X[:1],), options=BenchmarkOptions(max_time=0.1, memory=False)
    )
    batch = run_benchmark(
        model.predict, (X,), options=BenchmarkOptions(max_time=0.1, rows=True, memory=False)
    )
    # Per-call overhead dominates one-row predictions: a batch serves far more rows per second.
    assert batch.rows_per_call == len(X)
    assert batch.throughput_rps > 10 * one.throughput_rps
    assert one.latency_p50_ms > 0


# --- conditions: GC and thread pools -------------------------------------------------------


def test_gc_is_disabled_while_timing_and_restored_after() -> None:
    states: list[bool] = []
    run_benchmark(lambda: states.append(gc.isenabled()), options=QUICK)
    assert states and not any(states)
    assert gc.isenabled()

    states.clear()
    run_benchmark(
        lambda: states.append(gc.isenabled()),
        options=BenchmarkOptions(max_time=0.01, memory=False, disable_gc=False),
    )
    assert states and all(states)


def _pool_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info()]


def test_thread_pools_are_pinned_during_the_call_and_restored_after() -> None:
    before = _pool_threads()
    seen: list[list[int]] = []
    run_benchmark(
        lambda: seen.append(_pool_threads()),
        options=BenchmarkOptions(max_time=0.0, min_rounds=1, min_round_time=0.0, threads=1),
    )
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert _pool_threads() == before

    seen.clear()
    run_benchmark(
        lambda: seen.append(_pool_threads()),
        options=BenchmarkOptions(
            max_time=0.0, min_rounds=1, min_round_time=0.0, threads=None, memory=False
        ),
    )
    assert seen and all(threads == before for threads in seen)


# --- errors --------------------------------------------------------------------------------


def test_exception_of_the_function_propagates_unchanged_and_state_is_restored() -> None:
    error = ZeroDivisionError("model blew up")
    calls = 0
    before = _pool_threads()

    def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 5:  # after warm-up, during timing
            raise error

    with pytest.raises(ZeroDivisionError) as excinfo:
        run_benchmark(flaky, options=BenchmarkOptions(threads=1))
    assert excinfo.value is error
    assert gc.isenabled()
    assert _pool_threads() == before


def test_not_callable_is_a_clear_error() -> None:
    X = np.zeros((3, 2))
    with pytest.raises(BenchmarkError, match=r"not callable.*benchmark\(model.predict, X\)"):
        run_benchmark(X)  # type: ignore[arg-type]


def test_async_function_is_rejected() -> None:
    async def handler() -> None:
        await asyncio.sleep(0)

    with pytest.raises(BenchmarkError, match="async"):
        run_benchmark(handler)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_rounds": 0}, "min_rounds must be >= 1, got 0"),
        ({"min_rounds": -3}, "min_rounds must be >= 1, got -3"),
        ({"max_time": -1.0}, "max_time must be a finite number of seconds >= 0"),
        ({"max_time": float("nan")}, "max_time must be a finite number of seconds >= 0"),
        ({"max_time": "1s"}, "max_time must be a number of seconds, got '1s'"),
        ({"min_round_time": -1e-6}, "min_round_time must be a finite number"),
        ({"warmup": -1}, "warmup must be >= 0"),
        ({"warmup": True}, "warmup must be an integer"),
        ({"threads": 0}, "threads must be >= 1.*None to leave"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"max_rounds": 10, "min_rounds": 20}, "max_rounds .10. is smaller than min_rounds .20."),
        ({"memory": "yes"}, "memory must be True or False"),
    ],
)
def test_invalid_options_are_rejected_with_the_option_named(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(BenchmarkError, match=message):
        BenchmarkOptions(**overrides)  # type: ignore[arg-type]


def test_rows_without_a_sized_first_argument_is_a_clear_error() -> None:
    with pytest.raises(BenchmarkError, match="without arguments"):
        run_benchmark(noop, options=BenchmarkOptions(rows=True))
    with pytest.raises(BenchmarkError, match=r"has no length.*batch_size"):
        run_benchmark(abs, (3,), options=BenchmarkOptions(rows=True))


def test_option_names_match_the_options_fields() -> None:
    import dataclasses

    assert {f.name for f in dataclasses.fields(BenchmarkOptions)} == OPTION_NAMES
