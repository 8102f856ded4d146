"""evaluate() on scikit-learn's bundled data sets: values match sklearn's scorers, intervals
come from the right method, the model is called once per output, and bad input is refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from pytest_mlgate.errors import DataError, ModelError, UnknownMetricError
from pytest_mlgate.stats.evaluation import evaluate
from pytest_mlgate.stats.slices import holm, slice_threshold_verdicts


@pytest.fixture(scope="module")
def cancer() -> tuple[Any, pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xtr, ytr)
    return model, Xte, yte


class Counting:
    """A real fitted model whose method calls are counted."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = model.classes_
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def predict(self, X: Any) -> Any:
        self._count("predict")
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> Any:
        self._count("predict_proba")
        return self.model.predict_proba(X)


CLASSIFICATION = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "f1_macro",
    "roc_auc",
    "average_precision",
    "neg_log_loss",
    "neg_brier_score",
    "roc_auc_ovr",
    "matthews_corrcoef",
]


def test_breast_cancer_pipeline_matches_sklearn(cancer: Any) -> None:
    model, X, y = cancer
    counted = Counting(model)
    res = evaluate(counted, X, y, [*CLASSIFICATION, "log_loss", "brier_score"], seed=1)
    assert counted.calls == {"predict": 1, "predict_proba": 1}
    for name in CLASSIFICATION:
        m = res.get(name)
        assert m.value == pytest.approx(get_scorer(name)(model, X, y), abs=1e-12), name
        assert m.low is not None and m.high is not None
        assert m.low <= m.value <= m.high, name
        assert m.n == len(y) and m.level == 0.95
        assert m.info["fingerprint"] == res.fingerprint
    assert res.get("log_loss").value == pytest.approx(-res.get("neg_log_loss").value)
    assert res.get("log_loss").info["direction"] == "lower"
    assert res.get("neg_log_loss").info["direction"] == "higher"
    methods = {m.name: m.method for m in res.measurements}
    assert methods["accuracy"] == methods["precision"] == methods["recall"] == "wilson"
    assert methods["roc_auc"] == "delong"
    assert methods["f1"] == "multinomial-bootstrap"
    # The held-out log losses are skewed by a few confident mistakes (Cochran's rule fails at
    # this size), so the interval is the studentized bootstrap, not the t interval.
    assert methods["neg_log_loss"] == "bootstrap-t"
    acc = res.get("accuracy")
    assert acc.info["trials"] == len(y)
    prec = res.get("precision")
    # Precision's denominator is the predicted positives, not every row.
    assert prec.info["trials"] == int((model.predict(X) == 1).sum())
    assert set(res.samples) == {m.name for m in res.measurements}
    assert res.samples["accuracy"]["y_true"].dtype == np.int16
    assert res.samples["roc_auc"]["score"].dtype == np.float64


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_numpy_and_pandas_give_same_values_and_level_is_used(cancer: Any) -> None:
    model, X, y = cancer
    a = evaluate(model, X, y, ["accuracy", "f1"], seed=3)
    b = evaluate(model, X.to_numpy(), y.to_numpy(), ["accuracy", "f1"], seed=3)
    assert a.get("accuracy").value == b.get("accuracy").value
    assert a.get("f1").low == b.get("f1").low  # same seed, same resamples
    c = evaluate(model, X, y, ["accuracy"], level=0.80)
    assert (
        c.get("accuracy").high - c.get("accuracy").low
        < a.get("accuracy").high - a.get("accuracy").low
    )
    d = evaluate(model, X, y, ["f1"], seed=4)
    assert d.get("f1").low != a.get("f1").low


def test_diabetes_regression_and_aliases() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge(alpha=0.1).fit(X[::2], y[::2])
    Xte, yte = X[1::2], y[1::2]
    res = evaluate(
        model,
        Xte,
        yte,
        ["r2", "neg_mean_squared_error", "mse", "rmse", "mae", "neg_median_absolute_error"],
        n_boot=300,
    )
    assert res.get("r2").value == pytest.approx(get_scorer("r2")(model, Xte, yte), abs=1e-12)
    mse = res.get("mse")
    assert mse.value == pytest.approx(-res.get("neg_mean_squared_error").value)
    assert mse.info["direction"] == "lower" and mse.method in ("t", "bootstrap-t")
    assert res.get("rmse").value == pytest.approx(np.sqrt(mse.value))
    assert mse.low < mse.value < mse.high
    assert res.get("neg_median_absolute_error").value == pytest.approx(
        get_scorer("neg_median_absolute_error")(model, Xte, yte)
    )


