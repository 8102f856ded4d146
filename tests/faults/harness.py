"""Deterministic fault injection through the plugin's one I/O seam, ``pytest_mlgate.atomic.OPS``.

A clean run of an operation records its *points*: every write, fsync and rename it makes, named
by kind, path (relative to the scratch directory, random tokens normalized) and occurrence. Then,
for each point and each fault, the operation runs again in a forked child on a fresh copy of the
starting state, with a ``FileOps`` that makes exactly that call fail:

- ``kill``: SIGKILL of the child (a write first writes half its bytes: a torn write);
- ``ENOSPC``: a write writes half its bytes, then fails; an fsync or rename fails;
- ``EACCES``, ``EIO``: the call fails before doing anything.

Points are named, not numbered, so the threads publish uses to fsync files in parallel do not
make the run order-dependent. The scratch directory is on tmpfs when there is one: fsync costs
nothing there, and what is checked (the state left by a killed process or a failed call) does
not depend on the filesystem.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate import atomic
from pytest_mlgate.errors import MlgateError

FAULTS = ("kill", "ENOSPC", "EACCES", "EIO")
_TOKEN = re.compile(r"[0-9a-f]{32}|[0-9a-f]{12}")
_MKSTEMP = re.compile(r"\.[a-z0-9_]{8}\.tmp\b")


def scratch_root() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


class Recording(atomic.FileOps):
    """Names every call it passes through (``points``)."""

    def __init__(self, base: Path) -> None:
        self.base = str(base)
        self.points: list[str] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def point(self, kind: str, path: str) -> str:
        rel = os.path.relpath(path, self.base) if os.path.isabs(path) else path
        rel = _MKSTEMP.sub(".<tmp>", _TOKEN.sub("<id>", rel))
        with self._lock:
            self._seen[f"{kind} {rel}"] += 1
            name = f"{kind} {rel} #{self._seen[f'{kind} {rel}']}"
            self.points.append(name)
        return name

    def write(self, fd: int, data: memoryview, path: str) -> int:
        self.point("write", path)
        return super().write(fd, data, path)

    def fsync(self, fd: int, path: str) -> None:
        self.point("fsync", path)
        super().fsync(fd, path)

    def rename(self, src: str, dst: str) -> None:
        self.point("rename", src)
        super().rename(src, dst)


class Faulty(Recording):
    """Fails the call named ``target`` with ``fault`` (once)."""

    def __init__(self, base: Path, target: str, fault: str) -> None:
        super().__init__(base)
        self.target, self.fault = target, fault

    def _fail(self) -> None:
        if self.fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        code = getattr(errno, self.fault)
        raise OSError(code, os.strerror(code))

    def write(self, fd: int, data: memoryview, path: str) -> int:
        if self.point("write", path) == self.target:
            if self.fault in ("kill", "ENOSPC") and len(data) > 1:
                os.write(fd, data[: len(data) // 2])
            self._fail()
        return os.write(fd, data)

    def fsync(self, fd: int, path: str) -> None:
        if self.point("fsync", path) == self.target:
            self._fail()
        os.fsync(fd)

    def rename(self, src: str, dst: str) -> None:
        if self.point("rename", src) == self.target:
            self._fail()
        os.replace(src, dst)


@dataclass(frozen=True)
class Outcome:
    """How the faulty run ended: ``ok`` (with the operation's JSON result), ``error`` (an
    MlgateError: its message), ``killed``, or ``bug`` (anything else: a traceback)."""

    kind: str
    message: str = ""
    value: Any = None


@contextmanager
def seam(ops: atomic.FileOps) -> Iterator[None]:
    saved = atomic.OPS
    atomic.OPS = ops
    try:
        yield
    finally:
        atomic.OPS = saved


def record_points(base: Path, operation: Callable[[], Any]) -> list[str]:
    """The points of a clean run of ``operation`` (which must succeed)."""
    recording = Recording(base)
    with seam(recording):
        operation()
    return recording.points


def run_faulty(base: Path, operation: Callable[[], Any], target: str, fault: str) -> Outcome:
    """Run ``operation`` in a forked child with ``fault`` at point ``target``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            atomic.OPS = Faulty(base, target, fault)
            try:
                result: dict[str, Any] = {"kind": "ok", "value": operation()}
            except MlgateError as exc:
                result = {"kind": "error", "message": str(exc)}
            except BaseException:
                result = {"kind": "bug", "message": traceback.format_exc()}
            with os.fdopen(write_end, "w") as fh:
                json.dump(result, fh, default=repr)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL, f"child died of signal {os.WTERMSIG(status)}"
        return Outcome("killed")
    parsed = json.loads(data)
    return Outcome(parsed["kind"], parsed.get("message", ""), parsed.get("value"))


def fresh_copy(template: Path, base: Path) -> None:
    """Make ``base`` a copy of ``template`` (``base`` is removed first)."""
    if base.exists():
        shutil.rmtree(base)
    shutil.copytree(template, base, symlinks=True)
