"""Reading a JSON report for the HTML page: which documents it accepts, and what it says about
the others instead of a traceback."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.strict_json import loads as strict_loads
from pytest_mlgate.strict_json import quoted

SCHEMA = "pytest-mlgate/report"
#: The report schema versions this renderer reads.
SUPPORTED_VERSIONS = (1,)
#: A report larger than this is refused rather than read into memory (a 2-million-row ROC
#: series is about 55 MB).
MAX_REPORT_BYTES = 1 << 30
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


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
    problem = _shape_problem(doc)
    if problem:
        raise ReportError(f"{source} is damaged: {problem}; write it again with --mlgate-report PATH")
    pruned: Mapping[str, Any] = _without_nulls(doc, _REPORT)
    return pruned


# What each field the Markdown summary and the HTML page read must be, when present: a type
# (or a tuple of types), "str" for text, "num" for a number, or a nested spec (a dict for an
# object, a one-item list for a list of such). None is allowed unless the name ends in "!".
_NUM = (int, float)
_THRESHOLD = {"text": str, "op": str, "value": _NUM}
_COMPARISON = {"verdict": str, "reference": str, "reason": str, "change": _NUM, "ratio": _NUM,
               "reference_value": _NUM, "p_value": _NUM, "margin": _NUM, "change_low": _NUM,
               "change_high": _NUM}
_METRIC = {"name!": str, "value!": (int, float, str), "low": _NUM, "high": _NUM, "threshold": _THRESHOLD,
           "threshold_p": _NUM, "threshold_verdict": str, "comparison": _COMPARISON, "verdict": str,
           "method": str, "info": {"shared_cpu": (bool, int)}}
_SERIES_ITEM = {"kind": str, "name": str, "n": int, "message": str, "outside": _NUM,
                "columns": [{"name!": (str, int, float), "effect": _NUM, "threshold": _NUM}]}
_TEST = {"nodeid!": str, "gate": str, "outcome": str, "message": str, "reruns": int, "duration_s": _NUM,
         "metrics": [_METRIC], "series": {"items": [_SERIES_ITEM]}}
_GATE = {"verdict!": str, "reason": str, "required!": bool, "passed!": int, "failed!": int, "errored!": int,
         "skipped!": int}
_REPORT = {
    "verdict!": str, "plugin_version": str, "failures": [(str,)],
    "not_compared": [{"nodeid": str, "metric": str, "reason": str}],
    "run": {"complete!": bool, "seed": (int, str), "incomplete_reasons": [(str,)], "duration_s": _NUM,
            "started": str, "exit_status": int, "settings": {}, "args": [(str, int, float, bool)],
            "git": {"commit": str, "branch": str, "dirty": bool}},
    "gates": {"*": _GATE}, "tests": [_TEST],
    "baseline": {"path": str, "message": str, "status": str},
    "delivery": {"status": str, "message": str},
}


def _kind(spec: Any) -> str:
    if isinstance(spec, dict):
        return "an object"
    if isinstance(spec, list):
        return "a list"
    if spec == _NUM:
        return "a number"
    kinds = spec if isinstance(spec, tuple) else (spec,)
    return " or ".join({str: "text", int: "an integer", float: "a number", bool: "true/false"}.get(k, k.__name__)
                       for k in kinds)


def _shape_problem(value: Any, spec: Any = None, where: str = "") -> str:
    """"" when ``value`` has the shape ``spec`` describes, else what is wrong and where."""
    spec = _REPORT if spec is None else spec
    if isinstance(spec, dict):
        if not isinstance(value, Mapping):
            return f"{where or 'the report'} is {type(value).__name__}, expected an object"
        if "*" in spec:
            for key, item in value.items():
                problem = _shape_problem(item, spec["*"], f"{where}[{quoted(str(key))}]")
                if problem:
                    return problem
            return ""
        for name, sub in spec.items():
            key = name.rstrip("!")
            path = f"{where}.{key}" if where else key
            if key not in value or value[key] is None:
                if name.endswith("!"):
                    return f"{path} is missing"
                continue
            problem = _shape_problem(value[key], sub, path)
            if problem:
                return problem
        return ""
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where} is {type(value).__name__}, expected a list"
        for i, item in enumerate(value):
            problem = _shape_problem(item, spec[0], f"{where}[{i}]")
            if problem:
                return problem
        return ""
    kinds = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(value, bool) and bool not in kinds:
        return f"{where} is {quoted(value)}, expected {_kind(spec)}"
    if not isinstance(value, kinds):
        shown = quoted(value)[:60] if isinstance(value, (str, int, float)) else type(value).__name__
        return f"{where} is {shown}, expected {_kind(spec)}"
    return ""


def _without_nulls(value: Any, spec: Any) -> Any:
    """``value`` with every optional field that is null removed, where ``spec`` describes it: the
    renderers read an optional field with ``.get(key, default)``, and a null must mean what a
    missing field means, not reach them as None (a report whose threshold text was null crashed
    the page)."""
    if isinstance(spec, dict) and isinstance(value, Mapping):
        if "*" in spec:
            return {k: _without_nulls(v, spec["*"]) for k, v in value.items()}
        out = {}
        for key, item in value.items():
            sub = spec.get(key, spec.get(key + "!"))
            if sub is None:
                out[key] = item
            elif item is not None:
                out[key] = _without_nulls(item, sub)
        return out
    if isinstance(spec, list) and isinstance(value, list):
        return [_without_nulls(item, spec[0]) for item in value]
    return value


def load_report(path: str | Path) -> Mapping[str, Any]:
    """Read and check a JSON report file."""
    p = Path(path)
    try:
        text = _read_capped(p).decode("utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read the report {str(p)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{str(p)!r} is not a text file; pass the JSON written by --mlgate-report") from None
    try:
        doc = strict_loads(text)  # a bare NaN or Infinity is no report the plugin wrote
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"{str(p)!r} is not valid JSON ({str(exc)[:200]})") from None
    return check_report(doc, repr(str(p)))


def _read_capped(path: Path) -> bytes:
    """The bytes of the regular file ``path``: a FIFO would block, a device (/dev/zero) never
    ends, so both are refused (O_NONBLOCK: opening a FIFO does not wait for a writer)."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file; pass the JSON file written by --mlgate-report")
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 22):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_REPORT_BYTES:
                raise OSError(0, f"larger than {MAX_REPORT_BYTES >> 20} MiB, more than a report "
                                 "pytest-mlgate writes")
        return b"".join(chunks)
    finally:
        os.close(fd)
