"""The change interval of a comparison is the inversion of the test that decided its verdict.

Published values: Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables,
chapter 8, the Cavo et al. (2012) table (n12 = 6, n21 = 16, N = 161): Tango's asymptotic score
interval -0.1240 to -0.0054, McNemar exact conditional P = 0.052479 (two-sided). Tango (1998)
defines the score statistic; the brute-force check below recomputes it from a numerical
maximisation of the restricted likelihood, independent of the closed form in compare.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import norm

from pytest_mlgate.measurement import Measurement
from pytest_mlgate.stats.compare import compare
from pytest_mlgate.stats.intervals import wilson

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def paired(b: int, c: int, n: int, both_right: int | None = None):
    """Current and reference accuracy sides: ``b`` rows only the current model gets right, ``c``
    rows only the reference gets right, the rest split between both right and both wrong."""
    both_right = (n - b - c) // 2 if both_right is None else both_right
    cur = np.zeros(n, bool)
    ref = np.zeros(n, bool)
    cur[:b] = True
    ref[b : b + c] = True
    cur[b + c : b + c + both_right] = ref[b + c : b + c + both_right] = True

    def side(ok: np.ndarray):
        k = int(ok.sum())
        lo, hi = wilson(k, n)
        m = Measurement("accuracy", k / n, lo, hi, 0.95, n, "wilson", {"fingerprint": "fp"})
        s = {"y_true": np.zeros(n, np.int16), "y_pred": (~ok).astype(np.int16),
             "classes": np.array(["0", "1"])}
        return m, s

    return side(cur), side(ref)


def run(b: int, c: int, n: int, margin: float, alpha: float = 0.05):
    (mc, sc), (mr, sr) = paired(b, c, n)
    return compare(mc, mr, direction="higher", margin=margin, alpha=alpha,
                   current_samples=sc, reference_samples=sr)


def test_b0_c3_passes_with_an_interval_that_contains_zero() -> None:
    out = run(0, 3, 100, margin=0.0)
    assert out.method == "mcnemar-exact"
    assert out.verdict == "pass" and out.p_value == pytest.approx(0.125)
    assert out.change_low < 0 <= out.change_high


def test_tango_score_interval_matches_the_published_cavo_example() -> None:
    # alpha = 0.025 one-sided: the change interval is the two-sided 95% interval.
    out = run(6, 16, 161, margin=0.01, alpha=0.025)
    assert out.method == "tango-score"
    assert out.change == pytest.approx(-10 / 161)
    assert round(out.change_low, 4) == -0.1240 and round(out.change_high, 4) == -0.0054


def test_exact_mcnemar_matches_the_published_cavo_p_value_and_statsmodels() -> None:
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.proportion import proportion_confint

    out = run(6, 16, 161, margin=0.0, alpha=0.025)
    assert out.method == "mcnemar-exact" and out.verdict == "pass"
    assert 2 * out.p_value == pytest.approx(0.052479, abs=5e-7)
    table = [[59, 6], [16, 80]]
    assert 2 * out.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    # The interval is the exact (Clopper-Pearson) interval of the discordant rows' split,
    # put on the scale of the difference: it contains 0 exactly when the exact test passes.
    lo, hi = proportion_confint(16, 22, alpha=0.05, method="beta")
    assert out.change_low == pytest.approx(22 / 161 * (1 - 2 * hi), rel=1e-9)
    assert out.change_high == pytest.approx(22 / 161 * (1 - 2 * lo), rel=1e-9)
    assert out.change_low < 0 < out.change_high


def _brute_tango_bounds(b: int, c: int, n: int, alpha: float) -> tuple[float, float]:
    """Tango's score interval by brute force: the restricted MLE of p21 by numerical
    maximisation of the multinomial likelihood, the limits by root finding on the score z."""

    def z(d0: float) -> float:
        # p21 = x >= 0, p12 = x + d0 >= 0, p11 + p22 = 1 - 2x - d0 >= 0.
        lo_x, hi_x = max(0.0, -d0), (1 - d0) / 2

        def nll(x: float) -> float:
            p12, p21 = x + d0, x
            rest = 1 - p12 - p21
            terms = [(b, p12), (c, p21), (n - b - c, rest)]
            return -sum(k * math.log(max(p, 1e-300)) for k, p in terms if k > 0)

        x = minimize_scalar(nll, bounds=(lo_x + 1e-13, hi_x - 1e-13), method="bounded",
                            options={"xatol": 1e-13}).x
        var = n * (2 * x + d0 * (1 - d0))
        return (b - c - n * d0) / math.sqrt(var)

    q = norm.ppf(1 - alpha)
    est = (b - c) / n
    low = brentq(lambda d: z(d) - q, -1 + 1e-9, est) if z(-1 + 1e-9) > q else -1.0
    high = brentq(lambda d: z(d) + q, est, 1 - 1e-9) if z(1 - 1e-9) < -q else 1.0
    return low, high


@FAST
@given(b=st.integers(0, 40), c=st.integers(0, 40), extra=st.integers(1, 300),
       alpha=st.sampled_from([0.01, 0.025, 0.05, 0.1]))
def test_tango_interval_equals_a_brute_force_inversion(b: int, c: int, extra: int,
                                                       alpha: float) -> None:
    n = b + c + extra
    out = run(b, c, n, margin=0.005, alpha=alpha)
    low, high = _brute_tango_bounds(b, c, n, alpha)
    assert out.change_low == pytest.approx(low, abs=2e-6)
    assert out.change_high == pytest.approx(high, abs=2e-6)


@FAST
@given(b=st.integers(0, 60), c=st.integers(0, 60), extra=st.integers(0, 400),
       margin=st.sampled_from([0.0, 0.001, 0.01, 0.05]),
       alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_paired_proportion_verdict_agrees_with_its_interval(b: int, c: int, extra: int,
                                                            margin: float, alpha: float) -> None:
    n = max(1, b + c + extra)
    out = run(b, c, n, margin=margin, alpha=alpha)
    assert out.change_low <= out.change <= out.change_high
    assert (out.verdict == "fail") == (out.change_high < -margin)
    if out.verdict == "improved":
        assert out.change_low > margin
    if out.verdict == "inconclusive":
        assert margin > 0 and out.change_low <= -margin <= out.change_high
    if out.verdict == "pass":
        assert out.change_high >= -margin and (margin == 0 or out.change_low > -margin)


def _agrees(out, margin: float, higher: bool) -> None:
    lo, hi = (out.change_low, out.change_high) if higher else (-out.change_high, -out.change_low)
    assert (out.verdict == "fail") == (hi < -margin), out
    assert (out.verdict == "improved") == (lo > margin), out
    assert (out.verdict == "inconclusive") == (margin > 0 and lo <= -margin <= hi), out


@FAST
@given(cur=st.floats(-10, 10), ref=st.floats(-10, 10), w_cur=st.floats(0.0, 3.0),
       w_ref=st.floats(0.0, 3.0), margin=st.sampled_from([0.0, 0.01, 0.5]),
       higher=st.booleans(), alpha=st.sampled_from([0.01, 0.05, 0.2]))
def test_unpaired_and_point_verdicts_agree_with_their_interval(
        cur: float, ref: float, w_cur: float, w_ref: float, margin: float, higher: bool,
        alpha: float) -> None:
    from pytest_mlgate.baseline import BaselineEntry

    def interval(v: float, w: float) -> tuple[float | None, float | None]:
        return (v - w, v + w) if w > 0 else (None, None)

    m = Measurement("score", cur, *interval(cur, w_cur), 0.95, 100, "bootstrap", {})
    r = BaselineEntry("k", "score", ref, *interval(ref, w_ref), 0.95, 100, "bootstrap")
    out = compare(m, r, direction="higher" if higher else "lower", margin=margin, alpha=alpha)
    # Widths below a float's resolution at both values leave no spread: a plain comparison.
    wide = w_cur > 0 and w_ref > 0 and (cur - w_cur < cur + w_cur or ref - w_ref < ref + w_ref)
    assert out.method == ("unpaired-normal" if wide else "point")
    assert out.level == pytest.approx(1 - 2 * alpha)
    _agrees(out, margin, higher)


@FAST
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(40, 400), shift=st.floats(-1.0, 1.0),
       margin=st.sampled_from([0.0, 0.02]), alpha=st.sampled_from([0.01, 0.05, 0.2]))
def test_paired_delong_and_bootstrap_verdicts_agree_with_their_interval(
        seed: int, n: int, shift: float, margin: float, alpha: float) -> None:
    from pytest_mlgate.stats.metrics import estimate, resolve

    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    y[:2] = [True, False]
    s_ref = rng.normal(size=n) + 1.0 * y
    s_cur = s_ref + shift * (2 * y - 1) * rng.random(n) + 0.3 * rng.normal(size=n)
    for metric, cs, rs in (
        ("roc_auc", {"y_true": y, "score": s_cur}, {"y_true": y, "score": s_ref}),
        ("f1", *({"y_true": y.astype(np.int16), "y_pred": (s > 0.5).astype(np.int16),
                  "classes": np.array(["0", "1"])} for s in (s_cur, s_ref))),
        ("r2", {"y_true": s_ref, "y_pred": s_ref + rng.normal(size=n)},
               {"y_true": s_ref, "y_pred": s_ref + (1 + shift) * rng.normal(size=n)}),
    ):
        def side(samples, metric=metric):
            e = estimate(resolve(metric), samples, n_boot=200)
            return Measurement(metric, e.value, e.low, e.high, 0.95, n, e.method,
                               {"fingerprint": "fp"})

        out = compare(side(cs), side(rs), direction="higher", margin=margin, alpha=alpha,
                      current_samples=cs, reference_samples=rs, n_boot=400, seed=seed)
        assert out.method in {"roc_auc": ("paired-delong",),
                              "f1": ("paired-multinomial-bootstrap",),
                              "r2": ("paired-t", "paired-bootstrap-t")}[metric]
        _agrees(out, margin, True)
