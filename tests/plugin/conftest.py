"""Plugin scenarios in a pytest subprocess: plain, and under pytest-xdist with -n 2 when marked
``both_modes`` (tests/conftest.py parametrizes ``mode``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import run_pytest

# Third-party plugins installed with the test extra that a scenario must turn on to meet: each
# costs ~0.05 s of import per pytest process, and pytest-randomly would reorder and reseed every
# scenario. tests/plugin/test_interplay.py turns them on with ``-p NAME`` where it tests them.
OTHER_PLUGINS = ("randomly", "rerunfailures", "pytest_cov", "timeout", "benchmark")


@pytest.fixture(autouse=True)
def _scenario_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts
        monkeypatch.setenv("PYTEST_ADDOPTS", " ".join(f"-p no:{name}" for name in OTHER_PLUGINS))
        # When this suite runs under pytest-xdist, a "plain" scenario must not look like a worker
        # (pytest-benchmark, for one, switches itself off on seeing PYTEST_XDIST_WORKER).
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run(pytester: pytest.Pytester, mode: str) -> Callable[..., pytest.RunResult]:
    """Run pytest on the pytester directory in a subprocess, plain or with ``-n 2``."""

    def _run(*args: str) -> pytest.RunResult:
        return run_pytest(pytester, *args, workers=2 if mode == "xdist" else None)

    return _run
