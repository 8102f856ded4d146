"""What a registry setting or a reference names: an MLflow tracking server
(``mlflow:<tracking URI>``) and MLflow's own references (``models:/name@alias``,
``models:/name/version``), or the local registry. Imports neither mlflow nor numpy (settings
checks a registry at start-up)."""

from __future__ import annotations

import importlib.util
from typing import Any

from pytest_mlgate.errors import RegistryError

MLFLOW_PREFIX = "mlflow:"
MODELS_PREFIX = "models:/"
INSTALL_HINT = "pip install 'pytest-mlgate[mlflow]'"
#: The schemes of a tracking URI MLflow's client accepts (a "+driver" suffix aside); a typo such
#: as "htp" surfaced as a KeyError traceback from MLflow's store registry (attacker trial).
TRACKING_SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks",
                    "databricks-uc", "uc")


def is_mlflow(registry: Any) -> bool:
    """Whether ``registry`` (a setting's value) names an MLflow tracking server."""
    return isinstance(registry, str) and registry.startswith(MLFLOW_PREFIX)


def is_models_uri(ref: Any) -> bool:
    """Whether ``ref`` is an MLflow model URI (``models:/name@alias``, ``models:/name/3``)."""
    return isinstance(ref, str) and ref.startswith(MODELS_PREFIX)


def tracking_uri(registry: str) -> str:
    """The tracking URI of ``mlflow:<tracking URI>``; RegistryError when none follows, or when
    mlflow is not installed."""
    uri = registry[len(MLFLOW_PREFIX):].strip()
    if not uri:
        raise RegistryError(f"registry {registry!r} names no tracking server; write "
                            "mlflow:<tracking URI>, such as mlflow:http://127.0.0.1:5000.")
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if "://" in uri or uri.startswith("file:") else ""
    if scheme and scheme not in TRACKING_SCHEMES:
        raise RegistryError(f"registry {registry!r}: {scheme!r} is not a tracking URI scheme MLflow "
                            f"knows; write one of {', '.join(s + ':' for s in TRACKING_SCHEMES)} "
                            "(for example mlflow:http://127.0.0.1:5000) or a directory.")
    mlflow_missing(registry)
    return uri


def mlflow_missing(registry: str) -> None:
    """RegistryError saying how to install the extra when mlflow cannot be imported."""
    try:
        missing = importlib.util.find_spec("mlflow") is None
    except (ImportError, ValueError):  # a broken or blocked installation
        missing = True
    if missing:
        raise RegistryError(f"registry {registry!r} is an MLflow registry, and mlflow is not "
                            f"installed: {INSTALL_HINT}.")
