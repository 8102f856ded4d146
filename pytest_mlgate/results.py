"""What a gate-mode run decided: each test as the controller saw it, each gate's verdict, and
the run as a whole, with the JSON report built from them at the edge (``RunResult.to_json``).

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pytest_mlgate import __version__

REPORT_SCHEMA = "pytest-mlgate/report"
REPORT_SCHEMA_VERSION = 1


class TestEntry:
    """One test as the controller saw it. A plain class: one is made per gated test."""

    __slots__ = ("duration_s", "ended", "gate", "message", "nodeid", "outcome", "record", "reruns")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.gate: str | None = None
        self.reruns = 0
        self._start()

    def _start(self) -> None:
        self.outcome = "not_run"  # passed, failed, error, skipped, xfailed, xpassed, not_run
        self.duration_s = 0.0
        self.record: dict[str, Any] | None = None
        self.message = ""
        self.ended = False  # its teardown (or crash) was reported

    def rerun(self) -> None:
        """The test is being run again (pytest-rerunfailures): only the final attempt counts."""
        self.reruns += 1
        self._start()

    def to_json(self) -> dict[str, Any]:
        record = self.record or {}
        return {
            "nodeid": self.nodeid,
            "gate": self.gate,
            "key": record.get("key", self.nodeid),
            "seed": record.get("seed"),
            "outcome": self.outcome,
            "reruns": self.reruns,
            "duration_s": round(self.duration_s, 6),
            "message": self.message,
            "metrics": record.get("metrics", []),
            "fingerprints": record.get("fingerprints", {}),
            "series": record.get("series"),
        }


# pytest's exit statuses (pytest.ExitCode), named without importing pytest.
EXIT_REASONS: dict[int, str] = {
    1: "tests failed",
    2: "the run was interrupted",
    3: "pytest hit an internal error",
    4: "a usage error stopped the run",
    5: "no test was collected or selected",
}


class GateResult(NamedTuple):
    gate: str
    required: bool
    passed: int
    failed: int
    errored: int
    skipped: int
    verdict: str  # "pass", "fail", "empty" (not required, no test ran), "not_run" (see decide)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "required": self.required, "passed": self.passed, "failed": self.failed,
            "errored": self.errored, "skipped": self.skipped, "verdict": self.verdict,
            "reason": self.reason,
        }


class RunResult:
    """What a gate-mode run decided. ``passed`` is True when every gate passed.

    Delivery and the baseline update fill in ``delivery`` and ``baseline`` afterwards."""

    def __init__(self, *, complete: bool, incomplete_reasons: list[str], gates: dict[str, GateResult],
                 tests: list[TestEntry], run: dict[str, Any], failures: list[str],
                 ungated_failures: int = 0, rootpath: str = ".") -> None:
        self.complete = complete
        self.incomplete_reasons = incomplete_reasons
        self.gates = gates
        self.tests = tests
        self.run = run
        self.failures = failures
        self.baseline: dict[str, Any] = {}
        self.delivery: dict[str, Any] | None = None
        self.notifications: list[Any] = []  # notify.Outcome of each target, for the terminal
        self.ungated_failures = ungated_failures
        self.rootpath = rootpath
        self._provenance: dict[str, Any] | None = None

    @property
    def provenance(self) -> dict[str, Any]:
        """Git and machine info of the run, read on first use (a git call and a psutil import
        that a run writing no report does not need)."""
        if self._provenance is None:
            from pytest_mlgate.provenance import git_info, machine_info

            self._provenance = {"git": git_info(self.rootpath), "machine": machine_info()}
        return self._provenance

    @property
    def passed(self) -> bool:
        """Every gate passed (and nothing else, such as a crashed worker, failed the gates)."""
        return not self.failures

    @property
    def tests_failed(self) -> bool:
        """Whether any test of the run failed or errored, gated or not (the report's
        ``tests_failed``; ``GateResult.errored`` is a gate's count of errored tests)."""
        return self.ungated_failures > 0 or any(t.outcome in ("failed", "error") for t in self.tests)

    def conclude(self, exit_status: int) -> None:
        """Record the run's final exit status and make ``failures`` name every reason it is not 0:
        the gates, then a failed delivery or baseline write, failing tests outside the gates, or
        what stopped pytest. Called once, after delivery, before any report is written."""
        delivery = self.delivery
        if delivery is not None and delivery.get("status") == "failed":
            # One line: a deploy command's output stays in the report's ``delivery`` object.
            line = str(delivery.get("message", "")).split("\n", 1)[0].removesuffix(" Output:")
            self.failures.append(line if line.startswith("delivery failed") else f"delivery failed: {line}")
        if self.baseline.get("status") == "failed":
            self.failures.append(f"baseline: {self.baseline.get('message', '')}")
        if self.ungated_failures:
            self.failures.append(f"{self.ungated_failures} test(s) without a gate failed or errored")
        if exit_status != 0 and not self.failures:
            self.failures.append(f"pytest exit status {exit_status}: "
                                 f"{EXIT_REASONS.get(exit_status, 'pytest stopped the run')}")
        self.run["exit_status"] = int(exit_status)

    def to_json(self, provenance: bool = True, metrics_only: bool = False,
                counted_only: bool = False) -> dict[str, Any]:
        """The JSON report's content; ``provenance=False`` leaves out git and machine info,
        ``metrics_only=True`` the tests that recorded no metric (what the terminal shows),
        ``counted_only=True`` the metrics of tests that did not plainly pass (an artefact's)."""
        tests = [t.to_json() for t in self.tests
                 if (t.gate is not None and not metrics_only) or (t.record and t.record.get("metrics"))]
        if counted_only:
            for t in tests:
                if t["outcome"] != "passed":
                    t["metrics"] = []
        return {
            "schema": REPORT_SCHEMA,
            "schema_version": REPORT_SCHEMA_VERSION,
            "plugin_version": __version__,
            "verdict": "pass" if self.passed else "fail",
            "tests_failed": self.tests_failed,
            "run": {**self.run, **(self.provenance if provenance else {}), "complete": self.complete,
                    "incomplete_reasons": list(self.incomplete_reasons)},
            "failures": list(self.failures),
            "not_compared": not_compared(tests),
            "gates": {g: r.to_json() for g, r in self.gates.items()},
            "tests": tests,
            "baseline": dict(self.baseline),
            "delivery": self.delivery,
        }


def not_compared(tests: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The metrics that had a baseline (or champion) they could not be compared with: what a
    report leads with, so that no threshold PASS reads as "no worse than the baseline"."""
    return [{"nodeid": t["nodeid"], "metric": m["name"], "reason": str(c.get("reason") or "")}
            for t in tests for m in t.get("metrics", [])
            if (c := m.get("comparison") or {}).get("verdict") == "not_compared"]
