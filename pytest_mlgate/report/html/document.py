"""Reading a JSON report for the HTML page: which documents it accepts, and what it says about
the others instead of a traceback."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import MlgateError

SCHEMA = "pytest-mlgate/report"
#: The report schema versions this renderer reads.
SUPPORTED_VERSIONS = (1,)


class ReportError(MlgateError):
    """A file that is not a JSON report this version can render; the message says why."""


def check_report(doc: Any, source: str = "the report") -> Mapping[str, Any]:
    """``doc`` if it is a gate report of a supported schema version, else ReportError."""
    if not isinstance(doc, Mapping):
        raise ReportError(f"{source} is not a pytest-mlgate JSON report (a JSON object is expected, "
                          f"got {type(doc).__name__}); write one with --mlgate-report PATH")
    schema = doc.get("schema")
    if schema != SCHEMA:
        raise ReportError(f"{source} is not a pytest-mlgate gate report (schema {schema!r}, expected "
                          f"{SCHEMA!r}); write one with --mlgate-report PATH")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ReportError(f"{source} has no valid schema_version ({version!r})")
    if version > max(SUPPORTED_VERSIONS):
        raise ReportError(f"{source} has schema version {version}, written by a newer pytest-mlgate "
                          f"(plugin {doc.get('plugin_version', '?')}); this one reads version "
                          f"{max(SUPPORTED_VERSIONS)}: upgrade pytest-mlgate to render it")
    if version not in SUPPORTED_VERSIONS:
        raise ReportError(f"{source} has schema version {version}, which this pytest-mlgate does not "
                          f"read (it reads {', '.join(map(str, SUPPORTED_VERSIONS))}); run the suite "
                          f"again to write a current report")
    for key, kind in (("run", Mapping), ("gates", Mapping), ("tests", list)):
        if not isinstance(doc.get(key), kind):
            raise ReportError(f"{source} is damaged: its {key!r} is missing or not "
                              f"{'an object' if kind is Mapping else 'a list'}")
    return doc


def load_report(path: str | Path) -> Mapping[str, Any]:
    """Read and check a JSON report file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read the report {str(p)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{str(p)!r} is not a text file; pass the JSON written by --mlgate-report") from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"{str(p)!r} is not valid JSON ({str(exc)[:200]})") from None
    return check_report(doc, repr(str(p)))
