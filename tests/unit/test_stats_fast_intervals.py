"""The fast intervals against the row bootstrap they replace, and against scipy/scikit-learn.

- confusion-matrix metrics: multinomial redraws of the cells have the row bootstrap's
  distribution (plain and paired);
- means of per-row losses: the t interval is scipy's, and close to the bootstrap on
  well-behaved data; the paired t test is scipy's paired t test;
- influence values (R², explained variance, RMSE, log loss, average precision, one-vs-rest AUC)
  are the derivatives of scikit-learn's own metric with respect to each row's weight;
- the rule: too few rows or too skewed -> the studentized bootstrap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from pytest_mlgate.measurement import Measurement
from pytest_mlgate.stats import influence
from pytest_mlgate.stats.compare import compare
from pytest_mlgate.stats.intervals import bootstrap, percentile_interval
from pytest_mlgate.stats.metrics import (
    ConfusionKernel,
    estimate,
    kernel,
    multinomial_replicates,
    resolve,
)


def _labels(rng: np.random.Generator, n: int, k: int, right: float) -> dict[str, np.ndarray]:
    y = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < right, y, rng.integers(0, k, n))
    return {"y_true": y.astype(np.int16), "y_pred": pred.astype(np.int16),
            "classes": np.array([str(c) for c in range(k)])}


@pytest.mark.parametrize("metric", ["f1_macro", "matthews_corrcoef", "cohen_kappa",
                                    "balanced_accuracy", "jaccard_weighted", "f1", "recall_macro"])
def test_multinomial_cells_have_the_row_bootstrap_distribution(metric: str) -> None:
    rng = np.random.default_rng(3)
    samples = _labels(rng, 150, 2 if metric == "f1" else 3, 0.7)
    k = kernel(resolve(metric), samples)
    assert isinstance(k, ConfusionKernel)
    cells = multinomial_replicates(k.cell_counts(), k.metric_of, 4000, seed=1)
    rows = bootstrap(k.resample, k.n, n_boot=4000, seed=2)
    # Same distribution: a two-sample KS test does not tell them apart, and the spreads agree
    # within Monte Carlo error (the SD of an SD estimate from 4000 draws is about 1.1%).
    assert stats.ks_2samp(cells, rows).pvalue > 0.001
    assert np.std(cells) == pytest.approx(np.std(rows), rel=0.06)
    assert np.mean(cells) == pytest.approx(np.mean(rows), abs=0.1 * np.std(rows))


def test_paired_multinomial_matches_the_paired_row_bootstrap() -> None:
    from pytest_mlgate.stats.compare import _paired_multinomial

    rng = np.random.default_rng(4)
    cur = _labels(rng, 200, 2, 0.8)
    ref = dict(cur)
    flip = rng.random(200) < 0.1
    ref["y_pred"] = np.where(flip, 1 - cur["y_pred"], cur["y_pred"]).astype(np.int16)
    kc, kr = kernel(resolve("f1"), cur), kernel(resolve("f1"), ref)
    assert isinstance(kc, ConfusionKernel) and isinstance(kr, ConfusionKernel)
    test = _paired_multinomial(kc, kr, 1.0, kc.point() - kr.point(), 4000, 5)
    fast = test.r  # type: ignore[attr-defined]
    rows = bootstrap(lambda i: kc.resample(i) - kr.resample(i), 200, n_boot=4000, seed=6)
    assert stats.ks_2samp(fast, rows).pvalue > 0.001
    assert np.std(fast) == pytest.approx(np.std(rows), rel=0.06)


def test_mean_loss_t_interval_is_scipys_and_close_to_the_bootstrap() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(size=2000)
    f = y + rng.normal(size=2000)
    samples = {"y_true": y, "y_pred": f}
    e = estimate(resolve("mae"), samples, n_boot=2000, seed=1)
    loss = np.abs(f - y)
    lo, hi = stats.t.interval(0.95, loss.size - 1, loc=loss.mean(), scale=stats.sem(loss))
    assert e.method == "t"
    assert (e.low, e.high) == pytest.approx((lo, hi), rel=1e-12)
    reps = bootstrap(kernel(resolve("mae"), samples).resample, 2000, n_boot=2000, seed=2)
    b_lo, b_hi = percentile_interval(reps)
    se = e.info["se"]
    assert abs(e.low - b_lo) < 0.15 * se and abs(e.high - b_hi) < 0.15 * se


def _paired_losses(metric: str, rng: np.random.Generator, n: int) -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(current, reference) samples of two correlated models, current a little worse, and
    each side's per-row loss computed here from the definition."""
    if metric == "log_loss":
        y = (rng.random(n) < 0.4).astype(np.int32)
        shared = rng.normal(size=n)

        def side(noise: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
            p1 = 1 / (1 + np.exp(-(2 * (2 * y - 1) + shared + noise * rng.normal(size=n))))
            loss = -np.log(np.where(y == 1, p1, 1 - p1))
            return {"y_true": y, "proba": np.stack([1 - p1, p1], 1),
                    "classes": np.array(["0", "1"])}, loss

        (cur, lc), (ref, lr) = side(0.8), side(0.5)
        return cur, ref, lc, lr
    y = rng.normal(0, 2, n)
    shared = rng.normal(size=n)
    ref = {"y_true": y, "y_pred": y + 0.8 * shared + 0.6 * rng.normal(size=n)}
    cur = {"y_true": y, "y_pred": y + 1.1 * (0.8 * shared + 0.6 * rng.normal(size=n))}
    power = 2 if metric == "mse" else 1
    return (cur, ref, np.abs(cur["y_pred"] - y) ** power, np.abs(ref["y_pred"] - y) ** power)


@pytest.mark.parametrize("metric", ["mse", "mae", "log_loss"])
def test_paired_t_is_scipys_paired_t_test(metric: str) -> None:
    rng = np.random.default_rng(8)
    n = 400
    cur, ref, loss_c, loss_r = _paired_losses(metric, rng, n)

    def side(s: dict[str, np.ndarray]) -> Measurement:
        e = estimate(resolve(metric), s)
        return Measurement(metric, e.value, e.low, e.high, 0.95, n, e.method,
                           {"fingerprint": "f"})

    out = compare(side(cur), side(ref), direction="lower", margin=0.0, alpha=0.05,
                  current_samples=cur, reference_samples=ref)
    # "current worse" = larger per-row losses: scipy's one-sided paired t test.
    p = stats.ttest_rel(loss_c, loss_r, alternative="greater").pvalue
    assert out.method == "paired-t"
    assert out.p_value == pytest.approx(p, rel=1e-9)
    # The change's interval is scipy's paired t interval of the mean loss difference.
    lo, hi = stats.t.interval(0.90, n - 1, loc=np.mean(loss_c - loss_r),
                              scale=stats.sem(loss_c - loss_r))
    assert (out.change_low, out.change_high) == pytest.approx((lo, hi), rel=1e-9)


def _weight_derivative(fn: Any, n: int, base: np.ndarray | None = None,
                       eps: float = 1e-6) -> np.ndarray:
    """w_i * d metric / d w_i at weights ``base`` (default 1), by central differences: the
    change of the metric when row i counts a little more, which is what resampling varies."""
    b = np.ones(n) if base is None else base
    out = np.empty(n)
    for i in range(n):
        w = b.copy()
        w[i] += eps * b[i]
        up = fn(w)
        w[i] -= 2 * eps * b[i]
        out[i] = (up - fn(w)) / (2 * eps)
    return out


def _binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.random(n) < 0.4
    s = np.round(rng.normal(size=n) + 1.2 * y, 1)  # rounded: tied scores
    return y, s


CASES: dict[str, Any] = {
    "r2": lambda y, f, w: skm.r2_score(y, f, sample_weight=w),
    "explained_variance": lambda y, f, w: skm.explained_variance_score(y, f, sample_weight=w),
    "rmse": lambda y, f, w: skm.root_mean_squared_error(y, f, sample_weight=w),
}


@pytest.mark.parametrize("metric", sorted(CASES))
def test_regression_influence_is_the_weight_derivative(metric: str) -> None:
    rng = np.random.default_rng(9)
    y = rng.normal(size=60)
    f = y + rng.normal(size=60)
    lin = kernel(resolve(metric), {"y_true": y, "y_pred": f}).linearize()
    assert lin is not None and lin.value == pytest.approx(CASES[metric](y, f, None))
    deriv = _weight_derivative(lambda w: CASES[metric](y, f, w), 60)
    np.testing.assert_allclose(lin.phi, deriv, atol=1e-7)


def test_log_loss_and_average_precision_influence_are_weight_derivatives() -> None:
    rng = np.random.default_rng(10)
    y, s = _binary(rng, 80)
    p = 1 / (1 + np.exp(-s))
    lin = kernel(resolve("log_loss"), {"y_true": y.astype(np.int32),
                                       "proba": np.stack([1 - p, p], 1),
                                       "classes": np.array(["0", "1"])}).linearize()
    assert lin is not None
    np.testing.assert_allclose(
        lin.phi, _weight_derivative(lambda w: skm.log_loss(y, p, sample_weight=w), 80), atol=1e-7)
    # The influence values (the weighted path); unweighted intervals use the jackknife below.
    k = kernel(resolve("average_precision"), {"y_true": y, "score": s})
    ap = influence.average_precision(k.g, k.n_groups, y, np.ones(80))  # type: ignore[attr-defined]
    assert ap.value == pytest.approx(skm.average_precision_score(y, s))
    np.testing.assert_allclose(
        ap.phi,
        _weight_derivative(lambda w: skm.average_precision_score(y, s, sample_weight=w), 80),
        atol=1e-7)


def test_average_precision_jackknife_is_scikit_learns_leave_one_out() -> None:
    rng = np.random.default_rng(16)
    n = 90
    y, s = _binary(rng, n)  # rounded scores: rows tied with the one left out
    lin = kernel(resolve("average_precision"), {"y_true": y, "score": s}).linearize()
    assert lin is not None and lin.method == "jackknife-logit"
    ap = skm.average_precision_score(y, s)
    loo = np.array([skm.average_precision_score(np.delete(y, i), np.delete(s, i))
                    for i in range(n)])
    assert lin.value == pytest.approx(ap, abs=1e-14)
    np.testing.assert_allclose(lin.phi, (n - 1) / n * (ap - loo), atol=1e-14)
    # n * var(phi) is the textbook jackknife variance (n-1)/n * sum((loo - mean)^2).
    se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))
    assert lin.se == pytest.approx(se, rel=1e-10)
    # The interval: logit(AP) +- t(positives - 1) * se / (AP (1 - AP)), mapped back.
    e = estimate(resolve("average_precision"), {"y_true": y, "score": s})
    half = stats.t.ppf(0.975, y.sum() - 1) * se / (ap * (1 - ap))
    logit = np.log(ap / (1 - ap))
    assert e.method == "jackknife-logit"
    assert (e.low, e.high) == pytest.approx(
        (1 / (1 + np.exp(-(logit - half))), 1 / (1 + np.exp(-(logit + half)))), rel=1e-10)
    # With one positive, leaving it out leaves no AP: the influence values stand in.
    one = np.zeros(n, dtype=bool)
    one[5] = True
    single = kernel(resolve("average_precision"), {"y_true": one, "score": s}).linearize()
    assert single is not None and single.method is None


