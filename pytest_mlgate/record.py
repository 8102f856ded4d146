"""What one test measured and what was decided about it: ``Record`` and ``MetricResult``.

A record lives in ``item.stash`` of the process that runs the test. The fixture fills it,
``verdicts.judge`` decides on it when the body ends, and it rides to the controller on the test's
teardown report.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_mlgate.markers import GateSpec, Threshold
from pytest_mlgate.measurement import Comparison, Measurement

#: The version of a test's ``series`` in the JSON report (what the HTML report draws).
SERIES_VERSION = 1


def series_document(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``series`` value of a test in the JSON report: its items (report.series) versioned."""
    return {"version": SERIES_VERSION, "items": items}


@dataclass
class MetricResult:
    """A recorded metric with its threshold and comparison verdicts."""

    measurement: Measurement
    threshold: Threshold | None = None
    # "pass", "fail", "inconclusive" (slices only) or None (no threshold)
    threshold_verdict: str | None = None
    # A slice's Holm-adjusted p-value of "worse than the threshold" (None for other metrics).
    threshold_p: float | None = None
    comparison: Comparison | None = None
    verdict: str = "none"  # combined: fail > inconclusive > not_compared > improved > pass > none

    def to_json(self) -> dict[str, Any]:
        d = self.measurement.to_json()
        d["threshold"] = self.threshold.to_json() if self.threshold else None
        d["threshold_verdict"] = self.threshold_verdict
        d["threshold_p"] = self.threshold_p
        d["comparison"] = self.comparison.to_json() if self.comparison else None
        d["verdict"] = self.verdict
        return d


@dataclass
class Record:
    """Everything one test measured; lives in ``item.stash`` in the process that runs it."""

    nodeid: str
    spec: GateSpec | None
    measurements: dict[str, Measurement] = field(default_factory=dict)
    samples: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    results: list[MetricResult] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    samples_file: str | None = None
    seed: int | None = None
    # Failures found while the body ran that are reported when it ends (worst-slice verdicts).
    failures: list[str] = field(default_factory=list)
    # What this attempt added to the item and the session, taken back if the test is run again
    # (pytest-rerunfailures): its user properties and its candidates.
    properties: list[tuple[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False  # the attempt is over: its body finished, or the fixture was torn down
    # Slice measurement name -> (its metric's threshold, verdict, Holm-adjusted p).
    slice_thresholds: dict[str, tuple[Threshold, str, float]] = field(default_factory=dict)
    # What the report draws (report/series.py): bounded curves, histograms, drift columns.
    series: list[dict[str, Any]] = field(default_factory=list)
    # Metric name -> why record() refused its last value (a NaN, say). Kept even when the test
    # caught the error: the last value offered was not a number, so no earlier one counts.
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def gate(self) -> str | None:
        return self.spec.gate if self.spec else None

    @property
    def key(self) -> str:
        return self.spec.key if self.spec and self.spec.key else self.nodeid

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "key": self.key,
            "seed": self.seed,
            "metrics": [r.to_json() for r in self.results],
            "fingerprints": dict(self.fingerprints),
            "samples_file": self.samples_file,
            **({"series": series_document(self.series)} if self.series else {}),
        }

    def add_series(self, build: Callable[[], list[dict[str, Any]]]) -> None:
        """Keep what the report draws of a measurement. Drawing is no gate: should building the
        series fail, the report says so in place of the plot, and the test goes on."""
        try:
            self.series.extend(build())
        except Exception as exc:
            self.series.append({"kind": "error", "message": f"{type(exc).__name__}: {exc}"[:300]})
