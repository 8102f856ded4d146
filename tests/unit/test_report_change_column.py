"""The change column: a difference for quality metrics, a ratio for performance readings."""

from __future__ import annotations

from typing import Any

from pytest_mlgate.baseline import BaselineEntry
from pytest_mlgate.measurement import Comparison, Measurement
from pytest_mlgate.perf import compare_performance
from pytest_mlgate.report.render import metric_rows, render_markdown, render_terminal
from pytest_mlgate.stats.compare import compare


def _report(rows: list[tuple[Measurement, Comparison]]) -> dict[str, Any]:
    metrics = []
    for m, c in rows:
        d = m.to_json()
        d.update(threshold=None, threshold_verdict=None, comparison=c.to_json(), verdict=c.verdict)
        metrics.append(d)
    return {
        "verdict": "pass", "plugin_version": "0", "failures": [], "baseline": {}, "delivery": None,
        "run": {"complete": True, "seed": 1, "incomplete_reasons": [], "git": {}},
        "gates": {},
        "tests": [{"nodeid": "test_m.py::test_q", "metrics": metrics}],
    }


def test_quality_shows_a_difference_and_performance_a_ratio_everywhere() -> None:
    r2_now = Measurement("r2", 0.05, 0.01, 0.09, 0.95, 400, "bootstrap", {})
    r2_ref = BaselineEntry("k", "r2", 0.08, 0.04, 0.12, 0.95, 400, "bootstrap")
    quality = compare(r2_now, r2_ref, direction="higher", margin=0.0, alpha=0.05)
    lat = Measurement("latency_p95_ms", 2.373, None, None, None, 100, "benchmark", {})
    perf = compare_performance(lat, 2.49, direction="lower", tolerance=0.1)
    report = _report([(r2_now, quality), (lat, perf)])
    # JSON: the ratio is for performance readings only; the change is always the difference.
    assert quality.to_json()["ratio"] is None
    assert abs(quality.to_json()["change"] + 0.03) < 1e-12
    assert perf.to_json()["ratio"] == 2.373 / 2.49
    (r2_row, lat_row) = metric_rows(report, markdown=True)
    assert r2_row[6] == "-0.03"
    assert lat_row[6] == "x0.953"
    assert "| -0.03 |" in render_markdown(report)
    assert "x0.953" in render_terminal(report) and "x1.6" not in render_terminal(report)
