"""The Kolmogorov-Smirnov part of check_drift against scipy.stats.ks_2samp (method="auto")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from pytest_mlgate.errors import DriftError
from pytest_mlgate.stats.drift import check_drift

FAST = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _column(a: np.ndarray, b: np.ndarray):
    return check_drift(pd.DataFrame({"x": a}), pd.DataFrame({"x": b})).columns[0]


def test_two_one_row_frames_do_not_drift() -> None:
    col = _column(np.array([1.0]), np.array([5.0]))
    assert col.statistic == 1.0 and col.p_value == 1.0 and not col.drifted
    assert col.method == "ks-exact"


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 3), (5, 5), (20, 7), (300, 400)])
def test_completely_separated_samples_get_the_exact_p_value(n: int, m: int) -> None:
    from math import comb

    col = _column(np.arange(n, dtype=float), 1000.0 + np.arange(m))
    assert col.statistic == 1.0
    assert col.p_value == pytest.approx(min(1.0, 2 / comb(n + m, n)), rel=1e-9, abs=1e-300)
    assert col.p_value > 0 or 2 / comb(n + m, n) < 1e-300


def test_small_equal_samples_use_the_exact_distribution() -> None:
    # n = m = 10, D = 0.6: the asymptotic p-value is 0.030, the exact one 0.052.
    a = np.arange(10, dtype=float)
    b = a + 5.5
    col = _column(a, b)
    assert col.statistic == pytest.approx(0.6)
    ref = stats.ks_2samp(a, b, method="exact")
    assert col.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert col.p_value == pytest.approx(0.0524, abs=5e-4)
    assert col.method == "ks-exact" and "ks-exact" in check_drift(
        pd.DataFrame({"x": a}), pd.DataFrame({"x": b})).table()


def test_values_one_ulp_apart_are_not_ties_with_unequal_sizes() -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.nextafter(a, np.inf)[[0, 1, 2, 2]]  # each value a hair above one of a's
    col = _column(a, b)
    assert col.statistic == pytest.approx(stats.ks_2samp(a, b).statistic)
    x = np.array([0.0, 1.0])
    y = np.array([np.nextafter(0.0, 1.0), np.nextafter(1.0, 2.0), 5.0])
    assert _column(x, y).statistic == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-15)


def _samples(draw, size: int, ties: bool) -> np.ndarray:
    if ties:
        return np.array(draw(st.lists(st.integers(-4, 4), min_size=size, max_size=size)),
                        dtype=float)
    return np.array(draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=64),
                                  min_size=size, max_size=size)))


@st.composite
def sample_pairs(draw) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 60))
    m = draw(st.one_of(st.just(n), st.integers(1, 60)))
    ties = draw(st.booleans())
    a = _samples(draw, n, ties)
    b = _samples(draw, m, ties) + draw(st.sampled_from([0.0, 0.5, 2.0]))
    return a, b


@FAST
@given(sample_pairs())
def test_statistic_and_p_value_match_scipy_auto(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    col = _column(a, b)
    ref = stats.ks_2samp(a, b, method="auto")
    assert col.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert col.p_value == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-12)
    assert col.method == "ks-exact"


@pytest.mark.parametrize(("n", "m"), [(3000, 10_000), (10_000, 10_000), (10_001, 2000),
                                      (20_000, 20_000), (9_999, 4_321)])
def test_the_exact_or_asymptotic_choice_follows_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.normal(0.03, size=m)
    col = _column(a, b)
    ref = stats.ks_2samp(a, b, method="auto")
    assert col.method == ("ks-exact" if max(n, m) <= 10_000 else "ks-asymptotic")
    assert col.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert col.p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


def test_complex_columns_are_refused_naming_the_column() -> None:
    ref = pd.DataFrame({"ok": [1.0, 2.0], "z": np.array([1 + 1j, 2 - 1j])})
    with pytest.raises(DriftError, match=r"column 'z'.*complex"):
        check_drift(ref, ref.copy())
    with pytest.raises(DriftError, match=r"column 'z'.*complex"):
        check_drift(ref.assign(z=[1.0, 2.0]), ref)