def test_multiclass_iris_and_sample_weight() -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    w = np.where(y[1::2] == 2, 2.0, 1.0)
    res = evaluate(
        model,
        X[1::2],
        y[1::2],
        ["accuracy", "f1_macro", "roc_auc_ovr"],
        sample_weight=w,
        n_boot=200,
    )
    from sklearn.metrics import accuracy_score, f1_score

    pred = model.predict(X[1::2])
    assert res.get("accuracy").value == pytest.approx(
        accuracy_score(y[1::2], pred, sample_weight=w)
    )
    assert res.get("f1_macro").value == pytest.approx(
        f1_score(y[1::2], pred, average="macro", sample_weight=w)
    )
    assert res.get("accuracy").method == "bootstrap"  # weighted proportions are bootstrapped


def test_slices_by_column_and_mask(cancer: Any) -> None:
    model, X, y = cancer
    big = X["mean radius"] > X["mean radius"].median()
    res = evaluate(
        model,
        X,
        y,
        ["accuracy", "roc_auc"],
        slices={
            "large": big.to_numpy(),
            "small": (~big).to_numpy(),
            "tiny": np.arange(len(y)) < 10,
        },
    )
    names = [m.name for m in res.measurements]
    assert "accuracy[large]" in names and "roc_auc[small]" in names
    assert [s["slice"] for s in res.skipped_slices] == ["tiny"]
    assert res.get("accuracy[large]").n == int(big.sum())
    assert res.get("accuracy[large]").info["parent"] == "accuracy"
    worst = res.worst_slice("accuracy")
    assert worst is not None and worst.value == min(m.value for m in res.slices_of("accuracy"))
    Xc = X.assign(group=np.where(big, "a", "b"))
    model2 = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model2.fit(Xc.drop(columns="group"), y)

    class DropGroup:
        classes_ = model2.classes_

        def predict(self, X: pd.DataFrame) -> Any:
            return model2.predict(X.drop(columns="group"))

    r2 = evaluate(DropGroup(), Xc, y, ["accuracy"], slices="group", min_slice_size=10)
    assert {m.info.get("slice") for m in r2.slices_of("accuracy")} == {"group=a", "group=b"}


def test_slice_threshold_verdicts_with_holm(cancer: Any) -> None:
    _, X, y = cancer
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y)
    big = (X["mean radius"] > 15).to_numpy()
    res = evaluate(stump, X, y, ["accuracy"], slices={"large": big, "small": ~big})
    verdicts = dict(
        (s, (v, p)) for s, v, p in slice_threshold_verdicts(res, "accuracy", ">=", 0.99)
    )
    # A depth-1 tree is far below 99% on the harder slice: significant even after Holm.
    assert any(v == "fail" for v, _ in verdicts.values())
    easy = slice_threshold_verdicts(res, "accuracy", ">=", 0.5)
    assert all(v == "pass" for _, v, _ in easy)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_champion_comparison_is_paired(cancer: Any) -> None:
    model, X, y = cancer
    weak = make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=1, random_state=0))
    weak.fit(X, y)
    res = evaluate(weak, X, y, ["accuracy", "roc_auc", "f1"], against=model)
    by = {c.metric: c for c in res.comparisons}
    assert by["accuracy"].verdict == "fail" and by["accuracy"].method == "mcnemar-exact"
    assert by["roc_auc"].verdict == "fail" and by["roc_auc"].method == "paired-delong"
    assert by["f1"].method == "paired-multinomial-bootstrap"
    assert all(c.reference == "champion" for c in res.comparisons)
    same = evaluate(model, X, y, ["accuracy"], against=model)
    assert same.comparisons[0].verdict == "pass"
    assert same.comparisons[0].change == 0


def _err(fn: Any, exc: type[Exception], *words: str) -> str:
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    return msg


