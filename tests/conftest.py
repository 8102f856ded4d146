"""Suite-wide hooks: the fault-injection summary line (tests/faults) and the ``both_modes``
marker, which runs a test plain and under pytest-xdist."""

from __future__ import annotations

from typing import Any

import pytest


class FaultCoverage:
    """Collects the ``fault_injections`` user property of tests/faults from the test reports
    (so it works under pytest-xdist, whose controller sees only reports) and prints one line."""

    def __init__(self) -> None:
        self.covered: dict[str, tuple[int, int]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            for key, value in report.user_properties:
                if key == "fault_injections":
                    name, points, runs = value
                    self.covered[str(name)] = (int(points), int(runs))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.covered:
            return
        points = sum(p for p, _ in self.covered.values())
        runs = sum(r for _, r in self.covered.values())
        parts = ", ".join(f"{name} {p}" for name, (p, _) in sorted(self.covered.items()))
        terminalreporter.write_line(
            f"fault injection: {points} injection points covered ({parts}); {runs} faulty runs "
            "(SIGKILL, ENOSPC, EACCES and EIO at each point)")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(FaultCoverage(), "mlgate-fault-coverage")
    config.addinivalue_line("markers", "both_modes: run the test once plain and once under pytest-xdist "
                                       "with -n 2 (its mode argument is 'plain' or 'xdist')")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One marker opts a scenario into both modes; a test that takes ``mode`` (or ``run``) without
    # it runs plain. The marker on a test that runs pytest some other way would be a promise the
    # test does not keep: refused.
    both = metafunc.definition.get_closest_marker("both_modes") is not None
    if "mode" in metafunc.fixturenames:
        metafunc.parametrize("mode", ["plain", "xdist"] if both else ["plain"])
    elif both:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} is marked both_modes but takes neither "
                                "the run fixture nor mode: it would run plain only")
