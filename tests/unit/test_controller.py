"""The controller in-process: test reports in (as the process that ran each test sent them,
with its data on ``report.mlgate``), gate verdicts and completeness out."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_mlgate.controller import Controller
from pytest_mlgate.plugin import CONTROLLER_KEY


@pytest.fixture
def controller(pytester: pytest.Pytester) -> Controller:
    pytester.makeini("[pytest]\nmlgate_required_gates = unit validation\n")
    config = pytester.parseconfigure("--mlgate", "-p", "no:cacheprovider")
    return config.stash[CONTROLLER_KEY]


def report(nodeid: str, when: str, outcome: str = "passed", data: dict[str, Any] | None = None,
           longrepr: Any = None) -> pytest.TestReport:
    rep = pytest.TestReport(nodeid, ("t.py", 0, nodeid), {}, outcome, longrepr, when)
    if data is not None:
        rep.mlgate = data  # type: ignore[attr-defined]
    return rep


def run(controller: Controller, nodeid: str, gate: str | None, outcome: str = "passed") -> None:
    data = {"gate": gate} if gate else None
    controller.add_collected([nodeid])
    controller.observe(report(nodeid, "setup", data=data))
    controller.observe(report(nodeid, "call", outcome, data=data, longrepr="E   boom" if outcome == "failed" else None))
    teardown = {"gate": gate, "key": nodeid, "seed": 1, "metrics": [], "fingerprints": {}} if gate else None
    controller.observe(report(nodeid, "teardown", data=teardown))


def test_every_required_gate_passing_passes_the_run(controller: Controller) -> None:
    run(controller, "t.py::test_u", "unit")
    run(controller, "t.py::test_v", "validation")
    result = controller.decide(0)
    assert result.passed and result.complete
    assert {g: r.verdict for g, r in result.gates.items()} == {
        "unit": "pass", "integration": "empty", "performance": "empty", "validation": "pass"}


def test_a_failed_gated_test_fails_its_gate_with_its_message(controller: Controller) -> None:
    run(controller, "t.py::test_u", "unit")
    run(controller, "t.py::test_v", "validation", outcome="failed")
    result = controller.decide(1)
    assert not result.passed and result.failures == ["gate validation: 1 failed, 0 errored"]
    (entry,) = [t for t in result.tests if t.nodeid == "t.py::test_v"]
    assert entry.outcome == "failed" and entry.message == "E   boom"


def test_a_required_gate_without_a_test_fails(controller: Controller) -> None:
    run(controller, "t.py::test_u", "unit")
    result = controller.decide(0)
    assert result.gates["validation"].verdict == "fail"
    assert "gate validation: required gate, but no test ran" in result.failures


def test_an_ungated_failure_is_no_gate_failure_but_counts(controller: Controller) -> None:
    run(controller, "t.py::test_u", "unit")
    run(controller, "t.py::test_v", "validation")
    run(controller, "t.py::test_plain", None, outcome="failed")
    result = controller.decide(1)
    assert result.passed and result.tests_failed
    assert [t.nodeid for t in result.tests] == ["t.py::test_u", "t.py::test_v"]


def test_a_collected_test_that_never_ran_makes_the_run_incomplete(controller: Controller) -> None:
    run(controller, "t.py::test_u", "unit")
    run(controller, "t.py::test_v", "validation")
    controller.add_collected(["t.py::test_late"])
    result = controller.decide(2)
    assert not result.complete
    assert result.incomplete_reasons == [
        "1 collected test(s) did not run (-x/--maxfail or an interrupt)", "the run was interrupted"]


def test_a_crashed_worker_fails_the_run(controller: Controller) -> None:
    run(controller, "t.py::test_u", "unit")
    run(controller, "t.py::test_v", "validation")
    controller.crashed_workers.append("gw1")
    result = controller.decide(0)
    assert not result.passed and "pytest-xdist worker(s) crashed: gw1" in result.failures