@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_one_vs_rest_auc_influence_is_the_weight_derivative(average: str) -> None:
    rng = np.random.default_rng(11)
    n = 90
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    name = "roc_auc_ovr" + ("_weighted" if average == "weighted" else "")
    lin = kernel(resolve(name), {"y_true": y.astype(np.int32), "proba": p,
                                 "classes": np.array(["a", "b", "c"])}).linearize()
    assert lin is not None
    assert lin.value == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average=average))
    deriv = _weight_derivative(
        lambda w: skm.roc_auc_score(y, p, multi_class="ovr", average=average, sample_weight=w), n)
    np.testing.assert_allclose(lin.phi, deriv, atol=1e-7)


def test_average_precision_interval_is_close_to_the_row_bootstrap() -> None:
    rng = np.random.default_rng(12)
    y, s = _binary(rng, 3000)
    samples = {"y_true": y, "score": s}
    e = estimate(resolve("average_precision"), samples)
    assert e.method == "jackknife-logit"
    reps = bootstrap(kernel(resolve("average_precision"), samples).resample, 3000,
                     n_boot=2000, seed=3)
    assert e.info["se"] == pytest.approx(np.std(reps, ddof=1), rel=0.08)
    b_lo, b_hi = percentile_interval(reps)
    assert abs(e.low - b_lo) < 0.2 * e.info["se"] and abs(e.high - b_hi) < 0.2 * e.info["se"]


