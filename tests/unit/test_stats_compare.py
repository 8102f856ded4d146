"""Regression verdicts on constructed cases: paired, unpaired, point, different data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from pytest_mlgate.baseline import BaselineEntry
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.stats.compare import _TangoScore, compare
from pytest_mlgate.stats.intervals import wilson


def _acc(correct: np.ndarray, fp: str = "fp1") -> tuple[Measurement, dict[str, np.ndarray]]:
    n = correct.size
    k = int(correct.sum())
    lo, hi = wilson(k, n)
    m = Measurement("accuracy", k / n, lo, hi, 0.95, n, "wilson", {"fingerprint": fp})
    y = np.zeros(n, dtype=np.int16)
    samples = {
        "y_true": y,
        "y_pred": np.where(correct, 0, 1).astype(np.int16),
        "classes": np.array(["0", "1"]),
    }
    return m, samples


def _pair(n: int, only_ref: int, only_cur: int, both_wrong: int = 50):
    ref = np.ones(n, bool)
    cur = np.ones(n, bool)
    ref[:both_wrong] = cur[:both_wrong] = False
    cur[both_wrong : both_wrong + only_ref] = False
    ref[both_wrong + only_ref : both_wrong + only_ref + only_cur] = False
    return _acc(cur), _acc(ref)


def test_paired_drop_fails_and_noise_passes() -> None:
    (c, cs), (r, rs) = _pair(2000, only_ref=60, only_cur=20)
    out = compare(
        c, r, direction="higher", margin=0.0, alpha=0.05, current_samples=cs, reference_samples=rs
    )
    assert out.verdict == "fail" and out.method == "mcnemar-exact"
    assert out.change == pytest.approx(-40 / 2000)
    assert out.p_value < 0.001
    assert out.change_low < out.change < out.change_high < 0
    (c, cs), (r, rs) = _pair(2000, only_ref=25, only_cur=20)
    out = compare(
        c, r, direction="higher", margin=0.0, alpha=0.05, current_samples=cs, reference_samples=rs
    )
    assert out.verdict == "pass" and out.p_value > 0.05
    (c, cs), (r, rs) = _pair(2000, only_ref=10, only_cur=60)
    out = compare(
        c, r, direction="higher", margin=0.0, alpha=0.05, current_samples=cs, reference_samples=rs
    )
    assert out.verdict == "improved"


def test_margin_gives_inconclusive_and_tango_matches_restricted_mle() -> None:
    # A small drop on few rows: cannot rule out a drop beyond 0.01, not significant either.
    (c, cs), (r, rs) = _pair(300, only_ref=8, only_cur=5, both_wrong=10)
    out = compare(
        c, r, direction="higher", margin=0.01, alpha=0.05, current_samples=cs, reference_samples=rs
    )
    assert out.verdict == "inconclusive"
    assert "cannot rule out" in out.reason
    # Plenty of rows and no change: the same margin is ruled out -> pass.
    (c, cs), (r, rs) = _pair(20000, only_ref=100, only_cur=100)
    out = compare(
        c, r, direction="higher", margin=0.01, alpha=0.05, current_samples=cs, reference_samples=rs
    )
    assert out.verdict == "pass"
    # Tango's closed-form restricted MLE equals a numerical maximization of the likelihood.
    b, cc, n, d0 = 30, 55, 400, -0.02

    def nll(x: float) -> float:
        return -(b * math.log(x + d0) + cc * math.log(x) + (n - b - cc) * math.log(1 - 2 * x - d0))

    x = minimize_scalar(
        nll, bounds=(-d0 + 1e-9, (1 - d0) / 2 - 1e-9), method="bounded", options={"xatol": 1e-12}
    ).x
    z_expected = (b - cc - n * d0) / math.sqrt(n * (2 * x + d0 * (1 - d0)))
    t = _TangoScore(b, cc, n)
    assert t.p_below(d0) == pytest.approx(0.5 * math.erfc(-z_expected / math.sqrt(2)), rel=1e-6)


def test_lower_is_better_metrics_flip_direction() -> None:
    cur = Measurement("mse", 12.0, 11.0, 13.0, 0.95, 500, "bootstrap", {})
    ref = BaselineEntry("t", "mse", 10.0, 9.0, 11.0, 0.95, 500, "bootstrap", None)
    assert compare(cur, ref, direction="lower", margin=0, alpha=0.05).verdict == "fail"
    better = Measurement("mse", 8.0, 7.0, 9.0, 0.95, 500, "bootstrap", {})
    out = compare(better, ref, direction="lower", margin=0, alpha=0.05)
    assert out.verdict == "improved" and out.method == "unpaired-normal"
    assert out.change == -2.0 and out.change_high < 0


def test_unpaired_overlap_passes_and_point_compare_without_intervals() -> None:
    cur = Measurement("f1", 0.80, 0.76, 0.84, 0.95, 400, "bootstrap", {})
    ref = BaselineEntry("t", "f1", 0.81, 0.77, 0.85, 0.95, 400, "bootstrap", None)
    out = compare(cur, ref, direction="higher", margin=0.0, alpha=0.05)
    assert out.verdict == "pass" and out.method == "unpaired-normal"
    hand = BaselineEntry("t", "f1", 0.81)
    out = compare(cur, hand, direction="higher", margin=0.0, alpha=0.05)
    assert out.verdict == "fail" and out.method == "point" and out.p_value is None
    out = compare(cur, hand, direction="higher", margin=0.02, alpha=0.05)
    assert out.verdict == "pass"


def test_different_evaluation_data_is_not_compared() -> None:
    cur = Measurement(
        "accuracy", 0.9, 0.88, 0.92, 0.95, 1000, "wilson", {"fingerprint": "sha256:aa"}
    )
    ref = BaselineEntry("t", "accuracy", 0.95, 0.93, 0.96, 0.95, 1000, "wilson", "sha256:bb")
    out = compare(cur, ref, direction="higher", margin=0.0, alpha=0.05)
    assert out.verdict == "not_compared"
    assert "different evaluation data" in out.reason


def test_paired_bootstrap_for_f1_and_paired_delong_for_auc() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.random(n) < 0.4
    s_ref = rng.normal(size=n) + 1.5 * y
    s_cur = s_ref + rng.normal(scale=0.05, size=n)  # same model, tiny noise: no real change
    fp = "sha256:same"
    from pytest_mlgate.stats.metrics import estimate, resolve

    def meas(name: str, samples: dict[str, np.ndarray]) -> Measurement:
        e = estimate(resolve(name), samples)
        return Measurement(name, e.value, e.low, e.high, 0.95, n, e.method, {"fingerprint": fp})

    auc_c = {"y_true": y, "score": s_cur}
    auc_r = {"y_true": y, "score": s_ref}
    out = compare(
        meas("roc_auc", auc_c),
        meas("roc_auc", auc_r),
        direction="higher",
        margin=0,
        alpha=0.05,
        current_samples=auc_c,
        reference_samples=auc_r,
    )
    assert out.method == "paired-delong" and out.verdict == "pass"
    # Paired: the change interval is far narrower than the two intervals suggest.
    assert out.change_high - out.change_low < 0.2 * (
        meas("roc_auc", auc_r).high - meas("roc_auc", auc_r).low
    )
    worse = {"y_true": y, "score": s_ref + rng.normal(scale=0.6, size=n)}
    out = compare(
        meas("roc_auc", worse),
        meas("roc_auc", auc_r),
        direction="higher",
        margin=0,
        alpha=0.05,
        current_samples=worse,
        reference_samples=auc_r,
    )
    assert out.verdict == "fail"

    def lab(s: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "y_true": y.astype(np.int16),
            "y_pred": (s > 0.75).astype(np.int16),
            "classes": np.array(["0", "1"]),
        }

    out = compare(
        meas("f1", lab(worse["score"])),
        meas("f1", lab(s_ref)),
        direction="higher",
        margin=0,
        alpha=0.05,
        current_samples=lab(worse["score"]),
        reference_samples=lab(s_ref),
    )
    assert out.method == "paired-multinomial-bootstrap" and out.verdict == "fail"
