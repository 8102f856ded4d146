"""The registry a setting names, and where a reference points, whichever registry it is in:
the local registry (registry.py) or an MLflow one (mlflow_registry.py). Every consumer (load,
serve, container, the command line) locates references through here."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pytest_mlgate.delivery.registry_uri import is_mlflow, is_models_uri

if TYPE_CHECKING:
    from pytest_mlgate.delivery.mlflow_registry import MlflowRegistry
    from pytest_mlgate.delivery.registry import LocalRegistry, Located


def open_registry(registry: str | os.PathLike[str]) -> LocalRegistry | MlflowRegistry:
    """The registry a setting names: ``mlflow:<tracking URI>`` or a directory."""
    if is_mlflow(registry):
        from pytest_mlgate.delivery.mlflow_registry import MlflowRegistry

        return MlflowRegistry(str(registry))
    from pytest_mlgate.delivery.registry import LocalRegistry

    return LocalRegistry(registry)


def locate_ref(ref: str | os.PathLike[str], registry: str | os.PathLike[str] | None = None, *,
               registry_option: str = "--registry PATH") -> Located:
    """Where ``ref`` points and the artefact id it must have. ``models:/...``, and a name in an
    ``mlflow:URI`` registry, are downloaded from MLflow (``mlflow_registry.locate_mlflow``); a
    path or a name in a local registry: ``registry.locate_ref``."""
    from pytest_mlgate.delivery import registry as local

    if is_models_uri(ref) or (is_mlflow(registry) and not local.looks_like_path(ref)):
        from pytest_mlgate.delivery.mlflow_registry import locate_mlflow

        return locate_mlflow(str(ref), None if registry is None else str(registry))
    return local.locate_ref(ref, registry, registry_option=registry_option)
