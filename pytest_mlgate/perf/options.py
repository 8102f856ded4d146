"""Benchmark options: how many calls to time, for how long, and under which conditions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_mlgate.errors import BenchmarkError
from pytest_mlgate.settings import BENCHMARK_MAX_TIME_S, BENCHMARK_MIN_ROUNDS, BENCHMARK_WARMUP

# The fields of BenchmarkOptions. A caller that mixes options and the timed function's keywords
# in one call (as ``mlgate.benchmark`` does) can split them with this set; a function that needs
# one of these names as its own keyword must then be wrapped with functools.partial.
OPTION_NAMES: frozenset[str] = frozenset(
    {
        "warmup",
        "min_rounds",
        "max_rounds",
        "max_time",
        "min_round_time",
        "disable_gc",
        "threads",
        "rows",
        "batch_size",
        "memory",
    }
)


def _check_int(name: str, value: object, minimum: int, hint: str) -> None:
    # bool is an int subclass; ``warmup=True`` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchmarkError(
            f"benchmark option {name} must be an integer >= {minimum}, got {value!r} "
            f"({type(value).__name__}); {hint}"
        )
    if value < minimum:
        raise BenchmarkError(f"benchmark option {name} must be >= {minimum}, got {value}; {hint}")


def _check_seconds(name: str, value: object, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BenchmarkError(
            f"benchmark option {name} must be a number of seconds, got {value!r} "
            f"({type(value).__name__}); {hint}"
        )
    if not math.isfinite(value) or value < 0:
        raise BenchmarkError(
            f"benchmark option {name} must be a finite number of seconds >= 0, "
            f"got {value!r}; {hint}"
        )


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise BenchmarkError(
            f"benchmark option {name} must be True or False, got {value!r} ({type(value).__name__})"
        )


@dataclass(frozen=True)
class BenchmarkOptions:
    """How ``run_benchmark`` times a function.

    - ``warmup``: untimed calls before anything is measured (caches, lazy imports, JIT-like
      first-call costs).
    - ``min_rounds``/``max_rounds``: bounds on the number of timed rounds.
    - ``max_time``: seconds of timed rounds; rounds continue until this budget is spent (but at
      least ``min_rounds``, at most ``max_rounds``). Warm-up, calibration and the memory pass
      come on top.
    - ``min_round_time``: seconds a round lasts at least; a faster function is called ``k``
      times per round and the per-call time is the round time divided by ``k``.
    - ``disable_gc``: keep the cyclic garbage collector off while timing, so a collection
      triggered by earlier garbage is not charged to one unlucky call.
    - ``threads``: BLAS/OpenMP thread pools are limited to this many threads (threadpoolctl)
      for the whole benchmark; ``None`` leaves them alone.
    - ``rows``/``batch_size``: throughput in rows per second, rows per call being
      ``batch_size`` or else ``len(first argument)``; otherwise calls per second.
    - ``memory``: also measure peak traced allocation and peak resident memory, in separate
      passes after timing so tracing overhead is not charged to the timings.
    """

    warmup: int = BENCHMARK_WARMUP
    min_rounds: int = BENCHMARK_MIN_ROUNDS
    max_time: float = BENCHMARK_MAX_TIME_S
    min_round_time: float = 20e-6
    disable_gc: bool = True
    threads: int | None = 1
    rows: bool = False
    batch_size: int | None = None
    memory: bool = True
    max_rounds: int = 1000

    def __post_init__(self) -> None:
        _check_int("warmup", self.warmup, 0, "use 0 for no warm-up calls")
        _check_int(
            "min_rounds", self.min_rounds, 1, "at least one timed round is needed to read a latency"
        )
        _check_int("max_rounds", self.max_rounds, 1, "it caps the number of timed rounds")
        if self.max_rounds < self.min_rounds:
            raise BenchmarkError(
                f"benchmark option max_rounds ({self.max_rounds}) is smaller than min_rounds "
                f"({self.min_rounds}); raise max_rounds or lower min_rounds"
            )
        _check_seconds(
            "max_time", self.max_time, "it is the time budget of the timed rounds, e.g. 1.0"
        )
        _check_seconds(
            "min_round_time",
            self.min_round_time,
            "it is the shortest duration of one timed round, e.g. 20e-6",
        )
        _check_bool("disable_gc", self.disable_gc)
        _check_bool("rows", self.rows)
        _check_bool("memory", self.memory)
        if self.threads is not None:
            _check_int(
                "threads", self.threads, 1, "use None to leave BLAS/OpenMP thread pools alone"
            )
        if self.batch_size is not None:
            _check_int(
                "batch_size", self.batch_size, 1, "it is the number of rows one call processes"
            )
