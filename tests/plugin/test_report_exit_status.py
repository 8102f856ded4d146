"""Every report (JSON, Markdown, JUnit, terminal) states the run's final exit status: written
after gate mode, delivery and deploy have had their say, with a failure line for each reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .helpers import load_report

ONE_GATE = '''
import pytest
from sklearn.dummy import DummyClassifier

@pytest.mark.validation(accuracy=">= 0.5")
def test_quality(mlgate):
    mlgate.record("accuracy", 0.9)
    if CANDIDATE:
        mlgate.candidate(DummyClassifier().fit([[0], [1]], [0, 1]), name="m")

def test_plain():
    assert not UNGATED_FAILS
'''

RAISING_HOOK = '''
def pytest_mlgate_deploy(artifact, config):
    raise RuntimeError("the cluster said no")
'''

# (ini lines, conftest, candidate?, ungated failure?, extra args, the failure line expected)
CASES = {
    "deploy command exits 3": (
        'mlgate_required_gates = validation\nmlgate_deploy = ["{python}", "-c", "import sys; sys.exit(3)"]\n',
        None, True, False, ["--mlgate-deliver"], "delivery failed: m@1 is published, but deploy *exited with status 3*"),
    "deploy hook raises": (
        "mlgate_required_gates = validation\n", RAISING_HOOK, True, False, ["--mlgate-deliver"],
        "delivery failed: *the cluster said no*"),
    "no candidate": (
        "mlgate_required_gates = validation\n", None, False, False, ["--mlgate-deliver"],
        "delivery failed: nothing delivered: --mlgate-deliver was given but no test called mlgate.candidate*"),
    "required gate without a test": (
        "mlgate_required_gates = validation unit\n", None, False, False, [],
        "gate unit: required gate, but no test ran"),
    "a test outside the gates fails": (
        "mlgate_required_gates = validation\n", None, False, True, [], "1 test(s) without a gate failed or errored"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_report_states_the_final_exit_status(pytester: pytest.Pytester, run, case: str) -> None:
    ini, conftest, candidate, ungated_fails, args, expected = CASES[case]
    pytester.makeini("[pytest]\n" + ini)
    if conftest:
        pytester.makeconftest(conftest)
    pytester.makepyfile(test_m=f"CANDIDATE = {candidate}\nUNGATED_FAILS = {ungated_fails}\n" + ONE_GATE)
    result = run("--mlgate", *args, "--mlgate-report=r.json", "--mlgate-markdown=r.md", "--junitxml=j.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()

    report = load_report(pytester.path / "r.json")
    assert report["run"]["exit_status"] == 1
    assert report["verdict"] == "fail"
    assert len(report["failures"]) == 1 and "\n" not in report["failures"][0]
    (failure,) = report["failures"]
    result.stdout.fnmatch_lines([f"  failed: {expected}"])
    md = (pytester.path / "r.md").read_text()
    # The Markdown summary leads with what failed: the run-level failure is a row there.
    what_failed = md.split("### What failed", 1)[1].split("### Gates", 1)[0]
    assert "| (run) " in what_failed and failure in what_failed, md
    headline = "gates FAILED" if case == "required gate without a test" else "gates passed, run FAILED"
    result.stdout.fnmatch_lines([f"mlgate: {headline}; run complete; seed *"])
    assert (pytester.path / "r.md").read_text().startswith(f"## pytest-mlgate: {headline.replace('FAILED', 'failed')}\n")

    suite = ET.parse(pytester.path / "j.xml").getroot().find("testsuite")
    assert suite is not None
    # The run-status properties (the gate verdicts, seed and completeness sit beside them).
    props = [(p.get("name"), p.get("value")) for p in suite.findall("properties/property")
             if p.get("name") in ("mlgate.verdict", "mlgate.exit_status", "mlgate.failure")]
    assert props == [("mlgate.verdict", "fail"), ("mlgate.exit_status", "1"), ("mlgate.failure", failure)]


def test_a_passing_run_states_exit_status_0_everywhere(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nmlgate_required_gates = validation\n")
    pytester.makepyfile(test_m="CANDIDATE = False\nUNGATED_FAILS = False\n" + ONE_GATE)
    result = run("--mlgate", "--mlgate-report=r.json", "--junitxml=j.xml")
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "r.json")
    assert (report["verdict"], report["failures"], report["run"]["exit_status"]) == ("pass", [], 0)
    suite = ET.parse(pytester.path / "j.xml").getroot().find("testsuite")
    assert suite is not None
    # The run-status properties (the gate verdicts, seed and completeness sit beside them).
    props = [(p.get("name"), p.get("value")) for p in suite.findall("properties/property")
             if p.get("name") in ("mlgate.verdict", "mlgate.exit_status", "mlgate.failure")]
    assert props == [("mlgate.verdict", "pass"), ("mlgate.exit_status", "0")]
