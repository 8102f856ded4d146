"""``pytest_mlgate.load``: a published model, verified before a single byte is deserialized."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ArtifactError, VerificationError

# Tokens in ``trusted`` that allow a pickle-family artefact; they are never skops type names.
PICKLE_TOKENS: dict[str, frozenset[str]] = {
    "pickle": frozenset({"pickle", "joblib"}),
    "joblib": frozenset({"joblib"}),
}


def load(ref: str | Path, trusted: Sequence[str] | None = None, *,
         registry: str | Path | None = None) -> Any:
    """Load the model of an artefact: a directory path, or ``name``, ``name@alias``,
    ``name@<version>`` in ``registry`` (default ``.mlgate/registry``).

    Every file's sha256 and size is checked against the manifest first, and the model is built
    from the very bytes that were hashed. ``trusted`` lists the skops types (fully qualified names
    such as ``"mypackage.features.Clipper"``) allowed beyond skops' defaults; nothing stored in
    the artefact can extend it. A joblib artefact loads only with ``"joblib"`` (or ``"pickle"``)
    in ``trusted``, a pickle artefact only with ``"pickle"``: both run code from the file.
    """
    from pytest_mlgate.delivery.registry import resolve_ref
    from pytest_mlgate.delivery.serialize import (
        EXECUTABLE_FORMATS,
        UntrustedTypesError,
        deserialize_model,
    )
    from pytest_mlgate.delivery.verify import read_manifest, verify_and_read

    if isinstance(trusted, str):
        raise TypeError("trusted must be a list of names, e.g. trusted=['mypkg.MyEstimator']")
    path = resolve_ref(ref, registry)
    model_info = read_manifest(path).get("model")
    if not isinstance(model_info, dict) or not isinstance(model_info.get("file"), str):
        raise VerificationError(f"{path}: manifest.json has no 'model' entry naming the model "
                                "file.")
    fmt = str(model_info.get("format"))
    allowed = set(trusted or ())
    if fmt in EXECUTABLE_FORMATS:
        tokens = set().union(*(PICKLE_TOKENS.get(t, frozenset()) for t in allowed))
        if fmt not in tokens:
            raise ArtifactError(
                f"{path} holds a {fmt} model, and loading {fmt} runs code stored in the file. "
                f"Load it only if you trust its source, with trusted=[{fmt!r}].")
    manifest, blob = verify_and_read(path, capture=model_info["file"])
    if manifest.get("model") != model_info:
        raise VerificationError(f"{path}: manifest.json changed while it was being verified.")
    assert blob is not None
    if fmt == "skops":
        try:
            return deserialize_model(blob, fmt, sorted(allowed - set(PICKLE_TOKENS)) or None)
        except UntrustedTypesError as exc:
            raise ArtifactError(
                f"{path} contains types outside skops' trusted defaults: {', '.join(exc.types)}. "
                f"If you trust them, pass trusted={exc.types!r} to load().") from None
    return deserialize_model(blob, fmt, None)
