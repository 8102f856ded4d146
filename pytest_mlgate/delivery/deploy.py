"""Deploy commands: run after a successful publish, without a shell, with the artefact in the
environment (MLGATE_ARTIFACT_PATH, MLGATE_ARTIFACT_ID, MLGATE_ARTIFACT_NAME,
MLGATE_ARTIFACT_VERSION)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_mlgate.delivery.registry import PublishedArtifact
from pytest_mlgate.errors import ConfigError, DeployError

OUTPUT_TAIL_CHARS = 4000  # enough of a failing command's output to see why


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


def run_deploy_target(target: DeployTarget, artifact: PublishedArtifact) -> str:
    """Run ``target`` for ``artifact`` and return its combined stdout and stderr; DeployError
    with the output when the command is missing, exits non-zero or outlives its timeout."""
    env = dict(os.environ)
    env.update({
        "MLGATE_ARTIFACT_PATH": str(artifact.path.resolve()),
        "MLGATE_ARTIFACT_ID": artifact.artifact_id,
        "MLGATE_ARTIFACT_NAME": artifact.name,
        "MLGATE_ARTIFACT_VERSION": str(artifact.version),
    })
    try:
        proc = subprocess.run(list(target.argv), env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=target.timeout, check=False)
    except FileNotFoundError:
        raise DeployError(f"deploy command {target} failed: {target.argv[0]!r} was not found. "
                          "Check the ini mlgate_deploy line and that the program is on PATH; "
                          f"{artifact.ref} stays published.") from None
    except PermissionError as exc:
        raise DeployError(f"deploy command {target} cannot be run: {exc}. Make it executable; "
                          f"{artifact.ref} stays published.") from None
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.output)
        raise DeployError(f"deploy command {target} ran longer than {target.timeout:g} s and was "
                          f"killed; raise mlgate_deploy_timeout if it needs longer. Output:\n"
                          f"{_tail(out)}") from None
    out = _text(proc.stdout)
    if proc.returncode != 0:
        raise DeployError(f"deploy command {target} exited with status {proc.returncode} for "
                          f"{artifact.ref}. Output:\n{_tail(out)}")
    return out


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL_CHARS else "...\n" + text[-OUTPUT_TAIL_CHARS:]
