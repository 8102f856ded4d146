"""The artefact: one directory per published version, described by ``manifest.json``.

Layout (docs/artifact.md is the reference)::

    model.skops | model.joblib | model.pkl   the serialized model
    signature.json                           input signature (+ outputs on the example)
    example.json | example.npy               a few input rows, never pickled
    environment.json                         Python, platform, every installed distribution
    provenance.json                          git commit + dirty flag, creation time, run info
    run.json                                 the run report: gates, metrics, intervals, changes
    data.json                                data roles: fingerprint, shape, columns
    profile.json                             reference profile of the training data (optional)
    README.md                                the model card
    manifest.json                            written last: sha256 + size of every other file

The artefact id is the sha256 of the manifest's canonical JSON without the id itself: it
covers the sha256 and size of every file and every metadata field, so editing any of them
without recomputing the id is detected, and the id names the content, not where it is stored.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ArtifactError
from pytest_mlgate.strict_json import canonical

MANIFEST = "manifest.json"
PROFILE_FILE = "profile.json"  # the reference profile of the training data, when there is one
SCHEMA = "pytest-mlgate/artifact"
SCHEMA_VERSION = 1
CHUNK = 1 << 20  # 1 MiB reads: large enough to hash at memory speed

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
NAME_RULE = ("letters, digits, '.', '_' and '-' only, starting with a letter or digit, "
             "at most 128 characters, no path separators and no '..'")


def validate_name(name: Any, what: str = "model name") -> str:
    """``name`` if it is safe as a single directory name, else ArtifactError naming the rule."""
    if not isinstance(name, str):
        raise ArtifactError(f"{what} {name!r} must be a string ({NAME_RULE}).")
    if "/" in name or "\\" in name or ".." in name or not _NAME.match(name) or len(name) > 128:
        raise ArtifactError(f"{what} {name!r} is not allowed: use {NAME_RULE}.")
    return name


def validate_model(model: Any) -> Any:
    """``model`` unless it is plainly not a model: None (a fixture that forgot ``return
    model``) or a class instead of a fitted instance. Anything else is the serializer's to
    judge (a transformer without ``predict`` is delivered too)."""
    if model is None:
        raise ArtifactError("candidate(None, ...): the model is None, so there is nothing to "
                            "deliver; pass the fitted model (a fixture that builds it must "
                            "`return model`).")
    if isinstance(model, type):
        raise ArtifactError(f"candidate({model.__name__}, ...): that is the class, not a fitted "
                            f"model; pass an instance, such as {model.__name__}(...).fit(X, y).")
    return model


def validate_alias(alias: Any) -> str:
    """An alias is a name that is not all digits (those are version numbers)."""
    validate_name(alias, "alias")
    if alias.isdigit():
        raise ArtifactError(f"alias {alias!r} is all digits, which reads as a version number; "
                            "use a word such as 'production' or 'staging'.")
    return str(alias)


def hash_file(path: Path) -> tuple[str, int]:
    """``("sha256:<hex>", size in bytes)`` of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
            size += n
    return "sha256:" + h.hexdigest(), size


def hash_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def artifact_id(manifest: Mapping[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, no spaces) without the
    ``artifact_id`` field: it covers every file's sha256 and size and every metadata field."""
    body = {k: v for k, v in manifest.items() if k != "artifact_id"}
    return hash_bytes(canonical(body))


def list_files(root: Path) -> list[str]:
    """Every entry under ``root`` except the manifest, as POSIX relative paths (directories
    included only when empty, symlinks as themselves), so verification can flag extras."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for d in list(dirnames):
            p = Path(dirpath) / d
            if p.is_symlink() or not any(p.iterdir()):
                out.append((rel / d).as_posix())
                dirnames.remove(d)
        for f in filenames:
            r = (rel / f).as_posix()
            if r != MANIFEST:
                out.append(r)
    return sorted(out)


def build_manifest(root: Path, meta: Mapping[str, Any],
                   known: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The manifest for the files now in ``root``. ``known`` supplies digests already computed
    (the model's, from staging) so large files are not hashed twice; verification re-checks them."""
    files: dict[str, dict[str, Any]] = {}
    for rel in list_files(root):
        path = root / rel
        if known and rel in known and path.stat().st_size == int(known[rel]["size"]):
            files[rel] = {"sha256": str(known[rel]["sha256"]), "size": int(known[rel]["size"])}
        else:
            digest, size = hash_file(path)
            files[rel] = {"sha256": digest, "size": size}
    manifest = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **dict(meta), "files": files}
    return {"artifact_id": artifact_id(manifest), **manifest}
