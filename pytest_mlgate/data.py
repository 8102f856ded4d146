"""Data fingerprints and reference profiles.

``fingerprint(obj)`` is a content hash that does not depend on the pandas or numpy version: it
hashes a canonical byte form defined here (see docs/fingerprints.md), never
``pd.util.hash_pandas_object``, whose output changed between pandas releases.

``profile(frame)`` is a compact per-column summary (quantiles, histogram, category counts,
missing rates) that stands in for a reference frame in ``check_drift`` and ships in delivered
artefacts as ``profile.json``.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from pytest_mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FINGERPRINT_VERSION",
    "ColumnProfile",
    "Profile",
    "fingerprint",
    "profile",
]

# ---------------------------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------

ColumnKind = Literal["numeric", "categorical"]
#: 2: numeric columns keep CDF knots (observed values with exact counts), refined in the tails;
#: 1 (still read): quantiles at uniform levels.
PROFILE_SCHEMA = 2
#: Knots at these many uniform quantile levels (0, 1/1000, ..., 1) start every numeric column.
DEFAULT_QUANTILES = 1001
#: Numeric columns with at most this many distinct values keep exact value counts instead.
EXACT_MAX_DISTINCT = 512
#: Knots are added where the CDF is stretched until the Wasserstein error bound is at most this
#: share of the column's standard deviation (a tenth of the default drift threshold).
EFFECT_ERROR_TARGET = 0.01
#: No numeric column keeps more knots than this; its bound is then what was reached.
MAX_KNOTS = 4096


def _jf(x: float | None) -> float | str | None:
    # Strict JSON has no infinities; float("inf") reads the string form back.
    if x is None or math.isfinite(x):
        return x
    return str(float(x))


@dataclass(frozen=True)
class ColumnProfile:
    """Summary of one column.

    numeric: exact ``values``/``counts`` when the column has few distinct values; otherwise CDF
    ``knots`` (observed values) with ``below`` (values strictly below each knot) and ``at`` (values
    equal to it), the CDF being linear between knots, and ``effect_bound``: the most the
    Wasserstein effect size (in SDs) read from the profile can differ from the one read from the
    frame, whatever the current data. Profiles of schema 1 hold ``quantiles`` at ``levels``
    instead (no bound). Also ``hist_edges``/``hist_counts``, ``mean``/``std`` (ddof=0).
    categorical: ``categories``/``counts``. ``n`` counts all rows, ``n_missing`` missing ones.
    """

    name: str
    kind: ColumnKind
    dtype: str
    n: int
    n_missing: int
    mean: float | None = None
    std: float | None = None
    levels: tuple[float, ...] = ()
    quantiles: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    hist_edges: tuple[float, ...] = ()
    hist_counts: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    knots: tuple[float, ...] = ()
    below: tuple[int, ...] = ()
    at: tuple[int, ...] = ()
    effect_bound: float | None = None

    def __post_init__(self) -> None:
        _check_column(self)

    @property
    def n_present(self) -> int:
        return self.n - self.n_missing

    @property
    def missing_rate(self) -> float:
        return self.n_missing / self.n if self.n else 0.0

    @property
    def exact(self) -> bool:
        """True when a numeric column's full distribution is stored (values and counts)."""
        return self.kind == "numeric" and len(self.values) > 0

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name, "kind": self.kind, "dtype": self.dtype,
            "n": self.n, "n_missing": self.n_missing,
        }
        if self.kind == "numeric":
            d.update(mean=_jf(self.mean), std=_jf(self.std),
                     hist_edges=[_jf(x) for x in self.hist_edges],
                     hist_counts=list(self.hist_counts))
            if self.exact:
                d.update(values=[_jf(x) for x in self.values], counts=list(self.counts))
            elif self.knots:
                d.update(knots=[_jf(x) for x in self.knots], below=list(self.below),
                         at=list(self.at), effect_bound=_jf(self.effect_bound))
            elif self.levels:
                d.update(levels=list(self.levels), quantiles=[_jf(x) for x in self.quantiles])
        else:
            d.update(categories=list(self.categories), counts=list(self.counts))
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ColumnProfile:
        kind = d["kind"]
        if kind not in ("numeric", "categorical"):
            raise DataError(f"profile column {d.get('name')!r}: unknown kind {kind!r}")

        def floats(key: str) -> tuple[float, ...]:
            return tuple(float(x) for x in d.get(key) or ())

        return cls(
            name=str(d["name"]), kind=kind, dtype=str(d["dtype"]), n=int(d["n"]),
            n_missing=int(d["n_missing"]),
            mean=None if d.get("mean") is None else float(d["mean"]),
            std=None if d.get("std") is None else float(d["std"]),
            levels=floats("levels"), quantiles=floats("quantiles"), values=floats("values"),
            counts=tuple(int(x) for x in d.get("counts") or ()),
            hist_edges=floats("hist_edges"),
            hist_counts=tuple(int(x) for x in d.get("hist_counts") or ()),
            categories=tuple(str(x) for x in d.get("categories") or ()),
            knots=floats("knots"), below=tuple(int(x) for x in d.get("below") or ()),
            at=tuple(int(x) for x in d.get("at") or ()),
            effect_bound=None if d.get("effect_bound") is None else float(d["effect_bound"]),
        )


