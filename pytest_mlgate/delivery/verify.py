"""Artefact verification: every file listed in the manifest, byte for byte, and nothing else."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_mlgate.delivery.artifact import (
    CHUNK,
    MANIFEST,
    SCHEMA,
    SCHEMA_VERSION,
    artifact_id,
    list_files,
)
from pytest_mlgate.errors import VerificationError

_FIX = "re-publish the model, or restore the artefact directory from a good copy"


def verify_artifact(path: str | Path) -> dict[str, Any]:
    """The manifest of the artefact at ``path`` once every file's size and sha256 match it and no
    file is missing or extra; VerificationError naming the first offending file otherwise."""
    manifest, _ = verify_and_read(path)
    return manifest


def verify_and_read(path: str | Path, capture: str | None = None,
                    hashed: Mapping[str, str] | None = None) -> tuple[dict[str, Any], bytes | None]:
    """verify_artifact, also returning the bytes of file ``capture`` exactly as they were hashed,
    so the caller deserializes what was verified (no window to swap the file in between).
    ``hashed`` maps files to digests the caller computed from bytes it read itself."""
    root = Path(path)
    manifest = read_manifest(root)
    files: dict[str, Any] = manifest["files"]
    captured: bytes | None = None
    for rel in sorted(files):
        entry = files[rel]
        target = _inside(root, rel)
        if target.is_symlink() or not target.is_file():
            what = "a symlink" if target.is_symlink() else "missing"
            raise VerificationError(f"{root}: file {rel!r} listed in the manifest is {what}; "
                                    f"{_FIX}.")
        want_size = int(entry["size"])
        if target.stat().st_size != want_size:
            raise VerificationError(f"{root}: file {rel!r} is {target.stat().st_size} bytes, the "
                                    f"manifest says {want_size}; {_FIX}.")
        if hashed and rel in hashed:
            digest, data = hashed[rel], None
        else:
            digest, data = _digest(target, keep=rel == capture)
        if digest != entry["sha256"]:
            raise VerificationError(f"{root}: file {rel!r} has sha256 {digest}, the manifest says "
                                    f"{entry['sha256']}: it was modified; {_FIX}.")
        if data is not None:
            captured = data
    extra = [f for f in list_files(root) if f not in files]
    if extra:
        raise VerificationError(f"{root}: file {extra[0]!r} is not listed in the manifest "
                                f"({len(extra)} extra file(s)); remove it or {_FIX}.")
    try:
        expected = artifact_id(manifest)
    except ValueError:  # NaN or Infinity smuggled into the JSON
        expected = None
    if expected != manifest["artifact_id"]:
        raise VerificationError(f"{root}: file {MANIFEST!r} was edited: its artifact_id does not "
                                f"match its content; {_FIX}.")
    if capture is not None and captured is None:
        raise VerificationError(f"{root}: file {capture!r} is not listed in the manifest; {_FIX}.")
    return manifest, captured


def read_manifest(root: Path) -> dict[str, Any]:
    """The parsed, structurally checked manifest (hashes not checked)."""
    mpath = root / MANIFEST
    if not root.is_dir():
        raise VerificationError(f"{root} is not an artefact directory (it does not exist or is "
                                "not a directory).")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerificationError(f"{root}: file {MANIFEST!r} is missing, so nothing in the "
                                f"directory can be trusted; {_FIX}.") from None
    except (OSError, ValueError) as exc:
        raise VerificationError(f"{root}: file {MANIFEST!r} is not valid JSON ({exc}); "
                                f"{_FIX}.") from exc
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise VerificationError(f"{root}: file {MANIFEST!r} is not a pytest-mlgate manifest "
                                f"(expected \"schema\": \"{SCHEMA}\"); {_FIX}.")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise VerificationError(f"{root}: manifest schema_version {version!r} is not supported "
                                f"(this pytest-mlgate reads up to {SCHEMA_VERSION}); upgrade "
                                "pytest-mlgate.")
    files = manifest.get("files")
    ok = isinstance(files, dict) and isinstance(manifest.get("artifact_id"), str) and all(
        isinstance(e, dict) and isinstance(e.get("sha256"), str) and isinstance(e.get("size"), int)
        for e in files.values())
    if not ok:
        raise VerificationError(f"{root}: file {MANIFEST!r} lacks a valid 'files' table or "
                                f"'artifact_id'; {_FIX}.")
    return manifest


def _inside(root: Path, rel: str) -> Path:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts or rel == MANIFEST:
        raise VerificationError(f"{root}: {MANIFEST} lists the path {rel!r}, which points "
                                f"outside the artefact; {_FIX}.")
    return root.joinpath(*p.parts)


def _digest(path: Path, keep: bool) -> tuple[str, bytes | None]:
    if keep:
        data = path.read_bytes()
        return "sha256:" + hashlib.sha256(data).hexdigest(), data
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return "sha256:" + h.hexdigest(), None
