"""The Markdown summary leads with what failed and why; the rest is folded away."""

from __future__ import annotations

import copy
import re
from typing import Any

from pytest_mlgate.report.failures import failures
from pytest_mlgate.report.junit import metric_properties, suite_properties
from pytest_mlgate.report.render import render_markdown, render_terminal


def _metric(name: str, value: float, **kw: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "low": kw.get("low"), "high": kw.get("high"),
            "level": 0.95, "n": 100, "method": kw.get("method", "bootstrap"), "info": {},
            "threshold": kw.get("threshold"), "threshold_verdict": kw.get("threshold_verdict"),
            "threshold_p": kw.get("threshold_p"), "comparison": kw.get("comparison"),
            "verdict": kw.get("verdict", "none")}


def _threshold(op: str, value: float, metric: str) -> dict[str, Any]:
    return {"metric": metric, "op": op, "value": value, "text": f"{op} {value:g}"}


REGRESSED = {"metric": "rmse", "verdict": "fail", "reference": "baseline", "reference_value": 61.2,
             "change": 3.51, "ratio": None, "change_low": 1.9, "change_high": 5.2, "level": 0.9,
             "margin": 0.0, "p_value": 0.0012, "method": "paired-bootstrap", "reason": "worse"}

REPORT: dict[str, Any] = {
    "schema": "pytest-mlgate/report", "schema_version": 1, "plugin_version": "0.1.0",
    "verdict": "fail", "failures": ["gate validation: 2 failed, 0 errored",
                                    "gate performance: 1 failed, 0 errored"],
    "run": {"seed": 7, "complete": True, "incomplete_reasons": [], "git": {"commit": "abc123def4567"},
            "settings": {"inconclusive": "pass"}},
    "gates": {g: {"required": True, "passed": 1, "failed": int(g in ("validation", "performance")),
                  "errored": 0, "skipped": 0,
                  "verdict": "fail" if g in ("validation", "performance") else "pass", "reason": ""}
              for g in ("unit", "integration", "performance", "validation")},
    "tests": [
        {"nodeid": "tests/test_q.py::test_regression", "gate": "validation", "outcome": "failed",
         "message": "rmse regressed", "metrics": [
             _metric("rmse", 64.71, low=62.0, high=67.5, threshold=_threshold("<=", 65, "rmse"),
                     threshold_verdict="pass", comparison=REGRESSED, verdict="fail"),
             _metric("r2", 0.41, low=0.35, high=0.47, verdict="none")]},
        {"nodeid": "tests/test_q.py::test_accuracy", "gate": "validation", "outcome": "failed",
         "message": "", "metrics": [
             _metric("accuracy", 0.912, low=0.88, high=0.94, threshold=_threshold(">=", 0.93, "accuracy"),
                     threshold_verdict="fail", verdict="fail")]},
        {"nodeid": "tests/test_speed.py::test_latency", "gate": "performance", "outcome": "failed",
         "message": "", "metrics": [
             _metric("latency_p95_ms", 63.0, method="benchmark", threshold=_threshold("<=", 50, "latency_p95_ms"),
                     threshold_verdict="fail", verdict="fail"),
             *[_metric(f"latency_p{p}_ms", 10.0 + p / 10, method="benchmark") for p in (50, 90, 99)]]},
        {"nodeid": "tests/test_drift.py::test_no_drift", "gate": "integration", "outcome": "failed",
         "message": "data drift in 2 of 5 column(s): age, income (drift = Holm-adjusted p <= 0.05 ...)",
         "metrics": [_metric("drift_share", 0.4, method="ks/chi2+holm+effect")]},
    ],
    "baseline": {"path": ".mlgate/baseline.json", "loaded": True, "updated": False,
                 "status": "not_requested", "message": ""},
    "delivery": None,
}


def test_a_failing_run_leads_with_every_failure_and_its_reason_in_words() -> None:
    md = render_markdown(REPORT)
    lines = md.splitlines()
    assert lines[0] == "## pytest-mlgate: gates failed"
    assert lines[2].startswith("**4 failures** · run complete · seed 7 · commit abc123def456")
    failed_at, gates_at = md.index("### What failed"), md.index("### Gates")
    assert failed_at < gates_at < md.index("### Metrics") < md.index("<details>")
    table = md[failed_at:gates_at]
    # the threshold was met; the regression is what failed, and the row says so
    assert ("| tests/test_q.py::test_regression | rmse | 64.71 [62, 67.5] | significant regression "
            "against the baseline: +3.51 (61.2 -> 64.71), p = 0.0012 |") in table
    assert "| accuracy | 0.912 [0.88, 0.94] | below the threshold: 0.912, needs >= 0.93 |" in table
    assert "| latency_p95_ms | 63 | budget blown: 63 over the budget <= 50 |" in table
    assert "| tests/test_drift.py::test_no_drift | - | - | data drift in 2 of 5 column(s): age, income |" in table


