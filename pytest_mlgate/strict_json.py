"""JSON as the plugin writes it, and read back strictly: the state files it reads back
(manifest, history, aliases, baseline, profile, run report) may have been damaged or forged.

Every JSON document the plugin writes (run report, baseline, profile, manifest and the other
artefact files, aliases, history, journal) is encoded by ``dumps`` here, and every value that
may not be JSON is made so by ``jsonable`` here. One NaN policy: a number that is not finite is
written as the string ``"nan"``, ``"inf"`` or ``"-inf"`` (docs/reports.md), so that it stays
visible and never reads back as a passing number; ``dumps`` refuses a bare NaN that got past.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

# A \uD800-\uDFFF escape: half of a surrogate pair, or a lone surrogate, which is no character.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def number(x: float | None) -> float | str | None:
    """``x`` as JSON: a finite float as itself, NaN and infinities as ``"nan"``, ``"inf"``,
    ``"-inf"`` (``float()`` reads them back), None as null."""
    if x is None:
        return None
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def jsonable(value: Any) -> Any:
    """``value`` made a JSON value: numbers (numpy's too) as floats under the NaN policy,
    mappings with string keys, sequences as lists, anything else as its ``str``."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, numbers.Real):
        return number(float(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def dumps(obj: Any, *, indent: int | None = 2, sort_keys: bool = True) -> str:
    """``obj`` as JSON text: by default indented and key-sorted, for review in a diff. ValueError
    for a NaN or infinity (pass such data through ``jsonable``), TypeError for a value that is
    not JSON."""
    return json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=False)


def file_bytes(obj: Any, *, indent: int | None = 2) -> bytes:
    """``obj`` as the content of a JSON file: ``dumps`` text, newline-terminated, UTF-8."""
    return (dumps(obj, indent=indent) + "\n").encode("utf-8")


def line(obj: Any) -> bytes:
    """``obj`` made JSON (``jsonable``) as one compact, newline-terminated line: a log record."""
    return (json.dumps(jsonable(obj), separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def quoted(value: Any) -> str:
    """``value`` as a JSON literal on one line: a string quoted for a Containerfile or YAML, a
    value quoted in an error message (a NaN as "nan", by the one policy)."""
    return json.dumps(jsonable(value), allow_nan=False)


def canonical(obj: Any) -> bytes:
    """The one byte string of ``obj`` that a hash covers: sorted keys, no spaces, ASCII."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Parse ``data``. ValueError for anything but strict UTF-8 JSON: no NaN or Infinity, no
    number too large for a float, no integer of more than 4300 digits, no lone surrogate
    escape; RecursionError for absurd nesting (catch both)."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    obj = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    if _SURROGATE_ESCAPE.search(text):
        _check_text(obj)
    return obj


def _check_text(obj: Any) -> None:
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{obj[:40]!r} holds a lone surrogate, which is not text") from None
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_text(k)
            _check_text(v)
    elif isinstance(obj, list):
        for v in obj:
            _check_text(v)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large for a number")
    return value


def why(exc: BaseException) -> str:
    """A short reason for a parse failure, for a message."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc)[:200]
