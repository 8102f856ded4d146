"""The end of a gate-mode run, once the controller has decided: the verdict hook, delivery, the
baseline update and the reports, in that order. Plain Python: what it needs from pytest (the
hooks, the root directory) is handed in.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate import __version__
from pytest_mlgate.results import RunResult
from pytest_mlgate.settings import Settings

# pytest.ExitCode.OK and TESTS_FAILED, without importing pytest.
EXIT_OK, EXIT_TESTS_FAILED = 0, 1


def finish_run(result: RunResult, settings: Settings, *, exitstatus: int, candidates: list[dict[str, Any]],
               baseline_loaded: bool, rootpath: Path, collect_only: bool,
               verdict_hook: Callable[[RunResult], None],
               deploy_hook: Callable[[Any], None] | None) -> int:
    """Notify, deliver, update the baseline, write reports. Returns the run's exit status.

    Reports are written whatever happens before them (a failing run is when they matter most).
    """
    status = exitstatus
    loaded = baseline_loaded
    result.baseline = baseline_info(settings.baseline, loaded, "not_requested")
    try:
        if settings.gate_mode and not collect_only:
            try:
                verdict_hook(result)
            except Exception as exc:  # a team's notification hook must not hide the verdict
                result.failures.append(f"pytest_mlgate_verdict hook raised {type(exc).__name__}: {exc}")
            # Deliver first: the baseline moves forward only when what it describes shipped.
            if settings.deliver:
                result.delivery = deliver(settings, result, candidates, deploy_hook)
            if settings.update_baseline:
                if result.delivery is not None and result.delivery.get("status") == "failed":
                    result.baseline = baseline_info(settings.baseline, loaded, "refused",
                                                    "not updated: delivery did not succeed")
                else:
                    # A skipped delivery has the reasons update_baseline refuses for too.
                    info = update_baseline(settings, result, rootpath)
                    result.baseline = baseline_info(
                        settings.baseline, loaded, str(info.get("status", "failed")),
                        str(info.get("message", "")), updated=bool(info.get("updated")))
    finally:
        # The reports are written once the exit status is final, so that they state it.
        failed = bool(result.failures) or (result.delivery is not None and result.delivery.get("status") == "failed") \
            or (result.baseline.get("status") == "failed")
        can_fail = settings.gate_mode and not collect_only
        if can_fail and failed and status == EXIT_OK:
            status = EXIT_TESTS_FAILED
        result.conclude(int(status))
        status = write_reports(settings, result, int(status), can_fail=can_fail)
        if can_fail and settings.notify:
            result.notifications = notify(settings, result, rootpath)
    return int(status)


def notify(settings: Settings, result: RunResult, rootpath: Path) -> list[Any]:
    """Send the run's notification (docs/notifications.md), once the reports are written so
    that it can point at the JSON report. Returns the outcomes for the terminal summary; a
    target that failed never changes the verdict or the exit status."""
    from pytest_mlgate.notify import NotifyConfig, Outcome, send_all
    from pytest_mlgate.notify.ci import ci_notification

    try:
        cfg = NotifyConfig.from_ini(lambda key: getattr(settings, key.removeprefix("mlgate_")), rootpath)
        report = settings.report
        written = report is not None and report.is_file()
        n = ci_notification(result.to_json(), project=rootpath.name,
                            report_path=str(report) if written else None)
        return list(send_all(n, cfg))
    except Exception as exc:  # the run's verdict stands whatever happens here
        return [Outcome("mlgate_notify", False, f"{type(exc).__name__}: {exc}")]


BASELINE_STATUSES = ("not_requested", "written", "refused", "failed")


def baseline_info(path: Any, loaded: bool, status: str, message: str = "", *,
                  updated: bool = False) -> dict[str, Any]:
    """The report's ``baseline`` object: the same keys on every run (docs/reports.md)."""
    assert status in BASELINE_STATUSES, status
    return {"path": str(path), "loaded": loaded, "updated": updated, "status": status,
            "message": message}


