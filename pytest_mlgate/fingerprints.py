"""Data fingerprints: ``fingerprint(obj)`` is a content hash that does not depend on the pandas
or numpy version. It hashes a canonical byte form defined here (see docs/fingerprints.md), never
``pd.util.hash_pandas_object``, whose output changed between pandas releases.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FINGERPRINT_VERSION", "fingerprint"]

#: Bumped whenever the canonical form changes; it is the first thing hashed.
FINGERPRINT_VERSION = 1
_MAGIC = b"mlgate-fingerprint\x00" + bytes([FINGERPRINT_VERSION])
# Value buffers are hashed in fixed 4 MiB chunks whose SHA-256 digests enter the outer hash.
# Fixed chunks keep the result independent of the thread count while letting chunks of a large
# frame be hashed on all cores (hashlib releases the GIL on large buffers).
_CHUNK = 4 << 20
_PARALLEL_MIN_BYTES = 32 << 20


class _Buffer:
    """A contiguous value buffer; float chunks get their NaNs canonicalized while hashed."""

    __slots__ = ("data", "is_float")

    def __init__(self, data: np.ndarray[Any, Any]) -> None:
        self.data = data
        self.is_float = data.dtype.kind in "fc"

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


_Part = bytes | _Buffer


def _u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def _i64(n: int) -> bytes:
    return struct.pack("<q", n)


def _text(s: str) -> bytes:
    b = s.encode("utf-8", "surrogatepass")
    return _u64(len(b)) + b


def fingerprint(obj: Any) -> str:
    """A stable content hash, ``"sha256:<64 hex digits>"``.

    Accepts numpy arrays, pandas DataFrames/Series/Index, lists/tuples/dicts (str keys) of those,
    plain numbers, ``bytes`` and a ``str``/``Path`` naming a file. A file or ``bytes`` at the top
    level hashes to the plain SHA-256 of its bytes (what ``sha256sum`` prints); everything else
    hashes to the SHA-256 of the canonical form described in docs/fingerprints.md.
    """
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(obj).hexdigest()
    if isinstance(obj, (str, os.PathLike)):
        return "sha256:" + _file_digest(obj).hex()
    parts: list[_Part] = [_MAGIC]
    _walk(obj, parts)
    return "sha256:" + _hash_parts(parts)


def _file_digest(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    if not p.is_file():
        what = "a directory" if p.is_dir() else "not an existing file"
        raise DataError(
            f"fingerprint: {str(path)!r} is {what}; a str or Path is read as a file. "
            "Pass an existing file, or the data itself (array, DataFrame)."
        )
    with p.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").digest()


def _hash_parts(parts: list[_Part]) -> str:
    buffers = [p for p in parts if isinstance(p, _Buffer)]
    tasks = [(b, off) for b in buffers for off in range(0, max(b.nbytes, 1), _CHUNK)]
    total = sum(b.nbytes for b in buffers)
    if total >= _PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 8)) as pool:
            digests = list(pool.map(_chunk_digest, tasks))
    else:
        digests = [_chunk_digest(t) for t in tasks]
    it = iter(digests)
    outer = hashlib.sha256()
    for p in parts:
        if isinstance(p, _Buffer):
            outer.update(b"B" + _u64(p.nbytes))
            for _ in range(0, max(p.nbytes, 1), _CHUNK):
                outer.update(next(it))
        else:
            outer.update(p)
    return outer.hexdigest()


def _chunk_digest(task: tuple[_Buffer, int]) -> bytes:
    buf, off = task
    flat = buf.data.reshape(-1).view(np.uint8)[off : off + _CHUNK]
    if buf.is_float:
        vals = flat.view(buf.data.dtype)
        # NaNs come in many bit patterns; all of them hash as the one numpy produces.
        # The sum is a cheap filter: it is finite exactly when no NaN or inf is present.
        if not np.isfinite(vals.sum()):
            nan = np.isnan(vals)
            if nan.any():
                vals = vals.copy()
                vals[nan] = np.nan
                flat = vals.view(np.uint8)
    return hashlib.sha256(flat.data).digest()


def _le(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """C-contiguous, little-endian copy or view."""
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and np.little_endian is False):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr)


def _dtype_name(dtype: np.dtype[Any]) -> str:
    # dtype.str with the byte order fixed to little-endian, e.g. "<f8", "|b1", "<M8[ns]".
    return dtype.newbyteorder("<").str if dtype.byteorder in "<>=" else dtype.str


def _walk(obj: Any, parts: list[_Part]) -> None:
    pd = _pandas_or_none()
    if pd is not None:
        if isinstance(obj, pd.DataFrame):
            _walk_frame(obj, parts)
            return
        if isinstance(obj, pd.Series):
            parts.append(b"S")
            parts.append(_label(obj.name))
            _walk_index(obj.index, parts)
            _walk_values(obj, parts, f"series {obj.name!r}")
            return
        if isinstance(obj, pd.Index):
            parts.append(b"I")
            _walk_index(obj, parts)
            return
    if isinstance(obj, np.ndarray):
        _walk_ndarray(obj, parts)
        return
    if isinstance(obj, (list, tuple)):
        parts.append(b"L" + _u64(len(obj)))
        for item in obj:
            _walk(item, parts)
        return
    if isinstance(obj, Mapping):
        keys = list(obj)
        if not all(isinstance(k, str) for k in keys):
            raise DataError("fingerprint: dict keys must be str so their order can be fixed.")
        parts.append(b"D" + _u64(len(keys)))
        for k in sorted(keys):
            parts.append(_text(k))
            _walk(obj[k], parts)
        return
    if isinstance(obj, (bytes, bytearray, memoryview)):
        parts.append(b"Y" + hashlib.sha256(obj).digest())
        return
    if isinstance(obj, (str, os.PathLike)):
        parts.append(b"F" + _file_digest(obj))
        return
    if obj is None or isinstance(obj, (bool, int, float, np.generic)):
        parts.append(b"V" + _scalar(obj, "fingerprint"))
        return
    raise DataError(
        f"fingerprint: cannot hash an object of type {type(obj).__module__}.{type(obj).__name__}; "
        "expected a numpy array, pandas DataFrame/Series/Index, a list/tuple/dict of these, "
        "bytes, or a path to a file."
    )


def _pandas_or_none() -> Any:
    # pandas is a dependency, but plain arrays should not pay for importing it.
    import sys

    return sys.modules.get("pandas")


def _walk_ndarray(arr: np.ndarray[Any, Any], parts: list[_Part]) -> None:
    kind = arr.dtype.kind
    shape = b"".join(_u64(d) for d in arr.shape)
    if kind == "O":
        parts.append(b"A" + _text("object") + _u64(arr.ndim) + shape)
        parts.extend(_object_parts(arr.reshape(-1), "array"))
        return
    if kind == "V" or arr.dtype.hasobject:
        raise DataError(
            f"fingerprint: structured arrays (dtype {arr.dtype}) are not supported; "
            "hash each field, or convert to a DataFrame."
        )
    parts.append(b"A" + _text(_dtype_name(arr.dtype)) + _u64(arr.ndim) + shape)
    parts.append(_Buffer(_le(arr)))


def _walk_frame(frame: pd.DataFrame, parts: list[_Part]) -> None:
    parts.append(b"T" + _u64(frame.shape[0]) + _u64(frame.shape[1]))
    parts.append(_label(frame.columns.names))
    _walk_index(frame.index, parts)
    for i, name in enumerate(frame.columns):
        parts.append(b"C" + _label(name))
        _walk_values(frame.iloc[:, i], parts, f"column {name!r}")


def _walk_index(index: pd.Index, parts: list[_Part]) -> None:
    import pandas as pd

    if isinstance(index, pd.MultiIndex):
        parts.append(b"M" + _u64(index.nlevels) + _label(list(index.names)))
        for level in range(index.nlevels):
            _walk_values(index.get_level_values(level), parts, f"index level {level}")
        return
    parts.append(b"X" + _label(index.name))
    rng = _as_range(index)
    if rng is not None:
        # RangeIndex and an integer index holding the same progression hash alike: pandas
        # versions differ in which of the two many operations return.
        parts.append(b"R" + _i64(rng[0]) + _i64(rng[1]) + _u64(len(index)))
        return
    _walk_values(index, parts, "index")


def _as_range(index: pd.Index) -> tuple[int, int] | None:
    """(start, step) when ``index`` is integers in arithmetic progression, else None."""
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        return (int(index.start), int(index.step)) if len(index) else (0, 1)
    if index.dtype.kind not in "iu" or not isinstance(index.dtype, np.dtype):
        return None
    n = len(index)
    if n == 0:
        return (0, 1)
    v = index.to_numpy()
    if n == 1:
        return (int(v[0]), 1)
    step = int(v[1]) - int(v[0])
    if step == 0:
        return None
    if v.dtype.kind == "u" and int(v[-1]) > np.iinfo(np.int64).max:
        return None
    d = np.diff(v.astype(np.int64))
    return (int(v[0]), step) if bool((d == step).all()) else None


def _walk_values(values: Any, parts: list[_Part], what: str) -> None:
    """One column's values (Series or Index): canonical dtype name, then the values."""
    import pandas as pd

    dtype = values.dtype
    n = len(values)
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        parts.append(b"K" + _u64(n) + (b"o" if dtype.ordered else b"u"))
        parts.append(b"I")
        _walk_index(cats, parts)
        codes = np.asarray(values.cat.codes if isinstance(values, pd.Series) else values.codes)
        parts.append(_Buffer(_le(codes.astype(np.int64))))
        return
    if isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, np.dtype) and dtype.kind == "O"
        and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    ):
        # Text is one logical type whatever pandas calls it ("object", "string", "str"): the
        # same CSV read by pandas 2 and 3 must fingerprint the same.
        parts.append(b"W" + _text("text") + _u64(n))
        parts.extend(_text_parts(np.asarray(values, dtype=object)))
        return
    if isinstance(dtype, np.dtype):
        if dtype.kind == "O":
            parts.append(b"W" + _text("object") + _u64(n))
            parts.extend(_object_parts(np.asarray(values, dtype=object), what))
            return
        arr = np.asarray(values)
        if dtype.kind in "mM":
            arr = _time_as_ns(arr)
        parts.append(b"W" + _text(_dtype_name(arr.dtype)) + _u64(n))
        parts.append(_Buffer(_le(arr)))
        return
    if isinstance(dtype, pd.DatetimeTZDtype):
        # Stored instants (UTC) plus the zone name; NaT is int64 min, already deterministic.
        naive = np.asarray(values.array if hasattr(values, "array") else values,
                           dtype=f"datetime64[{dtype.unit}]")
        arr = _time_as_ns(naive)
        parts.append(b"W" + _text(f"{_dtype_name(arr.dtype)}, {dtype.tz}") + _u64(n))
        parts.append(_Buffer(_le(arr)))
        return
    # Nullable extension arrays (Int64, Float64, boolean, pyarrow-backed numbers): a validity
    # mask, then the values with missing slots zeroed.
    arr = values.array if hasattr(values, "array") else values
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    if isinstance(numpy_dtype, np.dtype) and numpy_dtype.kind in "biufc":
        mask = np.asarray(arr.isna(), dtype=bool)
        data = np.asarray(arr.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0)))
        parts.append(b"W" + _text(f"nullable:{_dtype_name(numpy_dtype)}") + _u64(n))
        parts.append(_Buffer(_le(mask.astype(np.uint8))))
        parts.append(_Buffer(_le(data)))
        return
    raise DataError(
        f"fingerprint: {what} has dtype {dtype}, which has no canonical form; convert it to a "
        "numpy dtype, a pandas string, categorical or nullable numeric dtype first."
    )


