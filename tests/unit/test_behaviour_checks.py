"""Invariance, directional and determinism checks on real scikit-learn models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

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


# -- models that predict strings, on frames with categorical columns ----------------------------

def _survey_frame() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Iris as a survey: two string-valued columns (a category and an object column), rows
    labelled r0..r149, and the species as string labels."""
    data = load_iris(as_frame=True)
    X = data.data.copy()
    X["size"] = pd.cut(X["petal length (cm)"], 3, labels=["small", "medium", "large"])
    X["colour"] = np.where(X["sepal width (cm)"] > 3, "blue", "red").astype(object)
    X.index = pd.Index([f"r{i}" for i in range(len(X))])
    return X, np.asarray(data.target_names, dtype=object)[data.target]


def _survey_model() -> Pipeline:
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["size", "colour"]),
                                     remainder="passthrough")
    return make_pipeline(encode, LogisticRegression(max_iter=2000))


LABELS = {
    "object array": lambda y: y,
    "str array": lambda y: y.astype(str),
    "list": lambda y: list(y),
    "object series": lambda y: pd.Series(y, dtype=object),
    "string series": lambda y: pd.Series(y, dtype="string"),
    "category series": lambda y: pd.Series(y, dtype="category"),
}


def _shrink_petals(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{"petal length (cm)": frame["petal length (cm)"] * 0.7})


@pytest.mark.parametrize("labels", list(LABELS))
def test_invariance_on_a_model_predicting_strings(labels: str) -> None:
    X, y = _survey_frame()
    model = _survey_model().fit(X, LABELS[labels](y))
    before, after = model.predict(X), model.predict(_shrink_petals(X))
    changed = np.flatnonzero(np.asarray(before != after))
    assert 5 < len(changed) < len(X), "the perturbation must change some predictions, not all"

    r = check_invariant(model, X, _shrink_petals)
    assert not r.passed and r.n_violations == len(changed)
    rows = r.worst_rows
    assert set(rows["row"]) <= {X.index[i] for i in changed}
    for label, b, a in zip(rows["row"], rows["before"], rows["after"], strict=True):
        i = X.index.get_loc(label)
        assert (b, a) == (str(before[i]), str(after[i])) and b != a
    assert str(rows["before"].iloc[0]) in r.message and rows["row"].iloc[0] in r.message

    assert check_invariant(model, X, lambda f: f, max_rate=0.05).passed


def test_determinism_of_a_model_drawing_string_labels() -> None:
    X, y = _survey_frame()
    coin = DummyClassifier(strategy="uniform", random_state=None).fit(X, pd.Series(y, dtype="string"))
    r = check_deterministic(coin, X, repeats=3)
    assert not r.passed and r.n_violations > 50
    assert set(r.worst_rows["before"]) <= {"setosa", "versicolor", "virginica"}
    fixed = DummyClassifier(strategy="most_frequent").fit(X, y)
    assert check_deterministic(fixed, X).passed


def test_invariance_of_a_multi_output_model_with_string_labels() -> None:
    X, species = _survey_frame()
    long = np.where(X["sepal length (cm)"] > 5.8, "long", "short").astype(object)
    model = make_pipeline(_survey_model()[0], MultiOutputClassifier(LogisticRegression(max_iter=2000)))
    model.fit(X, np.column_stack([species, long]))
    before, after = model.predict(X), model.predict(_shrink_petals(X))
    changed = (before != after).any(axis=1)
    r = check_invariant(model, X, _shrink_petals)
    assert r.n_violations == int(changed.sum()) > 0
    first = r.worst_rows.iloc[0]
    i = X.index.get_loc(first["row"])
    assert first["before"] == list(before[i]) and first["after"] == list(after[i])


