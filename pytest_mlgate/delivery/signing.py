"""Ed25519 signatures over an artefact's manifest: ``manifest.sig`` beside ``manifest.json``.

Publish signs the exact bytes of ``manifest.json`` with the private key that ini
``mlgate_signing_key`` names (a PEM file, or ``env:VARIABLE`` holding the PEM text, for a CI
secret). The manifest lists every file's sha256, so the signature covers the whole artefact.
``mlgate verify --public-key`` and ``load(..., public_key=...)`` check it with the public key
the consumer holds; nothing stored in the registry can stand in for that key.

``manifest.sig`` is JSON: ``{"schema": "pytest-mlgate/signature", "algorithm": "ed25519",
"key_id": "sha256:<hex of the raw public key>", "signature": "<base64 of 64 bytes>"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import ConfigError, VerificationError
from pytest_mlgate.strict_json import file_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNATURE_FILE = "manifest.sig"
SIGNATURE_SCHEMA = "pytest-mlgate/signature"
ALGORITHM = "ed25519"
ENV_PREFIX = "env:"
_MAX_SIG_BYTES = 4096  # a signature record is ~250 bytes
_KEYGEN_FIX = "make a key pair with `mlgate keygen PATH` (PATH is the private key, PATH.pub the public one)"


def key_id(public_key: Ed25519PublicKey) -> str:
    """``"sha256:<hex>"`` of the raw 32-byte public key: names the key in messages."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def generate_key_pair(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair as PEM: ``path`` (private, PKCS#8, mode 0600) and
    ``path.pub`` (public, SubjectPublicKeyInfo). Refuses to overwrite either file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pytest_mlgate import atomic

    private_path = Path(path)
    public_path = private_path.with_name(private_path.name + ".pub")
    for p in (private_path, public_path):
        if p.exists():
            raise ConfigError(f"{p} already exists; keygen never overwrites a key. Choose another "
                              "path, or remove the old pair if nothing is signed with it.")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        atomic.create(private_path, private_pem, mode=0o600)
        atomic.create(public_path, public_pem)
    except OSError as exc:
        raise ConfigError(f"cannot write the key pair {private_path}: {exc}") from exc
    return private_path, public_path


def load_signing_key(spec: str, *, base: Path | None = None) -> Ed25519PrivateKey:
    """The private key ini ``mlgate_signing_key`` names: ``env:VARIABLE`` (the variable holds
    the PEM text, or that text base64-encoded on one line) or a PEM file path (relative paths
    resolve against ``base``). ConfigError naming the setting and the fix otherwise."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    spec = spec.strip()
    where = f"ini mlgate_signing_key = {spec!r}"
    if spec.startswith(ENV_PREFIX):
        var = spec[len(ENV_PREFIX):].strip()
        if not var:
            raise ConfigError(f"{where} names no environment variable; write env:NAME.")
        value = os.environ.get(var)
        if not value:
            raise ConfigError(f"{where}: the environment variable {var} is not set or empty. In CI, "
                              f"map the secret holding the private key to {var}; {_KEYGEN_FIX}.")
        data = _pem_text(value)
        source = f"the environment variable {var}"
    else:
        path = Path(spec).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {path} ({exc.strerror or exc}); {_KEYGEN_FIX}, "
                              "or write env:VARIABLE to read the key from the environment.") from None
        source = str(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {source} does not hold an unencrypted PEM private key "
                          f"({exc}); {_KEYGEN_FIX}.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where}: {source} holds a {type(key).__name__.lstrip('_')}, not an "
                          f"Ed25519 key; {_KEYGEN_FIX}.")
    return key


def load_public_key(key: str | os.PathLike[str] | bytes | Ed25519PublicKey) -> Ed25519PublicKey:
    """A consumer's public key: a PEM file path, PEM bytes or text, or a key object."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, bytes) or (isinstance(key, str) and key.lstrip().startswith("-----BEGIN")):
        data, source = (key if isinstance(key, bytes) else key.encode()), "the PEM given"
    elif isinstance(key, (str, os.PathLike)):
        try:
            data = Path(key).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the public key {os.fspath(key)} "
                              f"({exc.strerror or exc}); pass the PATH.pub file `mlgate keygen` "
                              "wrote.") from None
        source = os.fspath(key)
    else:
        raise ConfigError(f"public_key must be a PEM file path or PEM bytes, got "
                          f"{type(key).__name__}.")
    try:
        loaded = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source} is not a PEM public key ({exc}); pass the PATH.pub file "
                          "`mlgate keygen` wrote.") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise ConfigError(f"{source} is a {type(loaded).__name__.lstrip('_')}, not an Ed25519 "
                          "public key; pass the PATH.pub file `mlgate keygen` wrote.")
    return loaded


def sign_manifest(private_key: Ed25519PrivateKey, manifest: bytes) -> bytes:
    """The content of ``manifest.sig`` for the exact bytes of ``manifest.json``."""
    record = {"schema": SIGNATURE_SCHEMA, "algorithm": ALGORITHM,
              "key_id": key_id(private_key.public_key()),
              "signature": base64.b64encode(private_key.sign(manifest)).decode("ascii")}
    return file_bytes(record)


def check_signature(where: Path, manifest: bytes, signature: bytes | None,
                    public_key: Ed25519PublicKey) -> None:
    """VerificationError unless ``signature`` (the bytes of manifest.sig, None when absent) is
    a valid signature of ``manifest`` by ``public_key``."""
    from cryptography.exceptions import InvalidSignature

    fix = ("re-publish it with ini mlgate_signing_key set to the private key of this public key, "
           "or restore the artefact from a good copy")
    if signature is None:
        raise VerificationError(f"{where}: the artefact is not signed (no {SIGNATURE_FILE}), and a "
                                f"public key was given, so it is refused; {fix}.")
    record = _parse_record(signature)
    if record is None:
        raise VerificationError(f"{where}: file {SIGNATURE_FILE!r} is not a pytest-mlgate signature "
                                f"record; {fix}.")
    want = key_id(public_key)
    if record["key_id"] != want:
        raise VerificationError(f"{where}: {SIGNATURE_FILE} was made with another key "
                                f"({record['key_id']}), not the public key given ({want}); {fix}.")
    try:
        public_key.verify(record["signature"], manifest)
    except InvalidSignature:
        raise VerificationError(f"{where}: the signature in {SIGNATURE_FILE} does not match "
                                f"manifest.json: the manifest or the signature was altered; "
                                f"{fix}.") from None


def signature_key_id(signature: bytes) -> str | None:
    """The key id a manifest.sig claims (not checked), or None when it is unreadable."""
    record = _parse_record(signature)
    return None if record is None else str(record["key_id"])


def _parse_record(data: bytes) -> dict[str, Any] | None:
    if len(data) > _MAX_SIG_BYTES:
        return None
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or record.get("schema") != SIGNATURE_SCHEMA \
            or record.get("algorithm") != ALGORITHM or not isinstance(record.get("key_id"), str) \
            or not isinstance(record.get("signature"), str):
        return None
    try:
        raw = base64.b64decode(record["signature"], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 64:
        return None
    return {"key_id": record["key_id"], "signature": raw}


def _pem_text(value: str) -> bytes:
    """PEM from an environment variable: as is, with escaped newlines, or base64 on one line
    (some CI secret stores keep a single line)."""
    text = value.strip()
    if "-----BEGIN" in text:
        if "\n" not in text and "\\n" in text:
            text = text.replace("\\n", "\n")
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()