@dataclass(frozen=True)
class Profile:
    """A compact per-column summary of a reference frame (JSON-safe; ``profile.json``)."""

    n_rows: int
    columns: tuple[ColumnProfile, ...]
    fingerprint: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_rows < 0:
            raise DataError("profile: n_rows is negative.")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise DataError("profile: two columns have the same name.")
        for c in self.columns:
            if c.n != self.n_rows:
                raise DataError(f"profile column {c.name[:60]!r}: n is {c.n} but the profile "
                                f"has {self.n_rows} rows.")

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": PROFILE_SCHEMA,
            "kind": "mlgate-profile",
            "n_rows": self.n_rows,
            "fingerprint": self.fingerprint,
            "info": dict(self.info),
            "columns": [c.to_json() for c in self.columns],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Profile:
        if not isinstance(d, Mapping) or d.get("kind") != "mlgate-profile":
            raise DataError("not an mlgate profile: expected a JSON object with "
                            "\"kind\": \"mlgate-profile\" (written by pytest_mlgate.profile).")
        schema = int(d.get("schema", 0))
        if schema > PROFILE_SCHEMA:
            raise DataError(f"profile schema {schema} is newer than this pytest-mlgate supports "
                            f"({PROFILE_SCHEMA}); upgrade pytest-mlgate.")
        return cls(
            n_rows=int(d["n_rows"]),
            columns=tuple(ColumnProfile.from_json(c) for c in d["columns"]),
            fingerprint=d.get("fingerprint"),
            info=dict(d.get("info") or {}),
        )


def _check_column(c: ColumnProfile) -> None:
    """DataError unless ``c`` is a column ``profile`` could have written: the drift statistics
    rely on sorted knots, matching lengths and counts that add up to the rows present. This is
    the one check, run whenever a profile is made (by ``profile``, ``from_json`` or by hand)."""
    where = f"profile column {str(c.name)[:60]!r}"

    def fail(why: str) -> None:
        raise DataError(f"{where}: {why}; write profiles with pytest_mlgate.profile(frame).")

    def increasing(xs: tuple[float, ...], strict: bool, what: str) -> None:
        a = np.asarray(xs, dtype=np.float64)
        if np.isnan(a).any():
            fail(f"{what} holds NaN")
        steps = np.diff(a)
        if (steps < 0).any() or (strict and (steps == 0).any()):
            fail(f"{what} is not sorted")

    def counts(xs: tuple[int, ...], what: str) -> int:
        if any(x < 0 for x in xs):
            fail(f"{what}: a count is negative")
        return sum(xs)

    if c.kind not in ("numeric", "categorical"):
        fail(f"unknown kind {c.kind!r}")
    if c.n < 0 or not 0 <= c.n_missing <= c.n:
        fail("n_missing must lie between 0 and n, n >= 0")
    if c.kind == "categorical":
        if c.values or c.knots or c.levels or c.quantiles:
            fail("a categorical column holds numeric summaries")
        if len(c.categories) != len(c.counts) or len(set(c.categories)) != len(c.categories):
            fail("categories and counts do not pair up")
        if counts(c.counts, "counts") != c.n_present:
            fail("counts do not add up to the rows present (n - n_missing)")
        return
    if c.categories:
        fail("a numeric column holds categories")
    for label, x in (("mean", c.mean), ("std", c.std)):
        if x is not None and not math.isfinite(x):
            fail(f"{label} is not a finite number")
    if c.std is not None and c.std < 0:
        fail("std is negative")
    forms = [label for label, present in (("values", c.values or c.counts),
                                          ("knots", c.knots or c.below or c.at),
                                          ("quantiles", c.levels or c.quantiles)) if present]
    if len(forms) > 1:
        fail(f"it holds both {forms[0]} and {forms[1]}; a column has one form")
    if c.n_present == 0:
        if forms:
            fail(f"it has no values present but holds {forms[0]}")
    elif not forms:
        fail("it has values present but neither values, knots nor quantiles")
    elif forms[0] == "values":
        if len(c.values) != len(c.counts) or any(x < 1 for x in c.counts):
            fail("values and counts do not pair up")
        increasing(c.values, True, "values")
        if counts(c.counts, "counts") != c.n_present:
            fail("counts do not add up to the rows present (n - n_missing)")
    elif forms[0] == "knots":
        if not len(c.knots) == len(c.below) == len(c.at):
            fail("knots, below and at do not pair up")
        increasing(c.knots, True, "knots")
        counts(c.below, "below")
        if any(x < 1 for x in c.at):
            fail("at: every knot is an observed value, counted at least once")
        ends = [b + a for b, a in zip(c.below, c.at, strict=True)]
        if c.below[0] != 0 or ends[-1] != c.n_present or any(
                nxt < end for end, nxt in zip(ends, c.below[1:], strict=False)):
            fail("below and at are not the counts of a sorted column (from 0 to the rows "
                 "present)")
        if c.effect_bound is None or not c.effect_bound >= 0:
            fail("effect_bound must be a number >= 0")
    else:
        if not c.quantiles or len(c.quantiles) != len(c.levels):
            fail("quantiles and levels do not pair up")
        if not all(0.0 <= p <= 1.0 for p in c.levels):
            fail("levels must lie in [0, 1]")
        increasing(c.levels, True, "levels")
        increasing(c.quantiles, False, "quantiles")
    if c.hist_edges or c.hist_counts:
        if len(c.hist_edges) != len(c.hist_counts) + 1:
            fail("hist_edges and hist_counts do not pair up")
        if not all(math.isfinite(e) for e in c.hist_edges):
            fail("hist_edges are not finite")
        increasing(c.hist_edges, False, "hist_edges")
        if counts(c.hist_counts, "hist_counts") > c.n_present:
            fail("hist_counts add up to more than the rows present")