def test_few_rows_or_skewed_losses_take_the_studentized_bootstrap() -> None:
    rng = np.random.default_rng(13)
    y = rng.normal(size=20)
    small = estimate(resolve("mse"), {"y_true": y, "y_pred": y + rng.normal(size=20)})
    assert small.method == "bootstrap-t" and small.info["n_boot"] > 900
    # One huge error among 200: skewness near sqrt(200), far past Cochran's rule.
    e = rng.normal(size=200)
    e[0] = 100.0
    y = rng.normal(size=200)
    skewed = estimate(resolve("mae"), {"y_true": y, "y_pred": y + e})
    assert skewed.method == "bootstrap-t" and skewed.info["skewness"] > 10
    assert skewed.low < skewed.value < skewed.high
    # The studentized interval reaches further up than down, as the skewed losses do.
    assert skewed.high - skewed.value > skewed.value - skewed.low
    fine = estimate(resolve("mae"), {"y_true": y, "y_pred": y + rng.normal(size=200)})
    assert fine.method == "t"


def test_studentized_replicates_match_a_plain_loop() -> None:
    rng = np.random.default_rng(14)
    x = rng.exponential(size=25)
    lin = influence.mean(x, None)
    reps = influence.studentized_replicates(
        lin, lambda idx: x[idx].mean(axis=1), n_boot=300, seed=4)
    from pytest_mlgate.stats.intervals import resample_blocks

    idx = np.concatenate(resample_blocks(25, 300, 4))
    expect = [x.mean() - (x[i].mean() - x.mean()) / (x[i].std(ddof=1) / 5) * lin.se
              for i in idx]
    np.testing.assert_allclose(reps, expect, rtol=1e-10)
    assert lin.se == pytest.approx(stats.sem(x))
    assert np.isfinite(reps).all()


