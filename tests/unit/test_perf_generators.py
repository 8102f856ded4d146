"""``run_benchmark`` of a function whose work happens lazily: a generator is consumed in every
call, so the timings are those of the work, not of creating the generator."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_mlgate.perf import BenchmarkOptions, run_benchmark

QUICK = BenchmarkOptions(min_rounds=3, max_rounds=5, max_time=0.0, memory=False)
WORK_S = 0.002


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class Stream:
    """A streaming predict: yields one result per batch; counts generators begun and ended."""

    def __init__(self) -> None:
        self.begun = 0
        self.ended = 0

    def predict_stream(self, batches: int) -> Iterator[int]:
        self.begun += 1
        for i in range(batches):
            _busy(WORK_S / batches)
            yield i
        self.ended += 1


def test_a_generator_function_is_consumed_in_every_call() -> None:
    stream = Stream()
    result = run_benchmark(stream.predict_stream, (4,), options=QUICK)
    calls = QUICK.warmup + result.rounds * result.calls_per_round
    assert stream.ended == stream.begun >= calls
    # Each call did the whole stream's work (a lower bound: a busy machine only adds to it).
    assert result.latency_p50_ms >= WORK_S * 1e3
    assert result.info["consumed"] == "generator function"


@pytest.mark.parametrize("warmup", [0, 2])
def test_a_function_returning_a_generator_is_consumed_too(warmup: int) -> None:
    stream = Stream()

    def lazy() -> Iterator[int]:
        return stream.predict_stream(2)  # not a generator function itself

    options = BenchmarkOptions(warmup=warmup, min_rounds=3, max_rounds=5, max_time=0.0, memory=False)
    result = run_benchmark(lazy, options=options)
    assert stream.ended == stream.begun >= result.rounds * result.calls_per_round
    assert result.latency_p50_ms >= WORK_S * 1e3
    assert result.info["consumed"] == "returned iterator"


def test_partial_of_a_generator_function_and_the_memory_pass_consume() -> None:
    stream = Stream()
    options = BenchmarkOptions(min_rounds=3, max_rounds=5, max_time=0.0, memory=True)
    result = run_benchmark(functools.partial(stream.predict_stream, 2), options=options)
    assert stream.ended == stream.begun > result.rounds
    assert result.peak_memory_mb is not None


def test_a_function_returning_a_list_is_timed_as_it_is() -> None:
    seen: list[Any] = []

    def eager() -> list[int]:
        _busy(WORK_S)
        out = [1, 2, 3]
        seen.append(out)
        return out

    result = run_benchmark(eager, options=QUICK)
    assert "consumed" not in result.info
    assert result.latency_p50_ms >= WORK_S * 1e3
