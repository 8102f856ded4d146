"""The stored input signature (``signature.json``), and request values checked and cast to it.

A DataFrame signature lists ``{"name", "dtype"}`` per column; an array signature has a ``dtype``
and a ``shape`` whose first entry (rows) is null. A value is cast only when nothing is lost:
``"2.5"`` or ``2`` into a float column, ``3.0`` into an integer column; never ``2.5`` into an
integer column, a missing value into an integer column, text into a number, or a number into a
text column. Anything else is a BadRequest naming the column, the row and the expected type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Pandas dtypes that are no numpy dtype: text-like ones take strings, the rest are cast by pandas.
_TEXT_DTYPES = ("object", "str", "string", "category")


class BadRequest(Exception):
    """A request the model cannot be asked: the HTTP status and a message for the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Signature:
    """What the model takes: ``kind`` "dataframe" (``columns`` as (name, dtype) pairs),
    "ndarray" (``dtype`` and ``shape``, rows first as None) or None (no example was stored, so
    nothing is checked)."""

    kind: str | None
    columns: tuple[tuple[str, str], ...] = ()
    dtype: str | None = None
    shape: tuple[int | None, ...] = ()

    @classmethod
    def from_json(cls, doc: Any) -> Signature:
        if not isinstance(doc, Mapping):
            return cls(None)
        kind = doc.get("kind")
        if kind == "dataframe" and isinstance(doc.get("columns"), list):
            cols = tuple((str(c["name"]), str(c["dtype"])) for c in doc["columns"]
                         if isinstance(c, Mapping) and "name" in c and "dtype" in c)
            return cls("dataframe", columns=cols)
        if kind == "ndarray" and isinstance(doc.get("shape"), list):
            shape = tuple(None if s is None else int(s) for s in doc["shape"])
            return cls("ndarray", dtype=str(doc.get("dtype", "float64")), shape=shape)
        return cls(None)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def to_json(self) -> dict[str, Any]:
        if self.kind == "dataframe":
            return {"kind": "dataframe",
                    "columns": [{"name": n, "dtype": d} for n, d in self.columns]}
        if self.kind == "ndarray":
            return {"kind": "ndarray", "dtype": self.dtype, "shape": list(self.shape)}
        return {"kind": None}


def expected(dtype: str) -> str:
    """How a dtype reads in a message to a client: ``float64 (a number)``."""
    kind = _kind(dtype)
    what = {"f": "a number", "i": "an integer", "u": "a non-negative integer", "b": "true or false",
            "M": "a date and time", "m": "a duration", "T": "text"}.get(kind, "a value")
    return f"{dtype} ({what})"


def _kind(dtype: str) -> str:
    if dtype in _TEXT_DTYPES:
        return "T"
    try:
        return np.dtype(dtype).kind
    except TypeError:
        return "?"  # a pandas extension dtype (Int64, boolean, ...): pandas casts it


def cast_column(name: str, dtype: str, values: Sequence[Any], *, text: bool = False) -> Any:
    """``values`` (JSON values, or strings and None when ``text``: from CSV) as an array of
    ``dtype``; BadRequest naming ``name`` and the first value that cannot be cast safely."""
    kind = _kind(dtype)
    if kind == "T":
        return _text_column(name, dtype, values, text)
    if kind in "fiu":
        return _numeric_column(name, dtype, kind, values, text)
    if kind == "b":
        return _bool_column(name, dtype, values, text)
    if kind in "Mm":
        return _time_column(name, dtype, kind, values)
    return _pandas_column(name, dtype, values)


def _bad(name: str, dtype: str, row: int, value: Any, why: str = "") -> BadRequest:
    shown = repr(value) if not isinstance(value, str) else repr(value[:60])
    return BadRequest(f"column {name!r}, row {row}: {shown} cannot be cast to {expected(dtype)}"
                      + (f" ({why})" if why else "") + ".")


def _first(values: Sequence[Any], bad: Any) -> int:
    return int(np.flatnonzero(bad)[0]) if np.any(bad) else 0


