"""Model and example (de)serialization for artefacts.

Models: skops by default (a zip of JSON and ``.npy`` members that loads without executing
code); joblib or pickle only on explicit opt-in. skops output is made byte-for-byte
deterministic (canonical member names, fixed timestamps) so that one model serialized in two
pytest-xdist workers has one content hash.

Examples: a few input rows, stored without pickle: a DataFrame as JSON (values plus dtypes, floats
written with ``repr`` precision, so they round-trip exactly), an array as ``.npy`` loaded with
``allow_pickle=False``.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pytest_mlgate.errors import ArtifactError
from pytest_mlgate.strict_json import dumps

FORMATS: tuple[str, ...] = ("skops", "joblib", "pickle")
MODEL_FILES: dict[str, str] = {
    "skops": "model.skops", "joblib": "model.joblib", "pickle": "model.pkl"}
# Formats whose loading runs arbitrary code from the file.
EXECUTABLE_FORMATS: frozenset[str] = frozenset({"joblib", "pickle"})
# Rows of the example kept in the artefact: enough to run a smoke prediction, small enough to read.
EXAMPLE_MAX_ROWS = 20
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# -- models ------------------------------------------------------------------------------------
class SerializedModel(NamedTuple):
    """A model's bytes, and (skops) the types outside skops' trusted defaults that loading them
    asks the consumer to trust, sorted: information for the consumer, never applied for them."""

    data: bytes
    untrusted_types: tuple[str, ...] = ()


def _refused(message: str, cause: BaseException) -> ArtifactError:
    """A format cannot represent the model: raised ``from None``, the cause kept as ``reason``."""
    return ArtifactError(message, reason=f"{type(cause).__name__}: {cause}")


def serialize_model(model: Any, fmt: str) -> SerializedModel:
    """The model's bytes in ``fmt``; ArtifactError when the format cannot represent it."""
    if fmt == "skops":
        import skops.io as sio

        try:
            raw = sio.dumps(model)
        except Exception as exc:  # skops raises TypeError, PicklingError, ... for odd objects
            raise _skops_refused(model, exc) from None
        data = canonical_skops(raw)
        return SerializedModel(data, _check_skops_round_trip(model, data))
    if fmt == "joblib":
        import joblib

        buf = io.BytesIO()
        try:
            joblib.dump(model, buf)
        except Exception as exc:
            raise _refused(f"joblib cannot serialize the model of type {_type_name(model)}: {exc}",
                           exc) from None
        return SerializedModel(buf.getvalue())
    if fmt == "pickle":
        try:
            return SerializedModel(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:
            raise _refused(f"pickle cannot serialize the model of type {_type_name(model)}: {exc}",
                           exc) from None
    raise ArtifactError(f"unknown serializer {fmt!r}: expected one of {', '.join(FORMATS)}")


def deserialize_model(data: bytes | Path, fmt: str, trusted: Sequence[Any] | None) -> Any:
    """Rebuild a model from verified bytes (or a file only this process can write). ``trusted``
    is passed to skops as is; pickle-family formats must have been allowed by the caller."""
    if isinstance(data, Path) and fmt != "skops":
        data = data.read_bytes()
    if fmt == "skops":
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        trust = list(trusted) if trusted else None
        try:
            if isinstance(data, Path):
                return sio.load(data, trusted=trust)
            return sio.loads(data, trusted=trust)
        except UntrustedTypesFoundException:
            allowed = {t if isinstance(t, str) else _qualname(t) for t in trusted or ()}
            missing = [t for t in skops_untrusted_types(data) if t not in allowed]
            raise UntrustedTypesError(missing) from None
    assert isinstance(data, bytes)
    if fmt == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if fmt == "pickle":
        return pickle.loads(data)  # the caller opted in (loader.load)
    raise ArtifactError(f"unknown model format {fmt!r}: expected one of {', '.join(FORMATS)}")


class UntrustedTypesError(ArtifactError):
    """The skops file holds types outside skops' defaults that the caller did not trust."""

    def __init__(self, types: Sequence[str]) -> None:
        self.types = list(types)
        super().__init__(f"the model contains types outside skops' trusted defaults: "
                         f"{', '.join(self.types)}")


def _qualname(t: Any) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def skops_untrusted_types(data: bytes | Path) -> list[str]:
    """Types in a skops file outside skops' default trusted set."""
    import skops.io as sio

    if isinstance(data, Path):
        return list(sio.get_untrusted_types(file=data))
    return list(sio.get_untrusted_types(data=data))


def _type_name(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _skops_refused(model: Any, exc: BaseException) -> ArtifactError:
    return _refused(
        f"skops cannot serialize the model of type {_type_name(model)} ({type(exc).__name__}: "
        f"{exc}). Make the model "
        "out of importable, module-level classes and functions (no lambdas, local classes, "
        "generators or open handles), or opt in to pickle-based formats, which run code when "
        "loaded, with `mlgate_allow_pickle = true` in the ini file.", exc)


def _check_skops_round_trip(model: Any, data: bytes) -> tuple[str, ...]:
    """skops writes lambdas and local classes by name and only fails when loading; load the
    bytes back here, trusting the types of this very process, so such models fail at staging.
    Returns those types (sorted): the ones a consumer will be asked to trust."""
    import skops.io as sio

    try:
        types = tuple(sorted(sio.get_untrusted_types(data=data)))
        sio.loads(data, trusted=list(types))
    except Exception as exc:
        raise _skops_refused(model, exc) from None
    return types


def canonical_skops(raw: bytes) -> bytes:
    """Rewrite a skops zip deterministically: object ids and member names numbered in schema
    order, fixed timestamps, stored (uncompressed) members. Returns ``raw`` unchanged when the
    layout is not the one understood here (a future skops), so correctness never depends on it."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zin:
        names = set(zin.namelist())
        if "schema.json" not in names:
            return raw
        schema = json.loads(zin.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                        node[key] = ids.setdefault(value, len(ids) + 1)
                    elif key == "file" and isinstance(value, str):
                        suffix = value[value.rfind("."):] if "." in value else ""
                        node[key] = files.setdefault(value, f"{len(files)}{suffix}")
                    else:
                        walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(schema)
        if set(files) != names - {"schema.json"}:
            return raw
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zout:
            for old, new in files.items():
                zout.writestr(_zinfo(new), zin.read(old))
            # skops's own file, in skops's own encoding (it writes a NaN parameter as NaN).
            zout.writestr(_zinfo("schema.json"), json.dumps(schema, indent=2))
    return out.getvalue()


def _zinfo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


# -- examples ----------------------------------------------------------------------------------
def encode_example(example: Any) -> tuple[str, bytes, dict[str, Any]]:
    """``(file name, bytes, input signature)`` for up to EXAMPLE_MAX_ROWS rows of ``example``."""
    import pandas as pd

    if isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        frame = example.iloc[:EXAMPLE_MAX_ROWS]
        columns = []
        for col in frame.columns:
            if not isinstance(col, str):
                raise ArtifactError(f"example column {col!r} is not a string; name DataFrame "
                                    "columns with strings so the signature can be stored as JSON.")
            columns.append({"name": col, "dtype": str(frame[col].dtype)})
        payload = {
            "kind": "dataframe",
            "columns": columns,
            "index": [json_value(v) for v in frame.index.tolist()],
            "data": {c["name"]: _column_values(frame[c["name"]]) for c in columns},
        }
        # Column order is the frame's: no key sorting. A missing cell is null (see _json_value).
        text = dumps(payload, indent=1, sort_keys=False) + "\n"
        signature = {"kind": "dataframe", "columns": columns, "rows": int(frame.shape[0])}
        return "example.json", text.encode("utf-8"), signature
    arr = np.asarray(example)
    if arr.dtype.hasobject:
        raise ArtifactError(f"example of type {type(example).__name__} has object dtype, which "
                            "cannot be stored without pickle; pass a DataFrame or a numeric array.")
    if arr.ndim == 0:
        raise ArtifactError("example is a scalar; pass a few input rows (DataFrame or array).")
    arr = arr[:EXAMPLE_MAX_ROWS]
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    signature = {"kind": "ndarray", "dtype": str(arr.dtype), "shape": [None, *arr.shape[1:]],
                 "rows": int(arr.shape[0])}
    return "example.npy", buf.getvalue(), signature


def decode_example(name: str, data: bytes) -> Any:
    """Inverse of encode_example: a DataFrame with the stored dtypes, or an array."""
    if name.endswith(".npy"):
        return np.load(io.BytesIO(data), allow_pickle=False)
    import pandas as pd

    payload = json.loads(data)
    # The columns must carry the stored index themselves: a frame built from series with a
    # default index and an explicit other index would align them into NaN.
    index = pd.Index(payload["index"]) if payload.get("index") else None
    frame = pd.DataFrame(
        {c["name"]: pd.Series(payload["data"][c["name"]], dtype=_restore_dtype(c["dtype"]), index=index)
         for c in payload["columns"]},
        index=index,
    )
    for c in payload["columns"]:
        if str(frame[c["name"]].dtype) != c["dtype"]:
            frame[c["name"]] = frame[c["name"]].astype(c["dtype"])
    return frame


def _restore_dtype(dtype: str) -> Any:
    # Object columns hold Python strings and None; let pandas infer and cast afterwards.
    return None if dtype in ("object", "category") or dtype.startswith("datetime") else dtype


def _column_values(series: Any) -> list[Any]:
    kind = series.dtype.kind
    if kind in "iub":
        return [json_value(v) for v in series.tolist()]
    if kind == "f":
        return [None if math.isnan(v) else v for v in series.astype("float64").tolist()]
    if kind in "mM":
        return [None if v is None or v != v else str(v) for v in series.astype("string").tolist()]
    return [json_value(v) for v in series.astype(object).tolist()]


def json_value(v: Any) -> Any:
    # The example holds the user's data, not readings: a NaN there is a missing cell, which is
    # null (pandas reads it back as missing), not the "nan" of a reading (strict_json).
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, (np.integer, np.bool_)):
        return v.item()
    if isinstance(v, np.floating):
        return None if math.isnan(float(v)) else float(v)
    try:
        if v != v:  # pandas NA, NaT
            return None
    except (TypeError, ValueError):
        return None
    return str(v)


def encode_outputs(predictions: Any) -> dict[str, Any]:
    """Predictions on the example as JSON (exact for numbers), with their dtype and shape."""
    arr = np.asarray(predictions)
    values = arr.tolist() if not arr.dtype.hasobject else [json_value(v) for v in arr.ravel()]
    if arr.dtype.kind == "f":
        values = _nan_to_none(values)
    return {"dtype": str(arr.dtype), "shape": [None, *arr.shape[1:]], "values": values}


def _nan_to_none(values: Any) -> Any:
    if isinstance(values, list):
        return [_nan_to_none(v) for v in values]
    return None if isinstance(values, float) and math.isnan(values) else values


def same_outputs(stored: dict[str, Any], predictions: Any) -> bool:
    """Whether ``predictions`` equal the stored ones exactly (NaN equal to NaN)."""
    return bool(encode_outputs(predictions)["values"] == stored.get("values"))
