"""Metamorphic and property tests of every verdict path, with truth known by construction.

Families: Wilson proportions (accuracy, precision, recall), DeLong (roc_auc), bootstrap metrics
(f1, f1_macro, balanced_accuracy, log_loss, brier_score, average_precision), regression metrics
(r2, rmse, mae, mse), and performance readings (perf.compare_performance). Paths: the threshold
verdict, slice thresholds (Holm), and the comparison with a baseline.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_mlgate.markers import Threshold
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.perf import compare_performance
from pytest_mlgate.stats.compare import compare
from pytest_mlgate.stats.evaluation import evaluate
from pytest_mlgate.stats.slices import below_threshold_p, slice_threshold_verdicts
from pytest_mlgate.verdicts import threshold_verdict

PROPS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CLASSIFICATION = ["accuracy", "precision", "recall", "roc_auc", "f1", "f1_macro",
                  "balanced_accuracy", "log_loss", "brier_score", "average_precision"]
REGRESSION = ["r2", "rmse", "mae", "mse"]
ALL = CLASSIFICATION + REGRESSION
# A metric and the same metric negated (scikit-learn's neg_ scorers).
NEGATED = [("log_loss", "neg_log_loss"), ("rmse", "neg_root_mean_squared_error"),
           ("mse", "neg_mean_squared_error"), ("mae", "neg_mean_absolute_error"),
           ("brier_score", "neg_brier_score")]
HIGHER = {m for m in ALL if m not in ("log_loss", "brier_score", "rmse", "mae", "mse")}
MIRROR = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}
COMPLEMENT = {">=": "<", ">": "<=", "<=": ">", "<": ">="}


class Fixed:
    """A model that returns given predictions (X only sets the number of rows)."""

    def __init__(self, pred: np.ndarray, proba: np.ndarray | None = None) -> None:
        self.pred, self.proba = pred, proba
        if proba is not None:
            self.classes_ = np.array([0, 1])

    def predict(self, X: Any) -> np.ndarray:
        return self.pred

    def predict_proba(self, X: Any) -> np.ndarray:
        assert self.proba is not None
        return self.proba


def classifier(y: np.ndarray, right: np.ndarray, rng: np.random.Generator,
               confidence: float = 0.8) -> Fixed:
    """Right on the rows ``right`` (with probability ~confidence on the true class)."""
    pred = np.where(right, y, 1 - y)
    top = np.clip(confidence + 0.1 * rng.standard_normal(y.size), 0.55, 0.995)
    p1 = np.where(pred == 1, top, 1 - top)
    return Fixed(pred, np.stack([1 - p1, p1], axis=1))


def regressor(y: np.ndarray, error: np.ndarray) -> Fixed:
    return Fixed(y + error)


def model_for(metric: str, y_cls: np.ndarray, y_reg: np.ndarray, rng: np.random.Generator,
              quality: str) -> tuple[Fixed, np.ndarray]:
    """A model of known quality ("good": near perfect, "bad": far off) and its labels."""
    if metric in REGRESSION:
        scale = 0.05 if quality == "good" else 4.0
        return regressor(y_reg, scale * rng.standard_normal(y_reg.size)), y_reg
    share = 0.97 if quality == "good" else 0.25
    return classifier(y_cls, rng.random(y_cls.size) < share, rng,
                      0.9 if quality == "good" else 0.6), y_cls


@st.composite
def cases(draw: Any) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    n = draw(st.integers(240, 600))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y_cls = (rng.random(n) < draw(st.floats(0.3, 0.7))).astype(np.int64)
    y_reg = rng.normal(0.0, 1.0, n)
    return rng, y_cls, y_reg


def _measure(metric: str, model: Fixed, y: np.ndarray, slices: Any = None, seed: int = 0):
    return evaluate(model, np.zeros((y.size, 1)), y, [metric], slices=slices, seed=seed,
                    n_boot=300)


# ---- thresholds: far above / far below, every family and operator -----------------------------


@PROPS
@given(cases(), st.sampled_from(ALL), st.sampled_from([">=", ">", "<=", "<"]))
def test_threshold_far_from_the_value_gets_the_verdict_of_construction(
        case: Any, metric: str, op: str) -> None:
    rng, y_cls, y_reg = case
    for quality in ("good", "bad"):
        model, y = model_for(metric, y_cls, y_reg, rng, quality)
        half = np.arange(y.size) < y.size // 2
        result = _measure(metric, model, y, slices={"a": half, "b": ~half})
        overall = result.get(metric)
        value = overall.value
        # Far: 0.3 metric units beyond, or three interval widths when the metric is that noisy.
        gap = max(0.3, 3.0 * (overall.high - overall.low))
        for side, expected in ((-1.0, op in (">=", ">")), (+1.0, op in ("<=", "<"))):
            t = Threshold(metric, op, value + side * gap)
            verdict, _ = threshold_verdict(t, result.get(metric), "point")
            assert verdict == ("pass" if expected else "fail")
            # Every slice is on the same side of the threshold: slices agree, and a slice that
            # clears it never fails; one that misses it by this much fails (Holm included).
            for name, v, p in slice_threshold_verdicts(result, metric, op, t.value):
                sv = result.get(f"{metric}[{name}]").value
                if t.holds(sv):
                    assert v == "pass" and p > 0.05, (name, sv, t)
                elif abs(sv - t.value) >= gap / 2:
                    assert v == "fail", (name, sv, t, p)


@PROPS
@given(st.floats(-5, 5), st.floats(-5, 5), st.floats(1e-3, 2.0),
       st.sampled_from([">=", ">", "<=", "<"]))
def test_mirrored_operator_on_the_negated_metric_keeps_every_verdict_and_complement_flips(
        value: float, threshold: float, half: float, op: str) -> None:
    m = Measurement("x", value, value - half, value + half, 0.95, 100)
    neg = Measurement("x", -value, -value - half, -value + half, 0.95, 100)
    t, t_neg = Threshold("x", op, threshold), Threshold("x", MIRROR[op], -threshold)
    assert threshold_verdict(t, m, "point")[0] == threshold_verdict(t_neg, neg, "point")[0]
    assert threshold_verdict(t, m, "confident")[0] == threshold_verdict(
        t_neg, neg, "confident")[0]
    assert below_threshold_p(m, op, threshold) == pytest.approx(
        below_threshold_p(neg, MIRROR[op], -threshold), abs=1e-12)
    if value != threshold:
        flipped = threshold_verdict(Threshold("x", COMPLEMENT[op], threshold), m, "point")[0]
        assert flipped != threshold_verdict(t, m, "point")[0]


# ---- comparisons with a baseline ----------------------------------------------------------------


def _compare(metric: str, cur: Fixed, ref: Fixed, y: np.ndarray, margin: float = 0.0,
             seed: int = 0):
    rc, rr = _measure(metric, cur, y), _measure(metric, ref, y)
    return compare(rc.get(metric), rr.get(metric), direction=rc.get(metric).info["direction"],
                   margin=margin, alpha=0.05, current_samples=rc.samples[metric],
                   reference_samples=rr.samples[metric], seed=seed, n_boot=500)


def _agree(c: Any, higher: bool) -> None:
    """The change interval excludes the margin exactly when the verdict says significant."""
    lo, hi = (c.change_low, c.change_high) if higher else (-c.change_high, -c.change_low)
    m = c.margin
    assert (c.verdict == "fail") == (hi < -m), c
    assert (c.verdict == "improved") == (lo > m and hi >= -m), c


@PROPS
@given(cases(), st.sampled_from(ALL), st.sampled_from([0.0, 0.01]))
def test_a_candidate_identical_to_its_baseline_never_fails(case: Any, metric: str,
                                                           margin: float) -> None:
    rng, y_cls, y_reg = case
    model, y = model_for(metric, y_cls, y_reg, rng, "good")
    c = _compare(metric, model, model, y, margin)
    assert c.verdict in ("pass", "inconclusive") and c.change == 0.0
    _agree(c, metric in HIGHER)


def _better_on_every_row(metric: str, rng: np.random.Generator, y_cls: np.ndarray,
                         y_reg: np.ndarray) -> tuple[Fixed, Fixed, np.ndarray]:
    """(worse, better, y): the better model is at least as good on every row, strictly on many."""
    if metric in REGRESSION:
        e = rng.standard_normal(y_reg.size)
        return regressor(y_reg, 2.0 * e), regressor(y_reg, 0.5 * e), y_reg
    right = rng.random(y_cls.size) < 0.6
    fixed = right | (rng.random(y_cls.size) < 0.8)  # wrong rows made right, right rows kept
    worse = classifier(y_cls, right, np.random.default_rng(1))
    better = classifier(y_cls, fixed, np.random.default_rng(1))
    if metric == "roc_auc" or metric in ("log_loss", "brier_score", "average_precision"):
        # Scores: the better model gives every row's true class more probability.
        p_true_worse = np.where(y_cls == 1, worse.proba[:, 1], worse.proba[:, 0])
        p_true_better = p_true_worse + (1 - p_true_worse) * 0.6
        p1 = np.where(y_cls == 1, p_true_better, 1 - p_true_better)
        better = Fixed(better.pred, np.stack([1 - p1, p1], axis=1))
    return worse, better, y_cls


@PROPS
@given(cases(), st.sampled_from(ALL))
def test_strictly_better_on_every_row_never_fails_and_strictly_worse_fails(
        case: Any, metric: str) -> None:
    rng, y_cls, y_reg = case
    worse, better, y = _better_on_every_row(metric, rng, y_cls, y_reg)
    up = _compare(metric, better, worse, y)
    assert up.verdict in ("pass", "improved"), up
    down = _compare(metric, worse, better, y)
    assert down.verdict == "fail", down
    for c in (up, down):
        _agree(c, metric in HIGHER)


@PROPS
@given(cases(), st.sampled_from(ALL), st.sampled_from([0.0, 0.02]))
def test_improving_every_prediction_never_turns_pass_into_fail(case: Any, metric: str,
                                                               margin: float) -> None:
    rng, y_cls, y_reg = case
    worse, better, y = _better_on_every_row(metric, rng, y_cls, y_reg)
    base, _ = model_for(metric, y_cls, y_reg, np.random.default_rng(7), "good") \
        if metric not in REGRESSION else (regressor(y_reg, 1.0 * rng.standard_normal(y.size)), y)
    before = _compare(metric, worse, base, y, margin)
    after = _compare(metric, better, base, y, margin)
    order = {"fail": 0, "inconclusive": 1, "pass": 2, "improved": 3}
    assert order[after.verdict] >= order[before.verdict], (before, after)
    rb, ra = _measure(metric, worse, y).get(metric), _measure(metric, better, y).get(metric)
    assert (ra.value >= rb.value - 1e-12) if metric in HIGHER else (ra.value <= rb.value + 1e-12)


@PROPS
@given(cases(), st.sampled_from(NEGATED), st.sampled_from([0.0, 0.01]))
def test_negating_the_metric_keeps_the_verdict_and_mirrors_the_interval(
        case: Any, pair: tuple[str, str], margin: float) -> None:
    rng, y_cls, y_reg = case
    metric, negated = pair
    worse, better, y = _better_on_every_row(metric, rng, y_cls, y_reg)
    for cur, ref in ((worse, better), (better, worse), (better, better)):
        a = _compare(metric, cur, ref, y, margin)
        b = _compare(negated, cur, ref, y, margin)
        assert a.verdict == b.verdict
        assert a.change == pytest.approx(-b.change, abs=1e-9)
        assert a.change_low == pytest.approx(-b.change_high, abs=1e-9)
        assert a.change_high == pytest.approx(-b.change_low, abs=1e-9)


@PROPS
@given(cases(), st.sampled_from(ALL))
def test_duplicating_the_evaluation_set_never_changes_a_point_value(case: Any,
                                                                     metric: str) -> None:
    rng, y_cls, y_reg = case
    model, y = model_for(metric, y_cls, y_reg, rng, "good")
    half = np.arange(y.size) < y.size // 3
    once = _measure(metric, model, y, slices={"a": half, "b": ~half})
    twice_model = Fixed(np.r_[model.pred, model.pred],
                        None if model.proba is None else np.r_[model.proba, model.proba])
    twice = _measure(metric, twice_model, np.r_[y, y],
                     slices={"a": np.r_[half, half], "b": np.r_[~half, ~half]})
    for name in (metric, f"{metric}[a]", f"{metric}[b]"):
        assert twice.get(name).value == pytest.approx(once.get(name).value, rel=1e-12,
                                                      abs=1e-12)


# ---- performance readings -----------------------------------------------------------------------


@PROPS
@given(st.integers(0, 2**32 - 1), st.sampled_from(["latency_p50_ms", "latency_p95_ms",
                                                   "throughput_rps"]),
       st.sampled_from([0.05, 0.1, 0.5]))
def test_performance_readings_identical_pass_much_worse_fail_and_better_never_fails(
        seed: int, name: str, tolerance: float) -> None:
    rng = np.random.default_rng(seed)
    times = rng.lognormal(math.log(2e-3), 0.2, 200)
    higher = name == "throughput_rps"
    direction = "higher" if higher else "lower"

    def reading(t: np.ndarray) -> Measurement:
        value = 1.0 / float(np.mean(t)) if higher else float(np.quantile(
            t, 0.95 if "p95" in name else 0.5) * 1e3)
        return Measurement(name, value, None, None, None, t.size, "benchmark", {})

    def verdict(cur: np.ndarray, ref: np.ndarray) -> str:
        return compare_performance(reading(cur), reading(ref).value, direction=direction,
                                   tolerance=tolerance, current_samples={"timings_s": cur},
                                   reference_samples={"timings_s": ref}).verdict

    # The same timings never fail (inconclusive when the noise cannot rule out the tolerance).
    assert verdict(times, times) in ("pass", "inconclusive")
    assert verdict(times * 3.0, times) == "fail"
    assert verdict(times / 3.0, times) == "improved"
    # Each call faster than before never turns a pass into a fail.
    other = rng.permutation(times)
    order = {"fail": 0, "inconclusive": 1, "pass": 2, "improved": 3}
    assert order[verdict(other * 0.97, times)] >= order[verdict(other, times)]
