"""The project's pytest configuration, found from a directory upward the way pytest finds it,
for the ``mlgate`` command (which runs without pytest).

In each directory from ``start`` up to the filesystem root, the first of these files that holds
pytest configuration wins: ``pytest.toml`` / ``.pytest.toml`` (a ``[pytest]`` table; the file
counts even when empty), ``pytest.ini`` / ``.pytest.ini`` (a ``[pytest]`` section; counts even
when empty), ``pyproject.toml`` (``[tool.pytest.ini_options]`` or pytest 9's ``[tool.pytest]``),
``tox.ini`` (``[pytest]``), ``setup.cfg`` (``[tool:pytest]``). The rootdir is that file's
directory. With none, the nearest ``pyproject.toml`` names the rootdir (no settings); with none
of either, ``start`` is the rootdir. ``-c``, ``--rootdir`` and ``PYTEST_ADDOPTS`` are pytest's
command line and play no part here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest itself depends on tomli there
    import tomli as tomllib

CONFIG_NAMES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml",
                "tox.ini", "setup.cfg")


@dataclass(frozen=True)
class ProjectIni:
    """The configuration file (None: none found), the rootdir, and its raw values: strings in
    an INI file or ``[tool.pytest.ini_options]``, TOML values in a native TOML table."""

    path: Path | None
    rootdir: Path
    values: Mapping[str, Any] = field(default_factory=dict)

    def lines(self, key: str) -> list[str]:
        """A line-list value as pytest reads it: a TOML list, or text split into lines."""
        raw = self.values.get(key)
        if raw is None:
            return []
        if isinstance(raw, (list, tuple)):
            return [str(x).strip() for x in raw if str(x).strip()]
        return [line.strip() for line in str(raw).splitlines() if line.strip()]

    def text(self, key: str) -> str | None:
        """A single value as text; None when unset or blank."""
        raw = self.values.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool):
            return "true" if raw else "false"
        text = str(raw).strip()
        return text or None


def find_project_ini(start: Path) -> ProjectIni:
    """The pytest configuration that applies to ``start`` (a directory or a file in it);
    ConfigError for a file that cannot be read or parsed."""
    start = Path(start).absolute()
    if start.is_file():
        start = start.parent
    pyproject: Path | None = None
    for base in (start, *start.parents):
        for name in CONFIG_NAMES:
            path = base / name
            if not path.is_file():
                continue
            if name == "pyproject.toml" and pyproject is None:
                pyproject = path
            values = _load(path)
            if values is not None:
                return ProjectIni(path, base, values)
    return ProjectIni(None, pyproject.parent if pyproject is not None else start, {})


def _load(path: Path) -> dict[str, Any] | None:
    """The file's pytest values, or None when it holds no pytest configuration."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the pytest configuration {path}: {exc}") from None
    if path.suffix == ".toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        if path.name != "pyproject.toml":
            table = doc.get("pytest", {})
            return dict(table) if isinstance(table, dict) else {}
        tool = doc.get("tool", {}).get("pytest")
        if not isinstance(tool, dict):
            return None
        native = {k: v for k, v in tool.items() if k != "ini_options"}
        if native:
            return native
        ini = tool.get("ini_options")
        return dict(ini) if isinstance(ini, dict) else None
    import iniconfig

    try:
        parsed = iniconfig.IniConfig(str(path), data=text)
    except iniconfig.ParseError as exc:
        raise ConfigError(f"{path} cannot be parsed: {exc}") from None
    section = "tool:pytest" if path.suffix == ".cfg" else "pytest"
    if section in parsed:
        return dict(parsed[section].items())
    return {} if path.name in ("pytest.ini", ".pytest.ini") else None