def column_kind(series: pd.Series, name: str, *, error: type[Exception] = DataError) -> ColumnKind:
    """"numeric" or "categorical" for one column; mixed-type object columns raise ``error``."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_complex_dtype(dtype) or (
            isinstance(dtype, np.dtype) and dtype.kind == "O"
            and pd.api.types.infer_dtype(series, skipna=True) == "complex"):
        raise error(
            f"column {name!r} holds complex numbers; drift and profiles compare real values "
            "only. Compare the parts as two columns (frame[col].to_numpy().real and .imag, or "
            "abs and angle), or leave the column out with columns=[...]."
        )
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if isinstance(dtype, pd.StringDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return "numeric"
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("string", "boolean", "empty"):
            return "categorical"
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return "numeric"
        raise error(
            f"column {name!r} mixes value types (pandas infers {inferred!r}); a column must "
            "hold numbers or text, not both. Convert it, e.g. frame[col].astype(str)."
        )
    raise error(f"column {name!r} has dtype {dtype}, which is neither numeric nor categorical; "
                "convert it or leave it out with columns=[...].")


def numeric_values(series: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Non-missing values as float64 (datetimes as int64 nanoseconds)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        s = series.dropna()
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = np.asarray(s.to_numpy(dtype="datetime64[ns]")).view(np.int64)
        return ns.astype(np.float64)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":
        v = np.asarray(series.to_numpy(), dtype=np.float64)
        # A finite sum means no NaN: skip the mask and the copy (the common case).
        if np.isfinite(v.sum()):
            return v
        return v[~np.isnan(v)]
    return np.asarray(series.dropna().to_numpy(dtype=np.float64), dtype=np.float64)


def category_counts(series: pd.Series) -> tuple[list[str], np.ndarray[Any, np.dtype[np.int64]]]:
    """Non-missing categories (as str) and their counts, sorted by category."""
    vc = series.dropna().astype(str).value_counts(sort=False)
    order = np.argsort(np.asarray(vc.index, dtype=object).astype(str), kind="stable")
    cats = [str(c) for c in np.asarray(vc.index, dtype=object)[order]]
    return cats, np.asarray(vc.to_numpy()[order], dtype=np.int64)


def profile(frame: pd.DataFrame, *, bins: int = 20, quantiles: int = DEFAULT_QUANTILES) -> Profile:
    """Summarise ``frame`` per column: ``quantiles`` CDF knots and a ``bins``-bin histogram for
    numeric columns, counts for categorical ones, missing counts for both."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"profile: expected a pandas DataFrame, got {type(frame).__name__}.")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"profile: the frame is empty ({frame.shape[0]} rows, "
                        f"{frame.shape[1]} columns); profile the training data.")
    if bins < 1 or quantiles < 2:
        raise DataError("profile: bins must be >= 1 and quantiles >= 2.")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise DataError("profile: column names must be unique (as strings).")
    levels = np.linspace(0.0, 1.0, quantiles)
    cols: list[ColumnProfile] = []
    for i, name in enumerate(names):
        s = frame.iloc[:, i]
        kind = column_kind(s, name)
        n_missing = int(s.isna().sum())
        base = {"name": name, "kind": kind, "dtype": str(s.dtype), "n": len(s),
                "n_missing": n_missing}
        if kind == "categorical":
            cats, counts = category_counts(s)
            cols.append(ColumnProfile(**base, categories=tuple(cats),  # type: ignore[arg-type]
                                      counts=tuple(int(c) for c in counts)))
            continue
        v = np.sort(numeric_values(s))
        if v.size == 0:
            cols.append(ColumnProfile(**base))  # type: ignore[arg-type]
            continue
        # Infinities stay in the quantiles (the drift test sees them) but not in the moments
        # or the histogram, which need finite ends.
        fin = v[np.isfinite(v)]
        if fin.size == 0:
            fin = np.zeros(1)
        edges = np.histogram_bin_edges(fin, bins=bins)
        hist, _ = np.histogram(fin, bins=edges)
        extra: dict[str, Any] = {}
        last = np.r_[v[1:] != v[:-1], True]
        if int(last.sum()) <= EXACT_MAX_DISTINCT:
            ends = np.flatnonzero(last)
            counts = np.diff(np.r_[0, ends + 1])
            extra = {"values": tuple(v[ends].tolist()), "counts": tuple(counts.tolist())}
        else:
            knots, below, at, bound = cdf_knots(v, levels, float(fin.std()))
            extra = {"knots": tuple(knots.tolist()), "below": tuple(below.tolist()),
                     "at": tuple(at.tolist()), "effect_bound": bound}
        cols.append(ColumnProfile(
            **base, mean=float(fin.mean()), std=float(fin.std()),  # type: ignore[arg-type]
            hist_edges=tuple(edges.tolist()), hist_counts=tuple(int(c) for c in hist), **extra,
        ))
    return Profile(n_rows=int(frame.shape[0]), columns=tuple(cols), fingerprint=fingerprint(frame))


