"""How busy the rest of the machine was while we timed.

A timing taken while other processes compete for the cores (other pytest-xdist workers, another
CI job on the same runner) is slower for reasons that have nothing to do with the code. We read
the system's and our own CPU times around the measurement: what the machine spent beyond our
process, as a share of its capacity (wall time x cores), is the contention. A regression verdict
on timings taken under contention is never a FAIL: it is INCONCLUSIVE, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

# Above this share of the machine's CPU capacity used by other processes, timings are "busy".
BUSY_SHARE = 0.20


@dataclass
class Contention:
    """Filled in when the ``watch`` block ends. ``others_share`` is in [0, 1]."""

    others_share: float = 0.0
    wall_s: float = 0.0

    @property
    def busy(self) -> bool:
        return self.others_share > BUSY_SHARE


def _busy_seconds(t: object) -> float:
    # Everything but idle and I/O wait; guest time is already counted in user time on Linux.
    fields = getattr(t, "_fields", ())
    return sum(float(getattr(t, f)) for f in fields if f not in ("idle", "iowait", "guest", "guest_nice"))


@contextlib.contextmanager
def watch() -> Iterator[Contention]:
    """Measure the CPU share other processes used during the block."""
    import psutil

    reading = Contention()
    proc = psutil.Process()
    start = time.perf_counter()
    sys0, own0 = psutil.cpu_times(), proc.cpu_times()
    try:
        yield reading
    finally:
        wall = time.perf_counter() - start
        sys1, own1 = psutil.cpu_times(), proc.cpu_times()
        own = (own1.user - own0.user) + (own1.system - own0.system)
        others = max(0.0, _busy_seconds(sys1) - _busy_seconds(sys0) - own)
        capacity = wall * (os.cpu_count() or 1)
        reading.wall_s = wall
        # CPU time counters tick at 100 Hz: a window shorter than a few ticks says nothing.
        reading.others_share = min(1.0, others / capacity) if wall >= 0.05 else 0.0
