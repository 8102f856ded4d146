"""The controller: collects test reports (pytest-xdist included), decides gate verdicts once.

``GateSession`` lives in ``config.stash`` of the controlling process. It sees every test report
(``observe``), learns what was collected and what was not run, and at the end ``decide`` turns
that into a ``RunResult``: per-gate counts and verdicts, completeness, and the JSON report.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from pytest_mlgate import __version__
from pytest_mlgate.markers import GATES
from pytest_mlgate.settings import Settings

if TYPE_CHECKING:
    from pytest_mlgate.services import SessionServices

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
    def errored(self) -> bool:
        """Whether any test of the run failed or errored, gated or not."""
        return self.ungated_failures > 0 or any(t.outcome in ("failed", "error") for t in self.tests)

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
            "tests_failed": self.errored,
            "run": {**self.run, **(self.provenance if provenance else {}), "complete": self.complete,
                    "incomplete_reasons": list(self.incomplete_reasons)},
            "failures": list(self.failures),
            "gates": {g: r.to_json() for g, r in self.gates.items()},
            "tests": tests,
            "baseline": dict(self.baseline),
            "delivery": self.delivery,
        }


def _short(longrepr: Any) -> str:
    if longrepr is None:
        return ""
    text = getattr(longrepr, "reprcrash", None)
    if text is not None and getattr(text, "message", None):
        return str(text.message).splitlines()[0][:300]
    s = str(longrepr).strip().splitlines()
    return s[-1][:300] if s else ""


class GateSession:
    """Run state of the controller."""

    def __init__(self, config: pytest.Config, settings: Settings, seed: int,
                 services: SessionServices) -> None:
        self.config = config
        self.settings = settings
        self.services = services
        self._gated = services.gated
        self._records = services.records
        self.seed = seed
        self.started = time.time()
        self.tests: dict[str, TestEntry] = {}
        self.collected: set[str] = set()
        self.finished: set[str] = set()
        self.ungated_failures = 0
        self.collection_errors: set[str] = set()  # a set: every xdist worker reports the same error
        self.deselected: dict[str, int] = {}  # gate -> gated tests deselected (-k, -m, ...)
        self.crashed_workers: list[str] = []
        self.interrupted = False
        self.worker_data: list[dict[str, Any]] = []
        self.result: RunResult | None = None

    # -- observation ---------------------------------------------------------------------
    def observe(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        when = report.when
        # pytest-xdist reports a test whose worker crashed with when="???": it ended too.
        if when != "setup" and when != "call":
            self.finished.add(nodeid)
        entry = self.tests.get(nodeid)
        # A pytest-xdist worker's report carries the data; in one process it comes from the items.
        data = report.__dict__.get("mlgate")
        if data is None and (entry is not None or nodeid in self._gated or nodeid in self._records):
            data = self.services.report_data(nodeid, when)
        outcome: str = report.outcome
        if data is None and entry is None:
            # A test without a gate: only completeness (above) and failures matter. This runs for
            # every report of every test, so it does as little as it can.
            if outcome == "failed":
                self.ungated_failures += 1
            return
        if entry is None:
            entry = self.tests[nodeid] = TestEntry(nodeid)
        elif entry.ended and when == "setup":
            entry.rerun()
        if when != "setup" and when != "call":
            entry.ended = True
        if data is not None:
            entry.gate = data.get("gate", entry.gate)
            if "metrics" in data:
                entry.record = data
        entry.duration_s += report.duration or 0.0
        if outcome == "rerun":
            # pytest-rerunfailures: this attempt failed and the test runs again; should the run
            # stop before it does, the failure stands.
            outcome = "failed"
        if outcome == "failed":
            if when == "call":
                entry.outcome = "failed"
            elif entry.outcome != "failed":
                entry.outcome = "error"
            if not entry.message:
                entry.message = _short(report.longrepr)
        elif outcome == "skipped":
            if entry.outcome not in ("failed", "error"):
                entry.outcome = "xfailed" if "wasxfail" in report.__dict__ else "skipped"
                if not entry.message:
                    lr = report.longrepr
                    entry.message = str(lr[2]) if isinstance(lr, tuple) and len(lr) == 3 else ""
        elif when == "call" and entry.outcome == "not_run":
            entry.outcome = "xpassed" if "wasxfail" in report.__dict__ else "passed"

    def observe_collect(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.add(report.nodeid or "<session>")

    # The session object is registered as a plugin on the controller in gate mode, so these
    # hooks cost nothing when gate mode is off.
    pytest_runtest_logreport = observe

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.observe_collect(report)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    def add_collected(self, nodeids: Iterable[str]) -> None:
        self.collected.update(nodeids)

    def add_worker_output(self, data: Mapping[str, Any]) -> None:
        self.worker_data.append(dict(data))
        # Every worker collects and deselects the same tests; count them once.
        for gate, n in (data.get("deselected") or {}).items():
            self.deselected[gate] = max(self.deselected.get(gate, 0), int(n))

    # -- decision ------------------------------------------------------------------------
    def incomplete_reasons(self, exitstatus: int) -> list[str]:
        """Why the run is not the whole suite; [] for a complete run. (``decide`` adds the
        required gates the selection left without a test.)"""
        reasons: list[str] = []
        if self.collection_errors:
            reasons.append(f"{len(self.collection_errors)} collection error(s)")
        deselected = sum(self.deselected.values())
        if deselected:
            reasons.append(f"{deselected} gated test(s) deselected (-k, -m, --deselect or --lf)")
        reasons.extend(self._selected_elsewhere())
        opt = self.config.option
        if getattr(opt, "stepwise", False) or getattr(opt, "stepwise_skip", False):
            reasons.append("--stepwise stops at the first failure")
        if getattr(opt, "collectonly", False):
            reasons.append("--collect-only ran no test")
        not_run = self.collected - self.finished
        if not_run and not getattr(opt, "collectonly", False):
            reasons.append(f"{len(not_run)} collected test(s) did not run (-x/--maxfail or an interrupt)")
        if self.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED:
            reasons.append("the run was interrupted")
        if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
            reasons.append("pytest hit an internal error")
        if self.crashed_workers:
            reasons.append(f"pytest-xdist worker(s) crashed: {', '.join(self.crashed_workers)}")
        return reasons

    def _selected_elsewhere(self) -> list[str]:
        """Selections that can leave out tests of any gate without deselecting them (they are
        never collected): paths or node ids on the command line, --lf skipping whole files."""
        reasons = []
        narrowed = self._narrowed_by_arguments()
        if narrowed:
            reasons.append(narrowed)
        if getattr(self.config.option, "lf", False):
            reasons.append("--lf runs only the tests that failed last time")
        return reasons

    def _not_selected(self, gate: str, elsewhere: bool) -> str:
        """Why the selection may have left out the tests of ``gate``, or "" if it did not."""
        n = self.deselected.get(gate, 0)
        if n:
            return f"{n} test(s) deselected"
        return "outside the selected paths or tests" if elsewhere else ""

    def _narrowed_by_arguments(self) -> str:
        """Why the paths or node ids on the command line cover less than the whole suite, or ""."""
        config = self.config
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            return ""
        if any("::" in a for a in config.args):
            return "node ids on the command line select part of the suite"
        here = config.invocation_params.dir
        given = [(here / a).resolve() for a in config.args]
        roots = [(config.rootpath / t).resolve() for t in config.getini("testpaths")] or [config.rootpath.resolve()]
        uncovered = [r for r in roots if not any(g == r or g in r.parents for g in given)]
        if uncovered:
            return f"the paths on the command line cover only part of the suite (not all of {', '.join(map(str, uncovered))})"
        return ""

    def decide(self, exitstatus: int) -> RunResult:
        required = set(self.settings.required_gates)
        counts: dict[str, dict[str, int]] = {g: {"passed": 0, "failed": 0, "errored": 0, "skipped": 0} for g in GATES}
        tests = sorted(self.tests.values(), key=lambda t: t.nodeid)
        for t in tests:
            if t.gate not in counts:
                continue
            c = counts[t.gate]
            # An xfail marker says the test is not trusted: an xfailed or (non-strict) xpassed
            # test is no evidence either way. A strict xpass is reported as failed by pytest.
            if t.outcome == "passed":
                c["passed"] += 1
            elif t.outcome == "failed":
                c["failed"] += 1
            elif t.outcome == "error":
                c["errored"] += 1
            elif t.outcome in ("skipped", "xfailed", "xpassed"):
                c["skipped"] += 1
        gates: dict[str, GateResult] = {}
        failures: list[str] = []
        reasons = self.incomplete_reasons(exitstatus)
        elsewhere = bool(self._selected_elsewhere())
        for g in GATES:
            c = counts[g]
            is_req = g in required
            reason = ""
            if c["failed"] or c["errored"]:
                verdict = "fail"
                reason = f"{c['failed']} failed, {c['errored']} errored"
            elif c["passed"] == 0:
                # A required gate the selection (-k, -m, paths, node ids) left without a test is
                # not run: the run is partial, not failed. A complete run still requires it.
                unselected = self._not_selected(g, elsewhere) if is_req else ""
                if unselected:
                    verdict, reason = "not_run", unselected
                elif is_req:
                    verdict, reason = "fail", "required gate, but no test ran"
                else:
                    verdict, reason = "empty", "no test ran"
            else:
                verdict = "pass"
            if verdict == "fail":
                failures.append(f"gate {g}: {reason}")
            gates[g] = GateResult(g, is_req, c["passed"], c["failed"], c["errored"], c["skipped"], verdict, reason)
        if self.crashed_workers:
            failures.append(f"pytest-xdist worker(s) crashed: {', '.join(self.crashed_workers)}")
        not_run = [g for g, r in gates.items() if r.verdict == "not_run"]
        if not_run:
            reasons.append(f"required gate(s) not run: {', '.join(not_run)} (outside the selection)")
        run = {
            "started": datetime.fromtimestamp(self.started, timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - self.started, 3),
            "seed": self.seed,
            "exit_status": int(exitstatus),
            "args": [str(a) for a in self.config.invocation_params.args],
            "rootdir": str(self.config.rootpath),
            "xdist_workers": len(self.worker_data) or None,
            "settings": {
                "required_gates": list(self.settings.required_gates),
                "level": self.settings.level,
                "alpha": self.settings.alpha,
                "margin": self.settings.margin,
                "inconclusive": self.settings.inconclusive,
                "threshold_policy": self.settings.threshold_policy,
                "perf_tolerance": self.settings.perf_tolerance,
            },
        }
        self.result = RunResult(
            complete=not reasons, incomplete_reasons=reasons, gates=gates,
            tests=tests, run=run, failures=failures, ungated_failures=self.ungated_failures,
            rootpath=str(self.config.rootpath),
        )
        return self.result

    def candidates(self, local: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = list(local)
        for data in self.worker_data:
            out.extend(data.get("candidates", []))
        return out


# -- the end of a gate-mode run ------------------------------------------------------------------

def finish_run(config: pytest.Config, gs: GateSession, services: Any, exitstatus: int) -> int:
    """Decide, notify, update the baseline, deliver, write reports. Returns the exit status.

    Reports are written whatever happens before them (a failing run is when they matter most).
    """
    settings = gs.settings
    result = gs.decide(exitstatus)
    status = exitstatus
    collect_only = bool(getattr(config.option, "collectonly", False))
    loaded = services.baseline is not None
    result.baseline = baseline_info(settings.baseline, loaded, "not_requested")
    try:
        if settings.gate_mode and not collect_only:
            try:
                config.hook.pytest_mlgate_verdict(config=config, result=result)
            except Exception as exc:  # a team's notification hook must not hide the verdict
                result.failures.append(f"pytest_mlgate_verdict hook raised {type(exc).__name__}: {exc}")
            # Deliver first: the baseline moves forward only when what it describes shipped.
            if settings.deliver:
                result.delivery = deliver(config, settings, result, gs.candidates(services.candidates))
            if settings.update_baseline:
                if result.delivery is not None and result.delivery.get("status") == "failed":
                    result.baseline = baseline_info(settings.baseline, loaded, "refused",
                                                    "not updated: delivery did not succeed")
                else:
                    # A skipped delivery has the reasons update_baseline refuses for too.
                    info = update_baseline(config, result, services)
                    result.baseline = baseline_info(
                        settings.baseline, loaded, str(info.get("status", "failed")),
                        str(info.get("message", "")), updated=bool(info.get("updated")))
    finally:
        write_reports(settings, result)
    if collect_only:
        return int(status)
    failed = bool(result.failures) or (result.delivery is not None and result.delivery.get("status") == "failed") \
        or (result.baseline.get("status") == "failed")
    if settings.gate_mode and failed and status == pytest.ExitCode.OK:
        status = pytest.ExitCode.TESTS_FAILED
    return int(status)


BASELINE_STATUSES = ("not_requested", "written", "refused", "failed")


def baseline_info(path: Any, loaded: bool, status: str, message: str = "", *,
                  updated: bool = False) -> dict[str, Any]:
    """The report's ``baseline`` object: the same keys on every run (docs/reports.md)."""
    assert status in BASELINE_STATUSES, status
    return {"path": str(path), "loaded": loaded, "updated": updated, "status": status,
            "message": message}


