"""``run_benchmark``: latency percentiles, throughput and memory of one function, in one call."""

from __future__ import annotations

import gc
import inspect
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_mlgate.errors import BenchmarkError
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.perf.memory import MIB, peak_rss_bytes, peak_traced_bytes
from pytest_mlgate.perf.options import BenchmarkOptions
from pytest_mlgate.perf.timing import calibrate, make_round_timer, time_rounds, timer_overhead_ns

LEVEL = 0.95

# Reading name -> percentile of the per-call timings it reports.
PERCENTILES: dict[str, float] = {
    "latency_p50_ms": 50.0,
    "latency_p95_ms": 95.0,
    "latency_p99_ms": 99.0,
}
TIMING_READINGS: tuple[str, ...] = (
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "latency_max_ms",
    "throughput_rps",
)
MEMORY_READINGS: tuple[str, ...] = ("peak_memory_mb", "rss_peak_mb")


@dataclass(frozen=True, eq=False)
class BenchmarkResult:
    """Readings of one benchmark and the raw per-call timings they came from.

    ``readings`` holds latencies in ms, throughput in calls or rows per second and memory in
    MiB; ``timings_s`` one per-call time in seconds per round (round time / calls per round).
    Readings are also attributes (``result.latency_p95_ms``) and items (``result["..."]``).
    """

    readings: Mapping[str, float]
    timings_s: npt.NDArray[np.float64]
    rounds: int
    calls_per_round: int
    warmup: int
    rows_per_call: int | None
    threads: int | None
    gc_disabled: bool
    timer_overhead_ns: float
    wall_time_s: float
    info: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        try:
            return self.readings[name]
        except KeyError:
            raise KeyError(
                f"no benchmark reading named {name!r}; readings: {', '.join(self.readings)}"
            ) from None

    @property
    def latency_p50_ms(self) -> float:
        return self.readings["latency_p50_ms"]

    @property
    def latency_p95_ms(self) -> float:
        return self.readings["latency_p95_ms"]

    @property
    def latency_p99_ms(self) -> float:
        return self.readings["latency_p99_ms"]

    @property
    def latency_mean_ms(self) -> float:
        return self.readings["latency_mean_ms"]

    @property
    def latency_max_ms(self) -> float:
        return self.readings["latency_max_ms"]

    @property
    def throughput_rps(self) -> float:
        return self.readings["throughput_rps"]

    @property
    def peak_memory_mb(self) -> float | None:
        """Peak traced allocation in MiB, None when memory was not measured."""
        return self.readings.get("peak_memory_mb")

    @property
    def rss_peak_mb(self) -> float | None:
        """Peak process resident set size in MiB, None when memory was not measured."""
        return self.readings.get("rss_peak_mb")

    def samples(self) -> dict[str, npt.NDArray[np.float64]]:
        """Raw data a later regression comparison needs: per-call timings in seconds."""
        return {"timings_s": self.timings_s}

    def measurements(self) -> list[Measurement]:
        """One Measurement per reading, method "benchmark", with units and conditions in info."""
        common: dict[str, Any] = {
            "calls_per_round": self.calls_per_round,
            "rounds": self.rounds,
            "warmup": self.warmup,
            "threads": self.threads,
            "gc_disabled": self.gc_disabled,
            **self.info,
        }
        if self.rows_per_call is not None:
            common["rows_per_call"] = self.rows_per_call
        t = np.sort(self.timings_s)
        n = len(t)
        out: list[Measurement] = []
        for name, q in PERCENTILES.items():
            lo, hi = quantile_interval(t, q / 100.0, LEVEL)
            out.append(
                Measurement(
                    name, self.readings[name],
                    low=None if lo is None else lo * 1e3,
                    high=None if hi is None else hi * 1e3,
                    level=LEVEL if lo is not None else None,
                    n=n, method="benchmark",
                    info={**common, "units": "ms", "interval": "order statistics"},
                )
            )  # fmt: skip
        mlo, mhi = mean_interval(t, LEVEL)
        out.append(
            Measurement(
                "latency_mean_ms", self.readings["latency_mean_ms"],
                low=None if mlo is None else mlo * 1e3,
                high=None if mhi is None else mhi * 1e3,
                level=LEVEL if mlo is not None else None,
                n=n, method="benchmark",
                info={**common, "units": "ms", "interval": "t"},
            )
        )  # fmt: skip
        out.append(
            Measurement(
                "latency_max_ms", self.readings["latency_max_ms"], n=n, method="benchmark",
                info={**common, "units": "ms"},
            )
        )  # fmt: skip
        per_call = self.rows_per_call or 1
        tlo = thi = None
        if mlo is not None and mhi is not None and mlo > 0:
            tlo, thi = per_call / mhi, per_call / mlo
        out.append(
            Measurement(
                "throughput_rps", self.readings["throughput_rps"], low=tlo, high=thi,
                level=LEVEL if tlo is not None else None, n=n, method="benchmark",
                info={**common, "units": "rows/s" if self.rows_per_call else "calls/s"},
            )
        )  # fmt: skip
        for name in MEMORY_READINGS:
            if name in self.readings:
                out.append(
                    Measurement(
                        name, self.readings[name], n=1, method="benchmark",
                        info={**common, "units": "MiB"},
                    )
                )  # fmt: skip
        return out


