"""``ece``: expected calibration error with a bootstrap interval."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.stats.evaluation import evaluate
from pytest_mlgate.stats.known_metrics import direction_of


class Fixed:
    """A 'model' whose probabilities are given."""

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba
        self.classes_ = np.arange(proba.shape[1])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.proba


def _ece_by_hand(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    conf = proba.max(axis=1)
    hit = proba.argmax(axis=1) == y
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        if inside.any():
            total += inside.sum() / y.size * abs(hit[inside].mean() - conf[inside].mean())
    return total


def test_a_calibrated_model_has_small_ece_and_an_overconfident_one_large() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    p1 = rng.uniform(0, 1, n)
    y = (rng.uniform(0, 1, n) < p1).astype(int)  # calibrated by construction
    calibrated = np.stack([1 - p1, p1], axis=1)
    sharp = np.clip((p1 - 0.5) * 3 + 0.5, 0.001, 0.999)  # overconfident
    over = np.stack([1 - sharp, sharp], axis=1)
    X = np.zeros((n, 1))
    good = evaluate(Fixed(calibrated), X, y, ["ece"], n_boot=200).get("ece")
    bad = evaluate(Fixed(over), X, y, ["ece"], n_boot=200).get("ece")
    assert good.value < 0.02 < 0.1 < bad.value
    assert good.method == "bootstrap" and good.low <= good.value <= good.high
    assert bad.low <= bad.value <= bad.high and bad.low > good.high
    assert abs(bad.value - _ece_by_hand(over, y)) < 1e-12
    assert direction_of("ece") == "lower"


def test_multiclass_ece_uses_the_top_label() -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    m = evaluate(model, X, y, ["ece"], n_boot=200).get("ece")
    assert abs(m.value - _ece_by_hand(model.predict_proba(X), y)) < 1e-12
    assert 0 <= m.low <= m.value <= m.high <= 1
