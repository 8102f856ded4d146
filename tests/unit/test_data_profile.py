"""profile(): a compact, JSON round-trippable summary of a reference frame."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, load_iris

from pytest_mlgate import profile as lazy_profile
from pytest_mlgate.errors import DataError
from pytest_mlgate.fingerprints import fingerprint
from pytest_mlgate.profiles import Profile, profile


def iris_frame() -> pd.DataFrame:
    d = load_iris(as_frame=True)
    f = d.frame.copy()
    f["species"] = pd.Categorical.from_codes(d.target, d.target_names)
    return f.drop(columns="target")


def test_profile_summarises_each_column() -> None:
    f = iris_frame()
    f.loc[::10, "sepal width (cm)"] = np.nan
    p = lazy_profile(f, bins=10)
    assert p.n_rows == 150 and p.names == [str(c) for c in f.columns]
    assert p.fingerprint == fingerprint(f)
    sw = p.column("sepal width (cm)")
    assert sw.kind == "numeric" and sw.n_missing == 15 and sw.missing_rate == pytest.approx(0.1)
    assert sum(sw.hist_counts) == 135 and len(sw.hist_edges) == 11
    assert sw.mean == pytest.approx(f["sepal width (cm)"].mean())
    sp = p.column("species")
    assert sp.kind == "categorical"
    assert dict(zip(sp.categories, sp.counts, strict=True)) == {
        "setosa": 50, "versicolor": 50, "virginica": 50}


def test_many_distinct_values_keep_quantiles_few_keep_exact_counts() -> None:
    X = load_diabetes(as_frame=True, scaled=False).data
    p = profile(X)
    sex = p.column("sex")  # two values: stored exactly
    assert sex.exact and len(sex.values) == 2 and sum(sex.counts) == len(X)
    rng = np.random.default_rng(0)
    big = profile(pd.DataFrame({"x": rng.normal(size=20_000)}))
    x = big.column("x")
    assert not x.exact and 1001 <= len(x.knots) <= 4096
    # Knots are observed values with exact counts: the one at the median has half below it.
    median = x.knots[int(np.searchsorted(np.asarray(x.below), 10_000))]
    assert median == pytest.approx(0.0, abs=0.03)
    assert sum(x.at) <= 20_000 and x.effect_bound is not None and x.effect_bound <= 0.01


def test_json_round_trip_is_strict_json() -> None:
    f = iris_frame()
    f["flag"] = f["petal width (cm)"] > 1.0
    f.loc[0, "petal length (cm)"] = np.inf
    p = profile(f)
    text = json.dumps(p.to_json(), allow_nan=False)
    back = Profile.from_json(json.loads(text))
    assert back == p


def test_bad_input() -> None:
    with pytest.raises(DataError, match="empty"):
        profile(iris_frame().iloc[:0])
    with pytest.raises(DataError, match="DataFrame"):
        profile(np.zeros((3, 2)))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="mixes value types"):
        profile(pd.DataFrame({"x": pd.Series([1, "a", 2.5], dtype=object)}))
    with pytest.raises(DataError, match="not an mlgate profile"):
        Profile.from_json({"columns": []})


_columns = st.one_of(
    st.tuples(st.just("normal"), st.integers(1, 2000)),
    st.tuples(st.just("ints"), st.integers(1, 2000)),
    st.tuples(st.just("heavy"), st.integers(1, 2000)),
    st.tuples(st.just("text"), st.integers(1, 8)),
)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(n=st.integers(1, 1500), kinds=st.lists(_columns, min_size=1, max_size=3),
       missing=st.floats(0.0, 1.0), infinite=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_every_profile_written_is_read_back_by_the_api_and_the_cli(  # type: ignore[no-untyped-def]
        tmp_path_factory, n, kinds, missing, infinite, seed) -> None:
    from pytest_mlgate.cli.drift import load_profile

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i, (kind, k) in enumerate(kinds):
        if kind == "normal":
            v = rng.normal(size=n)
        elif kind == "ints":
            v = rng.integers(0, k, size=n).astype(float)
        elif kind == "heavy":
            v = rng.pareto(1.5, size=n)
        else:
            v = rng.choice([f"c{j}" for j in range(k)], size=n).astype(object)
        v[rng.random(n) < missing * 0.5] = np.nan if kind != "text" else None
        if infinite and kind != "text":
            v[0] = np.inf
        cols[f"{kind}{i}"] = v
    p = profile(pd.DataFrame(cols))
    path = tmp_path_factory.mktemp("p") / "profile.json"
    path.write_text(json.dumps(p.to_json(), allow_nan=False))
    assert Profile.from_json(json.loads(path.read_text())) == p
    assert load_profile(str(path)) == p
