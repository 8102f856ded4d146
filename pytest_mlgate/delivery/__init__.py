"""Delivery: stage a candidate model, package it as a verified artefact, publish it to a registry,
load it back safely and run deploy commands.

Modules by role: ``staging`` (serialize a candidate), ``serialize`` (model and example formats),
``artifact`` (layout, names, manifest), ``registry`` (LocalRegistry, references and pins),
``verify``, ``signing`` (Ed25519 over the manifest), ``loader`` (``pytest_mlgate.load``),
``card`` (README.md), ``deploy`` (commands), ``operation`` (one registry operation's staging
place, and the reaper), ``pipeline`` (publish, deploy, move the aliases); ``registries``
(either kind of registry, ``locate_ref``), ``registry_uri``, ``mlflow_registry``,
``mlflow_model`` and ``mlflow_pyfunc`` (the MLflow Model Registry, extra ``mlflow``). The command line is
in ``pytest_mlgate.cli``.

The names below are imported on first use, so that checking a setting (``settings`` validates
aliases and deploy lines at start-up) does not import numpy and skops.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_mlgate.delivery.deploy import (
        DeployTarget,
        parse_deploy_targets,
        run_deploy_target,
    )
    from pytest_mlgate.delivery.loader import load
    from pytest_mlgate.delivery.registries import locate_ref
    from pytest_mlgate.delivery.registry import (
        LocalRegistry,
        PublishedArtifact,
        resolve_ref,
    )
    from pytest_mlgate.delivery.signing import generate_key_pair
    from pytest_mlgate.delivery.staging import StagedCandidate, stage_candidate
    from pytest_mlgate.delivery.verify import verify_artifact

_HOMES = {
    "DeployTarget": "deploy", "parse_deploy_targets": "deploy", "run_deploy_target": "deploy",
    "load": "loader", "LocalRegistry": "registry", "PublishedArtifact": "registry",
    "locate_ref": "registries", "resolve_ref": "registry", "generate_key_pair": "signing",
    "StagedCandidate": "staging", "stage_candidate": "staging", "verify_artifact": "verify",
}

__all__ = [
    "DeployTarget",
    "LocalRegistry",
    "PublishedArtifact",
    "StagedCandidate",
    "generate_key_pair",
    "load",
    "locate_ref",
    "parse_deploy_targets",
    "resolve_ref",
    "run_deploy_target",
    "stage_candidate",
    "verify_artifact",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
