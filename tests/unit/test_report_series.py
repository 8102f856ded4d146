"""The series a report draws: bounded in size whatever the rows, and true to the data."""

from __future__ import annotations

import json

import numpy as np
from sklearn.metrics import roc_auc_score

from pytest_mlgate.report import series
from pytest_mlgate.report.html.page import render_html
from pytest_mlgate.stats.evaluation import evaluate


class Scores:
    """A binary 'model' whose probabilities are given."""

    classes_ = np.array([0, 1])

    def __init__(self, p: np.ndarray) -> None:
        self.p = p

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.stack([1 - self.p, self.p], axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.p > 0.5).astype(int)


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(0, 1.5, n))))
    return y, p


def test_curves_follow_the_data_and_their_bands_hold_them() -> None:
    y, p = _data(5000)
    c = series.binary_curves(y == 1, p, seed=1)
    roc, pr = c["roc"], c["pr"]
    assert abs(roc["auc"] - roc_auc_score(y, p)) < 1e-3  # from 1000 score bins: ties within a bin count half
    assert all(lo <= t + 1e-9 and t <= hi + 1e-9 for lo, t, hi in zip(roc["low"], roc["tpr"], roc["high"], strict=True))
    assert all(lo <= v + 1e-9 and v <= hi + 1e-9 for lo, v, hi in zip(pr["low"], pr["precision"], pr["high"], strict=True))
    width = np.subtract(roc["high"], roc["low"])
    assert 0 < width[10] < 0.2  # a band, not a line and not the whole square
    assert abs(pr["prevalence"] - y.mean()) < 1e-9


def test_a_million_rows_keep_a_bounded_series() -> None:
    n = 1_000_000
    y, p = _data(n, seed=2)
    X = np.zeros((n, 1))
    result = evaluate(Scores(p), X, y, ["roc_auc", "accuracy", "log_loss"], n_boot=50)
    (item,) = series.evaluation_items(result.samples, ["roc_auc", "accuracy", "log_loss"])
    assert item["n"] == n
    size = len(json.dumps(item))
    assert size < 20_000, size
    assert abs(item["curves"]["roc"]["auc"] - result.get("roc_auc").value) < 2e-3  # binned at 1000 scores
    assert sum(sum(row) for row in item["confusion"]["counts"]) == n
    assert sum(item["reliability"]["n"]) == n


def test_regression_points_are_capped_and_residuals_cover_every_row() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, 50_000)
    f = y + rng.normal(0, 0.3, y.size)
    item = series.regression(y, f)
    assert len(item["actual"]) == len(item["predicted"]) == series.MAX_POINTS
    assert sum(item["residuals"]["counts"]) + item["residuals"]["outside"] == y.size
    assert abs(item["residuals"]["std"] - 0.3) < 0.01


def test_the_reliability_diagram_reports_the_ece_metric() -> None:
    y, p = _data(3000, seed=4)
    result = evaluate(Scores(p), np.zeros((y.size, 1)), y, ["ece"], n_boot=50)
    rel = series.reliability(result.samples["ece"]["y_true"], result.samples["ece"]["proba"])
    assert abs(rel["ece"] - result.get("ece").value) < 1e-6


def test_a_damaged_series_costs_its_plot_not_the_page() -> None:
    report = {"schema": "pytest-mlgate/report", "schema_version": 1, "verdict": "pass", "failures": [],
              "run": {"complete": True}, "gates": {},
              "tests": [{"nodeid": "t.py::t", "gate": "validation", "outcome": "passed", "metrics": [],
                         "series": {"version": 1, "items": [{"kind": "classification", "curves": {"roc": 3}},
                                                            {"kind": "latency", "counts": [1], "edges": "x"}]}},
                        {"nodeid": "t.py::u", "gate": "validation", "outcome": "passed", "metrics": [],
                         "series": {"version": 7, "items": []}}]}
    html = render_html(report)
    assert html.count("could not draw this plot") == 2
    assert "plot data of series version 7 is not one this pytest-mlgate draws" in html


def test_drift_histograms_count_the_current_rows_outside_the_reference_range() -> None:
    """The caption "N current rows outside the reference range" counted rows outside an axis
    clipped at percentiles of both frames, and the axis hid reference rows (new-user trial)."""
    import pandas as pd

    from pytest_mlgate.profiles import profile
    from pytest_mlgate.stats.drift import check_drift

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.uniform(0.0, 1.0, 2000)})
    ref.loc[0, "x"] = 5.0  # one far reference row: inside the reference range by definition
    cur = pd.DataFrame({"x": np.concatenate([rng.uniform(0.05, 0.95, 991), np.full(8, 7.5), [-1.0]])})
    truly_outside = int(((cur["x"] < ref["x"].min()) | (cur["x"] > ref["x"].max())).sum())
    assert truly_outside == 9
    for reference in (ref, profile(ref)):
        result = check_drift(reference, cur)
        (col,) = series.drift(result, reference, cur)["columns"]
        h = col["histogram"]
        assert h["current_outside"] == truly_outside, (type(reference).__name__, h["edges"][0], h["edges"][-1], ref["x"].min())
        assert h["edges"][0] <= ref["x"].min() and h["edges"][-1] >= 5.0
        assert abs(sum(h["reference"]) - 1) < 1e-3
