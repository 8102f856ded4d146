"""The controller: sees every test report (pytest-xdist included) and decides gate verdicts once.

``Controller`` lives in ``config.stash`` of the controlling process. It sees every test report
(``observe``), learns what was collected and what was not run, and at the end ``decide`` turns
that into a ``RunResult`` (results.py): per-gate counts and verdicts, completeness. What is done
with the result (the verdict hook, delivery, the baseline update, reports) is in finish.py.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlgate.markers import GATES
from pytest_mlgate.results import GateResult, RunResult, TestEntry
from pytest_mlgate.settings import Settings

if TYPE_CHECKING:
    from pytest_mlgate.services import ProcessServices


def _short(longrepr: Any) -> str:
    if longrepr is None:
        return ""
    text = getattr(longrepr, "reprcrash", None)
    if text is not None and getattr(text, "message", None):
        return str(text.message).splitlines()[0][:300]
    s = str(longrepr).strip().splitlines()
    return s[-1][:300] if s else ""


class Controller:
    """Run state of the controller."""

    def __init__(self, config: pytest.Config, settings: Settings, seed: int,
                 services: ProcessServices) -> None:
        self.config = config
        self.settings = settings
        self.services = services
        self.seed = seed
        self.started = time.time()
        self.tests: dict[str, TestEntry] = {}
        self.collected: set[str] = set()
        self.finished: set[str] = set()
        self.ungated_failed: set[str] = set()  # node ids: a test can fail in call and teardown
        # node id -> the error in one line; a mapping: every xdist worker reports the same error
        self.collection_errors: dict[str, str] = {}
        self.deselected: dict[str, int] = {}  # gate -> gated tests deselected (-k, -m, ...)
        self.crashed_workers: list[str] = []
        self.interrupted = False
        self.usage_error = ""  # a usage error found at collection, which stops the run
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
        # The process that ran the test put its data on the report (plugin.ReportData).
        data = report.__dict__.get("mlgate")
        outcome: str = report.outcome
        if data is None and entry is None:
            # A test without a gate: only completeness (above) and failures matter. This runs for
            # every report of every test, so it does as little as it can.
            if outcome == "failed":
                self.ungated_failed.add(nodeid)
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
        usage_error = report.__dict__.get("mlgate_usage_error")
        if usage_error:  # a pytest-xdist worker's usage error (plugin.pytest_collection_modifyitems)
            self.usage_error = str(usage_error)
        elif report.failed:
            self.collection_errors[report.nodeid or "<session>"] = _error_line(report)

    # The session object is registered as a plugin on the controller in gate mode, so these
    # hooks cost nothing when gate mode is off.
    pytest_runtest_logreport = observe

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.observe_collect(report)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        # pytest stops after a collection error by raising Session.Interrupted, a KeyboardInterrupt
        if not (self.collection_errors and excinfo.errisinstance(pytest.Session.Interrupted)):
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
        # --stepwise needs no reason of its own: the tests it skips are deselected (counted
        # above) and the first failure stops the run (collected tests not run, below). With no
        # earlier failure it runs the whole suite, and such a run is complete.
        if getattr(opt, "collectonly", False):
            reasons.append("--collect-only ran no test")
        not_run = self.collected - self.finished
        stopped = self._stopped_by(exitstatus)
        # pytest runs nothing after a collection error (exit status 2, not an interrupt or -x)
        collection_stop = bool(self.collection_errors) and exitstatus == pytest.ExitCode.INTERRUPTED \
            and not self.interrupted
        if stopped:
            reasons.append(f"{stopped} stopped the run before any test ran")
        elif collection_stop and not getattr(opt, "collectonly", False):
            reasons.append(f"{len(not_run)} collected test(s) did not run: pytest stops after a collection "
                           "error (--continue-on-collection-errors runs the others)")
        elif not_run and not getattr(opt, "collectonly", False):
            reasons.append(f"{len(not_run)} collected test(s) did not run (-x/--maxfail or an interrupt)")
        if self.interrupted or (exitstatus == pytest.ExitCode.INTERRUPTED and not collection_stop):
            reasons.append("the run was interrupted")
        if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
            reasons.append("pytest hit an internal error")
        if self.crashed_workers:
            reasons.append(f"pytest-xdist worker(s) crashed: {', '.join(self.crashed_workers)}")
        return reasons

    def _stopped_by(self, exitstatus: int) -> str:
        """"a usage error" when one stopped the run before any test ran, else ""."""
        if self.usage_error or (exitstatus == pytest.ExitCode.USAGE_ERROR and not self.finished):
            return "a usage error"
        return ""

    def _selected_elsewhere(self) -> list[str]:
        """Selections that can leave out tests of any gate without deselecting them (they are
        never collected): paths or node ids on the command line, --lf skipping whole files."""
        reasons = []
        narrowed = self._narrowed_by_arguments()
        if narrowed:
            reasons.append(narrowed)
        if getattr(self.config.option, "lf", False) and self._lf_selected():
            reasons.append("--lf runs only the tests that failed last time")
        # --ignore on the command line drops files before collection (nothing is deselected, so
        # nothing else sees it). In addopts or a conftest it is part of how the project defines
        # its suite, and leaves the run complete.
        ignores = sorted({a.split("=", 1)[0] for a in map(str, self.config.invocation_params.args)
                          if a.split("=", 1)[0] in ("--ignore", "--ignore-glob")})
        if ignores:
            verb = "leaves" if len(ignores) == 1 else "leave"
            reasons.append(f"{' and '.join(ignores)} on the command line {verb} part of the suite out")
        return reasons

    def _lf_selected(self) -> bool:
        """Whether --lf picked a subset: pytest's lfplugin found earlier failures among the
        tests (with none, it runs the whole suite: 'no previously failed tests')."""
        lf = self.config.pluginmanager.get_plugin("lfplugin")
        if lf is None:
            return False
        if not hasattr(lf, "_previously_failed_count"):  # another pytest: its failure record
            return bool(getattr(lf, "lastfailed", None))
        return bool(lf._previously_failed_count)

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
        def covered(path: Path) -> bool:
            return any(g == path or g in path.parents for g in given)

        # A root is covered by a path at or above it, or by paths naming every test file in it.
        uncovered = [r for r in roots if not covered(r) and not all(map(covered, self._test_files(r)))]
        if uncovered:
            return f"the paths on the command line cover only part of the suite (not all of {', '.join(map(str, uncovered))})"
        return ""

    def _test_files(self, root: Path) -> list[Path]:
        """The files under ``root`` that pytest would collect test modules from (``python_files``
        patterns, ``norecursedirs`` skipped): [root] when it cannot tell, so it is not covered."""
        import fnmatch
        import os

        if not root.is_dir():
            return [root]
        patterns = [str(p) for p in self.config.getini("python_files")]
        skip = [str(p) for p in self.config.getini("norecursedirs")]
        found = []
        for here, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not any(fnmatch.fnmatch(d, s) for s in skip)]
            found += [Path(here, f).resolve() for f in files
                      if f.endswith(".py") and any(fnmatch.fnmatch(f, p) for p in patterns)]
        return found or [root]

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
        stopped = self._stopped_by(exitstatus)
        if stopped:
            failures.append(self.usage_error or f"pytest exit status {int(exitstatus)}: {stopped} stopped the run")
        # A collection error is why a gate saw no test: say so first, with the error, rather
        # than leaving "required gate, but no test ran" to explain it.
        failures.extend(f"collection error in {nodeid}: {line}" for nodeid, line in self.collection_errors.items())
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
                if is_req and stopped:
                    verdict, reason = "not_run", f"{stopped} stopped the run"
                elif unselected:
                    verdict, reason = "not_run", unselected
                elif is_req and self.collection_errors:
                    verdict, reason = "fail", f"required gate, but no test ran: {self._collection_failed()}"
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
        if not_run and not stopped:
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
            tests=tests, run=run, failures=failures, ungated_failures=len(self.ungated_failed),
            rootpath=str(self.config.rootpath),
        )
        return self.result

    def _collection_failed(self) -> str:
        names = list(self.collection_errors)
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return f"collection failed in {', '.join(names[:3])}{more}"

    def candidates(self, local: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = list(local)
        for data in self.worker_data:
            out.extend(data.get("candidates", []))
        return out

    def finish(self, exitstatus: int) -> int:
        """Decide, then do the end-of-run work (finish.py); returns the run's exit status."""
        from pytest_mlgate.finish import finish_run

        config = self.config
        hook = config.hook
        if self.usage_error and exitstatus == pytest.ExitCode.TESTS_FAILED:
            # Under pytest-xdist the workers' usage error arrives as a collection error (exit 1);
            # the run ends as a plain run with that usage error does.
            exitstatus = pytest.ExitCode.USAGE_ERROR
        result = self.decide(exitstatus)
        deploy_hook = None
        if hook.pytest_mlgate_deploy.get_hookimpls():
            def deploy_hook(artifact: Any) -> None:
                hook.pytest_mlgate_deploy(artifact=artifact, config=config)
        return finish_run(
            result, self.settings, exitstatus=exitstatus,
            candidates=self.candidates(self.services.candidates),
            baseline_loaded=self.services.baseline is not None, rootpath=config.rootpath,
            collect_only=bool(getattr(config.option, "collectonly", False)),
            verdict_hook=lambda r: hook.pytest_mlgate_verdict(config=config, result=r),
            deploy_hook=deploy_hook)


def _error_line(report: pytest.CollectReport) -> str:
    """A collection error in one line: the exception pytest shows last ("E   ModuleNotFoundError:
    ..."), else the report's last line, at most 300 characters."""
    lines = [line.strip() for line in (report.longreprtext or "").splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    line = (errors or lines or ["(no message)"])[-1]
    return line if len(line) <= 300 else line[:299] + "…"
