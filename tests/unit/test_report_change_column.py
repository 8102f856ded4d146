"""The change column: a difference for quality metrics, a ratio for performance readings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.baseline import BaselineEntry, write_baseline
from pytest_mlgate.cli import main
from pytest_mlgate.delivery.card import render_card
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


def test_model_card_and_baseline_diff_use_the_same_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r2_now = Measurement("r2", 0.05, 0.01, 0.09, 0.95, 400, "bootstrap", {})
    quality = compare(r2_now, BaselineEntry("k", "r2", 0.08, 0.04, 0.12, 0.95, 400, "bootstrap"),
                      direction="higher", margin=0.0, alpha=0.05)
    lat = Measurement("latency_p95_ms", 2.373, None, None, None, 100, "benchmark", {})
    perf = compare_performance(lat, 2.49, direction="lower", tolerance=0.1)
    card = render_card(name="m", manifest_meta={}, run=_report([(r2_now, quality), (lat, perf)]),
                       card={}, data={}, signature=None)
    (r2_line,) = [line for line in card.splitlines() if line.startswith("| r2 |")]
    (lat_line,) = [line for line in card.splitlines() if line.startswith("| latency_p95_ms |")]
    assert "| -0.03 |" in r2_line and "| x0.953 |" in lat_line

    old, new = tmp_path / "old.json", tmp_path / "new.json"
    for path, r2, p95 in ((old, 0.08, 2.49), (new, 0.05, 2.373)):
        write_baseline(path, [BaselineEntry("k", "r2", r2, method="bootstrap"),
                              BaselineEntry("k", "latency_p95_ms", p95, method="benchmark")],
                       {}, plugin_version="0", git={}, machine={})
    assert main(["baseline", "diff", str(old), str(new)]) == 0
    rows = {f[1]: f[4] for f in (line.split() for line in capsys.readouterr().out.splitlines()) if f[:1] == ["k"]}
    assert rows == {"r2": "-0.03", "latency_p95_ms": "x0.953"}
