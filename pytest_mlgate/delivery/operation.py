"""One registry operation's place under ``<root>/.staging``, and the reaper of dead ones.

An operation takes a fresh token and holds ``<token>.lock`` (flock) while it lives; a publish
builds its artefact in ``<token>/``. The lock file holds the operation's journal while it
commits. A lock that can be taken belongs to a dead owner: ``reap_staging`` removes what such an
owner left when it wrote no journal; one with a journal is finished or undone by the registry.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate import atomic
from pytest_mlgate.errors import RegistryError
from pytest_mlgate.strict_json import dumps

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MAX_JOURNAL_BYTES = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class Operation:
    """A fresh token under ``<root>/.staging`` whose owner holds ``<token>.lock`` while alive, so
    others can tell leftovers of killed operations from work in progress. ``dir`` is the
    staging directory of a publish; ``journal`` records, in the lock file, what a committing
    operation is about to do, for the next operation to finish or undo if this one dies."""

    def __init__(self, base: Path, make_dir: bool = True) -> None:
        self.base = base
        self.make_dir = make_dir
        self.fd = -1
        self.token = ""
        self.lock_path = base
        self.dir = base
        self.keep_journal = False

    def __enter__(self) -> Operation:
        for _ in range(10):
            token = uuid.uuid4().hex
            lock_path = self.base / f"{token}.lock"
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR | _NOFOLLOW, 0o644)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            # A reaper may have taken and unlinked the fresh lock file before we locked it.
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd, self.token, self.lock_path = fd, token, lock_path
                self.dir = self.base / token
                if self.make_dir:
                    self.dir.mkdir()
                return self
            os.close(fd)
        raise RegistryError(f"could not create a staging directory in {self.base}")

    def journal(self, record: Mapping[str, Any]) -> None:
        """Write the journal. No fsync: it must survive the process, which the page cache does;
        after a power loss without it, an uncommitted version stays unpinned, never trusted."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        atomic.write_all(self.fd, dumps(record, indent=None).encode(), self.lock_path)

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if not self.keep_journal:
            with contextlib.suppress(OSError):
                os.unlink(self.lock_path)
        os.close(self.fd)


def claim_dead(lock_path: str) -> int | None:
    """An fd holding the lock of a dead owner's ``<token>.lock``; None while its owner lives."""
    try:
        fd = os.open(lock_path, os.O_RDWR | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def reap_staging(base: Path) -> list[str]:
    """Remove staging directories whose owner is gone (its lock is free) and that left no
    journal (those are for the registry's recovery, under its lock); return their names."""
    if fcntl is None or not base.is_dir():
        return []
    if base.is_symlink():  # removing through it would remove whatever it points at
        raise RegistryError(f"registry path {base} is a symbolic link; the registry never "
                            "follows links inside itself (one could make it delete outside "
                            "the registry). Replace the link with a real directory.")
    removed: list[str] = []
    for entry in os.scandir(base):
        if entry.name.endswith(".lock"):
            fd = claim_dead(entry.path)
            if fd is None:
                continue
            try:
                if os.fstat(fd).st_size == 0:
                    token = entry.name[: -len(".lock")]
                    shutil.rmtree(base / token, ignore_errors=True)
                    os.unlink(entry.path)
                    removed.append(token)
            finally:
                os.close(fd)
        elif entry.is_dir(follow_symlinks=False) and not (base / f"{entry.name}.lock").exists():
            # Owners create the lock before the directory and drop it after removing the
            # directory, so a directory without a lock is a reaper's or owner's unfinished removal.
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def read_journal(fd: int) -> dict[str, Any] | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, MAX_JOURNAL_BYTES)
    try:
        journal = json.loads(data)
    except (ValueError, RecursionError):
        return None  # torn while written: written before any change, so nothing to undo
    return journal if isinstance(journal, dict) else None
