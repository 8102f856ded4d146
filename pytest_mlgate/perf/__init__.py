"""The performance gate's measurements: latency, throughput, memory, model size, regressions.

Plain Python (no pytest): the ``mlgate`` fixture calls ``run_benchmark`` and ``measure_size``
and ``verdicts`` calls ``compare_performance`` against the baseline, in the process that ran
the test.
"""

from __future__ import annotations

from pytest_mlgate.perf.benchmark import (
    MEMORY_READINGS,
    TIMING_READINGS,
    BenchmarkResult,
    run_benchmark,
)
from pytest_mlgate.perf.options import OPTION_NAMES, BenchmarkOptions
from pytest_mlgate.perf.regression import compare_performance
from pytest_mlgate.perf.size import measure_size

__all__ = [
    "MEMORY_READINGS",
    "OPTION_NAMES",
    "TIMING_READINGS",
    "BenchmarkOptions",
    "BenchmarkResult",
    "compare_performance",
    "measure_size",
    "run_benchmark",
]
