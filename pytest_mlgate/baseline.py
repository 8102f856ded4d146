"""The baseline file: reviewable JSON plus an optional compressed side file of per-sample data.

``.mlgate/baseline.json`` holds, per test key and metric, the value, its interval, level, n,
method and the fingerprint of the evaluation data, with the schema version, plugin version, git
commit, machine and creation time. Per-sample arrays for paired comparisons go in
``baseline.samples.npz`` next to it; the JSON records its SHA-256 so a stale side file is caught.
The pair is written under a lock, with the JSON's rename as the one commit point. During a run
that updates the baseline, each test's arrays are staged in a file of their own (``write_samples``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import io
import json
import math
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytest_mlgate import atomic, strict_json
from pytest_mlgate.errors import BaselineError
from pytest_mlgate.measurement import Measurement

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
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

    @classmethod
    def of(cls, test_key: str, m: Measurement) -> BaselineEntry:
        """The entry for measurement ``m`` of the test keyed ``test_key``: its fields, with the
        data fingerprint moved out of ``info`` into a field of its own."""
        info = dict(m.info)
        fingerprint = info.pop("fingerprint", None)
        return cls(test_key=test_key, metric=m.name, value=m.value, low=m.low, high=m.high,
                   level=m.level, n=m.n, method=m.method, fingerprint=fingerprint, info=info)

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
    """A loaded baseline file, checked field by field, with its per-sample arrays (read from
    the very bytes whose SHA-256 was checked)."""

    def __init__(
        self, path: Path, data: dict[str, Any],
        arrays: dict[str, NDArray[Any]] | None = None,
    ) -> None:
        self.path = path
        self.schema_version: int = int(data["schema_version"])
        self.plugin_version: str = _field(path, data, "plugin_version", str, "")
        self.created: str = _field(path, data, "created", str, "")
        self.git: dict[str, Any] = dict(_field(path, data, "git", dict, {}))
        self.machine: dict[str, Any] = dict(_field(path, data, "machine", dict, {}))
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
                    entry, fields = _entry(str(test_key), str(metric), d)
                except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                    raise BaselineError(
                        f"baseline {path}: metric {metric!r} of {test_key!r} is malformed "
                        f"({exc}); {_FIX}"
                    ) from None
                self._entries[(entry.test_key, entry.metric)] = entry
                if fields:
                    self._sample_fields[(entry.test_key, entry.metric)] = fields
        self._arrays = arrays

    def get(self, test_key: str, metric: str) -> BaselineEntry | None:
        return self._entries.get((test_key, metric))

    def entries(self) -> list[BaselineEntry]:
        return [self._entries[k] for k in sorted(self._entries)]

    def samples(self, test_key: str, metric: str) -> dict[str, NDArray[Any]] | None:
        """The per-sample arrays stored for (test_key, metric), or None when there are none."""
        fields = self._sample_fields.get((test_key, metric))
        if not fields or self._arrays is None:
            return None
        out = {}
        for name in fields:
            arr = self._arrays.get(_array_key(test_key, metric, name))
            if arr is None:
                return None
            out[name] = arr
        return out


_MAX_N = 2**63


def _field(path: Path, data: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise BaselineError(f"baseline {path}: field {key!r} must be a {kind.__name__}, got "
                            f"{type(value).__name__}; {_FIX}")
    return value


def _number(d: Mapping[str, Any], key: str, required: bool = False) -> float | None:
    x = d[key] if required else d.get(key)
    if x is None and not required:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"{key} is {x!r:.60}, not a number")
    value = float(x)  # OverflowError for an integer beyond any float
    if not math.isfinite(value):
        raise ValueError(f"{key} is {value}, not a finite number")
    return value


def _entry(test_key: str, metric: str, d: Any) -> tuple[BaselineEntry, list[str]]:
    if not isinstance(d, dict):
        raise TypeError("it is not a table")
    value = _number(d, "value", required=True)
    assert value is not None
    n = d.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < _MAX_N):
        raise ValueError(f"n is {n!r:.60}, not a count")
    for key in ("method", "fingerprint"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise ValueError(f"{key} is {d[key]!r:.60}, not a string")
    info = d.get("info")
    if info is not None and not isinstance(info, dict):
        raise ValueError(f"info is {info!r:.60}, not a table")
    fields = d.get("samples") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ValueError(f"samples is {fields!r:.60}, not a list of names")
    low, high, level = _number(d, "low"), _number(d, "high"), _number(d, "level")
    if level is not None and not 0 < level < 1:
        raise ValueError(f"level is {level:g}, not a confidence level between 0 and 1")
    if low is not None and high is not None and low > high:
        raise ValueError(f"its interval is [{low:g}, {high:g}]: low is above high")
    entry = BaselineEntry(
        test_key=test_key, metric=metric, value=value, low=low,
        high=high, level=level, n=n, method=d.get("method"),
        fingerprint=d.get("fingerprint"), info=dict(info or {}))
    return entry, list(fields)


def _next_path(side: Path) -> Path:
    """Where a writer puts a new side file before the JSON that names it is committed."""
    return side.with_name(f".{side.name}.next")


class _Mismatch(Exception):
    """The side file is not the one the JSON names (yet: a writer may be mid-update)."""


def load_baseline(path: str | os.PathLike[str]) -> Baseline | None:
    """Read a baseline file; None when it does not exist.

    Raises BaselineError for unreadable or corrupt JSON, fields of the wrong type, a wrong or
    future schema version, or a side file whose SHA-256 differs from the one recorded or whose
    content is not the arrays the JSON names. A writer updating the pair meanwhile is waited
    out (the pair is read again, a few times).
    """
    p = Path(path)
    for _ in range(_READ_ATTEMPTS):
        if not p.exists():
            return None
        data = _read_json(p)
        side_info = data.get("samples_file") or None
        if side_info is None:
            return Baseline(p, data, None)
        if not isinstance(side_info, dict) or not isinstance(side_info.get("name"), str) \
                or not _SIDE_NAME.match(side_info["name"]) \
                or not isinstance(side_info.get("sha256"), str):
            raise BaselineError(f"baseline {p}: 'samples_file' must name a file next to it and "
                                f"its sha256, got {side_info!r:.120}; {_FIX}")
        side = p.with_name(side_info["name"])
        try:
            arrays = _read_side(p, side, side_info["sha256"])
        except _Mismatch as exc:
            mismatch = str(exc)
            time.sleep(0.01)
            continue
        return Baseline(p, data, arrays)
    raise BaselineError(mismatch)


_READ_ATTEMPTS = 5
_SIDE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,200}\Z")


_MAX_JSON_BYTES = 1 << 28  # 256 MiB: far above any baseline
_MAX_SIDE_BYTES = 1 << 34  # 16 GiB of samples


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``; OSError for anything else (a FIFO, a device
    such as /dev/zero, a directory) and for a file larger than ``limit`` bytes, so a read never
    hangs or fills memory."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file (a device, FIFO or directory)",
                          str(path))
        if st.st_size > limit:
            raise OSError(errno.EFBIG, f"it is larger than {limit} bytes", str(path))
        chunks = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 24))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise OSError(errno.EFBIG, f"it is larger than {limit} bytes", str(path))
        return data
    finally:
        os.close(fd)


def _read_json(p: Path) -> dict[str, Any]:
    try:
        data = strict_json.loads(_read_regular(p, _MAX_JSON_BYTES))
    except OSError as exc:
        raise BaselineError(f"baseline {p} cannot be read ({exc.strerror or exc}); {_FIX}") from exc
    except (ValueError, RecursionError) as exc:
        raise BaselineError(
            f"baseline {p} is not valid JSON ({strict_json.why(exc)}); {_FIX}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise BaselineError(
            f"baseline {p} is not a pytest-mlgate baseline (no schema_version); {_FIX}"
        )
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BaselineError(f"baseline {p} has an invalid schema_version {version!r:.40}; {_FIX}")
    if version > SCHEMA_VERSION:
        raise BaselineError(
            f"baseline {p} was written by a newer pytest-mlgate "
            f"({str(data.get('plugin_version', '?'))[:40]}, "
            f"schema {version}); this version reads schema {SCHEMA_VERSION}: upgrade pytest-mlgate "
            f"(pip install -U pytest-mlgate)"
        )
    return data


def _read_side(p: Path, side: Path, sha: str) -> dict[str, NDArray[Any]]:
    """The arrays of the side file whose SHA-256 is ``sha``, decoded from the bytes hashed. A
    writer leaves the new side file at ``_next_path`` until the JSON naming it is in place, so
    that name is tried too (and the side file again, in case the writer just renamed it)."""
    data: bytes | None = None
    found = False
    actual = ""
    for candidate in (side, _next_path(side), side):
        try:
            raw = _read_regular(candidate, _MAX_SIDE_BYTES)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise BaselineError(f"baseline side file {candidate} cannot be read "
                                f"({exc.strerror or exc}); {_FIX}") from exc
        found = True
        digest = hashlib.sha256(raw).hexdigest()
        if digest == sha:
            data, side = raw, candidate
            break
        if candidate == side:
            actual = digest
    if data is None:
        if not found:
            # Without it paired comparisons fall back to weaker unpaired ones: never silently.
            raise BaselineError(
                f"baseline {p} records the side file {side.name} (sha256 {sha[:12]}), but "
                f"{side} is missing: commit it next to the baseline (both files belong in "
                f"version control), or delete {p} and rerun "
                "`pytest --mlgate --mlgate-update-baseline` to write a fresh pair")
        raise _Mismatch(
            f"baseline side file {side} does not match {p} (sha256 {actual[:12]} != "
            f"recorded {sha[:12]}): the two were not written together; {_FIX}"
        )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as exc:  # zipfile, numpy's format reader: BadZipFile, ValueError, EOFError
        raise BaselineError(
            f"baseline side file {side} matches the sha256 recorded in {p} but is not a valid "
            f"samples file ({type(exc).__name__}: {str(exc)[:200]}); {_FIX}") from None


@contextlib.contextmanager
def _writer_lock(directory: Path, timeout_s: float = 60.0) -> Iterator[None]:
    """Exclusive among baseline writers of ``directory``: an flock on the directory itself (no
    lock file to commit by mistake); a lock file next to the baseline where there is no flock."""
    if fcntl is None:  # pragma: no cover - Windows
        from filelock import FileLock

        with FileLock(str(directory / ".baseline.lock"), timeout=timeout_s):
            yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BaselineError(f"another process has been writing a baseline in "
                                        f"{directory} for {timeout_s:.0f} s; try again when it "
                                        "has finished.") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _clean_leftovers(p: Path, side: Path, committed_sha: str | None) -> None:
    """Under the writer lock: finish a killed writer's move of its side file, and remove its
    temp files and a side file no baseline names. Every writer holds the lock, so these are
    all stale."""
    nxt = _next_path(side)
    if nxt.exists():
        try:
            same = committed_sha is not None and \
                hashlib.sha256(nxt.read_bytes()).hexdigest() == committed_sha
        except OSError:
            same = False
        if same:
            atomic.rename(nxt, side)
            atomic.fsync_dir(p.parent)
        else:
            nxt.unlink()
    prefixes = (f".{p.name}.", f".{side.name}.", f".{nxt.name}.")
    for entry in p.parent.iterdir():
        if entry.name.endswith(".tmp") and entry.name.startswith(prefixes):
            with contextlib.suppress(OSError):
                entry.unlink()


def _committed_sha(p: Path) -> str | None:
    """The side file sha256 the baseline on disk records (None: none, or unreadable)."""
    try:
        info = strict_json.loads(p.read_bytes()).get("samples_file")
        return str(info["sha256"]) if isinstance(info, dict) else None
    except (OSError, ValueError, RecursionError, AttributeError, KeyError, TypeError):
        return None


def write_baseline(
    path: str | os.PathLike[str],
    entries: Sequence[BaselineEntry],
    samples: Mapping[tuple[str, str], Mapping[str, NDArray[Any]]],
    *,
    plugin_version: str,
    git: Mapping[str, Any],
    machine: Mapping[str, Any],
) -> None:
    """Write the baseline JSON and its side file as a pair, atomically, under a lock.

    Everything is serialized in memory before any file is touched. The new side file goes to a
    hidden ``.next`` name, the JSON (which records its SHA-256) replaces the old one in one
    rename, the commit point, and the side file is then renamed into place. Whatever happens,
    readers see the old pair or the new one (a reader takes the ``.next`` file when the JSON
    names it); the next writer finishes or removes what a killed writer left.
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
        data = strict_json.file_bytes(doc)
    except (TypeError, ValueError) as exc:
        raise BaselineError(
            f"cannot write baseline {p}: {exc}; info fields must be JSON values"
        ) from exc
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with _writer_lock(p.parent):
            _commit_pair(p, side, data, side_bytes)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {p}: {exc}") from exc


