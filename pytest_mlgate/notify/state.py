"""The last verdict of each state key, for ``mlgate_notify_on = change``: a small JSON file
(default ``.mlgate/notify-state.json``), replaced atomically under a lock so that two runs
finishing together do not lose each other's verdict."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

STATE_SCHEMA = "pytest-mlgate/notify-state"
STATE_SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 10.0


class StateError(Exception):
    """The state file cannot be read or written; the message says which and why."""


def _lock(path: Path) -> Any:
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S)


def _read(path: Path) -> dict[str, Any]:
    from pytest_mlgate.strict_json import loads, why

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = loads(data)
    except (ValueError, RecursionError) as exc:
        raise StateError(f"{path} is not a notification state file ({why(exc)}); delete it to "
                         "start afresh") from None
    if not isinstance(doc, dict) or doc.get("schema") != STATE_SCHEMA or not isinstance(doc.get("keys"), dict):
        raise StateError(f"{path} is not a notification state file (schema {STATE_SCHEMA} "
                         "expected); delete it to start afresh")
    return dict(doc["keys"])


def last_verdict(path: Path, key: str) -> str | None:
    """The verdict recorded for ``key``, or None when none was."""
    entry = _read(path).get(key)
    verdict = entry.get("verdict") if isinstance(entry, dict) else None
    return verdict if isinstance(verdict, str) else None


def record_verdict(path: Path, key: str, verdict: str, *, healthy: bool) -> None:
    """Remember ``verdict`` as the last one of ``key`` (the other keys are kept)."""
    from pytest_mlgate.atomic import write_json

    try:
        with _lock(path):
            try:
                keys = _read(path)
            except StateError:
                keys = {}  # a corrupt file held nothing worth keeping; it is replaced
            keys[key] = {"verdict": verdict, "healthy": healthy,
                         "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
            write_json(path, {"schema": STATE_SCHEMA, "schema_version": STATE_SCHEMA_VERSION, "keys": keys})
    except OSError as exc:  # filelock's Timeout is an OSError too
        raise StateError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None