def test_bad_inputs_have_clear_messages(cancer: Any) -> None:
    model, X, y = cancer
    _err(lambda: evaluate(model, X, y, ["acuracy"]), UnknownMetricError, "'acuracy'", "'accuracy'")
    _err(lambda: evaluate(model, X, y, ["latency_p95_ms"]), UnknownMetricError, "mlgate.record")
    _err(
        lambda: evaluate(model, X, y[:-5], ["accuracy"]),
        DataError,
        f"{len(X)} rows",
        f"{len(X) - 5}",
    )
    y_nan = y.astype(float).copy()
    y_nan.iloc[3] = np.nan
    _err(lambda: evaluate(model, X, y_nan, ["accuracy"]), DataError, "labels y", "row 3")
    svc = make_pipeline(StandardScaler(), SVC()).fit(X, y)
    _err(
        lambda: evaluate(svc, X, y, ["neg_log_loss"]),
        ModelError,
        "'neg_log_loss'",
        "predict_proba",
        "CalibratedClassifierCV",
    )
    assert evaluate(svc, X, y, ["roc_auc"]).get("roc_auc").value > 0.9  # decision_function works
    _err(lambda: evaluate(model, X[y == 1], y[y == 1], ["roc_auc"]), DataError, "only one class")

    class NanModel:
        classes_ = np.array([0, 1])

        def predict_proba(self, X: Any) -> Any:
            p = model.predict_proba(X)
            p[7] = np.nan
            return p

    _err(
        lambda: evaluate(NanModel(), X, y, ["roc_auc"]),
        DataError,
        "NanModel.predict_proba",
        "row 7",
    )
    Xi, yi = load_iris(return_X_y=True)
    lr = LogisticRegression(max_iter=500).fit(Xi, yi)
    _err(lambda: evaluate(lr, Xi, yi, ["f1"]), DataError, "f1_macro")
    _err(lambda: evaluate(lr, Xi, yi, ["roc_auc"]), DataError, "roc_auc_ovr")
    reg = LinearRegression().fit(Xi, yi.astype(float) + 0.5)
    _err(lambda: evaluate(reg, Xi, yi + 0.5, ["accuracy"]), DataError, "continuous")
    _err(lambda: evaluate(model, X, y, ["accuracy"], slices="nope"), DataError, "nope")


class _Proba:
    """A classifier whose predict_proba returns what ``f`` makes of X."""

    classes_ = np.array([0, 1])

    def __init__(self, f: Any) -> None:
        self.f = f

    def predict(self, X: Any) -> Any:
        return (self.f(X)[:, 1] > 0.5).astype(int)

    def predict_proba(self, X: Any) -> Any:
        return self.f(X)


_X2 = np.random.default_rng(0).normal(size=(200, 2))
_Y2 = (_X2[:, 0] > 0).astype(int)


@pytest.mark.parametrize("metric", ["log_loss", "neg_log_loss", "brier_score", "neg_brier_score",
                                    "roc_auc", "roc_auc_ovr"])
def test_invalid_probabilities_are_refused_for_every_probability_metric(metric: str) -> None:
    # Raw scores from about -9 to 9: the clipped log loss was 0.098 and passed "<= 0.2".
    scores = _Proba(lambda X: np.column_stack([1 - 3 * X[:, 0], 3 * X[:, 0]]))
    with pytest.raises(DataError, match=rf"metric '{metric}': _Proba.predict_proba\(X\) returned \d+ "
                       r"row\(s\) with probabilities outside \[0, 1\] \(first at row \d+: \["):
        evaluate(scores, _X2, _Y2, [metric])
    # Rows summing to 1.98: the log loss was 0.0101 (sklearn normalizing would give 0.324).
    unnormalized = _Proba(lambda X: np.column_stack(
        [np.full(len(X), 0.99), np.where(X[:, 0] > 0, 0.99, 0.01)]))
    with pytest.raises(DataError, match=rf"metric '{metric}': .* do not sum to 1 \(first at row 0: "
                       r"\[0\.99, 0\.(99|01)\], sum 1\.(98|0)\)"):
        evaluate(unnormalized, _X2, _Y2, [metric])


def test_float32_probabilities_within_their_rounding_are_accepted() -> None:
    rng = np.random.default_rng(1)
    p1 = rng.uniform(size=200).astype(np.float32)
    p1[0] = 1.0
    model = _Proba(lambda X: np.column_stack([np.float32(1) - p1, p1]).astype(np.float32)
                   * np.float32(1 + 3e-7))  # off by float32 rounding, as LightGBM's can be
    result = evaluate(model, _X2, _Y2, ["log_loss"])
    assert np.isfinite(result.get("log_loss").value)