def test_metrics_without_threshold_or_verdict_are_folded_into_details() -> None:
    md = render_markdown(REPORT)
    main, folded = md.split("<details>")
    folded = folded.split("</details>")[0]
    assert "| rmse | 64.71 |" in main and "| latency_p95_ms | 63 |" in main
    for reading in ("| r2 |", "| latency_p50_ms |", "| latency_p99_ms |", "| drift_share |"):
        assert reading in folded and reading not in main
    assert "<summary>5 more metrics without a threshold or a verdict" in folded
    # GitHub renders a table inside <details> only after a blank line
    assert "</summary>\n\n| test |" in folded
    assert "<" not in main.replace("<=", "").replace("->", "")  # no HTML but <details>


def test_a_passing_run_has_no_failure_table() -> None:
    report = copy.deepcopy(REPORT)
    report["verdict"] = "pass"
    report["failures"] = []
    for g in report["gates"].values():
        g.update(failed=0, verdict="pass")
    report["tests"] = [t for t in report["tests"] if t["gate"] == "unit"]
    md = render_markdown(report)
    assert md.startswith("## pytest-mlgate: gates passed\n\n**4 of 4 gates passed**")
    assert "What failed" not in md and "<details>" not in md


def test_run_level_failures_are_rows_too() -> None:
    report = copy.deepcopy(REPORT)
    report["tests"] = []
    report["failures"] = ["gate unit: required gate, but no test ran", "pytest-xdist worker(s) crashed: gw1"]
    rows = failures(report)
    assert [(f.test, f.reason) for f in rows] == [
        ("", "gate unit: required gate, but no test ran"), ("", "pytest-xdist worker(s) crashed: gw1")]
    assert "| (run) | - | - | pytest-xdist worker(s) crashed: gw1 |" in render_markdown(report)


def test_slice_and_confident_policy_reasons() -> None:
    sliced = _metric("accuracy[region=north]", 0.81, low=0.75, high=0.86,
                     threshold=_threshold(">=", 0.9, "accuracy"), threshold_verdict="fail",
                     threshold_p=0.003, verdict="fail")
    confident = _metric("accuracy", 0.935, low=0.91, high=0.96, threshold=_threshold(">=", 0.93, "accuracy"),
                        threshold_verdict="fail", verdict="fail")
    report = copy.deepcopy(REPORT)
    report["tests"] = [{"nodeid": "t.py::t", "gate": "validation", "outcome": "failed", "message": "",
                        "metrics": [sliced, confident]}]
    reasons = [f.reason for f in failures(report)]
    assert reasons[0] == "slice significantly below the threshold >= 0.9 (Holm p = 0.003)"
    assert reasons[1] == ("the interval [0.91, 0.96] does not clear the threshold >= 0.93 "
                          "(threshold policy: confident)")


def test_junit_properties_of_a_metric_and_of_the_suite() -> None:
    rmse = REPORT["tests"][0]["metrics"][0]
    assert metric_properties(rmse) == [("mlgate.rmse.low", "62.0"), ("mlgate.rmse.high", "67.5"),
                                       ("mlgate.rmse.threshold", "<= 65"), ("mlgate.rmse.verdict", "fail")]
    assert metric_properties(REPORT["tests"][0]["metrics"][1]) == [
        ("mlgate.r2.low", "0.35"), ("mlgate.r2.high", "0.47"), ("mlgate.r2.verdict", "none")]
    assert suite_properties(REPORT) == [
        ("mlgate.verdict", "fail"), ("mlgate.complete", "true"), ("mlgate.seed", "7"),
        ("mlgate.gate.unit", "pass"), ("mlgate.gate.integration", "pass"),
        ("mlgate.gate.performance", "fail"), ("mlgate.gate.validation", "fail"),
        ("mlgate.failure", "gate validation: 2 failed, 0 errored"),
        ("mlgate.failure", "gate performance: 1 failed, 0 errored")]



