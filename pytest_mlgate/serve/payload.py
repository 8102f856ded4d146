"""The body of ``POST /invocations`` -> the model's input, in the formats MLflow's scoring
server accepts.

JSON objects hold exactly one of ``dataframe_split`` (``{"columns": [...], "data": [[...]]}``),
``dataframe_records`` (``[{column: value}, ...]``), ``instances`` or ``inputs`` (rows as lists
in the signature's column order, records, or ``{column: [values]}``; nested lists for an array
model), and optionally ``params``. ``text/csv`` is a header line and rows. The only parameter is
``predict_proba`` (``"params": {"predict_proba": true}``, or ``?predict_proba=true`` for any
format): the answer holds class probabilities instead of predictions.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_mlgate.serve.signature import (
    BadRequest,
    Signature,
    cast_array,
    cast_column,
    expected,
)

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = ("predict_proba",)
_FLAG = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class Parsed:
    """What a request asks: the model's input (a DataFrame or array), whether probabilities
    are wanted, and the request's columns the model does not take (dropped)."""

    data: Any
    predict_proba: bool
    rows: int
    dropped: tuple[str, ...] = ()


def parse(body: bytes, content_type: str | None, query: Mapping[str, str],
          signature: Signature) -> Parsed:
    """The model's input for one request; BadRequest saying what is wrong otherwise."""
    mime, _, rest = (content_type or "").partition(";")
    mime = mime.strip().lower()
    charset = rest.strip().lower().removeprefix("charset=").strip('"') if rest.strip() else "utf-8"
    if charset not in ("utf-8", "utf8"):
        raise BadRequest(f"charset {charset!r} is not supported: send UTF-8.", status=415)
    if not body.strip():
        raise BadRequest("the request body is empty: send JSON such as {\"dataframe_split\": "
                         "{\"columns\": [...], \"data\": [[...]]}} or CSV with a header line.")
    proba = _query_flag(query)
    if mime in ("text/csv", "application/csv"):
        table = _csv(body)
        data, dropped = _frame(signature, table, text=True)
        return Parsed(data, bool(proba), _rows(data), dropped)
    if mime not in ("application/json", ""):
        raise BadRequest(f"content type {mime!r} is not supported: send application/json or "
                         "text/csv.", status=415)
    doc = _json(body)
    keys = [k for k in FORMATS if k in doc]
    others = sorted(k for k in doc if k not in FORMATS and k != "params")
    if len(keys) != 1 or others:
        found = ", ".join(map(repr, keys + others)) or "none"
        raise BadRequest(f"the JSON object must hold exactly one of {', '.join(FORMATS)} "
                         f"(and optionally params); it holds {found}.")
    proba = _params(doc.get("params"), proba)
    fmt = keys[0]
    data, dropped = _decode(fmt, doc[fmt], signature)
    return Parsed(data, bool(proba), _rows(data), dropped)


def _rows(data: Any) -> int:
    return int(data.shape[0]) if hasattr(data, "shape") else len(data)


def _query_flag(query: Mapping[str, str]) -> bool | None:
    unknown = sorted(k for k in query if k not in PARAMS)
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; the only one is predict_proba "
                         "(true or false).")
    raw = query.get("predict_proba")
    if raw is None:
        return None
    flag = _FLAG.get(raw.strip().lower())
    if flag is None:
        raise BadRequest(f"predict_proba={raw[:40]!r}: expected true or false.")
    return flag