def cdf_knots(
    v: np.ndarray[Any, np.dtype[np.float64]], levels: np.ndarray[Any, np.dtype[np.float64]],
    sd: float, *, target: float = EFFECT_ERROR_TARGET, max_knots: int = MAX_KNOTS,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], float]:
    """Knots of the CDF of sorted values ``v``: (knot values, count below, count at, bound).

    The reconstruction is exact at every knot and linear in between, so on a segment holding a
    share ``p`` of the values over a width ``w`` the reconstructed CDF is off by at most ``p``,
    and the Wasserstein distance of any sample to it by at most ``p * w``. Knots start at the
    quantile ``levels``; segments where ``p * w`` is largest are split (at the observed value
    nearest their middle) until the sum, divided by ``sd``, is at most ``target``. That sum is
    the returned bound on the effect size's error. Uniform levels alone spread a heavy tail's
    last 0.1% over its whole range (a bias above 0.1 SD for t(2) data); the split knots follow
    the tail instead.
    """
    n = v.size
    knots = np.unique(np.r_[np.quantile(v, levels, method="inverted_cdf"), v[0], v[-1]])
    fin = v[np.isfinite(v)]
    if fin.size:
        knots = np.unique(np.r_[knots, fin[0], fin[-1]])

    def measure(k: np.ndarray[Any, Any]) -> tuple[Any, Any, Any]:
        below = np.searchsorted(v, k, "left")
        upto = np.searchsorted(v, k, "right")
        inner = below[1:] - upto[:-1]  # values strictly between neighbouring knots
        with np.errstate(invalid="ignore"):
            width = np.diff(k)
            contrib = np.where(inner > 0, inner * width / n, 0.0)
        return below, upto, contrib

    below, upto, contrib = measure(knots)
    budget = target * sd if sd > 0 and math.isfinite(sd) else 0.0
    while knots.size < max_knots and contrib.size and float(contrib.sum()) > budget:
        # Split every segment above its share of the budget, the largest first.
        share = budget / (2.0 * contrib.size)
        worst = np.flatnonzero(contrib > share)
        worst = worst[np.argsort(contrib[worst])[::-1][: max_knots - knots.size]]
        if worst.size == 0:
            break
        mid = knots[worst] + (knots[worst + 1] - knots[worst]) / 2.0
        pos = np.clip(np.searchsorted(v, mid), upto[worst], below[worst + 1] - 1)
        fresh = v[pos]
        # Nearest observed value to the middle: the one just below may be closer.
        prev = v[np.maximum(pos - 1, upto[worst])]
        fresh = np.where(np.abs(prev - mid) < np.abs(fresh - mid), prev, fresh)
        grown = np.unique(np.r_[knots, fresh])
        if grown.size == knots.size:
            break
        knots = grown
        below, upto, contrib = measure(knots)
    total = float(contrib.sum())
    bound = total / sd if sd > 0 and math.isfinite(sd) else (0.0 if total == 0 else math.inf)
    return knots, below, upto - below, bound
