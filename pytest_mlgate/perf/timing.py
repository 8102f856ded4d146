"""The timing loop: calibrated rounds of back-to-back calls, timed with perf_counter_ns.

The loop is kept as bare as a hand-written ``perf_counter_ns`` loop: the iterator is built
before the clock starts, the function and arguments are closure cells, and there is one loop
body per call signature, so argument packing costs nothing when there are no arguments.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

# A round timer: ``loop(k)`` calls the function k times and returns (start_ns, stop_ns).
RoundTimer = Callable[[int], tuple[int, int]]

# Calls per round never grow beyond this, so a function that takes no measurable time (or a
# broken clock) cannot make calibration spin forever.
MAX_CALLS_PER_ROUND = 10_000_000


def make_round_timer(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> RoundTimer:
    """A function that calls ``fn(*args, **kwargs)`` k times and returns the clock readings."""
    timer = time.perf_counter_ns
    if kwargs:
        kw = dict(kwargs)

        def loop(k: int) -> tuple[int, int]:
            __tracebackhide__ = True
            it = repeat(None, k)
            t0 = timer()
            for _ in it:
                fn(*args, **kw)
            return t0, timer()

    elif args:

        def loop(k: int) -> tuple[int, int]:
            __tracebackhide__ = True
            it = repeat(None, k)
            t0 = timer()
            for _ in it:
                fn(*args)
            return t0, timer()

    else:

        def loop(k: int) -> tuple[int, int]:
            __tracebackhide__ = True
            it = repeat(None, k)
            t0 = timer()
            for _ in it:
                fn()
            return t0, timer()

    return loop


def timer_overhead_ns(samples: int = 201) -> float:
    """Median cost in ns of one ``perf_counter_ns`` call, as seen between two readings.

    A round's reading contains the tail of the first clock call and the head of the second,
    which together cost about one call; this is subtracted from each round.
    """
    timer = time.perf_counter_ns
    deltas = np.empty(samples, dtype=np.int64)
    for i in range(samples):
        a = timer()
        b = timer()
        deltas[i] = b - a
    return float(np.median(deltas))


def calibrate(loop: RoundTimer, min_round_ns: float) -> int:
    """The number of calls per round that makes a round last at least ``min_round_ns``."""
    __tracebackhide__ = True
    k = 1
    while k < MAX_CALLS_PER_ROUND:
        t0, t1 = loop(k)
        elapsed = t1 - t0
        if elapsed >= min_round_ns:
            return k
        if elapsed <= 0:
            k *= 10
        else:
            # Aim past the target (x1.2) so one more round usually confirms it, and grow at
            # least x2 so a noisy first reading cannot stall the search.
            k = max(2 * k, math.ceil(k * 1.2 * min_round_ns / elapsed))
    return MAX_CALLS_PER_ROUND


def time_rounds(
    loop: RoundTimer,
    calls_per_round: int,
    *,
    min_rounds: int,
    max_rounds: int,
    max_time_s: float,
    overhead_ns: float,
) -> npt.NDArray[np.float64]:
    """Per-call times in seconds, one per round: (round time - clock overhead) / calls.

    Rounds continue until ``max_time_s`` of timed rounds is spent, within
    [min_rounds, max_rounds].
    """
    __tracebackhide__ = True
    budget_ns = max_time_s * 1e9
    raw: list[int] = []
    append = raw.append
    start: int | None = None
    while True:
        t0, t1 = loop(calls_per_round)
        append(t1 - t0)
        if start is None:
            start = t0
        n = len(raw)
        if n >= max_rounds or (n >= min_rounds and t1 - start >= budget_ns):
            break
    ns = np.asarray(raw, dtype=np.float64) - overhead_ns
    # Clamp at zero: the overhead is a median, one round can dip below it by clock jitter.
    return np.maximum(ns, 0.0) / (calls_per_round * 1e9)
