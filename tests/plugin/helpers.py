"""What the plugin scenarios share: the one way to run pytest on a pytester project, the
JSON report reader and a suite with a test in every gate. Import from here, not from conftest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# hypothesis's pytest plugin costs ~1 s of import per process, and the cache would carry state
# from one run of a scenario to the next; the scenarios use neither (but --lf, which needs the
# cache: ``cache=True``).
NO_HYPOTHESIS = ("-p", "no:hypothesispytest")
NO_CACHE = ("-p", "no:cacheprovider")


def run_pytest(pytester: pytest.Pytester, *args: str, workers: int | None = None,
               cache: bool = False) -> pytest.RunResult:
    """pytest on the pytester directory in a subprocess with the standard flags, plain or with
    ``-n workers``. Every plugin scenario runs pytest through here."""
    extra = [*NO_HYPOTHESIS, *(() if cache else NO_CACHE)]
    if workers:
        extra += ["-n", str(workers)]
    return pytester.runpytest_subprocess(*args, *extra)


def load_report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


ALL_GATES = '''
import pytest

@pytest.mark.unit
def test_unit():
    assert 1 + 1 == 2

@pytest.mark.integration
def test_integration(mlgate):
    mlgate.record("rows_out", 150)

@pytest.mark.performance(latency_p95_ms="<= 50")
def test_performance(mlgate):
    mlgate.record("latency_p95_ms", 12.5)

@pytest.mark.validation(accuracy=">= 0.9")
def test_validation(mlgate):
    mlgate.record("accuracy", 0.95)
'''