def write_reports(settings: Settings, result: RunResult, status: int = EXIT_OK, *,
                  can_fail: bool = True) -> int:
    """Write the HTML page, the Markdown summary, the JSON report and the job summary; returns
    the exit status. A report that cannot be written is a failure of the run (when ``can_fail``):
    it goes into ``failures`` and the exit status, and every report written before it is
    written again, so that no report says "pass" beside a run that exited 1."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY") if settings.gate_mode else None
    outputs: list[tuple[str, Any]] = [
        (kind, path) for kind, path in (("html", settings.html), ("markdown", settings.markdown),
                                        ("json", settings.report), ("summary", summary))
        if path is not None and path != ""]
    if not outputs:
        return status
    written: dict[str, int] = {}  # output -> len(result.failures) when it was written
    refused: set[str] = set()
    cache: dict[tuple[str, int], Any] = {}

    def content(kind: str) -> Any:
        key = (kind, len(result.failures))
        if key not in cache:
            report = cache.setdefault(("json", key[1]), result.to_json())
            if kind == "markdown" or kind == "summary":
                from pytest_mlgate.report.render import render_markdown

                cache[key] = render_markdown(report)
            elif kind == "html":
                from pytest_mlgate.report.html import render_html

                cache[key] = render_html(report)
        return cache[key]

    # The job summary is appended to, so it is written last and once; a second pass rewrites
    # what was written before a later write failed.
    for _ in range(2):
        for kind, path in outputs:
            if kind in refused or written.get(kind) == len(result.failures) or (kind == "summary" and kind in written):
                continue
            problem = _write_one(kind, path, content)
            if problem is None:
                written[kind] = len(result.failures)
                continue
            refused.add(kind)
            result.failures.append(problem)
            if can_fail and status == EXIT_OK:
                status = EXIT_TESTS_FAILED
            if "exit_status" in result.run:
                result.run["exit_status"] = int(status)
    return status


def _write_one(kind: str, path: Any, content: Callable[[str], Any]) -> str | None:
    """Write one report; None, or the line for ``failures`` saying why it could not be."""
    from pytest_mlgate.atomic import write_output
    from pytest_mlgate.errors import MlgateError
    from pytest_mlgate.strict_json import file_bytes

    what = {"html": "the HTML report", "summary": "GITHUB_STEP_SUMMARY"}.get(kind, "the report")
    try:
        if kind == "summary":
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(content(kind))
        elif kind == "json":
            write_output(path, file_bytes(content(kind)))
        else:
            write_output(path, content(kind).encode("utf-8"))
    except (OSError, MlgateError) as exc:
        why = exc.strerror or exc if isinstance(exc, OSError) else exc
        if kind == "summary":
            return f"could not append to GITHUB_STEP_SUMMARY {path}: {why}"
        return f"could not write {what} {path}: {why}"
    return None


def update_baseline(settings: Settings, result: RunResult, rootpath: Path) -> dict[str, Any]:
    """Write the baseline from this run, or say why not. Never writes from a failing run."""
    path = settings.baseline
    info: dict[str, Any] = {"path": str(path), "updated": False}
    if not result.passed:
        info.update(status="refused", message=f"not updated: gates failed ({'; '.join(result.failures)})")
        return info
    if not result.complete:
        info.update(status="refused",
                    message=f"not updated: the run was incomplete ({'; '.join(result.incomplete_reasons)})")
        return info
    if result.tests_failed:
        info.update(status="refused", message="not updated: some tests failed or errored")
        return info
    from pytest_mlgate.baseline import BaselineEntry, read_samples, write_baseline
    from pytest_mlgate.measurement import Measurement
    from pytest_mlgate.provenance import git_info, machine_info

    entries: list[BaselineEntry] = []
    samples: dict[tuple[str, str], Mapping[str, Any]] = {}
    for t in result.tests:
        if t.outcome != "passed":  # skipped, xfailed, xpassed: what it measured is no reference
            continue
        rec = t.record or {}
        key = rec.get("key", t.nodeid)
        staged = read_samples(rec["samples_file"]) if rec.get("samples_file") else {}
        for m in rec.get("metrics", []):
            if isinstance(m["value"], str):  # NaN or infinite: never a reference
                continue
            entries.append(BaselineEntry.of(key, Measurement.from_json(m)))
            if m["name"] in staged:
                samples[(key, m["name"])] = staged[m["name"]]
    try:
        write_baseline(path, entries, samples, plugin_version=__version__,
                       git=git_info(rootpath), machine=machine_info())
    except Exception as exc:
        info.update(status="failed", message=f"could not write {path}: {exc}")
        return info
    info.update(status="written", updated=True,
                message=f"wrote {len(entries)} metric(s) to {path}")
    return info


def report_for_candidate(run_report: Mapping[str, Any], name: str,
                         named: Mapping[str, set[str]]) -> dict[str, Any]:
    """The run report an artefact carries: without the tests that named only other candidates
    (``named``: test id -> candidate names). A test that named no candidate (or a candidate
    named from the session fixture) may be about any model, so every artefact keeps it."""
    def keep(test: Mapping[str, Any]) -> bool:
        # pytest-xdist's loadgroup suffixes grouped tests' node ids with "@" and the group names.
        nodeid = str(test.get("nodeid", ""))
        names = named.get(nodeid, named.get(nodeid.rsplit("@", 1)[0]))
        return names is None or name in names

    return {**run_report, "tests": [t for t in run_report.get("tests", []) if keep(t)]}


def deliver(settings: Settings, result: RunResult, candidates: list[dict[str, Any]],
            deploy_hook: Callable[[Any], None] | None) -> dict[str, Any]:
    """Publish every candidate, run the deploy steps, then move the requested aliases, when
    (and only when) the run allows. See delivery/pipeline.py for the order."""
    why = []
    if not result.complete:
        why.append("the run was incomplete (" + "; ".join(result.incomplete_reasons) + ")")
    if not result.passed:
        why.append("gates failed (" + "; ".join(result.failures) + ")")
    if result.tests_failed:
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
    named: dict[str, set[str]] = {}  # test id -> the candidates it named
    for c in candidates:
        seen = by_name.get(c["name"])
        if seen is not None and seen["content_hash"] != c["content_hash"]:
            return {"status": "failed", "artifacts": [],
                    "message": f"nothing delivered: candidate {c['name']!r} was registered twice with "
                               f"different models; register one model per name"}
        by_name[c["name"]] = c
        for test in c.get("tests") or ():
            named.setdefault(str(test), set()).add(c["name"])
    from pytest_mlgate.delivery.deploy import parse_deploy_targets
    from pytest_mlgate.delivery.pipeline import DeployHook, deliver_candidate
    from pytest_mlgate.delivery.registries import open_registry
    from pytest_mlgate.delivery.signing import load_signing_key
    from pytest_mlgate.delivery.staging import StagedCandidate
    from pytest_mlgate.errors import MlgateError

    artifacts: list[dict[str, Any]] = []
    run_report = result.to_json(counted_only=True)
    hooks: list[DeployHook] = []
    if deploy_hook is not None:
        hooks.append(("hook pytest_mlgate_deploy", deploy_hook))
    try:
        targets = [
            # "{python}" is the interpreter running pytest, so a deploy script sees the same packages.
            dataclasses.replace(t, argv=tuple(sys.executable if a == "{python}" else a for a in t.argv))
            for t in parse_deploy_targets(settings.deploy, default_timeout=settings.deploy_timeout)
        ]
        key = load_signing_key(settings.signing_key) if settings.signing_key else None
        registry = open_registry(settings.registry)
        for c in by_name.values():
            entry, failure = deliver_candidate(registry, StagedCandidate.from_json(c),
                                               report_for_candidate(run_report, c["name"], named),
                                               targets=targets, hooks=hooks, aliases=settings.aliases,
                                               signing_key=key,
                                               serve_latency_p95_ms=settings.serve_latency_p95_ms)
            artifacts.append(entry)
            if failure is not None:
                return {"status": "failed", "artifacts": artifacts, "message": f"delivery failed: {failure}"}
    except MlgateError as exc:
        done = "; ".join(f"{a['name']} v{a['version']} was delivered" for a in artifacts)
        return {"status": "failed", "artifacts": artifacts,
                "message": f"delivery failed: {exc}" + (f" ({done})" if done else "")}
    names = ", ".join(f"{a['name']} v{a['version']}" for a in artifacts)
    return {"status": "delivered", "artifacts": artifacts, "message": f"published {names} to {settings.registry}"}
