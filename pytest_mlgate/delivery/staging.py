"""Staging: serialize a candidate model (and its example) into a directory of its own.

Under pytest-xdist a worker stages the candidate and sends the JSON of the StagedCandidate to the
controller, which publishes it at session finish. Staging writes into a hidden temp directory and
renames it into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlgate import atomic
from pytest_mlgate.delivery.artifact import PROFILE_FILE, hash_bytes, validate_model, validate_name
from pytest_mlgate.delivery.serialize import (
    FORMATS,
    MODEL_FILES,
    SerializedModel,
    encode_example,
    encode_outputs,
    serialize_model,
)
from pytest_mlgate.errors import ArtifactError
from pytest_mlgate.strict_json import dumps, file_bytes, jsonable

OUTPUTS_KEY = "outputs"


@dataclass(frozen=True)
class StagedCandidate:
    """A serialized candidate waiting to be published.

    ``content_hash`` is ``"sha256:<hex>"`` of the model file's bytes; serialization is
    deterministic, so two registrations of one name with different hashes are different models.
    ``data`` maps a role ("train", "test", ...) to ``{"fingerprint", "shape", "columns"?}``.
    """

    name: str
    directory: str
    model_file: str
    format: str
    content_hash: str
    signature: dict[str, Any] | None
    example_file: str | None
    data: dict[str, dict[str, Any]]
    card: dict[str, Any]
    has_profile: bool
    notes: tuple[str, ...] = field(default=())
    # skops types outside its trusted defaults that loading the model asks to trust (sorted);
    # recorded so publishing loads once, and shown to consumers, never trusted for them.
    untrusted_types: tuple[str, ...] = field(default=())

    @property
    def model_path(self) -> Path:
        return Path(self.directory) / self.model_file

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "directory": self.directory, "model_file": self.model_file,
            "format": self.format, "content_hash": self.content_hash, "signature": self.signature,
            "example_file": self.example_file, "data": self.data, "card": self.card,
            "has_profile": self.has_profile, "notes": list(self.notes),
            "untrusted_types": list(self.untrusted_types),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StagedCandidate:
        return cls(
            name=str(d["name"]), directory=str(d["directory"]), model_file=str(d["model_file"]),
            format=str(d["format"]), content_hash=str(d["content_hash"]),
            signature=d.get("signature"), example_file=d.get("example_file"),
            data={str(k): dict(v) for k, v in (d.get("data") or {}).items()},
            card=dict(d.get("card") or {}), has_profile=bool(d.get("has_profile")),
            notes=tuple(d.get("notes") or ()),
            untrusted_types=tuple(str(t) for t in d.get("untrusted_types") or ()),
        )


def stage_candidate(model: Any, *, name: str, example: Any = None,
                    data: Mapping[str, Any] | None = None, card: Mapping[str, Any] | None = None,
                    staging_dir: Path, allow_pickle: bool = False,
                    serializer: str | None = None) -> StagedCandidate:
    """Serialize ``model`` into a fresh directory under ``staging_dir`` and describe it.

    ``serializer`` None means skops, falling back to joblib only when ``allow_pickle`` is true and
    skops refuses the model. ``example`` rows are run through the model now, and the predictions
    stored, so publishing can check the loaded model predicts exactly the same.
    """
    validate_name(name)
    validate_model(model)
    fmts = _formats(serializer, allow_pickle)
    card_fields = _card(card)
    staging_dir = Path(staging_dir)
    staging_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=staging_dir))
    notes: list[str] = []
    try:
        serialized, fmt = _serialize(model, fmts, notes)
        model_file = MODEL_FILES[fmt]
        atomic.create(tmp / model_file, serialized.data, sync=False)
        content_hash = hash_bytes(serialized.data)
        untrusted = serialized.untrusted_types
        del serialized
        signature = None
        example_file = None
        if example is not None:
            example_file, example_bytes, signature = encode_example(example)
            atomic.create(tmp / example_file, example_bytes, sync=False)
            signature[OUTPUTS_KEY] = _predict_example(model, example_file, example_bytes)
        roles, has_profile = _data(data, tmp, notes)
        final = staging_dir / f"{name}-{uuid.uuid4().hex[:12]}"
        atomic.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return StagedCandidate(
        name=name, directory=str(final.resolve()), model_file=model_file, format=fmt,
        content_hash=content_hash, signature=signature, example_file=example_file, data=roles,
        card=card_fields, has_profile=has_profile, notes=tuple(notes), untrusted_types=untrusted,
    )


def _formats(serializer: str | None, allow_pickle: bool) -> list[str]:
    if serializer is None:
        return ["skops", "joblib"] if allow_pickle else ["skops"]
    if serializer not in FORMATS:
        raise ArtifactError(f"serializer {serializer!r} is unknown: expected one of "
                            f"{', '.join(FORMATS)}.")
    if serializer != "skops" and not allow_pickle:
        raise ArtifactError(f"serializer {serializer!r} runs code when the model is loaded; opt "
                            "in with `mlgate_allow_pickle = true` in the ini file, or use skops.")
    return [serializer]


def _serialize(model: Any, fmts: list[str], notes: list[str]) -> tuple[SerializedModel, str]:
    errors: list[ArtifactError] = []
    for fmt in fmts:
        try:
            blob = serialize_model(model, fmt)
        except ArtifactError as exc:
            errors.append(exc)
            continue
        if errors:
            notes.append(f"serialized with {fmt} because skops refused the model: {errors[0]}")
        return blob, fmt
    if len(errors) == 1:
        raise errors[0]
    # Every format was tried (pickle-based ones allowed): say what each one hit, and not to
    # allow what is allowed already.
    t = type(model)
    reasons = "; ".join(f"{fmt} fails with {_reason(exc)}" for fmt, exc in zip(fmts, errors, strict=True))
    raise ArtifactError(
        f"neither {' nor '.join(fmts)} can serialize the model of type {t.__module__}."
        f"{t.__qualname__}: {reasons}. mlgate_allow_pickle = true is set, so pickle-based "
        "formats were tried after skops, but pickle cannot store a lambda, a function or class "
        "defined inside another function, or an open file or connection either. Define such "
        "functions with def at module level in an importable module of your project (not in "
        "a test file), and pass the model without open handles."
    ) from None


def _reason(exc: ArtifactError) -> str:
    text = exc.reason or str(exc)
    return text if len(text) <= 300 else text[:297] + "..."


def _predict_example(model: Any, example_file: str, example_bytes: bytes) -> dict[str, Any] | None:
    """The model's predictions on the stored example (decoded from the stored bytes, so the check
    at publish time feeds the loaded model exactly the same input)."""
    from pytest_mlgate.delivery.serialize import decode_example

    predict = getattr(model, "predict", None)
    if not callable(predict):
        return None
    try:
        return encode_outputs(predict(decode_example(example_file, example_bytes)))
    except Exception as exc:
        raise ArtifactError(f"the model of type {type(model).__name__} failed to predict on the "
                            f"example given to candidate(): {exc}. Pass rows the model accepts "
                            "(the same columns and dtypes as its training data).") from exc


def _card(card: Mapping[str, Any] | None) -> dict[str, Any]:
    if card is None:
        return {}
    if not isinstance(card, Mapping):
        raise ArtifactError(f"card must be a mapping of model-card fields, got "
                            f"{type(card).__name__}.")
    out = {str(k): v for k, v in card.items()}
    try:
        dumps(out)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"card fields must be JSON values (strings, numbers, lists): "
                            f"{exc}") from exc
    return out


def _data(data: Mapping[str, Any] | None, tmp: Path,
          notes: list[str]) -> tuple[dict[str, dict[str, Any]], bool]:
    if not data:
        return {}, False
    if not isinstance(data, Mapping):
        raise ArtifactError(f"data must map roles to data sets, e.g. {{'train': X_train}}, got "
                            f"{type(data).__name__}.")
    from pytest_mlgate.fingerprints import fingerprint

    roles: dict[str, dict[str, Any]] = {}
    for role, obj in data.items():
        entry: dict[str, Any] = {"fingerprint": fingerprint(obj)}
        shape = getattr(obj, "shape", None)
        if shape is None and hasattr(obj, "__len__"):
            shape = (len(obj),)
        entry["shape"] = [int(s) for s in shape] if shape is not None else None
        columns = getattr(obj, "columns", None)
        if columns is not None:
            entry["columns"] = [str(c) for c in columns]
        roles[str(role)] = entry
    has_profile = False
    train = data.get("train")
    if train is not None:
        has_profile = _write_profile(train, tmp, notes)
    return roles, has_profile


def _write_profile(train: Any, tmp: Path, notes: list[str]) -> bool:
    """The reference profile of the training data, for `mlgate drift` against the artefact."""
    import numpy as np
    import pandas as pd

    try:
        from pytest_mlgate.profiles import profile
    except ImportError:
        notes.append("no reference profile: pytest_mlgate.profiles.profile is unavailable")
        return False
    if isinstance(train, pd.DataFrame):
        frame = train
    elif isinstance(train, np.ndarray) and train.ndim == 2:
        frame = pd.DataFrame(train, columns=[str(i) for i in range(train.shape[1])])
    else:
        notes.append(f"no reference profile: data['train'] is a {type(train).__name__}, "
                     "not a DataFrame or 2-D array")
        return False
    doc = profile(frame).to_json()
    atomic.create(tmp / PROFILE_FILE, file_bytes(jsonable(doc), indent=1), sync=False)
    return True
