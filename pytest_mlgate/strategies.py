"""Hypothesis strategies that generate frames shaped like an example frame.

``frames_like(frame)`` infers a schema per column (dtype, value range, categories, whether
values go missing) and draws frames of that schema from hypothesis primitives only, so
shrinking and the example database work as for any strategy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from hypothesis import strategies as st

from pytest_mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    from hypothesis.strategies import SearchStrategy

__all__ = ["ColumnSchema", "frames_like", "infer_schema"]

#: Text columns with more distinct values than this draw arbitrary text instead of the seen values.
MAX_CATEGORIES = 1000


@dataclass(frozen=True)
class ColumnSchema:
    """What ``frames_like`` inferred about one column."""

    name: Any
    dtype: Any
    kind: str  # "bool", "int", "float", "category", "text", "datetime"
    low: Any = None
    high: Any = None
    categories: tuple[Any, ...] = ()
    missing: bool = False


def infer_schema(frame: pd.DataFrame) -> list[ColumnSchema]:
    """Per-column schema of ``frame``: dtype, range, categories, whether missing values occur."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"frames_like: expected a pandas DataFrame, got {type(frame).__name__}.")
    if frame.shape[1] == 0:
        raise DataError("frames_like: the frame has no columns to learn a schema from.")
    out = []
    for i, name in enumerate(frame.columns):
        s = frame.iloc[:, i]
        present = s.dropna()
        missing = bool(len(present) < len(s))
        dtype = s.dtype
        if len(present) == 0:
            raise DataError(f"frames_like: column {name!r} has no non-missing values, so its "
                            "values cannot be inferred; drop it or pass a frame with data.")
        if isinstance(dtype, pd.CategoricalDtype):
            out.append(ColumnSchema(name, dtype, "category",
                                    categories=tuple(dtype.categories), missing=missing))
        elif pd.api.types.is_bool_dtype(dtype):
            out.append(ColumnSchema(name, dtype, "bool", missing=missing))
        elif pd.api.types.is_integer_dtype(dtype):
            out.append(ColumnSchema(name, dtype, "int", int(present.min()), int(present.max()),
                                    missing=missing))
        elif pd.api.types.is_float_dtype(dtype):
            v = present.to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            if v.size == 0:
                raise DataError(f"frames_like: column {name!r} has no finite values.")
            out.append(ColumnSchema(name, dtype, "float", float(v.min()), float(v.max()),
                                    missing=missing))
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out.append(ColumnSchema(name, dtype, "datetime", present.min(), present.max(),
                                    missing=missing))
        elif isinstance(dtype, pd.StringDtype) or (
            pd.api.types.infer_dtype(present, skipna=True) == "string"
        ):
            cats = tuple(sorted(present.astype(str).unique()))
            out.append(ColumnSchema(name, dtype, "text", categories=cats, missing=missing))
        else:
            raise DataError(f"frames_like: column {name!r} has dtype {dtype} (pandas infers "
                            f"{pd.api.types.infer_dtype(present)!r}), which frames_like cannot "
                            "generate; convert it to numbers, text, categories or datetimes.")
    return out


def _elements(c: ColumnSchema) -> SearchStrategy[Any]:
    if c.kind == "bool":
        base: SearchStrategy[Any] = st.booleans()
    elif c.kind == "int":
        base = st.integers(c.low, c.high)
    elif c.kind == "float":
        single = getattr(c.dtype, "itemsize", 8) == 4
        lo, hi = c.low, c.high
        if single:
            lo, hi = float(np.float32(lo)), float(np.float32(hi))
        base = st.just(lo) if lo == hi else st.floats(lo, hi, allow_nan=False,
                                                      allow_infinity=False,
                                                      width=32 if single else 64)
    elif c.kind in ("category", "text"):
        if len(c.categories) > MAX_CATEGORIES:
            base = st.text(min_size=0, max_size=20)
        else:
            base = st.sampled_from(c.categories)
    else:  # datetime: draw whole microseconds between the observed extremes
        lo_us = int(c.low.value // 1000)
        hi_us = int(c.high.value // 1000)
        base = st.integers(lo_us, hi_us)
    # None first: hypothesis shrinks towards the first branch, and a missing value is the
    # simplest counterexample a pipeline can trip over.
    return st.one_of(st.none(), base) if c.missing else base


def _column(c: ColumnSchema, values: list[Any]) -> Any:
    """One generated column as a Series of the example's dtype (built once: shrinking calls
    this thousands of times)."""
    import pandas as pd

    if c.kind == "category":
        return pd.Series(pd.Categorical(values, dtype=c.dtype))
    if c.kind == "datetime":
        nat = np.iinfo(np.int64).min
        us = np.array([nat if v is None else v for v in values], dtype=np.int64)
        naive = pd.Series(us.view("datetime64[us]"))
        tz = getattr(c.dtype, "tz", None)
        if tz is not None:
            return naive.dt.tz_localize("UTC").dt.tz_convert(tz).astype(c.dtype)
        return naive.astype(c.dtype)
    if c.kind == "float" and isinstance(c.dtype, np.dtype):
        return pd.Series(np.array([math.nan if v is None else v for v in values],
                                  dtype=c.dtype))
    if c.kind in ("int", "bool") and isinstance(c.dtype, np.dtype) and not c.missing:
        return pd.Series(np.array(values, dtype=c.dtype))
    if isinstance(c.dtype, np.dtype) and c.dtype.kind == "O":
        return pd.Series(np.array(values, dtype=object), dtype=object)
    return pd.Series(pd.array(values, dtype=c.dtype))


def frames_like(frame: pd.DataFrame, *, min_rows: int = 1,
                max_rows: int = 50) -> SearchStrategy[pd.DataFrame]:
    """Frames with ``frame``'s columns and dtypes, values inside its ranges and categories,
    missing values where ``frame`` has them, and ``min_rows`` to ``max_rows`` rows."""
    import pandas as pd

    if min_rows < 0 or max_rows < min_rows:
        raise DataError(f"frames_like: need 0 <= min_rows <= max_rows, got {min_rows}, "
                        f"{max_rows}.")
    schema = infer_schema(frame)
    names = list(frame.columns)
    row = st.tuples(*[_elements(c) for c in schema])

    def build(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
        # Series with explicit dtypes: a dict of plain arrays would let pandas re-infer object
        # text as its string dtype.
        data = {i: _column(c, list(v)) for i, (c, v) in enumerate(zip(schema, cols, strict=True))}
        out = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
        out.columns = pd.Index(names) if not isinstance(frame.columns, pd.MultiIndex) \
            else frame.columns
        return out

    return st.lists(row, min_size=min_rows, max_size=max_rows).map(build)