def write_reports(settings: Settings, result: RunResult) -> None:
    import os

    summary = os.environ.get("GITHUB_STEP_SUMMARY") if settings.gate_mode else None
    if settings.report is None and settings.markdown is None and settings.html is None and not summary:
        return
    from pytest_mlgate.atomic import write_json, write_text
    from pytest_mlgate.report.render import render_markdown

    report = result.to_json()
    markdown = render_markdown(report) if settings.markdown is not None or summary else ""
    for path, is_json in ((settings.report, True), (settings.markdown, False)):
        if path is None:
            continue
        try:
            if is_json:
                write_json(path, report)
            else:
                write_text(path, markdown)
        except OSError as exc:
            result.failures.append(f"could not write the report {path}: {exc.strerror or exc}")
    if settings.html is not None:
        from pytest_mlgate.errors import MlgateError
        from pytest_mlgate.report.html import write_html

        try:
            write_html(settings.html, report)
        except (OSError, MlgateError) as exc:
            why = exc.strerror or exc if isinstance(exc, OSError) else exc
            result.failures.append(f"could not write the HTML report {settings.html}: {why}")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(markdown)
        except OSError as exc:
            result.failures.append(f"could not append to GITHUB_STEP_SUMMARY {summary}: {exc.strerror or exc}")