class _Rules:
    """A rules model as teams write them: pandas in, pandas out, missing where it cannot say."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def predict(self, X: pd.DataFrame) -> pd.Series:
        length = X["petal length (cm)"]
        if self.dtype == "string":
            out = pd.Series(np.where(length > 4.5, "big", "small"), index=X.index, dtype="string")
        else:
            out = pd.Series(length * 2, index=X.index, dtype="Float64")
        out[X["colour"] == "blue"] = pd.NA  # no opinion on blue flowers
        return out


def test_missing_labels_equal_themselves_missing_numbers_never_pass() -> None:
    X, _ = _survey_frame()
    blue = int((X["colour"] == "blue").sum())
    assert 0 < blue < len(X)
    assert check_deterministic(_Rules("string"), X).passed, "<NA> twice is the same answer"
    r = check_invariant(_Rules("string"), X, _shrink_petals)
    big = X["petal length (cm)"] > 4.5
    flips = int((big & (X["petal length (cm)"] * 0.7 <= 4.5) & (X["colour"] != "blue")).sum())
    assert r.n_violations == flips > 0

    longer = check_directional(_Rules("float"), X, lambda f: f.assign(**{"petal length (cm)": f["petal length (cm)"] + 1}),
                               "increase")
    assert longer.n_violations == blue, "a row with no prediction did not increase"
    assert longer.worst_rows["row"].iloc[0] in set(X.index[X["colour"] == "blue"])
    # A missing *number* (pd.NA in a Float64 output) is no answer, not "the same answer".
    again = check_deterministic(_Rules("float"), X)
    assert not again.passed and again.n_violations == blue
    assert f"gave no answer ({blue} row(s)" in again.message


class _NaNModel:
    """Predicts NaN, and NaN probabilities, on every row: it answers nothing."""

    def __init__(self, rows: slice | None = None) -> None:
        self.rows = rows

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        out = X["a"].to_numpy(dtype=float) % 2
        out[self.rows if self.rows is not None else slice(None)] = np.nan
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.c_[self.predict(X), 1 - self.predict(X)]
        return p


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_a_model_answering_nan_on_every_row_fails_every_check(method: str) -> None:
    # It passed invariance and determinism with 0 violations: NaN compared equal to NaN.
    X = pd.DataFrame({"a": np.arange(400.0), "b": np.arange(400.0)})
    model = _NaNModel()
    inv = check_invariant(model, X, lambda f: f.assign(b=0.0), method=method)
    assert not inv.passed and inv.n_violations == 400, inv.message
    assert "gave no answer (400 row(s) with a NaN, infinite or missing output" in inv.message
    det = check_deterministic(model, X, method=method)
    assert not det.passed and det.n_violations == 400
    out = 1 if method == "predict_proba" else None
    direc = check_directional(model, X, lambda f: f.assign(b=f.b + 1), "non_decreasing",
                              method=method, output=out)
    assert not direc.passed and direc.n_violations == 400


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(n=st.integers(300, 600), share=st.floats(0.0, 1.0), inf=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_every_row_without_a_finite_answer_is_counted_as_a_violation(
        n: int, share: float, inf: bool, seed: int) -> None:
    # Truth by construction: the model is invariant and deterministic except that it answers
    # NaN (or an infinity) on a known set of rows; exactly those rows violate.
    rng = np.random.default_rng(seed)
    bad = np.flatnonzero(rng.random(n) < share)
    X = pd.DataFrame({"a": np.arange(float(n)), "b": np.zeros(n)})

    class Holes:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            out = frame["a"].to_numpy(dtype=float) * 2.0
            out[bad] = np.inf if inf else np.nan
            return out

    for r in (check_invariant(Holes(), X, lambda f: f.assign(b=1.0)),
              check_deterministic(Holes(), X)):
        assert r.n_violations == bad.size
        assert r.passed == (bad.size == 0 if r.kind == "determinism" else r.upper_bound <= 0.01)


def test_directional_checks_on_string_labels_say_what_to_use() -> None:
    X, y = _survey_frame()
    model = _survey_model().fit(X, y)
    with pytest.raises(BehaviourError, match="directional checks need numbers"):
        check_directional(model, X, _shrink_petals, "increase")
    virginica = list(model.classes_).index("virginica")
    r = check_directional(model, X, lambda f: f.assign(**{"petal length (cm)": f["petal length (cm)"] * 1.2}),
                          "non_decreasing", method="predict_proba", output=virginica, max_rate=0.05)
    assert r.passed, r.message


def test_perturbations_must_keep_rows_in_place() -> None:
    X, y = _survey_frame()
    model = _survey_model().fit(X, y)
    with pytest.raises(BehaviourError, match="reordered the rows of X"):
        check_invariant(model, X, lambda f: f.sample(frac=1.0, random_state=0))
    # Rebuilt with a fresh index the rows are still in place: compared by position, shown by label.
    rebuilt = check_invariant(model, X, lambda f: _shrink_petals(f).reset_index(drop=True))
    assert rebuilt.n_violations == check_invariant(model, X, _shrink_petals).n_violations
    assert set(rebuilt.worst_rows["row"]) <= set(X.index)
