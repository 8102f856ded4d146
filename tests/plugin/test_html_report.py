"""--mlgate-html: the page a failing run writes, plain and under pytest-xdist, opened in a real
browser with the network off."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ..browser import chromium, looks_blank, open_page
from .helpers import load_report, run_pytest

# A classifier with slices (accuracy fails its threshold), a regressor, a latency budget, and a
# drift check that fails: every kind of plot, and failures of three kinds.
SUITE = '''
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge

@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return LogisticRegression(max_iter=5000).fit(X[:300], y[:300]), X[300:], y[300:]

@pytest.mark.unit
def test_unit():
    assert True

@pytest.mark.validation(accuracy=">= 0.99", roc_auc=">= 0.9", ece="<= 0.3")
def test_classifier(mlgate, cancer):
    model, X, y = cancer
    large = X[:, 3] > 700
    mlgate.evaluate(model, X, y, slices={"large": large, "small": ~large})

@pytest.mark.validation(r2=">= 0.2")
def test_regressor(mlgate):
    X, y = load_diabetes(return_X_y=True)
    mlgate.evaluate(Ridge(alpha=0.1).fit(X[:300], y[:300]), X[300:], y[300:])

@pytest.mark.performance(latency_p95_ms="<= 2000")
def test_latency(mlgate, cancer):
    model, X, _ = cancer
    mlgate.benchmark(model.predict, X[:5], max_time=0.2)

@pytest.mark.integration
def test_no_drift(mlgate):
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 2000), "income": rng.lognormal(10, 0.5, 2000),
                        "plan": rng.choice(["basic", "pro"], 2000)})
    cur = ref.assign(age=ref["age"] + 8, plan=rng.choice(["basic", "pro"], 2000, p=[0.2, 0.8]))
    mlgate.check_drift(ref, cur)
'''

# Plots the page must hold for SUITE: kind -> count.
EXPECTED_PLOTS = {"forest": 3, "slices": 3, "classification": 1, "regression": 1, "latency": 1,
                  "drift-effects": 1, "drift-histograms": 1}


def _plots(html: str) -> Counter[str]:
    """Plot kinds of the page's figures that hold an SVG."""
    found = re.findall(r'<figure class="plot" data-kind="([a-z-]+)">\s*<figcaption>.*?</figcaption>\s*<svg', html)
    return Counter(found)


