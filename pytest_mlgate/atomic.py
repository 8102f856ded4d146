"""Durable file writes, and the one seam every write, fsync and rename of the plugin goes through.

A file someone relies on is replaced atomically: temp file on the same filesystem, fsync, rename,
fsync the directory. A reader sees the old file or the new one, never half of either, even if
the writer is killed.

Every ``write``, ``fsync`` and ``rename`` that the registry, staging, the baseline and the reports
make is a call on ``OPS`` (a ``FileOps``). That is the seam the fault-injection tests use: they
replace ``OPS`` with a subclass that fails (ENOSPC, EACCES, EIO) or kills the process at a chosen
call, and check that nothing is left half-done. Nothing else in the package knows about faults.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_mlgate.strict_json import file_bytes

StrPath = str | os.PathLike[str]
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

# fsync of a directory is not supported everywhere; these mean "not supported", not "failed".
_DIR_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EISDIR}


class FileOps:
    """The primitive file operations. ``path`` names the file for messages and for a test that
    wants to fail one particular call."""

    def write(self, fd: int, data: memoryview, path: str) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int, path: str) -> None:
        os.fsync(fd)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)


OPS = FileOps()


def write_all(fd: int, data: bytes | bytearray | memoryview, path: StrPath) -> None:
    """Write every byte of ``data`` to ``fd`` (os.write may write less than asked)."""
    view = memoryview(data).cast("B")
    name = os.fspath(path)
    while view:
        n = OPS.write(fd, view, name)
        view = view[n:]


def fsync(fd: int, path: StrPath) -> None:
    OPS.fsync(fd, os.fspath(path))


def rename(src: StrPath, dst: StrPath) -> None:
    """Rename ``src`` to ``dst`` in one step (replacing a file ``dst``)."""
    OPS.rename(os.fspath(src), os.fspath(dst))


def fsync_dir(path: StrPath) -> None:
    """Flush a directory entry (a rename or a new file) to disk. Where directories cannot be
    opened or fsynced (Windows, some network filesystems) this is a no-op; a real I/O error
    (EIO, ENOSPC) is raised."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return
    try:
        fsync(fd, path)
    except OSError as exc:
        if exc.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def fsync_file(path: StrPath) -> None:
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        fsync(fd, path)
    finally:
        os.close(fd)


def create(path: StrPath, data: bytes, *, sync: bool = True, mode: int = 0o644) -> None:
    """Create ``path`` (it must not exist) holding ``data``; fsync it unless ``sync`` is false
    (the caller fsyncs it later, with others)."""
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        write_all(fd, data, path)
        if sync:
            fsync(fd, path)
    finally:
        os.close(fd)


class UndoFailed(OSError):
    """An append failed, and cutting the partial record off again failed too: whether the
    record is in the file is not known."""