def test_predictions_of_the_wrong_shape_are_named() -> None:
    class TwoColumns:
        def predict(self, X: Any) -> Any:
            return np.column_stack([_Y2, _Y2])

    with pytest.raises(DataError, match=r"TwoColumns.predict\(X\) returned shape \(200, 2\), but "
                       r"metric 'accuracy' needs one prediction per row \(shape \(200,\)\)"):
        evaluate(TwoColumns(), _X2, _Y2, ["accuracy"])
    with pytest.raises(DataError, match=r"returned shape \(200, 2\), but metric 'r2'"):
        evaluate(TwoColumns(), _X2, _Y2.astype(float) + 0.5, ["r2"])

    class Cube(_Proba):
        def predict_proba(self, X: Any) -> Any:
            return np.zeros((len(X), 2, 1))

    with pytest.raises(DataError, match=r"Cube.predict_proba\(X\) returned shape \(200, 2, 1\)"):
        evaluate(Cube(None), _X2, _Y2, ["log_loss"])

class _Permuted:
    """``model`` with its classes_ (and predict_proba's columns, and for two classes the sign of
    decision_function) in the order ``order``: the same model, only listed otherwise."""

    def __init__(self, model: Any, order: np.ndarray, decision: bool) -> None:
        self.model, self.order = model, order
        self.classes_ = np.asarray(model.classes_)[order]
        if decision:
            self.decision_function = self._decision

    def predict(self, X: Any) -> Any:
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> Any:
        return self.model.predict_proba(X)[:, self.order]

    def _decision(self, X: Any) -> Any:
        d = self.model.decision_function(X)
        return d if self.order[1] == 1 else -d  # a score for classes_[1], as sklearn's


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(k=st.integers(2, 4), seed=st.integers(0, 2**32 - 1), strings=st.booleans(),
       decision=st.booleans(), data=st.data())
def test_a_model_listing_its_classes_in_any_order_gets_the_same_values(
        k: int, seed: int, strings: bool, decision: bool, data: Any) -> None:
    # classes_ not sorted: log_loss and brier_score raised "labels unknown to the model's
    # classes" (a searchsorted on an unsorted array); average_precision took the other class
    # as positive. Every metric must equal the sorted model's.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3))
    codes = np.argmax(X[:, :1] * np.arange(1, k + 1) + rng.normal(size=(300, k)), axis=1)
    names = np.array(["yes", "no", "maybe", "later"][:k]) if strings else np.arange(k) * 10
    y = names[codes]
    model = LogisticRegression(max_iter=500).fit(X, y)
    order = np.array(data.draw(st.permutations(range(k)), label="order"))
    shuffled = _Permuted(model, order, decision and k == 2)
    metrics = ["accuracy", "f1_macro", "log_loss", "neg_log_loss"]
    metrics += (["roc_auc", "average_precision", "brier_score", "f1", "precision"] if k == 2
                else ["roc_auc_ovr"])
    a = evaluate(model, X, y, metrics, n_boot=50)
    b = evaluate(shuffled, X, y, metrics, n_boot=50)
    for name in metrics:
        assert b.get(name).value == pytest.approx(a.get(name).value, abs=1e-12), name
    if k == 2:  # the positive class is the greater label, whatever the model's order
        from sklearn.metrics import average_precision_score, roc_auc_score

        top = list(model.classes_).index(max(model.classes_))
        p = model.predict_proba(X)[:, top]
        assert b.get("roc_auc").value == pytest.approx(roc_auc_score(y == max(y), p))
        assert b.get("average_precision").value == pytest.approx(
            average_precision_score(y == max(y), p))


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_an_interval_never_runs_past_the_values_a_metric_can_take(seed: int) -> None:
    """A one-vs-rest AUC of 0.9978 had the interval [0.9911, 1.0016] (new-user trial, on wine): a
    normal interval near a bound. It is cut at the metric's range, which loses no coverage."""
    from sklearn.datasets import load_wine

    from pytest_mlgate.stats.known_metrics import value_range

    X, y = load_wine(return_X_y=True, as_frame=True)
    X_fit, X_held, y_fit, y_held = train_test_split(X, y, test_size=0.5, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X_fit, y_fit)
    names = ["roc_auc_ovr", "roc_auc_ovr_weighted", "f1_macro", "accuracy", "log_loss", "matthews_corrcoef"]
    result = evaluate(model, X_held, y_held, names)
    for m in result.measurements:
        low, high = value_range(m.name) or (-np.inf, np.inf)
        assert low <= m.low <= m.value <= m.high <= high, (m.name, m.low, m.value, m.high)
    assert result.get("roc_auc_ovr").high == 1.0 or seed not in (0, 5)
