"""The retraining trigger: ``mlgate_on_degraded``, a command that ``mlgate monitor`` runs when
its verdict is not healthy. Run without a shell, in a process group of its own (ended as a
whole when it outlives its timeout), with the report's path and the verdict in its
environment: ``MLGATE_REPORT``, ``MLGATE_VERDICT``."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_mlgate.delivery.deploy import _kill_group  # one way to end a command's process group
from pytest_mlgate.notify.config import NotifyConfig
from pytest_mlgate.notify.message import Notification
from pytest_mlgate.notify.send import Outcome

OUTPUT_TAIL_CHARS = 2000
DEFAULT_TIMEOUT_S = 3600.0


def run_on_degraded(cfg: NotifyConfig, n: Notification, report_path: str | os.PathLike[str] | None,
                    *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Outcome | None:
    """Run ``cfg.on_degraded`` when ``n`` is not healthy; None when there is no command or the
    verdict is healthy. The Outcome says whether it exited 0 and, when not, the tail of its
    output (stdout and stderr). Never raises for the command's failure."""
    if cfg.on_degraded is None or n.healthy:
        return None
    argv = list(cfg.on_degraded)
    what = f"mlgate_on_degraded {shlex.join(argv)}"
    env = dict(os.environ)
    env["MLGATE_VERDICT"] = n.verdict
    path = report_path if report_path is not None else n.report_path
    env["MLGATE_REPORT"] = str(Path(path).absolute()) if path else ""
    group: dict[str, Any] = {"start_new_session": True}  # a process group of its own
    if sys.platform == "win32":  # pragma: no cover
        group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    try:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, **group)
    except FileNotFoundError:
        return Outcome(what, False, action="run", message=f"{argv[0]!r} was not found; check ini mlgate_on_degraded and PATH")
    except OSError as exc:
        return Outcome(what, False, action="run", message=f"cannot be run: {exc.strerror or exc}")
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        return Outcome(what, False, action="run", message=f"ran longer than {timeout_s:g} s and was "
                       f"killed with its process group{_tail(out)}")
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    if proc.returncode != 0:
        return Outcome(what, False, action="run", message=f"exited with status {proc.returncode}{_tail(out)}")
    return Outcome(what, True, action="run", message="exited with status 0")


def _tail(out: bytes | None) -> str:
    text = (out or b"").decode("utf-8", "replace").strip()
    if not text:
        return ""
    if len(text) > OUTPUT_TAIL_CHARS:
        text = "..." + text[-OUTPUT_TAIL_CHARS:]
    return f". Output:\n{text}"
