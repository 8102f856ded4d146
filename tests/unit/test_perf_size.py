"""measure_size: serialized model size in MiB, skops first, pickle as the fallback."""

from __future__ import annotations

import array
import pickle

import pytest
import skops.io
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.errors import ArtifactError
from pytest_mlgate.perf import measure_size


def test_size_is_the_skops_serialized_size_in_mib() -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    m = measure_size(model)
    assert m.name == "model_size_mb"
    assert m.info["format"] == "skops"
    assert m.info["bytes"] == len(skops.io.dumps(model))
    assert m.value == pytest.approx(m.info["bytes"] / 2**20)


def test_bigger_forest_reads_bigger() -> None:
    X, y = load_digits(return_X_y=True)
    small = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    large = RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)
    assert measure_size(large).value > 5 * measure_size(small).value


def test_pickle_fallback_is_said_and_can_be_refused() -> None:
    obj = array.array("d", range(1000))  # skops cannot serialize array.array; pickle can
    m = measure_size(obj)
    assert m.info["format"] == "pickle"
    assert m.info["bytes"] == len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(ArtifactError, match="allow_pickle=True"):
        measure_size(obj, allow_pickle=False)


def test_unserializable_object_is_a_clear_error() -> None:
    with pytest.raises(ArtifactError, match=r"neither by skops.*nor by pickle"):
        measure_size(x for x in range(3))
