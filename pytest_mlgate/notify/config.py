"""How and when to notify: the ``mlgate_notify*``, ``mlgate_smtp_*`` and ``mlgate_on_degraded``
ini keys, checked and gathered in one value (docs/notifications.md)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.defaults import DEFAULT_NOTIFY_STATE
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.notify.targets import Target, parse_targets

NOTIFY_ON = ("failure", "always", "change")
DEFAULT_SMTP_HOST = "localhost"
DEFAULT_SMTP_PORT = 25
# SMTP's implicit-TLS port: TLS from the first byte (SMTP_SSL) rather than STARTTLS.
SMTPS_PORT = 465


@dataclass(frozen=True)
class NotifyConfig:
    """``targets`` from ``mlgate_notify``; ``on`` one of NOTIFY_ON; ``smtp_from`` None means
    ``pytest-mlgate@`` this machine's name; ``state_path`` is where ``on = change`` remembers
    the last verdict of each state key (None: nothing is remembered, every verdict is news);
    ``on_degraded`` the argv of ``mlgate_on_degraded``."""

    targets: tuple[Target, ...] = ()
    on: str = "failure"
    smtp_host: str = DEFAULT_SMTP_HOST
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_from: str | None = None
    state_path: Path | None = None
    on_degraded: tuple[str, ...] | None = None

    @classmethod
    def from_ini(cls, get: Callable[[str], Any], rootdir: Path, *, where: str = "ini") -> NotifyConfig:
        """From ini values: ``get(key)`` returns a key's value (text, a list of lines, a
        number) or None when unset. ConfigError names the key (prefixed with ``where``)."""
        lines = get("mlgate_notify")
        if isinstance(lines, str):
            lines = lines.splitlines()
        on = _text(get("mlgate_notify_on")) or "failure"
        if on not in NOTIFY_ON:
            raise ConfigError(f"{where} mlgate_notify_on = {on!r}: expected one of {', '.join(NOTIFY_ON)}")
        port_text = _text(get("mlgate_smtp_port"))
        port = DEFAULT_SMTP_PORT
        if port_text is not None:
            try:
                port = int(port_text)
            except ValueError:
                raise ConfigError(f"{where} mlgate_smtp_port = {port_text!r} is not a port number") from None
        if not 0 < port < 65536:
            raise ConfigError(f"{where} mlgate_smtp_port = {port} must lie in 1..65535")
        return cls(
            targets=parse_targets(list(lines or ()), key=f"{where} mlgate_notify"),
            on=on,
            smtp_host=_text(get("mlgate_smtp_host")) or DEFAULT_SMTP_HOST,
            smtp_port=port,
            smtp_from=_text(get("mlgate_smtp_from")),
            state_path=Path(rootdir) / DEFAULT_NOTIFY_STATE,
            on_degraded=parse_command(_text(get("mlgate_on_degraded")), key=f"{where} mlgate_on_degraded"),
        )

    @classmethod
    def from_project(cls, start: Path) -> NotifyConfig:
        """For the ``mlgate`` command: from the pytest configuration file that applies to
        ``start``, found as pytest finds it (see project_ini.py); relative paths against its
        rootdir."""
        from pytest_mlgate.notify.project_ini import find_project_ini

        ini = find_project_ini(start)

        def get(key: str) -> Any:
            return ini.lines(key) if key == "mlgate_notify" else ini.text(key)

        return cls.from_ini(get, ini.rootdir, where=str(ini.path) if ini.path else "ini")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_command(text: str | None, *, key: str = "ini mlgate_on_degraded") -> tuple[str, ...] | None:
    """A command written as a JSON array of strings (``["python", "retrain.py"]``) or as
    shell-like words (split with shlex, never run by a shell); None when unset."""
    if text is None or not text.strip():
        return None
    line = text.strip()
    if line.startswith("["):
        try:
            argv = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{key} = {line!r} is not a valid JSON array ({exc}); write it as "
                              "[\"cmd\", \"arg\"] or as plain words") from None
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv):
            raise ConfigError(f"{key} = {line!r} must be a non-empty JSON array of strings, "
                              "e.g. [\"python\", \"retrain.py\"]")
        return tuple(argv)
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ConfigError(f"{key} = {line!r} cannot be split into words ({exc}); check its quotes") from None
    return tuple(words) or None
