"""Delivery: stage a candidate model, package it as a verified artefact, publish it to a registry,
load it back safely and run deploy commands.

Modules by role: ``staging`` (serialize a candidate), ``serialize`` (model and example formats),
``artifact`` (layout, names, manifest), ``registry`` (LocalRegistry), ``verify``, ``loader``
(``pytest_mlgate.load``), ``card`` (README.md), ``deploy`` (commands), ``commands`` (CLI).
"""

from __future__ import annotations

from pytest_mlgate.delivery.deploy import DeployTarget, parse_deploy_targets, run_deploy_target
from pytest_mlgate.delivery.loader import load
from pytest_mlgate.delivery.registry import LocalRegistry, PublishedArtifact, resolve_ref
from pytest_mlgate.delivery.staging import StagedCandidate, stage_candidate
from pytest_mlgate.delivery.verify import verify_artifact

__all__ = [
    "DeployTarget",
    "LocalRegistry",
    "PublishedArtifact",
    "StagedCandidate",
    "load",
    "parse_deploy_targets",
    "resolve_ref",
    "run_deploy_target",
    "stage_candidate",
    "verify_artifact",
]
