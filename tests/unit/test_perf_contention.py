"""Contention: the share of the machine other processes used while we timed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pytest_mlgate.perf.contention import watch

SPIN = "import time\nend = time.time() + 5\nwhile time.time() < end:\n    pass\n"


# Serial: these read the whole machine's CPU time, so other tests running beside them would count.
pytestmark = pytest.mark.serial


def test_other_processes_burning_every_core_read_as_busy() -> None:
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.5)  # let them start
        with watch() as reading:
            time.sleep(0.6)  # we use no CPU ourselves
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert reading.wall_s >= 0.6
    assert reading.others_share > 0.5
    assert reading.busy


def test_our_own_cpu_use_is_not_counted_as_contention() -> None:
    # Windows in which we burn one core alternate with windows in which we sleep. Whatever else
    # the machine does (another CI job, other developers) reads the same in both on the median,
    # while counting our own loop would add a whole core (1/cores of the capacity) to the first;
    # and however busy the machine, others' share and ours cannot add up to more than all of it.
    import psutil

    cores = os.cpu_count() or 1
    me = psutil.Process()

    def window(spin: bool) -> float:
        before = me.cpu_times()
        with watch() as reading:
            end = time.perf_counter() + 0.25
            while time.perf_counter() < end:
                if not spin:
                    time.sleep(0.01)
        after = me.cpu_times()
        ours = (after.user - before.user + after.system - before.system) / (reading.wall_s * cores)
        assert 0.0 <= reading.others_share <= 1.0
        # CPU times tick at 100 Hz: a few ticks of slack on a 0.25 s window
        assert reading.others_share + ours <= 1.0 + 0.1, f"others {reading.others_share:.2f} + ours {ours:.2f}"
        return reading.others_share

    differences = sorted(window(spin=True) - window(spin=False) for _ in range(3))
    assert differences[1] < 0.5 / cores, f"our own loop read as others' CPU use: {differences}"


def test_a_window_too_short_to_measure_reads_zero() -> None:
    with watch() as reading:
        pass
    assert reading.others_share == 0.0 and not reading.busy
