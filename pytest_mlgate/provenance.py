"""Where a number came from: git commit, machine, Python and package versions.

Baselines, reports and artefacts all carry this, so a reader can tell whether two measurements
are comparable (performance readings from different machines are not).

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

# The fields of machine_info() that change what a timing means. Two machines that agree on these
# are treated as the same machine for performance comparisons.
MACHINE_KEYS: tuple[str, ...] = ("system", "machine", "processor", "cpu_model", "cpu_count", "python")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@cache
def machine_info() -> dict[str, Any]:
    """A JSON-safe description of this machine; the fields in MACHINE_KEYS identify it."""
    import psutil

    mem = psutil.virtual_memory().total
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "hostname": platform.node(),
    }


def same_machine(a: dict[str, Any] | None, b: dict[str, Any] | None) -> tuple[bool, list[str]]:
    """Whether two machine_info() dicts describe the same machine, and the fields that differ."""
    if not a or not b:
        return False, ["machine info missing"]
    diff = [k for k in MACHINE_KEYS if a.get(k) != b.get(k)]
    return not diff, diff


def git_info(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None, "branch": name or None}``."""
    where = Path(cwd) if cwd is not None else Path.cwd()

    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=where, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "branch": None}
    status = run("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
    }


def environment_info(all_distributions: bool = False) -> dict[str, Any]:
    """Python, platform and installed distribution versions (all of them when asked)."""
    names = ("pytest-mlgate", "pytest", "numpy", "pandas", "scikit-learn", "scipy", "skops")
    if all_distributions:
        dists = {
            (d.metadata["Name"] or "?"): d.version for d in metadata.distributions() if d.metadata["Name"]
        }
    else:
        dists = {}
        for n in names:
            try:
                dists[n] = metadata.version(n)
            except metadata.PackageNotFoundError:
                continue
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "distributions": dict(sorted(dists.items(), key=lambda kv: kv[0].lower())),
    }