def _commit_pair(p: Path, side: Path, data: bytes, side_bytes: bytes | None) -> None:
    _clean_leftovers(p, side, _committed_sha(p))
    nxt = _next_path(side)
    try:
        if side_bytes is not None:
            atomic.write_bytes(nxt, side_bytes)
        atomic.write_bytes(p, data)
    except OSError as exc:
        try:
            committed = p.read_bytes() == data
        except OSError:
            committed = False
        if not committed:
            with contextlib.suppress(OSError):
                nxt.unlink()
            raise OSError(exc.errno, f"{exc.strerror or exc}; the previous baseline is "
                          "unchanged") from exc
        # The rename happened but flushing the directory failed: the new pair is in place.
        _finish_pair(p, side, side_bytes)
        raise OSError(exc.errno, f"{exc.strerror or exc} while flushing it to disk; the new "
                      "baseline is in place, check the disk") from exc
    _finish_pair(p, side, side_bytes)


def _finish_pair(p: Path, side: Path, side_bytes: bytes | None) -> None:
    if side_bytes is not None:
        atomic.rename(_next_path(side), side)
        atomic.fsync_dir(p.parent)
    elif side.exists():
        # The new baseline has no per-sample data: drop the old side file it no longer names.
        side.unlink()


# -- staged samples: a test's per-sample arrays, kept until the controller writes the baseline ----