_NS_PER_UNIT = {"W": 604_800 * 10**9, "D": 86_400 * 10**9, "h": 3_600 * 10**9,
                "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _time_as_ns(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Datetimes/timedeltas in nanoseconds when they fit: pandas 2 parses to ns, pandas 3 to us,
    and the same instants must hash alike. Values beyond the ns range keep their unit."""
    unit, count = np.datetime_data(arr.dtype)
    if unit not in _NS_PER_UNIT or (unit == "ns" and count == 1):
        return arr  # calendar units (Y, M) have no fixed length; ps/fs/as are finer than ns
    target = np.dtype(f"{arr.dtype.kind}8[ns]")
    factor = _NS_PER_UNIT[unit] * int(count)
    ints = arr.view(np.int64)
    nat = ints == np.iinfo(np.int64).min
    limit = np.iinfo(np.int64).max // factor
    if bool((np.abs(ints[~nat]) >= limit).any()):
        return arr
    out = ints * factor
    out[nat] = np.iinfo(np.int64).min
    return out.view(target)


def _missing_mask(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _text_parts(values: np.ndarray[Any, Any]) -> list[_Part]:
    """Text as one int64 array of UTF-8 byte lengths (-1 = missing), then all bytes joined."""
    missing = _missing_mask(values)
    present = values[~missing]
    encoded = [s.encode("utf-8", "surrogatepass") for s in present.tolist()]
    lengths = np.full(len(values), -1, dtype=np.int64)
    lengths[~missing] = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return [_Buffer(_le(lengths)), _Buffer(blob)]


def _object_parts(values: np.ndarray[Any, Any], what: str) -> list[_Part]:
    """Mixed Python objects, one tagged scalar each (a Python loop: object data is small)."""
    return [b"".join(_scalar(v, what) for v in values.tolist())]


def _scalar(v: Any, what: str) -> bytes:
    """A tagged canonical encoding of one scalar; every missing marker encodes as b"n"."""
    import datetime as dt

    if isinstance(v, np.generic):
        v = v.item()
    if v is None:
        return b"n"
    if isinstance(v, bool):
        return b"b1" if v else b"b0"
    if isinstance(v, int):
        b = str(v).encode()
        return b"i" + _u64(len(b)) + b
    if isinstance(v, float):
        if math.isnan(v):
            return b"n"
        return b"f" + struct.pack("<d", v)
    if isinstance(v, str):
        return b"s" + _text(v)
    if isinstance(v, bytes):
        return b"y" + _u64(len(v)) + v
    if isinstance(v, (tuple, list)):
        return b"t" + _u64(len(v)) + b"".join(_scalar(x, what) for x in v)
    pd = _pandas_or_none()
    if pd is not None and (v is pd.NA or v is pd.NaT):
        return b"n"
    if isinstance(v, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        return b"d" + _text(type(v).__name__ + ":" + (str(v) if isinstance(v, dt.timedelta)
                                                       else v.isoformat()))
    if isinstance(v, complex):
        return b"c" + struct.pack("<dd", v.real, v.imag)
    raise DataError(
        f"fingerprint: {what} holds a value of type {type(v).__name__} ({v!r:.60}); expected "
        "str, bytes, numbers, booleans, dates or missing values. Convert the column first."
    )


def _label(name: Any) -> bytes:
    return _scalar(tuple(name) if isinstance(name, list) else name, "label")
