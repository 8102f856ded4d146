"""Delivering one candidate: publish, deploy, then move the requested aliases.

The order keeps the registry truthful: ``latest`` (the newest published version) moves with
the publish; an alias such as ``staging`` or ``production`` moves only once every deploy step
succeeded, so it never points at a version whose deploy failed. Each deploy result (ok, failed,
timed out) is a history event. Before anything deploys the artefact it is verified against the
id the registry pinned; deploy commands get that id as MLGATE_ARTIFACT_ID.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_mlgate.delivery.deploy import (
    SERVE_CHECK,
    DeployTarget,
    DeployTimeout,
    run_deploy_target,
)
from pytest_mlgate.delivery.registry import LocalRegistry, PublishedArtifact
from pytest_mlgate.delivery.staging import StagedCandidate
from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pytest_mlgate.delivery.mlflow_registry import MlflowRegistry

OUTPUT_KEPT_CHARS = 4000
# A deploy step besides the commands: a label for the history, and a callable.
DeployHook = tuple[str, Callable[[PublishedArtifact], object]]


def deliver_candidate(registry: LocalRegistry | MlflowRegistry, staged: StagedCandidate, run: Mapping[str, Any], *,
                      targets: Sequence[DeployTarget] = (), hooks: Sequence[DeployHook] = (),
                      aliases: Sequence[str] = (),
                      signing_key: Ed25519PrivateKey | None = None,
                      serve_latency_p95_ms: float | None = None,
                      ) -> tuple[dict[str, Any], str | None]:
    """Publish ``staged``, run every deploy step, then move ``aliases`` to the new version.
    A target ``serve-check`` is the built-in check of the served model (serve/check.py), with
    ``serve_latency_p95_ms`` as its budget.

    ``registry`` is the local registry or an MLflow one (mlflow_registry.py): the same order.

    Returns the report entry and None on success, or the entry so far and a message saying
    what happened and what did not. Raises what ``publish`` raises when nothing was published.
    """
    published = registry.publish(staged, run, signing_key=signing_key)
    entry: dict[str, Any] = {"name": published.name, "version": published.version,
                             "path": str(published.path), "artifact_id": published.artifact_id,
                             "deploy": [], "aliases": []}
    held = f" ({', '.join(aliases)} not moved)" if aliases else ""
    if targets or hooks:
        try:
            registry.open(published.ref)
        except MlgateError as exc:
            return entry, f"{published.ref} was published but does not verify, so nothing deployed it{held}: {exc}"
    steps: list[tuple[str, list[str] | None, Callable[[], Any]]] = [
        (str(t), list(t.argv), functools.partial(_serve_check, t, published, staged,
                                                 serve_latency_p95_ms)
         if t.argv == (SERVE_CHECK,) else functools.partial(run_deploy_target, t, published))
        for t in targets]
    steps += [(label, None, functools.partial(_call_hook, fn, published)) for label, fn in hooks]
    for label, argv, step in steps:
        error: Exception | None = None
        readings: Any = None
        try:
            output, status = step(), "ok"
        except DeployTimeout as exc:
            error, output, status = exc, str(exc), "timed out"
        except Exception as exc:  # a deploy command failed, or a team's deploy hook raised
            error, output, status = exc, str(exc), "failed"
            readings = getattr(exc, "result", None)
        if not isinstance(output, str):  # serve-check: its readings, and a line saying them
            readings, output = output, output.summary()
        step_entry = {"target": label, "argv": argv, "status": status,
                      "output": output[-OUTPUT_KEPT_CHARS:]}
        if readings is not None:
            step_entry["serve_check"] = readings.to_json()
        entry["deploy"].append(step_entry)
        try:
            registry.record_deploy(published, label, status, "" if error is None else str(error))
        except MlgateError as exc:
            return entry, (f"{published.ref} is published and deploy {label} {status}, but the "
                           f"history could not record it{held}: {exc}")
        if error is not None:
            why = error if isinstance(error, MlgateError) else f"{type(error).__name__}: {error}"
            return entry, f"{published.ref} is published, but deploy {label} {status}{held}: {why}"
    if aliases:
        try:
            registry.move_aliases(published.name, published.version, aliases)
        except MlgateError as exc:
            return entry, f"{published.ref} is published and deployed, but {exc}"
        entry["aliases"] = list(aliases)
    return entry, None


def _serve_check(target: DeployTarget, published: PublishedArtifact, staged: StagedCandidate,
                 budget_p95_ms: float | None) -> Any:
    from pytest_mlgate.serve.check import serve_check

    # The run's own model: trust the types staging found in it (as publishing's self-check
    # does), and its pickle-family format, which the project opted in to.
    trusted = list(staged.untrusted_types)
    if staged.format in ("joblib", "pickle"):
        trusted.append(staged.format)
    return serve_check(published.path, published.artifact_id, trusted=trusted,
                       timeout=target.timeout, budget_p95_ms=budget_p95_ms)


def _call_hook(fn: Callable[[PublishedArtifact], object], published: PublishedArtifact) -> str:
    fn(published)
    return ""

