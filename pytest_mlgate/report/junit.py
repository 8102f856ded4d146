"""JUnit XML properties: a metric's interval, threshold and verdict beside its value, and the
run's gate verdicts as test-suite properties.

Plain functions from the JSON report's content to (name, value) pairs; the plugin hands them to
pytest's junitxml (test-case properties through ``user_properties``, test-suite properties
through its global properties).

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFIX = "mlgate."


def metric_properties(m: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``mlgate.<metric>.low``/``.high`` (the interval), ``.threshold`` (``>= 0.9``) and
    ``.verdict`` (``pass``, ``fail``, ...) of one metric; the value itself is ``mlgate.<metric>``,
    recorded when the metric is."""
    name = f"{PREFIX}{m['name']}"
    out: list[tuple[str, str]] = []
    if m.get("low") is not None and m.get("high") is not None:
        out += [(f"{name}.low", str(m["low"])), (f"{name}.high", str(m["high"]))]
    threshold = m.get("threshold") or {}
    if threshold.get("text"):
        out.append((f"{name}.threshold", str(threshold["text"])))
    out.append((f"{name}.verdict", str(m.get("verdict") or "none")))
    return out


def suite_properties(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``mlgate.verdict``, ``mlgate.exit_status``, ``mlgate.complete``, ``mlgate.seed``,
    ``mlgate.gate.<gate>`` (its verdict) and one ``mlgate.failure`` per line of the report's
    ``failures`` for the run (a failed delivery is no test case: these say it)."""
    run = report.get("run") or {}
    out = [(f"{PREFIX}verdict", str(report.get("verdict")))]
    if "exit_status" in run:
        out.append((f"{PREFIX}exit_status", str(run["exit_status"])))
    out += [(f"{PREFIX}complete", "true" if run.get("complete") else "false"),
            (f"{PREFIX}seed", str(run.get("seed")))]
    for gate, g in (report.get("gates") or {}).items():
        out.append((f"{PREFIX}gate.{gate}", str(g.get("verdict"))))
    out += [(f"{PREFIX}failure", str(line)) for line in report.get("failures", [])]
    return out
