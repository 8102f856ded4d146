"""Invariance, directional and determinism checks on real scikit-learn models."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression

from pytest_mlgate.behaviour import (
    check_deterministic,
    check_directional,
    check_invariant,
    clopper_pearson,
)
from pytest_mlgate.errors import BehaviourError, ModelError


@pytest.fixture(scope="module")
def cancer() -> tuple[RandomForestClassifier, pd.DataFrame]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return RandomForestClassifier(n_estimators=25, random_state=0).fit(X, y), X


@pytest.fixture(scope="module")
def diabetes() -> tuple[LinearRegression, pd.DataFrame]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return LinearRegression().fit(X, y), X


def test_invariance_passes_for_an_irrelevant_perturbation(cancer) -> None:  # type: ignore[no-untyped-def]
    model, X = cancer

    def tiny_noise(frame: pd.DataFrame) -> None:  # edits the copy in place
        frame["mean fractal dimension"] *= 1.0001

    r = check_invariant(model, X, tiny_noise)
    assert r.passed and r.n == 569 and r.n_violations == 0
    assert r.upper_bound == pytest.approx(1 - 0.05 ** (1 / 569))
    r.raise_if_failed()
    m = r.measurement()
    assert m.name == "invariance_violation_rate" and m.high == r.upper_bound and m.n == 569


def test_invariance_fails_and_shows_the_rows_that_changed(cancer) -> None:  # type: ignore[no-untyped-def]
    model, X = cancer

    def scale_size(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{"worst radius": frame["worst radius"] * 1.5,
                               "worst area": frame["worst area"] * 2.0})

    r = check_invariant(model, X, scale_size, method="predict_proba", atol=0.05)
    assert not r.passed and r.n_violations > 5 and r.upper_bound > 0.01
    assert "scale_size" in r.message and "rows that changed the most" in r.message
    changes = r.worst_rows["change"].tolist()
    assert changes == sorted(changes, reverse=True) and changes[0] > 0.05
    assert set(r.worst_rows["row"]) <= set(X.index)
    with pytest.raises(AssertionError, match="upper bound of the violation rate"):
        r.raise_if_failed()


def test_too_few_rows_cannot_pass_and_the_message_says_why(cancer) -> None:  # type: ignore[no-untyped-def]
    model, X = cancer
    r = check_invariant(model, X.iloc[:100], lambda f: f)
    assert not r.passed and r.n_violations == 0
    assert "use at least 299 rows" in r.message


def test_directional_expectations_of_a_linear_model(diabetes) -> None:  # type: ignore[no-untyped-def]
    model, X = diabetes
    assert model.coef_[list(X.columns).index("bmi")] > 0

    def heavier(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(bmi=frame["bmi"] + 0.02)

    up = check_directional(model, X, heavier, "increase")
    assert up.passed and up.n_violations == 0
    down = check_directional(model, X, heavier, "decrease")
    assert not down.passed and down.n_violations == len(X)
    assert down.measurement().name == "directional_violation_rate"
    assert check_directional(model, X, lambda f: f, "non_decreasing").passed
    assert not check_directional(model, X, lambda f: f, "increase").passed


def test_directional_on_probabilities(cancer) -> None:  # type: ignore[no-untyped-def]
    model, X = cancer

    def bigger(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{"worst area": frame["worst area"] * 3})

    # class 1 is benign: much larger tumours must not look more benign
    r = check_directional(model, X, bigger, "non_increasing", method="predict_proba",
                          max_rate=0.05)
    assert r.passed, r.message


def test_determinism() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    fixed = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    assert check_deterministic(fixed, X, repeats=3).passed
    coin = DummyClassifier(strategy="uniform").fit(X, y)  # draws fresh labels on every call
    r = check_deterministic(coin, X)
    assert not r.passed and r.n_violations > 100
    assert "differed between 2 identical calls" in r.message


def test_clopper_pearson_bounds() -> None:
    lo, hi = clopper_pearson(0, 300, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.05 ** (1 / 300))
    lo, hi = clopper_pearson(10, 100, 0.95)
    assert 0.05 < lo < 0.1 < hi < 0.17


def test_misuse_raises_clear_errors(cancer) -> None:  # type: ignore[no-untyped-def]
    model, X = cancer
    with pytest.raises(BehaviourError, match="changed the shape of X from \\(569, 30\\)"):
        check_invariant(model, X, lambda f: f.iloc[:-1])
    with pytest.raises(BehaviourError, match="changed the shape"):
        check_invariant(model, X.to_numpy(), lambda a: a[:, :-1])
    with pytest.raises(BehaviourError, match="changed the columns"):
        check_invariant(model, X, lambda f: f.rename(columns={"mean area": "area"}))
    with pytest.raises(BehaviourError, match="direction must be one of"):
        check_directional(model, X, lambda f: f, "up")  # type: ignore[arg-type]
    with pytest.raises(BehaviourError, match="no rows"):
        check_invariant(model, X.iloc[:0], lambda f: f)
    with pytest.raises(ModelError, match="no method 'predict_log_odds'"):
        check_invariant(model, X, lambda f: f, method="predict_log_odds")
    with pytest.raises(BehaviourError, match="max_rate"):
        check_invariant(model, X, lambda f: f, max_rate=1.5)
    with pytest.raises(BehaviourError, match="repeats"):
        check_deterministic(model, X, repeats=1)
    # apply() gives one leaf index per tree: the check cannot guess which column to watch
    with pytest.raises(BehaviourError, match=r"returns 25 columns; choose .* output="):
        check_directional(model, X, lambda f: f, "increase", method="apply")