def write_samples(samples: Mapping[str, Mapping[str, Any]], nodeid: str, directory: Path) -> str:
    """Stage the per-sample data of one test for a baseline update (the controller merges them
    into the baseline's side file); returns the path of the file written."""
    arrays: dict[str, Any] = {}
    index: dict[str, list[str]] = {}
    for metric, parts in samples.items():
        index[metric] = []
        for part, arr in parts.items():
            slot = f"a{len(arrays)}"
            arrays[slot] = np.asarray(arr)
            index[metric].append(f"{part}={slot}")
    digest = hashlib.sha256(nodeid.encode()).hexdigest()[:24]
    path = directory / f"{digest}.npz"
    np.savez_compressed(path, __index__=np.array(strict_json.dumps(index, indent=None,
                                                                   sort_keys=False)), **arrays)
    return str(path)


def read_samples(path: str) -> dict[str, dict[str, Any]]:
    """What ``write_samples`` staged: metric -> part -> array."""
    with np.load(path, allow_pickle=False) as npz:
        index = json.loads(str(npz["__index__"]))
        out: dict[str, dict[str, Any]] = {}
        for metric, parts in index.items():
            out[metric] = {}
            for entry in parts:
                part, slot = entry.split("=", 1)
                out[metric][part] = npz[slot]
    return out
