"""Hooks a conftest can implement, seeds, and the console script."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .helpers import ALL_GATES, load_report, run_pytest

HOOK_CONFTEST = '''
import json, os

def pytest_mlgate_metric_recorded(item, measurement):
    with open("metrics.log", "a") as fh:
        fh.write(f"{os.getpid()} {item.name} {measurement.name} {measurement.value}\\n")

def pytest_mlgate_verdict(config, result):
    with open("verdict.json", "w") as fh:
        json.dump({"passed": result.passed, "complete": result.complete,
                   "gates": {g: r.verdict for g, r in result.gates.items()}}, fh)
'''


@pytest.mark.both_modes
def test_metric_and_verdict_hooks(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest(HOOK_CONFTEST)
    pytester.makepyfile(ALL_GATES)
    result = run("--mlgate")
    assert result.ret == 0
    lines = sorted(line.split(" ", 1)[1] for line in (pytester.path / "metrics.log").read_text().splitlines())
    assert lines == [
        "test_integration rows_out 150.0",
        "test_performance latency_p95_ms 12.5",
        "test_validation accuracy 0.95",
    ]
    verdict = json.loads((pytester.path / "verdict.json").read_text())
    assert verdict == {"passed": True, "complete": True,
                       "gates": {"unit": "pass", "integration": "pass", "performance": "pass", "validation": "pass"}}


SEED_TESTS = '''
import random
import numpy as np
import pytest

@pytest.mark.unit
def test_one(mlgate):
    mlgate.record("rng", float(mlgate.rng.random()))
    mlgate.record("np_global", float(np.random.random()))
    mlgate.record("py_random", random.random())

@pytest.mark.unit
def test_two(mlgate):
    mlgate.record("rng", float(mlgate.rng.random()))
'''


def _seed_values(pytester: pytest.Pytester, run, *args: str) -> dict[str, dict[str, float]]:
    result = run("--mlgate", "-o", "mlgate_required_gates=unit", "--mlgate-report", "r.json", *args)
    assert result.ret == 0, result.stdout.str()
    report = json.loads((pytester.path / "r.json").read_text())
    return {t["nodeid"].rsplit("::", 1)[-1]: {m["name"]: m["value"] for m in t["metrics"]} for t in report["tests"]}


@pytest.mark.both_modes
def test_seed_reproduces_random_state_in_every_mode(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(SEED_TESTS)
    first = _seed_values(pytester, run, "--mlgate-seed", "1234")
    plain = run_pytest(pytester, "--mlgate", "-o", "mlgate_required_gates=unit", "--mlgate-seed", "1234",
                                          "--mlgate-report", "plain.json")
    assert plain.ret == 0
    reference = {t["nodeid"].rsplit("::", 1)[-1]: {m["name"]: m["value"] for m in t["metrics"]}
                 for t in json.loads((pytester.path / "plain.json").read_text())["tests"]}
    assert first == reference, "workers must use the controller's seed"
    assert first["test_one"]["rng"] != first["test_two"]["rng"], "each test gets its own seed"
    other = _seed_values(pytester, run, "--mlgate-seed", "99")
    assert other["test_one"]["rng"] != first["test_one"]["rng"]


@pytest.mark.both_modes
def test_gated_tests_are_seeded_and_tests_without_a_gate_are_left_alone(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile('''
import json, os, random
import pytest

def _write(name):
    with open(f"{name}-{os.getpid()}-{random.getrandbits(64)}.json", "w") as fh:
        json.dump(random.random(), fh)

def test_plain():  # first: after a gated test it would continue from that test's seeded state
    _write("plain")

@pytest.mark.unit
def test_gated():
    _write("gated")
''')

    def values(name: str) -> set[float]:
        return {json.loads(p.read_text()) for p in pytester.path.glob(f"{name}-*.json")}

    for _ in range(2):
        assert run("--mlgate", "-o", "mlgate_required_gates=unit", "--mlgate-seed", "5").ret == 0
    assert len(values("gated")) == 1, "a gated test starts from the same random state in every run"
    assert len(values("plain")) == 2, "a test without a gate keeps its own randomness"


FIXTURE_SEEDS = '''
import random
import numpy as np
import pytest

@pytest.fixture(scope="session")
def model_state():
    return (random.random(), float(np.random.random()))

def test_ungated_first(model_state):  # sets the session fixture up when it runs first
    assert model_state

@pytest.mark.validation(score=">= 0")
def test_gated(model_state, mlgate):
    mlgate.record("score", 0.5, fixture=list(model_state), own=random.random())
'''


@pytest.mark.both_modes
def test_wide_fixtures_are_seeded_whichever_test_sets_them_up(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(FIXTURE_SEEDS)
    seen = []
    # Both tests, the ungated one setting the fixture up; then the gated test alone; then both again.
    for extra in ((), ("-k", "not ungated"), ()):
        result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-seed", "11",
                     "--mlgate-report", "r.json", *extra)
        assert result.ret == 0, result.stdout.str()
        (test,) = [t for t in load_report(pytester.path / "r.json")["tests"] if t["nodeid"].endswith("test_gated")]
        seen.append(test["metrics"][0]["info"])
    assert seen[0] == seen[1] == seen[2], "the fixture and the test repeat, whichever test set the fixture up"
    assert seen[0]["fixture"][0] != seen[0]["own"], "the test's own state is not the fixture's"


@pytest.mark.both_modes
def test_seed_is_printed_in_the_header(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES)
    result = run("--mlgate", "--mlgate-seed", "777")
    result.stdout.fnmatch_lines(["mlgate: gate mode on, seed 777 (--mlgate-seed 777 repeats it)"])


def test_console_script_reports_its_version() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "--version"], capture_output=True,
                         text=True, check=True)
    from pytest_mlgate import __version__

    assert out.stdout.strip() == f"mlgate {__version__}"