def append_line(path: StrPath, line: bytes, *,
                keep_tail: Callable[[bytes], bool] | None = None) -> None:
    """Append one newline-terminated record to ``path`` and fsync it, or raise OSError with the
    file as it was (UndoFailed when that could not be restored). A last line without its
    newline is completed with one when ``keep_tail`` says it is a whole record (an editor
    dropped the newline); otherwise it is a record torn by an earlier crash and is cut off: it
    was never complete, and this one must start on its own line. ``path`` is never followed
    when it is a link (ELOOP). Callers serialize appends with a lock."""
    fd = os.open(os.fspath(path), os.O_RDWR | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        start = os.fstat(fd).st_size
        if start and _byte_at(fd, start - 1) != b"\n":
            end = _last_line_end(fd, start)
            if keep_tail is not None and keep_tail(_read_at(fd, end, start - end)):
                write_all(fd, b"\n", path)
                start += 1
            else:
                start = end
                os.ftruncate(fd, start)
        try:
            write_all(fd, line, path)
            fsync(fd, path)
        except OSError as exc:
            # A record written but not made durable must not count: cut it off again.
            try:
                os.ftruncate(fd, start)
            except OSError as again:
                raise UndoFailed(exc.errno, f"{exc.strerror or exc}; removing the partial "
                                 f"record failed too: {again}", os.fspath(path)) from exc
            raise
    finally:
        os.close(fd)


def _read_at(fd: int, offset: int, size: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    chunks = []
    while size > 0 and (chunk := os.read(fd, min(size, 1 << 20))):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _last_line_end(fd: int, size: int) -> int:
    """The offset just after the last newline in the first ``size`` bytes of ``fd`` (0: none)."""
    end = size
    while end > 0:
        start = max(0, end - (1 << 16))
        os.lseek(fd, start, os.SEEK_SET)
        chunk = os.read(fd, end - start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


def _byte_at(fd: int, offset: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, 1)


#: A temp file of ``replace`` untouched this long (seconds) was left by a writer that was
#: killed (kill -9, power loss) between creating and renaming it; the next write removes it.
STALE_TEMP_S = 600.0


def _remove_stale_temps(target: Path) -> None:
    """Remove ``.NAME.XXXXXXXX.tmp`` files next to ``target`` (our own naming: tempfile's eight
    random characters) that no writer has touched for STALE_TEMP_S."""
    import time

    pattern = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp")
    cutoff = time.time() - STALE_TEMP_S
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                        os.unlink(entry.path)


def replace(path: StrPath, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a temp file next to it, fsync, rename, fsync
    the directory. On any error the temp file is removed and ``path`` is as it was; a temp file
    an earlier, killed writer left is removed (``_remove_stale_temps``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; give the file the mode an ordinary open() would (0666 & ~umask).
        os.fchmod(fd, 0o666 & ~_umask())
        try:
            write_all(fd, data, tmp)
            fsync(fd, tmp)
        finally:
            os.close(fd)
        rename(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def output_file_problem(path: StrPath, *, make_parents: bool) -> str | None:
    """Why ``path`` cannot be written as a file, or None: it is a directory, a parent is a
    file, or (unless ``make_parents``, which lets the writer make them) its directory is
    missing. Checked before work whose result would then be lost."""
    target = Path(path)
    try:
        if target.is_dir():
            return f"{target} is a directory; give a file path in it, such as {target / 'out.json'}"
        parent = target.parent
        ancestor = parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if ancestor.exists() and not ancestor.is_dir():
            return f"{ancestor} is not a directory, so {target} cannot be written"
        if not make_parents and not parent.is_dir():
            return f"the directory {parent} does not exist; create it first (mkdir -p {parent})"
    except OSError as exc:  # ENAMETOOLONG, EACCES on a parent, ...: what stat() itself refuses
        return f"{exc.strerror or exc}; give a shorter or accessible path"
    return None


def same_file_problem(outputs: Sequence[tuple[str, StrPath]],
                      inputs: Sequence[tuple[str, StrPath]] = ()) -> str | None:
    """Why two of ``outputs`` (label, path), or an output and one of ``inputs``, are one file
    (after following symlinks), or None. One would overwrite the other, or an input would be
    replaced by what was rendered from it. A stream output (/dev/stdout) is appended to, so it
    may be named twice."""
    seen: dict[str, str] = {}
    for what, path in inputs:
        with contextlib.suppress(OSError, ValueError):
            if os.path.exists(path):
                seen.setdefault(os.path.realpath(path), what)
    for what, path in outputs:
        try:
            if is_stream(path):
                continue
            real = os.path.realpath(path)
        except (OSError, ValueError):
            continue
        other = seen.setdefault(real, what)
        if other != what:
            return f"{other} and {what} are the same file, so one would overwrite the other; give each its own path"
    return None


# /dev/stdout -> /proc/self/fd/1, /dev/fd/2: a name for a descriptor a process has open.
_FD_LINK = re.compile(r"/(?:dev|proc/(?P<pid>self|thread-self|[0-9]+))/fd/(?P<fd>[0-9]+)")


def _descriptor_name(path: StrPath) -> tuple[bool, int | None]:
    """Whether following ``path``'s symlinks passes through a descriptor name (the file behind
    it is a stream someone reads or writes: the terminal, a pipe, the log stdout is redirected
    to), and the descriptor's number when it is one of this process's own."""
    p = os.path.abspath(os.fspath(path))
    for _ in range(40):  # the kernel's own limit on a chain of links
        m = _FD_LINK.fullmatch(p)
        if m:
            ours = m["pid"] in (None, "self", "thread-self", str(os.getpid()))
            return True, int(m["fd"]) if ours else None
        try:
            link = os.readlink(p)
        except OSError:
            return False, None
        p = os.path.normpath(os.path.join(os.path.dirname(p), link))
    return False, None


def is_stream(path: StrPath) -> bool:
    """``path`` is, or leads by symlinks to, something other than a regular file (a device,
    a FIFO), or is a name for an open descriptor (/dev/stdout). A missing file is made as a
    regular one (a dangling symlink's where it points)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return True
    except FileNotFoundError:
        pass
    return _descriptor_name(path)[0]


def write_output(path: StrPath, data: bytes) -> None:
    """Write a report to ``path`` (docs/reports.md). A regular file, or none yet, is replaced
    atomically; a symlink is followed and the file it names is replaced, the link kept. A
    stream is written through and never replaced: this process's own descriptor (/dev/stdout,
    /dev/stderr, /proc/self/fd/N) is written at its current position, after what Python has
    buffered for it, so the report lands between pytest's lines even when stdout is redirected
    to a file; a device or a FIFO is opened and appended to. OSError (ENOSPC from /dev/full,
    ENXIO from a FIFO that no process reads) is the caller's to report."""
    if not is_stream(path):
        replace(os.path.realpath(path), data)
        return
    own = _descriptor_name(path)[1]
    if own is not None:
        import sys

        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(Exception):
                if stream is not None and stream.fileno() == own:
                    stream.flush()
        write_all(own, data, path)
        return
    # The name itself is opened: the kernel follows /proc/N/fd/1 to a pipe that has no path.
    # O_NONBLOCK: opening a FIFO that no process reads fails (ENXIO) rather than hanging.
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    try:
        os.set_blocking(fd, True)
        write_all(fd, data, path)
    finally:
        os.close(fd)


def write_bytes(path: StrPath, data: bytes) -> None:
    replace(path, data)


def write_text(path: StrPath, text: str) -> None:
    replace(path, text.encode("utf-8"))


def write_json(path: StrPath, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (strict_json.file_bytes) atomically."""
    replace(path, file_bytes(obj))


def link_or_copy(src: StrPath, dst: StrPath) -> bool:
    """Hard-link ``src`` to ``dst`` (no copy on one filesystem), else copy and fsync. Returns
    whether ``dst`` still needs an fsync (a link shares the staged, unsynced pages)."""
    try:
        os.link(src, dst)
    except OSError:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with open(src, "rb") as fin:
                while chunk := fin.read(1 << 20):
                    write_all(fd, chunk, dst)
            fsync(fd, dst)
        finally:
            os.close(fd)
        return False
    return True
