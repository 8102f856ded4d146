"""Deploy commands: run after a successful publish, without a shell, with the artefact in the
environment (MLGATE_ARTIFACT_PATH, MLGATE_ARTIFACT_ID, MLGATE_ARTIFACT_NAME,
MLGATE_ARTIFACT_VERSION), each in a process group of its own that is ended as a whole when the
command outlives its timeout."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import ConfigError, DeployError

if TYPE_CHECKING:
    from pytest_mlgate.delivery.registry import PublishedArtifact

# The built-in deploy target: the published model served on loopback and checked
# (pytest_mlgate/serve/check.py). A line of exactly this word in ini mlgate_deploy.
SERVE_CHECK = "serve-check"
OUTPUT_TAIL_CHARS = 4000  # enough of a failing command's output to see why
OUTPUT_GRACE_S = 2.0  # how long output is still read after the command exited (s)


@dataclass(frozen=True)
class DeployTarget:
    """One deploy command: its argv and how long it may run (seconds)."""

    argv: tuple[str, ...]
    timeout: float

    def __str__(self) -> str:
        return shlex.join(self.argv)


def parse_deploy_targets(lines: Sequence[str], *,
                         default_timeout: float = 600.0) -> list[DeployTarget]:
    """ini ``mlgate_deploy`` lines -> targets. A line is a JSON array of strings
    (``["python", "deploy.py"]``) or shell-like words (``python deploy.py --to prod``), split
    with shlex but never run by a shell. Blank lines and ``#`` comments are skipped."""
    targets = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            try:
                argv = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"ini mlgate_deploy line {line!r} is not a valid JSON array "
                                  f"({exc}); write it as [\"cmd\", \"arg\"] or as plain "
                                  "words.") from exc
            if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
                raise ConfigError(f"ini mlgate_deploy line {line!r} must be a non-empty JSON array "
                                  "of strings, e.g. [\"python\", \"deploy.py\"].")
        else:
            try:
                argv = shlex.split(line)
            except ValueError as exc:
                raise ConfigError(f"ini mlgate_deploy line {line!r} cannot be split into words "
                                  f"({exc}); check its quotes.") from exc
        targets.append(DeployTarget(argv=tuple(argv), timeout=float(default_timeout)))
    return targets


class DeployTimeout(DeployError):
    """A deploy command outlived its timeout; its whole process group was killed."""


def run_deploy_target(target: DeployTarget, artifact: PublishedArtifact) -> str:
    """Run ``target`` for ``artifact`` and return its combined stdout and stderr; DeployError
    with the output when the command is missing, exits non-zero or outlives its timeout
    (DeployTimeout: then the command and every process in its process group are killed). The
    command's own exit status decides; the step never takes much longer than the timeout, even
    when a process it started left the group and keeps its output open."""
    env = dict(os.environ)
    env.update({
        "MLGATE_ARTIFACT_PATH": str(artifact.path.resolve()),
        "MLGATE_ARTIFACT_ID": artifact.artifact_id,
        "MLGATE_ARTIFACT_NAME": artifact.name,
        "MLGATE_ARTIFACT_VERSION": str(artifact.version),
    })
    group: dict[str, Any] = {}
    if sys.platform == "win32":  # pragma: no cover
        group["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        group["start_new_session"] = True  # a process group of its own, ended as a whole
    try:
        proc = subprocess.Popen(list(target.argv), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **group)
    except FileNotFoundError:
        raise DeployError(f"deploy command {target} failed: {target.argv[0]!r} was not found. "
                          "Check the ini mlgate_deploy line and that the program is on PATH; "
                          f"{artifact.ref} stays published.") from None
    except PermissionError as exc:
        raise DeployError(f"deploy command {target} cannot be run: {exc}. Make it executable; "
                          f"{artifact.ref} stays published.") from None
    if sys.platform == "win32":  # pragma: no cover - no non-blocking pipes: the old way
        return _run_windows(proc, target, artifact)
    try:
        run = _bounded_run(proc, target.timeout)
    except BaseException:  # an interrupt: never leave a half-run deploy behind
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    out = _text(bytes(run.output))
    if run.output_open:
        out += ("\n[mlgate: a process the command started left its process group and still "
                "holds its output; output after that was not read]")
    if run.timed_out:
        escaped = (" A process it started had left that group (a daemon, setsid) and still "
                   "ran: it was not killed; stop it yourself." if run.output_open else "")
        raise DeployTimeout(f"deploy command {target} ran longer than {target.timeout:g} s; it "
                            f"(pid {proc.pid}) and every process in its process group were "
                            f"killed.{escaped} Raise mlgate_deploy_timeout if it needs longer. "
                            f"Output:\n{_tail(out)}")
    if proc.returncode != 0:
        raise DeployError(f"deploy command {target} exited with status {proc.returncode} for "
                          f"{artifact.ref}. Output:\n{_tail(out)}")
    return out


@dataclass
class _Run:
    output: bytearray
    timed_out: bool
    output_open: bool  # some process still held the pipe when reading stopped


def _bounded_run(proc: subprocess.Popen[bytes], timeout: float) -> _Run:
    """Wait for ``proc`` at most ``timeout`` seconds (then kill its process group), reading its
    output without ever blocking on it: a process that left the group may hold the pipe open
    for as long as it lives. After the command exits, its output is read until the pipe closes,
    for at most OUTPUT_GRACE_S more (never past the deadline)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    deadline = time.monotonic() + timeout
    buf = bytearray()
    eof = False
    timed_out = False
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)

        def drain(until: float, stop_on_exit: bool = False) -> None:
            nonlocal eof
            while not eof and (left := until - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    eof = True
                    return
                buf.extend(chunk)
                if len(buf) > 4 * OUTPUT_TAIL_CHARS:
                    del buf[: len(buf) - 4 * OUTPUT_TAIL_CHARS]
                if stop_on_exit and proc.poll() is not None:
                    return

        while proc.poll() is None:
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            if eof:  # the output closed but the command runs on
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=deadline - now)
            else:
                drain(min(deadline, now + 0.05), stop_on_exit=True)
        if timed_out:
            _kill_group(proc)
            proc.wait()
            drain(time.monotonic() + 0.5)  # what the killed group wrote last
        else:
            drain(min(deadline, time.monotonic() + OUTPUT_GRACE_S))
    return _Run(output=buf, timed_out=timed_out, output_open=not eof)


def _run_windows(proc: subprocess.Popen[bytes], target: DeployTarget,
                 artifact: PublishedArtifact) -> str:  # pragma: no cover
    try:
        stdout, _ = proc.communicate(timeout=target.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        stdout, _ = proc.communicate()
        raise DeployTimeout(f"deploy command {target} ran longer than {target.timeout:g} s and "
                            "was killed. Raise mlgate_deploy_timeout if it needs longer. Output:"
                            f"\n{_tail(_text(stdout))}") from None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    out = _text(stdout)
    if proc.returncode != 0:
        raise DeployError(f"deploy command {target} exited with status {proc.returncode} for "
                          f"{artifact.ref}. Output:\n{_tail(out)}")
    return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything in its process group (its children and theirs)."""
    if sys.platform == "win32":  # pragma: no cover
        proc.kill()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL_CHARS else "...\n" + text[-OUTPUT_TAIL_CHARS:]