def _params(params: Any, proba: bool | None) -> bool | None:
    if params is None:
        return proba
    if not isinstance(params, Mapping):
        raise BadRequest("params must be a JSON object such as {\"predict_proba\": true}.")
    unknown = sorted(k for k in params if k not in PARAMS)
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r} in params; the only one is "
                         "predict_proba (true or false).")
    if "predict_proba" in params:
        value = params["predict_proba"]
        if not isinstance(value, bool):
            raise BadRequest(f"params.predict_proba is {value!r:.40}; expected true or false.")
        if proba is not None and proba != value:
            raise BadRequest("predict_proba is given twice, in params and in the query, with "
                             "different values: give it once.")
        return value
    return proba


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json(body: bytes) -> dict[str, Any]:
    from pytest_mlgate import strict_json

    try:
        # NaN and Infinity are refused here; a number too large for a float becomes inf and is
        # refused with its column by the cast.
        doc = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON ({strict_json.why(exc)[:200]}); send a JSON "
                         "object such as {\"dataframe_split\": {\"columns\": [...], \"data\": "
                         "[[...]]}}, with null for a missing value.") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"the body is a JSON {type(doc).__name__}, not an object; wrap the rows, "
                         "for example {\"instances\": [...]}.")
    return doc


# A table as the request gave it: columns (None: rows follow the signature's order) and
# either rows (lists) or columns (a mapping of name -> values).
@dataclass(frozen=True)
class _Table:
    columns: list[str] | None
    rows: list[list[Any]] | None = None
    by_column: dict[str, list[Any]] | None = None


def _decode(fmt: str, value: Any, signature: Signature) -> tuple[Any, tuple[str, ...]]:
    if signature.kind == "ndarray":
        if fmt == "dataframe_split" and isinstance(value, Mapping):
            value = value.get("data")
        elif fmt == "dataframe_records" or (isinstance(value, list) and value
                                            and isinstance(value[0], Mapping)):
            raise BadRequest("this model takes an array, not named columns: send "
                             "{\"inputs\": [[...], ...]} with one list of numbers per row.")
        assert signature.dtype is not None
        return cast_array(value, signature.dtype, signature.shape), ()
    return _frame(signature, _table(fmt, value), text=False)


def _table(fmt: str, value: Any) -> _Table:
    if fmt == "dataframe_split":
        if not isinstance(value, Mapping) or "data" not in value:
            raise BadRequest("dataframe_split must be an object with \"columns\" and \"data\": "
                             "{\"columns\": [\"a\", \"b\"], \"data\": [[1, 2]]}.")
        columns = value.get("columns")
        if columns is not None and (not isinstance(columns, list)
                                    or not all(isinstance(c, str) for c in columns)):
            raise BadRequest("dataframe_split.columns must be a list of column names (strings).")
        return _Table(columns, rows=_row_lists(value["data"], "dataframe_split.data"))
    if fmt == "dataframe_records":
        return _records(value, "dataframe_records")
    if isinstance(value, Mapping):  # instances / inputs as {column: [values]}
        return _columnar(value, fmt)
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return _records(value, fmt)
    return _Table(None, rows=_row_lists(value, fmt))


def _row_lists(rows: Any, where: str) -> list[list[Any]]:
    if not isinstance(rows, list):
        raise BadRequest(f"{where} must be a list of rows, each a list of values.")
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise BadRequest(f"{where}: row {i} is a JSON {type(row).__name__}, not a list of "
                             "values.")
    return rows


def _records(value: Any, where: str) -> _Table:
    if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
        raise BadRequest(f"{where} must be a list of records: [{{\"column\": value, ...}}, ...].")
    columns: dict[str, None] = {}
    for record in value:
        columns.update(dict.fromkeys(record))
    # A column a record leaves out is missing in that row (null), as in MLflow.
    return _Table(list(columns),
                  by_column={c: [r.get(c) for r in value] for c in columns})


def _columnar(value: Mapping[str, Any], where: str) -> _Table:
    lengths = set()
    for name, values in value.items():
        if not isinstance(values, list):
            raise BadRequest(f"{where}[{name!r}] must be a list of values, one per row.")
        lengths.add(len(values))
    if len(lengths) > 1:
        raise BadRequest(f"the columns of {where} have different lengths ({sorted(lengths)}); "
                         "give every column one value per row.")
    return _Table(list(value), by_column={str(k): v for k, v in value.items()})