def quantile_interval(
    sorted_t: npt.NDArray[np.float64], q: float, level: float
) -> tuple[float | None, float | None]:
    """Distribution-free interval for the q-quantile from order statistics (binomial ranks).

    (None, None) when there are too few values for the requested level (e.g. p99 of 20 rounds).
    """
    from scipy.stats import binom

    n = len(sorted_t)
    if n == 0:
        return None, None
    tail = (1.0 - level) / 2.0
    j = np.arange(1, n + 1)
    # P(X_(j) <= Q) = P(Binomial(n, q) >= j) = 1 - cdf(j - 1).
    below = binom.cdf(j - 1, n, q)
    lows = j[below <= tail]
    highs = j[1.0 - below <= tail]
    if len(lows) == 0 or len(highs) == 0:
        return None, None
    return float(sorted_t[lows[-1] - 1]), float(sorted_t[highs[0] - 1])


def mean_interval(t: npt.NDArray[np.float64], level: float) -> tuple[float | None, float | None]:
    """Student-t interval for the mean per-call time (seconds)."""
    from scipy.stats import t as student

    n = len(t)
    if n < 2:
        return None, None
    m = float(np.mean(t))
    half = float(student.ppf(0.5 + level / 2.0, n - 1)) * float(np.std(t, ddof=1)) / n**0.5
    return m - half, m + half


@contextmanager
def _gc_off(disable: bool) -> Iterator[None]:
    was_enabled = gc.isenabled()
    if disable and was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if disable and was_enabled:
            gc.enable()


