"""``pytest_mlgate.load``: a published model, verified before a single byte is deserialized."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ArtifactError

# Tokens in ``trusted`` that allow a pickle-family artefact; they are never skops type names.
PICKLE_TOKENS: dict[str, frozenset[str]] = {
    "pickle": frozenset({"pickle", "joblib"}),
    "joblib": frozenset({"joblib"}),
}


def load(ref: str | os.PathLike[str], trusted: Sequence[str] | None = None, *,
         registry: str | os.PathLike[str] | None = None, expect_id: str | None = None,
         public_key: str | os.PathLike[str] | bytes | Any = None) -> Any:
    """Load the model of an artefact: ``name``, ``name@alias``, ``name@<version>`` in
    ``registry`` (default ``.mlgate/registry``), or a path (it must look like one: ``./iris``).

    Before a byte is deserialized: every file's sha256 and size must match the manifest; the
    artefact id must be the one the registry pinned for the reference (and ``expect_id`` when
    given); with ``public_key`` (a PEM file path or PEM bytes), ``manifest.sig`` must be its
    valid signature. The model is built from the very bytes that were hashed.

    ``trusted`` lists the skops types (fully qualified names such as
    ``"mypackage.features.Clipper"``) allowed beyond skops' defaults; nothing stored in the
    artefact can extend it. A joblib artefact loads only with ``"joblib"`` (or ``"pickle"``)
    in ``trusted``, a pickle artefact only with ``"pickle"``: both run code from the file.
    """
    from pytest_mlgate.delivery.registries import locate_ref
    from pytest_mlgate.delivery.registry import open_verified
    from pytest_mlgate.delivery.serialize import (
        EXECUTABLE_FORMATS,
        UntrustedTypesError,
        deserialize_model,
    )
    from pytest_mlgate.delivery.signing import load_public_key
    from pytest_mlgate.delivery.verify import model_entry, read_manifest

    if isinstance(trusted, str):
        raise TypeError("trusted must be a list of names, e.g. trusted=['mypkg.MyEstimator']")
    key = None if public_key is None else load_public_key(public_key)
    located = locate_ref(ref, registry, registry_option="registry='PATH'")
    path = located.path
    # The format decides whether loading may run code: refuse before reading the model. The
    # manifest is read again, with the model, by the verification that decides.
    model_file, fmt = model_entry(path, read_manifest(path))
    allowed = set(trusted or ())
    _check_format_trusted(path, fmt, allowed, EXECUTABLE_FORMATS)
    verified = open_verified(located, read=[model_file], expect_id=expect_id, public_key=key)
    if model_entry(path, verified.manifest) != (model_file, fmt):
        raise ArtifactError(f"{path}: manifest.json changed while it was being verified; load "
                            "again once nothing is writing the artefact.")
    blob = verified.files[model_file]
    try:
        if fmt == "skops":
            try:
                return deserialize_model(blob, fmt, sorted(allowed - set(PICKLE_TOKENS)) or None)
            except UntrustedTypesError as exc:
                needed = sorted(allowed | set(exc.types))
                given = f" (besides the {len(allowed)} given)" if allowed else ""
                raise ArtifactError(
                    f"{path} contains types outside skops' trusted defaults{given}: "
                    f"{', '.join(exc.types)}. If you trust them, pass trusted={needed!r} to "
                    "load().") from None
        return deserialize_model(blob, fmt, None)
    except ArtifactError:
        raise
    except Exception as exc:  # a verified file the deserializer cannot read
        raise ArtifactError(f"{path}: {model_file} verified against the manifest but {fmt} cannot "
                            f"read it ({type(exc).__name__}: {str(exc)[:200]}); it was published "
                            "broken or by an incompatible version: re-publish the model."
                            ) from None


def _check_format_trusted(path: Path, fmt: str, allowed: set[str],
                          executable: frozenset[str]) -> None:
    if fmt in executable:
        tokens = set().union(*(PICKLE_TOKENS.get(t, frozenset()) for t in allowed))
        if fmt not in tokens:
            raise ArtifactError(
                f"{path} holds a {fmt} model, and loading {fmt} runs code stored in the file. "
                f"Load it only if you trust its source, with trusted=[{fmt!r}].")