def _csv(body: bytes) -> _Table:
    import csv

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("the CSV body is not UTF-8 text.") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = [line for line in reader if line]
    except csv.Error as exc:
        raise BadRequest(f"the CSV body cannot be read ({exc}).") from None
    if not lines:
        raise BadRequest("the CSV body has no header line.")
    header, rows = lines[0], lines[1:]
    # An empty cell is a missing value.
    return _Table(header, rows=[[c if c != "" else None for c in row] for row in rows])


def _frame(signature: Signature, table: _Table, *, text: bool) -> tuple[Any, tuple[str, ...]]:
    """The table as a DataFrame in the signature's column order and dtypes; request columns the
    signature does not list are dropped (and returned)."""
    import pandas as pd

    columns = table.columns
    if columns is not None and len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise BadRequest(f"column {dup!r} is given twice.")
    if signature.kind is None:  # nothing stored to check against: the frame as sent
        by_column = _by_column(table, columns or [str(i) for i in range(_width(table))])
        return pd.DataFrame(by_column), ()
    if _count(table) == 0:
        raise BadRequest("the request holds no rows.")
    names = signature.names
    if columns is None:
        columns = names
        width = _width(table)
        if table.rows is not None and width != len(names):
            bad = next(i for i, r in enumerate(table.rows) if len(r) != len(names))
            raise BadRequest(f"row {bad} has {len(table.rows[bad])} values, and rows without "
                             f"column names must give all {len(names)} columns in order: "
                             f"{', '.join(names)}. Or send records or dataframe_split with "
                             "column names.")
    missing = [n for n in names if n not in columns]
    if missing:
        dtype = dict(signature.columns)[missing[0]]
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:6])})" if len(missing) > 1 else ""
        raise BadRequest(f"column {missing[0]!r} is missing; the model takes it as "
                         f"{expected(dtype)}{more}.")
    fast = _all_floats(signature, table, columns)
    if fast is not None:
        return fast, tuple(c for c in columns if c not in dict(signature.columns))
    by_column = _by_column(table, columns)
    data = {name: cast_column(name, dtype, by_column[name], text=text)
            for name, dtype in signature.columns}
    dropped = tuple(c for c in columns if c not in dict(signature.columns))
    return pd.DataFrame(data, columns=names), dropped


def _all_floats(signature: Signature, table: _Table, columns: Sequence[str]) -> Any:
    """The frame at once, when every column is float64 and the rows are lists of numbers (or
    null): the common case, without a cast per column. None when anything else is in the rows
    (text, booleans, lists): the column-by-column path then finds it and names it."""
    import numpy as np
    import pandas as pd

    if table.rows is None or any(d != "float64" for _, d in signature.columns):
        return None
    try:
        arr = np.array(table.rows, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 2 or arr.shape[1] != len(columns) or np.isinf(arr).any():
        return None
    # bools convert silently and numeric strings parse: both go the careful way.
    if any(type(v) is bool or type(v) is str for row in table.rows for v in row):
        return None
    where = {c: i for i, c in enumerate(columns)}
    order = [where[n] for n in signature.names]
    # One 2-D block (8x faster to build than a frame of 30 columns); the model may then sum in
    # another order than in-process, which moves floats in their last bits only.
    return pd.DataFrame(arr[:, order], columns=signature.names)


def _count(table: _Table) -> int:
    if table.rows is not None:
        return len(table.rows)
    return max((len(v) for v in (table.by_column or {}).values()), default=0)


def _width(table: _Table) -> int:
    if table.rows:
        widths = {len(r) for r in table.rows}
        return widths.pop() if len(widths) == 1 else -1
    return len(table.columns or ())


def _by_column(table: _Table, columns: Sequence[str]) -> dict[str, list[Any]]:
    if table.by_column is not None:
        return table.by_column
    assert table.rows is not None
    for i, row in enumerate(table.rows):
        if len(row) != len(columns):
            raise BadRequest(f"row {i} has {len(row)} values for {len(columns)} columns.")
    if not table.rows:
        return {c: [] for c in columns}
    return {c: list(values) for c, values in zip(columns, zip(*table.rows, strict=True), strict=True)}