def test_weighted_influence_is_the_weight_derivative() -> None:
    rng = np.random.default_rng(15)
    n = 70
    w = rng.uniform(0.2, 3.0, n)
    y, s = _binary(rng, n)
    ap = kernel(resolve("average_precision"), {"y_true": y, "score": s, "weight": w}).linearize()
    assert ap is not None
    assert ap.value == pytest.approx(skm.average_precision_score(y, s, sample_weight=w))
    np.testing.assert_allclose(
        ap.phi,
        _weight_derivative(lambda v: skm.average_precision_score(y, s, sample_weight=v), n, w),
        atol=1e-7)
    yr = rng.normal(size=n)
    f = yr + rng.normal(size=n)
    r2 = kernel(resolve("r2"), {"y_true": yr, "y_pred": f, "weight": w}).linearize()
    assert r2 is not None
    np.testing.assert_allclose(
        r2.phi, _weight_derivative(lambda v: skm.r2_score(yr, f, sample_weight=v), n, w),
        atol=1e-7)


@pytest.mark.parametrize("metric", ["roc_auc", "average_precision"])
def test_ranking_resamples_sorted_once_are_scikit_learns_metric_on_the_resampled_rows(
        metric: str) -> None:
    # The bootstrap fallback of the ranking metrics sorts the scores once and only recounts
    # each tied group per resample: every replicate must be scikit-learn's value on those rows.
    rng = np.random.default_rng(17)
    n = 120
    y, s = _binary(rng, n)
    w = rng.uniform(0.5, 2.0, n)
    fn = skm.roc_auc_score if metric == "roc_auc" else skm.average_precision_score
    k = kernel(resolve(metric), {"y_true": y, "score": s, "weight": w})
    idx = rng.integers(0, n, size=(40, n))
    expect = [fn(y[i], s[i], sample_weight=w[i]) for i in idx]
    np.testing.assert_allclose(k.resample(idx), expect, rtol=1e-12)


@pytest.mark.parametrize(("k", "n"), [(0, 20), (3, 20), (81, 263), (190, 200), (500, 1000)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_is_statsmodels_wilson(k: int, n: int, level: float) -> None:
    from statsmodels.stats.proportion import proportion_confint

    from pytest_mlgate.stats.intervals import wilson

    lo, hi = proportion_confint(k, n, alpha=1 - level, method="wilson")
    assert wilson(k, n, level) == pytest.approx((lo, hi), abs=1e-12)
