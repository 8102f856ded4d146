"""Memory readings of one or a few calls: peak traced allocation and peak resident set size.

Both run after the timing rounds, in their own passes: tracemalloc slows every allocation and
a sampling thread competes for the GIL, and neither cost may be charged to the latencies.
"""

from __future__ import annotations

import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

MIB = 2**20

# The RSS pass repeats the call until this much time has passed (or RSS_MAX_CALLS calls), so
# the sampling thread gets several chances to catch a short-lived peak.
RSS_MIN_PASS_S = 0.02
RSS_MAX_CALLS = 100
RSS_SAMPLE_INTERVAL_S = 0.0005


def peak_traced_bytes(call: Callable[[], Any]) -> tuple[int, bool]:
    """Peak bytes allocated above the starting level during one ``call()``, via tracemalloc.

    numpy reports its buffers to tracemalloc, so arrays count. Returns (bytes, whether
    tracemalloc was already tracing); a tracing session the user started is left running.
    """
    __tracebackhide__ = True
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - base, 0), was_tracing


def _linux_high_water_mark() -> int | None:
    """The process's peak RSS in bytes (VmHWM), or None where /proc is unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_bytes(call: Callable[[], Any]) -> tuple[int, str]:
    """Peak resident set size of the process, in bytes, while ``call()`` runs.

    A psutil thread samples RSS every 0.5 ms while the call is repeated for about 20 ms. On
    Linux the kernel's high-water mark is read before and after: when it rose during the pass
    it is the exact peak, which sampling can miss. Returns (bytes, method).
    """
    __tracebackhide__ = True
    import psutil

    proc = psutil.Process()
    peak = proc.memory_info().rss
    stop = threading.Event()
    samples: list[int] = []

    def sample() -> None:
        while not stop.is_set():
            samples.append(proc.memory_info().rss)
            stop.wait(RSS_SAMPLE_INTERVAL_S)

    hwm_before = _linux_high_water_mark()
    # A shorter switch interval lets the sampler in while the call holds the GIL.
    old_interval = sys.getswitchinterval()
    sampler = threading.Thread(target=sample, name="mlgate-rss-sampler", daemon=True)
    sys.setswitchinterval(min(old_interval, RSS_SAMPLE_INTERVAL_S))
    sampler.start()
    try:
        start = time.perf_counter()
        calls = 0
        while calls == 0 or (
            calls < RSS_MAX_CALLS and time.perf_counter() - start < RSS_MIN_PASS_S
        ):
            call()
            calls += 1
    finally:
        stop.set()
        sampler.join()
        sys.setswitchinterval(old_interval)
    peak = max(peak, proc.memory_info().rss, *samples)
    hwm_after = _linux_high_water_mark()
    if hwm_before is not None and hwm_after is not None and hwm_after > hwm_before:
        return max(peak, hwm_after), "high-water mark"
    return peak, "sampled"
