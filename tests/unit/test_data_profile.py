"""profile(): a compact, JSON round-trippable summary of a reference frame."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
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