@contextmanager
def _thread_limits(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def _rows_per_call(args: tuple[Any, ...], options: BenchmarkOptions) -> int | None:
    if options.batch_size is not None:
        return options.batch_size
    if not options.rows:
        return None
    if not args:
        raise BenchmarkError(
            "benchmark option rows=True counts rows as len(first argument), but the function is "
            "called without arguments; pass the batch as the first argument or give batch_size"
        )
    try:
        n = len(args[0])
    except TypeError:
        raise BenchmarkError(
            f"benchmark option rows=True counts rows as len(first argument), but the first "
            f"argument ({type(args[0]).__name__}) has no length; give batch_size=<rows per call>"
        ) from None
    if n < 1:
        raise BenchmarkError(
            "benchmark option rows=True: the first argument is empty (0 rows); benchmark a "
            "non-empty batch"
        )
    return n


def _short_repr(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_fn(fn: object) -> None:
    if not callable(fn):
        raise BenchmarkError(
            f"benchmark: the first argument must be the function to time (for example "
            f"model.predict), got {type(fn).__name__} {_short_repr(fn)}, which is not callable; write "
            f"benchmark(model.predict, X), not benchmark(model.predict(X))"
        )
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise BenchmarkError(
            f"benchmark: {getattr(fn, '__qualname__', fn)!r} is an async function; calling it "
            f"only creates a coroutine. Benchmark a synchronous wrapper, e.g. "
            f"lambda: asyncio.run(fn())"
        )


def _consuming(fn: Callable[..., Any]) -> Callable[..., None]:
    """``fn`` whose returned generator (or other iterator) is run to its end in every call."""

    def consumed(*args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True
        deque(fn(*args, **kwargs), maxlen=0)

    return consumed


def _first_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
                info: dict[str, Any]) -> Callable[..., Any]:
    """Make the first (untimed) call and return what to time: ``fn`` itself, or ``fn`` with its
    result consumed when that is a generator or another iterator, whose work only happens as it
    is iterated (timing the call alone would time creating it)."""
    __tracebackhide__ = True
    if inspect.isgeneratorfunction(fn):
        info["consumed"] = "generator function"
        target = _consuming(fn)
        target(*args, **kwargs)
        return target
    first = fn(*args, **kwargs)
    if isinstance(first, Iterator):
        info["consumed"] = "returned iterator"
        deque(first, maxlen=0)
        return _consuming(fn)
    return fn


def run_benchmark(
    fn: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: BenchmarkOptions = BenchmarkOptions(),  # noqa: B008 - frozen, so sharing is safe
) -> BenchmarkResult:
    """Time ``fn(*args, **kwargs)`` and read its latency (ms), throughput and memory (MiB).

    Order: warm-up calls, calibration of calls per round, timed rounds (GC off when asked),
    then the memory passes (tracemalloc, then RSS). Thread pools are pinned throughout. An
    exception raised by ``fn`` propagates unchanged.
    """
    __tracebackhide__ = True
    _check_fn(fn)
    if not isinstance(options, BenchmarkOptions):
        raise BenchmarkError(
            f"benchmark: options must be a BenchmarkOptions, got {type(options).__name__}"
        )
    kwargs = dict(kwargs or {})
    args = tuple(args)
    rows_per_call = _rows_per_call(args, options)
    target = fn

    def call_once() -> Any:
        __tracebackhide__ = True
        return target(*args, **kwargs)

    import tracemalloc

    # Tracing slows every allocation; say so when someone else left it on during timing.
    info: dict[str, Any] = {
        "timer": "perf_counter_ns",
        "tracemalloc_during_timing": tracemalloc.is_tracing(),
    }
    started = time.perf_counter()
    with _thread_limits(options.threads):
        with _gc_off(options.disable_gc):
            # The first warm-up call (with warmup=0, one untimed call) shows whether fn's
            # work is lazy; from then on every call runs it to the end.
            target = _first_call(fn, args, kwargs, info)
            for _ in range(options.warmup - 1):
                call_once()
            loop = make_round_timer(target, args, kwargs)
            overhead = timer_overhead_ns()
            k = calibrate(loop, options.min_round_time * 1e9)
            timings = time_rounds(
                loop, k,
                min_rounds=options.min_rounds, max_rounds=options.max_rounds,
                max_time_s=options.max_time, overhead_ns=overhead,
            )  # fmt: skip
        memory: dict[str, float] = {}
        if options.memory:
            # With the collector in its normal state, as the function would run in production.
            traced, _ = peak_traced_bytes(call_once)
            rss, rss_method = peak_rss_bytes(call_once)
            memory = {"peak_memory_mb": traced / MIB, "rss_peak_mb": rss / MIB}
            info["rss_method"] = rss_method
    timings.setflags(write=False)
    mean_s = float(np.mean(timings))
    p50, p95, p99 = np.percentile(timings, [50.0, 95.0, 99.0])
    readings: dict[str, float] = {
        "latency_p50_ms": float(p50) * 1e3,
        "latency_p95_ms": float(p95) * 1e3,
        "latency_p99_ms": float(p99) * 1e3,
        "latency_mean_ms": mean_s * 1e3,
        "latency_max_ms": float(np.max(timings)) * 1e3,
        "throughput_rps": (rows_per_call or 1) / mean_s if mean_s > 0 else float("inf"),
        **memory,
    }
    return BenchmarkResult(
        readings=readings,
        timings_s=timings,
        rounds=len(timings),
        calls_per_round=k,
        warmup=options.warmup,
        rows_per_call=rows_per_call,
        threads=options.threads,
        gc_disabled=options.disable_gc,
        timer_overhead_ns=overhead,
        wall_time_s=time.perf_counter() - started,
        info=info,
    )
