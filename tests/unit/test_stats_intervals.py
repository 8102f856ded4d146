"""Wilson, DeLong and bootstrap intervals against published values and brute force."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlgate.stats.intervals import (
    bootstrap,
    delong,
    delong_paired,
    percentile_interval,
    wilson,
)

# Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score, no
# continuity correction), 95% limits.
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE)
def test_wilson_reproduces_newcombe_1998(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n, 0.95)
    assert round(lo, 4) == low
    assert round(hi, 4) == high


def test_wilson_level_widens_and_contains_estimate() -> None:
    lo90, hi90 = wilson(81, 263, 0.90)
    lo99, hi99 = wilson(81, 263, 0.99)
    assert lo99 < lo90 < 81 / 263 < hi90 < hi99
    assert wilson(20, 20)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)


# Hanley & McNeil (1982), Radiology 143:29-36, Table 1: CT ratings (1 definitely normal ..
# 5 definitely abnormal) of 109 patients, 58 truly normal and 51 truly abnormal.
HM_NORMAL = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
HM_ABNORMAL = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])


def _hm() -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.zeros(58, bool), np.ones(51, bool)]
    s = np.r_[HM_NORMAL, HM_ABNORMAL].astype(float)
    return y, s


def _brute_delong(y: np.ndarray, s: np.ndarray) -> tuple[float, float, np.ndarray]:
    pos, neg = s[y], s[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    comp = np.empty(s.size)
    comp[y], comp[~y] = v10, v01
    return float(psi.mean()), float(var), comp


def test_delong_on_hanley_mcneil_ct_data() -> None:
    y, s = _hm()
    d = delong(y, s)
    # Published: AUC 0.893 (Hanley & McNeil 1982). DeLong's SE on these data is 0.0307; the
    # Hanley-McNeil exponential approximation gives 0.032.
    assert round(d.auc, 4) == 0.8932
    assert round(d.se, 4) == 0.0307
    a = d.auc
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    hm_se = np.sqrt((a * (1 - a) + 50 * (q1 - a * a) + 57 * (q2 - a * a)) / (51 * 58))
    assert round(hm_se, 3) == 0.032
    lo, hi = d.interval(0.95)
    assert lo < a < hi and hi - lo == pytest.approx(2 * 1.959964 * d.se, rel=1e-4)


def test_delong_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.35
    s = np.round(rng.normal(size=400) + y, 1)  # many ties
    auc, var, comp = _brute_delong(y, s)
    d = delong(y, s)
    assert d.auc == pytest.approx(auc, abs=1e-12)
    assert d.variance == pytest.approx(var, rel=1e-10)
    np.testing.assert_allclose(d.components, comp, atol=1e-12)


def test_paired_delong_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    y = rng.random(300) < 0.5
    s1 = rng.normal(size=300) + y
    s2 = s1 + rng.normal(scale=0.8, size=300)
    a1, _, c1 = _brute_delong(y, s1)
    a2, _, c2 = _brute_delong(y, s2)
    d10, d01 = (c1 - c2)[y], (c1 - c2)[~y]
    var = d10.var(ddof=1) / d10.size + d01.var(ddof=1) / d01.size
    diff, v = delong_paired(delong(y, s1), delong(y, s2))
    assert diff == pytest.approx(a1 - a2, abs=1e-12)
    assert v == pytest.approx(var, rel=1e-10)


def test_delong_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        delong(np.ones(5, bool), np.arange(5.0))


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    x = np.random.default_rng(0).normal(loc=2.0, size=500)

    def stat(idx: np.ndarray) -> np.ndarray:
        return x[idx].mean(axis=1)

    a = bootstrap(stat, x.size, n_boot=1000, seed=7)
    b = bootstrap(stat, x.size, n_boot=1000, seed=7)
    c = bootstrap(stat, x.size, n_boot=1000, seed=8)
    assert a.shape == (1000,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    lo, hi = percentile_interval(a, 0.95)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)