def update_baseline(config: pytest.Config, result: RunResult, services: Any) -> dict[str, Any]:
    """Write the baseline from this run, or say why not. Never writes from a failing run."""
    settings = services.settings
    path = settings.baseline
    info: dict[str, Any] = {"path": str(path), "updated": False}
    if not result.passed:
        info.update(status="refused", message=f"not updated: gates failed ({'; '.join(result.failures)})")
        return info
    if not result.complete:
        info.update(status="refused",
                    message=f"not updated: the run was incomplete ({'; '.join(result.incomplete_reasons)})")
        return info
    if result.errored:
        info.update(status="refused", message="not updated: some tests failed or errored")
        return info
    from pytest_mlgate.baseline import BaselineEntry, write_baseline
    from pytest_mlgate.provenance import git_info, machine_info
    from pytest_mlgate.recorder import read_samples

    entries: list[BaselineEntry] = []
    samples: dict[tuple[str, str], Mapping[str, Any]] = {}
    for t in result.tests:
        if t.outcome != "passed":  # skipped, xfailed, xpassed: what it measured is no reference
            continue
        rec = t.record or {}
        key = rec.get("key", t.nodeid)
        staged = read_samples(rec["samples_file"]) if rec.get("samples_file") else {}
        for m in rec.get("metrics", []):
            if isinstance(m["value"], str):
                continue
            entries.append(BaselineEntry(
                test_key=key, metric=m["name"], value=float(m["value"]), low=m.get("low"),
                high=m.get("high"), level=m.get("level"), n=m.get("n"), method=m.get("method"),
                fingerprint=(m.get("info") or {}).get("fingerprint"),
                info={k: v for k, v in (m.get("info") or {}).items() if k != "fingerprint"},
            ))
            if m["name"] in staged:
                samples[(key, m["name"])] = staged[m["name"]]
    try:
        write_baseline(path, entries, samples, plugin_version=__version__,
                       git=git_info(config.rootpath), machine=machine_info())
    except Exception as exc:
        info.update(status="failed", message=f"could not write {path}: {exc}")
        return info
    info.update(status="written", updated=True,
                message=f"wrote {len(entries)} metric(s) to {path}")
    return info


