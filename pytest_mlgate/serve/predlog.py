"""The prediction log: one JSON line per answered request, the input of the monitoring loop.

Each line is written with one ``write`` on a descriptor opened with O_APPEND, under a lock in
this process and an exclusive ``flock`` across processes, so concurrent requests (and several
servers sharing one file) never interleave within a line. Lines are not fsynced one by one (a
request would wait for the disk): a crash can lose the last lines, and a line torn by a crash is
cut off when the log is opened again, so every line in the file is a whole record.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ConfigError
from pytest_mlgate.strict_json import line as json_line

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock only
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class PredictionLog:
    """Appends records to ``path``; ``written`` and ``failed`` count lines."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.written = 0
        self.failed = 0
        self.last_error: str | None = None
        try:
            if not self.path.parent.is_dir():
                raise OSError(f"directory {self.path.parent} does not exist")
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as exc:
            raise ConfigError(f"--log-predictions {os.fspath(path)!r} cannot be opened for "
                              f"appending ({getattr(exc, 'strerror', None) or exc}); give a file "
                              "in a writable directory.") from None
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            os.close(self._fd)
            raise ConfigError(f"--log-predictions {os.fspath(path)!r} is not a regular file.")
        self._cut_torn_tail()

    def _cut_torn_tail(self) -> None:
        with self._locked():
            size = os.fstat(self._fd).st_size
            if not size or os.pread(self._fd, 1, size - 1) == b"\n":
                return
            end = size
            while end > 0:
                start = max(0, end - (1 << 16))
                i = os.pread(self._fd, end - start, start).rfind(b"\n")
                if i >= 0:
                    end = start + i + 1
                    break
                end = start
            os.ftruncate(self._fd, end)

    def _locked(self) -> _Locked:
        return _Locked(self._lock, self._fd)

    def append(self, record: Mapping[str, Any]) -> bool:
        """Write one record as a line; False (counted, remembered) when the disk refused it."""
        line = json_line(record)
        with self._locked():
            try:
                view = memoryview(line)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
            except OSError as exc:
                self.failed += 1
                self.last_error = f"{exc.strerror or exc}"
                return False
            self.written += 1
        return True

    def status(self) -> dict[str, Any]:
        return {"path": str(self.path), "written": self.written, "failed": self.failed,
                "last_error": self.last_error}

    def close(self) -> None:
        os.close(self._fd)


class _Locked:
    def __init__(self, lock: threading.Lock, fd: int) -> None:
        self.lock, self.fd = lock, fd

    def __enter__(self) -> None:
        self.lock.acquire()
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.lock.release()
