"""The baseline file: reviewable JSON plus an optional compressed side file of per-sample data.

``.mlgate/baseline.json`` holds, per test key and metric, the value, its interval, level, n,
method and the fingerprint of the evaluation data, with the schema version, plugin version, git
commit, machine and creation time. Per-sample arrays for paired comparisons go in
``baseline.samples.npz`` next to it; the JSON records its SHA-256 so a stale side file is caught.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytest_mlgate import atomic
from pytest_mlgate.errors import BaselineError

SCHEMA_VERSION = 1
DEFAULT_PATH = ".mlgate/baseline.json"
_FIX = (
    "restore it from version control, or delete it and rerun "
    "`pytest --mlgate --mlgate-update-baseline` to write a fresh one"
)


@dataclass(frozen=True)
class BaselineEntry:
    """One metric of one test as stored in the baseline."""

    test_key: str
    metric: str
    value: float
    low: float | None = None
    high: float | None = None
    level: float | None = None
    n: int | None = None
    method: str | None = None
    fingerprint: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "n": self.n,
            "method": self.method,
            "fingerprint": self.fingerprint,
            "info": dict(self.info),
        }


def side_path(path: str | os.PathLike[str]) -> Path:
    """``.mlgate/baseline.json`` -> ``.mlgate/baseline.samples.npz``."""
    p = Path(path)
    stem = p.name[: -len(".json")] if p.name.endswith(".json") else p.name
    return p.with_name(f"{stem}.samples.npz")


def _array_key(test_key: str, metric: str, name: str) -> str:
    # Test keys hold '::', '/', '[' ...: a digest makes a safe, stable npz member name.
    digest = hashlib.sha256(f"{test_key}\0{metric}".encode()).hexdigest()[:20]
    return f"{digest}.{name}"


class Baseline:
    """A loaded baseline file. Per-sample data is read from the side file on first use."""

    def __init__(
        self, path: Path, data: dict[str, Any], side: Path | None, side_sha: str | None
    ) -> None:
        self.path = path
        self.schema_version: int = int(data["schema_version"])
        self.plugin_version: str = str(data.get("plugin_version", ""))
        self.created: str = str(data.get("created", ""))
        self.git: dict[str, Any] = dict(data.get("git") or {})
        self.machine: dict[str, Any] = dict(data.get("machine") or {})
        self._entries: dict[tuple[str, str], BaselineEntry] = {}
        self._sample_fields: dict[tuple[str, str], list[str]] = {}
        metrics = data.get("metrics")
        if not isinstance(metrics, dict):
            raise BaselineError(f"baseline {path} has no 'metrics' table; {_FIX}")
        for test_key, per_metric in metrics.items():
            if not isinstance(per_metric, dict):
                raise BaselineError(f"baseline {path}: entry {test_key!r} is not a table; {_FIX}")
            for metric, d in per_metric.items():
                try:
                    entry = BaselineEntry(
                        test_key=str(test_key),
                        metric=str(metric),
                        value=float(d["value"]),
                        low=_opt_float(d.get("low")),
                        high=_opt_float(d.get("high")),
                        level=_opt_float(d.get("level")),
                        n=None if d.get("n") is None else int(d["n"]),
                        method=d.get("method"),
                        fingerprint=d.get("fingerprint"),
                        info=dict(d.get("info") or {}),
                    )
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise BaselineError(
                        f"baseline {path}: metric {metric!r} of {test_key!r} is malformed "
                        f"({exc}); {_FIX}"
                    ) from exc
                self._entries[(entry.test_key, entry.metric)] = entry
                if d.get("samples"):
                    self._sample_fields[(entry.test_key, entry.metric)] = list(d["samples"])
        self._side = side
        self._side_sha = side_sha
        self._arrays: dict[str, NDArray[Any]] | None = None

    def get(self, test_key: str, metric: str) -> BaselineEntry | None:
        return self._entries.get((test_key, metric))

    def entries(self) -> list[BaselineEntry]:
        return [self._entries[k] for k in sorted(self._entries)]

    def samples(self, test_key: str, metric: str) -> dict[str, NDArray[Any]] | None:
        """The per-sample arrays stored for (test_key, metric), or None when there are none."""
        fields = self._sample_fields.get((test_key, metric))
        if not fields or self._side is None:
            return None
        if self._arrays is None:
            if not self._side.exists():
                return None
            with np.load(self._side, allow_pickle=False) as npz:
                self._arrays = {k: npz[k] for k in npz.files}
        out = {}
        for name in fields:
            arr = self._arrays.get(_array_key(test_key, metric, name))
            if arr is None:
                return None
            out[name] = arr
        return out


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def load_baseline(path: str | os.PathLike[str]) -> Baseline | None:
    """Read a baseline file; None when it does not exist.

    Raises BaselineError for unreadable or corrupt JSON, a wrong or future schema version, or a
    side file whose SHA-256 differs from the one recorded.
    """
    p = Path(path)
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {p} is not valid JSON ({exc}); {_FIX}") from exc
    if not isinstance(data, dict) or "schema_version" not in data:
        raise BaselineError(
            f"baseline {p} is not a pytest-mlgate baseline (no schema_version); {_FIX}"
        )
    version = data["schema_version"]
    if not isinstance(version, int) or version < 1:
        raise BaselineError(f"baseline {p} has an invalid schema_version {version!r}; {_FIX}")
    if version > SCHEMA_VERSION:
        raise BaselineError(
            f"baseline {p} was written by a newer pytest-mlgate "
            f"({data.get('plugin_version', '?')}, "
            f"schema {version}); this version reads schema {SCHEMA_VERSION}: upgrade pytest-mlgate "
            f"(pip install -U pytest-mlgate)"
        )
    side_info = data.get("samples_file") or None
    side: Path | None = None
    sha: str | None = None
    if side_info:
        side = p.with_name(str(side_info["name"]))
        sha = str(side_info["sha256"])
        if side.exists():
            actual = hashlib.sha256(side.read_bytes()).hexdigest()
            if actual != sha:
                raise BaselineError(
                    f"baseline side file {side} does not match {p} (sha256 {actual[:12]} != "
                    f"recorded {sha[:12]}): the two were not written together; {_FIX}"
                )
    return Baseline(p, data, side, sha)


def write_baseline(
    path: str | os.PathLike[str],
    entries: Sequence[BaselineEntry],
    samples: Mapping[tuple[str, str], Mapping[str, NDArray[Any]]],
    *,
    plugin_version: str,
    git: Mapping[str, Any],
    machine: Mapping[str, Any],
) -> None:
    """Write the baseline JSON and its side file atomically, side file first.

    Everything is serialized in memory before any file is touched; if writing the JSON fails
    after the side file was replaced, the previous side file is put back, so the previous pair
    stays intact.
    """
    p = Path(path)
    side = side_path(p)
    metrics: dict[str, dict[str, Any]] = {}
    arrays: dict[str, NDArray[Any]] = {}
    for e in entries:
        for name, x in (("value", e.value), ("low", e.low), ("high", e.high)):
            if x is not None and not math.isfinite(float(x)):
                raise BaselineError(
                    f"cannot write baseline {p}: {name} of metric {e.metric!r} of {e.test_key!r} "
                    f"is {x}; fix the test so the metric is a finite number"
                )
        d = e.to_json()
        fields = samples.get((e.test_key, e.metric))
        if fields:
            for name, arr in fields.items():
                a = np.asarray(arr)
                if a.dtype.kind == "O":
                    raise BaselineError(
                        f"per-sample array {name!r} of {e.metric!r} has object dtype"
                    )
                arrays[_array_key(e.test_key, e.metric, name)] = a
            d["samples"] = sorted(fields)
        metrics.setdefault(e.test_key, {})[e.metric] = d
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "plugin_version": plugin_version,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": dict(git),
        "machine": dict(machine),
        "metrics": metrics,
        "samples_file": None,
    }
    side_bytes: bytes | None = None
    if arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        side_bytes = buf.getvalue()
        doc["samples_file"] = {"name": side.name, "sha256": hashlib.sha256(side_bytes).hexdigest()}
    try:
        text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise BaselineError(
            f"cannot write baseline {p}: {exc}; info fields must be JSON values"
        ) from exc
    previous = side.read_bytes() if side.exists() else None
    try:
        if side_bytes is not None:
            atomic.write_bytes(side, side_bytes)
        atomic.write_text(p, text)
    except OSError as exc:
        if side_bytes is not None and previous is not None:
            atomic.write_bytes(side, previous)
        raise BaselineError(f"cannot write baseline {p}: {exc}") from exc
    if side_bytes is None and side.exists() and previous is not None:
        # The new baseline has no per-sample data: drop the old side file it no longer names.
        side.unlink()
