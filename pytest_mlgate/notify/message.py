"""The notification itself: what a CI run or a monitor says happened, whatever carries it, and
the link to the CI run it came from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SOURCES = ("ci", "monitor")
VERDICTS = {"ci": ("pass", "fail"), "monitor": ("healthy", "degraded", "drifted")}


@dataclass(frozen=True)
class Notification:
    """What happened, in words and numbers. ``metrics`` are mappings with ``name`` and any of
    ``value``, ``low``, ``high``, ``verdict``, ``test``; ``model`` has ``name``, ``version``,
    ``artifact_id``; ``state_key`` names what ``mlgate_notify_on = change`` compares against
    (one verdict is remembered per key)."""

    source: str
    verdict: str
    healthy: bool
    title: str
    failures: tuple[str, ...] = ()
    metrics: tuple[Mapping[str, Any], ...] = ()
    model: Mapping[str, Any] | None = None
    report_path: str | None = None
    state_key: str = ""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"Notification source {self.source!r}: expected one of {', '.join(SOURCES)}")
        if self.verdict not in VERDICTS[self.source]:
            raise ValueError(f"Notification verdict {self.verdict!r} for source {self.source!r}: "
                             f"expected one of {', '.join(VERDICTS[self.source])}")
        if any(not isinstance(m, Mapping) or "name" not in m for m in self.metrics):
            raise ValueError("every Notification metric is a mapping with a 'name'")
        # One line: it becomes an e-mail subject, where a newline would start a new header.
        object.__setattr__(self, "title", " ".join(str(self.title).split()))

    @property
    def key(self) -> str:
        """The state key, or the source when none was given."""
        return self.state_key or self.source


def run_url(env: Mapping[str, str] | None = None) -> str | None:
    """The address of the CI run this process belongs to: ``MLGATE_RUN_URL`` when set, else
    GitHub Actions' run (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``/actions/runs/``GITHUB_RUN_ID``),
    else GitLab's ``CI_JOB_URL``; None outside CI."""
    env = os.environ if env is None else env
    explicit = env.get("MLGATE_RUN_URL", "").strip()
    if explicit:
        return explicit
    server, repo, run = (env.get(k, "").strip() for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run}"
    return env.get("CI_JOB_URL", "").strip() or None
