"""The notification of a gate-mode run, read from its JSON report's content (what every other
rendering reads): the failures first with their reasons, the metrics that failed or were
inconclusive, the delivered model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pytest_mlgate.notify.message import Notification

TITLE_REASON_CHARS = 120
# The branch a CI run is on (GitHub: a pull request's head, else the ref; GitLab): each branch
# keeps its own last verdict for mlgate_notify_on = change.
_BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME")


def ci_state_key(env: Mapping[str, str] | None = None) -> str:
    """``ci``, or ``ci:BRANCH`` in a CI job whose branch is known."""
    env = os.environ if env is None else env
    branch = next((env[k].strip() for k in _BRANCH_VARIABLES if env.get(k, "").strip()), "")
    return f"ci:{branch}" if branch else "ci"


def failure_lines(report: Mapping[str, Any]) -> tuple[str, ...]:
    """Each reason the run failed, in words: failed metrics and tests first, then the run's."""
    from pytest_mlgate.report.failures import failures

    out = []
    for f in failures(report):
        if not f.test:
            out.append(f.reason)
            continue
        what = f"{f.gate} gate: {f.test}" if f.gate else f.test
        if f.metric:
            what += f" {f.metric} = {f.value}"
        out.append(f"{what}: {f.reason}")
    return tuple(dict.fromkeys(out))


def notable_metrics(report: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The metrics that failed, then those that were inconclusive."""
    found: dict[str, list[dict[str, Any]]] = {"fail": [], "inconclusive": []}
    for t in report.get("tests", []):
        for m in t.get("metrics", []):
            verdict = m.get("verdict")
            if verdict in found:
                found[verdict].append({"name": m.get("name"), "value": m.get("value"), "low": m.get("low"),
                                       "high": m.get("high"), "verdict": verdict, "test": t.get("nodeid")})
    return (*found["fail"], *found["inconclusive"])


def delivered_model(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The first artefact the run delivered, or None."""
    delivery = report.get("delivery") or {}
    for a in delivery.get("artifacts") or ():
        if a.get("artifact_id"):
            return {"name": a.get("name"), "version": a.get("version"), "artifact_id": a.get("artifact_id")}
    return None


def ci_notification(report: Mapping[str, Any], *, project: str, report_path: str | None = None,
                    env: Mapping[str, str] | None = None) -> Notification:
    """The notification of a gate-mode run from its report (``RunResult.to_json()``)."""
    healthy = report.get("verdict") == "pass"
    reasons = failure_lines(report) if not healthy else ()
    if healthy:
        title = f"pytest-mlgate: {project} passed every gate"
    else:
        first = reasons[0] if reasons else "see the report"
        if len(first) > TITLE_REASON_CHARS:
            first = first[: TITLE_REASON_CHARS - 3] + "..."
        more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
        title = f"pytest-mlgate: {project} FAILED: {first}{more}"
    return Notification(source="ci", verdict="pass" if healthy else "fail", healthy=healthy, title=title,
                        failures=reasons, metrics=notable_metrics(report), model=delivered_model(report),
                        report_path=report_path, state_key=ci_state_key(env))
