"""Per-call overhead of mlgate's timing loop against a bare ``time.perf_counter_ns`` loop.

For a function that does (almost) nothing, whatever a timing loop reports per call *is* its
overhead. Both loops run here, in the same process, on the same functions:

- bare: ``t0 = perf_counter_ns(); for _ in range(n): fn(); (perf_counter_ns() - t0) / n``
- mlgate: ``run_benchmark(fn).latency_p50_ms`` (and the mean), calibrated rounds, GC off
- naive (for context): a clock reading around every single call, median of those

The figure of merit is mlgate / bare; the goal is at most 1.5x. Medians of several repetitions.

Run: ``.venv/bin/python benchmarks/benchmark_overhead.py [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_mlgate.perf import BenchmarkOptions, run_benchmark


def noop() -> None:
    pass


def noop_arg(x: Any) -> None:
    pass


def bare_ns(fn: Callable[..., Any], args: tuple[Any, ...], n: int) -> float:
    """Per-call ns of a hand-written perf_counter_ns loop around n calls."""
    timer = time.perf_counter_ns
    t0 = timer()
    if args:
        for _ in range(n):
            fn(*args)
    else:
        for _ in range(n):
            fn()
    return (timer() - t0) / n


def naive_ns(fn: Callable[..., Any], args: tuple[Any, ...], n: int) -> float:
    """Median per-call ns when every call is wrapped in its own pair of clock readings."""
    timer = time.perf_counter_ns
    out = np.empty(n)
    for i in range(n):
        t0 = timer()
        fn(*args)
        out[i] = timer() - t0
    return float(np.median(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, shorter runs")
    ns = parser.parse_args()
    reps = 3 if ns.quick else 9
    n = 20_000 if ns.quick else 200_000
    options = BenchmarkOptions(max_time=0.05 if ns.quick else 0.3, memory=False)

    X = np.zeros((1, 30))
    cases: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
        ("noop()", noop, ()),
        ("noop(X)", noop_arg, (X,)),
    ]
    print(f"repetitions: {reps}; bare loop: {n} calls; mlgate: max_time={options.max_time}s")
    header = f"{'function':<10} {'bare ns':>9} {'mlgate p50':>11} {'mlgate mean':>12} "
    header += f"{'p50/bare':>9} {'mean/bare':>10} {'naive ns':>9} {'naive/bare':>11}"
    print(header)
    worst = 0.0
    for label, fn, args in cases:
        bare, p50, mean, naive = [], [], [], []
        for _ in range(reps):
            bare.append(bare_ns(fn, args, n))
            r = run_benchmark(fn, args, options=options)
            p50.append(r.latency_p50_ms * 1e6)
            mean.append(r.latency_mean_ms * 1e6)
            naive.append(naive_ns(fn, args, n // 10))
        b = statistics.median(bare)
        m50, mmean, nv = statistics.median(p50), statistics.median(mean), statistics.median(naive)
        worst = max(worst, m50 / b, mmean / b)
        print(
            f"{label:<10} {b:>9.1f} {m50:>11.1f} {mmean:>12.1f} "
            f"{m50 / b:>8.2f}x {mmean / b:>9.2f}x {nv:>9.1f} {nv / b:>10.2f}x"
        )

    # Fixed cost of one benchmark call (warm-up, calibration, clock overhead, memory passes).
    walls = [
        run_benchmark(noop, options=BenchmarkOptions(max_time=0.0, memory=True)).wall_time_s
        for _ in range(reps)
    ]
    print(f"fixed cost of run_benchmark(noop, max_time=0, memory=True): "
          f"{statistics.median(walls) * 1e3:.1f} ms")
    verdict = "within" if worst <= 1.5 else "ABOVE"
    print(f"worst mlgate/bare ratio: {worst:.2f}x ({verdict} the 1.5x goal)")
    return 0 if worst <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
