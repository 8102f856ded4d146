"""The loader module ``mlflow.pyfunc.load_model`` calls for an artefact published to MLflow:
every file verified against the manifest before a byte of the model is deserialized, then
loaded as ``pytest_mlgate.load`` does. MLflow imports it by the name the ``MLmodel`` gives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class MlgatePyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps: the verified model's ``predict``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> Any:
        return self.model.predict(model_input)


def _load_pyfunc(data_path: str, model_config: Mapping[str, Any] | None = None) -> MlgatePyfunc:
    """MLflow's entry point: the artefact at ``data_path``, verified byte for byte against its
    manifest, then loaded as ``pytest_mlgate.load`` does. ``model_config={"trusted": [...]}``
    (``mlflow.pyfunc.load_model(uri, model_config=...)``) lists the types the consumer trusts;
    nothing in the artefact extends it. ``"expect_id"`` pins the artefact id and ``"public_key"``
    (a PEM file) requires the manifest's signature; either also comes from the environment
    (``MLGATE_EXPECT_ID``, ``MLGATE_PUBLIC_KEY``). Without one of them this loader can only check
    that the files agree with the manifest beside them: MLflow hands it a directory, not the
    registry version whose tag pins the id, so a manifest re-hashed by someone who can write the
    artifact store is consistent in itself (docs/registry.md)."""
    import os

    from pytest_mlgate.delivery.loader import load

    config = dict(model_config or {})
    trusted: Sequence[str] | None = config.get("trusted")
    expect_id = config.get("expect_id") or os.environ.get("MLGATE_EXPECT_ID") or None
    public_key = config.get("public_key") or os.environ.get("MLGATE_PUBLIC_KEY") or None
    model = load(Path(data_path), trusted=list(trusted) if trusted else None,
                 expect_id=expect_id, public_key=public_key)
    return MlgatePyfunc(model)