def _comparison_rows(page: str) -> list[list[str]]:
    table = page.split('<table class="comparisons">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_baseline_table_shows_the_comparisons_verdict_not_the_thresholds() -> None:
    """accuracy 0.9789 -> 0.9789 missing its threshold >= 0.98 read "change +0, p 1, FAIL" in the
    baseline table, as if it had regressed (new-user trial)."""
    from pytest_mlgate.report.html import render_html

    unchanged = {"metric": "accuracy", "verdict": "pass", "reference": "baseline", "reference_value": 0.9789,
                 "change": 0.0, "ratio": None, "change_low": 0.0, "change_high": 0.0, "level": 0.9,
                 "margin": 0.0, "p_value": 1.0, "method": "mcnemar-exact", "reason": "no significant drop"}
    report = copy.deepcopy(REPORT)
    report["tests"] = [{"nodeid": "t.py::test_q", "gate": "validation", "outcome": "failed", "message": "",
                        "metrics": [_metric("accuracy", 0.9789, low=0.95, high=0.99,
                                            threshold=_threshold(">=", 0.98, "accuracy"),
                                            threshold_verdict="fail", comparison=unchanged, verdict="fail")]}]
    (row,) = _comparison_rows(render_html(report))
    assert row[0] == "accuracy" and row[1] == "baseline" and row[-1] == "PASS", row


def test_a_value_that_missed_its_threshold_never_prints_equal_to_it() -> None:
    # 0.89996 against ">= 0.9" printed "0.9 ... FAIL" and "below the threshold: 0.9, needs >= 0.9".
    from pytest_mlgate.report.failures import threshold_reason, value_text
    from pytest_mlgate.report.html.page import _metric_row
    from pytest_mlgate.report.tables import fmt

    m = {"name": "accuracy", "value": 0.89996, "low": None, "high": None, "verdict": "fail",
         "threshold_verdict": "fail", "threshold": {"text": ">= 0.9", "op": ">=", "value": 0.9}}
    report = {"schema": "pytest-mlgate/report", "schema_version": 1, "plugin_version": "0", "verdict": "fail",
              "failures": [], "run": {"complete": True, "seed": 1, "incomplete_reasons": []},
              "gates": {"validation": {"verdict": "fail", "required": True, "passed": 0, "failed": 1,
                                       "errored": 0, "skipped": 0}},
              "tests": [{"nodeid": "t.py::test_q", "gate": "validation", "outcome": "failed", "metrics": [m]}]}
    assert threshold_reason(m) == "below the threshold: 0.89996, needs >= 0.9"
    assert value_text(m) == "0.89996"
    assert _metric_row(m, False)["value"] == "0.89996"
    assert "| t.py::test_q | accuracy | 0.89996 | - | >= 0.9 |" in render_markdown(report)
    assert "0.89996" in render_terminal(report)
    # Apart from a threshold, and when they differ visibly anyway, the short form stays.
    assert fmt(0.89996) == "0.9" and fmt(0.85, against=0.9) == "0.85" and fmt(0.9, against=0.9) == "0.9"


def test_the_page_leads_with_what_was_not_compared_and_what_was_inconclusive() -> None:
    """The terminal and the Markdown lead with the NOT COMPARED list; the page showed it only in a
    tooltip, and an INCONCLUSIVE slowdown under a green "Gates passed" banner (new-user trial)."""
    from pytest_mlgate.report.html import render_html

    busy = {"metric": "latency_p50_ms", "verdict": "inconclusive", "reference": "baseline", "reference_value": 1.0,
            "change": 8.7, "ratio": 9.75, "change_low": None, "change_high": None, "level": 0.9, "margin": 0.0,
            "p_value": 0.001, "method": "benchmark",
            "reason": "other processes used 61% of the CPUs while timing, so the slowdown cannot be told from contention"}
    report = copy.deepcopy(REPORT)
    report["verdict"], report["failures"] = "pass", []
    report["run"]["settings"] = {"inconclusive": "pass"}
    report["tests"] = [{"nodeid": "t.py::test_speed", "gate": "performance", "outcome": "passed", "message": "",
                        "metrics": [_metric("latency_p50_ms", 9.75, method="benchmark", comparison=busy,
                                            verdict="inconclusive")]}]
    report["not_compared"] = [{"nodeid": "t.py::test_q", "metric": "accuracy",
                               "reason": "the evaluation data has another fingerprint than the baseline's"}]
    page = render_html(report)
    gates_at = page.index('<section id="gates">')
    nc_at, inc_at = page.index('<section id="not-compared">'), page.index('<section id="inconclusive">')
    assert nc_at < gates_at and inc_at < gates_at
    assert "the evaluation data has another fingerprint than the baseline&#39;s" in page[nc_at:inc_at]
    assert "61% of the CPUs" in page[inc_at:gates_at] and "latency_p50_ms" in page[inc_at:gates_at]
    # With mlgate_inconclusive = fail they are failures, listed as such, not here.
    report["run"]["settings"] = {"inconclusive": "fail"}
    assert '<section id="inconclusive">' not in render_html(report)
