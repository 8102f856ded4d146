"""Artefact verification: every file listed in the manifest, byte for byte, and nothing else;
the artefact id against the one the registry pinned (or the caller expects); the signature
against the consumer's public key.

A consumer gets the bytes of the files it uses from here, exactly as they were hashed, so no
file is read a second time after it was verified (a file swapped in between is never used).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pytest_mlgate.delivery.artifact import (
    MANIFEST,
    SCHEMA,
    SCHEMA_VERSION,
    artifact_id,
    hash_bytes,
    hash_file,
    list_files,
)
from pytest_mlgate.delivery.signing import SIGNATURE_FILE, check_signature, signature_key_id
from pytest_mlgate.errors import VerificationError
from pytest_mlgate.strict_json import loads as loads_strict
from pytest_mlgate.strict_json import why as parse_failure

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_FIX = "re-publish the model, or restore the artefact directory from a good copy"
ID_PATTERN = re.compile(r"sha256:[0-9a-f]{64}\Z")
MAX_MANIFEST_BYTES = 64 << 20  # a manifest is a few kB; anything this large is not one
_MAX_FILE_SIZE = 1 << 62


@dataclass(frozen=True)
class Pin:
    """The artefact id a consumer requires, and where it comes from (for messages)."""

    artifact_id: str
    source: str


@dataclass(frozen=True)
class VerifiedArtifact:
    """An artefact that verified: its manifest, and the bytes of the files asked for, exactly as
    they were hashed. ``signed`` says whether a manifest.sig is present; ``signature_checked``
    whether it was checked against a public key (only then does it mean anything)."""

    path: Path
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    signed: bool = False
    signature_checked: bool = False
    key_id: str | None = None

    @property
    def artifact_id(self) -> str:
        return str(self.manifest["artifact_id"])


def verify_artifact(path: str | Path, *, expect_id: str | None = None,
                    public_key: Ed25519PublicKey | None = None) -> dict[str, Any]:
    """The manifest of the artefact at ``path`` once every file's size and sha256 match it and no
    file is missing or extra; VerificationError naming the first offending file otherwise."""
    pins = [Pin(expect_id, "expected by the caller")] if expect_id is not None else []
    return open_artifact(path, pins=pins, public_key=public_key).manifest


def open_artifact(path: str | Path, *, read: Collection[str] = (),
                  hashed: Mapping[str, str] | None = None, pins: Collection[Pin] = (),
                  public_key: Ed25519PublicKey | None = None) -> VerifiedArtifact:
    """Verify the artefact at ``path`` and return the bytes of the files in ``read``.

    ``pins`` are artefact ids the artefact must have (the registry's, the caller's): checked
    first, from the manifest's claimed id, then confirmed by hashing. With ``public_key``,
    ``manifest.sig`` must be a valid signature of the manifest's exact bytes by that key.
    ``hashed`` maps files to digests the caller computed from bytes it read itself."""
    root = Path(path)
    raw = _manifest_bytes(root)
    manifest = parse_manifest(root, raw)
    for pin in pins:
        check_pin(root, manifest["artifact_id"], pin)
    sig = _signature_bytes(root)
    if public_key is not None:
        check_signature(root, raw, sig, public_key)
    files: dict[str, Any] = manifest["files"]
    missing = [rel for rel in read if rel not in files]
    if missing:
        raise VerificationError(f"{root}: file {missing[0]!r} is not listed in the manifest; "
                                f"{_FIX}.")
    captured: dict[str, bytes] = {}
    for rel in sorted(files):
        entry = files[rel]
        target = _inside(root, rel)
        want_size = entry["size"]
        try:
            if target.is_symlink() or not target.is_file():
                what = "a symlink" if target.is_symlink() else "missing"
                raise VerificationError(f"{root}: file {rel!r} listed in the manifest is {what}; "
                                        f"{_FIX}.")
            size = target.stat().st_size
            if size != want_size:
                raise VerificationError(f"{root}: file {rel!r} is {size} bytes, the manifest says "
                                        f"{want_size}; {_FIX}.")
            if hashed and rel in hashed:
                digest = hashed[rel]
            else:
                digest, data = _digest(target, keep=rel in read)
                if data is not None:
                    captured[rel] = data
        except OSError as exc:
            raise VerificationError(f"{root}: file {rel!r} cannot be read ({exc.strerror or exc}); "
                                    f"{_FIX}.") from None
        if digest != entry["sha256"]:
            raise VerificationError(f"{root}: file {rel!r} has sha256 {digest}, the manifest says "
                                    f"{entry['sha256']}: it was modified; {_FIX}.")
    try:
        extra = [f for f in list_files(root) if f not in files and f != SIGNATURE_FILE]
    except OSError as exc:
        raise VerificationError(f"{root}: cannot list the artefact ({exc.strerror or exc}); "
                                f"{_FIX}.") from None
    if extra:
        raise VerificationError(f"{root}: file {extra[0]!r} is not listed in the manifest "
                                f"({len(extra)} extra file(s)); remove it or {_FIX}.")
    if artifact_id(manifest) != manifest["artifact_id"]:
        raise VerificationError(f"{root}: file {MANIFEST!r} was edited: its artifact_id does not "
                                f"match its content; {_FIX}.")
    return VerifiedArtifact(path=root, manifest=manifest, files=captured, signed=sig is not None,
                            signature_checked=public_key is not None,
                            key_id=None if sig is None else signature_key_id(sig))


def check_pin(root: Path, claimed: str, pin: Pin) -> None:
    if claimed != pin.artifact_id:
        raise VerificationError(
            f"{root}: its artefact id {claimed} is not {pin.artifact_id}, the id {pin.source}: "
            "the artefact was replaced or rewritten after it was published. Do not use it; "
            "restore the version from a good copy or publish again.")


def read_manifest(root: Path) -> dict[str, Any]:
    """The parsed, structurally checked manifest (hashes not checked)."""
    return parse_manifest(root, _manifest_bytes(root))


def _manifest_bytes(root: Path) -> bytes:
    mpath = root / MANIFEST
    if not root.is_dir():
        raise VerificationError(f"{root} is not an artefact directory (it does not exist or is "
                                "not a directory).")
    try:
        # O_NONBLOCK: a FIFO (or a device) named manifest.json must not hang the verification on
        # open; it is refused below as what it is, not a file.
        fd = os.open(mpath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise VerificationError(f"{root}: {MANIFEST!r} is not a regular file (a FIFO, "
                                        f"device or directory); {_FIX}.")
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise VerificationError(f"{root}: file {MANIFEST!r} is missing, so nothing in the "
                                f"directory can be trusted; {_FIX}.") from None
    except OSError as exc:
        raise VerificationError(f"{root}: file {MANIFEST!r} cannot be read "
                                f"({exc.strerror or exc}); {_FIX}.") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise VerificationError(f"{root}: file {MANIFEST!r} is larger than "
                                f"{MAX_MANIFEST_BYTES >> 20} MiB, which no manifest is; {_FIX}.")
    return raw


def _signature_bytes(root: Path) -> bytes | None:
    p = root / SIGNATURE_FILE
    try:
        if p.is_symlink() or not p.is_file():
            return None
        with open(p, "rb") as fh:
            return fh.read(1 << 16)
    except OSError:
        return None


def parse_manifest(root: Path, raw: bytes) -> dict[str, Any]:
    """The manifest in ``raw``, checked field by field; VerificationError naming the fault."""
    try:
        manifest = loads_strict(raw)
    except (ValueError, RecursionError) as exc:
        raise VerificationError(f"{root}: file {MANIFEST!r} is not valid JSON "
                                f"({parse_failure(exc)}); {_FIX}.") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise VerificationError(f"{root}: file {MANIFEST!r} is not a pytest-mlgate manifest "
                                f"(expected \"schema\": \"{SCHEMA}\"); {_FIX}.")
    version: Any = manifest.get("schema_version")
    if not _is_int(version) or version < 1:
        raise VerificationError(f"{root}: file {MANIFEST!r} has schema_version {version!r}, "
                                f"which is not a version number; {_FIX}.")
    if version > SCHEMA_VERSION:
        raise VerificationError(f"{root}: manifest schema_version {version!r} is not supported "
                                f"(this pytest-mlgate reads up to {SCHEMA_VERSION}); upgrade "
                                "pytest-mlgate.")
    files: Any = manifest.get("files")
    aid = manifest.get("artifact_id")
    ok = isinstance(files, dict) and isinstance(aid, str) and bool(ID_PATTERN.match(aid)) and all(
        isinstance(e, dict) and isinstance(e.get("sha256"), str) and _is_int(e.get("size"))
        and 0 <= e["size"] <= _MAX_FILE_SIZE for e in files.values())
    if not ok:
        raise VerificationError(f"{root}: file {MANIFEST!r} lacks a valid 'files' table (each "
                                "entry a sha256 and a size in bytes) or 'artifact_id'; "
                                f"{_FIX}.")
    for rel in files:
        _inside(root, rel)
    return manifest


def model_entry(root: Path, manifest: Mapping[str, Any]) -> tuple[str, str]:
    """``(file, format)`` of the manifest's model, checked; VerificationError otherwise."""
    from pytest_mlgate.delivery.serialize import FORMATS

    info = manifest.get("model")
    if not isinstance(info, dict) or not isinstance(info.get("file"), str) \
            or info["file"] not in manifest["files"]:
        raise VerificationError(f"{root}: {MANIFEST} has no 'model' entry naming a listed model "
                                f"file; {_FIX}.")
    fmt = info.get("format")
    if fmt not in FORMATS:
        raise VerificationError(f"{root}: {MANIFEST} names the model format {fmt!r}; this "
                                f"pytest-mlgate reads {', '.join(FORMATS)}. Upgrade "
                                "pytest-mlgate, or re-publish the model.")
    return str(info["file"]), str(fmt)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _inside(root: Path, rel: str) -> Path:
    p = PurePosixPath(rel)
    bad = (not rel or "\x00" in rel or "\\" in rel or p.is_absolute() or ".." in p.parts
           or not p.parts or rel in (MANIFEST, SIGNATURE_FILE) or len(rel) > 1024
           or any(len(part) > 255 for part in p.parts))
    if bad:
        raise VerificationError(f"{root}: {MANIFEST} lists the path {rel[:300]!r}, which is not a "
                                f"file inside the artefact; {_FIX}.")
    return root.joinpath(*p.parts)


def _digest(path: Path, keep: bool) -> tuple[str, bytes | None]:
    """The file's hash, and with ``keep`` its bytes (read once: the bytes hashed are the bytes
    used)."""
    if not keep:
        return hash_file(path)[0], None
    data = path.read_bytes()
    return hash_bytes(data), data