def _need_chromium() -> None:
    if chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed; .ci/run installs it (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")


@pytest.fixture
def failing_run(pytester: pytest.Pytester, run) -> tuple[pytest.RunResult, Path]:
    pytester.makepyfile(test_model=SUITE)
    result = run("--mlgate", "--mlgate-html", "out/report.html", "--mlgate-report", "out/report.json",
                 "-o", "mlgate_bootstrap=200")
    return result, pytester.path / "out"


@pytest.mark.both_modes
def test_a_failing_run_writes_a_page_that_leads_with_its_failures(failing_run, mode: str) -> None:
    result, out = failing_run
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert _plots(html) == EXPECTED_PLOTS
    assert "could not draw" not in html
    # the banner, then the failures with their reasons, then the gates
    assert html.index('id="verdict"') < html.index('id="failures"') < html.index('id="gates"')
    failures = html[html.index('id="failures"'):html.index('id="gates"')]
    assert "below the threshold: " in failures and "needs &gt;= 0.99" in failures
    assert "drift in columns age and plan (2 of 3 columns)" in failures
    assert "Gates failed" in html[:html.index('id="failures"')]
    # self-contained: no script, no stylesheet or image fetched from elsewhere
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    report = load_report(out / "report.json")
    series = {t["nodeid"].rsplit("::", 1)[-1]: t["series"] for t in report["tests"] if t["series"]}
    assert set(series) == {"test_classifier", "test_regressor", "test_latency", "test_no_drift"}
    assert all(s["version"] == 1 for s in series.values())
    (clf,) = series["test_classifier"]["items"]
    assert len(clf["curves"]["roc"]["fpr"]) == 101 and clf["confusion"]["classes"] == ["0", "1"]


@pytest.mark.both_modes
def test_the_page_in_a_browser_with_the_network_off(failing_run, mode: str, tmp_path: Path) -> None:
    _need_chromium()
    result, out = failing_run
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    view = open_page(out / "report.html")
    assert view.console_errors == []
    assert [u for u in view.requests if not u.startswith(("file:", "data:"))] == []
    probe = view.probe
    lead = probe["sections"][:probe["sections"].index("gates")]
    # What could not be judged comes between the failures and the gates when there is any (a
    # latency timed on a busy machine is inconclusive).
    assert lead[:2] == ["verdict", "failures"] and set(lead[2:]) <= {"not-compared", "inconclusive"}, lead
    assert {"gate-unit", "gate-integration", "gate-performance", "gate-validation"} <= set(probe["sections"])
    assert Counter(p["kind"] for p in probe["plots"] if p["svg"] == 1) == EXPECTED_PLOTS
    assert all(p["width"] > 300 for p in probe["plots"]), probe["plots"]
    assert probe["scripts"] == 0 and probe["external"] == []
    assert probe["banner"].startswith("Gates failed")
    assert any("budget" not in f and "below the threshold" in f for f in probe["failures"])
    assert not looks_blank(view.screenshot)
    (tmp_path / f"failing-{mode}.png").write_bytes(view.screenshot)


@pytest.mark.both_modes
def test_mlgate_report_renders_the_same_page_from_the_saved_json(failing_run, mode: str) -> None:
    if mode == "xdist":
        pytest.skip("rendering a saved file does not depend on how the run was made")
    _, out = failing_run
    proc = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "report", str(out / "report.json"),
                           "--html", str(out / "again.html"), "--markdown", str(out / "again.md")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    first = (out / "report.html").read_text(encoding="utf-8")
    again = (out / "again.html").read_text(encoding="utf-8")
    assert _plots(again) == _plots(first) == EXPECTED_PLOTS
    strip = re.compile(r"page rendered in \d+ ms|mlg\d+[0-9a-f]*|(?<=id=\")[^\"]+")
    assert len(strip.sub("", again)) == len(strip.sub("", first))
    assert (out / "again.md").read_text().startswith("## pytest-mlgate: gates failed")


OLD_REPORTS = {
    "schema 0": ({"schema": "pytest-mlgate/report", "schema_version": 0, "tests": []},
                 "schema version 0, which this pytest-mlgate does not read"),
    "schema 2": ({"schema": "pytest-mlgate/report", "schema_version": 2, "plugin_version": "9.0"},
                 "schema version 2, written by a newer pytest-mlgate (plugin 9.0)"),
    "a baseline": ({"schema": "pytest-mlgate/baseline", "schema_version": 1},
                   "is not a pytest-mlgate gate report (schema 'pytest-mlgate/baseline'"),
    "damaged": ({"schema": "pytest-mlgate/report", "schema_version": 1, "run": {}, "gates": {}},
                "is damaged: its 'tests' is missing"),
}


@pytest.mark.parametrize("case", OLD_REPORTS)
def test_a_report_it_cannot_read_is_a_clear_error_not_a_traceback(tmp_path: Path, case: str) -> None:
    doc, message = OLD_REPORTS[case]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "report", str(path),
                           "--html", str(tmp_path / "r.html")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_version_1_report_without_series_is_rendered_with_a_note(tmp_path: Path) -> None:
    # As the plugin wrote it before it kept curves: no "series", no "tests_failed".
    doc = {"schema": "pytest-mlgate/report", "schema_version": 1, "plugin_version": "0.1.0",
           "verdict": "fail", "failures": ["gate validation: 1 failed, 0 errored"],
           "run": {"seed": 3, "complete": True, "incomplete_reasons": [], "git": {"commit": "abc"}},
           "gates": {"validation": {"required": True, "passed": 0, "failed": 1, "errored": 0, "skipped": 0,
                                    "verdict": "fail", "reason": "1 failed, 0 errored"}},
           "tests": [{"nodeid": "t.py::test_q", "gate": "validation", "outcome": "failed", "message": "low",
                      "metrics": [{"name": "accuracy", "value": 0.8, "low": 0.7, "high": 0.9,
                                   "threshold": {"metric": "accuracy", "op": ">=", "value": 0.9, "text": ">= 0.9"},
                                   "threshold_verdict": "fail", "comparison": None, "verdict": "fail"}]}],
           "baseline": {}, "delivery": None}
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "report", str(path),
                           "--html", str(tmp_path / "r.html")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "r.html").read_text()
    assert 'id="no-series"' in html and _plots(html) == {"forest": 1}
    assert "below the threshold: 0.8, needs &gt;= 0.9" in html


def test_without_the_html_extra_only_mlgate_html_is_refused(pytester: pytest.Pytester) -> None:
    # A conftest that hides matplotlib, as on a machine without the html extra.
    pytester.makeconftest("import sys\nsys.modules['matplotlib'] = None\n")
    pytester.makepyfile("import pytest\n\n@pytest.mark.unit\ndef test_u():\n    pass\n")
    args = ("--mlgate", "-o", "mlgate_required_gates=unit")
    assert run_pytest(pytester, *args).ret == 0
    refused = run_pytest(pytester, *args, "--mlgate-html", "r.html")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*--mlgate-html = *r.html: the HTML report needs matplotlib*"
                                  "pip install 'pytest-mlgate[[]html[]]'*"])