def deliver(config: pytest.Config, settings: Settings, result: RunResult,
            candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """Publish every candidate, run the deploy steps, then move the requested aliases, when
    (and only when) the run allows. See delivery/pipeline.py for the order."""
    why = []
    if not result.complete:
        why.append("the run was incomplete (" + "; ".join(result.incomplete_reasons) + ")")
    if not result.passed:
        why.append("gates failed (" + "; ".join(result.failures) + ")")
    if result.errored:
        why.append("some tests failed or errored")
    if why:
        return {"status": "skipped", "message": "nothing delivered: " + "; ".join(why), "artifacts": []}
    if not any(g.passed for g in result.gates.values()):
        return {"status": "failed", "artifacts": [],
                "message": "nothing delivered: no gated test passed, so the model passed no gate "
                           f"(required gates: {', '.join(settings.required_gates) or 'none'}). Mark "
                           "the tests with a gate (@pytest.mark.validation, ...) and keep "
                           "mlgate_required_gates non-empty"}
    if not candidates:
        return {"status": "failed", "artifacts": [],
                "message": "nothing delivered: --mlgate-deliver was given but no test called "
                           "mlgate.candidate(model, name=...)"}
    by_name: dict[str, dict[str, Any]] = {}
    for c in candidates:
        seen = by_name.get(c["name"])
        if seen is not None and seen["content_hash"] != c["content_hash"]:
            return {"status": "failed", "artifacts": [],
                    "message": f"nothing delivered: candidate {c['name']!r} was registered twice with "
                               f"different models; register one model per name"}
        by_name[c["name"]] = c
    from pytest_mlgate.delivery.deploy import parse_deploy_targets
    from pytest_mlgate.delivery.pipeline import DeployHook, deliver_candidate
    from pytest_mlgate.delivery.registry import LocalRegistry
    from pytest_mlgate.delivery.signing import load_signing_key
    from pytest_mlgate.delivery.staging import StagedCandidate
    from pytest_mlgate.errors import MlgateError

    artifacts: list[dict[str, Any]] = []
    run_report = result.to_json(counted_only=True)
    hooks: list[DeployHook] = []
    if config.hook.pytest_mlgate_deploy.get_hookimpls():
        hooks.append(("hook pytest_mlgate_deploy",
                      lambda artifact: config.hook.pytest_mlgate_deploy(artifact=artifact, config=config)))
    try:
        targets = [
            # "{python}" is the interpreter running pytest, so a deploy script sees the same packages.
            dataclasses.replace(t, argv=tuple(sys.executable if a == "{python}" else a for a in t.argv))
            for t in parse_deploy_targets(settings.deploy, default_timeout=settings.deploy_timeout)
        ]
        key = load_signing_key(settings.signing_key) if settings.signing_key else None
        registry = LocalRegistry(settings.registry)
        for c in by_name.values():
            entry, failure = deliver_candidate(registry, StagedCandidate.from_json(c), run_report,
                                               targets=targets, hooks=hooks, aliases=settings.aliases,
                                               signing_key=key)
            artifacts.append(entry)
            if failure is not None:
                return {"status": "failed", "artifacts": artifacts, "message": f"delivery failed: {failure}"}
    except MlgateError as exc:
        done = "; ".join(f"{a['name']} v{a['version']} was delivered" for a in artifacts)
        return {"status": "failed", "artifacts": artifacts,
                "message": f"delivery failed: {exc}" + (f" ({done})" if done else "")}
    names = ", ".join(f"{a['name']} v{a['version']}" for a in artifacts)
    return {"status": "delivered", "artifacts": artifacts, "message": f"published {names} to {settings.registry}"}
