"""The model a server answers with: loaded through ``pytest_mlgate.load`` (every file verified,
the registry's pin, the consumer's trusted types), with what ``/health`` and ``/metadata`` show
and the predictions as JSON."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_mlgate.delivery.serialize import json_value
from pytest_mlgate.errors import ArtifactError
from pytest_mlgate.serve.payload import Parsed
from pytest_mlgate.serve.signature import BadRequest, Signature

SIGNATURE_FILE = "signature.json"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and the verified facts about it. ``version`` is None for an artefact
    served by path from outside a registry."""

    model: Any
    name: str
    version: int | None
    artifact_id: str
    signature: Signature
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self.model, "predict_proba", None))

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "name": self.name, "version": self.version,
                "artifact_id": self.artifact_id}

    def predict(self, parsed: Parsed) -> dict[str, Any]:
        """``{"predictions": [...]}`` for one request (probabilities per class, with
        ``classes``, when asked); BadRequest when the model refuses the input."""
        if parsed.predict_proba:
            if not self.has_proba:
                raise BadRequest(f"predict_proba was asked, but the model "
                                 f"({type(self.model).__name__}) has no predict_proba; ask for "
                                 "predictions without it.")
            fn = self.model.predict_proba
        else:
            fn = self.model.predict
        try:
            out = fn(parsed.data)
        except Exception as exc:  # the model's own refusal of a well-formed input
            raise BadRequest(f"the model could not predict on this input: {type(exc).__name__}: "
                             f"{str(exc)[:300]}") from None
        answer: dict[str, Any] = {"predictions": to_json(out)}
        if parsed.predict_proba:
            classes = getattr(self.model, "classes_", None)
            if classes is not None:
                answer["classes"] = to_json(classes)
        return answer


def to_json(values: Any) -> Any:
    """Model output as JSON lists: exact floats, NaN as null."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        out = arr.tolist()
        return _nan_to_none(out) if arr.dtype.kind == "f" else out
    return _map(arr.tolist())


def _nan_to_none(values: Any) -> Any:
    if isinstance(values, list):
        return [_nan_to_none(v) for v in values]
    return None if values != values else values


def _map(values: Any) -> Any:
    if isinstance(values, list):
        return [_map(v) for v in values]
    return json_value(values)


def load_served(ref: str, *, registry: str | os.PathLike[str] | None,
                trusted: Sequence[str] | None) -> ServedModel:
    """The model ``ref`` names, loaded as ``mlgate verify`` and ``load`` would: ArtifactError,
    VerificationError or RegistryError naming what is wrong."""
    from pytest_mlgate.delivery.card import metric_rows, trusted_for_load
    from pytest_mlgate.delivery.loader import load
    from pytest_mlgate.delivery.registries import locate_ref
    from pytest_mlgate.delivery.registry import open_verified
    from pytest_mlgate.strict_json import loads

    located = locate_ref(ref, registry, registry_option="--registry PATH")
    verified = open_verified(located, read=[SIGNATURE_FILE, RUN_FILE])
    manifest = verified.manifest
    try:
        model = load(located.path, trusted, expect_id=verified.artifact_id)
    except ArtifactError as exc:
        if "trusted" not in str(exc):
            raise
        # load() speaks of its keyword argument; say how the command line says it.
        raise ArtifactError(f"{exc} On the command line: --trusted NAME for each type (or "
                            "--trusted joblib / --trusted pickle), after REF.") from None
    try:
        signature_doc = loads(verified.files[SIGNATURE_FILE])
        run = loads(verified.files[RUN_FILE])
    except (ValueError, RecursionError):
        raise ArtifactError(f"{located.path}: {SIGNATURE_FILE} or {RUN_FILE} verified against "
                            "the manifest but is not JSON; re-publish the model.") from None
    signature = Signature.from_json(signature_doc)
    outputs = signature_doc.get("outputs") if isinstance(signature_doc, dict) else None
    gates: dict[str, Any] = {}
    if isinstance(run, dict) and isinstance(run.get("gates"), dict):
        gates = run["gates"]
    metadata = {
        "name": str(manifest.get("name")), "version": located.version,
        "artifact_id": verified.artifact_id, "created": manifest.get("created"),
        "format": manifest.get("format"),
        "trusted": trusted_for_load(manifest.get("model")),
        "signature": signature.to_json(),
        "output": {"kind": "predictions",
                   "dtype": outputs.get("dtype") if isinstance(outputs, dict) else None,
                   "shape": outputs.get("shape") if isinstance(outputs, dict) else None,
                   "predict_proba": callable(getattr(model, "predict_proba", None)),
                   "classes": to_json(model.classes_) if hasattr(model, "classes_") else None},
        "gates": {str(g): v.get("verdict") if isinstance(v, dict) else None
                  for g, v in gates.items()},
        "metrics": [{k: r[k] for k in ("test", "name", "value", "low", "high", "verdict")}
                    for r in metric_rows(run if isinstance(run, dict) else {})],
        "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return ServedModel(model=model, name=str(manifest.get("name")), version=located.version,
                       artifact_id=verified.artifact_id, signature=signature, metadata=metadata)
