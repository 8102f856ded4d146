"""JSON as the plugin writes it, read strictly: the state files it reads back (manifest,
history, aliases, baseline, profile, run report) may have been damaged or forged.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A \uD800-\uDFFF escape: half of a surrogate pair, or a lone surrogate, which is no character.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


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
