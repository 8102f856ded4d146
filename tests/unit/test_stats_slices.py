"""Slice threshold verdicts: slices that clear or miss their thresholds by construction."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_mlgate.measurement import Measurement
from pytest_mlgate.stats.evaluation import evaluate
from pytest_mlgate.stats.slices import below_threshold_p, slice_threshold_verdicts

N = 400  # rows per slice


class Regressor:
    """Near-perfect on the first half of the rows ("good"), far off on the second ("bad")."""

    def __init__(self, y: np.ndarray, bad: np.ndarray, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.out = y + np.where(bad, rng.normal(0, 10.0, y.size), rng.normal(0, 0.1, y.size))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.out


class Classifier:
    """Right on 97% of "good" rows, on 40% of "bad" rows; the probability given to the predicted
    class varies from row to row, so every metric has sampling noise."""

    classes_ = np.array([0, 1, 2])

    def __init__(self, y: np.ndarray, bad: np.ndarray, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        right = rng.random(y.size) < np.where(bad, 0.4, 0.97)
        self.labels = np.where(right, y, (y + rng.integers(1, 3, y.size)) % 3)
        top = rng.uniform(0.6, 0.98, y.size)
        self.proba = np.repeat(((1 - top) / 2)[:, None], 3, axis=1)
        self.proba[np.arange(y.size), self.labels] = top

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.labels

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.proba


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 5.0, 2 * N)
    bad = np.r_[np.zeros(N, bool), np.ones(N, bool)]
    return np.zeros((2 * N, 1)), y, bad


@pytest.mark.parametrize(
    ("metric", "op", "threshold"),
    [("r2", ">=", 0.8), ("rmse", "<=", 1.0), ("mae", "<", 1.0), ("mse", "<=", 1.0)],
)
def test_regression_slices_that_clear_pass_and_slices_that_miss_fail(
    metric: str, op: str, threshold: float
) -> None:
    X, y, bad = _data()
    result = evaluate(Regressor(y, bad), X, y, [metric], slices={"good": ~bad, "bad": bad})
    verdicts = {name: (v, p) for name, v, p in slice_threshold_verdicts(result, metric, op, threshold)}
    assert verdicts["good"][0] == "pass" and verdicts["good"][1] > 0.5
    assert verdicts["bad"][0] == "fail" and verdicts["bad"][1] < 1e-6


@pytest.mark.parametrize(
    ("metric", "op", "threshold"),
    [("f1_macro", ">=", 0.8), ("log_loss", "<=", 0.5), ("f1_weighted", ">", 0.8), ("accuracy", ">", 0.8),
     ("balanced_accuracy", ">=", 0.8), ("neg_log_loss", ">=", -0.5)],
)
def test_classification_slices_that_clear_pass_and_slices_that_miss_fail(
    metric: str, op: str, threshold: float
) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 2 * N)
    bad = np.r_[np.zeros(N, bool), np.ones(N, bool)]
    result = evaluate(Classifier(y, bad), np.zeros((2 * N, 1)), y, [metric],
                      slices={"good": ~bad, "bad": bad})
    verdicts = {name: (v, p) for name, v, p in slice_threshold_verdicts(result, metric, op, threshold)}
    assert verdicts["good"][0] == "pass" and verdicts["good"][1] > 0.5
    assert verdicts["bad"][0] == "fail" and verdicts["bad"][1] < 1e-6


@pytest.mark.parametrize("op", [">=", ">", "<=", "<"])
def test_normal_p_value_is_small_only_on_the_wrong_side(op: str) -> None:
    higher = op in (">=", ">")
    m_good = Measurement("x", 1.0 if higher else -1.0, None, None)
    m_good = Measurement("x", m_good.value, m_good.value - 0.1, m_good.value + 0.1, 0.95)
    m_bad = Measurement("x", -m_good.value, -m_good.value - 0.1, -m_good.value + 0.1, 0.95)
    assert below_threshold_p(m_good, op, 0.0) > 0.999
    assert below_threshold_p(m_bad, op, 0.0) < 1e-6
    at = Measurement("x", 0.0, -0.1, 0.1, 0.95)
    assert below_threshold_p(at, op, 0.0) == pytest.approx(0.5)


@settings(max_examples=300, deadline=None)
@given(value=st.floats(0.05, 0.95), below=st.floats(0.001, 0.3), above=st.floats(0.001, 0.3),
       where=st.floats(-0.99, 0.99), higher=st.booleans())
def test_the_p_value_inverts_an_asymmetric_interval(value: float, below: float, above: float,
                                                    where: float, higher: bool) -> None:
    """A bootstrap interval is asymmetric. A threshold outside the 95% interval on the failing
    side is significant at the one-sided 2.5% level, one inside is not, whichever half is the
    longer (one symmetric error from the whole width called an ece interval [0.114, 0.276] around
    0.148 against <= 0.08 not significant: new-user trial)."""
    m = Measurement("x", value, value - below, value + above, 0.95)
    # The threshold on the side where the value fails it: above the value for ">=", below for "<=".
    reach = above if higher else below
    threshold = value + (1 if higher else -1) * reach * (1 + where)
    p = below_threshold_p(m, ">=" if higher else "<=", threshold)
    outside = where > 0
    assert (p < 0.025) == outside or abs(where) < 1e-6, (p, where)


def test_the_trial_case_an_interval_wholly_beyond_the_threshold_is_significant() -> None:
    m = Measurement("ece[size=large]", 0.1481, 0.114, 0.2762, 0.95)
    assert below_threshold_p(m, "<=", 0.08) < 0.001
