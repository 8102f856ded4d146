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
    with watch() as reading:
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass
    # Our own busy loop is excluded; what is left is whatever else the machine did.
    assert 0.0 <= reading.others_share <= 1.0
    cores = os.cpu_count() or 1
    assert reading.others_share < 1.0 - 1.0 / cores + 0.05


def test_a_window_too_short_to_measure_reads_zero() -> None:
    with watch() as reading:
        pass
    assert reading.others_share == 0.0 and not reading.busy
