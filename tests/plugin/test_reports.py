"""JSON and Markdown reports, the GitHub job summary, written on failing runs too."""

from __future__ import annotations

import pytest

from .helpers import ALL_GATES, load_report


def test_json_report_schema(pytester: pytest.Pytester, run, mode: str) -> None:
    pytester.makepyfile(ALL_GATES + "\n@pytest.mark.unit\ndef test_skip():\n    pytest.skip('later')\n")
    result = run("--mlgate", "--mlgate-report", "out/report.json", "--mlgate-seed", "42")
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "out" / "report.json")
    assert report["schema"] == "pytest-mlgate/report"
    assert report["schema_version"] == 1
    assert report["verdict"] == "pass"
    assert report["run"]["seed"] == 42
    assert report["run"]["complete"] is True
    assert set(report["gates"]) == {"unit", "integration", "performance", "validation"}
    assert report["gates"]["unit"] == {
        "required": True, "passed": 1, "failed": 0, "errored": 0, "skipped": 1, "verdict": "pass", "reason": "",
    }
    tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in report["tests"]}
    assert tests["test_skip"]["outcome"] == "skipped"
    (acc,) = tests["test_validation"]["metrics"]
    assert acc["name"] == "accuracy"
    assert acc["value"] == 0.95
    assert acc["threshold"] == {"metric": "accuracy", "op": ">=", "value": 0.9, "text": ">= 0.9"}
    assert acc["threshold_verdict"] == "pass"
    assert acc["verdict"] == "pass"
    assert tests["test_validation"]["gate"] == "validation"
    assert tests["test_validation"]["outcome"] == "passed"


def test_reports_are_written_on_failing_runs(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES.replace("0.95", "0.5"))
    result = run("--mlgate", "--mlgate-report", "r.json", "--mlgate-markdown", "r.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = load_report(pytester.path / "r.json")
    assert report["verdict"] == "fail"
    assert report["gates"]["validation"]["verdict"] == "fail"
    (acc,) = next(t for t in report["tests"] if t["gate"] == "validation")["metrics"]
    assert acc["verdict"] == "fail"
    md = (pytester.path / "r.md").read_text()
    assert "## pytest-mlgate: gates failed" in md
    assert "| validation | 0 | 1 | 0 | 0 | FAIL |" in md
    assert "| accuracy | 0.5 | - | >= 0.9 | - | - | FAIL |" in md


def test_markdown_is_appended_to_github_step_summary(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(ALL_GATES)
    summary = pytester.path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = pytester.runpytest_subprocess("--mlgate", "-p", "no:hypothesispytest")
    assert result.ret == 0
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "## pytest-mlgate: gates passed" in text
    assert "| unit | 1 | 0 | 0 | 0 | PASS |" in text


def test_report_paths_from_ini_and_cli_precedence(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nmlgate = true\nmlgate_report = from_ini.json\n")
    pytester.makepyfile(ALL_GATES)
    run()
    assert (pytester.path / "from_ini.json").exists()
    run("--mlgate-report", "from_cli.json")
    assert (pytester.path / "from_cli.json").exists()
    assert load_report(pytester.path / "from_cli.json")["verdict"] == "pass"


def test_junit_carries_interval_threshold_verdict_and_gate_verdicts(pytester: pytest.Pytester, run) -> None:
    import xml.etree.ElementTree as ET

    pytester.makepyfile(ALL_GATES.replace("0.95", "0.5") + '''
@pytest.mark.validation(auc=">= 0.6")
def test_interval(mlgate):
    from sklearn.dummy import DummyClassifier
    import numpy as np
    X = np.zeros((200, 1)); y = np.arange(200) % 2
    mlgate.evaluate(DummyClassifier(strategy="stratified", random_state=0).fit(X, y), X, y, ["accuracy"])
    mlgate.record("auc", 0.7)
''')
    result = run("--mlgate", "--junitxml", "j.xml", "--mlgate-markdown", "s.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    root = ET.parse(pytester.path / "j.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    suite_props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert suite_props["mlgate.verdict"] == "fail"
    assert suite_props["mlgate.gate.validation"] == "fail"
    assert suite_props["mlgate.gate.unit"] == "pass"
    cases = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")}
             for c in root.iter("testcase")}
    assert cases["test_validation"] == {"mlgate.accuracy": "0.5", "mlgate.accuracy.threshold": ">= 0.9",
                                        "mlgate.accuracy.verdict": "fail"}
    props = cases["test_interval"]
    assert float(props["mlgate.accuracy.low"]) < float(props["mlgate.accuracy"]) < float(props["mlgate.accuracy.high"])
    assert props["mlgate.accuracy.verdict"] == "none" and props["mlgate.auc.verdict"] == "pass"
    md = (pytester.path / "s.md").read_text()
    assert "### What failed" in md and "below the threshold: 0.5, needs >= 0.9" in md
