"""fingerprint(): equal content hashes equal, any change of value, dtype, name or index does not."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from pytest_mlgate import fingerprints as data_mod
from pytest_mlgate.errors import DataError
from pytest_mlgate.fingerprints import fingerprint


def fixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([31, 45, 27], dtype=np.int64),
            "income": [52000.5, np.nan, 61000.0],
            "city": ["Oslo", None, "Lyon"],
            "plan": pd.Categorical(["a", "b", "a"], categories=["a", "b", "c"]),
            "active": [True, False, True],
            "since": pd.to_datetime(["2020-01-01", "2021-06-15", None]),
        },
        index=pd.Index([10, 20, 40], name="id"),
    )


# Computed once with pandas 3.1 / numpy 2.4. If a pandas or numpy upgrade changes it, stored
# fingerprints in baselines and manifests would stop matching: that is a bug in fingerprints.py.
KNOWN = "sha256:2849876d174ae1e5e8efb9ed618647e80e7770fb24a7db62b6c3517220694352"


def test_known_digest_is_stable_across_library_versions() -> None:
    assert fingerprint(fixed_frame()) == KNOWN


def test_format_and_determinism() -> None:
    fp = fingerprint(fixed_frame())
    assert fp.startswith("sha256:") and len(fp) == len("sha256:") + 64
    assert fingerprint(fixed_frame()) == fp
    assert fingerprint(fixed_frame().copy(deep=True)) == fp


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(age=f["age"].where(f["age"] != 45, 46)),
        lambda f: f.assign(age=f["age"].astype(np.int32)),
        lambda f: f.assign(income=f["income"].fillna(0.0)),
        lambda f: f.rename(columns={"city": "town"}),
        lambda f: f[["income", "age", "city", "plan", "active", "since"]],
        lambda f: f.set_axis(pd.Index([10, 20, 41], name="id")),
        lambda f: f.rename_axis("key"),
        lambda f: f.assign(plan=f["plan"].cat.set_categories(["a", "b"])),
        lambda f: f.assign(city=f["city"].fillna("")),
        lambda f: f.iloc[:2],
    ],
    ids=["value", "dtype", "missing", "column-name", "column-order", "index", "index-name",
         "categories", "missing-vs-empty-text", "rows"],
)
def test_any_change_changes_the_fingerprint(change) -> None:  # type: ignore[no-untyped-def]
    assert fingerprint(change(fixed_frame())) != fingerprint(fixed_frame())


def test_representation_does_not_matter() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    base = fingerprint((X, y))
    # an int64 index in arithmetic progression hashes like the RangeIndex pandas may return
    assert fingerprint((X.set_axis(pd.Index(np.arange(len(X)))), y)) == base
    # text as object dtype (pandas 2) or str dtype (pandas 3) is the same content
    f = fixed_frame()
    assert fingerprint(f.assign(city=f["city"].astype(object))) == fingerprint(f)
    # datetimes parsed at us (pandas 3) or ns (pandas 2) resolution
    assert fingerprint(f.assign(since=f["since"].astype("datetime64[ns]"))) == fingerprint(f)
    # memory layout and NaN bit patterns are not content
    a = np.asfortranarray(X.to_numpy())
    assert fingerprint(a) == fingerprint(np.ascontiguousarray(a))
    odd_nan = np.array([1.0, np.nan, 2.0])
    odd_nan.view(np.uint64)[1] |= np.uint64(0x1234)
    assert np.isnan(odd_nan[1])
    assert fingerprint(odd_nan) == fingerprint(np.array([1.0, np.nan, 2.0]))
    # byte order is not content either
    assert fingerprint(np.arange(5, dtype=">i8")) == fingerprint(np.arange(5, dtype="<i8"))


def test_arrays_series_and_sequences_are_distinguished() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    assert fingerprint((X, y)) != fingerprint((X, y.rename("other")))
    assert fingerprint(X.to_numpy()) != fingerprint(X)
    assert fingerprint(np.arange(3)) != fingerprint(np.arange(3).reshape(3, 1))
    assert fingerprint({"train": X, "test": y}) == fingerprint({"test": y, "train": X})


def test_large_frame_hashes_in_parallel_to_the_same_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    big = pd.DataFrame(rng.random((600_000, 8)))  # 38 MB: above the threaded cut-off
    parallel = fingerprint(big)
    monkeypatch.setattr(data_mod, "_PARALLEL_MIN_BYTES", 1 << 62)
    assert fingerprint(big) == parallel
    big.iloc[599_999, 7] = 0.5
    assert fingerprint(big) != parallel


def test_files_and_bytes_hash_like_sha256sum(tmp_path) -> None:  # type: ignore[no-untyped-def]
    payload = b"a,b\n1,2\n"
    p = tmp_path / "d.csv"
    p.write_bytes(payload)
    expected = "sha256:" + hashlib.sha256(payload).hexdigest()
    assert fingerprint(p) == expected
    assert fingerprint(str(p)) == expected
    assert fingerprint(payload) == expected
    p.write_bytes(payload + b"3,4\n")
    assert fingerprint(p) != expected


def test_bad_input_raises_data_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="not an existing file"):
        fingerprint(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="directory"):
        fingerprint(tmp_path)
    with pytest.raises(DataError, match="cannot hash an object of type"):
        fingerprint(object())
    with pytest.raises(DataError, match="holds a value of type"):
        fingerprint(pd.Series([1, object()], dtype=object))
    with pytest.raises(DataError, match="structured"):
        fingerprint(np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]))