def _numeric_column(name: str, dtype: str, kind: str, values: Sequence[Any], text: bool) -> Any:
    for row, v in enumerate(values):
        if isinstance(v, (bool, dict, list)):
            raise _bad(name, dtype, row, v)
    try:
        # None becomes NaN; numeric strings ("2.5", CSV cells) are parsed.
        floats = np.array(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        for row, v in enumerate(values):
            try:
                float(v if v is not None else "nan")
            except (ValueError, TypeError, OverflowError):
                raise _bad(name, dtype, row, v) from None
        raise _bad(name, dtype, 0, values[0]) from None
    if np.isinf(floats).any():
        row = _first(values, np.isinf(floats))
        raise _bad(name, dtype, row, values[row], "not a finite number")
    if kind == "f":
        info = np.finfo(dtype)
        big = np.abs(floats) > info.max
        if big.any():
            row = _first(values, big)
            raise _bad(name, dtype, row, values[row], f"beyond {dtype}'s range")
        return floats.astype(dtype, copy=False)
    missing = np.isnan(floats)
    if missing.any():
        row = _first(values, missing)
        raise _bad(name, dtype, row, values[row], "an integer column has no missing values")
    limits = np.iinfo(dtype)
    if all(type(v) is int for v in values):  # exact: no detour through float precision
        ints = [int(v) for v in values]
        for row, v in enumerate(ints):
            if not limits.min <= v <= limits.max:
                raise _bad(name, dtype, row, values[row], f"beyond {dtype}'s range")
        return np.array(ints, dtype=dtype)
    fractional = floats != np.floor(floats)
    if fractional.any():
        row = _first(values, fractional)
        raise _bad(name, dtype, row, values[row], "it has a fractional part")
    outside = (floats < limits.min) | (floats > limits.max)
    if outside.any():
        row = _first(values, outside)
        raise _bad(name, dtype, row, values[row], f"beyond {dtype}'s range")
    return floats.astype(dtype)


_TRUE = {"true", "True", "TRUE", "1"}
_FALSE = {"false", "False", "FALSE", "0"}


def _bool_column(name: str, dtype: str, values: Sequence[Any], text: bool) -> Any:
    out = []
    for row, v in enumerate(values):
        if isinstance(v, bool):
            out.append(v)
        elif text and isinstance(v, str) and v in _TRUE | _FALSE:
            out.append(v in _TRUE)
        else:
            raise _bad(name, dtype, row, v, "a boolean column has no missing values"
                       if v is None else "")
    return np.array(out, dtype=bool)


def _text_column(name: str, dtype: str, values: Sequence[Any], text: bool) -> Any:
    for row, v in enumerate(values):
        if v is not None and not isinstance(v, str):
            raise _bad(name, dtype, row, v, "send text as a JSON string")
    if dtype == "category":
        import pandas as pd

        return pd.Categorical(values)
    if dtype in ("string", "str"):
        return _pandas().array(values, dtype=dtype)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _time_column(name: str, dtype: str, kind: str, values: Sequence[Any]) -> Any:
    pd = _pandas()
    parse = pd.to_datetime if kind == "M" else pd.to_timedelta
    out: list[Any] = []
    for row, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        if not isinstance(v, str):
            raise _bad(name, dtype, row, v, "send it as a string such as '2024-01-31 12:00:00'"
                       if kind == "M" else "send it as a string such as '1 days 02:00:00'")
        try:
            out.append(parse(v))
        except (ValueError, TypeError, OverflowError):
            raise _bad(name, dtype, row, v) from None
    try:
        return pd.Series(out, dtype="object").astype(dtype).to_numpy()
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(f"column {name!r}: the values cannot be cast to {expected(dtype)} "
                         f"({str(exc)[:200]}).") from None


def _pandas_column(name: str, dtype: str, values: Sequence[Any]) -> Any:
    pd = _pandas()
    for row, v in enumerate(values):
        if isinstance(v, (dict, list)):
            raise _bad(name, dtype, row, v)
    try:
        return pd.array(list(values), dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(f"column {name!r}: the values cannot be cast to {expected(dtype)} "
                         f"({str(exc)[:200]}).") from None


def _pandas() -> Any:
    """pandas, typed loosely: dtypes here are strings read from the artefact."""
    import pandas

    return pandas


def cast_array(values: Any, dtype: str, shape: Sequence[int | None]) -> Any:
    """Nested lists as an array of ``dtype`` whose shape after the rows is ``shape[1:]``."""
    try:
        arr = np.array(values, dtype=object)
    except ValueError:
        raise BadRequest("the input is not a rectangular array: every row must have the same "
                         f"shape {tuple(shape[1:])}.") from None
    want = tuple(shape[1:])
    if arr.ndim != len(shape) or any(w is not None and w != g for w, g in zip(want, arr.shape[1:], strict=False)):
        got = arr.shape if arr.ndim else "a single value"
        hint = " (wrap a single row in a list: [[...]])" if arr.ndim == len(shape) - 1 else ""
        raise BadRequest(f"the input has shape {got}; the model takes rows of shape {want}, so "
                         f"an array of shape (rows, {', '.join(map(str, want))}){hint}.")
    if arr.ndim == 2:  # one column at a time, so a message names the row and the position
        cols = [np.asarray(cast_column(f"[:, {j}]", dtype, arr[:, j].tolist()))
                for j in range(arr.shape[1])]
        return np.stack(cols, axis=1) if cols else arr.astype(dtype)
    return np.asarray(cast_column("input", dtype, arr.ravel().tolist())).reshape(arr.shape)
